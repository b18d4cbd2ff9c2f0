// Convolution lowering: im2col and its adjoint col2im, with the geometry of
// tensor/backend.h. B = batch, C = channels, L = input length, K = kernel,
// T = output length; x [B, C, L], cols [C*K, B, T] with
// cols[c*K + k, b, t] = x[b, c, t*stride - pad_left + k*dilation] (0 outside).
// The three convolution products run through cuDNN or through this lowering
// (tensor/backend.cpp), whichever kernels/cuda/cudnn_conv.h measured faster.
#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/launch.h"
#include "kernels/pointwise.h"

namespace mg::cuda {

using detail::dispatch_float;

namespace {

// One thread per column entry, i = ((c K + k) B + b) T + t.
template <typename T>
__global__ void im2col_kernel(const T* x, T* cols, Conv1dGeometry g, int64_t t_out, int64_t total) {
  const int64_t i = global_index();
  if (i >= total) return;
  const int64_t t = i % t_out;
  const int64_t b = (i / t_out) % g.batch;
  const int64_t row = i / (t_out * g.batch);
  const int64_t c = row / g.kernel, k = row % g.kernel;
  const int64_t pos = pointwise::conv_input_position(g, k, t);
  cols[i] = (pos >= 0 && pos < g.length) ? x[(b * g.channels + c) * g.length + pos] : T(0);
}

// One thread per input element gathers every column entry that reads it
// (pointwise::conv_output_step, the position solved for t): no atomics, so
// the result does not depend on scheduling. Accumulates into x, as the interface asks.
template <typename T>
__global__ void col2im_kernel(const T* cols, T* x, Conv1dGeometry g, int64_t t_out, int64_t total) {
  const int64_t i = global_index();
  if (i >= total) return;
  const int64_t pos = i % g.length, bc = i / g.length;
  const int64_t b = bc / g.channels, c = bc % g.channels;
  T acc = x[i];
  for (int64_t k = 0; k < g.kernel; ++k) {
    const int64_t t = pointwise::conv_output_step(g, k, pos);
    if (t >= 0 && t < t_out) acc += cols[((c * g.kernel + k) * g.batch + b) * t_out + t];
  }
  x[i] = acc;
}

}  // namespace

void CudaBackend::im2col1d(const Tensor& x, const Tensor& cols, const Conv1dGeometry& g) {
  const int64_t t_out = g.out_length(), total = g.batch * g.channels * g.kernel * t_out;
  if (total == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    im2col_kernel<<<blocks_for(total), kThreads>>>(x.data<T>(), cols.data<T>(), g, t_out, total);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::col2im1d(const Tensor& cols, const Tensor& x, const Conv1dGeometry& g) {
  const int64_t t_out = g.out_length(), total = g.batch * g.channels * g.length;
  if (total == 0 || t_out == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    col2im_kernel<<<blocks_for(total), kThreads>>>(cols.data<T>(), x.data<T>(), g, t_out, total);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                                 const Conv1dGeometry& g) {
  cudnn_conv_->run(ConvProduct::Forward, g, w, x, w, bias, y, [&] { Backend::conv1d_forward(x, w, bias, y, g); });
}

void CudaBackend::conv1d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                       const Conv1dGeometry& g) {
  cudnn_conv_->run(ConvProduct::BackwardData, g, w, gy, w, Tensor(), gx,
                   [&] { Backend::conv1d_backward_data(gy, w, gx, g); });
}

void CudaBackend::conv1d_backward_filter(const Tensor& gy, const Tensor& x, const Tensor& gw,
                                         const Conv1dGeometry& g) {
  cudnn_conv_->run(ConvProduct::BackwardFilter, g, gw, x, gy, Tensor(), gw,
                   [&] { Backend::conv1d_backward_filter(gy, x, gw, g); });
}

}  // namespace mg::cuda
