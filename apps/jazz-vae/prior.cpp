// jazz-vae prior: trains the learned prior (models/latent_prior.h) on the
// latent means of clip-length windows of the model's training files (or of
// its training clips, --windows 0), scoring the held-out clips' latents after
// every epoch, and writes it beside the model. With held-out
// clips the file keeps the epoch whose held-out -log p is lowest (the prior
// overfits a few dozen training sequences within tens of epochs); without,
// the last. With --condition file (the default) the prior is told which
// training file each sequence comes from; held-out clips, from other files,
// are scored under the mixture over the training files.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "apps/common/csv_log.h"
#include "apps/common/progress.h"
#include "apps/jazz-vae/jazz.h"
#include "io/atomic_file.h"
#include "io/plot.h"
#include "models/checkpoint.h"
#include "models/optim.h"
#include "tensor/rng.h"

namespace jazz {

using mg::Tensor;

namespace {

// Mean -log p(z) per latent element over latents [N, Z, T] (the mixture's over files when the prior
// is conditioned on them), in batches, without gradients.
double mean_nll(const mg::nn::LatentPrior& prior, const Tensor& z, int64_t batch) {
  double total = 0;
  const int64_t N = z.size(0);
  for (int64_t b = 0; b < N; b += batch)
    for (double nll : prior.marginal_nll(z.slice(0, b, std::min(N, b + batch)))) total += nll;
  return total / static_cast<double>(N);
}

}  // namespace

int run_prior(const PriorOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel m = load_model(o.checkpoint, device);
  if (!m.vae->config().time_resolved())
    mg::fail("{}: a learned prior needs a time-resolved latent (train with --latent-mode time); this model's is global",
             o.checkpoint);
  const std::string out = o.out.empty() ? default_prior_path(o.checkpoint) : o.out;
  const std::string folder = std::filesystem::path(out).parent_path().string();
  mg::io::check_output_folder(folder.empty() ? "." : folder, "--out");
  Dataset d = load_dataset(m.meta.data, m.features, m.meta.train.seed);
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
  const std::vector<Tensor> params = prior->parameters();

  const std::string log_path = (folder.empty() ? std::string(".") : folder) + "/prior-log.csv";
  mg::app::CsvLog log(log_path, {"epoch", "train_nll", "heldout_nll", "seconds"});
  const int64_t N = z_train.size(0), batch = std::min<int64_t>(o.common.batch, N);
  const int64_t steps = (N + batch - 1) / batch;
  mg::app::Progress progress("prior", o.common.epochs, "epochs");
  double best = INFINITY;
  int best_epoch = 0;
  auto save = [&](int epoch, double train_nll, double test_nll) {
    nlohmann::json meta = {{"prior", config.to_json()}, {"model_checkpoint", o.checkpoint}, {"epoch", epoch},
                           {"train_nll", train_nll},    {"heldout_nll", test_nll},       {"seed", o.common.seed}};
    if (config.files > 0) meta["files"] = file_names;
    mg::nn::save_checkpoint(out, kPriorApp, *prior, &opt, meta);
  };
  for (int epoch = 0; epoch < o.common.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    prior->train();
    // A Philox shuffle keyed by (seed, epoch).
    std::vector<std::pair<double, int64_t>> keyed;
    for (int64_t i = 0; i < N; ++i)
      keyed.emplace_back(mg::Philox::uniform(o.common.seed, (static_cast<uint64_t>(epoch) << 32) + static_cast<uint64_t>(i)), i);
    std::sort(keyed.begin(), keyed.end());
    double train_sum = 0;
    for (int64_t s = 0; s < steps; ++s) {
      std::vector<int64_t> idx, files;
      for (int64_t i = s * batch; i < std::min(N, (s + 1) * batch); ++i) idx.push_back(keyed[static_cast<size_t>(i)].second);
      std::vector<Tensor> rows;
      for (int64_t i : idx) {
        rows.push_back(z_train.slice(0, i, i + 1));
        if (config.files > 0) files.push_back(file_of[static_cast<size_t>(i)]);
      }
      Tensor loss = prior->nll(mg::concat(rows, 0), files);
      opt.zero_grad();
      loss.backward();
      const double l = loss.item();
      if (!std::isfinite(l)) mg::fail("prior: the loss is not finite at epoch {}, step {}; try a lower --lr", epoch + 1, s);
      mg::nn::clip_grad_norm(params, 10.0);
      opt.step();
      train_sum += l * static_cast<double>(idx.size());
    }
    prior->eval();
    const double train_nll = train_sum / static_cast<double>(N);
    const double test_nll = z_test.defined() ? mean_nll(*prior, z_test, batch) : NAN;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    log.append({static_cast<double>(epoch + 1), train_nll, test_nll, seconds});
    if (!z_test.defined() ? epoch + 1 == o.common.epochs : test_nll < best) {
      best = test_nll;
      best_epoch = epoch + 1;
      save(epoch + 1, train_nll, test_nll);
    }
    progress.update(epoch, train_nll, 1);
    if (epoch + 1 == o.common.epochs || (epoch + 1) % 20 == 0)
      std::printf("prior epoch %d/%d  train -log p %.4f  held-out %.4f nats per latent element\n", epoch + 1,
                  o.common.epochs, train_nll, test_nll);
  }
  progress.finish();
  if (z_test.defined())
    std::printf("kept epoch %d, the lowest held-out -log p (%.4f nats per latent element)\n", best_epoch, best);
  mg::io::LineChartOptions chart;
  chart.title = "learned prior: -log p(z) per latent element (nats)";
  chart.x_label = "epoch";
  const std::vector<double> epochs = log.column("epoch");
  std::vector<mg::io::Series> series = {{"training clips", epochs, log.column("train_nll"), {}}};
  if (z_test.defined()) series.push_back({"held-out clips", epochs, log.column("heldout_nll"), {}});
  mg::io::line_chart((folder.empty() ? std::string(".") : folder) + "/prior-curves.png", series, chart);
  std::printf("wrote %s, %s and prior-curves.png\n", out.c_str(), log_path.c_str());
  return 0;
}

}  // namespace jazz
