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
  Backend& be = backend_of(xproj);
  Tensor w = plain(w_hh), hprev0 = plain(h0), cprev0 = plain(c0);
  // gates starts as a copy of xproj; each step adds h_{t-1} W_hhᵀ in place (GEMM with beta = 1).
  Tensor gates = xproj.detach().clone();
  Tensor hs = empty({T, B, H}, xproj.dtype(), xproj.device());
  Tensor cs = empty({T, B, H}, xproj.dtype(), xproj.device());
  Tensor acts = empty({T, B, 4 * H}, xproj.dtype(), xproj.device());
  for (int64_t t = 0; t < T; ++t) {
    Tensor h_prev = t == 0 ? hprev0 : hs.select(0, t - 1);
    Tensor c_prev = t == 0 ? cprev0 : cs.select(0, t - 1);
    Tensor g_t = gates.select(0, t);
    gemm_into(g_t, 1.0, h_prev, w, /*trans_b=*/true, B, 4 * H, H);
    be.lstm_pointwise_forward(g_t, c_prev, hs.select(0, t), cs.select(0, t), acts.select(0, t));
  }
  Tensor c_last = cs.select(0, T - 1).clone();
  if (needs_grad({xproj, w_hh, h0, c0})) {
    const bool gw_on = w_hh.requires_grad();
    record("lstm_recurrence", {hs, c_last}, {xproj, w_hh, h0, c0},
           [=, hs_saved = hs.detach()](const TensorList& g) {
             Backend& b = backend_of(acts);
             Tensor g_hs = g[0].defined() ? plain(g[0]) : Tensor();
             Tensor dh = zeros({B, H}, acts.dtype(), acts.device());
             Tensor dc = g[1].defined() ? plain(g[1]).clone() : zeros({B, H}, acts.dtype(), acts.device());
             Tensor dgates = empty({T, B, 4 * H}, acts.dtype(), acts.device());
             for (int64_t t = T - 1; t >= 0; --t) {
               // Gradient reaching h_t: from the output at step t and from step t + 1.
               Tensor dh_total = g_hs.defined() ? add(g_hs.select(0, t), dh) : dh;
               Tensor c_prev = t == 0 ? cprev0 : cs.select(0, t - 1);
               Tensor dc_prev = empty({B, H}, acts.dtype(), acts.device());
               Tensor dg_t = dgates.select(0, t);
               b.lstm_pointwise_backward(dh_total, dc, acts.select(0, t), c_prev, cs.select(0, t), dg_t, dc_prev);
               dc = dc_prev;
               dh = empty({B, H}, acts.dtype(), acts.device());
               gemm_into(dh, 0.0, dg_t, w, /*trans_b=*/false, B, H, 4 * H);  // dgates_t @ W_hh
             }
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
             return TensorList{dgates, gw, dh, dc};
           });
  }
  return {hs, c_last};
}

}  // namespace mg
