// CPU reference: copies, random fills, elementwise maps.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/pointwise.h"
#include "tensor/rng.h"

namespace mg::cpu {

namespace {
// Large maps run on all cores; small ones stay on one (a thread team costs µs).
constexpr int64_t kParallelGrain = 1 << 15;

// Calls f(std::integral_constant<Op, op>{}) for the op known only at run time,
// so that each loop is compiled for a single formula (and vectorised where the
// formula allows) instead of switching on the op for every element.
template <typename Op, Op... kOps, typename F>
void with_op(Op op, F&& f) {
  ((op == kOps ? (f(std::integral_constant<Op, kOps>{}), true) : false) || ...);
}

template <typename F>
void with_unary_op(UnaryOp op, F&& f) {
  using U = UnaryOp;
  with_op<U, U::Neg, U::Exp, U::Log, U::Sqrt, U::Sigmoid, U::Tanh, U::Relu, U::LeakyRelu, U::Pow, U::Affine, U::Abs,
          U::Mask>(op, f);
}

template <typename F>
void with_binary_op(BinaryOp op, F&& f) {
  with_op<BinaryOp, BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div>(op, f);
}
}  // namespace


template <typename D, typename S>
static void copy_typed(const Tensor& dst, const Tensor& src) {
  D* d = static_cast<D*>(dst.data_ptr());
  const S* s = static_cast<const S*>(src.data_ptr());
  if (dst.is_contiguous() && src.is_contiguous()) {
    const int64_t n = dst.numel();
    parallel_for(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) d[i] = static_cast<D>(s[i]);
    });
    return;
  }
  strided_walk<2>(dst.shape(), {&dst.strides(), &src.strides()},
                  [&](int64_t od, int64_t os) { d[od] = static_cast<D>(s[os]); });
}

void CpuBackend::copy(const Tensor& dst, const Tensor& src) {
  if (dst.dtype() == DType::I64 || src.dtype() == DType::I64) {
    MG_CHECK(dst.dtype() == src.dtype(), "copy between int64 and float tensors");
    copy_typed<int64_t, int64_t>(dst, src);
    return;
  }
  dispatch_float(dst.dtype(), [&]<typename D>() {
    dispatch_float(src.dtype(), [&]<typename S>() { copy_typed<D, S>(dst, src); });
  });
}

void CpuBackend::fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (dst.dtype() == DType::I64) {
    std::fill_n(dst.data<int64_t>(), n, static_cast<int64_t>(value));
    return;
  }
  dispatch_float(dst.dtype(), [&]<typename T>() { std::fill_n(dst.data<T>(), n, static_cast<T>(value)); });
}

void CpuBackend::random_uniform(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi) {
  dispatch_float(dst.dtype(), [&]<typename T>() {
    T* d = dst.data<T>();
    const int64_t n = dst.numel();
    parallel_for(n, kParallelGrain / 16, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) d[i] = static_cast<T>(PhiloxScaled::uniform_in(seed, offset + i, lo, hi));
    });
  });
}

void CpuBackend::random_normal(const Tensor& dst, uint64_t seed, uint64_t offset, double mean, double std) {
  dispatch_float(dst.dtype(), [&]<typename T>() {
    T* d = dst.data<T>();
    const int64_t n = dst.numel();
    parallel_for(n, kParallelGrain / 16, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) d[i] = static_cast<T>(PhiloxScaled::normal_with(seed, offset + i, mean, std));
    });
  });
}

void CpuBackend::unary(const UnaryArgs& args, const Tensor& x, const Tensor& y) {
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t n = x.numel();
    const T alpha = static_cast<T>(args.alpha), beta = static_cast<T>(args.beta);
    with_unary_op(args.op, [&](auto op) {
      parallel_for(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) py[i] = pointwise::unary_value(op(), alpha, beta, px[i]);
      });
    });
  });
}

void CpuBackend::unary_backward(const UnaryArgs& args, const Tensor& gy, const Tensor& x, const Tensor& y,
                                const Tensor& gx) {
  dispatch_float(gy.dtype(), [&]<typename T>() {
    const T* pg = gy.data<T>();
    const T* px = x.defined() ? x.data<T>() : nullptr;
    const T* py = y.defined() ? y.data<T>() : nullptr;
    T* pgx = gx.data<T>();
    const int64_t n = gy.numel();
    const T alpha = static_cast<T>(args.alpha), alpha1 = static_cast<T>(args.alpha - 1.0);
    with_unary_op(args.op, [&](auto op) {
      parallel_for(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          const T xi = px ? px[i] : T(0), yi = py ? py[i] : T(0);
          pgx[i] = pg[i] * pointwise::unary_derivative(op(), alpha, alpha1, xi, yi);
        }
      });
    });
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_float(out.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const int64_t n = out.numel();
    with_binary_op(op, [&](auto bop) {
      if (a.is_contiguous() && b.is_contiguous() && a.numel() == n && b.numel() == n) {
        parallel_for(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) po[i] = pointwise::binary_value(bop(), pa[i], pb[i]);
        });
        return;
      }
      strided_walk<3>(out.shape(), {&out.strides(), &a.strides(), &b.strides()},
                      [&](int64_t o, int64_t ia, int64_t ib) { po[o] = pointwise::binary_value(bop(), pa[ia], pb[ib]); });
    });
  });
}

}  // namespace mg::cpu
