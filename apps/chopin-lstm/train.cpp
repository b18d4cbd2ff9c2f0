// chopin-lstm train: the seed recipe (Adamax 0.01, cross-entropy, batch 256)
// with held-out evaluation, per-epoch checkpoints and exact resume.
//
// Resuming continues bit for bit on the CPU because everything random is
// derived from saved state: the window order of epoch e is a shuffle seeded
// by (seed, e), and dropout draws from the default Philox generator whose
// (seed, offset) the checkpoint stores.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "apps/chopin-lstm/chopin.h"
#include "apps/common/csv_log.h"
#include "apps/common/progress.h"
#include "io/plot.h"
#include "models/checkpoint.h"
#include "models/optim.h"
#include "tensor/rng.h"

namespace chopin {

using mg::Tensor;

std::pair<Tensor, Tensor> make_batch(const mg::nn::ChopinLSTM& net, const std::vector<int64_t>& ids,
                                     const std::vector<int64_t>& starts, size_t begin, size_t end, int64_t seq_len,
                                     mg::Device device) {
  const int64_t B = static_cast<int64_t>(end - begin);
  std::vector<int64_t> x, y;
  x.reserve(static_cast<size_t>(B * seq_len));
  for (size_t i = begin; i < end; ++i) {
    const int64_t s = starts[i];
    x.insert(x.end(), ids.begin() + s, ids.begin() + s + seq_len);
    y.push_back(ids[static_cast<size_t>(s + seq_len)]);
  }
  return {net.encode_input(x, B, seq_len, device), mg::from_vector(y, {B}, device)};
}

HeldoutMetrics evaluate_windows(const mg::nn::ChopinLSTM& net, const std::vector<int64_t>& ids,
                                const std::vector<int64_t>& starts, int64_t seq_len, int64_t batch,
                                mg::Device device) {
  mg::NoGradGuard no_grad;
  HeldoutMetrics m;
  double loss_sum = 0;
  int64_t correct = 0;
  for (size_t b = 0; b < starts.size(); b += static_cast<size_t>(batch)) {
    const size_t e = std::min(starts.size(), b + static_cast<size_t>(batch));
    auto [x, y] = make_batch(net, ids, starts, b, e, seq_len, device);
    Tensor logits = net.forward(x);
    loss_sum += mg::cross_entropy(logits, y).item() * static_cast<double>(e - b);
    std::vector<int64_t> pred = mg::argmax_rows(logits).to_vector<int64_t>(), truth = y.to_vector<int64_t>();
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
  }
  m.windows = static_cast<int64_t>(starts.size());
  if (m.windows > 0) {
    m.loss = loss_sum / static_cast<double>(m.windows);
    m.perplexity = std::exp(m.loss);
    m.accuracy = static_cast<double>(correct) / static_cast<double>(m.windows);
  }
  return m;
}

LoadedModel load_model(const std::string& path, mg::Device device) {
  mg::nn::Checkpoint ck = mg::nn::load_checkpoint(path, kApp);
  LoadedModel lm;
  lm.meta = ck.meta;
  try {
    lm.vocab = ck.meta.at("vocab").get<std::vector<std::string>>();
    lm.seq_len = ck.meta.at("seq_len").get<int64_t>();
  } catch (const nlohmann::json::exception&) {
    mg::fail("{}: checkpoint metadata lacks the vocabulary or sequence length", path);
  }
  mg::nn::ChopinConfig cfg = mg::nn::ChopinConfig::from_json(ck.meta.value("model", nlohmann::json::object()));
  if (cfg.vocab != static_cast<int64_t>(lm.vocab.size()))
    mg::fail("{}: model vocabulary {} does not match the stored vocabulary of {} tokens", path, cfg.vocab,
             lm.vocab.size());
  lm.net = std::make_shared<mg::nn::ChopinLSTM>(cfg);
  lm.net->load_state(ck.model, path);
  lm.net->to(device);
  lm.net->eval();
  return lm;
}

namespace {

// The note-frequency histogram of the original notebook, with the rare-token threshold.
void draw_histogram(const Corpus& c, int64_t min_count, const std::string& path) {
  std::vector<mg::io::Bar> bars;
  for (const auto& [token, n] : c.counts) bars.push_back({token, static_cast<double>(n)});
  mg::io::BarChartOptions opt;
  opt.title = fmt::format("token counts: {} tokens, {} distinct, {} kept", c.raw_tokens, c.raw_distinct,
                          c.vocab.size());
  opt.x_label = "token (most frequent first)";
  opt.y_label = "count";
  opt.log_y = true;
  opt.threshold = static_cast<double>(min_count);
  opt.threshold_label = fmt::format("min-count {}", min_count);
  opt.width = 1200;
  mg::io::bar_chart(path, bars, opt);
}

// Loss above, accuracy below: one picture, each curve on a scale where it moves.
void draw_curves(const mg::app::CsvLog& log, const std::string& path) {
  const std::vector<double> epoch = log.column("epoch");
  std::vector<double> accuracy = log.column("heldout_accuracy");
  for (double& a : accuracy) a *= 100;
  mg::io::LineChartOptions opt;
  opt.x_label = "epoch";
  opt.markers = epoch.size() < 30;
  opt.height = 400;
  opt.title = "chopin-lstm: cross-entropy loss";
  opt.y_label = "loss";
  const mg::io::Image loss = mg::io::render_line_chart(
      {{"train", epoch, log.column("train_loss"), {}}, {"held-out", epoch, log.column("heldout_loss"), {}}}, opt);
  opt.title = "held-out top-1 accuracy";
  opt.y_label = "accuracy (%)";
  const mg::io::Image acc = mg::io::render_line_chart({{"held-out", epoch, accuracy, mg::io::series_color(2)}}, opt);
  mg::io::Image both(opt.width, loss.height() + acc.height());
  both.blit(loss, 0, 0);
  both.blit(acc, 0, loss.height());
  both.write_png(path);
}

// A few held-out windows stored in the checkpoint, so generate needs no data.
nlohmann::json primer_windows(const Corpus& c, const Split& s, int64_t seq_len) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < s.heldout.size() && i < 32; ++i) {
    const int64_t st = s.heldout[i];
    out.push_back(std::vector<int64_t>(c.ids.begin() + st, c.ids.begin() + st + seq_len));
  }
  return out;
}

}  // namespace

int run_train(TrainOptions o) {
  const mg::Device device = mg::app::setup_device(o.common);
  if (o.common.out.empty()) mg::fail("--out: give the folder for the checkpoint, log and pictures");
  const std::string ckpt_path = o.common.out + "/model.safetensors";

  // On --resume, the data settings come from the checkpoint, so the windows match.
  nlohmann::json resume_meta;
  std::optional<mg::nn::Checkpoint> ck;
  if (o.resume) {
    if (!std::filesystem::exists(ckpt_path)) mg::fail("--resume: no checkpoint at {}", ckpt_path);
    ck = mg::nn::load_checkpoint(ckpt_path, kApp);
    resume_meta = ck->meta;
    try {
      o.min_count = resume_meta.at("min_count").get<int64_t>();
      o.seq_len = resume_meta.at("seq_len").get<int64_t>();
      o.common.seed = resume_meta.at("seed").get<uint64_t>();
      o.common.data = resume_meta.at("data").get<std::string>();
      o.common.batch = resume_meta.at("batch").get<int>();
      o.max_steps = resume_meta.at("max_steps").get<int64_t>();
    } catch (const nlohmann::json::exception&) {
      mg::fail("{}: checkpoint metadata lacks the training settings needed to resume", ckpt_path);
    }
  }

  Corpus corpus = load_corpus(o.common.data, o.min_count, o.common.seed);
  std::printf("data: %s\n", corpus.source.c_str());
  std::printf("tokens: %lld (%lld distinct)%s\n", static_cast<long long>(corpus.raw_tokens),
              static_cast<long long>(corpus.raw_distinct),
              o.common.data.empty() ? "" : "; the original notebook counted 63,429 (317 distinct) on its 48 files");
  std::printf("after --min-count %lld: %zu tokens, vocabulary %zu\n", static_cast<long long>(o.min_count),
              corpus.ids.size(), corpus.vocab.size());
  Split split = split_windows(static_cast<int64_t>(corpus.ids.size()), o.seq_len, o.common.seed);
  if (static_cast<int64_t>(split.train.size()) < o.common.batch)
    mg::fail("--batch {}: only {} training windows of {} tokens; use more data, a smaller --batch or --min-count",
             o.common.batch, split.train.size(), o.seq_len);
  std::printf("windows: %zu train, %zu held out (seq-len %lld)\n", split.train.size(), split.heldout.size(),
              static_cast<long long>(o.seq_len));

  mg::manual_seed(o.common.seed);
  o.net.input = o.model;
  o.net.vocab = static_cast<int64_t>(corpus.vocab.size());
  if (ck) {
    o.net = mg::nn::ChopinConfig::from_json(resume_meta.at("model"));
    if (resume_meta.at("vocab").get<std::vector<std::string>>() != corpus.vocab)
      mg::fail("--resume: the data no longer gives the checkpoint's vocabulary ({})", ckpt_path);
  }
  mg::nn::ChopinLSTM net(o.net);
  int start_epoch = 0;
  if (ck) {
    net.load_state(ck->model, ckpt_path);
    start_epoch = resume_meta.at("epoch").get<int>();
  }
  net.to(device);  // before the optimizer takes the parameter handles
  mg::nn::Adamax opt(net.named_parameters(), o.lr);
  if (ck) {
    opt.load_state(ck->optim, resume_meta.at("optimizer").at("steps").get<int64_t>(), ckpt_path);
    opt.set_learning_rate(resume_meta.at("optimizer").at("lr").get<double>());
    mg::default_generator() = mg::Generator{resume_meta.at("rng").at("seed").get<uint64_t>(),
                                            resume_meta.at("rng").at("offset").get<uint64_t>()};
    std::printf("resuming after epoch %d of %s\n", start_epoch, ckpt_path.c_str());
    if (start_epoch >= o.common.epochs)
      std::printf("nothing to do: already trained for %d epochs; pass a larger --epochs to continue\n", start_epoch);
  }
  std::printf("model: %s input, %lld parameters, device %s\n", o.net.input.c_str(),
              static_cast<long long>(net.num_parameters()), std::string(mg::device_name(device)).c_str());

  std::filesystem::create_directories(o.common.out);
  if (!ck) draw_histogram(corpus, o.min_count, o.common.out + "/token-histogram.png");
  mg::app::CsvLog log(o.common.out + "/log.csv", {"epoch", "train_loss", "heldout_loss", "heldout_perplexity",
                                                  "heldout_accuracy", "seconds"});
  if (ck) log.resume(start_epoch);

  const int64_t B = o.common.batch;
  int64_t steps = static_cast<int64_t>(split.train.size()) / B;  // drop the ragged tail, like a fixed-shape batch
  if (o.max_steps > 0) steps = std::min(steps, o.max_steps);
  for (int epoch = start_epoch + 1; epoch <= o.common.epochs; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> order = split.train;
    seeded_shuffle(order, o.common.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    net.train();
    mg::app::Progress progress(fmt::format("epoch {}/{}", epoch, o.common.epochs), steps);
    double loss_sum = 0;
    for (int64_t s = 0; s < steps; ++s) {
      auto [x, y] = make_batch(net, corpus.ids, order, static_cast<size_t>(s * B), static_cast<size_t>((s + 1) * B),
                               o.seq_len, device);
      Tensor loss = mg::cross_entropy(net.forward(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      const double l = loss.item();
      loss_sum += l;
      progress.update(s, l, B);
    }
    net.eval();
    HeldoutMetrics h = evaluate_windows(net, corpus.ids, split.heldout, o.seq_len, B, device);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double train_loss = loss_sum / static_cast<double>(std::max<int64_t>(steps, 1));
    progress.finish(fmt::format("epoch {}: train loss {:.4f}, held-out loss {:.4f}, perplexity {:.2f}, accuracy "
                                "{:.1f}%, {}",
                                epoch, train_loss, h.loss, h.perplexity, 100 * h.accuracy,
                                mg::app::format_duration(secs)));
    log.append({static_cast<double>(epoch), train_loss, h.loss, h.perplexity, h.accuracy, secs});
    draw_curves(log, o.common.out + "/curves.png");

    nlohmann::json meta = {{"model", o.net.to_json()},
                           {"vocab", corpus.vocab},
                           {"seq_len", o.seq_len},
                           {"min_count", o.min_count},
                           {"seed", o.common.seed},
                           {"data", o.common.data},
                           {"batch", B},
                           {"max_steps", o.max_steps},
                           {"epoch", epoch},
                           {"rng", {{"seed", mg::default_generator().seed}, {"offset", mg::default_generator().offset}}},
                           {"heldout", {{"loss", h.loss}, {"perplexity", h.perplexity}, {"accuracy", h.accuracy}}},
                           {"primers", primer_windows(corpus, split, o.seq_len)}};
    mg::nn::save_checkpoint(ckpt_path, kApp, net, &opt, meta);
  }
  std::printf("checkpoint: %s\nlog: %s/log.csv\npictures: %s/curves.png, %s/token-histogram.png\n", ckpt_path.c_str(),
              o.common.out.c_str(), o.common.out.c_str(), o.common.out.c_str());
  return 0;
}

}  // namespace chopin
