// Elementwise kernels, strided copies, random fills, reductions.
// n = element count; Strided carries up to 8 dims of shape/strides.
#include <cmath>

#include "kernels/cuda/cuda_backend.h"
#include "tensor/rng.h"

namespace mg::cuda {

using detail::dispatch_float;

namespace {

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

template <typename D, typename S>
__global__ void copy_kernel(D* dst, Strided ds, const S* src, Strided ss, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) dst[offset_of(i, ds)] = static_cast<D>(src[offset_of(i, ss)]);
}

template <typename T>
__global__ void fill_kernel(T* dst, T value, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) dst[i] = value;
}

template <typename T>
__global__ void uniform_kernel(T* dst, uint64_t seed, uint64_t offset, double lo, double hi, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) dst[i] = static_cast<T>(lo + (hi - lo) * Philox::uniform(seed, offset + i));
}

template <typename T>
__global__ void normal_kernel(T* dst, uint64_t seed, uint64_t offset, double mean, double std, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) dst[i] = static_cast<T>(mean + std * Philox::normal(seed, offset + i));
}

// Same formulas as kernels/cpu/elementwise.cpp, in the element type.
template <typename T>
__device__ __forceinline__ T unary_value(UnaryOp op, T a, T b, T x) {
  switch (op) {
    case UnaryOp::Neg:
      return -x;
    case UnaryOp::Exp:
      return exp(x);
    case UnaryOp::Log:
      return log(x);
    case UnaryOp::Sqrt:
      return sqrt(x);
    case UnaryOp::Sigmoid:
      return T(1) / (T(1) + exp(-x));
    case UnaryOp::Tanh:
      return tanh(x);
    case UnaryOp::Relu:
      return x > T(0) ? x : T(0);
    case UnaryOp::LeakyRelu:
      return x > T(0) ? x : a * x;
    case UnaryOp::Pow:
      return pow(x, a);
    case UnaryOp::Affine:
      return a * x + b;
    case UnaryOp::Abs:
      return fabs(x);
    case UnaryOp::Mask:
      return x >= a ? b : T(0);
  }
  return x;
}

template <typename T>
__device__ __forceinline__ T unary_derivative(UnaryOp op, T a, T x, T y) {
  switch (op) {
    case UnaryOp::Neg:
      return T(-1);
    case UnaryOp::Exp:
      return y;
    case UnaryOp::Log:
      return T(1) / x;
    case UnaryOp::Sqrt:
      return T(0.5) / y;
    case UnaryOp::Sigmoid:
      return y * (T(1) - y);
    case UnaryOp::Tanh:
      return T(1) - y * y;
    case UnaryOp::Relu:
      return x > T(0) ? T(1) : T(0);
    case UnaryOp::LeakyRelu:
      return x > T(0) ? T(1) : a;
    case UnaryOp::Pow:
      return a * pow(x, a - T(1));
    case UnaryOp::Affine:
      return a;
    case UnaryOp::Abs:
      return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::Mask:
      return T(0);
  }
  return T(0);
}

template <typename T>
__global__ void unary_kernel(UnaryOp op, T a, T b, const T* x, T* y, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = unary_value(op, a, b, x[i]);
}

template <typename T>
__global__ void unary_backward_kernel(UnaryOp op, T a, const T* gy, const T* x, const T* y, T* gx, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) gx[i] = gy[i] * unary_derivative(op, a, x ? x[i] : T(0), y ? y[i] : T(0));
}

template <typename T>
__device__ __forceinline__ T binary_value(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add:
      return a + b;
    case BinaryOp::Sub:
      return a - b;
    case BinaryOp::Mul:
      return a * b;
    case BinaryOp::Div:
      return a / b;
  }
  return a;
}

template <typename T>
__global__ void binary_contiguous_kernel(BinaryOp op, const T* a, const T* b, T* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = binary_value(op, a[i], b[i]);
}

template <typename T>
__global__ void binary_strided_kernel(BinaryOp op, const T* a, Strided as, const T* b, Strided bs, T* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = binary_value(op, a[offset_of(i, as)], b[offset_of(i, bs)]);
}

// One block per output element: threads stride over the reduced elements
// (geometry `red`: the reduced dims of x) and combine in double, in a fixed
// order, so results are deterministic.
template <typename T>
__global__ void reduce_sum_kernel(const T* x, Strided kept, Strided red, int64_t reduced, T* out) {
  extern __shared__ double partial[];
  const int64_t o = blockIdx.x;
  const int64_t base = offset_of(o, kept);
  double acc = 0.0;
  for (int64_t r = threadIdx.x; r < reduced; r += blockDim.x) acc += x[base + offset_of(r, red)];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[o] = static_cast<T>(partial[0]);
}

template <typename T>
__global__ void argmax_rows_kernel(const T* x, int64_t rows, int64_t n, int64_t* out) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r >= rows) return;
  const T* row = x + r * n;
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j)
    if (row[j] > row[best]) best = j;
  out[r] = best;
}

}  // namespace

void CudaBackend::copy(const Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  Strided ds = strided_of(dst), ss = strided_of(src);
  if (dst.dtype() == DType::I64 || src.dtype() == DType::I64) {
    MG_CHECK(dst.dtype() == src.dtype(), "copy between int64 and float tensors");
    copy_kernel<<<blocks_for(n), 256>>>(dst.data<int64_t>(), ds, src.data<int64_t>(), ss, n);
    MG_CUDA_LAUNCHED();
    return;
  }
  dispatch_float(dst.dtype(), [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_float(src.dtype(), [&](auto stag) {
      using S = decltype(stag);
      copy_kernel<<<blocks_for(n), 256>>>(dst.data<D>(), ds, src.data<S>(), ss, n);
    });
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dtype() == DType::I64) {
    fill_kernel<<<blocks_for(n), 256>>>(dst.data<int64_t>(), static_cast<int64_t>(value), n);
  } else {
    dispatch_float(dst.dtype(), [&](auto tag) {
      using T = decltype(tag);
      fill_kernel<<<blocks_for(n), 256>>>(dst.data<T>(), static_cast<T>(value), n);
    });
  }
  MG_CUDA_LAUNCHED();
}

void CudaBackend::random_uniform(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi) {
  const int64_t n = dst.numel();
  dispatch_float(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    uniform_kernel<<<blocks_for(n), 256>>>(dst.data<T>(), seed, offset, lo, hi, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::random_normal(const Tensor& dst, uint64_t seed, uint64_t offset, double mean, double std) {
  const int64_t n = dst.numel();
  dispatch_float(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    normal_kernel<<<blocks_for(n), 256>>>(dst.data<T>(), seed, offset, mean, std, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::unary(const UnaryArgs& args, const Tensor& x, const Tensor& y) {
  const int64_t n = x.numel();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    unary_kernel<<<blocks_for(n), 256>>>(args.op, static_cast<T>(args.alpha), static_cast<T>(args.beta), x.data<T>(),
                                         y.data<T>(), n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::unary_backward(const UnaryArgs& args, const Tensor& gy, const Tensor& x, const Tensor& y,
                                 const Tensor& gx) {
  const int64_t n = gy.numel();
  dispatch_float(gy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    unary_backward_kernel<<<blocks_for(n), 256>>>(args.op, static_cast<T>(args.alpha), gy.data<T>(),
                                                  x.defined() ? x.data<T>() : nullptr,
                                                  y.defined() ? y.data<T>() : nullptr, gx.data<T>(), n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t n = out.numel();
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (a.is_contiguous() && b.is_contiguous() && a.numel() == n && b.numel() == n) {
      binary_contiguous_kernel<<<blocks_for(n), 256>>>(op, a.data<T>(), b.data<T>(), out.data<T>(), n);
    } else {
      binary_strided_kernel<<<blocks_for(n), 256>>>(op, a.data<T>(), strided_of(a), b.data<T>(), strided_of(b),
                                                    out.data<T>(), n);
    }
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::reduce_sum(const Tensor& x, const Tensor& out) {
  // Split x's dims into kept ones (out has their size) and reduced ones (out has 1).
  Shape kept_shape, kept_strides, red_shape, red_strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = out.shape()[static_cast<size_t>(d)] == 1 && x.size(d) != 1;
    (reduced ? red_shape : kept_shape).push_back(x.size(d));
    (reduced ? red_strides : kept_strides).push_back(x.strides()[static_cast<size_t>(d)]);
  }
  const int64_t outputs = out.numel(), reduced = shape_numel(red_shape);
  int threads = 1;
  while (threads < 256 && threads < reduced) threads <<= 1;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    reduce_sum_kernel<<<static_cast<unsigned>(outputs), threads, threads * sizeof(double)>>>(
        x.data<T>(), strided_of(kept_shape, kept_strides), strided_of(red_shape, red_strides), reduced, out.data<T>());
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::argmax_rows(const Tensor& x, const Tensor& out) {
  const int64_t rows = x.size(0), n = x.size(1);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    argmax_rows_kernel<<<blocks_for(rows), 256>>>(x.data<T>(), rows, n, out.data<int64_t>());
  });
  MG_CUDA_LAUNCHED();
}

}  // namespace mg::cuda
