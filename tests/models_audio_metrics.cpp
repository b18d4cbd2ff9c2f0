// models/audio_metrics.h against straightforward computations and known
// cases: spectral convergence and log-spectral distance, multi-resolution distances, the mel filterbank, log-mel statistics
// and their Fréchet distance, onset strength and correlation.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "models/audio_metrics.h"
#include "tests/test_support.h"
#include "tensor/error.h"

using namespace mg::nn;
using mg::io::Magnitude;
using mg::io::StftConfig;
using mg::io::magnitude;
using mg::io::stft;

namespace {

// Slaney's mel scale written out directly: 3 mel per 200 Hz below 1 kHz, then 27 mel per factor 6.4.
double slaney_mel(double hz) { return hz < 1000 ? 3.0 * hz / 200.0 : 15.0 + 27.0 * std::log(hz / 1000.0) / std::log(6.4); }

// Feature vectors whose statistics are fed to GaussianStats: [frames][dims].
FrameFeatures features(const std::vector<std::vector<float>>& rows) {
  FrameFeatures f{int(rows.size()), int(rows.front().size()), {}};
  for (const auto& r : rows) f.data.insert(f.data.end(), r.begin(), r.end());
  return f;
}

// Correlated 2-D points: (a, b) with b = k a + noise, shifted by (dx, dy).
std::vector<std::vector<float>> cloud(int n, double k, double dx, double dy, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < n; ++i) {
    const double a = g(rng), b = k * a + 0.5 * g(rng);
    rows.push_back({float(a + dx), float(b + dy)});
  }
  return rows;
}

Magnitude tiny(int frames, int bins, std::vector<float> values) { return {frames, bins, std::move(values)}; }

}  // namespace

TEST_CASE("spectral metrics: zero for identical, positive otherwise, and by hand") {
  Magnitude ref = tiny(1, 2, {3.0f, 4.0f});
  CHECK(spectral_convergence(ref, ref) == 0.0);
  CHECK(spectral_convergence(ref, tiny(1, 2, {0.0f, 0.0f})) == doctest::Approx(1.0));
  CHECK(spectral_convergence(ref, tiny(1, 2, {3.0f, 0.0f})) == doctest::Approx(0.8));  // |(0, 4)| / |(3, 4)|
  CHECK(spectral_convergence(tiny(1, 1, {0.0f}), tiny(1, 1, {0.0f})) == 0.0);
  CHECK(std::isinf(spectral_convergence(tiny(1, 1, {0.0f}), tiny(1, 1, {1.0f}))));

  // Frame 0 differs by a factor 10 in magnitude (20 dB) in both bins, frame 1 not at all:
  // sqrt(mean(20^2, 20^2)) = 20 and 0, averaged over the frames = 10 dB.
  Magnitude a = tiny(2, 2, {1, 1, 1, 1}), b = tiny(2, 2, {10, 10, 1, 1});
  CHECK(log_spectral_distance(a, a) == 0.0);
  CHECK(log_spectral_distance(a, b) == doctest::Approx(10.0).epsilon(1e-8));
  CHECK(log_spectral_distance(a, b) == log_spectral_distance(b, a));
  // One bin of two off by 20 dB: sqrt(400 / 2) in frame 0.
  CHECK(log_spectral_distance(tiny(1, 2, {1, 1}), tiny(1, 2, {10, 1})) == doctest::Approx(std::sqrt(200.0)));

  CHECK_THROWS_AS(spectral_convergence(a, ref), mg::Error);
  CHECK_THROWS_AS(log_spectral_distance(a, ref), mg::Error);
}


TEST_CASE("multi-resolution STFT distance: zero for identical, 1 + ln 2 for twice as loud") {
  const std::vector<float> x = mg::test::uniform_noise(8000, 1);
  CHECK(multi_resolution_stft_distance(x, x) == 0.0);
  std::vector<float> y(x);
  for (float& v : y) v *= 2.0f;
  // Each resolution: ||S - 2S|| / ||S|| = 1, and |ln S - ln 2S| = ln 2 wherever S >> eps.
  CHECK(multi_resolution_stft_distance(x, y) == doctest::Approx(1.0 + std::log(2.0)).epsilon(2e-3));
  // One resolution by hand: the same two terms written out.
  const StftConfig cfg{512, 128, true};
  const Magnitude a = magnitude(stft(x, cfg));
  std::vector<float> z = mg::test::uniform_noise(8000, 2);
  const Magnitude b = magnitude(stft(z, cfg));
  double num = 0, den = 0, l1 = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    num += (double(a.data[i]) - b.data[i]) * (double(a.data[i]) - b.data[i]);
    den += double(a.data[i]) * a.data[i];
    l1 += std::fabs(std::log(a.data[i] + 1e-5) - std::log(b.data[i] + 1e-5));
  }
  CHECK(multi_resolution_stft_distance(x, z, {{512, 128}}) ==
        doctest::Approx(std::sqrt(num / den) + l1 / double(a.data.size())).epsilon(1e-6));
  CHECK_THROWS_AS(multi_resolution_stft_distance(x, std::vector<float>(10)), mg::Error);
}

TEST_CASE("pool_power sums power over groups and the magnitude distance uses three resolutions") {
  // 5 frames x 4 bins: frame groups of 4 drop the fifth frame.
  Magnitude m{5, 4, {}};
  for (int i = 0; i < 20; ++i) m.data.push_back(float(i + 1));
  const Magnitude frames = pool_power(m, 4, 1), bins = pool_power(m, 1, 4);
  REQUIRE(frames.frames == 1);
  REQUIRE(frames.bins == 4);
  // Bin 0 over frames 0..3: values 1, 5, 9, 13.
  CHECK(frames.at(0, 0) == doctest::Approx(std::sqrt(1.0 + 25 + 81 + 169)));
  REQUIRE(bins.frames == 5);
  REQUIRE(bins.bins == 1);
  CHECK(bins.at(1, 0) == doctest::Approx(std::sqrt(25.0 + 36 + 49 + 64)));

  Magnitude twice = m;
  for (float& v : twice.data) v *= 2;
  CHECK(multi_resolution_magnitude_distance(m, m) == 0.0);
  // Every resolution of a doubled spectrogram is doubled: 1 + ln 2 at each.
  CHECK(multi_resolution_magnitude_distance(m, twice) == doctest::Approx(1.0 + std::log(2.0)).epsilon(1e-5));
}

TEST_CASE("mel filterbank: Slaney triangles at the right places, each of unit area") {
  const int rate = 22050, n_fft = 2048, n_mels = 80;
  const MelFilterbank fb = mel_filterbank(rate, n_fft, n_mels);
  REQUIRE(fb.n_mels == n_mels);
  REQUIRE(fb.bins == n_fft / 2 + 1);
  const double hz_per_bin = double(rate) / n_fft, top = slaney_mel(rate / 2.0);
  for (int m = 0; m < n_mels; ++m) {
    CAPTURE(m);
    const float* w = &fb.weights[size_t(m) * fb.bins];
    const int peak = int(std::max_element(w, w + fb.bins) - w);
    // The peak bin lies within a bin of the band's centre, (m + 1) / (n_mels + 1) of the way up in mel.
    const double centre_mel = top * (m + 1) / (n_mels + 1);
    CHECK(std::fabs(slaney_mel(peak * hz_per_bin) - centre_mel) <=
          slaney_mel((peak + 1) * hz_per_bin) - slaney_mel(std::max(0, peak - 1) * hz_per_bin));
    if (m >= 20) {  // wide enough that the sampled triangle's area is its integral
      double area = 0;
      for (int k = 0; k < fb.bins; ++k) area += w[k] * hz_per_bin;
      CHECK(area == doctest::Approx(1.0).epsilon(0.03));
    }
  }
  CHECK_THROWS_AS(mel_filterbank(rate, n_fft, 0), mg::Error);
}

TEST_CASE("log-mel puts a sine in its band, and GaussianStats matches a direct mean and covariance") {
  const int rate = 22050;
  const StftConfig cfg{1024, 512, true};
  std::vector<float> x(22050);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(0.5 * std::sin(2 * std::numbers::pi * 2000.0 * double(i) / rate));
  const MelFilterbank fb = mel_filterbank(rate, cfg.n_fft, 80);
  const FrameFeatures lm = log_mel(magnitude(stft(x, cfg)), fb);
  REQUIRE(lm.dims == 80);
  // The loudest band of a middle frame is the one whose triangle weighs 2 kHz most.
  const int t = lm.frames / 2, bin = int(std::lround(2000.0 * cfg.n_fft / rate));
  int loudest = 0, widest = 0;
  for (int m = 0; m < 80; ++m) {
    if (lm.at(t, m) > lm.at(t, loudest)) loudest = m;
    if (fb.weights[size_t(m) * fb.bins + bin] > fb.weights[size_t(widest) * fb.bins + bin]) widest = m;
  }
  CHECK(loudest == widest);

  const std::vector<std::vector<float>> rows = cloud(50, 0.7, 1.0, -2.0, 3);
  GaussianStats s(2);
  s.add(features(std::vector<std::vector<float>>(rows.begin(), rows.begin() + 20)));
  s.add(features(std::vector<std::vector<float>>(rows.begin() + 20, rows.end())));
  double m0 = 0, m1 = 0;
  for (const auto& r : rows) m0 += r[0] / 50.0, m1 += r[1] / 50.0;
  double c01 = 0;
  for (const auto& r : rows) c01 += (r[0] - m0) * (r[1] - m1) / 49.0;
  CHECK(s.count() == 50);
  CHECK(s.mean()[0] == doctest::Approx(m0).epsilon(1e-9));
  CHECK(s.mean()[1] == doctest::Approx(m1).epsilon(1e-9));
  CHECK(s.covariance()[1] == doctest::Approx(c01).epsilon(1e-9));
  CHECK(s.covariance()[2] == s.covariance()[1]);
}

TEST_CASE("Fréchet distance: zero for one set, the closed forms in one and two dimensions") {
  const std::vector<std::vector<float>> a = cloud(400, 0.8, 0.0, 0.0, 4), b = cloud(300, -0.3, 1.5, 0.5, 5);
  GaussianStats sa(2), sb(2);
  sa.add(features(a));
  sb.add(features(b));
  CHECK(frechet_distance(sa, sa) == doctest::Approx(0.0).epsilon(1e-6).scale(1.0));

  // Two dimensions: tr((C1 C2)^(1/2)) = sqrt(tr(C1 C2) + 2 sqrt(det(C1 C2))) for PSD C1, C2.
  const std::vector<double> ma = sa.mean(), mb = sb.mean(), ca = sa.covariance(), cb = sb.covariance();
  const double p00 = ca[0] * cb[0] + ca[1] * cb[2], p01 = ca[0] * cb[1] + ca[1] * cb[3];
  const double p10 = ca[2] * cb[0] + ca[3] * cb[2], p11 = ca[2] * cb[1] + ca[3] * cb[3];
  const double trace_root = std::sqrt(p00 + p11 + 2.0 * std::sqrt(p00 * p11 - p01 * p10));
  const double expected = (ma[0] - mb[0]) * (ma[0] - mb[0]) + (ma[1] - mb[1]) * (ma[1] - mb[1]) + ca[0] + ca[3] + cb[0] +
                          cb[3] - 2.0 * trace_root;
  CHECK(frechet_distance(sa, sb) == doctest::Approx(expected).epsilon(1e-9));
  CHECK(frechet_distance(sb, sa) == doctest::Approx(expected).epsilon(1e-9));

  // One dimension: (m1 - m2)^2 + (s1 - s2)^2.
  GaussianStats one(1), two(1);
  one.add(features({{0.0f}, {2.0f}}));        // mean 1, variance 2
  two.add(features({{3.0f}, {5.0f}, {7.0f}}));  // mean 5, variance 4
  CHECK(frechet_distance(one, two) == doctest::Approx(16.0 + std::pow(std::sqrt(2.0) - 2.0, 2)).epsilon(1e-9));
  CHECK_THROWS_AS(frechet_distance(one, sa), mg::Error);
}

TEST_CASE("onset strength rises at clicks, and correlation by hand") {
  const int rate = 22050;
  const StftConfig cfg{1024, 256, true};
  std::vector<float> x = mg::test::uniform_noise(rate * 2, 6);
  for (float& v : x) v *= 0.001f;
  const std::vector<size_t> clicks = {11025, 22050, 33075};
  for (size_t c : clicks)
    for (size_t i = 0; i < 200; ++i) x[c + i] += float(0.8 * std::exp(-double(i) / 40.0) * ((i % 2) ? 1 : -1));
  const MelFilterbank fb = mel_filterbank(rate, cfg.n_fft, 80);
  const Magnitude mag = magnitude(stft(x, cfg));
  const std::vector<float> onset = onset_strength(mag, fb);
  REQUIRE(int(onset.size()) == mag.frames);
  CHECK(onset[0] == 0.0f);
  // Its definition written out: mean over bands of the rise in dB, floored 80 dB below the loudest.
  const FrameFeatures lm = log_mel(mag, fb, 1e-10);
  double top = -1e300;
  for (float v : lm.data) top = std::max(top, 10.0 * v / std::log(10.0));
  for (int t = 1; t < mag.frames; ++t) {
    double rise = 0;
    for (int m = 0; m < 80; ++m) {
      const double now = std::max(10.0 * lm.at(t, m) / std::log(10.0), top - 80.0);
      const double before = std::max(10.0 * lm.at(t - 1, m) / std::log(10.0), top - 80.0);
      rise += std::max(0.0, now - before);
    }
    CHECK(onset[size_t(t)] == doctest::Approx(rise / 80.0).epsilon(1e-4));
  }
  // The three strongest frames are the clicks' (with centring, frame t covers samples around t * hop).
  std::vector<int> order(onset.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return onset[size_t(a)] > onset[size_t(b)]; });
  std::vector<int> top3(order.begin(), order.begin() + 3);
  std::sort(top3.begin(), top3.end());
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(std::abs(top3[i] - int(clicks[i] / cfg.hop)) <= 2);
  }

  CHECK(correlation({1, 2, 3}, {2, 4, 6}) == doctest::Approx(1.0));
  CHECK(correlation({1, 2, 3}, {3, 2, 1}) == doctest::Approx(-1.0));
  CHECK(correlation({1, 2, 3}, {1, 3, 2}) == doctest::Approx(0.5));  // cov 0.5, variances 1 and 1
  CHECK(correlation({1, 1, 1}, {1, 2, 3}) == 0.0);
  CHECK(correlation(onset, onset) == doctest::Approx(1.0));
  CHECK_THROWS_AS(correlation({1, 2}, {1, 2, 3}), mg::Error);
}
