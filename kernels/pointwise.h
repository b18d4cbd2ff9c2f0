#pragma once
// The elementwise formulas, written once for both backends: the CPU loops
// (kernels/cpu) and the CUDA kernels (kernels/cuda) call these, so the two
// can only differ in rounding, never in the math.
#include <cmath>

#include "tensor/backend.h"

#if defined(__CUDACC__)
#define MG_POINTWISE __host__ __device__ __forceinline__
#else
#define MG_POINTWISE inline
#endif

namespace mg::pointwise {

// op(x) with the op's parameters a (alpha) and b (beta), in the element type.
template <typename T>
MG_POINTWISE T unary_value(UnaryOp op, T a, T b, T x) {
  using std::exp, std::log, std::sqrt, std::tanh, std::pow, std::fabs;
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Log: return log(x);
    case UnaryOp::Sqrt: return sqrt(x);
    case UnaryOp::Sigmoid: return T(1) / (T(1) + exp(-x));
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

// ---- the LSTM cell's pointwise part, for one (row, unit): gate
// pre-activations in the order i, f, g, o (Keras calls g "c").

template <typename T>
struct LstmCellForward {
  T i, f, g, o;  // activated gates, saved for backward
  T c, h;
};

//   i, f, o = σ(·);  g = tanh(·);  c = f c_prev + i g;  h = o tanh(c)
template <typename T>
MG_POINTWISE LstmCellForward<T> lstm_cell_forward(T pre_i, T pre_f, T pre_g, T pre_o, T c_prev) {
  using std::exp, std::tanh;
  LstmCellForward<T> r;
  r.i = T(1) / (T(1) + exp(-pre_i));
  r.f = T(1) / (T(1) + exp(-pre_f));
  r.g = tanh(pre_g);
  r.o = T(1) / (T(1) + exp(-pre_o));
  r.c = r.f * c_prev + r.i * r.g;
  r.h = r.o * tanh(r.c);
  return r;
}

template <typename T>
struct LstmCellBackward {
  T di, df, dg, dout;  // gradients of the four pre-activations
  T dc_prev;
};

// From the gradients reaching h and c (gh, gc) and the saved activations:
//   dc = gc + gh o (1 - tanh² c)
//   di = dc g i(1-i);  df = dc c_prev f(1-f);  dg = dc i (1-g²);  do = gh tanh(c) o(1-o)
//   dc_prev = dc f
template <typename T>
MG_POINTWISE LstmCellBackward<T> lstm_cell_backward(T gh, T gc, T i, T f, T g, T o, T c_prev, T c) {
  using std::tanh;
  const T tc = tanh(c);
  const T dc = gc + gh * o * (T(1) - tc * tc);
  return {dc * g * i * (T(1) - i), dc * c_prev * f * (T(1) - f), dc * i * (T(1) - g * g),
          gh * tc * o * (T(1) - o), dc * f};
}

// ---- optimizer updates, one element at a time, in place. The arithmetic is
// in double; each state is rounded to the element type T when stored, and the
// parameter update reads the states as stored, so float32 CPU and CUDA runs
// round at the same points.

struct AdamCoeffs {
  double lr, beta1, beta2, eps, weight_decay;
  double bias1, bias2;  // 1 - beta1^t, 1 - beta2^t
};

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
