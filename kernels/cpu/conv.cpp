// CPU reference: the convolution lowering, im2col and its adjoint col2im.
// B = batch, C = channels, L = input length, K = kernel, T = output length.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"

namespace mg::cpu {

void CpuBackend::im2col1d(const Tensor& x, const Tensor& cols, const Conv1dGeometry& g) {
  const int64_t T_out = g.out_length(), CK = g.channels * g.kernel;
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* pc = cols.data<T>();
    // One task per (row, b): the T_out entries cols[c*K + k, b, :].
    each_row(CK * g.batch, T_out, [&](int64_t rb) {
      const int64_t row = rb / g.batch, b = rb % g.batch;
      const int64_t c = row / g.kernel, k = row % g.kernel;
      const T* xin = px + (b * g.channels + c) * g.length;
      T* out = pc + rb * T_out;
      for (int64_t t = 0; t < T_out; ++t) {
        const int64_t pos = t * g.stride - g.pad_left + k * g.dilation;
        out[t] = (pos >= 0 && pos < g.length) ? xin[pos] : T(0);
      }
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
      T* xin = px + (b * g.channels + c) * g.length;
      for (int64_t k = 0; k < g.kernel; ++k) {
        const T* in = pc + ((c * g.kernel + k) * g.batch + b) * T_out;
        for (int64_t t = 0; t < T_out; ++t) {
          const int64_t pos = t * g.stride - g.pad_left + k * g.dilation;
          if (pos >= 0 && pos < g.length) xin[pos] += in[t];
        }
      }
    });
  });
}

}  // namespace mg::cpu
