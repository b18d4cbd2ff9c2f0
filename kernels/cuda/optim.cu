// Fused optimizer updates, one thread per parameter element, in place on
// param and the state tensors (all [n], contiguous). Same update rules and
// rounding points as kernels/cpu/nn.cpp: arithmetic in double, each state
// rounded to the element type when stored and read back as stored.
#include <cmath>

#include "kernels/cuda/launch.h"

namespace mg::cuda {

using detail::data_or_null;
using detail::dispatch_float;

namespace {

// PyTorch Adam with L2 weight decay folded into the gradient.
template <typename T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, double lr, double b1, double b2, double eps, double wd,
                            double bc1, double bc2, int64_t n) {
  const int64_t i = global_index();
  if (i >= n) return;
  const double gi = g[i] + wd * p[i];
  const T mi = static_cast<T>(b1 * m[i] + (1.0 - b1) * gi);
  const T vi = static_cast<T>(b2 * v[i] + (1.0 - b2) * gi * gi);
  m[i] = mi;
  v[i] = vi;
  p[i] = static_cast<T>(p[i] - lr * (mi / bc1) / (sqrt(vi / bc2) + eps));
}

// Keras Adamax: u = max(b2 u, |g|); p -= lr / (1 - b1^t) m / (u + eps).
template <typename T>
__global__ void adamax_kernel(T* p, const T* g, T* m, T* u, double lr, double b1, double b2, double eps, double wd,
                              double bc1, int64_t n) {
  const int64_t i = global_index();
  if (i >= n) return;
  const double gi = g[i] + wd * p[i];
  const T mi = static_cast<T>(b1 * m[i] + (1.0 - b1) * gi);
  const T ui = static_cast<T>(fmax(b2 * u[i], fabs(gi)));
  m[i] = mi;
  u[i] = ui;
  p[i] = static_cast<T>(p[i] - lr / bc1 * mi / (ui + eps));
}

// PyTorch SGD: d = g + wd p; buf = momentum buf + d; step = nesterov ? d + momentum buf : buf.
template <typename T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, double lr, double momentum, double wd, bool nesterov, int64_t n) {
  const int64_t i = global_index();
  if (i >= n) return;
  double d = g[i] + wd * p[i];
  if (buf) {
    const T bi = static_cast<T>(momentum * buf[i] + d);
    buf[i] = bi;
    d = nesterov ? d + momentum * bi : bi;
  }
  p[i] = static_cast<T>(p[i] - lr * d);
}

}  // namespace

void CudaBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                            const AdamArgs& a) {
  const int64_t n = param.numel();
  if (n == 0) return;
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(a.step));
  dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adam_kernel<<<blocks_for(n), kThreads>>>(param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), a.lr, a.beta1,
                                             a.beta2, a.eps, a.weight_decay, bc1, bc2, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::adamax_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                              const AdamArgs& a) {
  const int64_t n = param.numel();
  if (n == 0) return;
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
  dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adamax_kernel<<<blocks_for(n), kThreads>>>(param.data<T>(), grad.data<T>(), m.data<T>(), u.data<T>(), a.lr,
                                               a.beta1, a.beta2, a.eps, a.weight_decay, bc1, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
                           double weight_decay, bool nesterov) {
  const int64_t n = param.numel();
  if (n == 0) return;
  dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    sgd_kernel<<<blocks_for(n), kThreads>>>(param.data<T>(), grad.data<T>(), data_or_null<T>(buf), lr, momentum,
                                            weight_decay, nesterov, n);
  });
  MG_CUDA_LAUNCHED();
}

}  // namespace mg::cuda
