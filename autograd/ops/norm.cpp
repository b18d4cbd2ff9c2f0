// Instance and batch normalisation over x [N, C, L] (N = batch, C = channels,
// L = length). Instance norm normalises each (n, c) row over L; batch norm
// each channel over (N, L). One kernel pair serves both; `per_instance` picks.
//
// Forward, per group of M elements:
//   mean = Σ x / M;  rstd = 1 / sqrt(Σ (x - mean)² / M + eps);  x̂ = (x - mean) rstd
//   y = w x̂ + b
// Backward, with d = gy w:
//   gx = rstd (d - mean(d) - x̂ mean(d x̂));  gw = Σ gy x̂;  gb = Σ gy
// (the two means are over the group; gw and gb sum over every group of a channel).
// Saved: x, w and the per-group mean and rstd, from which x̂ is recomputed.
#include "autograd/ops/common.h"

namespace mg {

using detail::plain;

static Tensor norm1d(const char* name, const Tensor& x, const Tensor& weight, const Tensor& bias, bool per_instance,
                     double eps, Tensor* mean_out, Tensor* rstd_out) {
  MG_CHECK(x.dim() == 3, "{}: x must be [N, C, L], got {}", name, shape_str(x.shape()));
  const int64_t N = x.size(0), C = x.size(1);
  for (const Tensor* p : {&weight, &bias})
    if (p->defined()) {
      detail::check_same(name, x, *p);
      MG_CHECK(p->dim() == 1 && p->size(0) == C, "{}: weight/bias must be [{}]", name, C);
    }
  Tensor xc = plain(x);
  Tensor wc = weight.defined() ? plain(weight) : Tensor();
  Tensor bc = bias.defined() ? plain(bias) : Tensor();
  const int64_t groups = per_instance ? N * C : C;
  Tensor y = empty_like(xc);
  Tensor mu = empty({groups}, x.dtype(), x.device());
  Tensor rstd = empty({groups}, x.dtype(), x.device());
  if (xc.numel() > 0) backend_of(x).norm1d_forward(xc, wc, bc, per_instance, eps, y, mu, rstd);
  if (mean_out) *mean_out = mu;
  if (rstd_out) *rstd_out = rstd;
  if (needs_grad({x, weight, bias})) {
    const bool gw_on = weight.defined() && weight.requires_grad(), gb_on = bias.defined() && bias.requires_grad();
    record(name, {y}, {x, weight, bias}, [xc, wc, mu, rstd, per_instance, gw_on, gb_on, C](const TensorList& g) {
      Tensor gy = plain(g[0]);
      Tensor gx = empty_like(gy);
      Tensor gw = gw_on ? empty({C}, gy.dtype(), gy.device()) : Tensor();
      Tensor gb = gb_on ? empty({C}, gy.dtype(), gy.device()) : Tensor();
      backend_of(gy).norm1d_backward(gy, xc, wc, mu, rstd, per_instance, gx, gw, gb);
      return TensorList{gx, gw, gb};
    });
  }
  return y;
}

Tensor instance_norm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  return norm1d("instance_norm1d", x, weight, bias, true, eps, nullptr, nullptr);
}

Tensor batch_norm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                    const Tensor& running_var, bool training, double momentum, double eps) {
  if (training) {
    Tensor mu, rstd;
    Tensor y = norm1d("batch_norm1d", x, weight, bias, false, eps, &mu, &rstd);
    if (running_mean.defined() && running_var.defined()) {
      NoGradGuard ng;
      const double n = static_cast<double>(x.size(0) * x.size(2));
      // Biased variance back from rstd, then the unbiased estimate for the running average.
      Tensor var = affine(pow(rstd, -2.0), 1.0, -eps);
      Tensor unbiased = mul(var, n > 1 ? n / (n - 1) : 1.0);
      copy_(running_mean, add(mul(running_mean, 1.0 - momentum), mul(mu, momentum)));
      copy_(running_var, add(mul(running_var, 1.0 - momentum), mul(unbiased, momentum)));
    }
    return y;
  }
  MG_CHECK(running_mean.defined() && running_var.defined(), "batch_norm1d: eval mode needs running statistics");
  // y = (x - mean) / sqrt(var + eps) * w + b, as a per-channel scale and shift.
  const int64_t C = x.size(1);
  Tensor scale = pow(add(running_var.detach(), eps), -0.5);
  if (weight.defined()) scale = mul(scale, weight);
  Tensor shift = neg(mul(running_mean.detach(), scale));
  if (bias.defined()) shift = add(shift, bias);
  return add(mul(x, scale.reshape({1, C, 1})), shift.reshape({1, C, 1}));
}

}  // namespace mg
