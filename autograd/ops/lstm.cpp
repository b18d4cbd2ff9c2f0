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

namespace {

// C [m, n] = A [m, k] @ op(B) + beta C, all contiguous.
void gemm_into(const Tensor& c, double beta, const Tensor& a, const Tensor& b, bool trans_b, int64_t m, int64_t n,
               int64_t k, bool trans_a = false) {
  backend_of(c).gemm(detail::contiguous_gemm(c, beta, trans_a, trans_b, m, n, k, a, b));
}

}  // namespace

std::pair<Tensor, Tensor> lstm_recurrence(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0) {
  detail::check_same("lstm_recurrence", xproj, w_hh);
  detail::check_same("lstm_recurrence", xproj, h0);
  detail::check_same("lstm_recurrence", xproj, c0);
  MG_CHECK(xproj.dim() == 3 && w_hh.dim() == 2 && w_hh.size(0) == xproj.size(2) && w_hh.size(0) == 4 * w_hh.size(1),
           "lstm_recurrence: xproj must be [T, B, 4H] and w_hh [4H, H], got {} and {}", shape_str(xproj.shape()),
           shape_str(w_hh.shape()));
  const int64_t T = xproj.size(0), B = xproj.size(1), H = w_hh.size(1);
  MG_CHECK(h0.shape() == (Shape{B, H}) && c0.shape() == (Shape{B, H}), "lstm_recurrence: h0 and c0 must be [{}, {}]", B,
           H);
  MG_CHECK(T >= 1, "lstm_recurrence: needs at least one time step");
  Tensor xp = plain(xproj), w = plain(w_hh), hprev0 = plain(h0), cprev0 = plain(c0);
  Tensor hs = empty({T, B, H}, xproj.dtype(), xproj.device());
  Tensor cs = empty({T, B, H}, xproj.dtype(), xproj.device());
  Tensor acts = empty({T, B, 4 * H}, xproj.dtype(), xproj.device());
  // All T steps in one backend call: per step one recurrent GEMM and the cell.
  backend_of(xp).lstm_sequence_forward(xp, w, hprev0, cprev0, hs, cs, acts);
  Tensor c_last = cs.select(0, T - 1).clone();
  if (needs_grad({xproj, w_hh, h0, c0})) {
    const bool gw_on = w_hh.requires_grad();
    // Saved: W_hh, h0, c0, every step's h, c and activated gates (acts is the
    // largest: 4 B H floats per step).
    record("lstm_recurrence", {hs, c_last}, {xproj, w_hh, h0, c0},
           [T, B, H, gw_on, w, hprev0, cprev0, acts, cs, hs_saved = hs.detach()](const TensorList& g) {
             Tensor g_hs = g[0].defined() ? plain(g[0]) : Tensor();
             Tensor g_c = g[1].defined() ? plain(g[1]) : Tensor();
             Tensor dgates = empty({T, B, 4 * H}, acts.dtype(), acts.device());
             Tensor dh0 = empty({B, H}, acts.dtype(), acts.device()), dc0 = empty_like(dh0);
             backend_of(acts).lstm_sequence_backward(g_hs, g_c, w, acts, cs, cprev0, dgates, dh0, dc0);
             Tensor gw;
             if (gw_on) {
               // h_{t-1} for every step in one block: [h0, h_0 .. h_{T-2}] -> [T*B, H].
               Tensor hprev = empty({T, B, H}, acts.dtype(), acts.device());
               copy_(hprev.select(0, 0), hprev0);
               if (T > 1) copy_(hprev.slice(0, 1, T), hs_saved.slice(0, 0, T - 1));
               gw = empty({4 * H, H}, acts.dtype(), acts.device());
               // Σ_t dgates_tᵀ h_{t-1} = dGᵀ [4H, T*B] @ Hprev [T*B, H]: one GEMM for all steps.
               gemm_into(gw, 0.0, dgates, hprev, /*trans_b=*/false, 4 * H, H, T * B, /*trans_a=*/true);
             }
             return TensorList{dgates, gw, dh0, dc0};
           });
  }
  return {hs, c_last};
}

}  // namespace mg
