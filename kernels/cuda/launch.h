#pragma once
// Launch geometry and device-side helpers shared by the kernels/cuda/*.cu
// files: the global thread index, strided offsets, block reductions.
// Include only from .cu files.
#include "kernels/cuda/cuda_backend.h"

namespace mg::cuda {

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// A power of two in [32, kThreads] for one block per row of n elements:
// short rows (a small vocabulary) should not idle 200 threads.
inline int threads_for_row(int64_t n) {
  int t = 32;
  while (t < kThreads && t < n) t <<= 1;
  return t;
}

// 64-bit, so that tensors over 2^31 elements cannot wrap the index.
__device__ __forceinline__ int64_t global_index() {
  return blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
}

// Element offset of row-major linear index i under s's strides.
__device__ __forceinline__ int64_t offset_of(int64_t i, const Strided& s) {
  int64_t off = 0;
  for (int d = s.nd - 1; d >= 0; --d) {
    const int64_t q = i / s.shape[d];
    off += (i - q * s.shape[d]) * s.stride[d];
    i = q;
  }
  return off;
}

struct SumOp {
  __device__ double operator()(double a, double b) const { return a + b; }
};
struct MaxOp {
  __device__ double operator()(double a, double b) const { return fmax(a, b); }
};

// Block-wide tree reduction of one double per thread (blockDim.x a power of
// two <= kThreads); every thread gets the result. The order is fixed, so the
// result does not depend on scheduling. Safe to call repeatedly in a kernel.
template <typename Op>
__device__ double block_reduce(double v, Op op) {
  __shared__ double shared[kThreads];
  shared[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] = op(shared[threadIdx.x], shared[threadIdx.x + s]);
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();  // the next call overwrites shared[]
  return total;
}

__device__ __forceinline__ double block_sum(double v) { return block_reduce(v, SumOp{}); }
__device__ __forceinline__ double block_max(double v) { return block_reduce(v, MaxOp{}); }

}  // namespace mg::cuda
