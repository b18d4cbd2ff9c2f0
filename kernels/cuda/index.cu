// Row gather and scatter-add along dim 0: src/dst [V, D], index int64 [N]
// (any shape, read flat), out/src rows [N, D]. One thread per (row, column).
#include "kernels/cuda/launch.h"

namespace mg::cuda {

using detail::dispatch_float;

namespace {

template <typename T>
__global__ void index_select_kernel(const T* src, const int64_t* idx, T* out, int64_t n, int64_t d) {
  const int64_t i = global_index();
  if (i >= n * d) return;
  const int64_t row = i / d, col = i - row * d;
  out[i] = src[idx[row] * d + col];
}

// Repeated ids add into the same row, hence atomics; float addition order
// then varies between runs by rounding only (the CPU adds in index order).
template <typename T>
__global__ void index_add_kernel(T* dst, const int64_t* idx, const T* src, int64_t n, int64_t d) {
  const int64_t i = global_index();
  if (i >= n * d) return;
  const int64_t row = i / d, col = i - row * d;
  atomicAdd(dst + idx[row] * d + col, src[i]);
}

}  // namespace

void CudaBackend::index_select(const Tensor& src, const Tensor& index, const Tensor& out) {
  const int64_t v = src.size(0), d = src.numel() / std::max<int64_t>(v, 1), n = index.numel();
  check_indices(index, v, "index_select");
  if (n * d == 0) return;
  dispatch_float(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    index_select_kernel<<<blocks_for(n * d), kThreads>>>(src.data<T>(), index.data<int64_t>(), out.data<T>(), n, d);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::index_add(const Tensor& dst, const Tensor& index, const Tensor& src) {
  const int64_t v = dst.size(0), d = dst.numel() / std::max<int64_t>(v, 1), n = index.numel();
  check_indices(index, v, "index_add");
  if (n * d == 0) return;
  dispatch_float(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    index_add_kernel<<<blocks_for(n * d), kThreads>>>(dst.data<T>(), index.data<int64_t>(), src.data<T>(), n, d);
  });
  MG_CUDA_LAUNCHED();
}

}  // namespace mg::cuda
