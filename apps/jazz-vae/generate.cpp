// jazz-vae generate / interpolate / encode: from latent points to WAV files and back.
// With a time-resolved latent, interpolation is frame by frame: latent frame t
// of step s is (1 - s) a_t + s b_t.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>

#include <fmt/format.h>

#include "apps/common/report.h"
#include "apps/common/run_control.h"
#include "apps/jazz-vae/jazz.h"
#include "io/atomic_file.h"
#include "io/audio.h"
#include "io/run_folder.h"
#include "io/utf8.h"
#include "tensor/rng.h"

namespace jazz {

using mg::Tensor;

namespace {

// Every WAV is written at 22,050 Hz (GTZAN's rate); the seed model's 3 kHz audio is resampled.
constexpr int kOutRate = 22050;
// Panels in the samples and interpolation pictures; more would not be legible.
constexpr size_t kPictureSamples = 16;

// A grid of up to 4 columns with as many rows as n panels need, each row 210 pixels high.
mg::io::WaveformGridOptions grid_for(size_t n) {
  mg::io::WaveformGridOptions opt;
  opt.cols = static_cast<int>(std::clamp<size_t>(n, 1, 4));
  opt.rows = static_cast<int>((std::max<size_t>(n, 1) + 3) / 4);
  opt.height = 60 + 210 * opt.rows;
  return opt;
}

// Peak-normalised to -1 dBFS by write_wav, so nothing clips; prints the levels
// and returns the clip for the run's page.
mg::app::ReportClip write_clip(const std::string& path, const std::vector<float>& audio, int rate) {
  mg::io::write_wav(path, mg::io::resample(audio, rate, kOutRate), kOutRate, true);
  const double seconds = static_cast<double>(audio.size()) / rate, rms = mg::io::rms(audio);
  const double peak = static_cast<double>(mg::io::peak(audio));
  std::printf("wrote %s  (%.1f s, rms before normalising %.4f, peak %.4f)\n", path.c_str(), seconds, rms, peak);
  mg::app::json_record({{"wrote", path}, {"seconds", seconds}, {"rms", rms}, {"peak", peak}});
  const std::string name = std::filesystem::path(path).filename().string();
  return {path, path, name, "", "", {{"seconds", seconds}, {"rms before normalising", rms}, {"peak", peak}}};
}

// The page these clips go on: the checkpoint's folder when --out lies inside
// it (one page for the whole run), else --out's own.
std::string report_folder(const std::string& checkpoint, const std::string& out) {
  const std::filesystem::path folder = std::filesystem::path(checkpoint).parent_path();
  const std::filesystem::path rel =
      std::filesystem::absolute(out).lexically_normal().lexically_relative(std::filesystem::absolute(folder.empty() ? "." : folder).lexically_normal());
  const bool inside = !rel.empty() && *rel.begin() != "..";
  return inside ? (folder.empty() ? std::string(".") : folder.string()) : out;
}

// Adds this command's section (named after --out, so that running it again
// replaces it) to the page; a page that cannot be written is a warning.
void publish(const std::string& checkpoint, const std::string& out, const std::string& what,
             const std::function<void(mg::app::ReportSection&)>& fill) {
  try {
    mg::app::RunReport report(report_folder(checkpoint, out), "jazz-vae");
    mg::app::ReportSection& page = report.start(fmt::format("{} {}", what, out), mg::app::command_line());
    fill(page);
    report.save();
  } catch (const mg::Error& e) {
    std::fprintf(stderr, "warning: report not updated: %s\n", e.what());
  }
}

}  // namespace

int run_generate(const GenerateOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel m = load_model(o.checkpoint, device);
  const mg::nn::ConvVaeConfig& config = m.vae->config();
  const int64_t Z = config.latent;
  if (o.grid > 0 && (Z != 2 || config.time_resolved()))
    mg::fail("--grid: needs a global 2-D latent space (--latent-mode global --latent 2); {} has {}", o.checkpoint,
             config.time_resolved() ? fmt::format("{} channels x {} frames", Z, config.latent_frames())
                                    : fmt::format("{} dimensions", Z));
  // The learned prior when asked for, or by default when its file exists.
  const std::string prior_path = o.prior_checkpoint.empty() ? default_prior_path(o.checkpoint) : o.prior_checkpoint;
  const bool asked = !o.prior_checkpoint.empty() || !o.primer.empty() || !o.like.empty();
  const bool learned = o.prior == "learned" ||
                       (o.prior.empty() && (asked || (config.time_resolved() && std::filesystem::exists(prior_path))));
  std::optional<LoadedPrior> prior;
  if (learned) {
    if (!std::filesystem::exists(prior_path))
      mg::fail("--prior learned: {} does not exist (train it with `jazz-vae prior --checkpoint {}`)", prior_path, o.checkpoint);
    prior = load_prior(prior_path, m, device);
  }
  int64_t like = -1;
  if (!o.like.empty()) {
    if (prior->files.empty())
      mg::fail("--like: the learned prior {} is not conditioned on files (trained with --condition none)", prior_path);
    const auto it = std::find(prior->files.begin(), prior->files.end(), mg::io::valid_utf8(o.like));
    if (it == prior->files.end()) {
      std::string names;
      for (size_t i = 0; i < prior->files.size() && i < 5; ++i) names += (i ? ", " : "") + prior->files[i];
      mg::fail("--like: {} is not one of the {} training files of {} ({}{})", o.like, prior->files.size(), prior_path,
               names, prior->files.size() > 5 ? ", ..." : "");
    }
    like = it - prior->files.begin();
  }
  Tensor primer;
  if (!o.primer.empty()) {
    if (o.count == 0) mg::fail("--primer: give --count, the number of continuations to draw");
    const int64_t T = config.latent_frames();
    const int64_t P = o.primer_frames > 0 ? o.primer_frames : std::max<int64_t>(1, T / 2);
    if (P > T) mg::fail("--primer-frames: {} is more than the clip's {} latent frames", P, T);
    const Encoding e = encode_file(m, o.primer);
    primer = mg::from_vector(e.mu, config.latent_shape(1)).slice(2, 0, P).contiguous();
    std::printf("primer: the first %lld of %lld latent frames of %s\n", static_cast<long long>(P),
                static_cast<long long>(T), o.primer.c_str());
  }
  mg::app::check_memory("decoding " + std::to_string(kDecodeBatch) + " clips at a time",
                        decode_bytes(m.vae->config(), m.features, kDecodeBatch));
  mg::io::RunFolder folder(o.out, "--out");  // locked while this command writes into it
  // Every file this command writes, checked before the first is decoded: a link or a folder in the way is an
  // error now rather than after the work.
  for (int i = 1; i <= o.count; ++i) mg::io::output_target(fmt::format("{}/sample-{:02}.wav", o.out, i));
  for (int r = 1; r <= o.grid; ++r)
    for (int c = 1; c <= o.grid; ++c) mg::io::output_target(fmt::format("{}/grid-{}-{}.wav", o.out, r, c));
  if (o.count > 0) mg::io::output_target(o.out + "/samples.png");
  const int rate = m.features.sample_rate;

  // Every WAV of this command, and the picture, are kept together or not at all.
  mg::io::OutputSet outputs;
  std::vector<mg::io::WaveformPanel> panels;  // the first samples, for the picture
  std::vector<mg::app::ReportClip> sample_clips, grid_clips;
  if (o.count > 0) {
    mg::manual_seed(o.common.seed);
    std::printf("sampling %d clip(s) from %s%s\n", o.count,
                prior ? fmt::format("the learned prior {} (temperature {:g})", prior_path, o.temperature).c_str()
                      : "N(0, I)",
                like >= 0 ? (", each as from " + o.like).c_str() : "");
    sample_latents(m, prior ? &*prior : nullptr, o.count, o.temperature, primer, like,
                   [&](int64_t first, std::vector<float> z) {
                     decode_to_audio(m, z, o.griffin_lim_iters, [&](size_t j, std::vector<float> audio) {
                       const size_t i = static_cast<size_t>(first) + j;
                       const std::string path = fmt::format("{}/sample-{:02}.wav", o.out, i + 1);
                       sample_clips.push_back(write_clip(path, audio, rate));
                       outputs.add(path);
                       if (panels.size() < kPictureSamples)
                         panels.push_back({fmt::format("sample {}", i + 1), std::move(audio)});
                     });
                   });
  }
  if (o.grid > 0) {
    // Row r, column c: z = (x_c, y_r) with x rising left to right and y falling top to bottom, like a plot.
    std::vector<float> z;
    auto coord = [&](int i) { return o.grid == 1 ? 0.0 : -o.grid_range + 2.0 * o.grid_range * i / (o.grid - 1); };
    for (int r = 0; r < o.grid; ++r)
      for (int c = 0; c < o.grid; ++c) {
        z.push_back(static_cast<float>(coord(c)));
        z.push_back(static_cast<float>(-coord(r)));
      }
    decode_to_audio(m, z, o.griffin_lim_iters, [&](size_t i, std::vector<float> audio) {
      const size_t r = i / static_cast<size_t>(o.grid), c = i % static_cast<size_t>(o.grid);
      const std::string path = fmt::format("{}/grid-{}-{}.wav", o.out, r + 1, c + 1);
      mg::app::ReportClip clip = write_clip(path, audio, rate);
      clip.caption = fmt::format("z = ({:.2f}, {:.2f})", coord(static_cast<int>(c)), -coord(static_cast<int>(r)));
      grid_clips.push_back(std::move(clip));
      outputs.add(path);
    });
  }
  if (!panels.empty()) {
    mg::io::WaveformGridOptions opt = grid_for(panels.size());
    const std::string which = prior ? "the learned prior" : "N(0, I)";
    opt.title = panels.size() < static_cast<size_t>(o.count)
                    ? fmt::format("the first {} of {} samples from {}", panels.size(), o.count, which)
                    : "samples from " + which;
    mg::io::waveform_grid(o.out + "/samples.png", panels, opt);
    outputs.add(o.out + "/samples.png");
  }
  outputs.keep();
  publish(o.checkpoint, o.out, "generate", [&](mg::app::ReportSection& page) {
    page.set("prior", prior ? fmt::format("learned ({}), temperature {:g}", prior_path, o.temperature) : "N(0, I)");
    if (!o.primer.empty()) page.set("primer", o.primer);
    if (!o.like.empty()) page.set("each sample drawn as from", o.like);
    if (!panels.empty()) page.picture(o.out + "/samples.png", "Waveforms of the samples");
    for (mg::app::ReportClip& c : sample_clips) page.clip(std::move(c));
    if (!grid_clips.empty())
      page.clip_grid(fmt::format("The latent plane from -{0:g} to {0:g}, x left to right, y top to bottom", o.grid_range),
                     o.grid, o.grid, std::move(grid_clips));
  });
  return 0;
}

int run_interpolate(const InterpolateOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel m = load_model(o.checkpoint, device);
  // interpolation.wav holds every step at 22,050 Hz, beside each step's own audio.
  const double seconds = m.features.clip_seconds * o.steps;
  mg::app::check_memory("--steps " + std::to_string(o.steps),
                        decode_bytes(m.vae->config(), m.features, kDecodeBatch) + seconds * kOutRate * 4.0 * 3);
  const Encoding a = encode_file(m, o.a), b = encode_file(m, o.b);
  std::vector<float> z;
  for (int s = 0; s < o.steps; ++s) {
    const float t = static_cast<float>(s) / static_cast<float>(o.steps - 1);
    for (size_t k = 0; k < a.mu.size(); ++k) z.push_back((1 - t) * a.mu[k] + t * b.mu[k]);
  }
  mg::io::RunFolder folder(o.out, "--out");  // locked while this command writes into it
  mg::io::OutputSet outputs;
  std::vector<float> all;
  std::vector<mg::io::WaveformPanel> panels;
  std::vector<mg::app::ReportClip> step_clips;
  decode_to_audio(m, z, o.griffin_lim_iters, [&](size_t i, std::vector<float> audio) {
    const std::string path = fmt::format("{}/step-{:02}.wav", o.out, i + 1);
    step_clips.push_back(write_clip(path, audio, m.features.sample_rate));
    outputs.add(path);
    all.insert(all.end(), audio.begin(), audio.end());
    if (panels.size() < kPictureSamples) panels.push_back({fmt::format("step {}", i + 1), std::move(audio)});
  });
  mg::app::ReportClip whole = write_clip(o.out + "/interpolation.wav", all, m.features.sample_rate);
  outputs.add(o.out + "/interpolation.wav");
  mg::io::WaveformGridOptions opt = grid_for(panels.size());
  opt.title = "interpolation from " + std::filesystem::path(o.a).filename().string() + " to " +
              std::filesystem::path(o.b).filename().string();
  mg::io::waveform_grid(o.out + "/interpolation.png", panels, opt);
  outputs.add(o.out + "/interpolation.png");
  outputs.keep();
  publish(o.checkpoint, o.out, "interpolate", [&](mg::app::ReportSection& page) {
    page.set("from", o.a);
    page.set("to", o.b);
    whole.caption = "every step in turn";
    whole.image = o.out + "/interpolation.png";
    page.clip(std::move(whole));
    const int steps = static_cast<int>(step_clips.size());
    page.clip_grid("Each step", 1, steps, std::move(step_clips));
  });
  return 0;
}

int run_encode(const EncodeOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel m = load_model(o.checkpoint, device);
  const mg::nn::ConvVaeConfig& config = m.vae->config();
  const size_t T = static_cast<size_t>(config.latent_frames());
  if (config.time_resolved())
    std::printf("# latent mean and sigma of each file's first %.3g s: %lld channels per frame, %zu frames, "
                "one line per frame\n",
                m.features.clip_seconds, static_cast<long long>(config.latent), T);
  else
    std::printf("# latent mean and sigma of each file's first %.3g s\n", m.features.clip_seconds);
  for (const std::string& file : o.files) {
    const Encoding e = encode_file(m, file);
    const size_t Z = e.mu.size() / T;
    // --json: one record per file, mu and sigma as [Z][T] arrays.
    nlohmann::json mu_json = nlohmann::json::array(), sigma_json = nlohmann::json::array();
    for (size_t k = 0; k < Z; ++k) {
      mu_json.push_back(std::vector<float>(e.mu.begin() + static_cast<long>(k * T), e.mu.begin() + static_cast<long>((k + 1) * T)));
      sigma_json.push_back(
          std::vector<float>(e.sigma.begin() + static_cast<long>(k * T), e.sigma.begin() + static_cast<long>((k + 1) * T)));
    }
    mg::app::json_record({{"file", file}, {"mu", mu_json}, {"sigma", sigma_json}});
    for (size_t t = 0; t < T; ++t) {
      std::string mu, sigma;
      for (size_t k = 0; k < Z; ++k) {  // [Z, T] row-major: channel k of frame t
        mu += fmt::format("{}{:+.4f}", k ? " " : "", e.mu[k * T + t]);
        sigma += fmt::format("{}{:.4f}", k ? " " : "", e.sigma[k * T + t]);
      }
      const std::string frame = config.time_resolved() ? fmt::format(" frame {}", t) : "";
      std::printf("%s%s  mu [%s]  sigma [%s]\n", file.c_str(), frame.c_str(), mu.c_str(), sigma.c_str());
    }
  }
  return 0;
}

}  // namespace jazz
