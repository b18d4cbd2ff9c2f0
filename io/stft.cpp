#include "io/stft.h"

#include <fftw3.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>
#include <mutex>
#include <new>
#include <numbers>
#include <random>

#include "tensor/error.h"

namespace mg::io {
namespace {

struct Plans {
  fftwf_plan forward;  // real n_fft -> bins complex
  fftwf_plan inverse;  // bins complex -> real n_fft, unnormalised
};

// FFTW's planner is not thread-safe, so plans are made once per n_fft under a
// lock and kept until the process exits; fftwf_execute_dft_* with the
// caller's own (equally aligned) buffers is thread-safe.
struct PlanCache {
  std::mutex mutex;
  std::map<int, Plans> plans;
  ~PlanCache() {
    for (auto& [n, p] : plans) {
      fftwf_destroy_plan(p.forward);
      fftwf_destroy_plan(p.inverse);
    }
  }
};

const Plans& plans_for(int n_fft) {
  static PlanCache cache;
  std::lock_guard lock(cache.mutex);
  if (auto it = cache.plans.find(n_fft); it != cache.plans.end()) return it->second;
  auto* real = static_cast<float*>(fftwf_malloc(sizeof(float) * n_fft));
  auto* spec = static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * (n_fft / 2 + 1)));
  if (!real || !spec) throw std::bad_alloc();
  Plans p{fftwf_plan_dft_r2c_1d(n_fft, real, spec, FFTW_ESTIMATE),
          fftwf_plan_dft_c2r_1d(n_fft, spec, real, FFTW_ESTIMATE)};
  fftwf_free(real);
  fftwf_free(spec);
  MG_CHECK(p.forward && p.inverse, "FFTW could not plan a transform of size {}", n_fft);
  return cache.plans.emplace(n_fft, p).first->second;
}

// fftwf_malloc'd so that the new-array execute sees the alignment the plan was made with.
template <typename T>
class FftwBuffer {
 public:
  explicit FftwBuffer(size_t n) : p_(static_cast<T*>(fftwf_malloc(sizeof(T) * n))) {
    if (!p_) throw std::bad_alloc();
  }
  ~FftwBuffer() { fftwf_free(p_); }
  FftwBuffer(const FftwBuffer&) = delete;
  FftwBuffer& operator=(const FftwBuffer&) = delete;
  T* get() const { return p_; }

 private:
  T* p_;
};

void check_config(const StftConfig& cfg) {
  if (cfg.n_fft < 2 || cfg.n_fft % 2 != 0) fail("stft: n_fft must be even and >= 2, got {}", cfg.n_fft);
  if (cfg.hop < 1 || cfg.hop > cfg.n_fft) fail("stft: hop must be in [1, n_fft={}], got {}", cfg.n_fft, cfg.hop);
}

// numpy's "reflect" padding (edge sample not repeated), folded as often as
// needed so that signals shorter than the padding still work.
size_t reflect_index(std::ptrdiff_t i, size_t n) {
  if (i >= 0 && size_t(i) < n) return size_t(i);
  if (n == 1) return 0;
  auto period = std::ptrdiff_t(2 * (n - 1));
  std::ptrdiff_t m = ((i % period) + period) % period;
  return size_t(m < std::ptrdiff_t(n) ? m : period - m);
}

// |z| without std::abs's overflow-safe hypot, which dominated Griffin-Lim;
// spectrogram values are far from float's range limits.
float modulus(std::complex<float> z) { return std::sqrt(z.real() * z.real() + z.imag() * z.imag()); }

size_t natural_length(int frames, const StftConfig& cfg) {
  size_t body = size_t(frames - 1) * cfg.hop;
  return cfg.center ? body : body + cfg.n_fft;
}

// One configuration's window, plans and scratch buffers, reused across calls
// so that Griffin-Lim allocates nothing per iteration.
class StftEngine {
 public:
  explicit StftEngine(const StftConfig& cfg)
      : cfg_((check_config(cfg), cfg)), plans_(plans_for(cfg.n_fft)), window_(cfg.n_fft),
        real_(cfg.n_fft), spec_(cfg.bins()) {
    for (int i = 0; i < cfg.n_fft; ++i) {
      window_[i] = float(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / cfg.n_fft));  // periodic Hann
    }
  }

  void forward(const std::vector<float>& x, Spectrogram& out) {
    if (x.empty()) fail("stft: empty signal");
    int frames = stft_frames(x.size(), cfg_);
    if (frames <= 0) fail("stft: signal of {} samples is shorter than one frame (n_fft {})", x.size(), cfg_.n_fft);
    const int n = cfg_.n_fft, bins = cfg_.bins();
    const std::ptrdiff_t pad = cfg_.center ? n / 2 : 0;
    out.frames = frames;
    out.bins = bins;
    out.data.resize(size_t(frames) * bins);
    padded_.resize(x.size() + 2 * size_t(pad));
    for (size_t j = 0; j < padded_.size(); ++j) padded_[j] = x[reflect_index(std::ptrdiff_t(j) - pad, x.size())];
    float* real = real_.get();
    for (int t = 0; t < frames; ++t) {
      const float* frame = padded_.data() + size_t(t) * cfg_.hop;
      for (int i = 0; i < n; ++i) real[i] = frame[i] * window_[i];
      fftwf_execute_dft_r2c(plans_.forward, real, spec_.get());
      std::copy_n(reinterpret_cast<const std::complex<float>*>(spec_.get()), bins, &out.at(t, 0));
    }
  }

  void inverse(const Spectrogram& spec, size_t length, std::vector<float>& out) {
    const int n = cfg_.n_fft, bins = cfg_.bins();
    if (spec.bins != bins) fail("istft: spectrogram has {} bins, n_fft {} needs {}", spec.bins, n, bins);
    if (spec.frames <= 0) fail("istft: spectrogram has no frames");
    if (length == 0) length = natural_length(spec.frames, cfg_);
    const size_t full = size_t(spec.frames - 1) * cfg_.hop + n;
    const size_t pad = cfg_.center ? size_t(n / 2) : 0;
    update_window_sum(spec.frames, full);
    accum_.assign(full, 0.0f);
    float* real = real_.get();
    const float scale = 1.0f / float(n);
    for (int t = 0; t < spec.frames; ++t) {
      std::copy_n(&spec.at(t, 0), bins, reinterpret_cast<std::complex<float>*>(spec_.get()));
      fftwf_execute_dft_c2r(plans_.inverse, spec_.get(), real);
      float* dst = accum_.data() + size_t(t) * cfg_.hop;
      for (int i = 0; i < n; ++i) dst[i] += real[i] * scale * window_[i];
    }
    out.assign(length, 0.0f);
    for (size_t j = 0; j < length && j + pad < full; ++j) {
      float w = window_sum_[j + pad];
      out[j] = w > FLT_MIN ? accum_[j + pad] / w : accum_[j + pad];
    }
  }

 private:
  void update_window_sum(int frames, size_t full) {
    if (window_sum_frames_ == frames) return;
    window_sum_.assign(full, 0.0f);
    for (int t = 0; t < frames; ++t) {
      for (int i = 0; i < cfg_.n_fft; ++i) window_sum_[size_t(t) * cfg_.hop + i] += window_[i] * window_[i];
    }
    window_sum_frames_ = frames;
  }

  StftConfig cfg_;
  const Plans& plans_;
  std::vector<float> window_;
  FftwBuffer<float> real_;
  FftwBuffer<fftwf_complex> spec_;
  std::vector<float> padded_, accum_, window_sum_;
  int window_sum_frames_ = -1;
};

}  // namespace

int stft_frames(size_t length, const StftConfig& cfg) {
  if (cfg.center) return int(1 + length / size_t(cfg.hop));
  return length < size_t(cfg.n_fft) ? 0 : int(1 + (length - cfg.n_fft) / size_t(cfg.hop));
}

Spectrogram stft(const std::vector<float>& x, const StftConfig& cfg) {
  Spectrogram out;
  StftEngine(cfg).forward(x, out);
  return out;
}

std::vector<float> istft(const Spectrogram& spec, const StftConfig& cfg, size_t length) {
  std::vector<float> out;
  StftEngine(cfg).inverse(spec, length, out);
  return out;
}

Magnitude magnitude(const Spectrogram& spec) {
  Magnitude m{spec.frames, spec.bins, std::vector<float>(spec.data.size())};
  for (size_t i = 0; i < spec.data.size(); ++i) m.data[i] = modulus(spec.data[i]);
  return m;
}

Magnitude log_magnitude(const Magnitude& mag) {
  Magnitude f = mag;
  for (float& v : f.data) v = std::log1p(v);
  return f;
}

Magnitude inverse_log_magnitude(const Magnitude& features) {
  Magnitude m = features;
  for (float& v : m.data) v = std::max(std::expm1(v), 0.0f);
  return m;
}

std::vector<float> bins_by_frames(const Magnitude& m) {
  std::vector<float> out(m.data.size());
  for (int t = 0; t < m.frames; ++t) {
    for (int k = 0; k < m.bins; ++k) out[size_t(k) * m.frames + t] = m.at(t, k);
  }
  return out;
}

Magnitude from_bins_by_frames(const std::vector<float>& matrix, int bins, int frames) {
  if (bins <= 0 || frames <= 0 || matrix.size() != size_t(bins) * frames) {
    fail("from_bins_by_frames: {} values do not form a {} x {} matrix", matrix.size(), bins, frames);
  }
  Magnitude m{frames, bins, std::vector<float>(matrix.size())};
  for (int k = 0; k < bins; ++k) {
    for (int t = 0; t < frames; ++t) m.at(t, k) = matrix[size_t(k) * frames + t];
  }
  return m;
}

Spectrogram initial_phase(const Magnitude& mag, const StftConfig& cfg, PhaseInit init, uint64_t seed) {
  const size_t count = mag.data.size();
  Spectrogram phase{mag.frames, mag.bins, std::vector<std::complex<float>>(count)};
  if (init == PhaseInit::Random) {
    std::mt19937_64 rng(seed);
    for (auto& p : phase.data) {
      double u = double(rng() >> 11) * 0x1.0p-53;  // uniform in [0, 1), the same on every platform
      p = std::polar(1.0f, float(2.0 * std::numbers::pi * u));
    }
    return phase;
  }
  const int bins = mag.bins;
  const double pi = std::numbers::pi;
  // reference[k]: the phase reference of the peak whose region holds bin k, in the previous frame.
  std::vector<double> reference(static_cast<size_t>(bins), 0.0), next(static_cast<size_t>(bins), 0.0);
  std::vector<int> peaks;
  std::vector<double> log_mag(static_cast<size_t>(bins), 0.0);
  for (int t = 0; t < mag.frames; ++t) {
    for (int k = 0; k < bins; ++k) log_mag[size_t(k)] = std::log(double(mag.at(t, k)) + 1e-12);
    peaks.clear();
    for (int k = 0; k < bins; ++k) {
      const bool above_left = k == 0 || mag.at(t, k) > mag.at(t, k - 1);
      const bool not_below_right = k == bins - 1 || mag.at(t, k) >= mag.at(t, k + 1);
      if (above_left && not_below_right) peaks.push_back(k);
    }
    if (peaks.empty()) peaks.push_back(0);  // a flat frame: one region
    size_t region_start = 0;
    for (size_t i = 0; i < peaks.size(); ++i) {
      const int p = peaks[i];
      // The region ends at the lowest bin before the next peak.
      size_t region_end = size_t(bins);
      if (i + 1 < peaks.size()) {
        int low = p;
        for (int k = p; k <= peaks[i + 1]; ++k)
          if (mag.at(t, k) < mag.at(t, low)) low = k;
        region_end = size_t(std::max(low, p + 1));
      }
      double offset = 0.0;  // fractional position of the true peak, in bins
      if (p > 0 && p < bins - 1) {
        const double a = log_mag[size_t(p - 1)], b = log_mag[size_t(p)], c = log_mag[size_t(p + 1)];
        const double curvature = a - 2.0 * b + c;
        if (curvature < 0.0) offset = std::clamp(0.5 * (a - c) / curvature, -0.5, 0.5);
      }
      const double f = p + offset;
      const double ref = t == 0 ? 0.0 : reference[size_t(p)] + 2.0 * pi * f * cfg.hop / cfg.n_fft;
      for (size_t k = region_start; k < region_end; ++k) {
        next[k] = ref;
        phase.at(t, int(k)) = std::polar(1.0f, float(std::remainder(ref - pi * (double(k) - f), 2.0 * pi)));
      }
      region_start = region_end;
    }
    for (double& r : next) r = std::remainder(r, 2.0 * pi);  // keeps the sums small; only the phase matters
    std::swap(reference, next);
  }
  return phase;
}

std::vector<float> griffin_lim(const Magnitude& mag, const StftConfig& cfg, size_t length,
                               const GriffinLimOptions& options) {
  StftEngine engine(cfg);
  if (mag.bins != cfg.bins()) fail("griffin_lim: magnitude has {} bins, n_fft {} needs {}", mag.bins, cfg.n_fft, cfg.bins());
  if (mag.frames <= 0) fail("griffin_lim: magnitude has no frames");
  if (options.iterations < 0) fail("griffin_lim: iterations must be >= 0, got {}", options.iterations);
  if (!(options.momentum >= 0.0f)) fail("griffin_lim: momentum must be >= 0, got {}", options.momentum);

  const size_t count = mag.data.size();
  Spectrogram phase = initial_phase(mag, cfg, options.init, options.seed);
  Spectrogram estimate{mag.frames, mag.bins, std::vector<std::complex<float>>(count)};
  auto apply_phase = [&] {
    for (size_t i = 0; i < count; ++i) estimate.data[i] = mag.data[i] * phase.data[i];
  };
  // previous starts at zero, as in librosa: the first iteration is plain Griffin-Lim.
  Spectrogram rebuilt, previous{mag.frames, mag.bins, std::vector<std::complex<float>>(count)};
  const size_t inner_length = natural_length(mag.frames, cfg);
  std::vector<float> signal;
  for (int it = 0; it < options.iterations; ++it) {
    apply_phase();
    engine.inverse(estimate, inner_length, signal);
    engine.forward(signal, rebuilt);
    for (size_t i = 0; i < count; ++i) {
      std::complex<float> c = rebuilt.data[i] + options.momentum * (rebuilt.data[i] - previous.data[i]);
      float a = modulus(c);
      phase.data[i] = a > 0.0f ? c / a : std::complex<float>(1.0f, 0.0f);
    }
    std::swap(previous, rebuilt);
  }
  apply_phase();
  engine.inverse(estimate, length, signal);
  return signal;
}

}  // namespace mg::io
