// io/stft: perfect reconstruction, magnitude scale, features and layout,
// Griffin-Lim convergence and determinism, spectral metrics by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "io/jazz_synth.h"
#include "io/stft.h"
#include "tests/test_support.h"
#include "tensor/error.h"

using namespace mg::io;

namespace {

// Sweeps from 100 Hz to 3,100 Hz over the signal at 8 kHz.
std::vector<float> chirp(size_t n) {
  std::vector<float> x(n);
  const double rate = 8000.0, seconds = double(n) / rate;
  for (size_t i = 0; i < n; ++i) {
    double t = double(i) / rate;
    x[i] = float(0.6 * std::sin(2.0 * std::numbers::pi * (100.0 * t + 1500.0 * t * t / seconds)));
  }
  return x;
}

// ||a - b|| / ||b|| over samples [from, to).
double relative_error(const std::vector<float>& a, const std::vector<float>& b, size_t from, size_t to) {
  double num = 0.0, den = 0.0;
  for (size_t i = from; i < to; ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

Magnitude tiny(int frames, int bins, std::vector<float> values) { return {frames, bins, std::move(values)}; }

// How far a rebuilt magnitude is from the target: ||target - est||_F / ||target||_F (the
// spectral convergence of models/audio_metrics.h, written out here since io/ stands alone).
double convergence_of(const Magnitude& target, const Magnitude& est) {
  REQUIRE(target.data.size() == est.data.size());
  return relative_error(est.data, target.data, 0, target.data.size());
}

}  // namespace

TEST_CASE("istft(stft(x)) reconstructs noise and a chirp") {
  for (const std::vector<float>& x : {mg::test::uniform_noise(20000, 1), chirp(16001)}) {
    for (StftConfig cfg : {StftConfig{1024, 256, true}, StftConfig{512, 128, true}, StftConfig{256, 64, false}}) {
      CAPTURE(cfg.n_fft);
      CAPTURE(cfg.center);
      Spectrogram s = stft(x, cfg);
      CHECK(s.frames == stft_frames(x.size(), cfg));
      CHECK(s.bins == cfg.n_fft / 2 + 1);
      std::vector<float> y = istft(s, cfg, x.size());
      REQUIRE(y.size() == x.size());
      if (cfg.center) {
        CHECK(s.frames == int(1 + x.size() / size_t(cfg.hop)));
        CHECK(relative_error(y, x, 0, x.size()) < 1e-4);
      } else {
        // Without centring the first and last samples sit under the window's zero.
        size_t covered = size_t(s.frames - 1) * cfg.hop + cfg.n_fft;
        CHECK(relative_error(y, x, size_t(cfg.n_fft), covered - size_t(cfg.n_fft)) < 1e-4);
      }
    }
  }
}

TEST_CASE("stft magnitude: a sine peaks in its bin at amplitude * n_fft / 4") {
  const StftConfig cfg{512, 128, true};
  std::vector<float> x(8000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * float(std::sin(2.0 * std::numbers::pi * 1000.0 * double(i) / 8000.0));
  Magnitude m = magnitude(stft(x, cfg));
  const int frame = 20, expected_bin = 1000 * 512 / 8000;  // 64
  int best = 0;
  for (int k = 0; k < m.bins; ++k) best = m.at(frame, k) > m.at(frame, best) ? k : best;
  CHECK(best == expected_bin);
  CHECK(m.at(frame, best) == doctest::Approx(0.5 * 512 / 4).epsilon(1e-3));
}

TEST_CASE("log-magnitude features and the bins-by-frames layout invert exactly") {
  Magnitude m = magnitude(stft(chirp(4000), {256, 64, true}));
  Magnitude back = inverse_log_magnitude(log_magnitude(m));
  double worst = 0.0;
  for (size_t i = 0; i < m.data.size(); ++i) worst = std::max(worst, std::fabs(double(back.data[i]) - m.data[i]) / (1.0 + m.data[i]));
  CHECK(worst < 1e-5);
  CHECK(log_magnitude(tiny(1, 2, {0.0f, std::exp(1.0f) - 1.0f})).data[1] == doctest::Approx(1.0));
  CHECK(inverse_log_magnitude(tiny(1, 1, {-3.0f})).data[0] == 0.0f);  // negative features mean silence

  std::vector<float> matrix = bins_by_frames(m);
  CHECK(matrix[size_t(5) * m.frames + 7] == m.at(7, 5));  // element (bin 5, frame 7)
  Magnitude again = from_bins_by_frames(matrix, m.bins, m.frames);
  CHECK(again.data == m.data);
  CHECK_THROWS_AS(from_bins_by_frames(matrix, m.bins + 1, m.frames), mg::Error);
}

GriffinLimOptions gl(int iterations, float momentum, PhaseInit init = PhaseInit::Random, uint64_t seed = 11) {
  return {iterations, momentum, init, seed};
}

TEST_CASE("Griffin-Lim converges with iterations, momentum helps, a seed fixes the result") {
  const StftConfig cfg{512, 128, true};
  std::vector<float> x = synth_jazz_clip(3, 0, 2.0, 8000);
  Magnitude target = magnitude(stft(x, cfg));
  auto convergence = [&](int iterations, float momentum, PhaseInit init) {
    std::vector<float> y = griffin_lim(target, cfg, x.size(), gl(iterations, momentum, init));
    REQUIRE(y.size() == x.size());
    return convergence_of(target, magnitude(stft(y, cfg)));
  };
  const double fast5 = convergence(5, 0.99f, PhaseInit::Random), fast50 = convergence(50, 0.99f, PhaseInit::Random),
               plain50 = convergence(50, 0.0f, PhaseInit::Random);
  INFO("5 iterations: ", fast5, ", 50: ", fast50, ", 50 without momentum: ", plain50);
  CHECK(fast50 < fast5);
  CHECK(fast50 <= plain50);
  CHECK(fast50 < 0.2);
  // Starting from the phase advance of the peaks beats a random start at a few iterations.
  const double advance5 = convergence(5, 0.99f, PhaseInit::PhaseAdvance);
  INFO("5 iterations from the phase advance: ", advance5);
  CHECK(advance5 < fast5);

  std::vector<float> a = griffin_lim(target, cfg, x.size(), gl(3, 0.99f, PhaseInit::Random, 5));
  CHECK(a == griffin_lim(target, cfg, x.size(), gl(3, 0.99f, PhaseInit::Random, 5)));
  CHECK(a != griffin_lim(target, cfg, x.size(), gl(3, 0.99f, PhaseInit::Random, 6)));
  CHECK(griffin_lim(target, cfg, 0, gl(1, 0.99f)).size() == size_t(target.frames - 1) * cfg.hop);
}

TEST_CASE("the phase-advance start nearly rebuilds a steady sinusoid") {
  // A sine at a bin centre: the initial phase alone (no iteration) comes close;
  // what is left is mostly the first and last frames, where the reflect padding bends the phase.
  const StftConfig cfg{512, 128, true};
  const int rate = 8000;
  std::vector<float> x(8000);
  const double f = 40.0 * rate / cfg.n_fft;  // bin 40
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(0.5 * std::sin(2 * std::numbers::pi * f * double(i) / rate));
  Magnitude target = magnitude(stft(x, cfg));
  const double advance = convergence_of(target, magnitude(stft(griffin_lim(target, cfg, x.size(), gl(0, 0.0f, PhaseInit::PhaseAdvance)), cfg)));
  const double random = convergence_of(target, magnitude(stft(griffin_lim(target, cfg, x.size(), gl(0, 0.0f, PhaseInit::Random)), cfg)));
  INFO("phase advance ", advance, ", random ", random);
  CHECK(advance < 0.2);
  CHECK(advance < random / 3);
}

TEST_CASE("invalid STFT settings are errors") {
  std::vector<float> x = mg::test::uniform_noise(1000, 2);
  CHECK_THROWS_AS(stft(x, {1023, 256, true}), mg::Error);
  CHECK_THROWS_AS(stft(x, {1024, 0, true}), mg::Error);
  CHECK_THROWS_AS(stft(x, {2048, 256, false}), mg::Error);  // shorter than one frame
  CHECK_THROWS_AS(stft({}, {256, 64, true}), mg::Error);
  CHECK(stft(x, {2048, 256, true}).frames == 4);  // centred: reflect padding copes with short signals
  Magnitude m = magnitude(stft(x, {256, 64, true}));
  CHECK_THROWS_AS(griffin_lim(m, {512, 64, true}, 0, gl(4, 0.99f)), mg::Error);
}
