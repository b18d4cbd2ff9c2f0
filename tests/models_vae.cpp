// The jazz VAE: shapes through encoder/decoder (global and time-resolved
// latent), a short run overfits one clip, the loss of models/vae_loss.h by
// hand (its magnitude terms also by float64 central differences), active
// units, and the learned prior of models/latent_prior.h (its units, its file
// conditioning, and its -log p by float64 central differences).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <numbers>

#include "autograd/gradcheck.h"
#include "io/stft.h"
#include "models/audio_metrics.h"
#include "models/jazz_vae.h"
#include "models/latent_prior.h"
#include "models/vae_loss.h"
#include "models/optim.h"
#include "tensor/rng.h"

using namespace mg;

TEST_CASE("conv vae shapes round trip an odd length") {
  manual_seed(1);
  nn::ConvVaeConfig c;
  c.in_channels = 5;
  c.length = 37;
  c.channels = {4, 6};
  c.latent = 3;
  c.latent_mode = "global";
  nn::ConvVAE m(c);
  Tensor x = randn({2, 5, 37});
  nn::VaeOutput out = m.forward(x, zeros({2, 3}));
  CHECK(out.recon.shape() == Shape{2, 5, 37});
  CHECK(out.mu.shape() == Shape{2, 3});
  CHECK(out.logvar.shape() == Shape{2, 3});
}

TEST_CASE("conv vae overfits one clip") {
  manual_seed(2);
  nn::ConvVaeConfig c;
  c.in_channels = 8;
  c.length = 32;
  c.channels = {8, 8};
  c.latent = 2;
  c.latent_mode = "global";
  nn::ConvVAE m(c);
  // A smooth target the decoder can reach: sines of different frequency per channel.
  std::vector<float> v(8 * 32);
  for (int ch = 0; ch < 8; ++ch)
    for (int t = 0; t < 32; ++t) v[static_cast<size_t>(ch * 32 + t)] = std::sin(0.2f * (ch + 1) * t);
  Tensor x = from_vector(v, {1, 8, 32});
  nn::Adam opt(m.named_parameters(), 3e-3);
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    nn::VaeOutput out = m.forward(x, randn({1, 2}));
    Tensor recon = sum(mul(sub(out.recon, x), sub(out.recon, x)));
    Tensor loss = add(recon, mul(mean(kl_normal(out.mu, out.logvar)), 0.01));
    if (step == 0) first = recon.item();
    last = recon.item();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  INFO("first ", first, " last ", last);
  CHECK(last < 0.1 * first);
}

TEST_CASE("time-resolved latent: Z channels per latent frame, ceil(L / 2^S) frames") {
  manual_seed(3);
  nn::ConvVaeConfig c;
  c.in_channels = 5;
  c.length = 37;
  c.channels = {4, 6};
  c.latent = 3;
  c.latent_mode = "time";
  c.blocks = 2;
  nn::ConvVAE m(c);
  CHECK(c.latent_frames() == 10);  // 37 -> 19 -> 10
  CHECK(c.latent_shape(2) == Shape{2, 3, 10});
  nn::VaeOutput out = m.forward(randn({2, 5, 37}), zeros({2, 3, 10}));
  CHECK(out.recon.shape() == Shape{2, 5, 37});
  CHECK(out.mu.shape() == Shape{2, 3, 10});
  CHECK(out.logvar.shape() == Shape{2, 3, 10});
  // A latent of the wrong shape is refused.
  CHECK_THROWS_AS(m.decode(zeros({2, 3})), Error);
  // Each latent frame speaks for its stretch of time: changing frame 0 changes the start, not the end.
  NoGradGuard no_grad;
  m.eval();
  Tensor z = randn({1, 3, 10});
  std::vector<float> v = z.to_vector<float>();
  for (int k = 0; k < 3; ++k) v[size_t(k) * 10] += 5.0f;
  const std::vector<float> a = m.decode(z).to_vector<float>(), b = m.decode(from_vector(v, {1, 3, 10})).to_vector<float>();
  double start = 0, end = 0;
  for (int ch = 0; ch < 5; ++ch) {
    start += std::fabs(a[size_t(ch) * 37 + 0] - b[size_t(ch) * 37 + 0]);
    end += std::fabs(a[size_t(ch) * 37 + 36] - b[size_t(ch) * 37 + 36]);
  }
  CHECK(start > 0);
  CHECK(end == 0);
}

TEST_CASE("config JSON round trips, and old checkpoints read as a global latent") {
  nn::ConvVaeConfig c;
  c.latent_mode = "time";
  c.blocks = 2;
  nn::ConvVaeConfig back = nn::ConvVaeConfig::from_json(c.to_json());
  CHECK(back.latent_mode == "time");
  CHECK(back.blocks == 2);
  nlohmann::json old = c.to_json();
  old.erase("latent_mode");
  old.erase("blocks");
  CHECK(nn::ConvVaeConfig::from_json(old).latent_mode == "global");
  old["latent_mode"] = "sometimes";
  CHECK_THROWS_AS(nn::ConvVaeConfig::from_json(old), Error);
}

TEST_CASE("vae_loss: reconstruction, KL, free bits and warm-up by hand") {
  nn::VaeOutput out;
  out.recon = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 1, 2});
  Tensor x = zeros({2, 1, 2});
  // Latent [B = 2, Z = 2, T = 1]: channel 0 carries KL, channel 1 none (mu 0, logvar 0).
  out.mu = from_vector(std::vector<float>{2, 0, 2, 0}, {2, 2, 1});
  out.logvar = zeros({2, 2, 1});
  nn::VaeLossConfig c;
  c.beta = 0.5;
  nn::VaeLossTerms t = nn::vae_loss(c, out, x, 0);
  CHECK(t.recon.item() == doctest::Approx((1 + 4 + 9 + 16) / 2.0));  // sum of squares per clip
  // KL(N(2, 1) || N(0, 1)) = mu^2 / 2 = 2 per clip.
  CHECK(t.kl.item() == doctest::Approx(2.0));
  CHECK(t.total.item() == doctest::Approx(15.0 + 0.5 * 2.0));
  // Free bits of 0.25 nats: channel 0 (2 nats) is charged as it is, channel 1 (0 nats) 0.25.
  c.free_bits = 0.25;
  t = nn::vae_loss(c, out, x, 0);
  CHECK(t.kl.item() == doctest::Approx(2.0));  // the reported KL is the ELBO's
  CHECK(t.total.item() == doctest::Approx(15.0 + 0.5 * 2.25));
  // The gradient through a channel under its free bits is zero.
  Tensor mu = from_vector(std::vector<float>{2, 0.1f, 2, 0.1f}, {2, 2, 1}).requires_grad_(true);
  out.mu = mu;
  nn::vae_loss(c, out, x, 0).total.backward();
  const std::vector<float> g = mu.grad().to_vector<float>();
  CHECK(g[0] != 0.0f);
  CHECK(g[1] == 0.0f);
  // Warm-up: beta rises linearly over the steps, reaching beta at the last.
  c.warmup_steps = 4;
  CHECK(nn::beta_at(c, 0) == doctest::Approx(0.125));
  CHECK(nn::beta_at(c, 3) == doctest::Approx(0.5));
  CHECK(nn::beta_at(c, 100) == doctest::Approx(0.5));
  // kl_elements is the closed form -1/2 (1 + logvar - mu^2 - exp(logvar)).
  Tensor k = nn::kl_elements(from_vector(std::vector<float>{1.0f}, {1}), from_vector(std::vector<float>{std::log(2.0f)}, {1}));
  CHECK(k.item() == doctest::Approx(-0.5 * (1 + std::log(2.0) - 1 - 2)));
}

TEST_CASE("the magnitude map inverts the features below its ceiling and stays finite above it") {
  nn::MagnitudeMap map;
  map.shift = from_vector(std::vector<float>{0.5f, -1.0f}, {2, 1});
  map.scale = 2.0;
  map.floor = 1e-3;
  map.ceiling = std::log(512.0);
  // Bin 0 below the ceiling, bin 1 far above it (exp of 2 * 400 - 1 overflows float).
  Tensor v = from_vector(std::vector<float>{0.25f, -3.0f, 400.0f, 1.0f}, {1, 2, 2}).requires_grad_(true);
  Tensor m = map.magnitudes(v);
  const std::vector<float> got = m.to_vector<float>();
  CHECK(got[0] == doctest::Approx(std::exp(0.25 * 2 + 0.5) - 1e-3).epsilon(1e-5));
  CHECK(got[1] == doctest::Approx(std::exp(-3.0 * 2 + 0.5) - 1e-3).epsilon(1e-4));
  CHECK(got[2] == doctest::Approx(512.0 - 1e-3).epsilon(1e-5));  // capped
  CHECK(got[3] == doctest::Approx(std::exp(1.0 * 2 - 1.0) - 1e-3).epsilon(1e-5));
  sum(m).backward();
  const std::vector<float> g = v.grad().to_vector<float>();
  CHECK(g[0] == doctest::Approx(2 * std::exp(0.25 * 2 + 0.5)).epsilon(1e-4));  // d/dv exp(2v + s) = 2 exp(2v + s)
  CHECK(g[2] == 0.0f);  // above the ceiling the magnitude does not move
  for (float x : g) CHECK(std::isfinite(x));
}

TEST_CASE("the magnitude map inverts power-law features, silences negative values and caps at its ceiling") {
  nn::MagnitudeMap map;
  map.shift = from_vector(std::vector<float>{0.5f, 1.0f}, {2, 1});
  map.scale = 2.0;
  map.power = 0.25;
  map.ceiling = std::pow(512.0, 0.25);
  // u = 2v + shift: bin 0 gets 1.0 and -5.5 (silence), bin 1 gets 801 (capped) and 3.0.
  Tensor v = from_vector(std::vector<float>{0.25f, -3.0f, 400.0f, 1.0f}, {1, 2, 2}).requires_grad_(true);
  Tensor m = map.magnitudes(v);
  const std::vector<float> got = m.to_vector<float>();
  CHECK(got[0] == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(got[1] == 0.0f);
  CHECK(got[2] == doctest::Approx(512.0).epsilon(1e-4));
  CHECK(got[3] == doctest::Approx(81.0).epsilon(1e-5));  // 3^4
  sum(m).backward();
  const std::vector<float> g = v.grad().to_vector<float>();
  CHECK(g[0] == doctest::Approx(2 * 4 * 1.0).epsilon(1e-4));  // d/dv (2v + s)^4 = 8 (2v + s)^3
  CHECK(g[1] == 0.0f);
  CHECK(g[2] == 0.0f);
  CHECK(g[3] == doctest::Approx(2 * 4 * 27.0).epsilon(1e-4));
}

TEST_CASE("the log-magnitude term: its value by hand, and its gradient and the power map's by central differences") {
  const std::vector<float> est{1.0f, 0.5f, 2.0f, 0.0f}, ref{1.0f, 1.0f, 4.0f, 0.001f};
  const double eps = 1e-3;
  double want = 0;
  for (size_t i = 0; i < est.size(); ++i) {
    const double d = std::log(est[i] + eps) - std::log(ref[i] + eps);
    want += d * d / 4.0;
  }
  CHECK(nn::log_magnitude_loss(from_vector(est, {1, 2, 2}), from_vector(ref, {1, 2, 2}), eps).item() ==
        doctest::Approx(want).epsilon(1e-5));

  // Float64, random positive magnitudes [B = 2, C = 3, L = 4]; the reference a non-contiguous transpose.
  manual_seed(21);
  Tensor e = (abs(randn({2, 3, 4}, DType::F64)) + 0.1).requires_grad_(true);
  Tensor r = (abs(randn({2, 4, 3}, DType::F64)) + 0.1).transpose(1, 2);
  REQUIRE_FALSE(r.is_contiguous());
  const GradcheckResult g =
      gradcheck([&](const TensorList& in) { return nn::log_magnitude_loss(in[0], r, 1e-3); }, {e});
  INFO(g.message);
  CHECK(g.ok);
  CHECK(g.elements_checked == 24);

  // The power map |S| = (v * scale + shift[c])^(1/p) between its kinks (u > 0, below the ceiling), the
  // [C, 1] shift broadcast over batch and frames.
  nn::MagnitudeMap map;
  map.shift = from_vector(std::vector<double>{1.0, 1.5, 2.0}, {3, 1});
  map.scale = 0.5;
  map.power = 0.3;
  map.ceiling = 100.0;
  Tensor v = uniform({2, 3, 4}, -1.0, 1.0, DType::F64).requires_grad_(true);
  const GradcheckResult gm = gradcheck([&](const TensorList& in) { return map.magnitudes(in[0]); }, {v});
  INFO(gm.message);
  CHECK(gm.ok);
}

TEST_CASE("the spectral term equals io's spectral convergence at three resolutions") {
  manual_seed(4);
  const int64_t C = 9, L = 12;
  Tensor ref = abs(randn({1, C, L})), est = abs(randn({1, C, L}));
  const double loss = nn::spectral_convergence_loss(est, ref).item();
  // io's Magnitude is [frames][bins]: transpose the [C, L] rows.
  auto as_magnitude = [&](const Tensor& t) {
    const std::vector<float> v = t.to_vector<float>();
    io::Magnitude m{int(L), int(C), std::vector<float>(v.size())};
    for (int64_t c = 0; c < C; ++c)
      for (int64_t l = 0; l < L; ++l) m.data[size_t(l * C + c)] = v[size_t(c * L + l)];
    return m;
  };
  const io::Magnitude r = as_magnitude(ref), e = as_magnitude(est);
  const double expected = (nn::spectral_convergence(r, e) + nn::spectral_convergence(nn::pool_power(r, 4, 1), nn::pool_power(e, 4, 1)) +
                           nn::spectral_convergence(nn::pool_power(r, 1, 4), nn::pool_power(e, 1, 4))) /
                          3.0;
  CHECK(loss == doctest::Approx(expected).epsilon(1e-4));
}

TEST_CASE("active units count channels whose means vary across clips and frames") {
  // [N = 3, Z = 3, T = 2]: channel 0 varies (variance well above 0.01), channel 1 barely, channel 2 not at all.
  std::vector<float> v;
  for (int n = 0; n < 3; ++n)
    for (int z = 0; z < 3; ++z)
      for (int t = 0; t < 2; ++t) v.push_back(z == 0 ? float(n + t) : z == 1 ? 0.01f * float(n) : 7.0f);
  CHECK(nn::active_units(from_vector(v, {3, 3, 2})) == 1);
  CHECK(nn::active_units(from_vector(v, {3, 3, 2}), 1e-6) == 2);
  CHECK(nn::active_units(from_vector(std::vector<float>{0, 1, 1, 1}, {2, 2})) == 1);
}

namespace {

// A learned prior of the given sizes, its units fitted to z [N, latent, T].
std::unique_ptr<nn::LatentPrior> fitted_prior(const Tensor& z, int64_t hidden, int64_t layers, int64_t files = 0) {
  nn::LatentPriorConfig c;
  c.latent = z.size(1);
  c.hidden = hidden;
  c.layers = layers;
  c.files = files;
  auto prior = std::make_unique<nn::LatentPrior>(c);
  prior->fit_standardisation(z);
  return prior;
}

// Latent sequences [N, Z, T] a prior can learn: each channel a sine of its own phase per clip.
Tensor sine_latents(int64_t N, int64_t Z, int64_t T) {
  std::vector<float> v;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t z = 0; z < Z; ++z)
      for (int64_t t = 0; t < T; ++t) v.push_back(float(2.0 * std::sin(0.6 * double(t) + 0.9 * double(n) + double(z))));
  return from_vector(v, {N, Z, T});
}

}  // namespace

TEST_CASE("the learned prior's loss falls, and sampling is deterministic and keeps the primer") {
  manual_seed(5);
  const Tensor z = sine_latents(8, 3, 12);
  const auto owned = fitted_prior(z, 32, 1);
  nn::LatentPrior& prior = *owned;
  nn::Adam opt(prior.named_parameters(), 1e-2);
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    Tensor loss = prior.nll(z);
    if (step == 0) first = loss.item();
    last = loss.item();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  INFO("first ", first, " last ", last);
  // A sequence this regular is predicted far better than by the marginal Gaussian.
  CHECK(last < first - 1.0);

  // predict's Gaussian at frame t reads frames before t only.
  NoGradGuard no_grad;
  auto [mu, logvar] = prior.predict(z.slice(0, 0, 1));
  std::vector<float> changed = z.slice(0, 0, 1).contiguous().to_vector<float>();
  changed[11] += 10.0f;  // channel 0, last frame
  auto [mu2, logvar2] = prior.predict(from_vector(changed, {1, 3, 12}));
  CHECK(mu.to_vector<float>() == mu2.to_vector<float>());

  manual_seed(9);
  const std::vector<float> a = prior.sample(2, 12, 1.0).to_vector<float>();
  manual_seed(9);
  const std::vector<float> b = prior.sample(2, 12, 1.0).to_vector<float>();
  CHECK(a == b);
  manual_seed(10);
  CHECK(prior.sample(2, 12, 1.0).to_vector<float>() != a);
  // A primer's frames come back as they were (to float rounding of the standardisation).
  const Tensor primer = z.slice(0, 0, 2).slice(2, 0, 5).contiguous();
  const Tensor s = prior.sample(2, 12, 1.0, primer);
  CHECK(s.shape() == Shape{2, 3, 12});
  const std::vector<float> p = primer.to_vector<float>(), kept = s.slice(2, 0, 5).contiguous().to_vector<float>();
  for (size_t i = 0; i < p.size(); ++i) CHECK(kept[i] == doctest::Approx(p[i]).epsilon(1e-5));
}

namespace {

// Sets every parameter of the prior's output layer to zero: each frame's prediction is then
// mu = 0, logvar = 0 in the prior's units, the Gaussian its units were fitted to.
void zero_head(nn::LatentPrior& prior) {
  for (auto& [name, p] : prior.named_parameters())
    if (name.rfind("head.", 0) == 0) {
      NoGradGuard no_grad;
      copy_(p, zeros(p.shape(), p.dtype()));
    }
}

// Three channels of their own means and deviations (two of them correlated): [N, 3, T].
Tensor correlated_latents(int64_t N, int64_t T) {
  const std::vector<float> a = randn({N * T}).to_vector<float>(), b = randn({N * T}).to_vector<float>(),
                           c = randn({N * T}).to_vector<float>();
  std::vector<float> v(static_cast<size_t>(N * 3 * T));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t) {
      const size_t i = static_cast<size_t>(n * T + t);
      v[static_cast<size_t>((n * 3 + 0) * T + t)] = a[i];
      v[static_cast<size_t>((n * 3 + 1) * T + t)] = 0.95f * a[i] + 0.3f * b[i];
      v[static_cast<size_t>((n * 3 + 2) * T + t)] = 2.0f * c[i] + 1.0f;
    }
  return from_vector(v, {N, 3, T});
}

// The mean and covariance (divided by the count) of the frames of z [N, Z, T], in double.
std::pair<std::vector<double>, std::vector<double>> frame_moments(const Tensor& z) {
  const int64_t N = z.size(0), Z = z.size(1), T = z.size(2);
  const std::vector<float> v = z.contiguous().to_vector<float>();
  auto at = [&](int64_t n, int64_t c, int64_t t) { return double(v[static_cast<size_t>((n * Z + c) * T + t)]); };
  std::vector<double> m(static_cast<size_t>(Z), 0.0), cov(static_cast<size_t>(Z * Z), 0.0);
  const double count = double(N * T);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < Z; ++c) m[static_cast<size_t>(c)] += at(n, c, t) / count;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t a = 0; a < Z; ++a)
        for (int64_t b = 0; b < Z; ++b)
          cov[static_cast<size_t>(a * Z + b)] +=
              (at(n, a, t) - m[static_cast<size_t>(a)]) * (at(n, b, t) - m[static_cast<size_t>(b)]) / count;
  return {m, cov};
}

}  // namespace

TEST_CASE("the prior's units: with a zero head it is the training frames' per-channel Gaussian") {
  manual_seed(31);
  const Tensor z = correlated_latents(40, 10);
  const auto [m, cov] = frame_moments(z);
  // -log N(z; m, diag(v)) per element for the maximum-likelihood m, v: 1/2 log 2 pi + 1/2 + sum log v / (2 Z).
  const double want = 0.5 * std::log(2.0 * std::numbers::pi) + 0.5 + std::log(cov[0] * cov[4] * cov[8]) / 6.0;
  for (int64_t files : {0, 2}) {
    CAPTURE(files);
    const auto owned = fitted_prior(z, 8, 1, files);
    nn::LatentPrior& prior = *owned;
    zero_head(prior);
    NoGradGuard no_grad;
    const std::vector<int64_t> which(files == 0 ? 0 : 40, 1);
    CHECK(prior.nll(z, which).item() == doctest::Approx(want).epsilon(1e-4));
    // Every file's model is the same Gaussian here, so the mixture's -log p is that Gaussian's too.
    double marginal = 0;
    for (double x : prior.marginal_nll(z)) marginal += x / 40.0;
    CHECK(marginal == doctest::Approx(want).epsilon(1e-4));
    // predict: each channel's mean and variance.
    auto [mu, logvar] = prior.predict(z.slice(0, 0, 2), std::vector<int64_t>(files == 0 ? 0 : 2, 1));
    const std::vector<float> mus = mu.contiguous().to_vector<float>(), lv = logvar.contiguous().to_vector<float>();
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t t = 0; t < 10; ++t) {
        const size_t i = static_cast<size_t>(ch * 10 + t);
        CHECK(mus[i] == doctest::Approx(m[static_cast<size_t>(ch)]).epsilon(1e-4));
        CHECK(lv[i] == doctest::Approx(std::log(cov[static_cast<size_t>(ch * 4)])).epsilon(1e-4));
      }
    // Samples have those moments.
    manual_seed(3);
    const auto [sm, scov] = frame_moments(prior.sample(400, 10, 1.0));
    for (int64_t ch = 0; ch < 3; ++ch) {
      CHECK(sm[static_cast<size_t>(ch)] == doctest::Approx(m[static_cast<size_t>(ch)]).scale(1.0).epsilon(0.05));
      CHECK(scov[static_cast<size_t>(ch * 4)] == doctest::Approx(cov[static_cast<size_t>(ch * 4)]).epsilon(0.05));
    }
  }
}

TEST_CASE("a prior conditioned on files: the likeliest file, the mixture's likelihood, samples that keep their file") {
  manual_seed(41);
  // Two "files": the same sines shifted up by 2 in file 0 and down by 2 in file 1.
  const int64_t N = 12, Z = 2, T = 12;
  std::vector<float> v = sine_latents(N, Z, T).to_vector<float>();
  std::vector<int64_t> files;
  for (int64_t n = 0; n < N; ++n) {
    files.push_back(n % 2);
    for (int64_t i = 0; i < Z * T; ++i) v[static_cast<size_t>(n * Z * T + i)] += n % 2 == 0 ? 2.0f : -2.0f;
  }
  const Tensor z = from_vector(v, {N, Z, T});
  const auto owned = fitted_prior(z, 32, 1, 2);
  nn::LatentPrior& prior = *owned;
  nn::Adam opt(prior.named_parameters(), 1e-2);
  for (int step = 0; step < 150; ++step) {
    Tensor loss = prior.nll(z, files);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  CHECK(prior.likeliest_files(z) == files);
  // The mixture's -log p from the two conditional ones, sequence by sequence.
  const std::vector<double> marginal = prior.marginal_nll(z);
  REQUIRE(marginal.size() == static_cast<size_t>(N));
  NoGradGuard no_grad;
  for (int64_t n = 0; n < N; ++n) {
    const Tensor one = z.slice(0, n, n + 1);
    const double a = prior.nll(one, {0}).item(), b = prior.nll(one, {1}).item();
    const double elements = double(Z * T), lo = std::min(a, b);
    const double mixture = 0.5 * (std::exp(-elements * (a - lo)) + std::exp(-elements * (b - lo)));
    const double want = lo - std::log(mixture) / elements;
    CHECK(marginal[static_cast<size_t>(n)] == doctest::Approx(want).epsilon(1e-6));
    CHECK(marginal[static_cast<size_t>(n)] >= lo - 1e-6);
    CHECK(marginal[static_cast<size_t>(n)] <= lo + std::log(2.0) / elements + 1e-6);
  }
  // A sample drawn for file 0 stays up, one for file 1 stays down.
  const std::vector<float> s = prior.sample(2, T, 1.0, {}, {0, 1}).to_vector<float>();
  double up = 0, down = 0;
  for (int64_t i = 0; i < Z * T; ++i) {
    up += s[static_cast<size_t>(i)] / double(Z * T);
    down += s[static_cast<size_t>(Z * T + i)] / double(Z * T);
  }
  CHECK(up > 1.0);
  CHECK(down < -1.0);
  // Without files the draw picks them: both kinds among 32 samples, the same ones for the same seed.
  manual_seed(8);
  const std::vector<float> drawn = prior.sample(32, T, 1.0).to_vector<float>();
  manual_seed(8);
  CHECK(prior.sample(32, T, 1.0).to_vector<float>() == drawn);
  int ups = 0;
  for (int64_t n = 0; n < 32; ++n) ups += drawn[static_cast<size_t>(n * Z * T)] > 0 ? 1 : 0;
  CHECK(ups > 4);
  CHECK(ups < 28);
  // A primer from file 1 is continued as file 1.
  const Tensor primer = z.slice(0, 1, 2).slice(2, 0, 4).contiguous();
  double tail = 0;
  for (float x : prior.sample(1, T, 1.0, primer).slice(2, 4, T).contiguous().to_vector<float>()) tail += x;
  CHECK(tail < 0);
  CHECK_THROWS_AS(prior.nll(z), Error);  // a conditioned prior needs the files
}

TEST_CASE("the prior's -log p: gradients by central differences, with file codes") {
  manual_seed(51);
  const auto owned = fitted_prior(correlated_latents(6, 5), 4, 2, 2);
  nn::LatentPrior& prior = *owned;
  prior.to(DType::F64);
  // Float64 latents [B = 2, Z = 3, T = 5] seen through a non-contiguous transpose of [2, 5, 3].
  Tensor z = randn({2, 5, 3}, DType::F64).requires_grad_(true);
  REQUIRE_FALSE(z.transpose(1, 2).is_contiguous());
  const GradcheckResult g =
      gradcheck([&](const TensorList& in) { return prior.nll(in[0].transpose(1, 2), {1, 0}); }, {z});
  INFO(g.message);
  CHECK(g.ok);
  CHECK(g.elements_checked == 30);
}

TEST_CASE("prior configs: priors written before file conditioning read as unconditioned") {
  CHECK(nn::LatentPriorConfig::from_json({{"latent", 4}, {"hidden", 8}, {"layers", 1}}).files == 0);
  nn::LatentPriorConfig c;
  c.files = 3;
  CHECK(nn::LatentPriorConfig::from_json(c.to_json()).files == 3);
  CHECK_THROWS_AS(nn::LatentPriorConfig::from_json({{"latent", 4}, {"hidden", 8}, {"layers", 1}, {"files", -1}}), Error);
}
