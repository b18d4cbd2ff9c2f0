// jazz-vae's command line: every flag with its type, range and default, shown
// by --help; checked here, before any file is touched.
#include <algorithm>
#include <charconv>
#include <sstream>

#include "apps/jazz-vae/jazz.h"

namespace jazz {

using mg::app::integer_in;
using mg::app::number_in;
using mg::app::positive_up_to;
using mg::app::usage_fail;

namespace {

std::vector<int64_t> parse_channels(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || ptr != item.data() + item.size() || v < 1 || v > kMaxStageChannels)
      usage_fail("--channels: expected integers in [1, {}] separated by commas, got '{}'", kMaxStageChannels, s);
    out.push_back(v);
  }
  if (out.empty() || out.size() > kMaxStages)
    usage_fail("--channels: expected 1 to {} stages of channels separated by commas, got '{}'", kMaxStages, s);
  return out;
}

// --latent-mode, or the model's default: time for conv, global for seed.
std::string latent_mode_of(const TrainOptions& o) {
  return !o.latent_mode.empty() ? o.latent_mode : o.model == "seed" ? "global" : "time";
}

}  // namespace

int model_sample_rate(const std::string& model) { return model == "seed" ? kSeedSampleRate : kConvSampleRate; }

FeatureConfig features_from_flags(const TrainOptions& o) {
  FeatureConfig f;
  f.model = o.model;
  // seed: the original's 3 kHz waveform, 30 s. conv: 22,050 Hz (GTZAN's rate)
  // in 5 s clips: on 2 cores a 30 s GTZAN file then gives 6 examples instead
  // of 1, so an epoch takes 6 times as many Adam steps for the same compute.
  f.sample_rate = model_sample_rate(o.model);
  f.clip_seconds = o.clip_seconds > 0 ? o.clip_seconds : (o.model == "seed" ? 30.0 : 5.0);
  if (o.n_fft < 16 || o.n_fft > kMaxFft || (o.n_fft & (o.n_fft - 1)) != 0)
    usage_fail("--n-fft: must be a power of two from 16 to {}, got {}", kMaxFft, o.n_fft);
  if (o.hop < 1 || o.hop > o.n_fft) usage_fail("--hop: must be between 1 and --n-fft ({}), got {}", o.n_fft, o.hop);
  f.n_fft = o.n_fft;
  f.hop = o.hop;
  f.log_floor = o.log_floor;
  const bool conv_time = o.model == "conv" && latent_mode_of(o) == "time";
  f.compress = !o.compress.empty() ? o.compress : conv_time ? "power" : "log";
  if (f.compress == "power" && o.model != "conv") usage_fail("--compress power: only the conv model has magnitudes to compress");
  if (o.power > 0 && f.compress != "power") usage_fail("--power: needs --compress power");
  f.power = o.power > 0 ? o.power : kTimePower;
  if (f.clip_samples() < f.n_fft)
    usage_fail("--clip-seconds: {} s is {} samples at {} Hz, shorter than one STFT window (--n-fft {})",
               f.clip_seconds, f.clip_samples(), f.sample_rate, f.n_fft);
  return f;
}

mg::nn::ConvVaeConfig model_from_flags(const TrainOptions& o, const FeatureConfig& f) {
  mg::nn::ConvVaeConfig c;
  c.kind = o.model;
  c.latent_mode = latent_mode_of(o);
  c.in_channels = f.channels();
  c.length = f.length();
  if (!o.channels.empty()) c.channels = parse_channels(o.channels);
  else if (c.time_resolved()) c.channels = kTimeChannels;
  c.blocks = o.blocks >= 0 ? o.blocks : c.time_resolved() ? kTimeBlocks : 1;
  c.latent = o.latent > 0 ? o.latent : c.time_resolved() ? kTimeLatent : 2;
  return c;
}

int default_epochs(const TrainOptions& o, const mg::nn::ConvVaeConfig& c, int64_t steps_per_epoch) {
  if (o.common.epochs > 0) return o.common.epochs;
  if (c.kind != "conv" || !c.time_resolved()) return kOriginalEpochs;
  const int64_t steps = std::max<int64_t>(1, steps_per_epoch);
  const int64_t epochs = (kTimeDefaultSteps + steps - 1) / steps;
  return static_cast<int>(std::clamp<int64_t>(epochs, 1, mg::app::kMaxEpochs));
}

int default_eval_every(const TrainOptions& o, int epochs) {
  return o.eval_every > 0 ? o.eval_every : std::max(1, epochs / kEvaluations);
}

TrainSettings settings_from_flags(const TrainOptions& o, const mg::nn::ConvVaeConfig& c) {
  TrainSettings s;
  s.seed = o.common.seed;
  s.batch = o.common.batch;
  s.lr = o.lr > 0 ? o.lr : c.time_resolved() ? kTimeLearningRate : kGlobalLearningRate;
  s.lr_schedule = !o.lr_schedule.empty() ? o.lr_schedule : c.time_resolved() ? "cosine" : "constant";
  s.beta = o.beta >= 0 ? o.beta : c.time_resolved() ? kTimeBeta : 1.0;
  s.clip_grad = o.clip_grad;
  s.beta_warmup = o.beta_warmup;
  s.free_bits = o.free_bits >= 0 ? o.free_bits : c.time_resolved() ? kTimeFreeBits : 0.0;
  s.spectral_weight = o.spectral_weight >= 0 ? o.spectral_weight : c.kind == "conv" && c.time_resolved() ? kTimeSpectralWeight : 0.0;
  if (s.spectral_weight > 0 && c.kind != "conv") usage_fail("--spectral-weight: only the conv model has magnitudes to compare");
  s.log_weight = o.log_weight >= 0 ? o.log_weight : c.kind == "conv" && c.time_resolved() ? kTimeLogWeight : 0.0;
  if (s.log_weight > 0 && c.kind != "conv") usage_fail("--log-weight: only the conv model has magnitudes to compare");
  s.augment = !o.augment.empty() ? o.augment : c.kind == "conv" && c.time_resolved() ? "crop" : "none";
  if (s.augment == "crop" && c.kind != "conv") usage_fail("--augment crop: only the conv model crops its spectrogram frames");
  return s;
}

int parse_command_line(int argc, const char* const* argv, Command& command) {
  CLI::App app{"jazz-vae: a convolutional VAE that learns, samples and interpolates jazz clips.\n"
               "Exit status: 0 success, 1 runtime error (files, data, memory), 2 usage error.",
               kApp};
  app.require_subcommand(1);

  TrainOptions& train = command.train;
  train.common.epochs = 0;  // default_epochs
  train.common.batch = 10;
  CLI::App* t = app.add_subcommand("train", "Train on a folder of audio files (or the built-in clips)");
  mg::app::add_common_options(t, train.common, true, kMaxBatch);
  t->get_option("--epochs")->description(fmt::format(
      "Training epochs (default: the time-resolved conv model trains {} Adam steps, as many epochs as that takes at "
      "--batch, e.g. 900 for the 78 training clips of 13 files at batch 10; the seed and global designs {}, as the original)",
      kTimeDefaultSteps, kOriginalEpochs));
  t->add_option("--out", train.common.out, "Output folder (checkpoint, log, pictures)")->required();
  t->add_option("--model", train.model, "conv: spectrogram VAE; seed: the original's 3 kHz waveform VAE")
      ->check(CLI::IsMember({"conv", "seed"}));
  t->add_option("--clip-seconds", train.clip_seconds,
                "Clip length the model sees; each file is cut into clips of this length "
                "(default: conv 5, seed 30)")
      ->check(positive_up_to(kMaxClipSeconds));
  t->add_option("--n-fft", train.n_fft, "STFT size, a power of two (conv features; spectral metrics)")
      ->check(integer_in(16, kMaxFft));
  t->add_option("--hop", train.hop, "STFT hop in samples, at most --n-fft")->check(integer_in(1, kMaxFft));
  t->add_option("--log-floor", train.log_floor,
                "conv features are log(|STFT| + this); 1 gives the first design's log(1 + |STFT|) (default 1e-3)")
      ->check(number_in(kMinLogFloor, kMaxLogFloor));
  t->add_option("--compress", train.compress,
                "conv features: power: |STFT|^p; log: log(|STFT| + --log-floor) (default: power for the "
                "time-resolved latent, log for the global one)")
      ->check(CLI::IsMember({"power", "log"}));
  t->add_option("--power", train.power, "The exponent p of --compress power (default 0.3)")->check(number_in(kMinPower, 1.0));
  t->add_option("--channels", train.channels,
                "Encoder channels per stage, e.g. 64,128,128,256 (or 8,8 for a tiny model); 1 to 8 stages of 1 to 1024; "
                "each stage halves the frame rate (default: time 256, global 64,128,128,256)");
  t->add_option("--latent-mode", train.latent_mode,
                "time: Z channels per latent frame (default for conv); global: one Z-vector per clip "
                "(the original's design, default for seed)")
      ->check(CLI::IsMember({"time", "global"}));
  t->add_option("--latent", train.latent, "Latent channels (time) or dimensions (global); default time 128, global 2")
      ->check(integer_in(1, kMaxLatent));
  t->add_option("--blocks", train.blocks, "Residual blocks per stage on each side (default: time 0, global 1)")
      ->check(integer_in(0, kMaxBlocks));
  t->add_option("--free-bits", train.free_bits,
                "KL below this many nats per latent channel (mean over clips and frames) costs nothing "
                "(default: time 0.1, global 0)")
      ->check(number_in(0, kMaxFreeBits));
  t->add_option("--spectral-weight", train.spectral_weight,
                "Weight of the multi-resolution spectral-convergence term, per element (conv; default time 1, global 0)")
      ->check(number_in(0, kMaxSpectralWeight));
  t->add_option("--log-weight", train.log_weight,
                "Weight of the squared log-magnitude difference, per element (conv; default time 1, global 0)")
      ->check(number_in(0, kMaxSpectralWeight));
  t->add_option("--beta", train.beta, "Weight of the KL term (default: time 0.03, global 1)")->check(number_in(0, kMaxBeta));
  t->add_option("--beta-warmup", train.beta_warmup, "Epochs over which beta rises linearly from 0")
      ->check(integer_in(0, mg::app::kMaxEpochs));
  t->add_option("--lr", train.lr, "Adam learning rate (default: time 1e-3, global 3e-4)")->check(positive_up_to(kMaxLearningRate));
  t->add_option("--lr-schedule", train.lr_schedule,
                "cosine: the learning rate falls from --lr to 0 over --epochs; constant: --lr throughout "
                "(default: cosine for the time-resolved latent, constant for the global one; a --resume with more "
                "--epochs re-plans the decay over the new total)")
      ->check(CLI::IsMember({"cosine", "constant"}));
  t->add_option("--clip-grad", train.clip_grad, "Gradient norm limit (0: off)")->check(number_in(0, kMaxClipGrad));
  t->add_option("--augment", train.augment,
                "crop: each training example is a clip-length crop of its file at a random frame, new every epoch; "
                "none: the fixed clips (default: crop for the time-resolved conv model, none otherwise)")
      ->check(CLI::IsMember({"crop", "none"}));
  t->add_option("--eval-every", train.eval_every,
                "Held-out metrics, the log row and the pictures every this many epochs and after the last "
                "(the checkpoint is written every epoch; default: about " + std::to_string(kEvaluations) +
                " evaluations over --epochs, every epoch up to " + std::to_string(kEvaluations) + " epochs)")
      ->check(integer_in(1, mg::app::kMaxEpochs));
  t->add_flag("--resume", train.resume, "Continue from OUT/model.safetensors up to --epochs");
  t->add_flag("--skip-nonfinite", train.skip_nonfinite,
              "Skip a step whose loss or gradient is NaN or infinite (counted in log.csv) instead of stopping");

  GenerateOptions& gen = command.generate;
  CLI::App* g = app.add_subcommand("generate", "Decode clips from the prior and a grid over the latent plane");
  mg::app::add_common_options(g, gen.common, false);
  g->add_option("--checkpoint", gen.checkpoint, "Trained model (model.safetensors)")->required();
  g->add_option("--out", gen.out, "Folder for the WAV files")->required();
  g->add_option("--count", gen.count, "Clips sampled from z ~ N(0, I), decoded 16 at a time (default 4)")
      ->check(integer_in(0, kMaxCount));
  g->add_option("--grid", gen.grid, "K: also decode a K x K grid over the 2-D latent (default 0)")
      ->check(integer_in(0, kMaxGrid));
  g->add_option("--grid-range", gen.grid_range, "The grid spans -R..R on both axes (default 2)")
      ->check(positive_up_to(kMaxGridRange));
  g->add_option("--griffin-lim-iters", gen.griffin_lim_iters, "Phase reconstruction iterations (conv; default 64)")
      ->check(integer_in(1, kMaxGriffinLim));
  g->add_option("--prior", gen.prior,
                "learned: the LSTM prior of `jazz-vae prior`; normal: z ~ N(0, I) "
                "(default: learned when the prior file exists)")
      ->check(CLI::IsMember({"learned", "normal"}));
  g->add_option("--prior-checkpoint", gen.prior_checkpoint, "The learned prior (default: prior.safetensors beside --checkpoint)");
  g->add_option("--primer", gen.primer, "Audio file whose first latent frames the learned prior continues");
  g->add_option("--primer-frames", gen.primer_frames, "Latent frames taken from --primer (default: half the clip)")
      ->check(integer_in(1, 1'000'000));
  g->add_option("--temperature", gen.temperature, "Scale of the prior's deviations (default 1)")
      ->check(positive_up_to(kMaxTemperature));
  g->add_option("--like", gen.like,
                "Draw every sample as from this training file (a name such as jazz.00012.wav) of a learned prior "
                "trained with --condition file (default: a file drawn per sample)");

  InterpolateOptions& interp = command.interpolate;
  CLI::App* ip = app.add_subcommand("interpolate", "Decode points on the line between two encoded clips");
  mg::app::add_common_options(ip, interp.common, false);
  ip->add_option("--checkpoint", interp.checkpoint, "Trained model (model.safetensors)")->required();
  ip->add_option("a", interp.a, "First audio file")->required();
  ip->add_option("b", interp.b, "Second audio file")->required();
  ip->add_option("--out", interp.out, "Folder for the WAV files")->required();
  ip->add_option("--steps", interp.steps, "Points on the line, ends included (default 8)")
      ->check(integer_in(2, kMaxSteps));
  ip->add_option("--griffin-lim-iters", interp.griffin_lim_iters, "Phase reconstruction iterations (conv; default 64)")
      ->check(integer_in(1, kMaxGriffinLim));

  PriorOptions& prior = command.prior;
  prior.common.epochs = 40;
  prior.common.batch = 16;
  CLI::App* pr = app.add_subcommand("prior", "Train the learned prior (an LSTM over latent frames) of a trained model");
  mg::app::add_common_options(pr, prior.common, false);
  pr->add_option("--checkpoint", prior.checkpoint, "Trained model (model.safetensors)")->required();
  pr->add_option("--out", prior.out, "Prior file (default: prior.safetensors beside --checkpoint)");
  pr->add_option("--epochs", prior.common.epochs, "Passes over the encoded training sequences (default 40)")
      ->check(integer_in(1, mg::app::kMaxEpochs));
  pr->add_option("--batch", prior.common.batch, "Clips per step (default 16)")->check(integer_in(1, kMaxBatch));
  pr->add_option("--hidden", prior.hidden, "LSTM hidden size (default 128)")->check(integer_in(1, kMaxPriorHidden));
  pr->add_option("--layers", prior.layers, "LSTM layers (default 1)")->check(integer_in(1, kMaxPriorLayers));
  pr->add_option("--lr", prior.lr, "Adam learning rate (default 1e-3)")->check(positive_up_to(kMaxLearningRate));
  pr->add_option("--condition", prior.condition,
                 "file: the prior is told which training file a sequence comes from, and a sample draws a file "
                 "first and keeps its character; none: one unconditioned sequence model (default file)")
      ->check(CLI::IsMember({"file", "none"}));
  pr->add_flag("--skip-nonfinite", prior.skip_nonfinite,
               "Skip a step whose loss or gradient is NaN or infinite (counted in prior-log.csv) instead of stopping");
  pr->add_option("--windows", prior.windows,
                 "Clip-length windows per training file, evenly spaced over it, whose latents the prior learns; "
                 "0: the training clips themselves (default 64)")
      ->check(integer_in(0, kMaxPriorWindows));

  EncodeOptions& enc = command.encode;
  CLI::App* e = app.add_subcommand("encode", "Print the latent mean and sigma of audio files");
  mg::app::add_common_options(e, enc.common, false);
  e->add_option("--checkpoint", enc.checkpoint, "Trained model (model.safetensors)")->required();
  e->add_option("files", enc.files, "Audio files")->required();

  EvalOptions& ev = command.eval;
  ev.common.batch = 10;
  CLI::App* v = app.add_subcommand("eval", "Print held-out metrics of a trained model");
  mg::app::add_common_options(v, ev.common, false);
  v->add_option("--checkpoint", ev.checkpoint, "Trained model (model.safetensors)")->required();
  v->add_option("--data", ev.common.data, "Folder to evaluate (default: the checkpoint's training data)");
  v->add_option("--batch", ev.common.batch, "Batch size (default 10)")->check(integer_in(1, kMaxBatch));
  v->add_option("--prior-checkpoint", ev.prior_checkpoint,
                "Learned prior to score (default: prior.safetensors beside --checkpoint, when present)");
  v->add_option("--samples", ev.samples, "Clips drawn from each prior for the Fréchet distance (default 32)")
      ->check(integer_in(2, kMaxEvalSamples));
  v->add_option("--temperature", ev.temperature, "Scale of the learned prior's deviations (default 1)")
      ->check(positive_up_to(kMaxTemperature));
  v->add_option("--griffin-lim-iters", ev.griffin_lim_iters,
                "Phase reconstruction iterations for the resynthesised scores (conv; default 64)")
      ->check(integer_in(1, kMaxGriffinLim));

  PrepareOptions& prep = command.prepare;
  CLI::App* pp = app.add_subcommand(
      "prepare", "Decode and resample an audio folder once into a cache that train, prior and eval read with --data "
                 "(README: Decoded-audio cache)");
  pp->add_option("--data", prep.data, "Audio folder to decode (its .wav/.au/.flac/.ogg files, as train reads them)")
      ->required();
  pp->add_option("--out", prep.out,
                 "Cache folder to write: new, empty, or a cache to replace (a folder holding other files is refused)")
      ->required();
  CLI::Option* model = pp->add_option("--model", prep.model,
                                      "The model whose sample rate the cache holds: conv 22050 Hz, seed 3000 Hz "
                                      "(default conv)")
                           ->check(CLI::IsMember({"conv", "seed"}));
  pp->add_option("--sample-rate", prep.sample_rate, "This sample rate instead of --model's (a checkpoint's own rate)")
      ->check(integer_in(kMinSampleRate, kMaxSampleRate))
      ->excludes(model);
  pp->add_option("--threads", prep.threads, "Threads decoding files (0 = all cores); the cache is the same for any number")
      ->check(integer_in(0, mg::app::kMaxThreads));
  pp->add_option("--shard-samples", prep.shard_samples,
                 fmt::format("Most samples per shard file, 4 bytes each (default {}: 256 MiB); a file with more gets a "
                             "shard of its own", kDefaultShardSamples))
      ->check(integer_in(1, kDefaultShardSamples));
  pp->add_flag("--quiet", prep.quiet, "Print only warnings and errors");

  return mg::app::parse_cli(app, argc, argv, [&] {
    using Kind = Command::Kind;
    command.kind = t->parsed() ? Kind::Train : pr->parsed() ? Kind::Prior : g->parsed() ? Kind::Generate
                 : ip->parsed() ? Kind::Interpolate : e->parsed() ? Kind::Encode : v->parsed() ? Kind::Eval
                 : Kind::Prepare;
    if (command.kind == Kind::Train) {
      if (train.common.out.empty()) usage_fail("--out: give the folder for the checkpoint, log and pictures");
      if (!train.resume) settings_from_flags(train, model_from_flags(train, features_from_flags(train)));
    }
    if (command.kind == Kind::Generate && !gen.primer.empty() && gen.prior == "normal")
      usage_fail("--primer: only the learned prior continues a primer (drop --prior normal)");
    if (command.kind == Kind::Generate && !gen.like.empty() && gen.prior == "normal")
      usage_fail("--like: only a learned prior knows its training files (drop --prior normal)");
    if (command.kind == Kind::Generate && gen.count == 0 && gen.grid == 0)
      usage_fail("--count and --grid are both 0: nothing to generate");
    if (command.kind == Kind::Generate && gen.out.empty()) usage_fail("--out: give the folder for the WAV files");
    if (command.kind == Kind::Interpolate && interp.out.empty()) usage_fail("--out: give the folder for the WAV files");
  });
}

}  // namespace jazz
