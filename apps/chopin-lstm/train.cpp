// chopin-lstm train: the seed recipe (Adamax 0.01, cross-entropy, batch 256)
// or the embed network, on the trainer of models/trainer.h. This file builds
// what is chopin's own: the corpus and its windows, the network, the task
// (models/chopin_training.h), the checkpoint's metadata, and the log row,
// pictures and report of each epoch; the trainer runs the epochs, resumes,
// stops on a signal and keeps the best epoch.
#include <cstdio>
#include <filesystem>
#include <optional>

#include "apps/chopin-lstm/chopin.h"
#include "apps/chopin-lstm/pictures.h"
#include "apps/common/train_record.h"
#include "io/atomic_file.h"
#include "io/checksum.h"
#include "io/run_folder.h"
#include "io/utf8.h"
#include "models/distributed.h"
#include "models/stop_request.h"
#include "tensor/rng.h"

namespace chopin {

int run_train(TrainOptions o) {
  const mg::Device device = mg::app::setup_device(o.common);
  mg::nn::StopRequest signals;  // from here on a signal ends the run with its checkpoint and report
  mg::io::RunFolder folder(o.common.out, "--out");
  const std::string ckpt_path = o.common.out + "/model.safetensors", best_path = o.common.out + "/best.safetensors";
  for (const char* name : {"model.safetensors", "best.safetensors", "log.csv", "curves.png", "token-histogram.png",
                           "report.json", "report.html"})
    mg::io::output_target(o.common.out + "/" + name);

  // On --resume every setting of the model, the data and the optimizer is the checkpoint's.
  std::optional<mg::nn::Checkpoint> ck;
  ChopinMeta resumed;
  if (o.resume) {
    if (!std::filesystem::exists(ckpt_path)) mg::fail("--resume: no checkpoint at {}", ckpt_path);
    ck = mg::nn::load_checkpoint(ckpt_path, kApp);
    resumed = read_metadata(*ck, ckpt_path);
    mg::app::refuse_changed_settings(ckpt_path, resumed_settings(resumed, o));
    o.model = resumed.net.input;
    std::tie(o.repr, o.objective, o.stride, o.min_count, o.seq_len, o.augment) =
        std::tie(resumed.repr, resumed.objective, resumed.stride, resumed.min_count, resumed.seq_len, resumed.augment);
    std::tie(o.common.seed, o.common.batch, o.max_steps, o.patience) =
        std::make_tuple(resumed.seed, static_cast<int>(resumed.batch), resumed.max_steps, resumed.patience);
    o.common.data = mg::io::from_valid_utf8(resumed.data);
    o.heldout_data = mg::io::from_valid_utf8(resumed.heldout_data);
    o.holdout = resumed.holdout;
  }

  Corpus corpus = load_corpus(o.common.data, o.min_count, o.common.seed, o.repr);
  std::printf("data: %s\nrepresentation: %s; tokens: %lld (%lld distinct)%s\n", corpus.source.c_str(), o.repr.c_str(),
              static_cast<long long>(corpus.raw_tokens), static_cast<long long>(corpus.raw_distinct),
              o.common.data.empty() || o.repr != "seed" ? ""
                                                        : "; the original notebook counted 63,429 (317 distinct) on its 48 files");
  std::printf("after --min-count %lld: %zu tokens%s, vocabulary %zu\n", static_cast<long long>(o.min_count),
              corpus.ids.size(),
              o.repr == "timed" ? fmt::format(" ({} rare ones replaced by the nearest kept)", corpus.mapped).c_str() : "",
              corpus.vocab.size());
  if (static_cast<int64_t>(corpus.vocab.size()) > kMaxVocab)
    mg::fail("--min-count {}: {} distinct tokens remain, more than the limit of {}; raise --min-count", o.min_count,
             corpus.vocab.size(), kMaxVocab);
  mg::app::require_same_run(fmt::format("{} tokens, vocabulary {}, hash {:016x}", corpus.ids.size(), corpus.vocab.size(),
                                        mg::io::fnv1a64(corpus.ids.data(), corpus.ids.size() * sizeof(int64_t))));
  Split split = split_windows(static_cast<int64_t>(corpus.ids.size()), o.seq_len, o.common.seed);
  const bool all_positions = o.objective == "all";
  // Held-out windows index heldout_ids: the training stream (--holdout windows), the held-out pieces
  // (--holdout pieces) or --heldout-data's folder; in the last two every window of corpus.ids trains.
  std::vector<int64_t> held_stream;
  std::string held_what = o.heldout_data.empty() ? "" : " (held out: " + o.heldout_data + ")";
  // The default falls back to the windows when the data cannot lose whole pieces; --holdout pieces given fails.
  const std::string no_pieces = o.heldout_data.empty() && o.holdout == "pieces" && !mg::app::flag_given("--holdout")
                                    ? pieces_holdout_problem(corpus, o.seq_len)
                                    : "";
  if (!o.heldout_data.empty()) {
    held_stream = hold_out_folder(o.heldout_data, corpus, o.common.seed, o.repr, o.seq_len, split);
  } else if (!no_pieces.empty()) {
    std::printf("note: %s; holding out 20 %% of the windows instead (--holdout windows)\n", no_pieces.c_str());
    o.holdout = "windows";
  } else if (o.holdout == "pieces") {
    PieceHoldout held = hold_out_pieces(corpus, o.seq_len, split);
    held_stream = std::move(held.ids);
    held_what = fmt::format(" (held out: {} whole pieces of {})", held.names.size(), corpus.piece_ends.size());
    std::printf("held out: %zu whole pieces: %s\n", held.names.size(), fmt::format("{}", fmt::join(held.names, ", ")).c_str());
  }
  const std::vector<int64_t>& heldout_ids = held_stream.empty() ? corpus.ids : held_stream;
  // --objective all: the windows that start on the stride, for training and for the held-out metrics.
  if (all_positions) {
    split.train = strided(split.train, o.stride);
    split.heldout = strided(split.heldout, o.stride);
  }
  if (static_cast<int64_t>(split.train.size()) < o.common.batch)
    mg::fail("--batch {}: only {} training windows of {} tokens; use more data, a smaller --batch{}", o.common.batch,
             split.train.size(), o.seq_len, all_positions ? " or --stride" : " or --min-count");
  std::printf("windows: %zu train, %zu held out (seq-len %lld%s)\n", split.train.size(), split.heldout.size(),
              static_cast<long long>(o.seq_len),
              all_positions ? fmt::format(", stride {}, loss at every position", o.stride).c_str()
                            : ", loss on the token after each window");

  mg::manual_seed(o.common.seed);
  o.net.input = o.model;
  o.net.vocab = static_cast<int64_t>(corpus.vocab.size());
  if (ck && resumed.vocab != corpus.vocab)
    mg::fail("--resume: the data no longer gives the checkpoint's vocabulary ({})", ckpt_path);
  if (ck) o.net = resumed.net;
  mg::app::check_memory("--batch, --seq-len, --hidden1, --hidden2, --dense and the vocabulary",
                        o.net.training_bytes(o.common.batch, o.seq_len));
  mg::nn::ChopinLSTM net(o.net);
  if (ck) {
    mg::nn::check_model_state(net, ck->model, ckpt_path);
    net.load_state(ck->model, ckpt_path);
  }
  net.to(device);  // before the optimizer takes the parameter handles
  mg::nn::Adamax opt(net.named_parameters(), o.lr);

  nlohmann::json primers = nlohmann::json::array();  // held-out windows for generate, which then needs no data
  for (size_t i = 0; i < split.heldout.size() && i < 32; ++i)
    primers.push_back(std::vector<int64_t>(heldout_ids.begin() + split.heldout[i],
                                           heldout_ids.begin() + split.heldout[i] + o.seq_len));
  const nlohmann::json meta = {{"model", o.net.to_json()}, {"repr", o.repr}, {"objective", o.objective},
                               {"stride", o.stride},       {"vocab", corpus.vocab}, {"seq_len", o.seq_len},
                               {"min_count", o.min_count}, {"seed", o.common.seed}, {"data", o.common.data},
                               {"batch", o.common.batch},  {"max_steps", o.max_steps},
                               {"heldout_data", o.heldout_data}, {"holdout", o.holdout},
                               {"patience", o.patience}, {"augment", o.augment},
                               {"primers", primers}};
  const mg::nn::AugmentOptions augment = mg::nn::AugmentOptions::parse(o.augment);
  mg::nn::ChopinTask task(net,
                          {&corpus.ids, split.train, &heldout_ids, split.heldout, o.seq_len,
                           augment.any() ? mg::nn::TimedAugmenter(corpus.vocab, augment, o.common.seed)
                                         : mg::nn::TimedAugmenter()},
                          all_positions, o.common.batch, device, [&meta] { return meta; });
  // Without --epochs: the seed recipe's epochs, or the embed network's steps in whole epochs.
  const int64_t steps_per_epoch = std::max<int64_t>(
      1, mg::nn::Trainer::epoch_steps(int64_t(split.train.size()), o.common.batch, true, o.max_steps));
  const int epochs = o.common.epochs > 0 ? o.common.epochs
                     : o.model == "seed" ? kSeedEpochs
                                         : static_cast<int>(std::min<int64_t>(
                                               (kEmbedDefaultSteps + steps_per_epoch - 1) / steps_per_epoch,
                                               mg::app::kMaxEpochs));
  mg::nn::Trainer trainer(net, opt, task,
                         {.app = kApp, .checkpoint = ckpt_path, .best = best_path, .epochs = epochs,
                          .batch = o.common.batch, .drop_last = true, .max_steps = o.max_steps, .seed = o.common.seed,
                          .order = mg::nn::ExampleOrder::FisherYates, .patience = o.patience,
                          .skip_nonfinite = o.skip_nonfinite,
                          .resume_command = fmt::format("chopin-lstm train --out {} --resume --epochs {}",
                                                        o.common.out, epochs)});
  const int start_epoch = ck ? resumed.state.epoch : 0;
  if (ck) mg::app::resume_from(trainer, *ck, resumed.state, ckpt_path);
  std::printf("model: %s input, %lld parameters, device %s\n", o.net.input.c_str(),
              static_cast<long long>(net.num_parameters()), std::string(mg::device_name(device)).c_str());

  const std::string best_rule = fmt::format("lowest held-out NLL{}", all_positions ? " over all positions" : " after the window");
  const std::vector<std::pair<std::string, std::string>> config = {
      {"model", fmt::format("{} (LSTM {} -> LSTM {} -> Dense {} -> Dense {}{})", o.net.input, o.net.hidden1,
                            o.net.hidden2, o.net.dense, o.net.vocab,
                            o.net.input == "embed" ? fmt::format(", embedding {}", o.net.embed_dim) : "")},
      {"parameters", std::to_string(net.num_parameters())},
      {"tokens", fmt::format("{}, vocabulary {}, --min-count {}", o.repr, corpus.vocab.size(), o.min_count)},
      {"objective", all_positions ? fmt::format("all positions, windows of {} every {} tokens", o.seq_len, o.stride)
                                  : fmt::format("next token after windows of {}", o.seq_len)},
      {"augmentation", o.augment == "none" ? "none" : o.augment + " (training windows only)"},
      {"optimizer", fmt::format("Adamax, learning rate {}", opt.learning_rate())},
      {"epochs", fmt::format("{} ({} steps of batch {} each{})", epochs, trainer.steps_per_epoch(),
                             o.common.batch, o.max_steps > 0 ? ", capped by --max-steps" : "")},
      {"data", fmt::format("{}: {} training and {} held-out windows{}", corpus.source, split.train.size(),
                           split.heldout.size(), held_what)},
      {"best model", o.patience > 0 ? fmt::format("{}, stop after {} epochs without a new low", best_rule, o.patience)
                                    : best_rule},
      {"device", mg::app::compute_summary(device)},
      {"seed", std::to_string(o.common.seed)},
      {"output", o.common.out},
  };
  mg::app::print_config(config);

  // The page a person opens: OUT/report.html, from before the first step to the end.
  mg::app::RunReport report(o.common.out, kApp);
  mg::app::ReportSection& page = mg::app::run_section(report, "train", ck.has_value(), config);
  page.data.source = o.common.data.empty() ? "the built-in piano corpus" : o.common.data;
  page.data.files_read = corpus.files_read;  // the built-in corpus counts its pieces as files
  page.data.skipped = corpus.skipped;
  page.data.details = {{"tokens", static_cast<int64_t>(corpus.ids.size())},
                       {"vocabulary", static_cast<int64_t>(corpus.vocab.size())},
                       {"training windows", static_cast<int64_t>(split.train.size())},
                       {"held-out windows", static_cast<int64_t>(split.heldout.size())}};

  // One row per epoch: the mean loss over the steps applied (NaN when every step was skipped) and the held-out metrics.
  auto held = mg::app::heldout_metric;
  auto train_loss = [](const mg::nn::EpochEnd& e) { return mg::app::epoch_mean(e, "loss", "windows"); };
  mg::app::EpochRecord record;
  record.csv_columns = {"epoch",   "train_loss",    "heldout_loss",    "heldout_perplexity", "heldout_accuracy",
                        "seconds", "skipped_steps", "heldout_loss_all"};
  record.csv_row = [&](const mg::nn::EpochEnd& e) {
    return std::vector<double>{double(e.epoch),    train_loss(e),          held(e, "loss"), held(e, "perplexity"),
                               held(e, "accuracy"), e.seconds, double(e.skipped), held(e, "loss_all")};
  };
  record.table_columns = {"epoch", "train loss", "held-out loss", "held-out loss, all positions", "perplexity",
                          "accuracy %", "seconds"};
  record.table_row = [&](const mg::nn::EpochEnd& e) {
    return std::vector<mg::app::ReportValue>{e.epoch, train_loss(e), held(e, "loss"), held(e, "loss_all"),
                                             held(e, "perplexity"), 100 * held(e, "accuracy"), e.seconds};
  };
  record.summary = [&](const mg::nn::EpochEnd& e) {
    return fmt::format("epoch {}: train loss {:.4f}, held-out loss {:.4f} (all positions {:.4f}), perplexity {:.2f}, "
                       "accuracy {:.1f}%, {}", e.epoch, train_loss(e), held(e, "loss"), held(e, "loss_all"),
                       held(e, "perplexity"), 100 * held(e, "accuracy"), mg::app::format_duration(e.seconds));
  };
  record.pictures = [&](const mg::nn::EpochEnd&, const mg::app::CsvLog& log) {
    draw_curves(log, o.common.out + "/curves.png");
    page.picture(o.common.out + "/curves.png", "Loss (train and held-out) and held-out accuracy per epoch");
    if (!std::filesystem::exists(o.common.out + "/token-histogram.png"))
      draw_histogram(corpus, o.min_count, o.common.out + "/token-histogram.png");
    page.picture(o.common.out + "/token-histogram.png", "Token counts, with the --min-count threshold");
  };
  const mg::nn::RunEnd end =
      mg::app::fit_recorded(trainer, "samples", o.common.out + "/log.csv", report, page, std::move(record), start_epoch);
  if (end.signal != 0) return end.exit_status();
  if (start_epoch >= epochs)
    std::printf("nothing to do: already trained for %d epochs; pass a larger --epochs to continue\n", start_epoch);
  std::printf("checkpoint: %s (best held-out epoch %d: %s)\nlog: %s/log.csv\npictures: %s/curves.png, "
              "%s/token-histogram.png\nreport: %s/report.html\n",
              ckpt_path.c_str(), end.best_epoch, best_path.c_str(), o.common.out.c_str(), o.common.out.c_str(),
              o.common.out.c_str(), o.common.out.c_str());
  // The best epoch's music against the held-out music, as `eval` judges it (on the first rank alone).
  if (o.eval_pieces > 0 && (o.holdout == "pieces" || !o.heldout_data.empty()) && std::filesystem::exists(best_path) &&
      mg::nn::dist::world().rank() == 0) {
    EvalOptions e;
    e.common = o.common;
    e.common.data.clear();
    e.checkpoint = best_path;
    e.pieces = o.eval_pieces;
    e.window_stride = o.stride;  // the held-out windows train scored
    std::printf("\nthe best epoch against the held-out music (chopin-lstm eval --checkpoint %s):\n", best_path.c_str());
    std::fflush(stdout);
    try {
      return run_eval(e);
    } catch (const mg::Error& error) {  // the training itself is done and written
      std::fflush(stdout);
      std::fprintf(stderr, "warning: no closing evaluation: %s\n", error.what());
    }
  }
  return 0;
}

}  // namespace chopin
