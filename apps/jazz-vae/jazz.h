#pragma once
// The jazz-vae subcommands and what they share: the model rebuilt from a
// checkpoint, held-out metrics, and audio <-> latent helpers. The loss lives
// in models/vae_loss.h, the learned prior in models/latent_prior.h.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/common/cli.h"
#include "apps/common/csv_log.h"
#include "apps/jazz-vae/audio_cache.h"
#include "apps/jazz-vae/dataset.h"
#include "apps/jazz-vae/limits.h"
#include "models/checkpoint.h"
#include "models/training_state.h"
#include "models/jazz_vae.h"
#include "models/latent_prior.h"
#include "models/audio_metrics.h"
#include "models/trainer.h"
#include "models/vae_loss.h"

namespace jazz {

inline constexpr const char* kApp = "jazz-vae";
// The app name inside learned-prior files, so that neither kind of file loads as the other.
inline constexpr const char* kPriorApp = "jazz-vae-prior";

struct TrainOptions {
  mg::app::CommonOptions common;
  std::string model = "conv";
  double clip_seconds = 0;  // 0: the model's default (conv 5 s, seed 30 s)
  int n_fft = 1024, hop = 512;
  double log_floor = 1e-3;  // conv features with compress "log": log(|S| + log_floor)
  std::string compress;     // "power" or "log"; empty: power for the time-resolved latent, log otherwise
  double power = 0;         // compress "power": the exponent; 0: kTimePower
  std::string channels;     // "64,128,128,256" style; empty: the model's default
  std::string latent_mode;  // "time" or "global"; empty: conv time, seed global
  int64_t latent = 0;       // 0: the mode's default (time 128, global 2)
  int64_t blocks = -1;      // residual blocks per stage; -1: the mode's default (time 0, global 1)
  double beta = -1;         // < 0: the mode's default (time kTimeBeta, global 1)
  int beta_warmup = 0;      // epochs of linear warm-up from 0 to beta
  double free_bits = -1;    // nats per latent channel; < 0: the mode's default
  double spectral_weight = -1;  // weight of the spectral-convergence term; < 0: the model's default
  double log_weight = -1;       // weight of the log-magnitude term; < 0: the model's default
  double lr = 0;            // 0: the mode's default (time 1e-3, global the original's 3e-4)
  std::string lr_schedule;  // "cosine" or "constant"; empty: cosine for the time-resolved latent, constant otherwise
  double clip_grad = 100;   // 0: no clipping
  std::string augment;      // "crop" or "none"; empty: crop for the time-resolved conv model, none otherwise
  int eval_every = 0;       // held-out metrics, log row and pictures every this many epochs (and after the last); 0: default_eval_every
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
  std::string prior;             // "learned" or "normal"; empty: learned when the prior file exists
  std::string prior_checkpoint;  // empty: prior.safetensors beside --checkpoint
  std::string primer;            // an audio file whose first latent frames the learned prior continues
  int primer_frames = 0;         // 0: half the clip's latent frames
  double temperature = 1.0;
  std::string like;              // a training file of a file-conditioned prior: every sample is drawn as from it
};

struct PriorOptions {
  mg::app::CommonOptions common;
  std::string checkpoint, out;  // out empty: prior.safetensors beside --checkpoint
  int64_t hidden = 128, layers = 1;
  double lr = 1e-3;
  int windows = 64;  // clip-length windows per training file; 0: the training clips
  std::string condition = "file";  // file: one sequence model per training file (shared weights); none
  bool skip_nonfinite = false;     // skip a step with a non-finite loss or gradient instead of stopping
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
  std::string prior_checkpoint;  // empty: prior.safetensors beside --checkpoint, when present
  int samples = 32;              // clips drawn from each prior for the Fréchet distance
  double temperature = 1.0;      // of the learned prior's samples
  int griffin_lim_iters = 64;
};

// prepare: an audio folder decoded once into a decoded-audio cache (audio_cache.h).
struct PrepareOptions {
  std::string data, out;
  std::string model = "conv";  // the cache's sample rate is this model's (model_sample_rate)
  int sample_rate = 0;         // > 0: this rate instead of --model's
  int threads = 0;             // 0: every CPU this process may use
  int64_t shard_samples = kDefaultShardSamples;
  bool quiet = false;
};

// One parsed and checked command line.
struct Command {
  enum class Kind { Train, Prior, Generate, Interpolate, Encode, Eval, Prepare } kind = Kind::Train;
  TrainOptions train;
  PriorOptions prior;
  GenerateOptions generate;
  InterpolateOptions interpolate;
  EncodeOptions encode;
  EvalOptions eval;
  PrepareOptions prepare;
};

// Parses and checks argv (every flag's type and range, and the flags that
// depend on each other) without touching a file. Returns -1 with `command`
// filled in, or the exit status when there is nothing to run: 0 after --help,
// 2 after a usage error (its one-line message printed).
int parse_command_line(int argc, const char* const* argv, Command& command);

// The sample rate a --model reads its audio at: seed the original's 3 kHz
// waveform; conv 22,050 Hz (GTZAN's rate).
inline constexpr int kConvSampleRate = 22050, kSeedSampleRate = 3000;
int model_sample_rate(const std::string& model);

// The feature and model configs the training flags describe (usage errors name the flag).
FeatureConfig features_from_flags(const TrainOptions& o);
mg::nn::ConvVaeConfig model_from_flags(const TrainOptions& o, const FeatureConfig& f);

// The defaults of the time-resolved latent: one stage (a latent frame per 2
// STFT frames, 46 ms at 22,050 Hz with hop 512), 128 channels, free bits, a
// low beta, the spectral and log-magnitude terms. 64 numbers per STFT frame:
// on held-out clips the best linear code of that size (PCA of |S|^0.3) comes
// to a spectral convergence of 0.27 and a log-spectral distance of 5.9 dB,
// while 16 channels every 8 frames (two numbers per frame) cannot go below
// 0.6 with either compression (apps/jazz-vae/README.md).
inline const std::vector<int64_t> kTimeChannels = {256};
inline constexpr int64_t kTimeLatent = 128;
// No residual blocks around the time-resolved latent: on held-out clips the
// plain strided convolutions generalise better (apps/jazz-vae/README.md);
// --blocks 1 puts the original's ResNet blocks back.
inline constexpr int64_t kTimeBlocks = 0;
inline constexpr double kTimeFreeBits = 0.1;
// A KL weight well below 1 lets each latent element carry a few nats: the
// posterior then sits away from N(0, I), which the learned prior models and
// N(0, I) does not (apps/jazz-vae/README.md has the comparison).
inline constexpr double kTimeBeta = 0.03;
inline constexpr double kTimeSpectralWeight = 1.0, kTimeLogWeight = 1.0;
inline constexpr double kTimeLearningRate = 1e-3, kGlobalLearningRate = 3e-4;
// The exponent of the default power-law features (dataset.h).
inline constexpr double kTimePower = 0.3;
// Without --epochs the time-resolved conv model trains for this many Adam
// steps, whatever the data's size: on the 13 training files of the shared
// rendered jazz (78 clips of 5 s, 8 steps of batch 10 an epoch) that is 900
// epochs, 10 min 45 s on 2 cores (apps/jazz-vae/README.md); the seed and
// global designs keep the original's 20 epochs. About kEvaluations held-out
// evaluations per run.
inline constexpr int64_t kTimeDefaultSteps = 7200;
inline constexpr int kOriginalEpochs = 20;
inline constexpr int kEvaluations = 36;

// --epochs, or the default for this model and data; --eval-every, or about
// kEvaluations evaluations over those epochs.
int default_epochs(const TrainOptions& o, const mg::nn::ConvVaeConfig& c, int64_t steps_per_epoch);
int default_eval_every(const TrainOptions& o, int epochs);

int run_train(const TrainOptions& o);
int run_prior(const PriorOptions& o);
int run_generate(const GenerateOptions& o);
int run_interpolate(const InterpolateOptions& o);
int run_encode(const EncodeOptions& o);
int run_eval(const EvalOptions& o);
int run_prepare(const PrepareOptions& o);

// The training settings a checkpoint keeps so that --resume continues exactly.
struct TrainSettings {
  uint64_t seed = 42;
  int64_t batch = 10;
  double lr = 3e-4, beta = 1, clip_grad = 100;
  int beta_warmup = 0;
  double free_bits = 0, spectral_weight = 0, log_weight = 0;
  std::string augment = "none";  // "crop": each training example is a random clip-length crop of its file
  std::string lr_schedule = "constant";  // "cosine": decays to 0 over the run's --epochs
  nlohmann::json to_json() const;
};
// The settings the training flags give for a model (the mode's defaults filled in).
TrainSettings settings_from_flags(const TrainOptions& o, const mg::nn::ConvVaeConfig& c);

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
  mg::nn::TrainingState state;  // epochs done, a partial epoch, generator, optimizer steps
};
JazzMeta read_metadata(const mg::nn::Checkpoint& ck, const std::string& path);

// The flags a --resume takes from the checkpoint, against the command line's (apps/common/cli.h).
std::vector<mg::app::ResumedSetting> resumed_settings(const JazzMeta& m, const TrainOptions& o);

// A trained model with its feature config, rebuilt from a checkpoint.
struct LoadedModel {
  FeatureConfig features;
  std::shared_ptr<mg::nn::ConvVAE> vae;
  JazzMeta meta;
  mg::Device device = mg::Device::CPU;
  std::string path, checksum;  // the checkpoint it came from, and that file's checksum (its identity)
};
LoadedModel load_model(const std::string& checkpoint, mg::Device device);

// The loss the training flags describe (models/vae_loss.h), with the map from
// decoded features back to magnitudes for the spectral term (conv).
mg::nn::VaeLossConfig loss_config(const FeatureConfig& f, const TrainSettings& s, int64_t steps_per_epoch);
mg::nn::MagnitudeMap magnitude_map(const FeatureConfig& f, mg::Device device);

// Stacks clips' features into a batch [B, C, L] on `device`.
mg::Tensor feature_batch(const FeatureConfig& f, const std::vector<const std::vector<float>*>& features,
                         mg::Device device);

// Metrics over clips, reconstructing at z = mu (deterministic, draws no noise):
// the loss terms, and the decoded magnitudes against the input's (io/stft.h):
// spectral convergence, log-spectral distance, multi-resolution magnitude
// distance and the correlation of the onset-strength envelopes, each a mean
// over clips; and the active latent units. With griffin_lim_iters > 0 the
// same four again on the waveform Griffin-Lim makes of the decoded magnitudes
// (conv), with the multi-resolution STFT distance of the waveforms; and, as the
// vocoder's own ceiling, the same on Griffin-Lim of the inputs' true magnitudes.
struct Scores {
  double convergence = 0, log_distance = 0, multi_resolution = 0, onset_correlation = 0;
};
struct Metrics {
  double recon = 0, kl = 0;
  Scores decoded, resynthesised, vocoder;
  int64_t active_units = 0;
  size_t clips = 0;
};
Metrics evaluate_clips(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch,
                       int griffin_lim_iters = 0);

// The VAE as the trainer sees it (models/trainer.h): a batch of training
// clips (with --augment crop, a clip-length crop of each one's file, drawn by
// (seed, epoch, step, place in the batch)), the loss of models/vae_loss.h with
// fresh reparameterisation noise from the default generator, and the metrics
// of evaluate_clips on the scored clips. Its sums: "loss", "recon" and "kl"
// times the clips of the step, and "clips".
class VaeTask : public mg::nn::TrainingTask {
 public:
  VaeTask(const LoadedModel& m, const Dataset& d, const FileFrames* crops, std::vector<const Clip*> scored,
          const mg::nn::Optimizer& opt, int64_t steps_per_epoch, std::function<nlohmann::json()> meta);
  int64_t examples() const override { return static_cast<int64_t>(d_.train.size()); }
  mg::nn::StepOutput step(const std::vector<int64_t>& batch, const mg::nn::StepPosition& at) override;
  // metrics: recon, kl, spectral_convergence, log_spectral_distance, multi_resolution_distance,
  // onset_correlation, active_units; no score (every epoch's weights are kept, none chosen).
  mg::nn::Evaluation evaluate() override;
  nlohmann::json checkpoint_meta() const override { return meta_(); }
  // The KL weight of the last step (it rises over the warm-up).
  double beta() const { return beta_; }

 private:
  const LoadedModel& m_;
  const Dataset& d_;
  const FileFrames* crops_;
  std::vector<const Clip*> scored_;
  const mg::nn::Optimizer& opt_;
  mg::nn::VaeLossConfig loss_;
  mg::nn::MagnitudeMap magnitudes_;
  std::function<nlohmann::json()> meta_;
  double beta_ = 0;
};

// Each epoch's pictures in OUT (pictures.cpp): two held-out clips above their reconstructions (a frame of
// training.gif), one reconstruction, the latent map of every clip, and the curves.
void write_pictures(const std::string& out, int epoch, const LoadedModel& m, const Dataset& d,
                    const std::vector<const Clip*>& shown, const mg::app::CsvLog& log);

// Latent means [N, Z] or [N, Z, T] of clips, in eval mode.
mg::Tensor encode_clips(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch);

// Per clip, in eval mode: the decoded features at z = mu.
std::vector<std::vector<float>> reconstruct(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch);

// Decodes latent points (row-major [N, latent_shape(1)...]) to features,
// kDecodeBatch points at a time, handing each to use(index, features).
void decode_latents(const LoadedModel& m, const std::vector<float>& z,
                    const std::function<void(size_t index, std::vector<float> features)>& use);
// The same, on to audio at f.sample_rate.
void decode_to_audio(const LoadedModel& m, const std::vector<float>& z, int griffin_lim_iters,
                     const std::function<void(size_t index, std::vector<float> audio)>& use);

// The learned prior, rebuilt from its file. It must have been trained on this
// very model checkpoint (the prior file holds that checkpoint's checksum): a
// prior of another checkpoint is an error naming both.
struct LoadedPrior {
  std::shared_ptr<mg::nn::LatentPrior> net;
  int64_t epochs = 0;
  std::vector<std::string> files;  // the training files it is conditioned on, in its order (none: unconditioned)
};
LoadedPrior load_prior(const std::string& path, const LoadedModel& m, mg::Device device);
// prior.safetensors in the checkpoint's folder.
std::string default_prior_path(const std::string& checkpoint);

// Draws `count` latents from N(0, I) or the learned prior with the default
// generator (seed it first), kDecodeBatch at a time, handing each batch to
// use(index of its first latent, row-major [n, latent_shape(1)...]): memory
// stays that of one batch however many are drawn, and the draws are the same
// as one draw of all of them. `file` >= 0 draws every one as from that
// training file of a file-conditioned prior.
void sample_latents(const LoadedModel& m, const LoadedPrior* prior, int64_t count, double temperature,
                    const mg::Tensor& primer, int64_t file,
                    const std::function<void(int64_t first, std::vector<float> z)>& use);

// Encodes the first clip of an audio file: mean and standard deviation of q(z|x),
// row-major in latent_shape(1).
struct Encoding {
  std::vector<float> mu, sigma;
};
Encoding encode_file(const LoadedModel& m, const std::string& path);

}  // namespace jazz
