#pragma once
// Short-time Fourier transform with FFTW3 (single precision), its inverse,
// log-magnitude features for the VAE, and fast Griffin-Lim phase
// reconstruction. The distances measured on spectrograms (spectral
// convergence, log-spectral distance, mel statistics, onset strength) are in
// models/audio_metrics.h.
//
// Conventions (librosa's): periodic Hann window; frame t covers samples
// [t*hop, t*hop + n_fft) of the signal, which with center=true is first
// reflect-padded by n_fft/2 on both sides so frame t is centred on sample
// t*hop; the forward FFT is unnormalised (a full-scale sine of amplitude A
// peaks near A*n_fft/4 in magnitude). Spectrograms are frame-major:
// element (t, k) sits at [t * bins + k], bins = n_fft/2 + 1.
//
// FFTW plans are made once per n_fft (FFTW_ESTIMATE, so instantly) under a
// mutex and shared; the transforms themselves may run on several threads.
#include <complex>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mg::io {

struct StftConfig {
  int n_fft = 1024;  // even, >= 2
  int hop = 256;     // 1 .. n_fft
  bool center = true;
  int bins() const { return n_fft / 2 + 1; }
};

struct Spectrogram {
  int frames = 0, bins = 0;
  std::vector<std::complex<float>> data;  // [frames][bins]
  std::complex<float>& at(int t, int k) { return data[size_t(t) * bins + k]; }
  const std::complex<float>& at(int t, int k) const { return data[size_t(t) * bins + k]; }
};

struct Magnitude {
  int frames = 0, bins = 0;
  std::vector<float> data;  // [frames][bins], non-negative
  float& at(int t, int k) { return data[size_t(t) * bins + k]; }
  float at(int t, int k) const { return data[size_t(t) * bins + k]; }
};

// Frames for a signal of `length` samples: 1 + length/hop when centred,
// otherwise 1 + (length - n_fft)/hop (0 when length < n_fft).
int stft_frames(size_t length, const StftConfig& cfg);

// Throws mg::Error for an invalid config or (center=false) a signal shorter
// than one frame.
Spectrogram stft(const std::vector<float>& x, const StftConfig& cfg);

// Windowed overlap-add divided by the summed squared window, so istft(stft(x))
// gives x back wherever the window sum is non-zero (everywhere when centred).
// The result has `length` samples (0: the natural length, (frames-1)*hop when
// centred, (frames-1)*hop + n_fft otherwise).
std::vector<float> istft(const Spectrogram& spec, const StftConfig& cfg, size_t length);

Magnitude magnitude(const Spectrogram& spec);

// VAE features: log(1 + |S|). Chosen over log(|S| + eps) because silence maps
// to exactly 0, the features are never negative (no eps-dependent floor at
// -23 for eps = 1e-10), and the inverse is exact: |S| = exp(f) - 1.
Magnitude log_magnitude(const Magnitude& mag);
// Inverse of log_magnitude: max(exp(f) - 1, 0), so negative network outputs
// map to silence rather than to negative magnitudes.
Magnitude inverse_log_magnitude(const Magnitude& features);

// Layout for 1-D convolutions over time with frequency bins as channels:
// a row-major [bins x frames] matrix, element (k, t) at [k * frames + t].
std::vector<float> bins_by_frames(const Magnitude& m);
// The inverse: reads a [bins x frames] matrix back into a Magnitude.
Magnitude from_bins_by_frames(const std::vector<float>& matrix, int bins, int frames);

// Where Griffin-Lim's phase starts.
//   Random: uniform in [0, 2*pi), drawn from std::mt19937_64(seed) with a fixed
//     mapping of its bits, so a seed gives the same audio on any platform with
//     the same libm.
//   PhaseAdvance: phase-vocoder integration with identity phase locking
//     (Laroche and Dolson 1999) from the magnitudes alone. Each spectral peak p
//     gets a fractional frequency f (bins) from a parabola through the log
//     magnitudes around it; its phase reference advances from the previous
//     frame's by 2*pi*f*hop/n_fft, and every bin k of the peak's region (up to
//     the lowest bins between peaks) takes reference - pi*(k - f), the phase a
//     stationary sinusoid at f has under a Hann window centred in the frame.
//     Consistent for steady sinusoids (apart from the first and last frames,
//     where reflect padding bends the phase), so iterations start near a
//     consistent spectrogram instead of from noise.
enum class PhaseInit { Random, PhaseAdvance };

struct GriffinLimOptions {
  int iterations = 32;
  float momentum = 0.99f;  // 0: classic Griffin-Lim
  PhaseInit init = PhaseInit::PhaseAdvance;
  uint64_t seed = 0;  // Random only
};

// The initial phase as unit phasors, [frames][bins].
Spectrogram initial_phase(const Magnitude& mag, const StftConfig& cfg, PhaseInit init, uint64_t seed = 0);

// Fast Griffin-Lim (Perraudin, Balazs and Sondergaard 2013), the momentum
// variant librosa implements: with c_n the projection of the current estimate
// onto consistent spectrograms, the next phase is that of
// c_n + momentum * (c_n - c_{n-1}); momentum 0 is classic Griffin-Lim.
// Returns `length` samples (0: natural length).
std::vector<float> griffin_lim(const Magnitude& mag, const StftConfig& cfg, size_t length,
                               const GriffinLimOptions& options = {});

}  // namespace mg::io
