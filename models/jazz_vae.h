#pragma once
// The jazz VAE: a 1-D convolutional VAE over time with ResNet-style blocks.
// B = batch, C = channels, L = time steps, Z = latent size.
//
//   encoder  x [B, Cin, L] -> Conv(s2) -> Block -> Conv(s2) -> Block -> ... (4 times)
//            -> flatten [B, C4 * L/16] -> Linear -> mu, logvar [B, Z]
//   decoder  z [B, Z] -> Linear -> [B, C4, L/16] -> Block -> ConvT(s2) -> ... (4 times)
//            -> [B, Cout, 16 L/16] cropped to L
//
// Two configurations share this code (see ConvVaeConfig::spectrogram / ::waveform):
//   conv (default): log-magnitude spectrogram frames, frequency bins as channels;
//   seed:           the original's raw-waveform model (1 channel, 90,001 samples at 3 kHz)
//                   with its layer list done as real convolutions over time.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/layers.h"

namespace mg::nn {

// The original's ResNet1DBlock, shape-preserving [B, C, L] -> [B, C, L]:
//   relu -> conv -> norm -> LeakyReLU(0.4) -> conv -> norm -> LeakyReLU(0.4) -> + input -> relu
// Encoder blocks use Conv1d + InstanceNorm; decoder blocks ConvTranspose1d
// (stride 1) + BatchNorm, as in the original. Downsampling and upsampling
// happen in the strided layers between blocks, so the residual add is
// well-defined (the original's stride-2 block only worked because its time
// axis had length 1).
class ResNet1DBlock : public Module {
 public:
  enum class Kind { Encode, Decode };
  ResNet1DBlock(int64_t channels, int64_t kernel, Kind kind);
  Tensor forward(const Tensor& x) const;

 private:
  Kind kind_;
  std::shared_ptr<Conv1d> conv1_, conv2_;
  std::shared_ptr<ConvTranspose1d> convt1_, convt2_;
  std::shared_ptr<InstanceNorm1d> in1_, in2_;
  std::shared_ptr<BatchNorm1d> bn1_, bn2_;
};

struct ConvVaeConfig {
  std::string kind = "conv";           // "conv" (spectrogram) or "seed" (waveform)
  int64_t in_channels = 513;           // frequency bins, or 1 for the waveform
  int64_t length = 1292;               // frames, or samples
  std::vector<int64_t> channels = {64, 128, 128, 256};
  int64_t kernel = 3;
  int64_t latent = 2;
  nlohmann::json to_json() const;
  static ConvVaeConfig from_json(const nlohmann::json& j);  // mg::Error on bad fields
};

struct VaeOutput {
  Tensor recon;      // [B, Cin, L]: log-magnitudes (conv) or logits (seed)
  Tensor mu, logvar; // [B, Z]
  Tensor z;          // [B, Z]
};

class ConvVAE : public Module {
 public:
  explicit ConvVAE(const ConvVaeConfig& config);
  std::pair<Tensor, Tensor> encode(const Tensor& x) const;  // mu, logvar
  Tensor decode(const Tensor& z) const;
  // Full pass; eps [B, Z] is the reparameterisation noise (zeros: use the mean).
  VaeOutput forward(const Tensor& x, const Tensor& eps) const;
  const ConvVaeConfig& config() const { return config_; }

 private:
  ConvVaeConfig config_;
  int64_t bottleneck_length_;
  std::vector<std::shared_ptr<Conv1d>> down_;
  std::vector<std::shared_ptr<ResNet1DBlock>> enc_blocks_, dec_blocks_;
  std::vector<std::shared_ptr<ConvTranspose1d>> up_;
  std::shared_ptr<Linear> to_latent_, from_latent_;
};

}  // namespace mg::nn
