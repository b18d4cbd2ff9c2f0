#include "models/vae_loss.h"

#include <algorithm>

#include "models/distributed.h"

namespace mg::nn {

namespace {

// Keeps sqrt's derivative finite where a difference (or a silent clip) is exactly zero.
constexpr double kTiny = 1e-8;

// ||est - ref||_F / ||ref||_F per clip of [B, ...], mean over the batch.
Tensor convergence(const Tensor& est, const Tensor& ref) {
  const std::vector<int64_t> all = {1, 2};
  Tensor d = est - ref;
  Tensor num = sqrt(sum(d * d, all) + kTiny);
  Tensor den = sqrt(sum(ref * ref, all) + kTiny);
  return mean(num / den);
}

// sqrt of the power summed over groups of k frames: [B, C, L] -> [B, C, L / k].
Tensor pool_frames(const Tensor& m, int64_t k) {
  const int64_t B = m.size(0), C = m.size(1), L = m.size(2) / k * k;
  return sqrt(sum((m * m).slice(2, 0, L).reshape({B, C, L / k, k}), {3}) + kTiny);
}

// sqrt of the power summed over groups of k bins: [B, C, L] -> [B, C / k, L].
Tensor pool_bins(const Tensor& m, int64_t k) {
  const int64_t B = m.size(0), C = m.size(1) / k * k, L = m.size(2);
  return sqrt(sum((m * m).slice(1, 0, C).reshape({B, C / k, k, L}), {2}) + kTiny);
}

}  // namespace

Tensor MagnitudeMap::magnitudes(const Tensor& features) const {
  // On the CPU one fused kernel (autograd/ops.h); the composition below is the
  // definition, and what the other devices run.
  if (features.device() == Device::CPU)
    return feature_magnitudes(features, shift.detach(), scale, ceiling, floor, power);
  // min(a, c) = c - relu(c - a)
  Tensor u = features * scale + shift;
  u = neg(relu(neg(u) + ceiling)) + ceiling;
  if (power > 0) return pow(relu(u), 1.0 / power);
  return exp(u) - floor;
}

double beta_at(const VaeLossConfig& c, int64_t step) {
  if (c.warmup_steps <= 0) return c.beta;
  return c.beta * std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps));
}

// KL(N(mu, σ²) || N(0, 1)) = -1/2 (1 + logvar - mu² - σ²), element by element.
Tensor kl_elements(const Tensor& mu, const Tensor& logvar) {
  MG_CHECK(mu.shape() == logvar.shape(), "kl_elements: mu {} and logvar {} differ", shape_str(mu.shape()),
           shape_str(logvar.shape()));
  return (logvar + 1.0 - mu * mu - exp(logvar)) * -0.5;
}

Tensor spectral_convergence_loss(const Tensor& estimate, const Tensor& reference) {
  MG_CHECK(estimate.dim() == 3 && estimate.shape() == reference.shape(),
           "spectral_convergence_loss: magnitudes must be two equal [B, C, L], got {} and {}",
           shape_str(estimate.shape()), shape_str(reference.shape()));
  constexpr int64_t kGroup = 4;
  // On the CPU one fused kernel (autograd/ops.h) computes the same terms in a
  // pass over the magnitudes; the composition below is the definition, and
  // what the other devices run.
  if (estimate.device() == Device::CPU) return spectral_convergence(estimate, reference.detach(), kGroup, kTiny);
  Tensor total = convergence(estimate, reference);
  if (estimate.size(2) >= kGroup) total = total + convergence(pool_frames(estimate, kGroup), pool_frames(reference, kGroup));
  if (estimate.size(1) >= kGroup) total = total + convergence(pool_bins(estimate, kGroup), pool_bins(reference, kGroup));
  const int resolutions = 1 + (estimate.size(2) >= kGroup) + (estimate.size(1) >= kGroup);
  return total / static_cast<double>(resolutions);
}

Tensor log_magnitude_loss(const Tensor& estimate, const Tensor& reference, double epsilon) {
  MG_CHECK(estimate.dim() == 3 && estimate.shape() == reference.shape(),
           "log_magnitude_loss: magnitudes must be two equal [B, C, L], got {} and {}", shape_str(estimate.shape()),
           shape_str(reference.shape()));
  // A negative estimate (the log map's exp(u) - floor below the floor) counts as silence.
  Tensor d = log(relu(estimate) + epsilon) - log(relu(reference) + epsilon);
  return mean(d * d);
}

VaeLossTerms vae_loss(const VaeLossConfig& c, const VaeOutput& out, const Tensor& x, int64_t step,
                      const MagnitudeMap* magnitudes) {
  const double batch = static_cast<double>(x.size(0));
  const double per_clip = static_cast<double>(x.numel()) / batch;
  VaeLossTerms t;
  if (c.reconstruction == Reconstruction::SquaredError) {
    Tensor d = out.recon - x;
    t.recon = sum(d * d) / batch;
  } else {
    // The mean over every element times the elements per clip: a sum over samples, a mean over the batch.
    t.recon = binary_cross_entropy_with_logits(out.recon, affine(x, 0.5, 0.5)) * per_clip;
  }
  t.total = t.recon;
  if (c.spectral_weight > 0 || c.log_weight > 0) {
    MG_CHECK(magnitudes != nullptr, "vae_loss: a spectral or log-magnitude weight needs the map from features to magnitudes");
    const Tensor estimate = magnitudes->magnitudes(out.recon), reference = magnitudes->magnitudes(x).detach();
    if (c.spectral_weight > 0) {
      t.spectral = spectral_convergence_loss(estimate, reference);
      t.total = t.total + t.spectral * (c.spectral_weight * per_clip);
    }
    if (c.log_weight > 0) {
      t.log_magnitude = log_magnitude_loss(estimate, reference, c.log_epsilon);
      t.total = t.total + t.log_magnitude * (c.log_weight * per_clip);
    }
  }
  Tensor kl = kl_elements(out.mu, out.logvar);
  t.kl = sum(kl) / batch;
  Tensor charged = t.kl;
  if (c.free_bits > 0) {
    // Per channel: mean over the batch (and frames), floored at free_bits, summed, times the frames.
    // The batch is the whole one when ranks share it (models/distributed.h).
    const bool frames = kl.dim() == 3;
    Tensor per_channel = frames ? dist::batch_mean(kl, {0, 2}) : dist::batch_mean(kl, {0});
    const double T = frames ? static_cast<double>(kl.size(2)) : 1.0;
    charged = sum(relu(per_channel - c.free_bits) + c.free_bits) * T;
  }
  t.beta = beta_at(c, step);
  t.total = t.total + charged * t.beta;
  return t;
}

}  // namespace mg::nn
