#include "models/latent_prior.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace mg::nn {

namespace {

// Standardised log-variances stay within ±kLogvarBound (deviations from 0.05 to 20
// times the channel's): an unbounded head can drive logvar to -inf on a frame it predicts exactly.
constexpr double kLogvarBound = 6.0;

}  // namespace

nlohmann::json LatentPriorConfig::to_json() const {
  return {{"latent", latent}, {"hidden", hidden}, {"layers", layers}, {"files", files}};
}

LatentPriorConfig LatentPriorConfig::from_json(const nlohmann::json& j) {
  LatentPriorConfig c;
  try {
    c.latent = j.at("latent").get<int64_t>();
    c.hidden = j.at("hidden").get<int64_t>();
    c.layers = j.at("layers").get<int64_t>();
    c.files = j.value("files", int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    fail("prior config: {}", e.what());
  }
  if (c.latent < 1 || c.hidden < 1 || c.layers < 1) fail("prior config: sizes must be positive");
  if (c.files < 0) fail("prior config: files must be 0 or more");
  return c;
}

int64_t LatentPriorConfig::state_count() const {
  int64_t n = 0, in = latent;
  for (int64_t l = 0; l < layers; ++l) {
    n += 4 * hidden * (in + (l == 0 ? files : 0) + hidden + 1);  // W_ih (file codes beside the frames), W_hh, bias
    in = hidden;
  }
  return n + hidden * 2 * latent + 2 * latent + 2 * latent;  // head, and the mean and deviation buffers
}

LatentPrior::LatentPrior(const LatentPriorConfig& c) : config_(c) {
  for (int64_t i = 0; i < c.layers; ++i)
    lstm_.push_back(register_module("lstm" + std::to_string(i),
                                    std::make_shared<LSTM>(i == 0 ? c.latent + c.files : c.hidden, c.hidden)));
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

Tensor LatentPrior::to_units(const Tensor& z) const { return (z.transpose(1, 2) - mean_) / deviation_; }

Tensor LatentPrior::from_units(const Tensor& u) const { return (u * deviation_ + mean_).transpose(1, 2).contiguous(); }

std::pair<Tensor, Tensor> LatentPrior::step(const Tensor& input, const Tensor& code,
                                            std::vector<LstmState>& state) const {
  Tensor h = input;
  if (code.defined()) {
    const int64_t B = input.size(0), T = input.size(1);
    h = concat({input, code.reshape({B, 1, config_.files}).expand({B, T, config_.files})}, 2);
  }
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

Tensor LatentPrior::file_code(const std::vector<int64_t>& files, int64_t batch) const {
  const int64_t F = config_.files;
  MG_CHECK(F == 0 ? files.empty() : static_cast<int64_t>(files.size()) == batch,
           "LatentPrior: {} file indices for {} sequences of a prior over {} files", files.size(), batch, F);
  if (F == 0) return Tensor();
  std::vector<float> code(static_cast<size_t>(batch * F), 0.0f);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t f = files[static_cast<size_t>(b)];
    MG_CHECK(f >= 0 && f < F, "LatentPrior: file {} of a prior over {} files", f, F);
    code[static_cast<size_t>(b * F + f)] = 1.0f;
  }
  return from_vector(code, {batch, F}).to(mean_.dtype()).to(mean_.device());
}

LatentPrior::Forced LatentPrior::teacher_forced(const Tensor& z, const std::vector<int64_t>& files) const {
  MG_CHECK(z.dim() == 3 && z.size(1) == config_.latent, "LatentPrior: latents must be [B, {}, T], got {}",
           config_.latent, shape_str(z.shape()));
  const int64_t B = z.size(0), Z = z.size(1), T = z.size(2);
  Tensor zn = to_units(z);  // [B, T, Z]
  // Frame t sees frames 0 .. t-1: the input is zn shifted one frame later, zeros first.
  Tensor input = concat({zeros({B, 1, Z}, z.dtype(), z.device()), zn.slice(1, 0, T - 1)}, 1);
  std::vector<LstmState> state;
  auto [mu, logvar] = step(input, file_code(files, B), state);
  return {zn, mu, logvar};
}

std::pair<Tensor, Tensor> LatentPrior::predict(const Tensor& z, const std::vector<int64_t>& files) const {
  const Forced f = teacher_forced(z, files);
  return {from_units(f.mu), (f.logvar + log(deviation_) * 2.0).transpose(1, 2).contiguous()};
}

Tensor LatentPrior::sequence_nll(const Tensor& z, const std::vector<int64_t>& files) const {
  const Forced f = teacher_forced(z, files);
  Tensor d = f.zn - f.mu;
  Tensor per_element = (f.logvar + d * d * exp(-f.logvar) + std::log(2.0 * std::numbers::pi)) * 0.5;
  // The change of variables from the prior's units back to z's: + log(deviation) per element.
  return mean(per_element, {1, 2}) + mean(log(deviation_));
}

Tensor LatentPrior::nll(const Tensor& z, const std::vector<int64_t>& files) const {
  return mean(sequence_nll(z, files));
}

std::vector<std::vector<double>> LatentPrior::per_file_nll(const Tensor& z) const {
  const int64_t B = z.size(0), F = config_.files;
  // Files in groups of 256 / B (B x group runs a batch), so that memory does not grow with F.
  const int64_t group = std::max<int64_t>(1, 256 / std::max<int64_t>(B, 1));
  std::vector<std::vector<double>> out(static_cast<size_t>(B), std::vector<double>(static_cast<size_t>(F)));
  for (int64_t first = 0; first < F; first += group) {
    const int64_t n = std::min(group, F - first);
    std::vector<int64_t> files;
    for (int64_t f = first; f < first + n; ++f)
      for (int64_t b = 0; b < B; ++b) files.push_back(f);
    const Tensor copies = concat(std::vector<Tensor>(static_cast<size_t>(n), z), 0);
    const std::vector<double> all = sequence_nll(copies, files).to(DType::F64).to(Device::CPU).to_vector<double>();
    for (int64_t f = 0; f < n; ++f)
      for (int64_t b = 0; b < B; ++b)
        out[static_cast<size_t>(b)][static_cast<size_t>(first + f)] = all[static_cast<size_t>(f * B + b)];
  }
  return out;
}

std::vector<double> LatentPrior::marginal_nll(const Tensor& z) const {
  NoGradGuard no_grad;
  if (config_.files == 0) return sequence_nll(z, {}).to(DType::F64).to(Device::CPU).to_vector<double>();
  const double elements = static_cast<double>(z.size(1) * z.size(2));
  std::vector<double> out;
  for (const std::vector<double>& row : per_file_nll(z)) {
    // log sum_f exp(-elements nll_f), shifted by the largest term.
    const double best = *std::min_element(row.begin(), row.end());
    double sum = 0;
    for (double nll : row) sum += std::exp(-elements * (nll - best));
    const double log_p = -elements * best + std::log(sum) - std::log(static_cast<double>(row.size()));
    out.push_back(-log_p / elements);
  }
  return out;
}

std::vector<int64_t> LatentPrior::likeliest_files(const Tensor& z) const {
  NoGradGuard no_grad;
  MG_CHECK(config_.files > 0, "LatentPrior: this prior is not conditioned on files");
  std::vector<int64_t> out;
  for (const std::vector<double>& row : per_file_nll(z))
    out.push_back(std::min_element(row.begin(), row.end()) - row.begin());
  return out;
}

Tensor LatentPrior::sample(int64_t batch, int64_t frames, double temperature, const Tensor& primer,
                           std::vector<int64_t> files) const {
  const int64_t Z = config_.latent;
  const int64_t P = primer.defined() ? primer.size(2) : 0;
  MG_CHECK(!primer.defined() || (primer.dim() == 3 && primer.size(0) == batch && primer.size(1) == Z && P <= frames),
           "LatentPrior: primer must be [{}, {}, P <= {}], got {}", batch, Z, frames,
           primer.defined() ? shape_str(primer.shape()) : "none");
  NoGradGuard no_grad;
  const Device device = mean_.device();
  if (config_.files > 0 && files.empty()) {
    if (P > 0) {
      files = likeliest_files(primer.to(device));
    } else {
      const int64_t F = config_.files;
      for (float u : rand({batch}).to_vector<float>())
        files.push_back(std::min<int64_t>(static_cast<int64_t>(u * static_cast<float>(F)), F - 1));
    }
  }
  const Tensor code = file_code(files, batch);
  Tensor primer_n = P > 0 ? to_units(primer.to(device)).contiguous() : Tensor();
  std::vector<LstmState> state;
  Tensor input = zeros({batch, 1, Z}, mean_.dtype(), device);
  std::vector<Tensor> out;
  for (int64_t t = 0; t < frames; ++t) {
    auto [mu, logvar] = step(input, code, state);  // [B, 1, Z]
    Tensor frame = t < P ? primer_n.slice(1, t, t + 1)
                         : mu + exp(logvar * 0.5) * randn({batch, 1, Z}, mean_.dtype(), device) * temperature;
    out.push_back(frame);
    input = frame.contiguous();
  }
  return from_units(concat(out, 1));  // [B, Z, T]
}

}  // namespace mg::nn
