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
  Tensor pre = plain(gates), cp = plain(c_prev);
  Tensor h = empty_like(cp), c = empty_like(cp), act = empty_like(pre);
  if (h.numel() > 0) backend_of(pre).lstm_pointwise_forward(pre, cp, h, c, act);
  if (needs_grad({gates, c_prev})) {
    // Saved: the activated gates, c_prev and c (backward recomputes only tanh c).
    record("lstm_pointwise", {h, c}, {gates, c_prev}, [act, cp, cs = c.detach()](const TensorList& g) {
      Tensor gh = g[0].defined() ? plain(g[0]) : Tensor();  // gradient of h
      Tensor gc = g[1].defined() ? plain(g[1]) : Tensor();  // gradient of c
      Tensor ggates = empty_like(act), gc_prev = empty_like(cp);
      if (ggates.numel() > 0) backend_of(act).lstm_pointwise_backward(gh, gc, act, cp, cs, ggates, gc_prev);
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

namespace {

// C [m, n] = A [m, k] @ op(B) + beta C, all contiguous.
void gemm_into(const Tensor& c, double beta, const Tensor& a, const Tensor& b, bool trans_b, int64_t m, int64_t n,
               int64_t k, bool trans_a = false) {
  backend_of(c).gemm(contiguous_gemm(c, beta, trans_a, trans_b, m, n, k, a, b));
}

void check_recurrence_shapes(const char* op, int64_t T, int64_t B, const Tensor& w_hh, const Tensor& h0,
                             const Tensor& c0) {
  const int64_t H = w_hh.size(1);
  MG_CHECK(h0.shape() == (Shape{B, H}) && c0.shape() == (Shape{B, H}), "{}: h0 and c0 must be [{}, {}]", op, B, H);
  MG_CHECK(T >= 1, "{}: needs at least one time step", op);
}

// What the recurrence's forward keeps for its backward. acts [T, B, 4H] is
// the largest (the four activated gates of every step); hs doubles as the
// layer's output and as h_{t-1} for W_hh's gradient.
struct RecurrenceSaved {
  int64_t T, B, H;
  Tensor w_hh, h0, c0, acts, cs, hs;
};

// Runs the recurrence over `gates`, which holds every step's input projection
// on entry and the activated gates on return (the kernels read step t's
// projection before overwriting it, so no second [T, B, 4H] buffer exists).
// Returns (hs [T, B, H], c_last [B, H]).
std::pair<Tensor, Tensor> recurrence_forward(const Tensor& gates, const Tensor& w_hh, const Tensor& h0,
                                             const Tensor& c0, RecurrenceSaved& saved) {
  const int64_t T = gates.size(0), B = gates.size(1), H = w_hh.size(1);
  Tensor hs = empty({T, B, H}, gates.dtype(), gates.device());
  Tensor cs = empty({T, B, H}, gates.dtype(), gates.device());
  backend_of(gates).lstm_sequence_forward(gates, w_hh, h0, c0, hs, cs, gates);
  saved = {T, B, H, w_hh, h0, c0, gates, cs, hs.detach()};
  return {hs, cs.select(0, T - 1).clone()};
}

// From the gradients of (hs, c_last) to those of the gate pre-activations
// (dgates, which is also the gradient of the input projection), W_hh, h0, c0.
struct RecurrenceGrads {
  Tensor dgates, w_hh, h0, c0;
};

// Releases the saved activations once they are used (dgates is written over
// them), unless the graph is kept for another backward pass: the layer's
// input gradient, computed next, can then reuse the memory of cs.
RecurrenceGrads recurrence_backward(RecurrenceSaved& s, const TensorList& g, bool w_hh_grad) {
  const int64_t T = s.T, B = s.B, H = s.H;
  // The gradient of hs often arrives as a transposed view ([B, T, H] memory):
  // the kernels take its strides rather than a contiguous copy, if rows are contiguous.
  Tensor g_hs = !g[0].defined() ? Tensor() : g[0].strides()[2] == 1 ? g[0].detach() : plain(g[0]);
  Tensor g_c = g[1].defined() ? plain(g[1]) : Tensor();
  RecurrenceGrads r;
  // Unless the graph is kept for another pass, the activations are read for
  // the last time here, and dgates takes their memory (the backends allow
  // it): the layer's largest transient is then not allocated at all.
  const bool keep = backward_keeps_graph();
  r.dgates = keep ? empty({T, B, 4 * H}, s.acts.dtype(), s.acts.device()) : s.acts;
  r.h0 = empty({B, H}, s.acts.dtype(), s.acts.device());
  r.c0 = empty_like(r.h0);
  backend_of(s.acts).lstm_sequence_backward(g_hs, g_c, s.w_hh, s.acts, s.cs, s.c0, r.dgates, r.h0, r.c0);
  if (!keep) s.acts = s.cs = Tensor();
  if (w_hh_grad) {
    // Σ_t dgates_tᵀ h_{t-1}: the step-0 term with h0, then steps 1..T-1 as one GEMM,
    // dG[1..T-1]ᵀ [4H, (T-1)B] @ hs[0..T-2] [(T-1)B, H], both already contiguous.
    r.w_hh = empty({4 * H, H}, r.dgates.dtype(), r.dgates.device());
    gemm_into(r.w_hh, 0.0, r.dgates.select(0, 0), s.h0, /*trans_b=*/false, 4 * H, H, B, /*trans_a=*/true);
    if (T > 1)
      gemm_into(r.w_hh, 1.0, r.dgates.slice(0, 1, T), s.hs.slice(0, 0, T - 1), /*trans_b=*/false, 4 * H, H,
                (T - 1) * B, /*trans_a=*/true);
  }
  return r;
}

}  // namespace

std::pair<Tensor, Tensor> lstm_recurrence(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0) {
  detail::check_same("lstm_recurrence", xproj, w_hh);
  detail::check_same("lstm_recurrence", xproj, h0);
  detail::check_same("lstm_recurrence", xproj, c0);
  MG_CHECK(xproj.dim() == 3 && w_hh.dim() == 2 && w_hh.size(0) == xproj.size(2) && w_hh.size(0) == 4 * w_hh.size(1),
           "lstm_recurrence: xproj must be [T, B, 4H] and w_hh [4H, H], got {} and {}", shape_str(xproj.shape()),
           shape_str(w_hh.shape()));
  check_recurrence_shapes("lstm_recurrence", xproj.size(0), xproj.size(1), w_hh, h0, c0);
  RecurrenceSaved saved;
  // A copy of xproj becomes the activations: the caller's xproj stays intact.
  auto [hs, c_last] = recurrence_forward(xproj.detach().clone(), plain(w_hh), plain(h0), plain(c0), saved);
  if (needs_grad({xproj, w_hh, h0, c0})) {
    record("lstm_recurrence", {hs, c_last}, {xproj, w_hh, h0, c0},
           [saved, w_hh_grad = w_hh.requires_grad()](const TensorList& g) mutable {
             RecurrenceGrads r = recurrence_backward(saved, g, w_hh_grad);
             return TensorList{r.dgates, r.w_hh, r.h0, r.c0};
           });
  }
  return {hs, c_last};
}

std::pair<Tensor, Tensor> lstm_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b,
                                     const Tensor& h0, const Tensor& c0) {
  for (const Tensor* t : {&w_ih, &w_hh, &h0, &c0}) detail::check_same("lstm_layer", x, *t);
  MG_CHECK(x.dim() == 3 && w_ih.dim() == 2 && w_hh.dim() == 2 && w_hh.size(0) == 4 * w_hh.size(1) &&
               w_ih.size(0) == w_hh.size(0) && w_ih.size(1) == x.size(2),
           "lstm_layer: x must be [T, B, I], w_ih [4H, I] and w_hh [4H, H], got {}, {} and {}", shape_str(x.shape()),
           shape_str(w_ih.shape()), shape_str(w_hh.shape()));
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), G = w_hh.size(0);
  check_recurrence_shapes("lstm_layer", T, B, w_hh, h0, c0);
  if (b.defined()) {
    detail::check_same("lstm_layer", x, b);
    MG_CHECK(b.dim() == 1 && b.size(0) == G, "lstm_layer: bias must be [{}], got {}", G, shape_str(b.shape()));
  }
  // The input projection of all steps, x W_ihᵀ + b, in one GEMM onto the bias,
  // straight into the buffer the recurrence then turns into the activations.
  Tensor xs = plain(x), wi = plain(w_ih);
  Tensor gates = empty({T, B, G}, x.dtype(), x.device());
  if (b.defined()) backend_of(gates).copy(gates, detail::broadcast_view(b.detach(), {T, B, G}));
  else fill_(gates, 0.0);
  if (I > 0) gemm_into(gates, 1.0, xs, wi, /*trans_b=*/true, T * B, G, I);
  RecurrenceSaved saved;
  auto [hs, c_last] = recurrence_forward(gates, plain(w_hh), plain(h0), plain(c0), saved);
  if (needs_grad({x, w_ih, w_hh, b, h0, c0})) {
    // Saved besides the recurrence's: x (for W_ih's gradient) and W_ih (for x's).
    record("lstm_layer", {hs, c_last}, {x, w_ih, w_hh, b, h0, c0},
           [saved, xs, wi, x_grad = x.requires_grad(), w_ih_grad = w_ih.requires_grad(),
            b_grad = b.defined() && b.requires_grad(), w_hh_grad = w_hh.requires_grad()](const TensorList& g) mutable {
             const int64_t T = saved.T, B = saved.B, G = 4 * saved.H, I = xs.size(2);
             RecurrenceGrads r = recurrence_backward(saved, g, w_hh_grad);
             Tensor gx, gw_ih, gb;
             if (x_grad) {  // dgates [T B, 4H] @ W_ih [4H, I]
               gx = empty({T, B, I}, xs.dtype(), xs.device());
               gemm_into(gx, 0.0, r.dgates, wi, /*trans_b=*/false, T * B, I, G);
             }
             if (w_ih_grad) {  // dgatesᵀ [4H, T B] @ x [T B, I]: one GEMM over all steps
               gw_ih = empty({G, I}, xs.dtype(), xs.device());
               gemm_into(gw_ih, 0.0, r.dgates, xs, /*trans_b=*/false, G, I, T * B, /*trans_a=*/true);
             }
             if (b_grad) gb = sum(r.dgates.reshape({T * B, G}), {0});
             return TensorList{gx, gw_ih, r.w_hh, gb, r.h0, r.c0};
           });
  }
  return {hs, c_last};
}

}  // namespace mg
