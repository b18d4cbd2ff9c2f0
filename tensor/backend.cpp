#include "tensor/backend.h"

namespace mg {

// GEMM arguments for C [m, n] = op(A) op(B) + beta C over contiguous row-major
// tensors: leading dimensions follow from the shapes; no batch.
GemmArgs contiguous_gemm(const Tensor& c, double beta, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                         const Tensor& a, const Tensor& b) {
  GemmArgs g;
  g.dtype = c.dtype();
  g.trans_a = ta;
  g.trans_b = tb;
  g.m = m;
  g.n = n;
  g.k = k;
  g.beta = beta;
  g.a = a.data_ptr();
  g.lda = ta ? m : k;
  g.b = b.data_ptr();
  g.ldb = tb ? k : n;
  g.c = c.data_ptr();
  g.ldc = n;
  return g;
}

namespace {

// z [B, C, L] as z' [C, B*L] (a copy), the layout in which a convolution over
// the whole batch is one GEMM.
Tensor channel_major(Backend& be, const Tensor& z) {
  const int64_t B = z.size(0), C = z.size(1), L = z.size(2);
  Tensor out = empty({C, B * L}, z.dtype(), z.device());
  be.copy(out.view({C, B, L}), z.permute({1, 0, 2}));
  return out;
}

// z' [C, B*L] back into z [B, C, L].
void batch_major_into(Backend& be, const Tensor& z2, const Tensor& z) {
  const int64_t B = z.size(0), C = z.size(1), L = z.size(2);
  be.copy(z, z2.view({C, B, L}).permute({1, 0, 2}));
}

}  // namespace

// cols = im2col(x) [C*K, B*T];  y' = W [Cout, C*K] @ cols (+ bias, preloaded);  y = y' as [B, Cout, T]
void Backend::conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                             const Conv1dGeometry& g) {
  const int64_t B = g.batch, Cout = w.size(0), CK = g.channels * g.kernel, T = g.out_length();
  Tensor cols = empty({CK, B * T}, x.dtype(), x.device());
  im2col1d(x, cols, g);
  Tensor y2 = empty({Cout, B * T}, x.dtype(), x.device());
  if (bias.defined()) copy(y2, make_view(bias, {Cout, B * T}, {bias.strides()[0], 0}, bias.offset()));
  gemm(contiguous_gemm(y2, bias.defined() ? 1.0 : 0.0, false, false, Cout, B * T, CK, w, cols));
  batch_major_into(*this, y2, y);
}

// gcols = Wᵀ [C*K, Cout] @ gy' [Cout, B*T];  gx = col2im(gcols)
void Backend::conv1d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv1dGeometry& g) {
  const int64_t B = g.batch, Cout = w.size(0), CK = g.channels * g.kernel, T = g.out_length();
  const Tensor gy2 = channel_major(*this, gy);
  Tensor gcols = empty({CK, B * T}, gy.dtype(), gy.device());
  gemm(contiguous_gemm(gcols, 0.0, true, false, CK, B * T, Cout, w, gy2));
  fill(gx, 0.0);
  col2im1d(gcols, gx, g);
}

// gW [Cout, C*K] = gy' [Cout, B*T] @ im2col(x)ᵀ
void Backend::conv1d_backward_filter(const Tensor& gy, const Tensor& x, const Tensor& gw, const Conv1dGeometry& g) {
  const int64_t B = g.batch, Cout = gw.size(0), CK = g.channels * g.kernel, T = g.out_length();
  Tensor cols = empty({CK, B * T}, x.dtype(), x.device());
  im2col1d(x, cols, g);
  const Tensor gy2 = channel_major(*this, gy);
  gemm(contiguous_gemm(gw, 0.0, false, true, Cout, CK, B * T, gy2, cols));
}

void Backend::lstm_sequence_forward(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0,
                                    const Tensor& hs, const Tensor& cs, const Tensor& acts) {
  const int64_t T = xproj.size(0), B = xproj.size(1), H = w_hh.size(1);
  Tensor gates = empty({B, 4 * H}, xproj.dtype(), xproj.device());
  for (int64_t t = 0; t < T; ++t) {
    const Tensor h_prev = t == 0 ? h0 : hs.select(0, t - 1);
    const Tensor c_prev = t == 0 ? c0 : cs.select(0, t - 1);
    copy(gates, xproj.select(0, t));
    gemm(contiguous_gemm(gates, 1.0, false, true, B, 4 * H, H, h_prev, w_hh));  // += h_{t-1} W_hhᵀ
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
    gemm(contiguous_gemm(dh, 0.0, false, false, B, H, 4 * H, dg_t, w_hh));  // dgates_t W_hh
  }
  copy(dh0, dh);
  copy(dc0, dc);
}

void Backend::spectral_convergence(const Tensor&, const Tensor&, int64_t, double, const Tensor&) {
  fail("spectral_convergence: not implemented on {}", device_name(device()));
}

void Backend::spectral_convergence_backward(const Tensor&, const Tensor&, int64_t, double, const Tensor&, const Tensor&,
                                            const Tensor&) {
  fail("spectral_convergence_backward: not implemented on {}", device_name(device()));
}

void Backend::feature_magnitudes(const Tensor&, const Tensor&, double, double, double, double, const Tensor&,
                                 const Tensor&) {
  fail("feature_magnitudes: not implemented on {}", device_name(device()));
}

void Backend::feature_magnitudes_backward(const Tensor&, const Tensor&, double, double, double, const Tensor&,
                                          const Tensor&, const Tensor&) {
  fail("feature_magnitudes_backward: not implemented on {}", device_name(device()));
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
void select_cuda_device(int) {}
std::string cuda_conv_library() { return "none (built without CUDA)"; }
#endif

}  // namespace mg
