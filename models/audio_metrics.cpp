#include "models/audio_metrics.h"

#include <algorithm>
#include <cmath>

#include "models/symmetric_eigen.h"
#include "tensor/error.h"

namespace mg::nn {

using io::StftConfig;

namespace {

void check_same_shape(const Magnitude& a, const Magnitude& b, const char* what) {
  if (a.frames != b.frames || a.bins != b.bins) {
    fail("{}: shapes differ ({} frames x {} bins vs {} x {})", what, a.frames, a.bins, b.frames, b.bins);
  }
}

// The two terms of the multi-resolution distance at one resolution.
double convergence_plus_log_l1(const Magnitude& ref, const Magnitude& est) {
  check_same_shape(ref, est, "multi-resolution distance");
  double log_l1 = 0.0;
  for (size_t i = 0; i < ref.data.size(); ++i)
    log_l1 += std::fabs(std::log(double(ref.data[i]) + 1e-5) - std::log(double(est.data[i]) + 1e-5));
  return spectral_convergence(ref, est) + log_l1 / double(std::max<size_t>(ref.data.size(), 1));
}

double hz_to_mel(double hz) {
  // Slaney: linear below 1 kHz (3 mel per 200 Hz), logarithmic above (27 mel per factor 6.4).
  constexpr double kLinear = 200.0 / 3.0, kBreakHz = 1000.0, kBreakMel = kBreakHz / kLinear;
  const double log_step = std::log(6.4) / 27.0;
  return hz < kBreakHz ? hz / kLinear : kBreakMel + std::log(hz / kBreakHz) / log_step;
}

double mel_to_hz(double mel) {
  constexpr double kLinear = 200.0 / 3.0, kBreakHz = 1000.0, kBreakMel = kBreakHz / kLinear;
  const double log_step = std::log(6.4) / 27.0;
  return mel < kBreakMel ? mel * kLinear : kBreakHz * std::exp(log_step * (mel - kBreakMel));
}

}  // namespace

double spectral_convergence(const Magnitude& ref, const Magnitude& est) {
  check_same_shape(ref, est, "spectral_convergence");
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < ref.data.size(); ++i) {
    double d = double(ref.data[i]) - est.data[i];
    diff += d * d;
    norm += double(ref.data[i]) * ref.data[i];
  }
  if (norm == 0.0) return diff == 0.0 ? 0.0 : INFINITY;
  return std::sqrt(diff / norm);
}

double log_spectral_distance(const Magnitude& ref, const Magnitude& est, double eps) {
  check_same_shape(ref, est, "log_spectral_distance");
  if (ref.frames == 0 || ref.bins == 0) fail("log_spectral_distance: empty spectrogram");
  double total = 0.0;
  for (int t = 0; t < ref.frames; ++t) {
    double sum = 0.0;
    for (int k = 0; k < ref.bins; ++k) {
      double r = ref.at(t, k), e = est.at(t, k);
      double d = 10.0 * (std::log10(r * r + eps) - std::log10(e * e + eps));
      sum += d * d;
    }
    total += std::sqrt(sum / ref.bins);
  }
  return total / ref.frames;
}

double multi_resolution_stft_distance(const std::vector<float>& ref, const std::vector<float>& est,
                                      const std::vector<Resolution>& resolutions) {
  if (ref.size() != est.size()) fail("multi_resolution_stft_distance: {} vs {} samples", ref.size(), est.size());
  if (resolutions.empty()) fail("multi_resolution_stft_distance: no resolutions");
  double total = 0.0;
  for (const Resolution& r : resolutions) {
    const StftConfig cfg{r.n_fft, r.hop, true};
    total += convergence_plus_log_l1(io::magnitude(io::stft(ref, cfg)), io::magnitude(io::stft(est, cfg)));
  }
  return total / double(resolutions.size());
}

Magnitude pool_power(const Magnitude& m, int frames, int bins) {
  if (frames < 1 || bins < 1) fail("pool_power: group of {} x {}", frames, bins);
  Magnitude out{m.frames / frames, m.bins / bins, {}};
  out.data.assign(size_t(out.frames) * out.bins, 0.0f);
  for (int t = 0; t < out.frames; ++t)
    for (int k = 0; k < out.bins; ++k) {
      double power = 0.0;
      for (int i = 0; i < frames; ++i)
        for (int j = 0; j < bins; ++j) power += double(m.at(t * frames + i, k * bins + j)) * m.at(t * frames + i, k * bins + j);
      out.at(t, k) = float(std::sqrt(power));
    }
  return out;
}

double multi_resolution_magnitude_distance(const Magnitude& ref, const Magnitude& est) {
  check_same_shape(ref, est, "multi_resolution_magnitude_distance");
  double total = convergence_plus_log_l1(ref, est);
  total += convergence_plus_log_l1(pool_power(ref, 4, 1), pool_power(est, 4, 1));
  total += convergence_plus_log_l1(pool_power(ref, 1, 4), pool_power(est, 1, 4));
  return total / 3.0;
}

MelFilterbank mel_filterbank(int sample_rate, int n_fft, int n_mels, double fmin, double fmax) {
  if (sample_rate <= 0 || n_fft < 2 || n_mels < 1) fail("mel_filterbank: rate {}, n_fft {}, {} bands", sample_rate, n_fft, n_mels);
  if (fmax <= 0) fmax = sample_rate / 2.0;
  if (!(fmin >= 0 && fmin < fmax)) fail("mel_filterbank: need 0 <= fmin < fmax, got {} and {}", fmin, fmax);
  MelFilterbank fb{n_mels, n_fft / 2 + 1, {}};
  fb.weights.assign(size_t(n_mels) * fb.bins, 0.0f);
  const double lo = hz_to_mel(fmin), hi = hz_to_mel(fmax);
  std::vector<double> edge(size_t(n_mels) + 2);
  for (size_t i = 0; i < edge.size(); ++i) edge[i] = mel_to_hz(lo + (hi - lo) * double(i) / double(n_mels + 1));
  for (int m = 0; m < n_mels; ++m) {
    const double left = edge[size_t(m)], centre = edge[size_t(m) + 1], right = edge[size_t(m) + 2];
    const double norm = 2.0 / (right - left);  // Slaney: every triangle has the same area
    for (int k = 0; k < fb.bins; ++k) {
      const double hz = double(k) * sample_rate / n_fft;
      const double w = std::max(0.0, std::min((hz - left) / (centre - left), (right - hz) / (right - centre)));
      fb.weights[size_t(m) * fb.bins + k] = float(w * norm);
    }
  }
  return fb;
}

FrameFeatures log_mel(const Magnitude& mag, const MelFilterbank& fb, double floor) {
  if (mag.bins != fb.bins) fail("log_mel: magnitude has {} bins, the filterbank {}", mag.bins, fb.bins);
  FrameFeatures out{mag.frames, fb.n_mels, std::vector<float>(size_t(mag.frames) * fb.n_mels)};
  for (int t = 0; t < mag.frames; ++t)
    for (int m = 0; m < fb.n_mels; ++m) {
      const float* w = &fb.weights[size_t(m) * fb.bins];
      double power = 0.0;
      for (int k = 0; k < fb.bins; ++k)
        if (w[k] != 0.0f) power += double(w[k]) * mag.at(t, k) * mag.at(t, k);
      out.data[size_t(t) * fb.n_mels + m] = float(std::log(power + floor));
    }
  return out;
}

GaussianStats::GaussianStats(int dims)
    : dims_(dims), sum_(size_t(dims), 0.0), outer_(size_t(dims) * size_t(dims), 0.0) {
  if (dims < 1) fail("GaussianStats: {} dimensions", dims);
}

void GaussianStats::add(const FrameFeatures& f) {
  if (f.dims != dims_) fail("GaussianStats: features of {} dimensions, expected {}", f.dims, dims_);
  const size_t d = size_t(dims_);
  for (int t = 0; t < f.frames; ++t) {
    const float* x = &f.data[size_t(t) * d];
    for (size_t i = 0; i < d; ++i) {
      sum_[i] += x[i];
      for (size_t j = i; j < d; ++j) outer_[i * d + j] += double(x[i]) * x[j];
    }
  }
  count_ += f.frames;
}

std::vector<double> GaussianStats::mean() const {
  std::vector<double> m(sum_);
  for (double& v : m) v /= double(std::max<int64_t>(count_, 1));
  return m;
}

std::vector<double> GaussianStats::covariance() const {
  if (count_ < 2) fail("GaussianStats: a covariance needs two vectors, have {}", count_);
  const size_t d = size_t(dims_);
  const std::vector<double> m = mean();
  std::vector<double> c(d * d);
  const double n = double(count_);
  for (size_t i = 0; i < d; ++i)
    for (size_t j = i; j < d; ++j) c[i * d + j] = c[j * d + i] = (outer_[i * d + j] - n * m[i] * m[j]) / (n - 1.0);
  return c;
}

double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  if (a.dims() != b.dims()) fail("frechet_distance: {} vs {} dimensions", a.dims(), b.dims());
  const int n = a.dims();
  const size_t d = size_t(n);
  const std::vector<double> ma = a.mean(), mb = b.mean(), ca = a.covariance(), cb = b.covariance();
  double dist = 0.0, traces = 0.0;
  for (size_t i = 0; i < d; ++i) {
    dist += (ma[i] - mb[i]) * (ma[i] - mb[i]);
    traces += ca[i * d + i] + cb[i * d + i];
  }
  // C1^(1/2) = V diag(sqrt(max(λ, 0))) Vᵀ, then the eigenvalues of C1^(1/2) C2 C1^(1/2).
  std::vector<double> v;
  const std::vector<double> lambda = symmetric_eigen(ca, n, &v);
  std::vector<double> root(d * d, 0.0), tmp(d * d, 0.0), m(d * d, 0.0);
  for (size_t i = 0; i < d; ++i)
    for (size_t j = 0; j < d; ++j) {
      double s = 0.0;
      for (size_t k = 0; k < d; ++k) s += v[i * d + k] * std::sqrt(std::max(lambda[k], 0.0)) * v[j * d + k];
      root[i * d + j] = s;
    }
  for (size_t i = 0; i < d; ++i)
    for (size_t k = 0; k < d; ++k) {
      const double r = root[i * d + k];
      for (size_t j = 0; j < d; ++j) tmp[i * d + j] += r * cb[k * d + j];
    }
  for (size_t i = 0; i < d; ++i)
    for (size_t k = 0; k < d; ++k) {
      const double t = tmp[i * d + k];
      for (size_t j = 0; j < d; ++j) m[i * d + j] += t * root[k * d + j];
    }
  for (size_t i = 0; i < d; ++i)
    for (size_t j = i + 1; j < d; ++j) m[i * d + j] = m[j * d + i] = 0.5 * (m[i * d + j] + m[j * d + i]);
  double trace_root = 0.0;
  for (double e : symmetric_eigen(m, n, nullptr)) trace_root += std::sqrt(std::max(e, 0.0));
  return std::max(0.0, dist + traces - 2.0 * trace_root);
}

std::vector<float> onset_strength(const Magnitude& mag, const MelFilterbank& fb) {
  const FrameFeatures lm = log_mel(mag, fb, 1e-10);
  const double to_db = 10.0 / std::log(10.0);
  float top = -1e30f;
  for (float v : lm.data) top = std::max(top, float(v * to_db));
  std::vector<float> onset(size_t(lm.frames), 0.0f);
  for (int t = 1; t < lm.frames; ++t) {
    double rise = 0.0;
    for (int m = 0; m < lm.dims; ++m) {
      const double now = std::max(lm.at(t, m) * to_db, top - 80.0), before = std::max(lm.at(t - 1, m) * to_db, top - 80.0);
      rise += std::max(0.0, now - before);
    }
    onset[size_t(t)] = float(rise / lm.dims);
  }
  return onset;
}

double correlation(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) fail("correlation: series of {} and {} values", a.size(), b.size());
  double ma = 0.0, mb = 0.0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= double(a.size());
  mb /= double(b.size());
  double sab = 0.0, saa = 0.0, sbb = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0.0 && sbb > 0.0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

}  // namespace mg::nn
