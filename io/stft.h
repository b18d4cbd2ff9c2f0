#pragma once
// Short-time Fourier transform with FFTW3 (single precision), its inverse,
// log-magnitude features for the VAE, fast Griffin-Lim phase reconstruction,
// spectral distances, mel features with their Fréchet distance, and onset
// strength.
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

// Spectral convergence ||ref| - |est||_F / ||ref||_F over all (frame, bin)
// elements. 0 when both are all zero, +infinity when only ref is.
// Shapes must match (mg::Error otherwise); sums run in double.
double spectral_convergence(const Magnitude& ref, const Magnitude& est);

// Log-spectral distance in dB:
//   (1/T) * sum_t sqrt( (1/K) * sum_k (10*log10(ref_tk^2 + eps) - 10*log10(est_tk^2 + eps))^2 )
// over T frames and K bins. eps sets the floor (-100 dB for 1e-10) below which
// differences between near-silent bins stop counting.
double log_spectral_distance(const Magnitude& ref, const Magnitude& est, double eps = 1e-10);

// Multi-resolution STFT distance (Yamamoto, Song and Kim 2020, the Parallel
// WaveGAN loss, as a distance): the mean over resolutions r of
//   ||S_r - Ŝ_r||_F / ||S_r||_F  +  mean over (frame, bin) of |ln(S_r + eps) - ln(Ŝ_r + eps)|
// with S_r the magnitude spectrogram of the reference waveform at resolution r
// and Ŝ_r the estimate's. eps = 1e-5 matches log_spectral_distance's floor.
struct Resolution {
  int n_fft, hop;
};
inline const std::vector<Resolution> kStftResolutions = {{512, 128}, {1024, 256}, {2048, 512}};
double multi_resolution_stft_distance(const std::vector<float>& ref, const std::vector<float>& est,
                                      const std::vector<Resolution>& resolutions = kStftResolutions);

// The same two terms on magnitude spectrograms that have no waveform (a
// decoder's output), at three resolutions derived from one: as given, with
// the power of every 4 frames summed (coarser in time, like a longer window)
// and with the power of every 4 bins summed (coarser in frequency, like a
// shorter one); trailing frames or bins that do not fill a group are dropped.
double multi_resolution_magnitude_distance(const Magnitude& ref, const Magnitude& est);
// One of those resolutions: sqrt of the power summed over groups of `frames` x `bins`.
Magnitude pool_power(const Magnitude& m, int frames, int bins);

// ---- Mel features, their statistics, onset strength

// Slaney's mel scale and area-normalised triangles (librosa's defaults,
// htk=False, norm='slaney'): n_mels filters spread evenly in mel between fmin
// and fmax (0: sample_rate / 2), each a row of weights over the n_fft/2+1 bins.
struct MelFilterbank {
  int n_mels = 0, bins = 0;
  std::vector<float> weights;  // [n_mels][bins]
};
MelFilterbank mel_filterbank(int sample_rate, int n_fft, int n_mels = 80, double fmin = 0, double fmax = 0);

// Per-frame features, [frames][dims].
struct FrameFeatures {
  int frames = 0, dims = 0;
  std::vector<float> data;
  float at(int t, int d) const { return data[size_t(t) * dims + d]; }
};

// ln(mel power + floor) per frame: mel power = sum over bins of weight * |S|^2.
// The floor (1e-6, power of the unnormalised FFT) sits near 16-bit quantisation
// noise, so the silence of different files maps to one value.
FrameFeatures log_mel(const Magnitude& mag, const MelFilterbank& fb, double floor = 1e-6);

// The mean and covariance (divided by count - 1) of feature vectors, accumulated in double.
class GaussianStats {
 public:
  explicit GaussianStats(int dims);
  void add(const FrameFeatures& f);
  int dims() const { return dims_; }
  int64_t count() const { return count_; }
  std::vector<double> mean() const;
  std::vector<double> covariance() const;  // [dims][dims]

 private:
  int dims_;
  int64_t count_ = 0;
  std::vector<double> sum_, outer_;
};

// Fréchet distance between the Gaussians fitted to two sets (the FID / FAD formula):
//   |m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2)),
// with tr((C1 C2)^(1/2)) = sum of sqrt(eigenvalues of C1^(1/2) C2 C1^(1/2)) (Jacobi eigensolver).
// Needs at least two vectors in each set.
double frechet_distance(const GaussianStats& a, const GaussianStats& b);

// Onset strength per frame (librosa.onset.onset_strength's definition): the
// mean over mel bands of max(0, D[t][m] - D[t-1][m]), with D = 10 log10(mel
// power) floored 80 dB below the clip's loudest band; frame 0 is 0.
std::vector<float> onset_strength(const Magnitude& mag, const MelFilterbank& fb);

// Pearson correlation of two equally long series; 0 when either is constant.
double correlation(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace mg::io
