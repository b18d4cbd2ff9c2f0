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

}  // namespace mg::pointwise
