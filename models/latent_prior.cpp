#include "models/latent_prior.h"

#include <cmath>
#include <numbers>

namespace mg::nn {

namespace {

// Standardised log-variances stay within ±kLogvarBound (deviations from 0.05 to 20
// times the channel's): an unbounded head can drive logvar to -inf on a frame it predicts exactly.
constexpr double kLogvarBound = 6.0;

}  // namespace

nlohmann::json LatentPriorConfig::to_json() const {
  return {{"latent", latent}, {"hidden", hidden}, {"layers", layers}};
}

LatentPriorConfig LatentPriorConfig::from_json(const nlohmann::json& j) {
  LatentPriorConfig c;
  try {
    c.latent = j.at("latent").get<int64_t>();
    c.hidden = j.at("hidden").get<int64_t>();
    c.layers = j.at("layers").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail("prior config: {}", e.what());
  }
  if (c.latent < 1 || c.hidden < 1 || c.layers < 1) fail("prior config: sizes must be positive");
  return c;
}

LatentPrior::LatentPrior(const LatentPriorConfig& c) : config_(c) {
  for (int64_t i = 0; i < c.layers; ++i)
    lstm_.push_back(register_module("lstm" + std::to_string(i), std::make_shared<LSTM>(i == 0 ? c.latent : c.hidden, c.hidden)));
  head_ = register_module("head", std::make_shared<Linear>(c.hidden, 2 * c.latent));
  register_buffer("mean", mean_, zeros({c.latent}));
  register_buffer("deviation", deviation_, ones({c.latent}));
}

void LatentPrior::fit_standardisation(const Tensor& z) {
  MG_CHECK(z.dim() == 3 && z.size(1) == config_.latent, "LatentPrior: latents must be [N, {}, T], got {}",
           config_.latent, shape_str(z.shape()));
  const int64_t N = z.size(0), Z = z.size(1), T = z.size(2);
  const std::vector<float> v = z.contiguous().to_vector<float>();
  std::vector<float> mean(static_cast<size_t>(Z)), deviation(static_cast<size_t>(Z));
  for (int64_t c = 0; c < Z; ++c) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = 0; t < T; ++t) {
        const double x = v[static_cast<size_t>((n * Z + c) * T + t)];
        sum += x;
        sq += x * x;
      }
    const double count = static_cast<double>(N * T), m = sum / count;
    mean[static_cast<size_t>(c)] = static_cast<float>(m);
    // Floored so that a channel the encoder never moves does not divide by zero.
    deviation[static_cast<size_t>(c)] = static_cast<float>(std::sqrt(std::max(sq / count - m * m, 1e-6)));
  }
  const Device device = mean_.device();
  copy_(mean_, from_vector(mean, {Z}).to(device));
  copy_(deviation_, from_vector(deviation, {Z}).to(device));
}

std::pair<Tensor, Tensor> LatentPrior::step(const Tensor& input, std::vector<LstmState>& state) const {
  Tensor h = input;
  const bool fresh = state.empty();
  for (size_t i = 0; i < lstm_.size(); ++i) {
    auto [out, last] = lstm_[i]->forward(h, fresh ? std::nullopt : std::optional<LstmState>(state[i]));
    h = out;
    if (fresh) state.push_back(last);
    else state[i] = last;
  }
  const int64_t Z = config_.latent;
  Tensor stats = head_->forward(h);  // [B, T', 2Z]
  Tensor logvar = tanh(stats.slice(2, Z, 2 * Z) / kLogvarBound) * kLogvarBound;
  return {stats.slice(2, 0, Z), logvar};
}

LatentPrior::Forced LatentPrior::teacher_forced(const Tensor& z) const {
  MG_CHECK(z.dim() == 3 && z.size(1) == config_.latent, "LatentPrior: latents must be [B, {}, T], got {}",
           config_.latent, shape_str(z.shape()));
  const int64_t B = z.size(0), Z = z.size(1), T = z.size(2);
  Tensor zn = (z.transpose(1, 2) - mean_) / deviation_;  // [B, T, Z]
  // Frame t sees frames 0 .. t-1: the input is zn shifted one frame later, zeros first.
  Tensor input = concat({zeros({B, 1, Z}, z.dtype(), z.device()), zn.slice(1, 0, T - 1)}, 1);
  std::vector<LstmState> state;
  auto [mu, logvar] = step(input, state);
  return {zn, mu, logvar};
}

std::pair<Tensor, Tensor> LatentPrior::predict(const Tensor& z) const {
  const Forced f = teacher_forced(z);
  return {(f.mu * deviation_ + mean_).transpose(1, 2), (f.logvar + log(deviation_) * 2.0).transpose(1, 2)};
}

Tensor LatentPrior::nll(const Tensor& z) const {
  const Forced f = teacher_forced(z);
  Tensor d = f.zn - f.mu;
  Tensor per_element = (f.logvar + d * d * exp(-f.logvar) + std::log(2.0 * std::numbers::pi)) * 0.5;
  // The change of variables from standardised units back to z's: + log(deviation) per element.
  return mean(per_element) + mean(log(deviation_));
}

Tensor LatentPrior::sample(int64_t batch, int64_t frames, double temperature, const Tensor& primer) const {
  const int64_t Z = config_.latent;
  const int64_t P = primer.defined() ? primer.size(2) : 0;
  MG_CHECK(!primer.defined() || (primer.dim() == 3 && primer.size(0) == batch && primer.size(1) == Z && P <= frames),
           "LatentPrior: primer must be [{}, {}, P <= {}], got {}", batch, Z, frames,
           primer.defined() ? shape_str(primer.shape()) : "none");
  NoGradGuard no_grad;
  const Device device = mean_.device();
  Tensor primer_n = P > 0 ? ((primer.to(device).transpose(1, 2) - mean_) / deviation_).contiguous() : Tensor();
  std::vector<LstmState> state;
  Tensor input = zeros({batch, 1, Z}, mean_.dtype(), device);
  std::vector<Tensor> out;
  for (int64_t t = 0; t < frames; ++t) {
    auto [mu, logvar] = step(input, state);  // [B, 1, Z]
    Tensor frame = t < P ? primer_n.slice(1, t, t + 1)
                         : mu + exp(logvar * 0.5) * randn({batch, 1, Z}, mean_.dtype(), device) * temperature;
    out.push_back(frame);
    input = frame.contiguous();
  }
  return (concat(out, 1) * deviation_ + mean_).transpose(1, 2).contiguous();  // [B, Z, T]
}

}  // namespace mg::nn
