// CPU reference: softmax family, indexing, convolution lowering, norms and
// the fused optimizer updates.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/pointwise.h"

namespace mg::cpu {

namespace {

// f(r) for every row r, in parallel once rows x row_cost is worth a thread.
template <typename F>
void each_row(int64_t rows, int64_t row_cost, F&& f) {
  parallel_for(rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(row_cost, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) f(r);
  });
}

}  // namespace

// ---- softmax over the last dim: rows x n --------------------------------

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
      if (log) {
        // y = x - lse(x): gx = g - softmax(x) * sum(g)
        double gsum = 0.0;
        for (int64_t j = 0; j < n; ++j) gsum += g[j];
        for (int64_t j = 0; j < n; ++j) out[j] = static_cast<T>(g[j] - std::exp(static_cast<double>(yr[j])) * gsum);
      } else {
        // y = softmax(x): gx = y * (g - sum(g * y))
        double dot = 0.0;
        for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(g[j]) * yr[j];
        for (int64_t j = 0; j < n; ++j) out[j] = static_cast<T>(yr[j] * (g[j] - dot));
      }
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

// ---- indexing ---------------------------------------------------------------

void CpuBackend::index_select(const Tensor& src, const Tensor& index, const Tensor& out) {
  const int64_t v = src.size(0), d = src.numel() / std::max<int64_t>(v, 1), n = index.numel();
  const int64_t* idx = index.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) MG_CHECK(idx[i] >= 0 && idx[i] < v, "index {} outside [0, {})", idx[i], v);
  dispatch_float(src.dtype(), [&]<typename T>() {
    const T* ps = src.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < n; ++i) std::copy(ps + idx[i] * d, ps + (idx[i] + 1) * d, po + i * d);
  });
}

void CpuBackend::index_add(const Tensor& dst, const Tensor& index, const Tensor& src) {
  const int64_t v = dst.size(0), d = dst.numel() / std::max<int64_t>(v, 1), n = index.numel();
  const int64_t* idx = index.data<int64_t>();
  dispatch_float(dst.dtype(), [&]<typename T>() {
    T* pd = dst.data<T>();
    const T* ps = src.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) pd[idx[i] * d + j] += ps[i * d + j];
  });
}

// ---- convolution lowering ----------------------------------------------------
// B = batch, C = channels, L = input length, K = kernel, T = output length.

void CpuBackend::im2col1d(const Tensor& x, const Tensor& cols, const Conv1dGeometry& g) {
  const int64_t T_out = g.out_length(), CK = g.channels * g.kernel;
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* pc = cols.data<T>();
    // One task per (row, b): the T_out entries cols[c*K + k, b, :].
    each_row(CK * g.batch, T_out, [&](int64_t rb) {
      const int64_t row = rb / g.batch, b = rb % g.batch;
      const int64_t c = row / g.kernel, k = row % g.kernel;
      const T* xin = px + (b * g.channels + c) * g.length;
      T* out = pc + rb * T_out;
      for (int64_t t = 0; t < T_out; ++t) {
        const int64_t pos = t * g.stride - g.pad_left + k * g.dilation;
        out[t] = (pos >= 0 && pos < g.length) ? xin[pos] : T(0);
      }
    });
  });
}

void CpuBackend::col2im1d(const Tensor& cols, const Tensor& x, const Conv1dGeometry& g) {
  const int64_t T_out = g.out_length();
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* pc = cols.data<T>();
    T* px = x.data<T>();
    // Parallel over (b, c): each writes only its own input row, so no races.
    each_row(g.batch * g.channels, g.kernel * T_out, [&](int64_t bc) {
      const int64_t b = bc / g.channels, c = bc % g.channels;
      T* xin = px + (b * g.channels + c) * g.length;
      for (int64_t k = 0; k < g.kernel; ++k) {
        const T* in = pc + ((c * g.kernel + k) * g.batch + b) * T_out;
        for (int64_t t = 0; t < T_out; ++t) {
          const int64_t pos = t * g.stride - g.pad_left + k * g.dilation;
          if (pos >= 0 && pos < g.length) xin[pos] += in[t];
        }
      }
    });
  });
}

// ---- normalisation over [N, C, L] ---------------------------------------------
// Group of element (n, c, l): n*C + c when per_instance, else c.

void CpuBackend::norm1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool per_instance,
                                double eps, const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2);
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* pm = mean.data<T>();
    T* pr = rstd.data<T>();
    const T* pw = weight.defined() ? weight.data<T>() : nullptr;
    const T* pb = bias.defined() ? bias.data<T>() : nullptr;
    const int64_t groups = per_instance ? N * C : C;
    each_row(groups, N * C * L / std::max<int64_t>(groups, 1), [&](int64_t gi) {
      const int64_t c = per_instance ? gi % C : gi;
      const int64_t n_begin = per_instance ? gi / C : 0, n_end = per_instance ? n_begin + 1 : N;
      double s = 0.0, ss = 0.0;
      for (int64_t n = n_begin; n < n_end; ++n) {
        const T* row = px + (n * C + c) * L;
        for (int64_t l = 0; l < L; ++l) s += row[l];
      }
      const double count = static_cast<double>((n_end - n_begin) * L);
      const double mu = s / count;
      for (int64_t n = n_begin; n < n_end; ++n) {
        const T* row = px + (n * C + c) * L;
        for (int64_t l = 0; l < L; ++l) ss += (row[l] - mu) * (row[l] - mu);
      }
      const double r = 1.0 / std::sqrt(ss / count + eps);  // biased variance, as both frameworks normalise
      pm[gi] = static_cast<T>(mu);
      pr[gi] = static_cast<T>(r);
      const double w = pw ? pw[c] : 1.0, b = pb ? pb[c] : 0.0;
      for (int64_t n = n_begin; n < n_end; ++n) {
        const T* row = px + (n * C + c) * L;
        T* out = py + (n * C + c) * L;
        for (int64_t l = 0; l < L; ++l) out[l] = static_cast<T>((row[l] - mu) * r * w + b);
      }
    });
  });
}

void CpuBackend::norm1d_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                 const Tensor& rstd, bool per_instance, const Tensor& gx, const Tensor& gweight,
                                 const Tensor& gbias) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2);
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* pg = gy.data<T>();
    const T* px = x.data<T>();
    const T* pw = weight.defined() ? weight.data<T>() : nullptr;
    const T* pm = mean.data<T>();
    const T* pr = rstd.data<T>();
    T* pgx = gx.data<T>();
    std::vector<double> gw(static_cast<size_t>(C), 0.0), gb(static_cast<size_t>(C), 0.0);
    const int64_t groups = per_instance ? N * C : C;
    // Per group with xhat = (x - mean) rstd and d = gy * w:
    //   gx = rstd (d - mean(d) - xhat mean(d xhat))
    for (int64_t gi = 0; gi < groups; ++gi) {
      const int64_t c = per_instance ? gi % C : gi;
      const int64_t n_begin = per_instance ? gi / C : 0, n_end = per_instance ? n_begin + 1 : N;
      const double mu = pm[gi], r = pr[gi], w = pw ? pw[c] : 1.0;
      double sd = 0.0, sdx = 0.0, sg = 0.0, sgx = 0.0;
      for (int64_t n = n_begin; n < n_end; ++n) {
        const int64_t base = (n * C + c) * L;
        for (int64_t l = 0; l < L; ++l) {
          const double xh = (px[base + l] - mu) * r, g = pg[base + l];
          sg += g;
          sgx += g * xh;
          sd += g * w;
          sdx += g * w * xh;
        }
      }
      gw[static_cast<size_t>(c)] += sgx;
      gb[static_cast<size_t>(c)] += sg;
      const double count = static_cast<double>((n_end - n_begin) * L);
      const double md = sd / count, mdx = sdx / count;
      for (int64_t n = n_begin; n < n_end; ++n) {
        const int64_t base = (n * C + c) * L;
        for (int64_t l = 0; l < L; ++l) {
          const double xh = (px[base + l] - mu) * r;
          pgx[base + l] = static_cast<T>(r * (pg[base + l] * w - md - xh * mdx));
        }
      }
    }
    if (gweight.defined()) {
      T* p = gweight.data<T>();
      for (int64_t c = 0; c < C; ++c) p[c] = static_cast<T>(gw[static_cast<size_t>(c)]);
    }
    if (gbias.defined()) {
      T* p = gbias.data<T>();
      for (int64_t c = 0; c < C; ++c) p[c] = static_cast<T>(gb[static_cast<size_t>(c)]);
    }
  });
}

// ---- optimizers --------------------------------------------------------------------

namespace {

pointwise::AdamCoeffs adam_coeffs(const AdamArgs& a) {
  return {a.lr,
          a.beta1,
          a.beta2,
          a.eps,
          a.weight_decay,
          1.0 - std::pow(a.beta1, static_cast<double>(a.step)),
          1.0 - std::pow(a.beta2, static_cast<double>(a.step))};
}

constexpr int64_t kUpdateGrain = 1 << 15;

}  // namespace

void CpuBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                           const AdamArgs& a) {
  const pointwise::AdamCoeffs c = adam_coeffs(a);
  dispatch_float(param.dtype(), [&]<typename T>() {
    T *p = param.data<T>(), *pm = m.data<T>(), *pv = v.data<T>();
    const T* g = grad.data<T>();
    parallel_for(param.numel(), kUpdateGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pointwise::adam_update(p[i], g[i], pm[i], pv[i], c);
    });
  });
}

void CpuBackend::adamax_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                             const AdamArgs& a) {
  const pointwise::AdamCoeffs c = adam_coeffs(a);
  dispatch_float(param.dtype(), [&]<typename T>() {
    T *p = param.data<T>(), *pm = m.data<T>(), *pu = u.data<T>();
    const T* g = grad.data<T>();
    parallel_for(param.numel(), kUpdateGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pointwise::adamax_update(p[i], g[i], pm[i], pu[i], c);
    });
  });
}

void CpuBackend::sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
                          double weight_decay, bool nesterov) {
  dispatch_float(param.dtype(), [&]<typename T>() {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* pb = buf.defined() ? buf.data<T>() : nullptr;
    parallel_for(param.numel(), kUpdateGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pointwise::sgd_update(p[i], g[i], pb ? pb + i : nullptr, lr, momentum, weight_decay, nesterov);
    });
  });
}

}  // namespace mg::cpu

namespace mg {
Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}
}  // namespace mg
