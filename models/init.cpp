#include "models/init.h"

#include <cmath>
#include <vector>

namespace mg::nn::init {

Tensor glorot_uniform(const Shape& shape, int64_t fan_in, int64_t fan_out) {
  const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform(shape, -limit, limit);
}

Tensor orthogonal(int64_t rows, int64_t cols) {
  // Work on the tall orientation [m, n] with m >= n, then transpose back if needed.
  const bool tall = rows >= cols;
  const int64_t m = tall ? rows : cols, n = tall ? cols : rows;
  std::vector<double> a = randn({m, n}, DType::F64).to_vector<double>();
  auto at = [&](int64_t i, int64_t j) -> double& { return a[static_cast<size_t>(i * n + j)]; };
  // Modified Gram-Schmidt: columns of a become Q; r_jj's sign is kept so that
  // Q diag(sign(r)) matches the sign convention of a Householder QR.
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t k = 0; k < j; ++k) {
      double dot = 0.0;
      for (int64_t i = 0; i < m; ++i) dot += at(i, k) * at(i, j);
      for (int64_t i = 0; i < m; ++i) at(i, j) -= dot * at(i, k);
    }
    double norm = 0.0;
    for (int64_t i = 0; i < m; ++i) norm += at(i, j) * at(i, j);
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < m; ++i) at(i, j) /= norm;
  }
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out[static_cast<size_t>(i * cols + j)] = static_cast<float>(tall ? at(i, j) : at(j, i));
  return from_vector(out, {rows, cols});
}

}  // namespace mg::nn::init
