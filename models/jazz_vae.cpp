#include "models/jazz_vae.h"

namespace mg::nn {

ResNet1DBlock::ResNet1DBlock(int64_t channels, int64_t kernel, Kind kind) : kind_(kind) {
  if (kind == Kind::Encode) {
    conv1_ = register_module("conv1", std::make_shared<Conv1d>(channels, channels, ConvSpec{kernel, 1, true}));
    in1_ = register_module("norm1", std::make_shared<InstanceNorm1d>(channels));
    conv2_ = register_module("conv2", std::make_shared<Conv1d>(channels, channels, ConvSpec{kernel, 1, true}));
    in2_ = register_module("norm2", std::make_shared<InstanceNorm1d>(channels));
  } else {
    MG_CHECK(kernel % 2 == 1, "ResNet1DBlock: decoder kernel must be odd to keep the length, got {}", kernel);
    // A stride-1 transposed convolution with padding (K-1)/2 keeps the length.
    const int64_t pad = (kernel - 1) / 2;
    convt1_ = register_module("conv1", std::make_shared<ConvTranspose1d>(channels, channels, kernel, 1, pad));
    // Running statistics move at 0.1 per step (PyTorch's default) rather than Keras' 0.01, so that
    // evaluation after a few epochs on a small set does not use near-initial statistics.
    bn1_ = register_module("norm1", std::make_shared<BatchNorm1d>(channels, 1e-3, 0.1));
    convt2_ = register_module("conv2", std::make_shared<ConvTranspose1d>(channels, channels, kernel, 1, pad));
    bn2_ = register_module("norm2", std::make_shared<BatchNorm1d>(channels, 1e-3, 0.1));
  }
}

Tensor ResNet1DBlock::forward(const Tensor& x) const {
  constexpr double kSlope = 0.4;
  Tensor h = relu(x);
  if (kind_ == Kind::Encode) {
    h = leaky_relu(in1_->forward(conv1_->forward(h)), kSlope);
    h = leaky_relu(in2_->forward(conv2_->forward(h)), kSlope);
  } else {
    h = leaky_relu(bn1_->forward(convt1_->forward(h)), kSlope);
    h = leaky_relu(bn2_->forward(convt2_->forward(h)), kSlope);
  }
  return relu(add(h, x));
}

int64_t ConvVaeConfig::latent_frames() const {
  if (!time_resolved()) return 1;
  int64_t len = length;
  for (size_t i = 0; i < channels.size(); ++i) len = (len + 1) / 2;  // 'same' padding with stride 2: ceil(L / 2)
  return len;
}

Shape ConvVaeConfig::latent_shape(int64_t batch) const {
  return time_resolved() ? Shape{batch, latent, latent_frames()} : Shape{batch, latent};
}

nlohmann::json ConvVaeConfig::to_json() const {
  return {{"kind", kind},         {"latent_mode", latent_mode}, {"in_channels", in_channels},
          {"length", length},     {"channels", channels},       {"blocks", blocks},
          {"kernel", kernel},     {"latent", latent}};
}

ConvVaeConfig ConvVaeConfig::from_json(const nlohmann::json& j) {
  ConvVaeConfig c;
  try {
    c.kind = j.at("kind").get<std::string>();
    // Checkpoints written before the time-resolved latent have neither field: global, one block.
    c.latent_mode = j.value("latent_mode", std::string("global"));
    c.in_channels = j.at("in_channels").get<int64_t>();
    c.length = j.at("length").get<int64_t>();
    c.channels = j.at("channels").get<std::vector<int64_t>>();
    c.blocks = j.value("blocks", int64_t{1});
    c.kernel = j.at("kernel").get<int64_t>();
    c.latent = j.at("latent").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail("model config: {}", e.what());
  }
  if (c.kind != "conv" && c.kind != "seed") fail("model config: kind must be 'conv' or 'seed', got '{}'", c.kind);
  if (c.latent_mode != "time" && c.latent_mode != "global")
    fail("model config: latent_mode must be 'time' or 'global', got '{}'", c.latent_mode);
  if (c.in_channels < 1 || c.length < 1 || c.latent < 1 || c.kernel < 1 || c.blocks < 0 || c.channels.empty())
    fail("model config: sizes must be positive");
  return c;
}

int64_t ConvVaeConfig::state_count() const {
  auto conv = [](int64_t in, int64_t out, int64_t k) { return in * out * k + out; };  // weight and bias
  int64_t n = 0, prev = in_channels, len = length;
  for (int64_t ch : channels) {
    n += conv(prev, ch, kernel);                               // down: stride-2 convolution
    n += blocks * (2 * conv(ch, ch, kernel) + 2 * 2 * ch);     // encoder blocks: two convolutions, two instance norms
    prev = ch;
    len = (len + 1) / 2;
  }
  const int64_t top = channels.back();
  if (time_resolved()) {
    n += conv(top, 2 * latent, 1);  // to_latent: 1x1 convolution
    n += conv(latent, top, 3);      // from_latent: k3 convolution
  } else {
    const int64_t flat = top * len;
    n += flat * 2 * latent + 2 * latent;  // to_latent
    n += latent * flat + flat;            // from_latent
  }
  for (size_t i = channels.size(); i-- > 0;) {
    const int64_t ch = channels[i], next = i > 0 ? channels[i - 1] : in_channels;
    n += blocks * (2 * conv(ch, ch, kernel) + 2 * 4 * ch);  // decoder blocks: two convolutions, two batch norms with running stats
    n += conv(ch, next, 4);                                  // up: stride-2 transposed convolution, kernel 4
  }
  return n;
}

double ConvVaeConfig::activation_floats_per_clip() const {
  double floats = 3.0 * static_cast<double>(in_channels * length);
  int64_t len = length;
  for (int64_t ch : channels) {
    len = (len + 1) / 2;
    floats += (12.0 + 12.0 * static_cast<double>(blocks)) * static_cast<double>(ch) * static_cast<double>(len);
  }
  return floats;
}

double ConvVaeConfig::training_bytes(int64_t batch) const {
  constexpr double kFloat = 4;
  return 4 * kFloat * static_cast<double>(state_count()) +
         2 * kFloat * static_cast<double>(batch) * activation_floats_per_clip();
}

ConvVAE::ConvVAE(const ConvVaeConfig& c) : config_(c) {
  MG_CHECK(c.latent_mode == "time" || c.latent_mode == "global", "ConvVAE: latent_mode '{}'", c.latent_mode);
  const size_t n = c.channels.size();
  int64_t len = c.length, prev = c.in_channels;
  for (size_t i = 0; i < n; ++i) {
    down_.push_back(register_module("down" + std::to_string(i),
                                    std::make_shared<Conv1d>(prev, c.channels[i], ConvSpec{c.kernel, 2, true})));
    for (int64_t b = 0; b < c.blocks; ++b)
      enc_blocks_.push_back(register_module(
          "enc_block" + std::to_string(i) + (b > 0 ? "_" + std::to_string(b) : ""),
          std::make_shared<ResNet1DBlock>(c.channels[i], c.kernel, ResNet1DBlock::Kind::Encode)));
    prev = c.channels[i];
    len = (len + 1) / 2;  // 'same' padding with stride 2: ceil(L / 2)
  }
  bottleneck_length_ = len;
  const int64_t top = c.channels.back();
  if (c.time_resolved()) {
    to_latent_conv_ = register_module("to_latent", std::make_shared<Conv1d>(top, 2 * c.latent, ConvSpec{1, 1, true}));
    // k3: each decoded latent frame sees its neighbours, so frame edges need not show.
    from_latent_conv_ = register_module("from_latent", std::make_shared<Conv1d>(c.latent, top, ConvSpec{3, 1, true}));
  } else {
    const int64_t flat = top * len;
    to_latent_ = register_module("to_latent", std::make_shared<Linear>(flat, 2 * c.latent));
    from_latent_ = register_module("from_latent", std::make_shared<Linear>(c.latent, flat));
  }
  // Mirror image: blocks then stride-2 transposed convolutions (K = 4, padding 1: exactly doubles L).
  for (size_t i = n; i-- > 0;) {
    const int64_t ch = c.channels[i];
    const int64_t next = i > 0 ? c.channels[i - 1] : c.in_channels;
    const size_t k = n - 1 - i;
    for (int64_t b = 0; b < c.blocks; ++b)
      dec_blocks_.push_back(register_module("dec_block" + std::to_string(k) + (b > 0 ? "_" + std::to_string(b) : ""),
                                            std::make_shared<ResNet1DBlock>(ch, c.kernel, ResNet1DBlock::Kind::Decode)));
    up_.push_back(register_module("up" + std::to_string(k), std::make_shared<ConvTranspose1d>(ch, next, 4, 2, 1)));
  }
}

std::pair<Tensor, Tensor> ConvVAE::encode(const Tensor& x) const {
  MG_CHECK(x.dim() == 3 && x.size(1) == config_.in_channels && x.size(2) == config_.length,
           "ConvVAE: input must be [B, {}, {}], got {}", config_.in_channels, config_.length, shape_str(x.shape()));
  const size_t per_stage = static_cast<size_t>(config_.blocks);
  Tensor h = x;
  for (size_t i = 0; i < down_.size(); ++i) {
    h = down_[i]->forward(h);
    for (size_t b = 0; b < per_stage; ++b) h = enc_blocks_[i * per_stage + b]->forward(h);
  }
  const int64_t Z = config_.latent;
  if (config_.time_resolved()) {
    Tensor stats = to_latent_conv_->forward(h);  // [B, 2Z, T]
    return {stats.slice(1, 0, Z), stats.slice(1, Z, 2 * Z)};
  }
  Tensor stats = to_latent_->forward(h.reshape({h.size(0), -1}));  // [B, 2Z]
  return {stats.slice(1, 0, Z), stats.slice(1, Z, 2 * Z)};
}

Tensor ConvVAE::decode(const Tensor& z) const {
  const Shape expected = config_.latent_shape(z.dim() > 0 ? z.size(0) : 0);
  MG_CHECK(z.shape() == expected, "ConvVAE: latent must be {}, got {}", shape_str(expected), shape_str(z.shape()));
  Tensor h = config_.time_resolved()
                 ? from_latent_conv_->forward(z)
                 : from_latent_->forward(z).reshape({z.size(0), config_.channels.back(), bottleneck_length_});
  const size_t per_stage = static_cast<size_t>(config_.blocks);
  for (size_t i = 0; i < up_.size(); ++i) {
    for (size_t b = 0; b < per_stage; ++b) h = dec_blocks_[i * per_stage + b]->forward(h);
    h = up_[i]->forward(h);
  }
  return h.slice(2, 0, config_.length);  // 2^S ceil(L / 2^S) >= L: crop the tail
}

VaeOutput ConvVAE::forward(const Tensor& x, const Tensor& eps) const {
  auto [mu, logvar] = encode(x);
  Tensor z = reparameterize(mu, logvar, eps);
  return {decode(z), mu, logvar, z};
}

int64_t active_units(const Tensor& mu, double threshold) {
  MG_CHECK(mu.dim() == 2 || mu.dim() == 3, "active_units: mu must be [N, Z] or [N, Z, T], got {}", shape_str(mu.shape()));
  const int64_t N = mu.size(0), Z = mu.size(1), T = mu.dim() == 3 ? mu.size(2) : 1;
  const std::vector<float> v = mu.contiguous().to_vector<float>();
  int64_t active = 0;
  for (int64_t z = 0; z < Z; ++z) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = 0; t < T; ++t) {
        const double x = v[static_cast<size_t>((n * Z + z) * T + t)];
        sum += x;
        sq += x * x;
      }
    const double count = static_cast<double>(N * T);
    if (count > 1 && (sq - sum * sum / count) / (count - 1) > threshold) ++active;
  }
  return active;
}

}  // namespace mg::nn
