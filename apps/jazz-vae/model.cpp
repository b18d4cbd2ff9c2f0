// What the subcommands share: the loss settings, held-out metrics, the learned
// prior's file, and audio <-> latent conversions.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include "apps/jazz-vae/jazz.h"
#include "io/audio.h"
#include "models/checkpoint.h"

namespace jazz {

using mg::Tensor;

mg::nn::VaeLossConfig loss_config(const FeatureConfig& f, const TrainSettings& s, int64_t steps_per_epoch) {
  mg::nn::VaeLossConfig c;
  c.reconstruction = f.model == "conv" ? mg::nn::Reconstruction::SquaredError : mg::nn::Reconstruction::BernoulliLogits;
  c.beta = s.beta;
  c.warmup_steps = static_cast<int64_t>(s.beta_warmup) * steps_per_epoch;
  c.free_bits = s.free_bits;
  c.spectral_weight = f.model == "conv" ? s.spectral_weight : 0.0;
  c.log_weight = f.model == "conv" ? s.log_weight : 0.0;
  return c;
}

mg::nn::MagnitudeMap magnitude_map(const FeatureConfig& f, mg::Device device) {
  // Features v = (c(|S|) - bin_mean) / feature_std, c the compression; the map undoes both.
  mg::nn::MagnitudeMap map;
  map.shift = mg::from_vector(f.bin_mean, {f.channels(), 1}, device);
  map.scale = f.feature_std;
  // A Hann-windowed frame of samples in [-1, 1] has |S| <= n_fft / 2.
  const double loudest = 0.5 * f.n_fft;
  if (f.compress == "power") {
    map.power = f.power;
    map.ceiling = std::pow(loudest, f.power);
  } else {
    map.floor = f.log_floor;
    map.ceiling = std::log(loudest + f.log_floor);
  }
  return map;
}

Tensor feature_batch(const FeatureConfig& f, const std::vector<const std::vector<float>*>& features,
                     mg::Device device) {
  const int64_t C = f.channels(), L = f.length();
  std::vector<float> flat;
  flat.reserve(features.size() * static_cast<size_t>(C * L));
  for (const auto* v : features) flat.insert(flat.end(), v->begin(), v->end());
  return mg::from_vector(flat, {static_cast<int64_t>(features.size()), C, L}, device);
}

// Rows of a [B, ...] tensor as host vectors.
static std::vector<std::vector<float>> rows_of(const Tensor& t) {
  std::vector<float> all = t.contiguous().to_vector<float>();
  const size_t n = static_cast<size_t>(t.size(0)), per = all.size() / n;
  std::vector<std::vector<float>> out(n);
  for (size_t i = 0; i < n; ++i) out[i].assign(all.begin() + static_cast<long>(i * per), all.begin() + static_cast<long>((i + 1) * per));
  return out;
}

// Runs fn(batch tensor [B, C, L], first clip index) over the clips in batches, without gradients.
static void for_batches(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch,
                        const std::function<void(const Tensor&, size_t)>& fn) {
  mg::NoGradGuard no_grad;
  m.vae->eval();
  for (size_t b = 0; b < clips.size(); b += static_cast<size_t>(batch)) {
    const size_t e = std::min(clips.size(), b + static_cast<size_t>(batch));
    std::vector<const std::vector<float>*> feats;
    for (size_t i = b; i < e; ++i) feats.push_back(&clips[i]->features);
    fn(feature_batch(m.features, feats, m.device), b);
  }
}

// The four scores of one clip's estimate against its reference magnitudes.
static Scores score(const mg::io::Magnitude& ref, const mg::io::Magnitude& est, const mg::nn::MelFilterbank& mel) {
  return {mg::nn::spectral_convergence(ref, est), mg::nn::log_spectral_distance(ref, est),
          mg::nn::multi_resolution_magnitude_distance(ref, est),
          mg::nn::correlation(mg::nn::onset_strength(ref, mel), mg::nn::onset_strength(est, mel))};
}

static void accumulate(Scores& total, const Scores& s) {
  total.convergence += s.convergence;
  total.log_distance += s.log_distance;
  total.multi_resolution += s.multi_resolution;
  total.onset_correlation += s.onset_correlation;
}

static void divide(Scores& s, double n) {
  s.convergence /= n;
  s.log_distance /= n;
  s.multi_resolution /= n;
  s.onset_correlation /= n;
}

Metrics evaluate_clips(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch,
                       int griffin_lim_iters) {
  Metrics r;
  const mg::nn::MelFilterbank mel = mg::nn::mel_filterbank(m.features.sample_rate, m.features.n_fft, 80);
  const mg::nn::VaeLossConfig loss = loss_config(m.features, m.meta.train, 1);
  std::vector<Tensor> means;
  for_batches(m, clips, batch, [&](const Tensor& x, size_t first) {
    const int64_t B = x.size(0);
    mg::nn::VaeOutput out =
        m.vae->forward(x, mg::zeros(m.vae->config().latent_shape(B), mg::DType::F32, m.device));
    means.push_back(out.mu.to(mg::Device::CPU));
    // The ELBO's terms: the reconstruction and the plain KL (free bits and the magnitude terms are training aids).
    mg::nn::VaeLossConfig plain = loss;
    plain.spectral_weight = 0;
    plain.log_weight = 0;
    mg::nn::VaeLossTerms terms = mg::nn::vae_loss(plain, out, x, 0);
    r.recon += terms.recon.item() * static_cast<double>(B);
    r.kl += terms.kl.item() * static_cast<double>(B);
    std::vector<std::vector<float>> decoded = rows_of(out.recon);
    for (size_t i = 0; i < decoded.size(); ++i) {
      const Clip& clip = *clips[first + i];
      const mg::io::Magnitude ref = clip_magnitude(m.features, clip.audio);
      accumulate(r.decoded, score(ref, reconstructed_magnitude(m.features, decoded[i]), mel));
      if (griffin_lim_iters > 0) {
        const std::vector<float> audio = features_to_audio(m.features, decoded[i], griffin_lim_iters);
        Scores s = score(ref, clip_magnitude(m.features, audio), mel);
        s.multi_resolution = mg::nn::multi_resolution_stft_distance(clip.audio, audio);
        accumulate(r.resynthesised, s);
        const std::vector<float> own = mg::io::griffin_lim(ref, m.features.stft_config(), clip.audio.size(),
                                                           mg::io::GriffinLimOptions{griffin_lim_iters});
        Scores v = score(ref, clip_magnitude(m.features, own), mel);
        v.multi_resolution = mg::nn::multi_resolution_stft_distance(clip.audio, own);
        accumulate(r.vocoder, v);
      }
    }
  });
  r.clips = clips.size();
  if (r.clips > 0) {
    const double n = static_cast<double>(r.clips);
    r.recon /= n;
    r.kl /= n;
    divide(r.decoded, n);
    divide(r.resynthesised, n);
    divide(r.vocoder, n);
    r.active_units = mg::nn::active_units(mg::concat(means, 0));
  }
  return r;
}

VaeTask::VaeTask(const LoadedModel& m, const Dataset& d, const FileFrames* crops, std::vector<const Clip*> scored,
                 const mg::nn::Optimizer& opt, int64_t steps_per_epoch, std::function<nlohmann::json()> meta)
    : m_(m),
      d_(d),
      crops_(crops),
      scored_(std::move(scored)),
      opt_(opt),
      loss_(loss_config(m.features, m.meta.train, steps_per_epoch)),
      magnitudes_(m.features.model == "conv" ? magnitude_map(m.features, m.device) : mg::nn::MagnitudeMap{}),
      meta_(std::move(meta)),
      beta_(mg::nn::beta_at(loss_, opt.steps_taken())) {}

mg::nn::StepOutput VaeTask::step(const std::vector<int64_t>& batch, const mg::nn::StepPosition& at) {
  std::vector<const std::vector<float>*> feats;
  std::vector<std::vector<float>> cropped;
  cropped.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const Clip& clip = d_.clips[d_.train[static_cast<size_t>(batch[i])]];
    if (crops_) {
      cropped.push_back(crops_->crop(clip, m_.meta.train.seed, at.epoch - 1, at.step, at.first + static_cast<int64_t>(i)));
      feats.push_back(&cropped.back());
    } else {
      feats.push_back(&clip.features);
    }
  }
  const Tensor x = feature_batch(m_.features, feats, m_.device);
  const int64_t B = x.size(0);
  const mg::nn::VaeOutput out =
      m_.vae->forward(x, mg::randn(m_.vae->config().latent_shape(B), mg::DType::F32, m_.device));
  // The KL warm-up counts optimizer steps, so it is smooth and resumes exactly.
  const mg::nn::VaeLossTerms terms = mg::nn::vae_loss(loss_, out, x, opt_.steps_taken(), &magnitudes_);
  beta_ = terms.beta;
  const double n = static_cast<double>(B);
  return {terms.total, B,
          {{"loss", terms.total.item() * n}, {"recon", terms.recon.item() * n}, {"kl", terms.kl.item() * n}, {"clips", n}}};
}

mg::nn::Evaluation VaeTask::evaluate() {
  const Metrics r = evaluate_clips(m_, scored_, m_.meta.train.batch);
  return {{{"recon", r.recon},
           {"kl", r.kl},
           {"spectral_convergence", r.decoded.convergence},
           {"log_spectral_distance", r.decoded.log_distance},
           {"multi_resolution_distance", r.decoded.multi_resolution},
           {"onset_correlation", r.decoded.onset_correlation},
           {"active_units", static_cast<double>(r.active_units)}},
          NAN};
}

Tensor encode_clips(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch) {
  std::vector<Tensor> means;
  for_batches(m, clips, batch, [&](const Tensor& x, size_t) { means.push_back(m.vae->encode(x).first.to(mg::Device::CPU)); });
  return mg::concat(means, 0).contiguous();
}

std::vector<std::vector<float>> reconstruct(const LoadedModel& m, const std::vector<const Clip*>& clips,
                                            int64_t batch) {
  std::vector<std::vector<float>> out;
  for_batches(m, clips, batch, [&](const Tensor& x, size_t) {
    for (auto& r : rows_of(m.vae->decode(m.vae->encode(x).first))) out.push_back(std::move(r));
  });
  return out;
}

void decode_latents(const LoadedModel& m, const std::vector<float>& z,
                    const std::function<void(size_t, std::vector<float>)>& use) {
  mg::NoGradGuard no_grad;
  m.vae->eval();
  const mg::Shape one = m.vae->config().latent_shape(1);
  int64_t per = 1;
  for (size_t d = 1; d < one.size(); ++d) per *= one[d];
  const int64_t N = static_cast<int64_t>(z.size()) / per;
  for (int64_t first = 0; first < N; first += kDecodeBatch) {
    const int64_t n = std::min(kDecodeBatch, N - first);
    const std::vector<float> batch(z.begin() + first * per, z.begin() + (first + n) * per);
    std::vector<std::vector<float>> decoded =
        rows_of(m.vae->decode(mg::from_vector(batch, m.vae->config().latent_shape(n), m.device)));
    for (int64_t i = 0; i < n; ++i) use(static_cast<size_t>(first + i), std::move(decoded[static_cast<size_t>(i)]));
  }
}

void decode_to_audio(const LoadedModel& m, const std::vector<float>& z, int griffin_lim_iters,
                     const std::function<void(size_t, std::vector<float>)>& use) {
  decode_latents(m, z, [&](size_t i, std::vector<float> features) {
    use(i, features_to_audio(m.features, features, griffin_lim_iters));
  });
}

std::string default_prior_path(const std::string& checkpoint) {
  return (std::filesystem::path(checkpoint).parent_path() / "prior.safetensors").string();
}

LoadedPrior load_prior(const std::string& path, const LoadedModel& m, mg::Device device) {
  if (!m.vae->config().time_resolved())
    mg::fail("{}: a learned prior needs a time-resolved latent (--latent-mode time); this model's is global", path);
  const mg::nn::Checkpoint ck = mg::nn::load_checkpoint(path, kPriorApp);
  const mg::nn::MetaReader meta(ck.meta, path);
  const mg::nn::MetaReader net = meta.object("prior");
  mg::nn::LatentPriorConfig c;
  c.latent = net.integer("latent", 1, kMaxLatent);
  c.hidden = net.integer("hidden", 1, kMaxPriorHidden);
  c.layers = net.integer("layers", 1, kMaxPriorLayers);
  c.files = net.has("files") ? net.integer("files", 0, kMaxPriorFiles) : 0;  // priors written before: 0
  if (c.latent != m.vae->config().latent)
    meta.fail_field("prior.latent", fmt::format("{} channels, but the model has {}", c.latent, m.vae->config().latent));
  // Priors written before they named their model have no checksum: which model they fit is unknown.
  const std::string trained_on = meta.has("model_checkpoint") ? meta.string("model_checkpoint") : "an unknown checkpoint";
  const std::string checksum = meta.has("model_checksum") ? meta.string("model_checksum", 64) : "none";
  if (checksum != m.checksum)
    mg::fail("{}: this prior was trained on {} (checksum {}), not on {} (checksum {}); train one for it with "
             "`jazz-vae prior --checkpoint {}`", path, trained_on, checksum, m.path, m.checksum, m.path);
  LoadedPrior p;
  p.epochs = meta.integer("epoch", 0, mg::app::kMaxEpochs);
  if (c.files > 0) {
    const nlohmann::json& names = meta.array("files", static_cast<size_t>(kMaxPriorFiles));
    if (static_cast<int64_t>(names.size()) != c.files)
      meta.fail_field("files", fmt::format("{} names for a prior over {} files", names.size(), c.files));
    for (const nlohmann::json& name : names) {
      if (!name.is_string() || name.get_ref<const std::string&>().size() > 4096)
        meta.fail_field("files", "expected file names");
      p.files.push_back(name.get<std::string>());
    }
  }
  p.net = std::make_shared<mg::nn::LatentPrior>(c);
  mg::nn::restore_for_inference(*p.net, ck, path, device);
  return p;
}

void sample_latents(const LoadedModel& m, const LoadedPrior* prior, int64_t count, double temperature,
                    const Tensor& primer, int64_t file,
                    const std::function<void(int64_t first, std::vector<float> z)>& use) {
  const mg::nn::ConvVaeConfig& c = m.vae->config();
  for (int64_t first = 0; first < count; first += kDecodeBatch) {
    const int64_t n = std::min(kDecodeBatch, count - first);
    if (!prior) {
      // Philox: n draws after the first ones are the next n of a single draw of all.
      use(first, (mg::randn(c.latent_shape(n)) * temperature).contiguous().to_vector<float>());
      continue;
    }
    Tensor p = primer.defined() ? mg::concat(std::vector<Tensor>(static_cast<size_t>(n), primer), 0) : Tensor();
    const std::vector<int64_t> files(file >= 0 ? static_cast<size_t>(n) : 0, file);
    use(first, prior->net->sample(n, c.latent_frames(), temperature, p, files).to(mg::Device::CPU).to_vector<float>());
  }
}

Encoding encode_file(const LoadedModel& m, const std::string& path) {
  mg::NoGradGuard no_grad;
  m.vae->eval();
  mg::io::Audio audio = mg::io::load_audio(path, m.features.sample_rate);
  std::vector<float> clip = mg::io::crop_or_pad(audio.samples, static_cast<size_t>(m.features.clip_samples()));
  std::vector<float> feats = compute_features(m.features, clip);
  auto [mu, logvar] = m.vae->encode(feature_batch(m.features, {&feats}, m.device));
  Encoding e;
  e.mu = mu.contiguous().to_vector<float>();
  for (float lv : logvar.contiguous().to_vector<float>()) e.sigma.push_back(std::exp(0.5f * lv));
  return e;
}

}  // namespace jazz
