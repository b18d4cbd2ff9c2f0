#include "apps/jazz-vae/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "apps/jazz-vae/audio_cache.h"
#include "io/audio.h"
#include "io/jazz_synth.h"
#include "io/stft.h"
#include "io/utf8.h"
#include "tensor/error.h"
#include "tensor/rng.h"

namespace jazz {

namespace fs = std::filesystem;

int64_t FeatureConfig::clip_samples() const {
  // The seed model takes the original's 90,001 samples: librosa's 30 s of a 30.01 s file at 3 kHz.
  const int64_t n = std::llround(clip_seconds * sample_rate);
  return model == "seed" ? n + 1 : n;
}

int64_t FeatureConfig::channels() const { return model == "seed" ? 1 : n_fft / 2 + 1; }

int64_t FeatureConfig::length() const {
  return model == "seed" ? clip_samples() : mg::io::stft_frames(static_cast<size_t>(clip_samples()), stft_config());
}

nlohmann::json FeatureConfig::to_json() const {
  return {{"model", model}, {"sample_rate", sample_rate}, {"clip_seconds", clip_seconds}, {"n_fft", n_fft},
          {"hop", hop},     {"bin_mean", bin_mean},       {"log_std", feature_std},
          {"log_floor", log_floor}, {"compress", compress}, {"power", power}};
}

std::string describe(const FeatureConfig& f) {
  if (f.model != "conv") return fmt::format("the waveform at {} Hz, {} samples", f.sample_rate, f.length());
  return fmt::format("{}, {} bins x {} frames (n_fft {}, hop {}), standardised",
                     f.compress == "power" ? fmt::format("|STFT|^{}", f.power) : fmt::format("log(|STFT| + {})", f.log_floor),
                     f.channels(), f.length(), f.n_fft, f.hop);
}

std::vector<std::string> file_names(const Dataset& d, const std::vector<size_t>& clips) {
  std::vector<std::string> out;
  for (size_t c : clips) {
    const std::string name = mg::io::valid_utf8(d.files[d.clips[c].file]);
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::vector<std::vector<float>> cut_clips(const std::vector<float>& signal, size_t clip_samples) {
  std::vector<std::vector<float>> out;
  for (size_t start = 0; start + clip_samples <= signal.size(); start += clip_samples)
    out.emplace_back(signal.begin() + static_cast<long>(start), signal.begin() + static_cast<long>(start + clip_samples));
  if (out.empty()) out.push_back(mg::io::crop_or_pad(signal, clip_samples));
  return out;
}

FileSplit split_files(const std::vector<std::string>& files, uint64_t seed) {
  // The seed notebook's sorted-index lists into GTZAN's jazz folder.
  static const std::vector<int> kSeedTrain = {0, 52, 19, 39, 71, 12, 75, 85, 3, 45, 24, 46, 88};
  static const std::vector<int> kSeedTest = {4, 43, 56, 55, 45, 31, 11, 13, 70, 37, 21, 78};
  static const std::regex kGtzan(R"(jazz\.(\d{5})\.(wav|au|flac|ogg))", std::regex::icase);

  FileSplit s;
  std::vector<int> index(files.size(), -1);
  bool gtzan = !files.empty();
  for (size_t i = 0; i < files.size(); ++i) {
    std::smatch m;
    if (std::regex_match(files[i], m, kGtzan)) index[i] = std::stoi(m[1].str());
    else gtzan = false;
  }
  if (gtzan) {
    auto pick = [&](const std::vector<int>& wanted, std::vector<size_t>& out) {
      for (int w : wanted)
        for (size_t i = 0; i < files.size(); ++i)
          if (index[i] == w) out.push_back(i);
      std::sort(out.begin(), out.end());
      return out.size();
    };
    const size_t tr = pick(kSeedTrain, s.train), te = pick(kSeedTest, s.test);
    size_t unused = 0;
    for (size_t i = 0; i < files.size(); ++i)
      unused += std::find(s.train.begin(), s.train.end(), i) == s.train.end() &&
                std::find(s.test.begin(), s.test.end(), i) == s.test.end();
    if (tr > 0) {
      s.description = fmt::format(
          "the seed notebook's GTZAN split: {} of its 13 training and {} of its 12 held-out files are here "
          "(jazz.00045 is in both lists, as in the original); {} other file(s) not used",
          tr, te, unused);
      return s;
    }
    s.train.clear();
    s.test.clear();
    s.description = "GTZAN names but none of the seed's training files; ";
  }
  // Seeded 80/20 by file: sort by a Philox key per file, the first fifth is held out.
  std::vector<std::pair<double, size_t>> keyed;
  for (size_t i = 0; i < files.size(); ++i) keyed.emplace_back(mg::Philox::uniform(seed ^ 0x5b117, i), i);
  std::sort(keyed.begin(), keyed.end());
  const size_t n = files.size();
  const size_t n_test = n < 2 ? 0 : std::max<size_t>(1, static_cast<size_t>(std::llround(0.2 * static_cast<double>(n))));
  for (size_t k = 0; k < n; ++k) (k < n_test ? s.test : s.train).push_back(keyed[k].second);
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.test.begin(), s.test.end());
  s.description += fmt::format("seeded 80/20 by file (seed {}): {} training, {} held-out", seed, s.train.size(),
                               s.test.size());
  return s;
}

Dataset load_dataset(const std::string& folder, const FeatureConfig& f, uint64_t seed) {
  Dataset d;
  std::vector<std::vector<float>> signals;
  if (folder.empty()) {
    constexpr uint64_t kDataSeed = 1;  // fixed: --seed varies the model, not the data
    d.source = "built-in synthesised swing clips (io/jazz_synth.h)";
    mg::io::ClipSet set = mg::io::builtin_jazz_set(f.sample_rate, kBuiltinFiles, kBuiltinClipsPerFile * f.clip_seconds, kDataSeed);
    d.files = std::move(set.names);
    signals = std::move(set.clips);
  } else {
    d.source = folder;
    auto skip = [&](const std::string& file, const std::string& why) {
      std::fprintf(stderr, "warning: skipping %s: %s\n", file.c_str(), why.c_str());
      d.skipped.emplace_back(file, why);
    };
    mg::io::ClipSet set;
    if (is_audio_cache(folder)) {
      // The files' samples as the folder would give them, decoded once by `jazz-vae prepare`.
      const AudioCacheIndex index = read_audio_cache_index(folder);
      if (index.sample_rate != f.sample_rate)
        mg::fail("{}: a decoded-audio cache at {} Hz, but --model {} reads audio at {} Hz (the sample rate of its "
                 "features); prepare one at that rate: jazz-vae prepare --data {} --out NEW_CACHE --sample-rate {}",
                 folder, index.sample_rate, f.model, f.sample_rate, index.source, f.sample_rate);
      d.source = fmt::format("{} (decoded-audio cache of {})", folder, index.source);
      for (const auto& [name, why] : index.skipped) skip((fs::path(index.source) / name).string(), why);
      if (index.files.empty())
        mg::fail("{}: no usable audio clip: the decoded-audio cache holds no file ({} unreadable file(s) skipped by "
                 "jazz-vae prepare)", folder, index.skipped.size());
      set = read_audio_cache(index);
    } else {
      set = mg::io::load_audio_folder(folder, f.sample_rate, 0, skip);
    }
    if (!d.skipped.empty())
      std::fprintf(stderr, "warning: %zu unreadable file(s) skipped, %zu loaded\n", d.skipped.size(), set.names.size());
    d.files = std::move(set.names);
    signals = std::move(set.clips);
  }
  const size_t clip = static_cast<size_t>(f.clip_samples());
  for (size_t i = 0; i < signals.size(); ++i) {
    std::vector<std::vector<float>> pieces = cut_clips(signals[i], clip);
    for (size_t k = 0; k < pieces.size(); ++k) {
      const std::string name = k == 0 ? d.files[i] : fmt::format("{}@{:g}s", d.files[i], k * f.clip_seconds);
      d.clips.push_back({name, i, std::move(pieces[k]), {}});
    }
  }
  FileSplit s = split_files(d.files, seed);
  d.split = s.description;
  for (size_t c = 0; c < d.clips.size(); ++c) {
    const size_t file = d.clips[c].file;
    if (std::find(s.train.begin(), s.train.end(), file) != s.train.end()) d.train.push_back(c);
    if (std::find(s.test.begin(), s.test.end(), file) != s.test.end()) d.test.push_back(c);
  }
  return d;
}

namespace {

// Magnitude spectrogram [frames][bins] of a clip.
std::vector<float> magnitude(const FeatureConfig& f, const std::vector<float>& audio) {
  return mg::io::magnitude(mg::io::stft(audio, f.stft_config())).data;
}

// A [frames][bins] vector as io's Magnitude.
mg::io::Magnitude as_magnitude(std::vector<float> mag, int64_t bins) {
  const int frames = static_cast<int>(static_cast<int64_t>(mag.size()) / bins);
  return mg::io::Magnitude{frames, static_cast<int>(bins), std::move(mag)};
}

// Compressed magnitudes, [frames][bins] -> [bins][frames]: |S|^p, or log(|S| + floor) (the floor bounds
// silence, and the inverse exp(v) - floor is exact).
std::vector<float> compressed_bins_by_frames(const FeatureConfig& f, const std::vector<float>& mag) {
  const int64_t bins = f.channels(), frames = static_cast<int64_t>(mag.size()) / bins;
  const bool power = f.compress == "power";
  std::vector<float> out(mag.size());
  for (int64_t t = 0; t < frames; ++t)
    for (int64_t b = 0; b < bins; ++b) {
      const double m = mag[t * bins + b];
      out[b * frames + t] = static_cast<float>(power ? std::pow(m, f.power) : std::log(m + f.log_floor));
    }
  return out;
}

// Decoded conv features [bins][frames] -> magnitudes [frames][bins]; negative magnitudes become silence.
std::vector<float> decoded_magnitude(const FeatureConfig& f, const std::vector<float>& decoded) {
  const int64_t bins = f.channels(), frames = f.length();
  const bool power = f.compress == "power";
  std::vector<float> mag(decoded.size());
  for (int64_t b = 0; b < bins; ++b)
    for (int64_t t = 0; t < frames; ++t) {
      const double u = double(decoded[b * frames + t]) * f.feature_std + f.bin_mean[b];
      mag[t * bins + b] =
          static_cast<float>(power ? std::pow(std::max(u, 0.0), 1.0 / f.power) : std::max(0.0, std::exp(u) - f.log_floor));
    }
  return mag;
}

// What the decoder produced as a magnitude spectrogram: directly (conv) or of the decoded waveform (seed).
std::vector<float> reconstructed_magnitude_data(const FeatureConfig& f, const std::vector<float>& decoded) {
  return f.model == "conv" ? decoded_magnitude(f, decoded) : magnitude(f, features_to_audio(f, decoded, 0));
}

mg::io::SpectrogramPanel db_panel(const std::vector<float>& mag, int64_t bins) {
  mg::io::SpectrogramPanel p;
  p.bins = static_cast<int>(bins);
  p.frames = static_cast<int>(static_cast<int64_t>(mag.size()) / bins);
  p.values.resize(mag.size());
  for (int t = 0; t < p.frames; ++t)
    for (int b = 0; b < p.bins; ++b)
      p.values[static_cast<size_t>(b) * p.frames + t] =
          20.0f * std::log10(std::max(mag[static_cast<size_t>(t) * p.bins + b], 1e-5f));
  return p;
}

}  // namespace

void fit_standardisation(FeatureConfig& f, const std::vector<std::vector<float>>& train_audio) {
  if (f.model != "conv") return;
  const int64_t bins = f.channels();
  std::vector<double> sum(static_cast<size_t>(bins)), sq(static_cast<size_t>(bins));
  double count = 0;
  for (const auto& audio : train_audio) {
    const std::vector<float> x = compressed_bins_by_frames(f, magnitude(f, audio));
    const int64_t frames = static_cast<int64_t>(x.size()) / bins;
    for (int64_t b = 0; b < bins; ++b)
      for (int64_t t = 0; t < frames; ++t) {
        const double v = x[b * frames + t];
        sum[b] += v;
        sq[b] += v * v;
      }
    count += static_cast<double>(frames);
  }
  f.bin_mean.assign(static_cast<size_t>(bins), 0.0f);
  double var = 0;
  for (int64_t b = 0; b < bins; ++b) {
    const double mean = sum[b] / count;
    f.bin_mean[b] = static_cast<float>(mean);
    var += std::max(0.0, sq[b] / count - mean * mean) / static_cast<double>(bins);
  }
  // Floored for a training set of digital silence.
  f.feature_std = static_cast<float>(std::max(std::sqrt(var), 1e-2));
}

std::vector<float> compute_features(const FeatureConfig& f, const std::vector<float>& audio) {
  if (f.model == "seed") return audio;
  const int64_t bins = f.channels();
  std::vector<float> x = compressed_bins_by_frames(f, magnitude(f, audio));
  const int64_t frames = static_cast<int64_t>(x.size()) / bins;  // f.length() for a clip
  for (int64_t b = 0; b < bins; ++b)
    for (int64_t t = 0; t < frames; ++t) x[b * frames + t] = (x[b * frames + t] - f.bin_mean[b]) / f.feature_std;
  return x;
}

FileFrames::FileFrames(const Dataset& d, const FeatureConfig& f) : f_(f) {
  std::map<size_t, std::vector<float>> file_audio;
  for (size_t i : d.train) {
    std::vector<float>& audio = file_audio[d.clips[i].file];
    audio.insert(audio.end(), d.clips[i].audio.begin(), d.clips[i].audio.end());
  }
  for (auto& [file, audio] : file_audio) {
    file_features_[file] = compute_features(f, audio);
    audio.clear();
    audio.shrink_to_fit();
  }
}

std::vector<size_t> FileFrames::files() const {
  std::vector<size_t> out;
  for (const auto& [file, features] : file_features_) out.push_back(file);
  return out;
}

int64_t FileFrames::frames(size_t file) const {
  return static_cast<int64_t>(file_features_.at(file).size()) / f_.channels();
}

std::vector<float> FileFrames::window(size_t file, int64_t start) const {
  const std::vector<float>& all = file_features_.at(file);
  const int64_t C = f_.channels(), L = f_.length(), F = static_cast<int64_t>(all.size()) / C;
  MG_CHECK(start >= 0 && start + L <= F, "FileFrames::window: frames {}..{} of a file of {}", start, start + L, F);
  std::vector<float> out(static_cast<size_t>(C * L));
  for (int64_t b = 0; b < C; ++b) std::copy_n(all.begin() + b * F + start, L, out.begin() + b * L);
  return out;
}

std::vector<float> FileFrames::crop(const Clip& c, uint64_t seed, int epoch, int64_t step, size_t i) const {
  constexpr uint64_t kCropStream = 0x63726f7073ULL;  // "crops": a stream apart from the others of `seed`
  const int64_t F = frames(c.file), L = f_.length();
  const uint64_t counter = (static_cast<uint64_t>(epoch) << 40) + (static_cast<uint64_t>(step) << 16) + i;
  const int64_t start = std::min<int64_t>(
      F - L, static_cast<int64_t>(mg::Philox::uniform(seed ^ kCropStream, counter) * static_cast<double>(F - L + 1)));
  return window(c.file, start);
}

std::vector<float> features_to_audio(const FeatureConfig& f, const std::vector<float>& decoded, int griffin_lim_iters) {
  if (f.model == "seed") {
    std::vector<float> audio(decoded.size());
    for (size_t i = 0; i < decoded.size(); ++i) audio[i] = 2.0f / (1.0f + std::exp(-decoded[i])) - 1.0f;
    return audio;
  }
  return mg::io::griffin_lim(as_magnitude(decoded_magnitude(f, decoded), f.channels()), f.stft_config(),
                             static_cast<size_t>(f.clip_samples()), mg::io::GriffinLimOptions{griffin_lim_iters});
}

mg::io::SpectrogramPanel clip_spectrogram(const FeatureConfig& f, const std::vector<float>& audio) {
  return db_panel(magnitude(f, audio), f.n_fft / 2 + 1);
}

mg::io::SpectrogramPanel decoded_spectrogram(const FeatureConfig& f, const std::vector<float>& decoded) {
  return db_panel(reconstructed_magnitude_data(f, decoded), f.n_fft / 2 + 1);
}

mg::io::Magnitude clip_magnitude(const FeatureConfig& f, const std::vector<float>& audio) {
  return as_magnitude(magnitude(f, audio), f.n_fft / 2 + 1);
}

mg::io::Magnitude reconstructed_magnitude(const FeatureConfig& f, const std::vector<float>& decoded) {
  return as_magnitude(reconstructed_magnitude_data(f, decoded), f.n_fft / 2 + 1);
}

}  // namespace jazz
