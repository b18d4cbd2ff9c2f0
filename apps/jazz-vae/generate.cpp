// jazz-vae generate / interpolate / encode: from latent points to WAV files and back.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "apps/jazz-vae/jazz.h"
#include "io/audio.h"
#include "tensor/rng.h"

namespace jazz {

namespace {

// Peak-normalised to -1 dBFS by write_wav, so nothing clips; prints the levels.
// Every WAV is written at 22,050 Hz (GTZAN's rate); the seed model's 3 kHz audio is resampled.
void write_clip(const std::string& path, const std::vector<float>& audio, int rate) {
  constexpr int kOutRate = 22050;
  mg::io::write_wav(path, mg::io::resample(audio, rate, kOutRate), kOutRate, true);
  std::printf("wrote %s  (%.1f s, rms before normalising %.4f, peak %.4f)\n", path.c_str(),
              static_cast<double>(audio.size()) / rate, mg::io::rms(audio), static_cast<double>(mg::io::peak(audio)));
}

}  // namespace

int run_generate(const GenerateOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  if (o.count == 0 && o.grid == 0) mg::fail("--count and --grid are both 0: nothing to generate");
  LoadedModel m = load_model(o.checkpoint, device);
  const int64_t Z = m.vae->config().latent;
  if (o.grid > 0 && Z != 2) mg::fail("--grid: needs a 2-D latent space, {} has {}", o.checkpoint, Z);
  std::filesystem::create_directories(o.out);
  const int rate = m.features.sample_rate;

  std::vector<mg::io::WaveformPanel> panels;
  if (o.count > 0) {
    mg::manual_seed(o.common.seed);
    std::vector<float> z = mg::randn({o.count, Z}).to_vector<float>();
    std::vector<std::vector<float>> audio = decode_to_audio(m, z, o.griffin_lim_iters);
    for (size_t i = 0; i < audio.size(); ++i) {
      write_clip(fmt::format("{}/sample-{:02}.wav", o.out, i + 1), audio[i], rate);
      panels.push_back({fmt::format("sample {}", i + 1), audio[i]});
    }
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
    std::vector<std::vector<float>> audio = decode_to_audio(m, z, o.griffin_lim_iters);
    for (size_t i = 0; i < audio.size(); ++i) {
      const size_t r = i / static_cast<size_t>(o.grid), c = i % static_cast<size_t>(o.grid);
      write_clip(fmt::format("{}/grid-{}-{}.wav", o.out, r + 1, c + 1), audio[i], rate);
    }
  }
  if (!panels.empty()) {
    mg::io::WaveformGridOptions opt;
    opt.title = "samples from the prior";
    mg::io::waveform_grid(o.out + "/samples.png", panels, opt);
  }
  return 0;
}

int run_interpolate(const InterpolateOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel m = load_model(o.checkpoint, device);
  const Encoding a = encode_file(m, o.a), b = encode_file(m, o.b);
  std::vector<float> z;
  for (int s = 0; s < o.steps; ++s) {
    const float t = static_cast<float>(s) / static_cast<float>(o.steps - 1);
    for (size_t k = 0; k < a.mu.size(); ++k) z.push_back((1 - t) * a.mu[k] + t * b.mu[k]);
  }
  std::filesystem::create_directories(o.out);
  std::vector<std::vector<float>> audio = decode_to_audio(m, z, o.griffin_lim_iters);
  std::vector<float> all;
  std::vector<mg::io::WaveformPanel> panels;
  for (size_t i = 0; i < audio.size(); ++i) {
    write_clip(fmt::format("{}/step-{:02}.wav", o.out, i + 1), audio[i], m.features.sample_rate);
    all.insert(all.end(), audio[i].begin(), audio[i].end());
    panels.push_back({fmt::format("step {}", i + 1), audio[i]});
  }
  write_clip(o.out + "/interpolation.wav", all, m.features.sample_rate);
  mg::io::WaveformGridOptions opt;
  opt.title = "interpolation from " + std::filesystem::path(o.a).filename().string() + " to " +
              std::filesystem::path(o.b).filename().string();
  mg::io::waveform_grid(o.out + "/interpolation.png", panels, opt);
  return 0;
}

int run_encode(const EncodeOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel m = load_model(o.checkpoint, device);
  std::printf("# latent mean and sigma of each file's first %.3g s\n", m.features.clip_seconds);
  for (const std::string& file : o.files) {
    const Encoding e = encode_file(m, file);
    std::string mu, sigma;
    for (size_t k = 0; k < e.mu.size(); ++k) {
      mu += fmt::format("{}{:+.4f}", k ? " " : "", e.mu[k]);
      sigma += fmt::format("{}{:.4f}", k ? " " : "", e.sigma[k]);
    }
    std::printf("%s  mu [%s]  sigma [%s]\n", file.c_str(), mu.c_str(), sigma.c_str());
  }
  return 0;
}

}  // namespace jazz
