// CPU: fused optimizer updates, with the formulas and coefficients of kernels/pointwise.h.
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"
#include "kernels/pointwise.h"

namespace mg::cpu {

namespace {

constexpr int64_t kUpdateGrain = 1 << 15;

}  // namespace

void CpuBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                           const AdamArgs& a) {
  const pointwise::AdamCoeffs c = pointwise::adam_coeffs(a);
  if (param.dtype() == DType::F32)
    return kernels().adam(param.data<float>(), grad.data<float>(), m.data<float>(), v.data<float>(), param.numel(), c);
  dispatch_float(param.dtype(), [&]<typename T>() {
    T *p = param.data<T>(), *pm = m.data<T>(), *pv = v.data<T>();
    const T* g = grad.data<T>();
    parallel_for(param.numel(), kUpdateGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pointwise::adam_update(p[i], g[i], pm[i], pv[i], c);
    });
  });
}

void CpuBackend::adamax_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                             const AdamArgs& a) {
  const pointwise::AdamCoeffs c = pointwise::adam_coeffs(a);
  if (param.dtype() == DType::F32)
    return kernels().adamax(param.data<float>(), grad.data<float>(), m.data<float>(), u.data<float>(), param.numel(),
                            c);
  dispatch_float(param.dtype(), [&]<typename T>() {
    T *p = param.data<T>(), *pm = m.data<T>(), *pu = u.data<T>();
    const T* g = grad.data<T>();
    parallel_for(param.numel(), kUpdateGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pointwise::adamax_update(p[i], g[i], pm[i], pu[i], c);
    });
  });
}

void CpuBackend::sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
                          double weight_decay, bool nesterov) {
  dispatch_float(param.dtype(), [&]<typename T>() {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* pb = buf.defined() ? buf.data<T>() : nullptr;
    parallel_for(param.numel(), kUpdateGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pointwise::sgd_update(p[i], g[i], pb ? pb + i : nullptr, lr, momentum, weight_decay, nesterov);
    });
  });
}

}  // namespace mg::cpu
