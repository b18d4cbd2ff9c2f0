// The LSTM cell. B = batch, I = input size, H = hidden size.
//
//   gates [B, 4H] = x W_ihᵀ + h W_hhᵀ + b        (two GEMMs, order i, f, g, o)
//   i, f, o = σ(gates_i, gates_f, gates_o);  g = tanh(gates_g)
//   c = f c_prev + i g;  h = o tanh(c)           (one fused pointwise kernel)
//
// Keras (i, f, c, o) and PyTorch (i, f, g, o) use the same order, so their
// weights load without permutation. The pointwise kernel saves the activated
// gates, so backward needs no transcendental except tanh(c):
//   dc = gc + gh o (1 - tanh²c);  di = dc g;  df = dc c_prev;  dg = dc i;
//   do = gh tanh c;  dc_prev = dc f;  then times each activation's derivative.
#include "autograd/ops/common.h"

namespace mg {

using detail::plain;

std::pair<Tensor, Tensor> lstm_pointwise(const Tensor& gates, const Tensor& c_prev) {
  detail::check_same("lstm_pointwise", gates, c_prev);
  MG_CHECK(gates.dim() == 2 && c_prev.dim() == 2 && gates.size(0) == c_prev.size(0) &&
               gates.size(1) == 4 * c_prev.size(1),
           "lstm_pointwise: gates must be [B, 4H] and c_prev [B, H], got {} and {}", shape_str(gates.shape()),
           shape_str(c_prev.shape()));
  Tensor gc = plain(gates), cp = plain(c_prev);
  Tensor h = empty_like(cp), c = empty_like(cp), act = empty_like(gc);
  if (h.numel() > 0) backend_of(gc).lstm_pointwise_forward(gc, cp, h, c, act);
  if (needs_grad({gates, c_prev})) {
    record("lstm_pointwise", {h, c}, {gates, c_prev}, [act, cp, cs = c.detach()](const TensorList& g) {
      Tensor gh = g[0].defined() ? plain(g[0]) : Tensor();
      Tensor gcell = g[1].defined() ? plain(g[1]) : Tensor();
      Tensor ggates = empty_like(act), gc_prev = empty_like(cp);
      if (ggates.numel() > 0) backend_of(act).lstm_pointwise_backward(gh, gcell, act, cp, cs, ggates, gc_prev);
      return TensorList{ggates, gc_prev};
    });
  }
  return {h, c};
}

std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih,
                                    const Tensor& w_hh, const Tensor& b) {
  Tensor gates = add(matmul(x, w_ih.transpose(0, 1)), matmul(h, w_hh.transpose(0, 1)));
  if (b.defined()) gates = add(gates, b);
  return lstm_pointwise(gates, c);
}

}  // namespace mg
