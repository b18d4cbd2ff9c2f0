#pragma once
// The formulas, written once for both backends: the CPU loops (kernels/cpu)
// and the CUDA kernels (kernels/cuda) call these, so the two can only differ
// in rounding and summation order, never in the math. Elementwise maps and
// their derivatives, the LSTM cell (kernels/lstm_cell.inl, which the CPU's
// vectorised kernels share), normalisation and softmax backward, convolution
// positions, and the optimizers' updates and coefficients.
#include <cmath>
#include <cstdint>

#include "tensor/backend.h"

#if defined(__CUDACC__)
#define MG_POINTWISE __host__ __device__ __forceinline__
#else
#define MG_POINTWISE inline
#endif

namespace mg::pointwise {

// Scalar arithmetic with exp and tanh from the math library: the M of the
// LSTM cell's equations (kernels/lstm_cell.inl) for the CPU reference loops,
// where each operation is rounded on its own (-ffp-contract=off), and for the
// CUDA kernels (where nvcc may fuse a multiply and an add).
template <typename T>
struct ScalarMath {
  static MG_POINTWISE T one() { return T(1); }
  static MG_POINTWISE T mul(T a, T b) { return a * b; }
  static MG_POINTWISE T sub(T a, T b) { return a - b; }
  static MG_POINTWISE T madd(T a, T b, T c) { return a * b + c; }
  static MG_POINTWISE T nmadd(T a, T b, T c) { return c - a * b; }
  static MG_POINTWISE T sigmoid(T x) {
    using std::exp;
    return T(1) / (T(1) + exp(-x));
  }
  static MG_POINTWISE T tanh(T x) {
    using std::tanh;
    return tanh(x);
  }
};

// op(x) with the op's parameters a (alpha) and b (beta), in the element type.
template <typename T>
MG_POINTWISE T unary_value(UnaryOp op, T a, T b, T x) {
  using std::exp, std::log, std::sqrt, std::tanh, std::pow, std::fabs;
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Log: return log(x);
    case UnaryOp::Sqrt: return sqrt(x);
    case UnaryOp::Sigmoid: return ScalarMath<T>::sigmoid(x);
    case UnaryOp::Tanh: return tanh(x);
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::LeakyRelu: return x > T(0) ? x : a * x;
    case UnaryOp::Pow: return pow(x, a);
    case UnaryOp::Affine: return a * x + b;
    case UnaryOp::Abs: return fabs(x);
    case UnaryOp::Mask: return x >= a ? b : T(0);
  }
  return x;
}

// d op(x) / dx, given x and y = op(x); a1 = a - 1 (the exponent's derivative for Pow).
template <typename T>
MG_POINTWISE T unary_derivative(UnaryOp op, T a, T a1, T x, T y) {
  using std::pow;
  switch (op) {
    case UnaryOp::Neg: return T(-1);
    case UnaryOp::Exp: return y;
    case UnaryOp::Log: return T(1) / x;
    case UnaryOp::Sqrt: return T(0.5) / y;
    case UnaryOp::Sigmoid: return y * (T(1) - y);
    case UnaryOp::Tanh: return T(1) - y * y;
    case UnaryOp::Relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::LeakyRelu: return x > T(0) ? T(1) : a;
    case UnaryOp::Pow: return a * pow(x, a1);
    case UnaryOp::Affine: return a;
    case UnaryOp::Abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::Mask: return T(0);
  }
  return T(0);
}

// Which of x and y = op(x) the derivative reads: what backward must keep.
MG_POINTWISE constexpr bool derivative_reads_x(UnaryOp op) {
  return op == UnaryOp::Log || op == UnaryOp::Relu || op == UnaryOp::LeakyRelu || op == UnaryOp::Pow ||
         op == UnaryOp::Abs;
}
MG_POINTWISE constexpr bool derivative_reads_y(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sqrt || op == UnaryOp::Sigmoid || op == UnaryOp::Tanh;
}

template <typename T>
MG_POINTWISE T binary_value(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return a;
}

// ---- the LSTM cell's pointwise part, for one (row, unit): the equations
// are kernels/lstm_cell.inl's, shared with the CPU's vectorised kernels.

template <typename T>
struct LstmCellForward {
  T i, f, g, o;  // activated gates, saved for backward
  T c, h;
};

template <typename T>
struct LstmCellBackward {
  T di, df, dg, dout;  // gradients of the four pre-activations
  T dc_prev;
};

#include "kernels/lstm_cell.inl"

// ---- normalisation over x [N, C, L], statistics in double (kernels/*/norm*).
// Instance norm has one group per (n, c), over L; batch norm one per c, over
// N and L.

// Group gi: channel c of the rows n in [n_begin, n_end).
struct NormGroup {
  int64_t c, n_begin, n_end, C, L;
  MG_POINTWISE NormGroup(int64_t gi, int64_t N, int64_t C_, int64_t L_, bool per_instance)
      : c(per_instance ? gi % C_ : gi),
        n_begin(per_instance ? gi / C_ : 0),
        n_end(per_instance ? gi / C_ + 1 : N),
        C(C_),
        L(L_) {}
  MG_POINTWISE int64_t count() const { return (n_end - n_begin) * L; }
  // The offset of element (n, c, 0), and of the group's element e (e < count()).
  MG_POINTWISE int64_t row(int64_t n) const { return (n * C + c) * L; }
  MG_POINTWISE int64_t at(int64_t e) const { return row(n_begin + e / L) + e % L; }
};

// rstd = 1 / sqrt(var + eps), from the sum of squared deviations (the biased
// variance, as both frameworks normalise).
MG_POINTWISE double norm_rstd(double sum_sq, double count, double eps) {
  using std::sqrt;
  return 1.0 / sqrt(sum_sq / count + eps);
}

// xhat = (x - mean) rstd; the output is xhat w + b.
MG_POINTWISE double norm_xhat(double x, double mean, double rstd) { return (x - mean) * rstd; }

// With d = gy w: gx = rstd (d - mean(d) - xhat mean(d xhat)), given the
// group's two means.
MG_POINTWISE double norm_input_grad(double gy, double w, double xhat, double rstd, double mean_d, double mean_dxhat) {
  return rstd * (gy * w - mean_d - xhat * mean_dxhat);
}

// ---- softmax backward over one row, with the row's sum in double:
//   y = softmax(x):     gx = y (g - Σ g y)
//   y = log_softmax(x): gx = g - e^y Σ g
// softmax_grad_term is one element's term of that sum.
template <typename T>
MG_POINTWISE double softmax_grad_term(bool log, T g, T y) {
  return log ? static_cast<double>(g) : static_cast<double>(g) * y;
}
template <typename T>
MG_POINTWISE T softmax_input_grad(bool log, T g, T y, double sum) {
  using std::exp;
  return static_cast<T>(log ? g - exp(static_cast<double>(y)) * sum : y * (g - sum));
}

// ---- convolution positions (Conv1dGeometry): output step t of kernel tap k
// reads input position k dilation - pad_left + t stride (zero outside [0, L)).
// im2col gathers along it, col2im scatters (or, on the GPU, gathers) back.

// The position tap k reads at t = 0.
MG_POINTWISE int64_t conv_tap_origin(const Conv1dGeometry& g, int64_t k) { return k * g.dilation - g.pad_left; }
MG_POINTWISE int64_t conv_input_position(const Conv1dGeometry& g, int64_t k, int64_t t) {
  return conv_tap_origin(g, k) + t * g.stride;
}
// The step t at which tap k reads position pos, or -1 when it never does
// (t may lie past the output's end).
MG_POINTWISE int64_t conv_output_step(const Conv1dGeometry& g, int64_t k, int64_t pos) {
  const int64_t from_origin = pos - conv_tap_origin(g, k);
  return from_origin < 0 || from_origin % g.stride != 0 ? -1 : from_origin / g.stride;
}

// ---- optimizer updates, one element at a time, in place. The arithmetic is
// in double; each state is rounded to the element type T when stored, and the
// parameter update reads the states as stored, so float32 CPU and CUDA runs
// round at the same points.

struct AdamCoeffs {
  double lr, beta1, beta2, eps, weight_decay;
  double bias1, bias2;  // 1 - beta1^t, 1 - beta2^t
};

// The coefficients of step a.step (1-based), on the host, for either backend.
inline AdamCoeffs adam_coeffs(const AdamArgs& a) {
  return {a.lr,
          a.beta1,
          a.beta2,
          a.eps,
          a.weight_decay,
          1.0 - std::pow(a.beta1, static_cast<double>(a.step)),
          1.0 - std::pow(a.beta2, static_cast<double>(a.step))};
}

// Adam (PyTorch's, L2 weight decay folded into the gradient):
//   g' = g + wd p;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'²
//   p -= lr (m / bias1) / (sqrt(v / bias2) + eps)
template <typename T>
MG_POINTWISE void adam_update(T& p, T g, T& m, T& v, const AdamCoeffs& c) {
  const double gi = g + c.weight_decay * p;
  m = static_cast<T>(c.beta1 * m + (1.0 - c.beta1) * gi);
  v = static_cast<T>(c.beta2 * v + (1.0 - c.beta2) * gi * gi);
  p = static_cast<T>(p - c.lr * (m / c.bias1) / (std::sqrt(v / c.bias2) + c.eps));
}

// Adamax as Keras defines it (eps in the denominator, not inside the max, as
// PyTorch has it; the seed notebook trained with Keras), with Keras' weight
// decay: decoupled, p shrinks by lr wd p and the moments see the raw gradient:
//   m = b1 m + (1 - b1) g;  u = max(b2 u, |g|)
//   p -= lr wd p + lr / bias1 · m / (u + eps)
template <typename T>
MG_POINTWISE void adamax_update(T& p, T g, T& m, T& u, const AdamCoeffs& c) {
  m = static_cast<T>(c.beta1 * m + (1.0 - c.beta1) * g);
  const double decayed = c.beta2 * u, mag = g < 0 ? -g : g;
  u = static_cast<T>(decayed > mag ? decayed : mag);
  p = static_cast<T>(p - c.lr * c.weight_decay * p - c.lr / c.bias1 * m / (u + c.eps));
}

// SGD (PyTorch's): d = g + wd p; with momentum, buf = momentum buf + d and the
// step is d + momentum buf (Nesterov) or buf; p -= lr step. buf may be null.
template <typename T>
MG_POINTWISE void sgd_update(T& p, T g, T* buf, double lr, double momentum, double weight_decay, bool nesterov) {
  double d = g + weight_decay * p;
  if (buf) {
    *buf = static_cast<T>(momentum * *buf + d);
    d = nesterov ? d + momentum * *buf : *buf;
  }
  p = static_cast<T>(p - lr * d);
}

}  // namespace mg::pointwise
