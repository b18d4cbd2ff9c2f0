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

nlohmann::json ConvVaeConfig::to_json() const {
  return {{"kind", kind},     {"in_channels", in_channels}, {"length", length},
          {"channels", channels}, {"kernel", kernel},       {"latent", latent}};
}

ConvVaeConfig ConvVaeConfig::from_json(const nlohmann::json& j) {
  ConvVaeConfig c;
  try {
    c.kind = j.at("kind").get<std::string>();
    c.in_channels = j.at("in_channels").get<int64_t>();
    c.length = j.at("length").get<int64_t>();
    c.channels = j.at("channels").get<std::vector<int64_t>>();
    c.kernel = j.at("kernel").get<int64_t>();
    c.latent = j.at("latent").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail("model config: {}", e.what());
  }
  if (c.kind != "conv" && c.kind != "seed") fail("model config: kind must be 'conv' or 'seed', got '{}'", c.kind);
  if (c.in_channels < 1 || c.length < 1 || c.latent < 1 || c.kernel < 1 || c.channels.empty())
    fail("model config: sizes must be positive");
  return c;
}

ConvVAE::ConvVAE(const ConvVaeConfig& c) : config_(c) {
  const size_t n = c.channels.size();
  int64_t len = c.length, prev = c.in_channels;
  for (size_t i = 0; i < n; ++i) {
    down_.push_back(register_module("down" + std::to_string(i),
                                    std::make_shared<Conv1d>(prev, c.channels[i], ConvSpec{c.kernel, 2, true})));
    enc_blocks_.push_back(register_module("enc_block" + std::to_string(i),
                                          std::make_shared<ResNet1DBlock>(c.channels[i], c.kernel,
                                                                          ResNet1DBlock::Kind::Encode)));
    prev = c.channels[i];
    len = (len + 1) / 2;  // 'same' padding with stride 2: ceil(L / 2)
  }
  bottleneck_length_ = len;
  const int64_t flat = c.channels.back() * len;
  to_latent_ = register_module("to_latent", std::make_shared<Linear>(flat, 2 * c.latent));
  from_latent_ = register_module("from_latent", std::make_shared<Linear>(c.latent, flat));
  // Mirror image: blocks then stride-2 transposed convolutions (K = 4, padding 1: exactly doubles L).
  for (size_t i = n; i-- > 0;) {
    const int64_t ch = c.channels[i];
    const int64_t next = i > 0 ? c.channels[i - 1] : c.in_channels;
    const size_t k = n - 1 - i;
    dec_blocks_.push_back(register_module("dec_block" + std::to_string(k),
                                          std::make_shared<ResNet1DBlock>(ch, c.kernel, ResNet1DBlock::Kind::Decode)));
    up_.push_back(register_module("up" + std::to_string(k), std::make_shared<ConvTranspose1d>(ch, next, 4, 2, 1)));
  }
}

std::pair<Tensor, Tensor> ConvVAE::encode(const Tensor& x) const {
  MG_CHECK(x.dim() == 3 && x.size(1) == config_.in_channels && x.size(2) == config_.length,
           "ConvVAE: input must be [B, {}, {}], got {}", config_.in_channels, config_.length, shape_str(x.shape()));
  Tensor h = x;
  for (size_t i = 0; i < down_.size(); ++i) h = enc_blocks_[i]->forward(down_[i]->forward(h));
  Tensor stats = to_latent_->forward(h.reshape({h.size(0), -1}));  // [B, 2Z]
  const int64_t Z = config_.latent;
  return {stats.slice(1, 0, Z), stats.slice(1, Z, 2 * Z)};
}

Tensor ConvVAE::decode(const Tensor& z) const {
  Tensor h = from_latent_->forward(z).reshape({z.size(0), config_.channels.back(), bottleneck_length_});
  for (size_t i = 0; i < up_.size(); ++i) h = up_[i]->forward(dec_blocks_[i]->forward(h));
  return h.slice(2, 0, config_.length);  // 16 ceil(L / 16) >= L: crop the tail
}

VaeOutput ConvVAE::forward(const Tensor& x, const Tensor& eps) const {
  auto [mu, logvar] = encode(x);
  Tensor z = reparameterize(mu, logvar, eps);
  return {decode(z), mu, logvar, z};
}

}  // namespace mg::nn
