// What the subcommands share: the model rebuilt from a checkpoint, the loss,
// held-out metrics, and audio <-> latent conversions.
#include <algorithm>
#include <cmath>
#include <functional>

#include "apps/jazz-vae/jazz.h"
#include "io/audio.h"
#include "models/checkpoint.h"

namespace jazz {

using mg::Tensor;

LossTerms vae_loss(const FeatureConfig& f, const mg::nn::VaeOutput& out, const Tensor& x) {
  const double batch = static_cast<double>(x.size(0));
  const double per_clip = static_cast<double>(x.numel()) / batch;
  Tensor recon;
  if (f.model == "conv") {
    Tensor d = out.recon - x;
    recon = mg::sum(d * d) / batch;
  } else {
    // The mean over every element times the elements per clip: a sum over samples, a mean over the batch.
    recon = mg::binary_cross_entropy_with_logits(out.recon, mg::affine(x, 0.5, 0.5)) * per_clip;
  }
  return {recon, mg::mean(mg::kl_normal(out.mu, out.logvar))};
}

Tensor feature_batch(const FeatureConfig& f, const std::vector<const std::vector<float>*>& features,
                     mg::Device device) {
  const int64_t C = f.channels(), L = f.length();
  std::vector<float> flat;
  flat.reserve(features.size() * static_cast<size_t>(C * L));
  for (const auto* v : features) flat.insert(flat.end(), v->begin(), v->end());
  return mg::from_vector(flat, {static_cast<int64_t>(features.size()), C, L}, device);
}

// Rows of a [B, C, L] tensor as host vectors.
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

Metrics evaluate_clips(const LoadedModel& m, const std::vector<const Clip*>& clips, int64_t batch) {
  Metrics r;
  for_batches(m, clips, batch, [&](const Tensor& x, size_t first) {
    const int64_t B = x.size(0);
    mg::nn::VaeOutput out = m.vae->forward(x, mg::zeros({B, m.vae->config().latent}, mg::DType::F32, m.device));
    LossTerms loss = vae_loss(m.features, out, x);
    r.recon += loss.recon.item() * static_cast<double>(B);
    r.kl += loss.kl.item() * static_cast<double>(B);
    std::vector<std::vector<float>> decoded = rows_of(out.recon);
    for (size_t i = 0; i < decoded.size(); ++i) {
      SpectralScores s = spectral_scores(m.features, *clips[first + i], decoded[i]);
      r.spectral_convergence += s.convergence;
      r.log_spectral_distance += s.log_distance;
    }
  });
  r.clips = clips.size();
  if (r.clips > 0) {
    const double n = static_cast<double>(r.clips);
    r.recon /= n;
    r.kl /= n;
    r.spectral_convergence /= n;
    r.log_spectral_distance /= n;
  }
  return r;
}

std::vector<std::vector<float>> encode_means(const LoadedModel& m, const std::vector<const Clip*>& clips,
                                             int64_t batch) {
  std::vector<std::vector<float>> out;
  for_batches(m, clips, batch, [&](const Tensor& x, size_t) {
    Tensor mu = m.vae->encode(x).first;
    std::vector<float> flat = mu.contiguous().to_vector<float>();
    const size_t Z = static_cast<size_t>(mu.size(1));
    for (size_t i = 0; i < flat.size(); i += Z) out.emplace_back(flat.begin() + static_cast<long>(i), flat.begin() + static_cast<long>(i + Z));
  });
  return out;
}

std::vector<std::vector<float>> reconstruct(const LoadedModel& m, const std::vector<const Clip*>& clips,
                                            int64_t batch) {
  std::vector<std::vector<float>> out;
  for_batches(m, clips, batch, [&](const Tensor& x, size_t) {
    for (auto& r : rows_of(m.vae->decode(m.vae->encode(x).first))) out.push_back(std::move(r));
  });
  return out;
}

void decode_to_audio(const LoadedModel& m, const std::vector<float>& z, int griffin_lim_iters,
                     const std::function<void(size_t, std::vector<float>)>& use) {
  mg::NoGradGuard no_grad;
  m.vae->eval();
  const int64_t Z = m.vae->config().latent, N = static_cast<int64_t>(z.size()) / Z;
  for (int64_t first = 0; first < N; first += kDecodeBatch) {
    const int64_t n = std::min(kDecodeBatch, N - first);
    const std::vector<float> batch(z.begin() + first * Z, z.begin() + (first + n) * Z);
    std::vector<std::vector<float>> decoded = rows_of(m.vae->decode(mg::from_vector(batch, {n, Z}, m.device)));
    for (int64_t i = 0; i < n; ++i)
      use(static_cast<size_t>(first + i), features_to_audio(m.features, decoded[static_cast<size_t>(i)], griffin_lim_iters));
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
