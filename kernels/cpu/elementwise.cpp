// CPU reference: copies, random fills, elementwise maps.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/isa.h"
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
  if (dst.dtype() == DType::F32) return kernels().random_uniform(seed, offset, lo, hi, dst.data<float>(), dst.numel());
  random_uniform_reference(dst, seed, offset, lo, hi);
}

void random_uniform_reference(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi) {
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
  if (x.dtype() == DType::F32)
    return kernels().unary(args.op, static_cast<float>(args.alpha), static_cast<float>(args.beta), x.data<float>(),
                           y.data<float>(), x.numel());
  unary_reference(args, x, y);
}

void unary_reference(const UnaryArgs& args, const Tensor& x, const Tensor& y) {
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
  if (gy.dtype() == DType::F32)
    return kernels().unary_backward(args.op, static_cast<float>(args.alpha), gy.data<float>(),
                                    x.defined() ? x.data<float>() : nullptr, y.defined() ? y.data<float>() : nullptr,
                                    gx.data<float>(), gy.numel());
  unary_backward_reference(args, gy, x, y, gx);
}

void unary_backward_reference(const UnaryArgs& args, const Tensor& gy, const Tensor& x, const Tensor& y,
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

namespace {

// A float32 binary op as rows: after merging the dimensions that are
// contiguous in all three operands, every row along the innermost dimension
// reads a and b with stride 0 (broadcast) or 1. False (nothing done) when
// the layout does not fit or the rows are too short to pay for a call each.
bool binary_rows(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  Shape shape = out.shape(), so = out.strides(), sa = a.strides(), sb = b.strides();
  for (size_t d = shape.size(); d-- > 1;) {
    const bool merges = so[d - 1] == so[d] * shape[d] && sa[d - 1] == sa[d] * shape[d] && sb[d - 1] == sb[d] * shape[d];
    if (!merges) continue;
    shape[d - 1] *= shape[d];
    shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(d));
    for (Shape* s : {&so, &sa, &sb}) {
      (*s)[d - 1] = (*s)[d];  // the merged dimension steps like the inner one
      s->erase(s->begin() + static_cast<std::ptrdiff_t>(d));
    }
  }
  if (shape.empty()) return false;
  const size_t nd = shape.size();
  const int64_t inner = shape[nd - 1];
  if (inner < 16 || so[nd - 1] != 1 || (sa[nd - 1] != 0 && sa[nd - 1] != 1) || (sb[nd - 1] != 0 && sb[nd - 1] != 1))
    return false;
  const int64_t rows = out.numel() / inner;
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* po = out.data<float>();
  const auto row_kernel = kernels().binary_row;
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oa = 0, ob = 0, oo = 0;
      for (int64_t d = static_cast<int64_t>(nd) - 2, rest = r; d >= 0; --d) {
        const int64_t i = rest % shape[static_cast<size_t>(d)];
        rest /= shape[static_cast<size_t>(d)];
        oa += i * sa[static_cast<size_t>(d)];
        ob += i * sb[static_cast<size_t>(d)];
        oo += i * so[static_cast<size_t>(d)];
      }
      row_kernel(op, pa + oa, sa[nd - 1], pb + ob, sb[nd - 1], po + oo, inner);
    }
  });
  return true;
}

}  // namespace

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (out.dtype() == DType::F32 && binary_rows(op, a, b, out)) return;
  binary_reference(op, a, b, out);
}

void binary_reference(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
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
