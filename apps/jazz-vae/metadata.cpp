// jazz-vae checkpoints: the metadata every command reads, checked field by
// field, and the model rebuilt from it.
#include <cmath>
#include <numeric>

#include "apps/jazz-vae/jazz.h"
#include "io/utf8.h"

namespace jazz {

namespace {

FeatureConfig read_features(const mg::nn::MetaReader& m) {
  FeatureConfig f;
  f.model = m.one_of("model", {"conv", "seed"});
  f.sample_rate = static_cast<int>(m.integer("sample_rate", kMinSampleRate, kMaxSampleRate));
  f.clip_seconds = m.number("clip_seconds", 1e-3, kMaxClipSeconds);
  f.n_fft = static_cast<int>(m.integer("n_fft", 16, kMaxFft));
  if ((f.n_fft & (f.n_fft - 1)) != 0) m.fail_field("n_fft", fmt::format("{} is not a power of two", f.n_fft));
  f.hop = static_cast<int>(m.integer("hop", 1, f.n_fft));
  if (f.clip_samples() < f.n_fft) m.fail_field("clip_seconds", "shorter than one STFT window");
  f.feature_std = static_cast<float>(m.number("log_std", 1e-6, 1e6));
  // Checkpoints from before the floor was a setting used log(1 + |S|), and before the compression was one, log.
  f.log_floor = m.has("log_floor") ? m.number("log_floor", kMinLogFloor, kMaxLogFloor) : 1.0;
  f.compress = m.has("compress") ? m.one_of("compress", {"log", "power"}) : "log";
  if (m.has("power")) f.power = m.number("power", kMinPower, 1.0);
  const size_t bins = f.model == "conv" ? static_cast<size_t>(f.channels()) : 0;
  const nlohmann::json& mean = m.array("bin_mean", bins);
  if (mean.size() != bins) m.fail_field("bin_mean", fmt::format("expected {} values, got {}", bins, mean.size()));
  for (const nlohmann::json& v : mean) {
    if (!v.is_number() || !std::isfinite(v.get<double>()) || std::fabs(v.get<double>()) > 1e6)
      m.fail_field("bin_mean", "expected finite numbers");
    f.bin_mean.push_back(v.get<float>());
  }
  return f;
}

mg::nn::ConvVaeConfig read_model(const mg::nn::MetaReader& m, const FeatureConfig& f) {
  mg::nn::ConvVaeConfig c;
  c.kind = m.one_of("kind", {"conv", "seed"});
  if (c.kind != f.model) m.fail_field("kind", fmt::format("'{}' does not match the features' '{}'", c.kind, f.model));
  // Checkpoints from before the time-resolved latent have neither field: a global latent, one block per stage.
  c.latent_mode = m.has("latent_mode") ? m.one_of("latent_mode", {"time", "global"}) : "global";
  c.blocks = m.has("blocks") ? m.integer("blocks", 0, kMaxBlocks) : 1;
  c.in_channels = m.integer("in_channels", f.channels(), f.channels());
  c.length = m.integer("length", f.length(), f.length());
  const nlohmann::json& channels = m.array("channels", kMaxStages);
  if (channels.empty()) m.fail_field("channels", "no stages");
  c.channels.clear();
  for (const nlohmann::json& ch : channels) {
    if (!ch.is_number_integer() || ch.get<int64_t>() < 1 || ch.get<int64_t>() > kMaxStageChannels)
      m.fail_field("channels", fmt::format("expected integers in [1, {}]", kMaxStageChannels));
    c.channels.push_back(ch.get<int64_t>());
  }
  c.kernel = m.integer("kernel", 1, kMaxKernel);
  if (c.kernel % 2 == 0) m.fail_field("kernel", fmt::format("{} is even; the decoder needs an odd kernel", c.kernel));
  c.latent = m.integer("latent", 1, kMaxLatent);
  return c;
}

TrainSettings read_settings(const mg::nn::MetaReader& m) {
  TrainSettings s;
  s.seed = m.unsigned_integer("seed");
  s.batch = m.integer("batch", 1, kMaxBatch);
  s.lr = m.number("lr", 1e-30, kMaxLearningRate);
  s.beta = m.number("beta", 0, kMaxBeta);
  s.beta_warmup = static_cast<int>(m.integer("beta_warmup", 0, mg::app::kMaxEpochs));
  s.clip_grad = m.number("clip_grad", 0, kMaxClipGrad);
  s.free_bits = m.has("free_bits") ? m.number("free_bits", 0, kMaxFreeBits) : 0;
  s.spectral_weight = m.has("spectral_weight") ? m.number("spectral_weight", 0, kMaxSpectralWeight) : 0;
  s.log_weight = m.has("log_weight") ? m.number("log_weight", 0, kMaxSpectralWeight) : 0;
  if (m.has("augment")) s.augment = m.one_of("augment", {"crop", "none"});
  if (m.has("lr_schedule")) s.lr_schedule = m.one_of("lr_schedule", {"cosine", "constant"});
  return s;
}

std::vector<std::string> read_names(const mg::nn::MetaReader& m, const std::string& key) {
  std::vector<std::string> names;
  for (const nlohmann::json& name : m.array(key, 1'000'000)) {
    if (!name.is_string()) m.fail_field(key, "expected file names");
    names.push_back(name.get<std::string>());
  }
  return names;
}

}  // namespace

nlohmann::json TrainSettings::to_json() const {
  return {{"seed", seed},           {"batch", batch},         {"lr", lr},
          {"beta", beta},           {"beta_warmup", beta_warmup}, {"clip_grad", clip_grad},
          {"free_bits", free_bits}, {"spectral_weight", spectral_weight}, {"log_weight", log_weight}, {"augment", augment}, {"lr_schedule", lr_schedule}};
}

JazzMeta read_metadata(const mg::nn::Checkpoint& ck, const std::string& path) {
  const mg::nn::MetaReader m(ck.meta, path);
  JazzMeta out;
  out.features = read_features(m.object("features"));
  out.model = read_model(m.object("model"), out.features);
  out.data = m.string("data");
  const mg::nn::MetaReader split = m.object("split");
  out.split_how = split.string("how");
  out.split_train = read_names(split, "train");
  out.split_test = read_names(split, "test");
  out.train = read_settings(m.object("train"));
  out.state = mg::nn::TrainingState::read(m, mg::app::kMaxEpochs);

  // The configs must describe the tensors the file holds, before a model of that size is built.
  const int64_t expected = out.model.state_count();
  const int64_t held = std::accumulate(ck.model.begin(), ck.model.end(), int64_t{0},
                                       [](int64_t n, const auto& named) { return n + named.second.numel(); });
  if (expected != held)
    m.fail_field("model", fmt::format("describes a network of {} values, but the file holds {}", expected, held));
  return out;
}

std::vector<mg::app::ResumedSetting> resumed_settings(const JazzMeta& m, const TrainOptions& o) {
  auto text = [](const auto& v) { return fmt::format("{}", v); };
  const FeatureConfig& f = m.features;
  const TrainSettings& s = m.train;
  return {{"--model", f.model, o.model},
          {"--clip-seconds", text(f.clip_seconds), text(o.clip_seconds)},
          {"--n-fft", text(f.n_fft), text(o.n_fft)},
          {"--hop", text(f.hop), text(o.hop)},
          {"--log-floor", text(f.log_floor), text(o.log_floor)},
          {"--compress", f.compress, o.compress},
          {"--power", text(f.power), text(o.power)},
          {"--channels", fmt::format("{}", fmt::join(m.model.channels, ",")), o.channels},
          {"--latent-mode", m.model.latent_mode, o.latent_mode},
          {"--latent", text(m.model.latent), text(o.latent)},
          {"--blocks", text(m.model.blocks), text(o.blocks)},
          {"--free-bits", text(s.free_bits), text(o.free_bits)},
          {"--spectral-weight", text(s.spectral_weight), text(o.spectral_weight)},
          {"--log-weight", text(s.log_weight), text(o.log_weight)},
          {"--beta", text(s.beta), text(o.beta)},
          {"--beta-warmup", text(s.beta_warmup), text(o.beta_warmup)},
          {"--lr", text(s.lr), text(o.lr)},
          {"--lr-schedule", s.lr_schedule, o.lr_schedule},
          {"--clip-grad", text(s.clip_grad), text(o.clip_grad)},
          {"--augment", s.augment, o.augment},
          {"--batch", text(s.batch), text(o.common.batch)},
          {"--seed", text(s.seed), text(o.common.seed)},
          {"--data", m.data, mg::io::valid_utf8(o.common.data)}};
}

LoadedModel load_model(const std::string& checkpoint, mg::Device device) {
  const mg::nn::Checkpoint ck = mg::nn::load_checkpoint(checkpoint, kApp);
  LoadedModel m;
  m.meta = read_metadata(ck, checkpoint);
  m.features = m.meta.features;
  m.vae = std::make_shared<mg::nn::ConvVAE>(m.meta.model);
  mg::nn::restore_for_inference(*m.vae, ck, checkpoint, device);
  m.device = device;
  m.path = checkpoint;
  m.checksum = ck.checksum;
  return m;
}

}  // namespace jazz
