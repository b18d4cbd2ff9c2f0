// CPU reference: softmax over the last dim (rows x n), cross-entropy and its
// gradient. Softmax backward's formula is kernels/pointwise.h's.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/pointwise.h"

namespace mg::cpu {

void CpuBackend::softmax(const Tensor& x, const Tensor& y, bool log) {
  const int64_t n = x.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    each_row(rows, n, [&](int64_t r) {
      const T* xr = px + r * n;
      T* yr = py + r * n;
      // Subtracting the row max keeps exp() from overflowing.
      T mx = *std::max_element(xr, xr + n);
      double sum = 0.0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(xr[j] - mx));
      if (log) {
        T lse = static_cast<T>(std::log(sum));
        for (int64_t j = 0; j < n; ++j) yr[j] = xr[j] - mx - lse;
      } else {
        for (int64_t j = 0; j < n; ++j) yr[j] = static_cast<T>(std::exp(static_cast<double>(xr[j] - mx)) / sum);
      }
    });
  });
}

void CpuBackend::softmax_backward(const Tensor& gy, const Tensor& y, const Tensor& gx, bool log) {
  const int64_t n = y.size(-1), rows = y.numel() / std::max<int64_t>(n, 1);
  dispatch_float(y.dtype(), [&]<typename T>() {
    const T* pg = gy.data<T>();
    const T* py = y.data<T>();
    T* pgx = gx.data<T>();
    each_row(rows, n, [&](int64_t r) {
      const T* g = pg + r * n;
      const T* yr = py + r * n;
      T* out = pgx + r * n;
      // log_softmax: gx = g - e^y Σ g;  softmax: gx = y (g - Σ g y)
      double sum = 0.0;
      for (int64_t j = 0; j < n; ++j) sum += pointwise::softmax_grad_term(log, g[j], yr[j]);
      for (int64_t j = 0; j < n; ++j) out[j] = pointwise::softmax_input_grad(log, g[j], yr[j], sum);
    });
  });
}

void CpuBackend::cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& losses,
                               const Tensor& probs) {
  softmax(logits, probs, /*log=*/false);
  const int64_t rows = logits.size(0), n = logits.size(1);
  const int64_t* t = targets.data<int64_t>();
  for (int64_t r = 0; r < rows; ++r)
    MG_CHECK(t[r] >= 0 && t[r] < n, "cross_entropy: target {} outside [0, {})", t[r], n);
  dispatch_float(logits.dtype(), [&]<typename T>() {
    const T* px = logits.data<T>();
    T* pl = losses.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      // -log softmax computed from the logits (not log(prob)) to stay finite.
      const T* xr = px + r * n;
      T mx = *std::max_element(xr, xr + n);
      double sum = 0.0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(xr[j] - mx));
      pl[r] = static_cast<T>(std::log(sum) - static_cast<double>(xr[t[r]] - mx));
    }
  });
}

void CpuBackend::probs_minus_onehot(const Tensor& probs, const Tensor& targets, const Tensor& grad) {
  const int64_t rows = probs.size(0), n = probs.size(1);
  const int64_t* t = targets.data<int64_t>();
  dispatch_float(probs.dtype(), [&]<typename T>() {
    const T* pp = probs.data<T>();
    T* pg = grad.data<T>();
    std::copy(pp, pp + rows * n, pg);
    for (int64_t r = 0; r < rows; ++r) pg[r * n + t[r]] -= T(1);
  });
}

}  // namespace mg::cpu
