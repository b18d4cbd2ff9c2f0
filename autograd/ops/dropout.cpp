// Inverted dropout. Shapes: any. The keep mask (1/(1-p) or 0) is drawn from
// the default counter-based generator, so a seed fixes it on every device.
#include "autograd/ops/common.h"

namespace mg {

Tensor dropout(const Tensor& x, double p, bool training) {
  MG_CHECK(p >= 0.0 && p < 1.0, "dropout: p = {} outside [0, 1)", p);
  if (!training || p == 0.0) return x;
  Tensor u = rand(x.shape(), x.dtype(), x.device());
  Tensor mask = empty_like(u);
  backend_of(u).unary(UnaryArgs{UnaryOp::Mask, p, 1.0 / (1.0 - p)}, u, mask);
  return mul(x, mask);
}

}  // namespace mg
