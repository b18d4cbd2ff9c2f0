#pragma once
// The jazz-vae subcommands and what they share: the model rebuilt from a
// checkpoint, the loss, and audio <-> latent helpers.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/common/cli.h"
#include "apps/jazz-vae/dataset.h"
#include "apps/jazz-vae/limits.h"
#include "models/checkpoint.h"
#include "models/jazz_vae.h"

namespace jazz {

inline constexpr const char* kApp = "jazz-vae";

struct TrainOptions {
  mg::app::CommonOptions common;
  std::string model = "conv";
  double clip_seconds = 0;  // 0: the model's default (conv 5 s, seed 30 s)
  int n_fft = 1024, hop = 512;
  std::string channels;     // "64,128,128,256" style; empty: the model's default
  int64_t latent = 2;
  double beta = 1.0;
  int beta_warmup = 0;      // epochs of linear warm-up from 0 to beta
  double lr = 3e-4;
  double clip_grad = 100;   // 0: no clipping
  bool resume = false;
  bool skip_nonfinite = false;  // skip a step with a non-finite loss or gradient instead of stopping
};

struct GenerateOptions {
  mg::app::CommonOptions common;
  std::string checkpoint, out;
  int count = 4;
  int grid = 0;
  double grid_range = 2.0;
  int griffin_lim_iters = 64;
};

struct InterpolateOptions {
  mg::app::CommonOptions common;
  std::string checkpoint, out, a, b;
  int steps = 8;
  int griffin_lim_iters = 64;
};

struct EncodeOptions {
  mg::app::CommonOptions common;
  std::string checkpoint;
  std::vector<std::string> files;
};

struct EvalOptions {
  mg::app::CommonOptions common;
  std::string checkpoint;
};

// One parsed and checked command line.
struct Command {
  enum class Kind { Train, Generate, Interpolate, Encode, Eval } kind = Kind::Train;
  TrainOptions train;
  GenerateOptions generate;
  InterpolateOptions interpolate;
  EncodeOptions encode;
  EvalOptions eval;
};

// Parses and checks argv (every flag's type and range, and the flags that
// depend on each other) without touching a file. Returns -1 with `command`
// filled in, or the exit status when there is nothing to run: 0 after --help,
// 2 after a usage error (its one-line message printed).
int parse_command_line(int argc, const char* const* argv, Command& command);

// The feature and model configs the training flags describe (usage errors name the flag).
FeatureConfig features_from_flags(const TrainOptions& o);
mg::nn::ConvVaeConfig model_from_flags(const TrainOptions& o, const FeatureConfig& f);

int run_train(const TrainOptions& o);
int run_generate(const GenerateOptions& o);
int run_interpolate(const InterpolateOptions& o);
int run_encode(const EncodeOptions& o);
int run_eval(const EvalOptions& o);

// The training settings a checkpoint keeps so that --resume continues exactly.
struct TrainSettings {
  uint64_t seed = 42;
  int64_t batch = 10;
  double lr = 3e-4, beta = 1, clip_grad = 100;
  int beta_warmup = 0;
  nlohmann::json to_json() const;
};

// The metadata of a jazz-vae checkpoint, every field read through
// mg::nn::MetaReader: types, ranges, and consistency (the model's input is
// the features' shape, and its parameter count matches the file's tensors).
struct JazzMeta {
  FeatureConfig features;
  mg::nn::ConvVaeConfig model;
  std::string data;
  std::string split_how;
  std::vector<std::string> split_train, split_test;  // file names
  TrainSettings train;
  int epoch = 0;
  uint64_t rng_seed = 0, rng_offset = 0;
  int64_t optimizer_steps = 0;
};
JazzMeta read_metadata(const mg::nn::Checkpoint& ck, const std::string& path);

// A trained model with its feature config, rebuilt from a checkpoint.
struct LoadedModel {
  FeatureConfig features;
  std::shared_ptr<mg::nn::ConvVAE> vae;
  JazzMeta meta;
  mg::Device device = mg::Device::CPU;
};
LoadedModel load_model(const std::string& checkpoint, mg::Device device);

// Loss terms, each a mean over the batch:
//   conv: reconstruction = sum over bins and frames of the squared error of the
//         standardised log-magnitudes;
//   seed: reconstruction = sum over samples of the sigmoid cross-entropy of the
//         logits against the waveform mapped to [0, 1] ((x + 1) / 2);
//   kl = KL(q(z|x) || N(0, I)).
struct LossTerms {
  mg::Tensor recon, kl;  // scalars
};
LossTerms vae_loss(const FeatureConfig& f, const mg::nn::VaeOutput& out, const mg::Tensor& x);

// Stacks clips' features into a batch [B, C, L] on `device`.
mg::Tensor feature_batch(const FeatureConfig& f, const std::vector<const std::vector<float>*>& features,
                         mg::Device device);

// Held-out metrics over clips, reconstructing at z = mu (deterministic, draws no noise):
// reconstruction and KL as in vae_loss, spectral convergence and log-spectral
// distance of the reconstruction's magnitude spectrogram against the input's.
struct Metrics {
  double recon = 0, kl = 0, spectral_convergence = 0, log_spectral_distance = 0;
  size_t clips = 0;
};
Metrics evaluate_clips(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch);

// Per clip, in eval mode: the latent means, and the decoded features at z = mu.
std::vector<std::vector<float>> encode_means(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch);
std::vector<std::vector<float>> reconstruct(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch);

// Decodes latent points [N, Z] (row-major) to audio at f.sample_rate, kDecodeBatch
// points at a time, handing each clip to use(index, audio) as soon as it is decoded.
void decode_to_audio(const LoadedModel& m, const std::vector<float>& z, int griffin_lim_iters,
                     const std::function<void(size_t index, std::vector<float> audio)>& use);

// Encodes the first clip of an audio file: mean and standard deviation of q(z|x).
struct Encoding {
  std::vector<float> mu, sigma;
};
Encoding encode_file(const LoadedModel& m, const std::string& path);

}  // namespace jazz
