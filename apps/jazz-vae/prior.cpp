// jazz-vae prior: trains the learned prior (models/latent_prior.h) on the
// latent means of clip-length windows of the model's training files (or of
// its training clips, --windows 0), on the trainer of models/trainer.h with
// the task of models/latent_prior_training.h, scoring the held-out clips'
// latents after every epoch, and writes it beside the model. With held-out
// clips the file keeps the epoch whose held-out -log p is lowest (the prior
// overfits a few dozen training sequences within tens of epochs); without,
// the last. With --condition file (the default) the prior is told which
// training file each sequence comes from; held-out clips, from other files,
// are scored under the mixture over the training files. The file names the
// model checkpoint it was trained on, by checksum.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "apps/common/train_record.h"
#include "apps/jazz-vae/jazz.h"
#include "io/atomic_file.h"
#include "io/checksum.h"
#include "io/plot.h"
#include "io/run_folder.h"
#include "io/utf8.h"
#include "models/distributed.h"
#include "models/latent_prior_training.h"
#include "models/stop_request.h"
#include "tensor/rng.h"

namespace jazz {

using mg::Tensor;

int run_prior(const PriorOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  mg::nn::StopRequest signals;  // from here on a signal ends the run with its log and report
  LoadedModel m = load_model(o.checkpoint, device);
  if (!m.vae->config().time_resolved())
    mg::fail("{}: a learned prior needs a time-resolved latent (train with --latent-mode time); this model's is global",
             o.checkpoint);
  const std::string out = o.out.empty() ? default_prior_path(o.checkpoint) : o.out;
  const std::string parent = std::filesystem::path(out).parent_path().string(), dir = parent.empty() ? "." : parent;
  mg::io::RunFolder folder(dir, o.out.empty() ? "the folder of --checkpoint" : "the folder of --out");
  for (const std::string& path : {out, dir + "/prior-log.csv", dir + "/prior-curves.png", dir + "/report.json",
                                  dir + "/report.html"})
    mg::io::output_target(path);

  Dataset d = load_dataset(mg::io::from_valid_utf8(m.meta.data), m.features, m.meta.train.seed);
  // With --windows the training clips' own features are never used: FileFrames computes the files'.
  for (size_t i : d.test) d.clips[i].features = compute_features(m.features, d.clips[i].audio);
  if (o.windows == 0)
    for (size_t i : d.train) d.clips[i].features = compute_features(m.features, d.clips[i].audio);
  std::vector<const Clip*> train, held_out;
  for (size_t i : d.train) train.push_back(&d.clips[i]);
  for (size_t i : d.test) held_out.push_back(&d.clips[i]);
  if (train.empty()) mg::fail("{}: no training clips to fit the prior to", d.source);
  // --windows N: N windows per training file (fewer when it has fewer frames to spare), the first at its start and
  // the last at its end. The encoder sees every part of each file, not just the 5-s pieces it was cut into. The
  // windows are encoded a batch at a time: only their latents are kept.
  const mg::nn::ConvVaeConfig& vc = m.vae->config();
  const double latent_bytes = 4.0 * static_cast<double>(vc.latent * vc.latent_frames());
  Tensor z_train;
  std::vector<int64_t> file_of;  // per training sequence, its file's place among the training files
  std::vector<std::string> file_names;
  std::map<size_t, int64_t> ordinal;
  auto place = [&](size_t file) {
    auto [it, added] = ordinal.emplace(file, static_cast<int64_t>(ordinal.size()));
    if (added) file_names.push_back(std::filesystem::path(d.files[file]).filename().string());
    return it->second;
  };
  if (o.windows > 0) {
    // The clips and a second copy of the training files' features, then the windows' latents.
    const double data_bytes = dataset_bytes(m.features, static_cast<double>(d.clips.size() + d.train.size()));
    mg::app::check_memory(fmt::format("--windows: {} clips of {:g} s", d.clips.size(), m.features.clip_seconds), data_bytes);
    const FileFrames frames(d, m.features);
    const int64_t L = m.features.length();
    std::vector<std::pair<size_t, int64_t>> starts;  // (file, frame)
    for (size_t file : frames.files()) {
      const int64_t span = frames.frames(file) - L;
      const int64_t n = std::min<int64_t>(o.windows, span + 1);  // distinct starts only
      for (int64_t k = 0; k < n; ++k) {
        starts.emplace_back(file, n == 1 ? 0 : span * k / (n - 1));
        file_of.push_back(place(file));
      }
    }
    mg::app::check_memory(fmt::format("--windows {}: the latents of {} windows", o.windows, starts.size()),
                          data_bytes + latent_bytes * static_cast<double>(starts.size()));
    constexpr size_t kChunk = 10;
    std::vector<Tensor> parts;
    for (size_t b = 0; b < starts.size(); b += kChunk) {
      std::vector<Clip> chunk(std::min(kChunk, starts.size() - b));
      std::vector<const Clip*> ptrs;
      for (size_t i = 0; i < chunk.size(); ++i) {
        chunk[i].file = starts[b + i].first;
        chunk[i].features = frames.window(starts[b + i].first, starts[b + i].second);
        ptrs.push_back(&chunk[i]);
      }
      parts.push_back(encode_clips(m, ptrs, static_cast<int64_t>(kChunk)));
    }
    z_train = mg::concat(parts, 0).to(device);
  } else {
    for (const Clip* c : train) file_of.push_back(place(c->file));
    z_train = encode_clips(m, train, 10).to(device);
  }
  const Tensor z_test = held_out.empty() ? Tensor() : encode_clips(m, held_out, 10).to(device);
  {
    const std::vector<float> z = z_train.to_vector<float>();
    mg::app::require_same_run(fmt::format("{} training sequences, model checksum {}, hash {:016x}", z_train.size(0),
                                          m.checksum, mg::io::fnv1a64(z.data(), z.size() * sizeof(float))));
  }
  mg::manual_seed(o.common.seed);
  mg::nn::LatentPriorConfig config;
  config.latent = m.vae->config().latent;
  config.hidden = o.hidden;
  config.layers = o.layers;
  config.files = o.condition == "file" ? static_cast<int64_t>(file_names.size()) : 0;
  if (config.files > kMaxPriorFiles)
    mg::fail("--condition file: {} training files, more than the {} a prior can be conditioned on; use --condition none",
             config.files, kMaxPriorFiles);
  std::printf("prior: %lld training sequences (%s; %zu held-out clips) of %lld latent frames x %lld channels, %s\n",
              static_cast<long long>(z_train.size(0)),
              o.windows > 0 ? fmt::format("{} windows per training file", o.windows).c_str() : "the training clips",
              held_out.size(), static_cast<long long>(z_train.size(2)), static_cast<long long>(z_train.size(1)),
              config.files > 0 ? fmt::format("conditioned on their {} files", config.files).c_str() : "unconditioned");
  auto prior = std::make_shared<mg::nn::LatentPrior>(config);
  prior->fit_standardisation(z_train.to(mg::Device::CPU));
  prior->to(device);
  mg::nn::Adam opt(prior->named_parameters(), o.lr);

  nlohmann::json meta = {{"prior", config.to_json()}, {"model_checkpoint", o.checkpoint},
                         {"model_checksum", m.checksum}, {"seed", o.common.seed}};
  if (config.files > 0) meta["files"] = file_names;
  const int64_t batch = std::min<int64_t>(o.common.batch, z_train.size(0));
  mg::nn::LatentPriorTask task(*prior, z_train, file_of, z_test, batch, [&meta] { return meta; });
  // With held-out clips the file keeps the best epoch; without, the latest.
  mg::nn::Trainer trainer(*prior, opt, task,
                          {.app = kPriorApp, .checkpoint = z_test.defined() ? "" : out,
                           .best = z_test.defined() ? out : "", .epochs = o.common.epochs, .batch = batch,
                           .seed = o.common.seed, .order = mg::nn::ExampleOrder::PhiloxKeys,
                           .skip_nonfinite = o.skip_nonfinite, .clip_grad = 10.0});

  mg::app::RunReport report(dir, kApp);
  mg::app::ReportSection& page = mg::app::run_section(
      report, "prior", false,
      {{"model", o.checkpoint},
       {"prior", fmt::format("LSTM {} x {}, {}", o.layers, o.hidden,
                             config.files > 0 ? fmt::format("conditioned on {} files", config.files) : "unconditioned")},
       {"sequences", fmt::format("{} training, {} held-out", z_train.size(0), held_out.size())}});
  const std::string curves = dir + "/prior-curves.png";
  mg::app::EpochRecord record;
  record.csv_columns = {"epoch", "train_nll", "heldout_nll", "seconds"};
  auto train_nll = [](const mg::nn::EpochEnd& e) { return mg::app::epoch_mean(e, "nll", "sequences"); };
  auto held_nll = [](const mg::nn::EpochEnd& e) { return mg::app::heldout_metric(e, "nll"); };
  record.csv_row = [&](const mg::nn::EpochEnd& e) { return std::vector<double>{double(e.epoch), train_nll(e), held_nll(e), e.seconds}; };
  record.table_columns = {"epoch", "train -log p", "held-out -log p", "seconds"};
  record.table_row = [&](const mg::nn::EpochEnd& e) {
    return std::vector<mg::app::ReportValue>{e.epoch, train_nll(e), held_nll(e), e.seconds};
  };
  record.summary = [&](const mg::nn::EpochEnd& e) {
    if (e.epoch % 20 != 0 && e.epoch != o.common.epochs) return std::string();
    return fmt::format("prior epoch {}/{}  train -log p {:.4f}  held-out {:.4f} nats per latent element", e.epoch,
                       o.common.epochs, train_nll(e), held_nll(e));
  };
  record.at_end = [&](const mg::nn::RunEnd& end, const mg::app::CsvLog& log) {
    if (z_test.defined())
      std::printf("kept epoch %d, the lowest held-out -log p (%.4f nats per latent element)\n", end.best_epoch,
                  end.best_score);
    mg::io::LineChartOptions chart;
    chart.title = "learned prior: -log p(z) per latent element (nats)";
    chart.x_label = "epoch";
    std::vector<mg::io::Series> series = {{"training clips", log.column("epoch"), log.column("train_nll"), {}}};
    if (z_test.defined()) series.push_back({"held-out clips", log.column("epoch"), log.column("heldout_nll"), {}});
    mg::io::line_chart(curves, series, chart);
    page.picture(curves, "The learned prior's -log p per latent element, training and held-out");
  };
  const mg::nn::RunEnd end =
      mg::app::fit_recorded(trainer, "sequences", dir + "/prior-log.csv", report, page, std::move(record), 0);
  if (end.signal != 0) return end.exit_status();
  std::printf("wrote %s, %s/prior-log.csv and prior-curves.png\n", out.c_str(), dir.c_str());
  return 0;
}

}  // namespace jazz
