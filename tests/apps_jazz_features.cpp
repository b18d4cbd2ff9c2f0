// jazz-vae's features as code: both compressions (|S|^p and log(|S| + floor))
// map back to the clip's own magnitudes, the training loss's magnitude map
// agrees with the one eval and generate use, the flags pick the documented
// defaults, and the joined training frames cut windows and crops from the
// right places.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "apps/jazz-vae/jazz.h"
#include "tensor/rng.h"

namespace {

// A chord with a decaying envelope and a little noise: every bin has some energy.
std::vector<float> test_audio(double seconds, int rate, int shift) {
  std::vector<float> out(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < out.size(); ++i) {
    const double t = static_cast<double>(i) / rate;
    const double env = 0.3 + 0.7 * std::exp(-3.0 * std::fmod(t, 0.5));
    out[i] = static_cast<float>(env * (0.3 * std::sin(2 * M_PI * (220.0 + 20 * shift) * t) +
                                       0.2 * std::sin(2 * M_PI * 330.0 * t) + 0.1 * std::sin(2 * M_PI * 1250.0 * t)) +
                                0.01 * mg::Philox::normal(7 + shift, i));
  }
  return out;
}

jazz::FeatureConfig config(const std::string& compress) {
  jazz::FeatureConfig f;
  f.clip_seconds = 0.5;
  f.n_fft = 256;
  f.hop = 128;
  f.compress = compress;
  f.power = 0.3;
  f.log_floor = 1e-3;
  return f;
}

// Largest |a - b| relative to the largest |a|.
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0, peak = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
    peak = std::max(peak, std::fabs(double(a[i])));
  }
  return worst / peak;
}

}  // namespace

TEST_CASE("power-law and log features map back to the clip's own magnitudes, in the app and in the loss's map") {
  for (const char* compress : {"power", "log"}) {
    INFO(compress);
    jazz::FeatureConfig f = config(compress);
    const std::vector<float> audio = test_audio(f.clip_seconds, f.sample_rate, 0);
    jazz::fit_standardisation(f, {audio, test_audio(f.clip_seconds, f.sample_rate, 1)});
    CHECK(f.feature_std > 0.01f);
    const std::vector<float> x = jazz::compute_features(f, audio);
    REQUIRE(static_cast<int64_t>(x.size()) == f.channels() * f.length());
    // Standardised: the features of the fitted clips have a small mean.
    double mean = 0;
    for (float v : x) mean += v / static_cast<double>(x.size());
    CHECK(std::fabs(mean) < 1.0);

    const mg::io::Magnitude want = jazz::clip_magnitude(f, audio);
    const mg::io::Magnitude got = jazz::reconstructed_magnitude(f, x);
    CHECK(relative_error(want.data, got.data) < 1e-4);

    // The loss's map on the same features ([1, C, L] -> [1, C, L]) gives the same magnitudes ([frames][bins]).
    const mg::nn::MagnitudeMap map = jazz::magnitude_map(f, mg::Device::CPU);
    const std::vector<float> m = map.magnitudes(mg::from_vector(x, {1, f.channels(), f.length()})).to_vector<float>();
    std::vector<float> by_frames(m.size());
    for (int64_t b = 0; b < f.channels(); ++b)
      for (int64_t t = 0; t < f.length(); ++t) by_frames[t * f.channels() + b] = m[b * f.length() + t];
    CHECK(relative_error(want.data, by_frames) < 1e-4);
  }
}

TEST_CASE("power-law features weigh a loud bin more than log features do") {
  // The clip and the same clip 10 % louder: every magnitude grows by the same factor, so the squared change of a
  // feature is (1.1^p - 1)^2 |S|^(2p) / std^2 with |S|^p (a loud bin changes more) and log(1.1)^2 / std^2 with
  // log(|S| + floor) wherever |S| is far above the floor (every bin changes alike).
  for (const char* compress : {"power", "log"}) {
    INFO(compress);
    jazz::FeatureConfig f = config(compress);
    const std::vector<float> audio = test_audio(f.clip_seconds, f.sample_rate, 0);
    jazz::fit_standardisation(f, {audio, test_audio(f.clip_seconds, f.sample_rate, 1)});
    std::vector<float> louder = audio;
    for (float& v : louder) v *= 1.1f;
    const std::vector<float> x = jazz::compute_features(f, audio), y = jazz::compute_features(f, louder);
    const mg::io::Magnitude mag = jazz::clip_magnitude(f, audio);  // [frames][bins]; features are [bins][frames]
    REQUIRE(mag.data.size() == x.size());
    std::vector<std::pair<double, double>> by_level;  // (|S|, squared change of its feature)
    for (int64_t b = 0; b < f.channels(); ++b)
      for (int64_t t = 0; t < f.length(); ++t) {
        const double m = mag.data[static_cast<size_t>(t * f.channels() + b)];
        const size_t i = static_cast<size_t>(b * f.length() + t);
        if (m > 100 * f.log_floor) by_level.emplace_back(m, std::pow(double(y[i]) - x[i], 2));
      }
    std::sort(by_level.begin(), by_level.end());
    REQUIRE(by_level.size() >= 100);
    const size_t tenth = by_level.size() / 10;
    double quiet_level = 0, loud_level = 0, quiet = 0, loud = 0;
    for (size_t k = 0; k < tenth; ++k) {
      quiet_level += by_level[k].first / tenth;
      quiet += by_level[k].second / tenth;
      loud_level += by_level[by_level.size() - 1 - k].first / tenth;
      loud += by_level[by_level.size() - 1 - k].second / tenth;
    }
    REQUIRE(loud_level > 30 * quiet_level);  // the clip spans a wide range of levels
    if (std::string(compress) == "power")
      CHECK(loud > 0.5 * std::pow(loud_level / quiet_level, 0.6) * quiet);
    else
      CHECK(loud == doctest::Approx(quiet).epsilon(0.1));
  }
}

TEST_CASE("jazz-vae train flags: the time-resolved latent's defaults, the global one's, and the checks between them") {
  jazz::TrainOptions o;
  o.common.out = "run";
  jazz::FeatureConfig f = jazz::features_from_flags(o);
  CHECK(f.compress == "power");
  CHECK(f.power == doctest::Approx(jazz::kTimePower));
  mg::nn::ConvVaeConfig c = jazz::model_from_flags(o, f);
  CHECK(c.latent == jazz::kTimeLatent);
  jazz::TrainSettings s = jazz::settings_from_flags(o, c);
  CHECK(s.beta == doctest::Approx(jazz::kTimeBeta));
  CHECK(s.log_weight == doctest::Approx(jazz::kTimeLogWeight));
  CHECK(s.spectral_weight == doctest::Approx(jazz::kTimeSpectralWeight));
  CHECK(s.lr_schedule == "cosine");

  jazz::TrainOptions g = o;
  g.latent_mode = "global";
  f = jazz::features_from_flags(g);
  CHECK(f.compress == "log");
  c = jazz::model_from_flags(g, f);
  s = jazz::settings_from_flags(g, c);
  CHECK(s.beta == 1.0);
  CHECK(s.log_weight == 0.0);
  CHECK(s.lr_schedule == "constant");

  // Explicit flags win.
  jazz::TrainOptions e = o;
  e.compress = "log";
  e.beta = 0.5;
  e.lr_schedule = "constant";
  CHECK(jazz::features_from_flags(e).compress == "log");
  s = jazz::settings_from_flags(e, jazz::model_from_flags(e, jazz::features_from_flags(e)));
  CHECK(s.beta == 0.5);
  CHECK(s.lr_schedule == "constant");
}

TEST_CASE("the joined training frames cut windows and crops out of the right file at the right frame") {
  jazz::FeatureConfig f = config("power");
  jazz::Dataset d;
  d.files = {"a.wav", "b.wav"};
  // File a: three consecutive clips; file b: one.
  const std::vector<float> a = test_audio(3 * f.clip_seconds, f.sample_rate, 0), b = test_audio(f.clip_seconds, f.sample_rate, 2);
  const size_t n = static_cast<size_t>(f.clip_samples());
  for (size_t k = 0; k < 3; ++k) {
    jazz::Clip c;
    c.file = 0;
    c.audio.assign(a.begin() + static_cast<long>(k * n), a.begin() + static_cast<long>((k + 1) * n));
    d.clips.push_back(c);
    d.train.push_back(k);
  }
  jazz::Clip cb;
  cb.file = 1;
  cb.audio = b;
  d.clips.push_back(cb);
  d.train.push_back(3);
  jazz::fit_standardisation(f, {a, b});

  const jazz::FileFrames frames(d, f);
  CHECK(frames.files() == std::vector<size_t>{0, 1});
  const int64_t C = f.channels(), L = f.length();
  // The whole of file a: its frames are those of its three clips' audio joined.
  const std::vector<float> whole = jazz::compute_features(f, a);
  REQUIRE(frames.frames(0) == static_cast<int64_t>(whole.size()) / C);
  CHECK(frames.frames(1) == L);
  const int64_t F = frames.frames(0);
  for (int64_t start : {int64_t{0}, int64_t{5}, F - L}) {
    INFO(start);
    const std::vector<float> w = frames.window(0, start);
    REQUIRE(static_cast<int64_t>(w.size()) == C * L);
    for (int64_t bin : {int64_t{0}, C / 2, C - 1})
      for (int64_t t : {int64_t{0}, L - 1}) CHECK(w[bin * L + t] == whole[bin * F + start + t]);
  }
  CHECK_THROWS_AS(frames.window(0, F - L + 1), mg::Error);
  CHECK_THROWS_AS(frames.window(1, 1), mg::Error);

  // A crop is one of the windows, the same for the same (seed, epoch, step, i), and moves with them.
  const std::vector<float> c1 = frames.crop(d.clips[1], 42, 3, 0, 1);
  CHECK(c1 == frames.crop(d.clips[1], 42, 3, 0, 1));
  bool found = false;
  for (int64_t s = 0; s <= F - L && !found; ++s) found = frames.window(0, s) == c1;
  CHECK(found);
  int differ = 0;
  for (int e = 0; e < 8; ++e) differ += frames.crop(d.clips[1], 42, e, 0, 1) != c1;
  CHECK(differ >= 6);
  // File b has exactly one window.
  CHECK(frames.crop(d.clips[3], 42, 5, 1, 0) == frames.window(1, 0));
}
