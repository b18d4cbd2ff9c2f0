// CPU reference: row gather and scatter-add along dim 0 of [V, D] (embeddings).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"

namespace mg::cpu {

void CpuBackend::index_select(const Tensor& src, const Tensor& index, const Tensor& out) {
  const int64_t v = src.size(0), d = src.numel() / std::max<int64_t>(v, 1), n = index.numel();
  const int64_t* idx = index.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) MG_CHECK(idx[i] >= 0 && idx[i] < v, "index {} outside [0, {})", idx[i], v);
  dispatch_float(src.dtype(), [&]<typename T>() {
    const T* ps = src.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < n; ++i) std::copy(ps + idx[i] * d, ps + (idx[i] + 1) * d, po + i * d);
  });
}

void CpuBackend::index_add(const Tensor& dst, const Tensor& index, const Tensor& src) {
  const int64_t v = dst.size(0), d = dst.numel() / std::max<int64_t>(v, 1), n = index.numel();
  const int64_t* idx = index.data<int64_t>();
  dispatch_float(dst.dtype(), [&]<typename T>() {
    T* pd = dst.data<T>();
    const T* ps = src.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) pd[idx[i] * d + j] += ps[i * d + j];
  });
}

}  // namespace mg::cpu
