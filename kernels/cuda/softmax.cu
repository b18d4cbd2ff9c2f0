// Softmax family over the last dim: x, y [rows, n]; cross-entropy over
// logits [N, C] with int64 targets [N]. One block per row; row statistics
// (max, sum of exponentials, dot products) in double, like the CPU reference.
#include <cmath>

#include "kernels/cuda/launch.h"
#include "kernels/pointwise.h"

namespace mg::cuda {

using detail::dispatch_float;

namespace {

// Max and sum of exp(x - max) over one row, for every thread of the block.
template <typename T>
__device__ void row_stats(const T* xr, int64_t n, double& mx, double& sum) {
  mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) mx = fmax(mx, static_cast<double>(xr[j]));
  mx = block_max(mx);
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += exp(static_cast<double>(xr[j]) - mx);
  sum = block_sum(s);
}

template <typename T>
__global__ void softmax_kernel(const T* x, T* y, int64_t n, bool log_out) {
  const T* xr = x + blockIdx.x * n;
  T* yr = y + blockIdx.x * n;
  double mx, sum;
  row_stats(xr, n, mx, sum);
  const double lse = log(sum);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const double v = static_cast<double>(xr[j]) - mx;
    yr[j] = static_cast<T>(log_out ? v - lse : exp(v) / sum);
  }
}

// y = softmax(x):     gx = y (g - sum(g y))
// y = log_softmax(x): gx = g - exp(y) sum(g)
// (the formula of kernels/pointwise.h, shared with the CPU reference)
template <typename T>
__global__ void softmax_backward_kernel(const T* gy, const T* y, T* gx, int64_t n, bool log_out) {
  const T* g = gy + blockIdx.x * n;
  const T* yr = y + blockIdx.x * n;
  T* out = gx + blockIdx.x * n;
  double acc = 0.0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) acc += pointwise::softmax_grad_term(log_out, g[j], yr[j]);
  acc = block_sum(acc);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
    out[j] = pointwise::softmax_input_grad(log_out, g[j], yr[j], acc);
}

// The loss comes from the logits (log-sum-exp minus the target logit), not
// from log(prob), so that it stays finite when a probability underflows.
template <typename T>
__global__ void cross_entropy_kernel(const T* logits, const int64_t* targets, T* losses, T* probs, int64_t n) {
  const T* xr = logits + blockIdx.x * n;
  T* pr = probs + blockIdx.x * n;
  double mx, sum;
  row_stats(xr, n, mx, sum);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
    pr[j] = static_cast<T>(exp(static_cast<double>(xr[j]) - mx) / sum);
  if (threadIdx.x == 0)
    losses[blockIdx.x] = static_cast<T>(log(sum) - (static_cast<double>(xr[targets[blockIdx.x]]) - mx));
}

template <typename T>
__global__ void probs_minus_onehot_kernel(const T* probs, const int64_t* targets, T* grad, int64_t rows, int64_t n) {
  const int64_t i = global_index();
  if (i >= rows * n) return;
  const int64_t r = i / n, j = i - r * n;
  grad[i] = targets[r] == j ? probs[i] - T(1) : probs[i];
}

}  // namespace

void CudaBackend::softmax(const Tensor& x, const Tensor& y, bool log_out) {
  const int64_t n = x.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
  if (rows == 0 || n == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<<<static_cast<unsigned>(rows), threads_for_row(n)>>>(x.data<T>(), y.data<T>(), n, log_out);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::softmax_backward(const Tensor& gy, const Tensor& y, const Tensor& gx, bool log_out) {
  const int64_t n = y.size(-1), rows = y.numel() / std::max<int64_t>(n, 1);
  if (rows == 0 || n == 0) return;
  dispatch_float(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    softmax_backward_kernel<<<static_cast<unsigned>(rows), threads_for_row(n)>>>(gy.data<T>(), y.data<T>(),
                                                                                gx.data<T>(), n, log_out);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& losses,
                                const Tensor& probs) {
  const int64_t rows = logits.size(0), n = logits.size(1);
  if (rows == 0) return;
  // Checked on the host before launch (targets are one int64 per row): the
  // same message as the CPU backend, and no wild read on the device.
  check_indices(targets, n, "cross_entropy: target");
  dispatch_float(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cross_entropy_kernel<<<static_cast<unsigned>(rows), threads_for_row(n)>>>(
        logits.data<T>(), targets.data<int64_t>(), losses.data<T>(), probs.data<T>(), n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::probs_minus_onehot(const Tensor& probs, const Tensor& targets, const Tensor& grad) {
  const int64_t rows = probs.size(0), n = probs.size(1);
  if (rows * n == 0) return;
  dispatch_float(probs.dtype(), [&](auto tag) {
    using T = decltype(tag);
    probs_minus_onehot_kernel<<<blocks_for(rows * n), kThreads>>>(probs.data<T>(), targets.data<int64_t>(),
                                                                  grad.data<T>(), rows, n);
  });
  MG_CUDA_LAUNCHED();
}

}  // namespace mg::cuda
