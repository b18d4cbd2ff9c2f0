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
  // Stored column by column (q[j] is column j), so the inner loops run over contiguous memory.
  std::vector<double> g = randn({m, n}, DType::F64).to_vector<double>();
  std::vector<std::vector<double>> q(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(m)));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) q[static_cast<size_t>(j)][static_cast<size_t>(i)] = g[static_cast<size_t>(i * n + j)];
  // Modified Gram-Schmidt: R's diagonal comes out positive, which is the
  // sign convention Keras enforces by multiplying Q by sign(diag(R)).
  for (int64_t j = 0; j < n; ++j) {
    std::vector<double>& qj = q[static_cast<size_t>(j)];
    for (int64_t k = 0; k < j; ++k) {
      const std::vector<double>& qk = q[static_cast<size_t>(k)];
      double dot = 0.0;
      for (int64_t i = 0; i < m; ++i) dot += qk[static_cast<size_t>(i)] * qj[static_cast<size_t>(i)];
      for (int64_t i = 0; i < m; ++i) qj[static_cast<size_t>(i)] -= dot * qk[static_cast<size_t>(i)];
    }
    double norm = 0.0;
    for (double v : qj) norm += v * v;
    norm = std::sqrt(norm);
    for (double& v : qj) v /= norm;
  }
  auto at = [&](int64_t i, int64_t j) { return q[static_cast<size_t>(j)][static_cast<size_t>(i)]; };
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out[static_cast<size_t>(i * cols + j)] = static_cast<float>(tall ? at(i, j) : at(j, i));
  return from_vector(out, {rows, cols});
}

}  // namespace mg::nn::init
