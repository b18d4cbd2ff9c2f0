#include "models/symmetric_eigen.h"

#include <cmath>
#include <cstddef>

namespace mg::nn {

std::vector<double> symmetric_eigen(std::vector<double> a, int n, std::vector<double>* v) {
  if (v) {
    v->assign(size_t(n) * n, 0.0);
    for (int i = 0; i < n; ++i) (*v)[size_t(i) * n + i] = 1.0;
  }
  auto at = [&](int i, int j) -> double& { return a[size_t(i) * n + j]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, total = 0.0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) (i == j ? total : off) += at(i, j) * at(i, j);
    if (off <= 1e-24 * (total + off) || off == 0.0) break;
    for (int p = 0; p < n - 1; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (at(p, q) == 0.0) continue;
        const double theta = (at(q, q) - at(p, p)) / (2.0 * at(p, q));
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p and q
          const double akp = at(k, p), akq = at(k, q);
          at(k, p) = c * akp - s * akq;
          at(k, q) = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p and q
          const double apk = at(p, k), aqk = at(q, k);
          at(p, k) = c * apk - s * aqk;
          at(q, k) = s * apk + c * aqk;
        }
        if (v)
          for (int k = 0; k < n; ++k) {
            double& vkp = (*v)[size_t(k) * n + p];
            double& vkq = (*v)[size_t(k) * n + q];
            const double x = vkp, y = vkq;
            vkp = c * x - s * y;
            vkq = s * x + c * y;
          }
      }
  }
  std::vector<double> eig(static_cast<size_t>(n), 0.0);
  for (int i = 0; i < n; ++i) eig[size_t(i)] = at(i, i);
  return eig;
}

}  // namespace mg::nn
