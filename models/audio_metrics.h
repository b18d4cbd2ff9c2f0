#pragma once
// How close one spectrogram is to another, and a set of clips to another set:
// spectral convergence, log-spectral distance, multi-resolution distances,
// mel features with the Fréchet distance of their statistics, onset strength
// and its correlation. These score reconstructions and samples (jazz-vae
// train and eval); they read the plain spectrograms of io/stft.h and hold no
// tensors.
#include <cstdint>
#include <vector>

#include "io/stft.h"

namespace mg::nn {

using io::Magnitude;

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

}  // namespace mg::nn
