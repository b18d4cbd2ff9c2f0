#pragma once
// Weight initialisers with Keras semantics, drawn from the default generator
// (so a seed fixes them). Shapes use this engine's layouts: Linear [out, in],
// Conv1d [out, in, K], LSTM w_ih [4H, I], w_hh [4H, H].
#include "tensor/tensor.h"

namespace mg::nn::init {

// U(-l, l) with l = sqrt(6 / (fan_in + fan_out)).
Tensor glorot_uniform(const Shape& shape, int64_t fan_in, int64_t fan_out);
// A matrix [rows, cols] whose columns (rows >= cols) or rows (rows < cols) are
// orthonormal: QR of a Gaussian matrix with the signs of R's diagonal folded
// in, as Keras' Orthogonal initializer does.
Tensor orthogonal(int64_t rows, int64_t cols);

}  // namespace mg::nn::init
