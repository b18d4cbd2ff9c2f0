#include "tensor/backend.h"

namespace mg {

namespace {

// C [m, n] = A [m, k] op(B) + beta C over contiguous row-major tensors.
void gemm_contiguous(Backend& be, const Tensor& c, double beta, const Tensor& a, const Tensor& b, bool trans_b,
                     int64_t m, int64_t n, int64_t k) {
  GemmArgs g;
  g.dtype = c.dtype();
  g.trans_b = trans_b;
  g.m = m;
  g.n = n;
  g.k = k;
  g.beta = beta;
  g.a = a.data_ptr();
  g.lda = k;
  g.b = b.data_ptr();
  g.ldb = trans_b ? k : n;
  g.c = c.data_ptr();
  g.ldc = n;
  be.gemm(g);
}

}  // namespace

void Backend::lstm_sequence_forward(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0,
                                    const Tensor& hs, const Tensor& cs, const Tensor& acts) {
  const int64_t T = xproj.size(0), B = xproj.size(1), H = w_hh.size(1);
  Tensor gates = empty({B, 4 * H}, xproj.dtype(), xproj.device());
  for (int64_t t = 0; t < T; ++t) {
    const Tensor h_prev = t == 0 ? h0 : hs.select(0, t - 1);
    const Tensor c_prev = t == 0 ? c0 : cs.select(0, t - 1);
    copy(gates, xproj.select(0, t));
    gemm_contiguous(*this, gates, 1.0, h_prev, w_hh, /*trans_b=*/true, B, 4 * H, H);  // += h_{t-1} W_hhᵀ
    lstm_pointwise_forward(gates, c_prev, hs.select(0, t), cs.select(0, t), acts.select(0, t));
  }
}

void Backend::lstm_sequence_backward(const Tensor& g_hs, const Tensor& g_c_last, const Tensor& w_hh,
                                     const Tensor& acts, const Tensor& cs, const Tensor& c0, const Tensor& dgates,
                                     const Tensor& dh0, const Tensor& dc0) {
  const int64_t T = acts.size(0), B = acts.size(1), H = w_hh.size(1);
  // dh: the gradient reaching h_t from step t + 1; dc likewise for c_t.
  Tensor dh = empty({B, H}, acts.dtype(), acts.device()), dh_total = empty_like(dh);
  Tensor dc = empty_like(dh), dc_prev = empty_like(dh);
  fill(dh, 0.0);
  if (g_c_last.defined()) copy(dc, g_c_last);
  else fill(dc, 0.0);
  for (int64_t t = T - 1; t >= 0; --t) {
    if (g_hs.defined()) binary(BinaryOp::Add, g_hs.select(0, t), dh, dh_total);
    const Tensor& dh_t = g_hs.defined() ? dh_total : dh;
    const Tensor c_prev = t == 0 ? c0 : cs.select(0, t - 1);
    const Tensor dg_t = dgates.select(0, t);
    lstm_pointwise_backward(dh_t, dc, acts.select(0, t), c_prev, cs.select(0, t), dg_t, dc_prev);
    std::swap(dc, dc_prev);
    gemm_contiguous(*this, dh, 0.0, dg_t, w_hh, /*trans_b=*/false, B, H, 4 * H);  // dgates_t W_hh
  }
  copy(dh0, dh);
  copy(dc0, dc);
}

Backend& backend_for(Device device) {
  if (device == Device::CPU) return cpu_backend();
#if defined(MUSICGEN_WITH_CUDA)
  return cuda_backend();
#else
  fail("--device cuda: this musicgen was built without CUDA (nvcc was not found at configure time)");
#endif
}

#if !defined(MUSICGEN_WITH_CUDA)
bool cuda_available() { return false; }
#endif

}  // namespace mg
