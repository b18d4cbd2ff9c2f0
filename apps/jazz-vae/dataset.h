#pragma once
// Audio in: files -> fixed-length clips -> model features, and the train /
// held-out split.
//
// One file gives floor(length / clip) non-overlapping clips (at least one,
// zero-padded). The split is by file, so no held-out clip shares a recording
// with a training clip.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/stft.h"

#include "io/plot.h"

namespace jazz {

// How audio becomes the model's input; saved in checkpoints so that generate,
// encode and eval rebuild exactly the training features.
//   conv: compressed STFT magnitudes, C = n_fft/2+1 bins over L frames, less
//         each bin's mean over the training clips, divided by one overall
//         deviation (raw compressed magnitudes have bin-dependent offsets that
//         small Adam steps would take thousands of steps to learn in the
//         decoder; a deviation per bin would blow up the noise of
//         near-constant bins). The compression is
//           power: |S|^p (p = `power`, default 0.3 for the time-resolved latent)
//           log:   log(|S| + log_floor)
//         A squared error on log magnitudes treats a bin 60 dB down like the
//         loudest one; |S|^0.3 still spans the 60 dB in a factor of 63 but
//         gives the loud partials that spectral convergence scores their
//         weight. On the rendered jazz, a linear code of 32 numbers per STFT
//         frame (held-out frames projected on the training clips' principal
//         components) reaches spectral convergence 0.33 with |S|^0.3 against
//         0.49 with log magnitudes, at a log-spectral distance 0.3 dB higher;
//   seed: the raw waveform at 3 kHz, C = 1, L = samples.
struct FeatureConfig {
  std::string model = "conv";
  int sample_rate = 22050;
  double clip_seconds = 5;
  int n_fft = 1024, hop = 512;
  std::vector<float> bin_mean;  // conv only, C values
  float feature_std = 1;        // conv only ("log_std" in checkpoints)
  std::string compress = "log"; // conv only: "log" or "power"
  double power = 0.3;           // compress "power": the exponent, in (0, 1]
  // compress "log": |S| (of the unnormalised FFT) below this is silence to the model.
  // 1 (log(1 + |S|)) was the first design: it flattens everything quieter than
  // about -48 dB below a full-scale sine, so no decoder could get the
  // log-spectral distance of quiet bins right; 1e-3 keeps 108 dB.
  double log_floor = 1e-3;

  int64_t clip_samples() const;
  mg::io::StftConfig stft_config() const { return {n_fft, hop, true}; }
  int64_t channels() const;
  int64_t length() const;
  nlohmann::json to_json() const;
};

// The features in words: "|STFT|^0.3, 513 bins x 216 frames (n_fft 1024, hop 512), standardised".
std::string describe(const FeatureConfig& f);

struct Clip {
  std::string name;            // "file.wav" or "file.wav@5s" for later clips of a file
  size_t file = 0;             // index into Dataset::files
  std::vector<float> audio;    // clip_samples() at sample_rate
  std::vector<float> features; // [C, L] row-major, filled by compute_features
};

struct Dataset {
  std::string source;               // the folder, or "built-in"
  std::vector<std::string> files;   // file names, sorted
  std::vector<Clip> clips;
  std::vector<size_t> train, test;  // indices into clips
  std::string split;                // how the split was made, one line
  std::vector<std::pair<std::string, std::string>> skipped;  // unreadable files, and why
};

// The built-in set: 16 synthesised combos, each four clips long; 13 training
// files give 52 clips, six steps an epoch.
inline constexpr int kBuiltinFiles = 16, kBuiltinClipsPerFile = 4;
inline constexpr double kBuiltinClips = kBuiltinFiles * kBuiltinClipsPerFile;

// Loads a folder (warning line per skipped file), a decoded-audio cache of
// one (audio_cache.h: the same files and samples, read from its shards; a
// cache at another sample rate than f's is an error naming both) or, with an
// empty folder name, the built-in synthesised set; splits it (see split_files).
Dataset load_dataset(const std::string& folder, const FeatureConfig& f, uint64_t seed);

// The names of the files behind clips (indices into d.clips), in order, without repeats, made valid UTF-8
// (io/utf8.h) for a checkpoint's metadata.
std::vector<std::string> file_names(const Dataset& d, const std::vector<size_t>& clips);

// Clips of one file: the whole signal cut into clip-length pieces.
std::vector<std::vector<float>> cut_clips(const std::vector<float>& signal, size_t clip_samples);

// Train and held-out file indices. GTZAN jazz names (jazz.000NN.*) get the
// seed notebook's lists (index 45 in both, as there); anything else a seeded
// 80/20 split with at least one held-out file when there are two or more.
struct FileSplit {
  std::vector<size_t> train, test;
  std::string description;
};
FileSplit split_files(const std::vector<std::string>& files, uint64_t seed);

// Per-bin statistics of the training clips' compressed magnitudes (conv), stored in f.
void fit_standardisation(FeatureConfig& f, const std::vector<std::vector<float>>& train_audio);

// Audio clip -> features [C, L] (conv: any length of audio gives [C, its frames]); and back: decoded features -> audio
// (conv: Griffin-Lim with `griffin_lim_iters` iterations; seed: 2 sigmoid - 1).
std::vector<float> compute_features(const FeatureConfig& f, const std::vector<float>& audio);
std::vector<float> features_to_audio(const FeatureConfig& f, const std::vector<float>& decoded, int griffin_lim_iters);

// The features of each training file's clips joined end to end ([C, F] for F
// frames), cut anywhere: a file's clips are consecutive pieces of it, so this
// is the file up to its last whole clip. Held-out clips are never cut.
//   crop:   train --augment crop's clip-length crop at a random frame;
//   window: the clip-length window at a given frame (the prior's training
//           sequences, which then cover every part of every file).
class FileFrames {
 public:
  FileFrames(const Dataset& d, const FeatureConfig& f);
  std::vector<size_t> files() const;  // indices into Dataset::files
  int64_t frames(size_t file) const;  // F
  std::vector<float> window(size_t file, int64_t start) const;  // [C, L] from frame start, 0 <= start <= F - L
  // The crop for the i-th example of `step` in `epoch`, drawn from clip c's
  // file by a Philox counter of (epoch, step, i): the same on a resumed run.
  std::vector<float> crop(const Clip& c, uint64_t seed, int epoch, int64_t step, size_t i) const;

 private:
  FeatureConfig f_;
  std::map<size_t, std::vector<float>> file_features_;
};

// Magnitude spectrograms in dB for pictures: of an audio clip, and of decoded features.
mg::io::SpectrogramPanel clip_spectrogram(const FeatureConfig& f, const std::vector<float>& audio);
mg::io::SpectrogramPanel decoded_spectrogram(const FeatureConfig& f, const std::vector<float>& decoded);

// Magnitude spectrograms ([frames][bins], the features' STFT): of an audio
// clip, and of what the decoder produced (conv: its features mapped back;
// seed: the STFT of its waveform).
mg::io::Magnitude clip_magnitude(const FeatureConfig& f, const std::vector<float>& audio);
mg::io::Magnitude reconstructed_magnitude(const FeatureConfig& f, const std::vector<float>& decoded);

}  // namespace jazz
