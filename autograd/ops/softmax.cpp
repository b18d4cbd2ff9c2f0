// Softmax family and losses. Shapes: softmax over any dim (moved last by a
// transpose view); cross_entropy logits [N, C], targets int64 [N] -> scalar.
//
//   softmax:      y = e^(x - max) / Σ e^(x - max);   gx = y (gy - Σ gy y)
//   log_softmax:  y = x - max - log Σ e^(x - max);   gx = gy - e^y Σ gy
//   cross_entropy (mean over rows of -log softmax(x)[target]):
//                 gx = g (softmax(x) - onehot(target)) / N
// Softmax saves its output y (both derivatives read y, not x); cross_entropy
// saves the probabilities and the targets.
#include "autograd/ops/common.h"

namespace mg {

using detail::plain;

// Softmax over the last dim; log selects log_softmax.
static Tensor softmax_last(const Tensor& x, bool log) {
  MG_CHECK(x.dim() >= 1, "softmax: needs at least one dim");
  Tensor xc = plain(x);
  Tensor y = empty_like(xc);
  if (y.numel() > 0) backend_of(x).softmax(xc, y, log);
  if (needs_grad({x})) {
    record(log ? "log_softmax" : "softmax", {y}, {x}, [log, ys = y.detach()](const TensorList& g) {
      Tensor gy = plain(g[0]);
      Tensor gx = empty_like(gy);
      if (gx.numel() > 0) backend_of(gy).softmax_backward(gy, ys, gx, log);
      return TensorList{gx};
    });
  }
  return y;
}

static Tensor softmax_dim(const Tensor& x, int64_t dim, bool log) {
  dim = wrap_dim(dim, x.dim());
  if (dim == x.dim() - 1) return softmax_last(x, log);
  return softmax_last(x.transpose(dim, -1), log).transpose(dim, -1);
}

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_dim(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_dim(x, dim, true); }

Tensor cross_entropy(const Tensor& logits, const Tensor& targets) {
  MG_CHECK(logits.dim() == 2, "cross_entropy: logits must be [N, C], got {}", shape_str(logits.shape()));
  MG_CHECK(targets.dtype() == DType::I64 && targets.dim() == 1 && targets.size(0) == logits.size(0),
           "cross_entropy: targets must be int64 [{}]", logits.size(0));
  MG_CHECK(logits.device() == targets.device(), "cross_entropy: logits and targets on different devices");
  const int64_t N = logits.size(0);
  Tensor lc = plain(logits), tc = plain(targets);
  Tensor losses = empty({N}, lc.dtype(), lc.device());
  Tensor probs = empty_like(lc);
  if (N > 0) backend_of(lc).cross_entropy(lc, tc, losses, probs);
  Tensor loss;
  {
    NoGradGuard ng;
    loss = mean(losses);
  }
  if (needs_grad({logits})) {
    record("cross_entropy", {loss}, {logits}, [probs, tc, N](const TensorList& g) {
      // d/dlogits of mean(-log softmax[target]) = (softmax - onehot) / N
      Tensor gl = empty_like(probs);
      backend_of(probs).probs_minus_onehot(probs, tc, gl);
      return TensorList{mul(mul(gl, g[0]), 1.0 / static_cast<double>(N))};
    });
  }
  return loss;
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& t) {
  MG_CHECK(x.shape() == t.shape(), "binary_cross_entropy_with_logits: shapes {} and {} differ", shape_str(x.shape()),
           shape_str(t.shape()));
  Tensor loss;
  {
    NoGradGuard ng;
    // max(x, 0) - x t + log(1 + e^-|x|): never exponentiates a large positive number.
    loss = mean(add(sub(relu(x), mul(x, t)), log(add(exp(neg(abs(x))), 1.0))));
  }
  if (needs_grad({x, t})) {
    const double inv_n = 1.0 / static_cast<double>(std::max<int64_t>(x.numel(), 1));
    record("binary_cross_entropy_with_logits", {loss}, {x, t},
           [xs = x.detach(), ts = t.detach(), inv_n](const TensorList& g) {
             Tensor scale = mul(g[0], inv_n);
             return TensorList{mul(sub(sigmoid(xs), ts), scale), mul(neg(xs), scale)};
           });
  }
  return loss;
}

Tensor mse(const Tensor& a, const Tensor& b) {
  Tensor d = sub(a, b);
  return mean(mul(d, d));
}

}  // namespace mg
