// CPU convolutions: im2col and its adjoint col2im, and the lowering of a
// convolution layer onto one GEMM over the whole batch.
// B = batch, C = channels, L = input length, K = kernel, T = output length.
//
// The GEMM reads and writes the activations [B, C, T] in place as the
// matrices [C, B*T] it needs, through column segments (GemmArgs' seg_*: T
// columns per batch item, C*T elements apart), where the portable lowering
// of tensor/backend.cpp copies them to and from that layout. The arithmetic
// is the same, element by element.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/pointwise.h"
#include "tensor/tensor.h"

namespace mg::cpu {

namespace {

// The output steps t whose input position (pointwise::conv_input_position)
// lies in [0, L): [t0, t1). Outside them im2col writes zeros and col2im adds nothing.
std::pair<int64_t, int64_t> valid_steps(const Conv1dGeometry& g, int64_t k, int64_t T_out) {
  const int64_t off = pointwise::conv_tap_origin(g, k);  // position of t = 0
  const int64_t t0 = off >= 0 ? 0 : (-off + g.stride - 1) / g.stride;
  const int64_t t1 = g.length - off <= 0 ? 0 : std::min(T_out, (g.length - off + g.stride - 1) / g.stride);
  return {std::min(t0, t1), t1};
}

}  // namespace

void CpuBackend::im2col1d(const Tensor& x, const Tensor& cols, const Conv1dGeometry& g) {
  const int64_t T_out = g.out_length(), CK = g.channels * g.kernel;
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* pc = cols.data<T>();
    // One task per (row, b): the T_out entries cols[c*K + k, b, :]: zeros, a
    // strided copy of the positions inside the input, zeros.
    each_row(CK * g.batch, T_out, [&](int64_t rb) {
      const int64_t row = rb / g.batch, b = rb % g.batch;
      const int64_t c = row / g.kernel, k = row % g.kernel;
      const auto [t0, t1] = valid_steps(g, k, T_out);
      const T* xin = px + (b * g.channels + c) * g.length;
      T* out = pc + rb * T_out;
      std::fill(out, out + t0, T(0));
      // Steps [t0, t1) read inside the row; with stride 1 they are one run of it.
      if (g.stride == 1) std::copy_n(xin + pointwise::conv_input_position(g, k, t0), t1 - t0, out + t0);
      else
        for (int64_t t = t0; t < t1; ++t) out[t] = xin[pointwise::conv_input_position(g, k, t)];
      std::fill(out + t1, out + T_out, T(0));
    });
  });
}

void CpuBackend::col2im1d(const Tensor& cols, const Tensor& x, const Conv1dGeometry& g) {
  const int64_t T_out = g.out_length();
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* pc = cols.data<T>();
    T* px = x.data<T>();
    // Parallel over (b, c): each writes only its own input row, so no races.
    each_row(g.batch * g.channels, g.kernel * T_out, [&](int64_t bc) {
      const int64_t b = bc / g.channels, c = bc % g.channels;
      for (int64_t k = 0; k < g.kernel; ++k) {
        const auto [t0, t1] = valid_steps(g, k, T_out);
        T* xin = px + (b * g.channels + c) * g.length;
        const T* in = pc + ((c * g.kernel + k) * g.batch + b) * T_out;
        for (int64_t t = t0; t < t1; ++t) xin[pointwise::conv_input_position(g, k, t)] += in[t];
      }
    });
  });
}

namespace {

// [B, R, T] as the matrix [R, B*T]: the GEMM layout of a convolution's
// activations (tensor/backend.h, GemmArgs' column segments).
void batch_columns(const Tensor& t, bool out, GemmArgs& g) {
  const int64_t R = t.size(1), T = t.size(2);
  if (out) {
    g.c = t.data_ptr();
    g.ldc = T;
    g.seg_c = T;
    g.seg_stride_c = R * T;
  } else {
    g.b = t.data_ptr();
    g.ldb = T;
    g.seg_b = T;
    g.seg_stride_b = R * T;
  }
}

}  // namespace

// cols = im2col(x) [C*K, B*T];  y [Cout, B*T as B x T] = W [Cout, C*K] @ cols (+ bias, preloaded)
void CpuBackend::conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                                const Conv1dGeometry& g) {
  const int64_t B = g.batch, Cout = w.size(0), CK = g.channels * g.kernel, T = g.out_length();
  Tensor cols = empty({CK, B * T}, x.dtype(), x.device());
  im2col1d(x, cols, g);
  if (bias.defined()) copy(y, make_view(bias, {B, Cout, T}, {0, bias.strides()[0], 0}, bias.offset()));
  GemmArgs a = contiguous_gemm(y, bias.defined() ? 1.0 : 0.0, false, false, Cout, B * T, CK, w, cols);
  batch_columns(y, true, a);
  gemm(a);
}

// gcols [C*K, B*T] = Wᵀ [C*K, Cout] @ gy [Cout, B*T as B x T];  gx = col2im(gcols)
void CpuBackend::conv1d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv1dGeometry& g) {
  const int64_t B = g.batch, Cout = w.size(0), CK = g.channels * g.kernel, T = g.out_length();
  Tensor gcols = empty({CK, B * T}, gy.dtype(), gy.device());
  GemmArgs a = contiguous_gemm(gcols, 0.0, true, false, CK, B * T, Cout, w, gy);
  batch_columns(gy, false, a);
  gemm(a);
  fill(gx, 0.0);
  col2im1d(gcols, gx, g);
}

// gW [Cout, C*K] = gy [Cout, B*T as B x T] @ im2col(x)ᵀ
void CpuBackend::conv1d_backward_filter(const Tensor& gy, const Tensor& x, const Tensor& gw, const Conv1dGeometry& g) {
  const int64_t B = g.batch, Cout = gw.size(0), CK = g.channels * g.kernel, T = g.out_length();
  Tensor cols = empty({CK, B * T}, x.dtype(), x.device());
  im2col1d(x, cols, g);
  GemmArgs a = contiguous_gemm(gw, 0.0, false, true, Cout, CK, B * T, gy, cols);
  a.lda = T;
  a.seg_a = T;
  a.seg_stride_a = Cout * T;
  gemm(a);
}

}  // namespace mg::cpu
