// CPU: the jazz VAE's spectral loss terms (tensor/backend.h), fused: the
// map from decoded features to magnitudes, and the multi-resolution spectral
// convergence of the magnitudes. B = batch, C = bins, L = frames, g = group.
// Sums in double; one task per clip, so the result is the same at any thread count.
//
// Forward, per clip b and resolution r (E, R the pooled estimate and reference):
//   num = sqrt(Σ (E - R)² + tiny),  den = sqrt(Σ R² + tiny)
// with E = est at r = 0, E[c, j] = sqrt(Σ_{q<g} est[c, jg+q]² + tiny) at r = 1
// (frames), E[i, l] = sqrt(Σ_{q<g} est[ig+q, l]² + tiny) at r = 2 (bins).
// Backward, for the weights w_r = d loss / d (num/den)_r:
//   d(num/den)/dE = (E - R) / (num den);  dE/d est = est / E  (r = 1, 2; 1 at r = 0)
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"

namespace mg::cpu {

namespace {

struct Pools {
  int64_t frames, bins;  // pooled lengths: L / g frames, C / g bins (0 when L or C < g)
};

Pools pools(int64_t C, int64_t L, int64_t g) { return {L >= g ? L / g : 0, C >= g ? C / g : 0}; }

template <typename T>
double pooled(const T* x, int64_t stride, int64_t g, double tiny) {
  double s = tiny;
  for (int64_t q = 0; q < g; ++q) s += static_cast<double>(x[q * stride]) * static_cast<double>(x[q * stride]);
  return std::sqrt(s);
}

}  // namespace

void CpuBackend::spectral_convergence(const Tensor& est, const Tensor& ref, int64_t g, double tiny,
                                      const Tensor& stats) {
  const int64_t B = est.size(0), C = est.size(1), L = est.size(2);
  const Pools p = pools(C, L, g);
  dispatch_float(est.dtype(), [&]<typename T>() {
    const T* e = est.data<T>();
    const T* r = ref.data<T>();
    T* out = stats.data<T>();
    auto clip = [&](int64_t b) {
      const T* eb = e + b * C * L;
      const T* rb = r + b * C * L;
      double d0 = 0, r0 = 0, d1 = 0, r1 = 0, d2 = 0, r2 = 0;
      for (int64_t i = 0; i < C * L; ++i) {
        const double ev = eb[i], rv = rb[i];
        d0 += (ev - rv) * (ev - rv);
        r0 += rv * rv;
      }
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < p.frames; ++j) {
          const double pe = pooled(eb + c * L + j * g, 1, g, tiny), pr = pooled(rb + c * L + j * g, 1, g, tiny);
          d1 += (pe - pr) * (pe - pr);
          r1 += pr * pr;
        }
      for (int64_t i = 0; i < p.bins; ++i)
        for (int64_t l = 0; l < L; ++l) {
          const double qe = pooled(eb + i * g * L + l, L, g, tiny), qr = pooled(rb + i * g * L + l, L, g, tiny);
          d2 += (qe - qr) * (qe - qr);
          r2 += qr * qr;
        }
      T* o = out + b * 6;
      o[0] = static_cast<T>(std::sqrt(d0 + tiny));
      o[1] = static_cast<T>(std::sqrt(r0 + tiny));
      o[2] = p.frames ? static_cast<T>(std::sqrt(d1 + tiny)) : T(0);
      o[3] = p.frames ? static_cast<T>(std::sqrt(r1 + tiny)) : T(0);
      o[4] = p.bins ? static_cast<T>(std::sqrt(d2 + tiny)) : T(0);
      o[5] = p.bins ? static_cast<T>(std::sqrt(r2 + tiny)) : T(0);
    };
    run_tasks(B, TaskRef(clip));
  });
}

void CpuBackend::spectral_convergence_backward(const Tensor& est, const Tensor& ref, int64_t g, double tiny,
                                               const Tensor& stats, const Tensor& weight, const Tensor& gest) {
  const int64_t B = est.size(0), C = est.size(1), L = est.size(2);
  const Pools p = pools(C, L, g);
  dispatch_float(est.dtype(), [&]<typename T>() {
    const T* e = est.data<T>();
    const T* r = ref.data<T>();
    const T* st = stats.data<T>();
    const T* w = weight.data<T>();
    T* ge = gest.data<T>();
    auto clip = [&](int64_t b) {
      const T* eb = e + b * C * L;
      const T* rb = r + b * C * L;
      T* gb = ge + b * C * L;
      const T* s = st + b * 6;
      // The weight of each resolution over num den: what multiplies (E - R).
      const double k0 = w[b * 3] / (double(s[0]) * double(s[1]));
      const double k1 = p.frames ? w[b * 3 + 1] / (double(s[2]) * double(s[3])) : 0.0;
      const double k2 = p.bins ? w[b * 3 + 2] / (double(s[4]) * double(s[5])) : 0.0;
      for (int64_t i = 0; i < C * L; ++i) gb[i] = static_cast<T>(k0 * (double(eb[i]) - double(rb[i])));
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < p.frames; ++j) {
          const T* ep = eb + c * L + j * g;
          const double pe = pooled(ep, 1, g, tiny), pr = pooled(rb + c * L + j * g, 1, g, tiny);
          const double f = k1 * (pe - pr) / pe;
          for (int64_t q = 0; q < g; ++q) gb[c * L + j * g + q] = static_cast<T>(gb[c * L + j * g + q] + f * ep[q]);
        }
      for (int64_t i = 0; i < p.bins; ++i)
        for (int64_t l = 0; l < L; ++l) {
          const T* ep = eb + i * g * L + l;
          const double qe = pooled(ep, L, g, tiny), qr = pooled(rb + i * g * L + l, L, g, tiny);
          const double f = k2 * (qe - qr) / qe;
          for (int64_t q = 0; q < g; ++q) gb[(i * g + q) * L + l] = static_cast<T>(gb[(i * g + q) * L + l] + f * ep[q * L]);
        }
    };
    run_tasks(B, TaskRef(clip));
  });
}

}  // namespace mg::cpu

namespace mg::cpu {

// Decoded features -> magnitudes, a row of L frames at a time (in L1): the
// pre-activation, then exp through the per-ISA unary kernel for float32 (as
// the composed map's exp op runs it), then the floor.
void CpuBackend::feature_magnitudes(const Tensor& v, const Tensor& shift, double scale, double ceiling, double floor,
                                    double power, const Tensor& out, const Tensor& expu) {
  const int64_t B = v.size(0), C = v.size(1), L = v.size(2);
  dispatch_float(v.dtype(), [&]<typename T>() {
    const T* pv = v.data<T>();
    const T* ps = shift.data<T>();
    T* po = out.data<T>();
    T* pe = power > 0 ? nullptr : expu.data<T>();
    const T s = static_cast<T>(scale), top = static_cast<T>(ceiling), fl = static_cast<T>(floor);
    const T inv = static_cast<T>(power > 0 ? 1.0 / power : 0.0);
    each_row(B * C, 8 * L, [&](int64_t row) {
      const T* x = pv + row * L;
      const T sh = ps[row % C];
      T* u = power > 0 ? po + row * L : pe + row * L;
      for (int64_t l = 0; l < L; ++l) u[l] = std::min(x[l] * s + sh, top);
      if (power > 0) {
        for (int64_t l = 0; l < L; ++l) u[l] = u[l] > T(0) ? std::pow(u[l], inv) : T(0);
        return;
      }
      if constexpr (std::is_same_v<T, float>) kernels().unary(UnaryOp::Exp, 0.0f, 0.0f, u, u, L);
      else
        for (int64_t l = 0; l < L; ++l) u[l] = std::exp(u[l]);
      T* o = po + row * L;
      for (int64_t l = 0; l < L; ++l) o[l] = u[l] - fl;
    });
  });
}

void CpuBackend::feature_magnitudes_backward(const Tensor& v, const Tensor& shift, double scale, double ceiling,
                                             double power, const Tensor& expu, const Tensor& gout, const Tensor& gv) {
  const int64_t B = v.size(0), C = v.size(1), L = v.size(2);
  dispatch_float(v.dtype(), [&]<typename T>() {
    const T* pv = v.data<T>();
    const T* ps = shift.data<T>();
    const T* pe = power > 0 ? nullptr : expu.data<T>();
    const T* pg = gout.data<T>();
    T* px = gv.data<T>();
    const T s = static_cast<T>(scale), top = static_cast<T>(ceiling);
    const T inv = static_cast<T>(power > 0 ? 1.0 / power : 0.0), inv1 = inv - T(1);
    each_row(B * C, 4 * L, [&](int64_t row) {
      const T* x = pv + row * L;
      const T sh = ps[row % C];
      const T* g = pg + row * L;
      T* gx = px + row * L;
      for (int64_t l = 0; l < L; ++l) {
        const T pre = x[l] * s + sh;
        if (!(pre < top)) {
          gx[l] = T(0);
        } else if (power > 0) {
          gx[l] = pre > T(0) ? g[l] * (inv * std::pow(pre, inv1)) * s : T(0);
        } else {
          gx[l] = g[l] * pe[row * L + l] * s;
        }
      }
    });
  });
}

}  // namespace mg::cpu
