// Strided copies, fills, random fills and elementwise maps.
// n = element count; Strided carries up to 8 dims of shape/strides; one
// thread per output element.
#include <cmath>

#include "kernels/cuda/launch.h"
#include "kernels/pointwise.h"
#include "tensor/rng.h"

namespace mg::cuda {

using detail::data_or_null;
using detail::dispatch_float;

namespace {

template <typename D, typename S>
__global__ void copy_contiguous_kernel(D* dst, const S* src, int64_t n) {
  const int64_t i = global_index();
  if (i < n) dst[i] = static_cast<D>(src[i]);
}

template <typename D, typename S>
__global__ void copy_strided_kernel(D* dst, Strided ds, const S* src, Strided ss, int64_t n) {
  const int64_t i = global_index();
  if (i < n) dst[offset_of(i, ds)] = static_cast<D>(src[offset_of(i, ss)]);
}

template <typename D, typename S>
void launch_copy(const Tensor& dst, const Tensor& src, int64_t n) {
  if (dst.is_contiguous() && src.is_contiguous()) {
    copy_contiguous_kernel<<<blocks_for(n), kThreads>>>(static_cast<D*>(dst.data_ptr()),
                                                         static_cast<const S*>(src.data_ptr()), n);
  } else {
    // src is read under dst's shape, as in the CPU reference.
    copy_strided_kernel<<<blocks_for(n), kThreads>>>(static_cast<D*>(dst.data_ptr()), strided_of(dst),
                                                      static_cast<const S*>(src.data_ptr()),
                                                      strided_of(dst.shape(), src.strides()), n);
  }
  MG_CUDA_LAUNCHED();
}

template <typename T>
__global__ void fill_kernel(T* dst, T value, int64_t n) {
  const int64_t i = global_index();
  if (i < n) dst[i] = value;
}

// lo + (hi - lo) u as one fused multiply-add: the CPU reference, built with
// -march=native, contracts the same expression to an FMA, and the two must
// agree bit for bit.
template <typename T>
__global__ void uniform_kernel(T* dst, uint64_t seed, uint64_t offset, double lo, double hi, int64_t n) {
  const int64_t i = global_index();
  if (i < n) dst[i] = static_cast<T>(PhiloxScaled::uniform_in(seed, offset + i, lo, hi));
}

template <typename T>
__global__ void normal_kernel(T* dst, uint64_t seed, uint64_t offset, double mean, double std, int64_t n) {
  const int64_t i = global_index();
  if (i < n) dst[i] = static_cast<T>(PhiloxScaled::normal_with(seed, offset + i, mean, std));
}

template <typename T>
__global__ void unary_kernel(UnaryOp op, T a, T b, const T* x, T* y, int64_t n) {
  const int64_t i = global_index();
  if (i < n) y[i] = pointwise::unary_value(op, a, b, x[i]);
}

template <typename T>
__global__ void unary_backward_kernel(UnaryOp op, T a, T a1, const T* gy, const T* x, const T* y, T* gx, int64_t n) {
  const int64_t i = global_index();
  if (i < n) gx[i] = gy[i] * pointwise::unary_derivative(op, a, a1, x ? x[i] : T(0), y ? y[i] : T(0));
}

template <typename T>
__global__ void binary_contiguous_kernel(BinaryOp op, const T* a, const T* b, T* out, int64_t n) {
  const int64_t i = global_index();
  if (i < n) out[i] = pointwise::binary_value(op, a[i], b[i]);
}

// a and b under out's shape with their own strides (0 on broadcast dims).
template <typename T>
__global__ void binary_strided_kernel(BinaryOp op, const T* a, Strided as, const T* b, Strided bs, T* out, int64_t n) {
  const int64_t i = global_index();
  if (i < n) out[i] = pointwise::binary_value(op, a[offset_of(i, as)], b[offset_of(i, bs)]);
}

}  // namespace

void CudaBackend::copy(const Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dtype() == DType::I64 || src.dtype() == DType::I64) {
    MG_CHECK(dst.dtype() == src.dtype(), "copy between int64 and float tensors");
    launch_copy<int64_t, int64_t>(dst, src, n);
    return;
  }
  dispatch_float(dst.dtype(), [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_float(src.dtype(), [&](auto stag) {
      using S = decltype(stag);
      launch_copy<D, S>(dst, src, n);
    });
  });
}

void CudaBackend::fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dtype() == DType::I64) {
    fill_kernel<<<blocks_for(n), kThreads>>>(dst.data<int64_t>(), static_cast<int64_t>(value), n);
  } else {
    dispatch_float(dst.dtype(), [&](auto tag) {
      using T = decltype(tag);
      fill_kernel<<<blocks_for(n), kThreads>>>(dst.data<T>(), static_cast<T>(value), n);
    });
  }
  MG_CUDA_LAUNCHED();
}

void CudaBackend::random_uniform(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  dispatch_float(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    uniform_kernel<<<blocks_for(n), kThreads>>>(dst.data<T>(), seed, offset, lo, hi, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::random_normal(const Tensor& dst, uint64_t seed, uint64_t offset, double mean, double std) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  dispatch_float(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    normal_kernel<<<blocks_for(n), kThreads>>>(dst.data<T>(), seed, offset, mean, std, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::unary(const UnaryArgs& args, const Tensor& x, const Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    unary_kernel<<<blocks_for(n), kThreads>>>(args.op, static_cast<T>(args.alpha), static_cast<T>(args.beta),
                                              x.data<T>(), y.data<T>(), n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::unary_backward(const UnaryArgs& args, const Tensor& gy, const Tensor& x, const Tensor& y,
                                 const Tensor& gx) {
  const int64_t n = gy.numel();
  if (n == 0) return;
  dispatch_float(gy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // alpha - 1 in double, then rounded: the CPU reference's order.
    unary_backward_kernel<<<blocks_for(n), kThreads>>>(args.op, static_cast<T>(args.alpha),
                                                       static_cast<T>(args.alpha - 1.0), gy.data<T>(),
                                                       data_or_null<T>(x), data_or_null<T>(y), gx.data<T>(), n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (a.is_contiguous() && b.is_contiguous() && a.numel() == n && b.numel() == n) {
      binary_contiguous_kernel<<<blocks_for(n), kThreads>>>(op, a.data<T>(), b.data<T>(), out.data<T>(), n);
    } else {
      binary_strided_kernel<<<blocks_for(n), kThreads>>>(op, a.data<T>(), strided_of(out.shape(), a.strides()),
                                                         b.data<T>(), strided_of(out.shape(), b.strides()),
                                                         out.data<T>(), n);
    }
  });
  MG_CUDA_LAUNCHED();
}

}  // namespace mg::cuda
