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

}  // namespace mg
