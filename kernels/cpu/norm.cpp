// CPU reference: instance and batch normalisation over [N, C, L].
// Group of element (n, c, l): n*C + c when per_instance, else c
// (pointwise::NormGroup); the formulas are kernels/pointwise.h's.
#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/pointwise.h"

namespace mg::cpu {

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
      const pointwise::NormGroup grp(gi, N, C, L, per_instance);
      double s = 0.0, ss = 0.0;
      for (int64_t n = grp.n_begin; n < grp.n_end; ++n) {
        const T* row = px + grp.row(n);
        for (int64_t l = 0; l < L; ++l) s += row[l];
      }
      const double count = static_cast<double>(grp.count());
      const double mu = s / count;
      for (int64_t n = grp.n_begin; n < grp.n_end; ++n) {
        const T* row = px + grp.row(n);
        for (int64_t l = 0; l < L; ++l) ss += (row[l] - mu) * (row[l] - mu);
      }
      const double r = pointwise::norm_rstd(ss, count, eps);
      pm[gi] = static_cast<T>(mu);
      pr[gi] = static_cast<T>(r);
      const double w = pw ? pw[grp.c] : 1.0, b = pb ? pb[grp.c] : 0.0;
      for (int64_t n = grp.n_begin; n < grp.n_end; ++n) {
        const T* row = px + grp.row(n);
        T* out = py + grp.row(n);
        for (int64_t l = 0; l < L; ++l) out[l] = static_cast<T>(pointwise::norm_xhat(row[l], mu, r) * w + b);
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
    //   gx = rstd (d - mean(d) - xhat mean(d xhat))   (pointwise::norm_input_grad)
    for (int64_t gi = 0; gi < groups; ++gi) {
      const pointwise::NormGroup grp(gi, N, C, L, per_instance);
      const double mu = pm[gi], r = pr[gi], w = pw ? pw[grp.c] : 1.0;
      double sd = 0.0, sdx = 0.0, sg = 0.0, sgx = 0.0;
      for (int64_t n = grp.n_begin; n < grp.n_end; ++n) {
        const int64_t base = grp.row(n);
        for (int64_t l = 0; l < L; ++l) {
          const double xh = pointwise::norm_xhat(px[base + l], mu, r), g = pg[base + l];
          sg += g;
          sgx += g * xh;
          sd += g * w;
          sdx += g * w * xh;
        }
      }
      gw[static_cast<size_t>(grp.c)] += sgx;
      gb[static_cast<size_t>(grp.c)] += sg;
      const double count = static_cast<double>(grp.count());
      const double md = sd / count, mdx = sdx / count;
      for (int64_t n = grp.n_begin; n < grp.n_end; ++n) {
        const int64_t base = grp.row(n);
        for (int64_t l = 0; l < L; ++l) {
          const double xh = pointwise::norm_xhat(px[base + l], mu, r);
          pgx[base + l] = static_cast<T>(pointwise::norm_input_grad(pg[base + l], w, xh, r, md, mdx));
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

}  // namespace mg::cpu
