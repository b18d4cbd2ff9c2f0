#pragma once
// The jazz VAE's training loss, per clip and averaged over the batch:
//
//   loss = reconstruction + w_s * spectral + w_l * log-magnitude + beta(step) * KL_fb
//
// B = batch, C = channels (frequency bins), L = frames, Z = latent channels,
// T = latent frames (1 for a global latent).
//
//   reconstruction  squared error of the standardised log-magnitudes summed
//                   over C x L (conv), or the sigmoid cross-entropy of the
//                   logits against (x + 1) / 2 summed over samples (seed);
//   spectral        multi-resolution spectral convergence of the linear
//                   magnitudes the features stand for, ||S - Ŝ||_F / ||S||_F,
//                   averaged over three resolutions (as decoded; power summed
//                   over 4 frames; over 4 bins; models/audio_metrics.h's
//                   multi_resolution_magnitude_distance without its log term,
//                   which the reconstruction already is). Log-magnitude
//                   error treats a loud bin like a quiet one; this term
//                   weights bins by their energy, which is what spectral
//                   convergence scores. w_s multiplies it by C x L so that
//                   w_s = 1 weighs like one unit of squared error per element;
//   log-magnitude   squared difference of ln(|S| + eps) of the decoded and
//                   the input magnitudes, mean over elements, times w_l C L:
//                   the log-spectral distance's own measure (20 log10 |S|
//                   is 8.69 ln |S| dB). With power-law features the
//                   reconstruction weighs loud bins; this term keeps the
//                   quiet ones from being given up;
//   KL_fb           KL(q(z|x) || N(0, I)) with free bits (Kingma et al. 2016):
//                   per latent channel, the KL averaged over the batch and
//                   frames is charged at least `free_bits` nats; KL below
//                   that costs nothing, so the encoder has no reason to shut
//                   a channel that carries that little. Summed over channels
//                   and multiplied by T;
//   beta(step)      rises linearly from 0 to beta over `warmup_steps`
//                   optimizer steps (KL warm-up, Bowman et al. 2016).
#include "models/jazz_vae.h"

namespace mg::nn {

enum class Reconstruction { SquaredError, BernoulliLogits };

// Decoded features -> linear magnitudes. With u = min(v * scale + shift[c], ceiling):
//   power = 0 (log features):    |S| = exp(u) - floor;
//   power = p in (0, 1]:         |S| = max(u, 0)^(1/p)  (features |S|^p).
// The ceiling keeps the map finite when an untrained decoder's output is far
// off (the gradient above it is zero); the app sets it to the largest
// magnitude the STFT can give, so it never touches a real spectrum.
struct MagnitudeMap {
  Tensor shift;  // [C, 1]
  double scale = 1, floor = 0;
  double power = 0;
  double ceiling = 30;
  Tensor magnitudes(const Tensor& features) const;  // [B, C, L] -> [B, C, L]
};

struct VaeLossConfig {
  Reconstruction reconstruction = Reconstruction::SquaredError;
  double beta = 1;
  int64_t warmup_steps = 0;
  double free_bits = 0;        // nats per latent channel and frame
  double spectral_weight = 0;  // w_s; needs a MagnitudeMap
  double log_weight = 0;       // w_l; needs a MagnitudeMap
  double log_epsilon = 1e-3;   // eps of the log-magnitude term
};

struct VaeLossTerms {
  Tensor total;     // scalar, what is minimised
  Tensor recon;     // scalar, reconstruction per clip
  Tensor spectral;  // scalar, mean spectral convergence (undefined when w_s = 0)
  Tensor log_magnitude;  // scalar, mean squared log-magnitude difference (undefined when w_l = 0)
  Tensor kl;        // scalar, KL(q(z|x) || N(0, I)) per clip without free bits: the ELBO's term
  double beta = 0;  // beta(step)
};

double beta_at(const VaeLossConfig& c, int64_t step);

// KL(N(mu, exp(logvar)) || N(0, 1)) element by element, the shape of mu.
Tensor kl_elements(const Tensor& mu, const Tensor& logvar);

// Multi-resolution spectral convergence of magnitudes [B, C, L], mean over clips and resolutions.
Tensor spectral_convergence_loss(const Tensor& estimate, const Tensor& reference);

// Mean of (ln(max(estimate, 0) + eps) - ln(max(reference, 0) + eps))^2 over magnitudes [B, C, L].
Tensor log_magnitude_loss(const Tensor& estimate, const Tensor& reference, double epsilon);

// `magnitudes` is needed when c.spectral_weight > 0 or c.log_weight > 0 (conv only). step: optimizer steps taken.
VaeLossTerms vae_loss(const VaeLossConfig& c, const VaeOutput& out, const Tensor& x, int64_t step,
                      const MagnitudeMap* magnitudes = nullptr);

}  // namespace mg::nn
