// Fused optimizer updates, one thread per parameter element, in place on
// param and the state tensors (all [n], contiguous), with the update rules of
// kernels/pointwise.h that the CPU loops use too (Adam's and Adamax's
// coefficients included: pointwise::adam_coeffs).
#include "kernels/cuda/launch.h"
#include "kernels/pointwise.h"

namespace mg::cuda {

using detail::data_or_null;
using detail::dispatch_float;

namespace {

// The formulas are kernels/pointwise.h's, shared with the CPU loops.
template <typename T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, pointwise::AdamCoeffs c, int64_t n) {
  const int64_t i = global_index();
  if (i < n) pointwise::adam_update(p[i], g[i], m[i], v[i], c);
}

template <typename T>
__global__ void adamax_kernel(T* p, const T* g, T* m, T* u, pointwise::AdamCoeffs c, int64_t n) {
  const int64_t i = global_index();
  if (i < n) pointwise::adamax_update(p[i], g[i], m[i], u[i], c);
}

template <typename T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, double lr, double momentum, double wd, bool nesterov, int64_t n) {
  const int64_t i = global_index();
  if (i < n) pointwise::sgd_update(p[i], g[i], buf ? buf + i : nullptr, lr, momentum, wd, nesterov);
}

}  // namespace

void CudaBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                            const AdamArgs& a) {
  const int64_t n = param.numel();
  if (n == 0) return;
  const pointwise::AdamCoeffs c = pointwise::adam_coeffs(a);
  dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adam_kernel<<<blocks_for(n), kThreads>>>(param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), c, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::adamax_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                              const AdamArgs& a) {
  const int64_t n = param.numel();
  if (n == 0) return;
  const pointwise::AdamCoeffs c = pointwise::adam_coeffs(a);
  dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adamax_kernel<<<blocks_for(n), kThreads>>>(param.data<T>(), grad.data<T>(), m.data<T>(), u.data<T>(), c, n);
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
