// jazz-vae eval: reconstruction metrics of a trained model on the held-out
// clips of its own split (or on every clip of another folder, --data), and
// how close samples from its priors come to those clips. Samples are drawn,
// decoded and scored a batch at a time: memory stays that of one batch and
// the statistics, whatever --samples asks for.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "apps/common/progress.h"
#include "apps/common/report.h"
#include "apps/common/run_control.h"
#include "apps/jazz-vae/jazz.h"
#include "io/utf8.h"
#include "tensor/rng.h"

namespace jazz {

namespace {

// The median pairwise distance of a set of clips is taken over its first this many: the pairs grow with the
// square of the clips, and a few hundred clips settle the median.
constexpr size_t kPairwiseClips = 256;

// The statistics of clips' 80-band log-mel frames (models/audio_metrics.h's log_mel), and the frames of the
// first kPairwiseClips for their median pairwise distance.
struct MelClips {
  std::vector<mg::nn::FrameFeatures> clips;
  mg::nn::GaussianStats stats{80};
  void add(const mg::io::Magnitude& mag, const mg::nn::MelFilterbank& fb) {
    mg::nn::FrameFeatures frames = mg::nn::log_mel(mag, fb);
    stats.add(frames);
    if (clips.size() < kPairwiseClips) clips.push_back(std::move(frames));
  }
};

// Root-mean-square difference of two clips' log-mel frames (nats), frame by frame.
double log_mel_distance(const mg::nn::FrameFeatures& a, const mg::nn::FrameFeatures& b) {
  double sum = 0;
  for (size_t i = 0; i < a.data.size(); ++i) sum += double(a.data[i] - b.data[i]) * (a.data[i] - b.data[i]);
  return std::sqrt(sum / static_cast<double>(std::max<size_t>(a.data.size(), 1)));
}

// The median of log_mel_distance over every pair of (the first kPairwiseClips) clips.
double median_pairwise(const std::vector<mg::nn::FrameFeatures>& clips) {
  std::vector<double> d;
  for (size_t i = 0; i < clips.size(); ++i)
    for (size_t j = i + 1; j < clips.size(); ++j) d.push_back(log_mel_distance(clips[i], clips[j]));
  if (d.empty()) return NAN;
  std::nth_element(d.begin(), d.begin() + static_cast<long>(d.size() / 2), d.end());
  return d[d.size() / 2];
}

// The metrics eval prints, kept for the run's page and --json.
struct EvalRecord {
  std::vector<std::pair<std::string, double>> rows;
  void add(const std::string& name, double value) { rows.emplace_back(name, value); }
  void add_scores(const std::string& prefix, const Scores& s) {
    add(prefix + ": spectral convergence", s.convergence);
    add(prefix + ": log-spectral distance (dB)", s.log_distance);
    add(prefix + ": multi-resolution distance", s.multi_resolution);
    add(prefix + ": onset-strength correlation", s.onset_correlation);
  }
  // On the page of the checkpoint's folder, and as one JSON record.
  void publish(const std::string& checkpoint, const std::string& scored) const {
    nlohmann::json record = {{"scored", scored}};
    for (const auto& [k, v] : rows) record[k] = v;
    mg::app::json_record(record);
    try {
      const std::filesystem::path parent = std::filesystem::path(checkpoint).parent_path();
      mg::app::RunReport report(parent.empty() ? "." : parent.string(), "jazz-vae");
      mg::app::ReportSection& page = report.start("eval", mg::app::command_line());
      page.set("scored", scored);
      mg::app::ReportTable& t = page.table("Metrics", {"metric", "value"});
      for (const auto& [k, v] : rows) t.add({k, v});
      report.save();
    } catch (const mg::Error& e) {
      std::fprintf(stderr, "warning: report not updated: %s\n", e.what());
    }
  }
};

void print_scores(const char* what, const Scores& s) {
  std::printf("%s\n", what);
  std::printf("  spectral convergence:              %.4f\n", s.convergence);
  std::printf("  log-spectral distance:             %.3f dB\n", s.log_distance);
  std::printf("  multi-resolution distance:         %.4f\n", s.multi_resolution);
  std::printf("  onset-strength correlation:        %.3f\n", s.onset_correlation);
}

}  // namespace

int run_eval(const EvalOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel m = load_model(o.checkpoint, device);
  const mg::nn::ConvVaeConfig& config = m.vae->config();
  // The learned prior is read first: one trained for another model is refused before any clip is scored.
  const std::string prior_path = o.prior_checkpoint.empty() ? default_prior_path(o.checkpoint) : o.prior_checkpoint;
  std::optional<LoadedPrior> prior;
  if (config.time_resolved() && (!o.prior_checkpoint.empty() || std::filesystem::exists(prior_path)))
    prior = load_prior(prior_path, m, device);
  const uint64_t seed = m.meta.train.seed;
  // Without --data: the held-out clips of the checkpoint's own split, against its training clips. With it:
  // every clip of every file of that folder, against the checkpoint's training clips when they can be read.
  const bool folder = !o.common.data.empty();
  auto features_of = [&](Dataset data) {
    for (Clip& c : data.clips) c.features = compute_features(m.features, c.audio);
    return data;
  };
  std::optional<Dataset> own, other;
  if (folder) {
    other = features_of(load_dataset(o.common.data, m.features, seed));
    try {
      own = features_of(load_dataset(mg::io::from_valid_utf8(m.meta.data), m.features, seed));
    } catch (const mg::Error& e) {
      std::fprintf(stderr, "warning: the training data cannot be read (%s); the rows that need it are left out\n", e.what());
    }
  } else {
    own = features_of(load_dataset(mg::io::from_valid_utf8(m.meta.data), m.features, seed));
  }
  const Dataset& d = folder ? *other : *own;
  std::vector<const Clip*> train_clips;
  if (own)
    for (size_t i : own->train) train_clips.push_back(&own->clips[i]);
  std::printf("data: %s: %zu files, %zu clips; %s\n", d.source.c_str(), d.files.size(), d.clips.size(),
              folder ? "every clip is scored" : ("split: " + d.split).c_str());
  const bool held_out = folder || !d.test.empty();
  std::vector<const Clip*> clips;
  if (folder)
    for (const Clip& c : d.clips) clips.push_back(&c);
  else
    for (size_t i : held_out ? d.test : d.train) clips.push_back(&d.clips[i]);
  if (!held_out) std::printf("note: no held-out clip; scoring the training clips\n");
  const bool conv = m.features.model == "conv";
  const Metrics r = evaluate_clips(m, clips, o.common.batch, conv ? o.griffin_lim_iters : 0);
  std::printf("model: %s, epoch %d, latent %s\n", m.features.model.c_str(), m.meta.state.epoch,
              config.time_resolved()
                  ? fmt::format("time-resolved, {} channels x {} frames", config.latent, config.latent_frames()).c_str()
                  : fmt::format("global, {} dimensions", config.latent).c_str());
  std::printf("%s clips: %zu\n", folder ? "the folder's" : held_out ? "held-out" : "training", r.clips);
  std::printf("reconstruction loss (per clip, z = mu): %.6g\n", r.recon);
  std::printf("KL(q(z|x) || N(0, I)) per clip:        %.6g\n", r.kl);
  std::printf("negative ELBO at beta 1:                %.6g\n", r.recon + r.kl);
  std::printf("active latent units (variance > 0.01):  %lld of %lld\n", static_cast<long long>(r.active_units),
              static_cast<long long>(config.latent));
  print_scores("decoded magnitudes against the input's:", r.decoded);
  EvalRecord record;
  const std::string scored =
      fmt::format("{} {} clips of {}", r.clips, folder ? "the" : held_out ? "held-out" : "training", d.source);
  record.add("reconstruction loss per clip", r.recon);
  record.add("KL per clip", r.kl);
  record.add("active latent units", static_cast<double>(r.active_units));
  record.add_scores("decoded", r.decoded);
  if (conv) {
    print_scores(fmt::format("after Griffin-Lim ({} iterations), the resynthesised audio's STFT "
                             "(multi-resolution distance of the waveforms):",
                             o.griffin_lim_iters).c_str(),
                 r.resynthesised);
    record.add_scores("after Griffin-Lim", r.resynthesised);
    print_scores(fmt::format("the vocoder alone: Griffin-Lim ({} iterations) of the inputs' own magnitudes:",
                             o.griffin_lim_iters).c_str(),
                 r.vocoder);
    record.add_scores("Griffin-Lim of the inputs' magnitudes", r.vocoder);
  }

  // Fréchet distances between 80-band log-mel statistics (models/audio_metrics.h), against the held-out clips.
  if (!held_out || train_clips.empty()) {
    std::printf("Fréchet distances need both training and held-out clips; skipped\n");
    record.publish(o.checkpoint, scored);
    return 0;
  }
  const mg::nn::MelFilterbank fb = mg::nn::mel_filterbank(m.features.sample_rate, m.features.n_fft, 80);
  MelClips test, train;
  for (const Clip* c : clips) test.add(clip_magnitude(m.features, c->audio), fb);
  for (const Clip* c : train_clips) train.add(clip_magnitude(m.features, c->audio), fb);
  std::printf("Fréchet distance of 80-band log-mel frame statistics to the held-out clips (%lld frames):\n",
              static_cast<long long>(test.stats.count()));
  const double floor = mg::nn::frechet_distance(train.stats, test.stats), held_out_median = median_pairwise(test.clips);
  const double train_median = median_pairwise(train.clips);
  std::printf("  %-34s%.3f  (median pairwise log-mel distance %.3f, held-out clips' own %.3f)\n",
              "training clips (the floor):", floor, train_median, held_out_median);
  record.add("Fréchet distance: training clips (the floor)", floor);
  record.add("median pairwise log-mel distance: training clips", train_median);
  // Decoded latents of real clips: the held-out clips' own (the nearest any prior's samples can come), and the
  // training clips' (what a prior that reproduced its training sequences exactly would score).
  auto score_decoded = [&](const char* name, const std::string& key, const std::vector<const Clip*>& source) {
    MelClips decoded;
    for (const std::vector<float>& features : reconstruct(m, source, o.common.batch))
      decoded.add(reconstructed_magnitude(m.features, features), fb);
    const double fd = mg::nn::frechet_distance(decoded.stats, test.stats), spread = median_pairwise(decoded.clips);
    std::printf("  %-34s%.3f  (median pairwise log-mel distance %.3f)\n", name, fd, spread);
    record.add("Fréchet distance: " + key, fd);
    record.add("median pairwise log-mel distance: " + key, spread);
  };
  score_decoded("held-out clips decoded (z = mu):", "reconstructions of the held-out clips", clips);
  score_decoded("training clips decoded (z = mu):", "training clips decoded", train_clips);

  auto score_samples = [&](const char* name, const LoadedPrior* from) {
    mg::manual_seed(o.common.seed);
    MelClips samples;
    mg::app::Progress progress(name, (o.samples + kDecodeBatch - 1) / kDecodeBatch, "clips");
    sample_latents(m, from, o.samples, from ? o.temperature : 1.0, {}, -1, [&](int64_t first, std::vector<float> z) {
      decode_latents(m, z, [&](size_t, std::vector<float> features) {
        samples.add(reconstructed_magnitude(m.features, features), fb);
      });
      progress.update(first / kDecodeBatch, NAN, std::min<int64_t>(kDecodeBatch, o.samples - first));
    });
    progress.finish();
    const double fd = mg::nn::frechet_distance(samples.stats, test.stats), spread = median_pairwise(samples.clips);
    std::printf("  %-34s%.3f  (%d clips; median pairwise log-mel distance %.3f, held-out clips' own %.3f)\n",
                fmt::format("{}:", name).c_str(), fd, o.samples, spread, held_out_median);
    record.add(fmt::format("Fréchet distance: {}", name), fd);
    record.add(fmt::format("median pairwise log-mel distance: {}", name), spread);
  };
  score_samples("samples from N(0, I)", nullptr);
  if (prior) {
    const std::string name = o.temperature == 1.0 ? std::string("samples from the learned prior")
                                                  : fmt::format("learned prior, temperature {:g}", o.temperature);
    score_samples(name.c_str(), &*prior);
  } else {
    std::printf("  (no learned prior: %s)\n", config.time_resolved() ? (prior_path + " does not exist").c_str()
                                                                     : "the latent is global");
  }
  std::printf("samples are decoded magnitudes (no Griffin-Lim); the clips' are their STFT magnitudes\n");
  record.add("median pairwise log-mel distance: held-out clips", held_out_median);
  record.publish(o.checkpoint, scored);
  return 0;
}

}  // namespace jazz
