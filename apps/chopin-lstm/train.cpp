// chopin-lstm train: the seed recipe (Adamax 0.01, cross-entropy, batch 256)
// with held-out evaluation, per-epoch checkpoints and exact resume; and the
// all-positions objective, where each window trains the head at every step
// (the cross-entropy averaged over B x T predictions).
//
// Resuming continues bit for bit on the CPU because everything random is
// derived from saved state: the window order of epoch e is a shuffle seeded
// by (seed, e), and dropout draws from the default Philox generator whose
// (seed, offset) the checkpoint stores.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "apps/chopin-lstm/chopin.h"
#include "apps/common/csv_log.h"
#include "apps/common/finite_guard.h"
#include "apps/common/progress.h"
#include "apps/common/report.h"
#include "apps/common/run_control.h"
#include "io/atomic_file.h"
#include "io/plot.h"
#include "models/checkpoint.h"
#include "models/optim.h"
#include "models/training_state.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

namespace chopin {

using mg::Tensor;

std::pair<Tensor, Tensor> make_batch(const mg::nn::ChopinLSTM& net, const std::vector<int64_t>& ids,
                                     const std::vector<int64_t>& starts, size_t begin, size_t end, int64_t seq_len,
                                     mg::Device device, bool all_positions) {
  const int64_t B = static_cast<int64_t>(end - begin);
  std::vector<int64_t> x, y;
  x.reserve(static_cast<size_t>(B * seq_len));
  for (size_t i = begin; i < end; ++i) {
    const int64_t s = starts[i];
    x.insert(x.end(), ids.begin() + s, ids.begin() + s + seq_len);
    if (all_positions) y.insert(y.end(), ids.begin() + s + 1, ids.begin() + s + seq_len + 1);
    else y.push_back(ids[static_cast<size_t>(s + seq_len)]);
  }
  const int64_t n = static_cast<int64_t>(y.size());
  return {net.encode_input(x, B, seq_len, device), mg::from_vector(y, {n}, device)};
}

HeldoutMetrics evaluate_windows(const mg::nn::ChopinLSTM& net, const std::vector<int64_t>& ids,
                                const std::vector<int64_t>& starts, int64_t seq_len, int64_t batch,
                                mg::Device device) {
  mg::NoGradGuard no_grad;
  HeldoutMetrics m;
  double loss_sum = 0;
  int64_t correct = 0;
  const int64_t V = net.config().vocab;
  for (size_t b = 0; b < starts.size(); b += static_cast<size_t>(batch)) {
    const size_t e = std::min(starts.size(), b + static_cast<size_t>(batch));
    const int64_t B = static_cast<int64_t>(e - b);
    auto [x, y] = make_batch(net, ids, starts, b, e, seq_len, device, true);
    Tensor all = net.forward_all(x);                                           // [B, T, V]
    m.nll_sum_all += mg::cross_entropy(all.reshape({B * seq_len, V}), y).item() * static_cast<double>(B * seq_len);
    Tensor logits = all.select(1, seq_len - 1).contiguous();                  // [B, V]: after the window
    std::vector<int64_t> truth_all = y.to_vector<int64_t>(), truth;
    for (int64_t i = 0; i < B; ++i) truth.push_back(truth_all[static_cast<size_t>((i + 1) * seq_len - 1)]);
    loss_sum += mg::cross_entropy(logits, mg::from_vector(truth, {B}, device)).item() * static_cast<double>(B);
    std::vector<int64_t> pred = mg::argmax_rows(logits).to_vector<int64_t>();
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
  }
  m.windows = static_cast<int64_t>(starts.size());
  if (m.windows > 0) {
    m.loss = loss_sum / static_cast<double>(m.windows);
    m.perplexity = std::exp(m.loss);
    m.accuracy = static_cast<double>(correct) / static_cast<double>(m.windows);
    m.loss_all = m.nll_sum_all / static_cast<double>(m.windows * seq_len);
  }
  return m;
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
      {{"train", epoch, log.column("train_loss"), {}},
       {"held-out, after the window", epoch, log.column("heldout_loss"), {}},
       {"held-out, every position", epoch, log.column("heldout_loss_all"), {}}},
      opt);
  opt.title = "held-out top-1 accuracy";
  opt.y_label = "accuracy (%)";
  const mg::io::Image acc = mg::io::render_line_chart({{"held-out", epoch, accuracy, mg::io::series_color(2)}}, opt);
  mg::io::Image both(opt.width, loss.height() + acc.height());
  both.blit(loss, 0, 0);
  both.blit(acc, 0, loss.height());
  both.write_png(path);
}

// A few held-out windows (starts into `ids`) stored in the checkpoint, so generate needs no data.
nlohmann::json primer_windows(const std::vector<int64_t>& ids, const Split& s, int64_t seq_len) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < s.heldout.size() && i < 32; ++i) {
    const int64_t st = s.heldout[i];
    out.push_back(std::vector<int64_t>(ids.begin() + st, ids.begin() + st + seq_len));
  }
  return out;
}

}  // namespace

int run_train(TrainOptions o) {
  const mg::Device device = mg::app::setup_device(o.common);
  const std::string ckpt_path = o.common.out + "/model.safetensors";

  // On --resume, the data settings come from the checkpoint, so the windows match.
  std::optional<mg::nn::Checkpoint> ck;
  ChopinMeta resumed;
  if (o.resume) {
    if (!std::filesystem::exists(ckpt_path)) mg::fail("--resume: no checkpoint at {}", ckpt_path);
    ck = mg::nn::load_checkpoint(ckpt_path, kApp);
    resumed = read_metadata(*ck, ckpt_path);
    o.min_count = resumed.min_count;
    o.repr = resumed.repr;
    o.objective = resumed.objective;
    o.stride = resumed.stride;
    o.seq_len = resumed.seq_len;
    o.common.seed = resumed.seed;
    o.common.data = resumed.data;
    o.common.batch = static_cast<int>(resumed.batch);
    o.max_steps = resumed.max_steps;
    o.heldout_data = resumed.heldout_data;
    o.patience = resumed.patience;
  }
  mg::io::check_output_folder(o.common.out, "--out");

  Corpus corpus = load_corpus(o.common.data, o.min_count, o.common.seed, o.repr);
  std::printf("data: %s\n", corpus.source.c_str());
  std::printf("representation: %s; tokens: %lld (%lld distinct)%s\n", o.repr.c_str(),
              static_cast<long long>(corpus.raw_tokens), static_cast<long long>(corpus.raw_distinct),
              o.common.data.empty() || o.repr != "seed"
                  ? ""
                  : "; the original notebook counted 63,429 (317 distinct) on its 48 files");
  if (o.repr == "timed")
    std::printf("after --min-count %lld: %zu tokens (%lld rare ones replaced by the nearest kept), vocabulary %zu\n",
                static_cast<long long>(o.min_count), corpus.ids.size(), static_cast<long long>(corpus.mapped),
                corpus.vocab.size());
  else
    std::printf("after --min-count %lld: %zu tokens, vocabulary %zu\n", static_cast<long long>(o.min_count),
                corpus.ids.size(), corpus.vocab.size());
  if (static_cast<int64_t>(corpus.vocab.size()) > kMaxVocab)
    mg::fail("--min-count {}: {} distinct tokens remain, more than the limit of {}; raise --min-count", o.min_count,
             corpus.vocab.size(), kMaxVocab);
  Split split = split_windows(static_cast<int64_t>(corpus.ids.size()), o.seq_len, o.common.seed);
  const bool all_positions = o.objective == "all";
  // Held-out windows index heldout_ids: the training stream, or --heldout-data's.
  std::vector<int64_t> folder_ids;
  if (!o.heldout_data.empty()) {
    folder_ids = load_folder_ids(o.heldout_data, "--heldout-data", "held-out data", o.common.seed, o.repr,
                                 corpus.vocab, o.seq_len)
                     .ids;
    const int64_t windows = static_cast<int64_t>(folder_ids.size()) - o.seq_len;
    split.train.insert(split.train.end(), split.heldout.begin(), split.heldout.end());
    std::sort(split.train.begin(), split.train.end());
    split.heldout.clear();
    for (int64_t s = 0; s < windows; ++s) split.heldout.push_back(s);
  }
  const std::vector<int64_t>& heldout_ids = o.heldout_data.empty() ? corpus.ids : folder_ids;
  // --objective all: the windows that start on the stride, for training and
  // for the held-out metrics (each held-out token is then seen about once).
  if (all_positions) {
    split.train = strided(split.train, o.stride);
    split.heldout = strided(split.heldout, o.stride);
  }
  if (static_cast<int64_t>(split.train.size()) < o.common.batch)
    mg::fail("--batch {}: only {} training windows of {} tokens; use more data, a smaller --batch{}",
             o.common.batch, split.train.size(), o.seq_len, all_positions ? " or --stride" : " or --min-count");
  std::printf("windows: %zu train, %zu held out (seq-len %lld%s)\n", split.train.size(), split.heldout.size(),
              static_cast<long long>(o.seq_len),
              all_positions ? fmt::format(", stride {}, loss at every position", o.stride).c_str()
                            : ", loss on the token after each window");

  mg::manual_seed(o.common.seed);
  o.net.input = o.model;
  o.net.vocab = static_cast<int64_t>(corpus.vocab.size());
  if (ck) {
    o.net = resumed.net;
    if (resumed.vocab != corpus.vocab)
      mg::fail("--resume: the data no longer gives the checkpoint's vocabulary ({})", ckpt_path);
  }
  mg::app::check_memory("--batch, --seq-len, --hidden1, --hidden2, --dense and the vocabulary",
                        training_bytes(o.net, o.common.batch, o.seq_len));
  mg::nn::ChopinLSTM net(o.net);
  int start_epoch = 0;
  if (ck) {
    mg::nn::check_model_state(net, ck->model, ckpt_path);
    net.load_state(ck->model, ckpt_path);
    start_epoch = resumed.state.epoch;
  }
  net.to(device);  // before the optimizer takes the parameter handles
  mg::nn::Adamax opt(net.named_parameters(), o.lr);

  const int64_t B = o.common.batch;
  int64_t steps = static_cast<int64_t>(split.train.size()) / B;  // drop the ragged tail, like a fixed-shape batch
  if (o.max_steps > 0) steps = std::min(steps, o.max_steps);
  // A run stopped mid-epoch continues at its step, with that epoch's sums.
  const mg::nn::TrainingState* partial = ck && resumed.state.step > 0 ? &resumed.state : nullptr;
  if (partial && partial->step >= steps)
    mg::fail("--resume: {} stopped at step {} of epoch {}, but an epoch now has {} steps", ckpt_path, partial->step,
             start_epoch + 1, steps);
  if (ck) {
    resumed.state.restore(opt, net.named_parameters(), *ck, ckpt_path);
    if (partial)
      std::printf("resuming in epoch %d at step %lld of %s\n", start_epoch + 1, static_cast<long long>(partial->step),
                  ckpt_path.c_str());
    else
      std::printf("resuming after epoch %d of %s\n", start_epoch, ckpt_path.c_str());
    if (start_epoch >= o.common.epochs)
      std::printf("nothing to do: already trained for %d epochs; pass a larger --epochs to continue\n", start_epoch);
  }
  std::printf("model: %s input, %lld parameters, device %s\n", o.net.input.c_str(),
              static_cast<long long>(net.num_parameters()), std::string(mg::device_name(device)).c_str());

  const std::vector<std::pair<std::string, std::string>> config = {
      {"model", fmt::format("{} (LSTM {} -> LSTM {} -> Dense {} -> Dense {}{})", o.net.input, o.net.hidden1,
                            o.net.hidden2, o.net.dense, o.net.vocab,
                            o.net.input == "embed" ? fmt::format(", embedding {}", o.net.embed_dim) : "")},
      {"parameters", std::to_string(net.num_parameters())},
      {"tokens", fmt::format("{}, vocabulary {}, --min-count {}", o.repr, corpus.vocab.size(), o.min_count)},
      {"objective", all_positions ? fmt::format("all positions, windows of {} every {} tokens", o.seq_len, o.stride)
                                  : fmt::format("next token after windows of {}", o.seq_len)},
      {"optimizer", fmt::format("Adamax, learning rate {}", opt.learning_rate())},
      {"epochs", fmt::format("{} ({} steps of batch {} each{})", o.common.epochs, steps, B,
                             o.max_steps > 0 ? ", capped by --max-steps" : "")},
      {"data", fmt::format("{}: {} training and {} held-out windows{}", corpus.source, split.train.size(),
                           split.heldout.size(),
                           o.heldout_data.empty() ? "" : fmt::format(" (held out: {})", o.heldout_data))},
      {"best model", o.patience > 0 ? fmt::format("lowest held-out NLL{}, stop after {} epochs without a new low",
                                                  all_positions ? " over all positions" : " after the window",
                                                  o.patience)
                                    : fmt::format("lowest held-out NLL{}", all_positions ? " over all positions"
                                                                                         : " after the window")},
      {"device", mg::app::compute_summary(device)},
      {"seed", std::to_string(o.common.seed)},
      {"output", o.common.out},
  };
  mg::app::print_config(config);

  // The page a person opens: OUT/report.html, rewritten after every epoch.
  mg::app::RunReport report(o.common.out, "chopin-lstm");
  mg::app::ReportSection& page = ck ? report.section("train") : report.start("train", mg::app::command_line());
  for (const auto& [key, value] : config) page.set(key, value);
  // The built-in corpus counts its pieces as files.
  page.data.source = o.common.data.empty() ? "the built-in piano corpus" : o.common.data;
  page.data.files_read = corpus.files_read;
  page.data.skipped = corpus.skipped;
  page.data.details = {{"tokens", static_cast<int64_t>(corpus.ids.size())},
                       {"vocabulary", static_cast<int64_t>(corpus.vocab.size())},
                       {"training windows", static_cast<int64_t>(split.train.size())},
                       {"held-out windows", static_cast<int64_t>(split.heldout.size())}};
  mg::app::ReportTable& epochs_table =
      page.table("Epochs", {"epoch", "train loss", "held-out loss", "held-out loss, all positions", "perplexity",
                            "accuracy %", "seconds"});
  epochs_table.drop_rows_after(start_epoch);

  mg::app::CsvLog log(o.common.out + "/log.csv", {"epoch", "train_loss", "heldout_loss", "heldout_perplexity",
                                                  "heldout_accuracy", "seconds", "skipped_steps", "heldout_loss_all"});
  if (ck) log.resume(start_epoch);

  auto checkpoint_meta = [&](int epoch_done) {
    return nlohmann::json{{"model", o.net.to_json()},
                          {"repr", o.repr},
                          {"objective", o.objective},
                          {"stride", o.stride},
                          {"vocab", corpus.vocab},
                          {"seq_len", o.seq_len},
                          {"min_count", o.min_count},
                          {"seed", o.common.seed},
                          {"data", o.common.data},
                          {"batch", B},
                          {"max_steps", o.max_steps},
                          {"heldout_data", o.heldout_data},
                          {"patience", o.patience},
                          {"epoch", epoch_done},
                          {"primers", primer_windows(heldout_ids, split, o.seq_len)}};
  };

  // OUT/best.safetensors: the epoch with the lowest held-out NLL (over all
  // positions for --objective all, after the window otherwise), for
  // generate and eval; model.safetensors is always the latest, for --resume.
  const std::string best_path = o.common.out + "/best.safetensors";
  int best_epoch = ck ? resumed.best_epoch : 0;
  double best_loss = ck ? resumed.best_loss : 0;
  auto add_best = [&](nlohmann::json& meta) {
    if (best_epoch > 0) meta["best"] = {{"epoch", best_epoch}, {"loss", best_loss}};
  };

  const std::vector<mg::Tensor> params = net.parameters();
  mg::app::FiniteGuard guard(net, o.skip_nonfinite, ckpt_path);
  mg::app::StopRequest stop;
  mg::app::RunEstimate estimate(std::max<int64_t>(0, (o.common.epochs - start_epoch) * steps - (partial ? partial->step : 0)));
  for (int epoch = start_epoch + 1; epoch <= o.common.epochs; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> order = split.train;
    seeded_shuffle(order, o.common.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    net.train();
    mg::app::Progress progress(fmt::format("epoch {}/{}", epoch, o.common.epochs), steps);
    const bool continuing = partial && epoch == start_epoch + 1;
    double loss_sum = continuing ? partial->sum("loss") : 0;
    int64_t applied = continuing ? static_cast<int64_t>(partial->sum("applied")) : 0;
    int64_t skipped = continuing ? static_cast<int64_t>(partial->sum("skipped")) : 0;
    for (int64_t s = continuing ? partial->step : 0; s < steps; ++s) {
      if (stop.requested()) {
        // A step boundary: the weights, the optimizer and the generator are
        // those after step s - 1 of this epoch.
        progress.finish();
        skipped += guard.take_skipped();
        nlohmann::json meta = checkpoint_meta(epoch - 1);
        add_best(meta);
        mg::nn::TrainingState::now(opt, epoch - 1, s,
                                   {{"loss", loss_sum}, {"applied", static_cast<double>(applied)},
                                    {"skipped", static_cast<double>(skipped)}})
            .write(meta);
        mg::nn::save_checkpoint(ckpt_path, kApp, net, &opt, meta);
        std::fprintf(stderr,
                     "stopped by %s in epoch %d at step %lld of %lld; checkpoint %s\n"
                     "resume with: chopin-lstm train --out %s --resume --epochs %d\n",
                     stop.signal_name(), epoch, static_cast<long long>(s), static_cast<long long>(steps),
                     ckpt_path.c_str(), o.common.out.c_str(), o.common.epochs);
        return mg::app::kExitInterrupted;
      }
      auto [x, y] = make_batch(net, corpus.ids, order, static_cast<size_t>(s * B), static_cast<size_t>((s + 1) * B),
                               o.seq_len, device, all_positions);
      guard.begin_step();
      Tensor loss = all_positions
                        ? mg::cross_entropy(net.forward_all(x).reshape({B * o.seq_len, o.net.vocab}), y)
                        : mg::cross_entropy(net.forward(x), y);
      opt.zero_grad();
      loss.backward();
      const double l = loss.item();
      estimate.step();
      if (!guard.accept(epoch, s, l, mg::nn::grad_norm(params), epoch - 1)) continue;
      opt.step();
      loss_sum += l;
      ++applied;
      progress.update(s, l, B);
    }
    net.eval();
    HeldoutMetrics h = evaluate_windows(net, heldout_ids, split.heldout, o.seq_len, B, device);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The mean over the steps applied; NaN for an epoch whose every step was skipped.
    const double train_loss = applied > 0 ? loss_sum / static_cast<double>(applied) : NAN;
    progress.finish(fmt::format("epoch {}: train loss {:.4f}, held-out loss {:.4f} (all positions {:.4f}), "
                                "perplexity {:.2f}, accuracy {:.1f}%, {}",
                                epoch, train_loss, h.loss, h.loss_all, h.perplexity, 100 * h.accuracy,
                                mg::app::format_duration(secs)));

    nlohmann::json meta = checkpoint_meta(epoch);
    meta["heldout"] = {{"loss", h.loss}, {"perplexity", h.perplexity}, {"accuracy", h.accuracy},
                       {"loss_all", h.loss_all}};
    const double score = all_positions ? h.loss_all : h.loss;
    const bool improved = std::isfinite(score) && (best_epoch == 0 || score < best_loss);
    if (improved) {
      best_epoch = epoch;
      best_loss = score;
    }
    add_best(meta);
    mg::nn::TrainingState::now(opt, epoch).write(meta);
    // The checkpoints first: the log never has a row for an epoch they lack.
    mg::nn::save_checkpoint(ckpt_path, kApp, net, &opt, meta);
    if (improved) mg::nn::save_checkpoint(best_path, kApp, net, nullptr, meta);
    skipped += guard.take_skipped();
    log.append({static_cast<double>(epoch), train_loss, h.loss, h.perplexity, h.accuracy, secs,
                static_cast<double>(skipped), h.loss_all});
    draw_curves(log, o.common.out + "/curves.png");
    if (!ck && epoch == 1) draw_histogram(corpus, o.min_count, o.common.out + "/token-histogram.png");
    epochs_table.add({epoch, train_loss, h.loss, h.loss_all, h.perplexity, 100 * h.accuracy, secs});
    page.picture(o.common.out + "/curves.png", "Loss (train and held-out) and held-out accuracy per epoch");
    if (std::filesystem::exists(o.common.out + "/token-histogram.png"))
      page.picture(o.common.out + "/token-histogram.png", "Token counts, with the --min-count threshold");
    report.save();
    if (o.patience > 0 && epoch - best_epoch >= o.patience) {
      std::printf("stopping after epoch %d: no lower held-out NLL for %d epochs (best: epoch %d, %.4f)\n", epoch,
                  o.patience, best_epoch, best_loss);
      break;
    }
  }
  std::printf("checkpoint: %s (best held-out epoch %d: %s)\nlog: %s/log.csv\npictures: %s/curves.png, "
              "%s/token-histogram.png\nreport: %s/report.html\n",
              ckpt_path.c_str(), best_epoch, best_path.c_str(), o.common.out.c_str(), o.common.out.c_str(),
              o.common.out.c_str(), o.common.out.c_str());
  return 0;
}

}  // namespace chopin
