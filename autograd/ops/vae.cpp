// The variational pieces. B = batch, Z = latent size.
#include "autograd/ops/common.h"

namespace mg {

// z = mu + σ eps with σ = exp(logvar / 2): the noise is an input, so gradients
// flow to mu and logvar (the reparameterisation trick).
Tensor reparameterize(const Tensor& mu, const Tensor& logvar, const Tensor& eps) {
  MG_CHECK(mu.shape() == logvar.shape() && mu.shape() == eps.shape(),
           "reparameterize: mu {}, logvar {} and eps {} must match", shape_str(mu.shape()),
           shape_str(logvar.shape()), shape_str(eps.shape()));
  return add(mu, mul(exp(mul(logvar, 0.5)), eps));
}

// KL(N(mu, σ²) || N(0, 1)) = -1/2 Σ_z (1 + logvar - mu² - σ²), per row.
Tensor kl_normal(const Tensor& mu, const Tensor& logvar) {
  MG_CHECK(mu.shape() == logvar.shape(), "kl_normal: mu {} and logvar {} differ", shape_str(mu.shape()),
           shape_str(logvar.shape()));
  Tensor inner = sub(sub(add(logvar, 1.0), mul(mu, mu)), exp(logvar));
  return mul(sum(inner, {-1}), -0.5);
}

Tensor spectral_convergence(const Tensor& est, const Tensor& ref, int64_t group, double tiny) {
  detail::check_same("spectral_convergence", est, ref);
  MG_CHECK(est.dim() == 3 && est.shape() == ref.shape() && group >= 1,
           "spectral_convergence: magnitudes must be two equal [B, C, L] and the group >= 1, got {}, {} and {}",
           shape_str(est.shape()), shape_str(ref.shape()), group);
  const int64_t B = est.size(0), C = est.size(1), L = est.size(2);
  const bool frames = L >= group, bins = C >= group;
  const double resolutions = 1.0 + frames + bins;
  Tensor e = detail::plain(est), r = detail::plain(ref);
  Tensor stats = empty({B, 3, 2}, est.dtype(), est.device());
  backend_of(e).spectral_convergence(e, r, group, tiny, stats);
  // The mean of num / den over clips and resolutions, from the B x 3 pairs.
  const std::vector<double> st = stats.to_vector<double>();
  double total = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < 3; ++k)
      if (k == 0 || (k == 1 && frames) || (k == 2 && bins)) total += st[(b * 3 + k) * 2] / st[(b * 3 + k) * 2 + 1];
  Tensor out = scalar(total / (resolutions * static_cast<double>(B)), est.dtype(), est.device());
  if (needs_grad({est})) {
    record("spectral_convergence", {out}, {est, ref},
           [e, r, stats, group, tiny, frames, bins, resolutions, B](const TensorList& g) {
             const double up = g[0].item() / (resolutions * static_cast<double>(B));
             std::vector<double> w(static_cast<size_t>(B * 3), 0.0);
             for (int64_t b = 0; b < B; ++b) {
               w[static_cast<size_t>(b * 3)] = up;
               w[static_cast<size_t>(b * 3 + 1)] = frames ? up : 0.0;
               w[static_cast<size_t>(b * 3 + 2)] = bins ? up : 0.0;
             }
             Tensor weight = from_vector(w, {B, 3}, e.device()).to(e.dtype());
             Tensor ge = empty_like(e);
             backend_of(e).spectral_convergence_backward(e, r, group, tiny, stats, weight, ge);
             return TensorList{ge, Tensor()};
           });
  }
  return out;
}

Tensor feature_magnitudes(const Tensor& v, const Tensor& shift, double scale, double ceiling, double floor,
                          double power) {
  detail::check_same("feature_magnitudes", v, shift);
  MG_CHECK(v.dim() == 3 && shift.numel() == v.size(1) && power >= 0,
           "feature_magnitudes: features must be [B, C, L] with one shift per channel and power >= 0, got {}, {} and {}",
           shape_str(v.shape()), shape_str(shift.shape()), power);
  Tensor x = detail::plain(v), sh = detail::plain(shift).reshape({v.size(1)});
  Tensor out = empty_like(x), expu = power > 0 ? Tensor() : empty_like(x);
  backend_of(x).feature_magnitudes(x, sh, scale, ceiling, floor, power, out, expu);
  if (needs_grad({v})) {
    record("feature_magnitudes", {out}, {v, shift}, [x, sh, expu, scale, ceiling, power](const TensorList& g) {
      Tensor gv = empty_like(x);
      backend_of(x).feature_magnitudes_backward(x, sh, scale, ceiling, power, expu, detail::plain(g[0]), gv);
      return TensorList{gv, Tensor()};
    });
  }
  return out;
}

}  // namespace mg
