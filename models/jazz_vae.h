#pragma once
// The jazz VAE: a 1-D convolutional VAE over time with ResNet-style blocks.
// B = batch, C = channels, L = time steps, S = stages, Z = latent channels,
// T = latent frames = ceil(L / 2^S).
//
//   encoder  x [B, Cin, L] -> S x (Conv(s2) -> blocks) -> [B, C_S, T]
//   latent   time:   Conv(k1) -> mu, logvar [B, Z, T]: Z channels per latent frame
//            global: flatten [B, C_S * T] -> Linear -> mu, logvar [B, Z]: one vector per clip
//   decoder  time:   z [B, Z, T] -> Conv(k3) -> [B, C_S, T]
//            global: z [B, Z] -> Linear -> [B, C_S, T]
//            -> S x (blocks -> ConvT(s2)) -> [B, Cin, 2^S T] cropped to L
//
// With no blocks (the app's default for the time-resolved latent) nothing
// nonlinear stands between input and latent or latent and output.
//
// The time-resolved latent keeps the encoder's time axis, so each latent
// frame describes 2^S input frames (RAVE's latent sequence, Caillon and Esling
// 2021); the global latent is the seed's design, one point per clip.
//
// Two input kinds share this code:
//   conv (default): log-magnitude spectrogram frames, frequency bins as channels;
//   seed:           the original's raw-waveform model (1 channel, 90,001 samples at 3 kHz)
//                   with its layer list done as real convolutions over time, global latent.
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
  std::string latent_mode = "time";    // "time" (Z channels per latent frame) or "global" (one Z-vector per clip)
  int64_t in_channels = 513;           // frequency bins, or 1 for the waveform
  int64_t length = 216;                // frames, or samples
  std::vector<int64_t> channels = {64, 128, 128, 256};  // per stage; S = channels.size()
  int64_t blocks = 1;                  // residual blocks per stage, on each side
  int64_t kernel = 3;
  int64_t latent = 2;
  bool time_resolved() const { return latent_mode == "time"; }
  // Frames of the time-resolved latent (1 for the global one).
  int64_t latent_frames() const;
  // The shape of mu, logvar and z for a batch: [B, Z, T] or [B, Z].
  Shape latent_shape(int64_t batch) const;
  nlohmann::json to_json() const;
  static ConvVaeConfig from_json(const nlohmann::json& j);  // mg::Error on bad fields

  // What the network costs, from the configuration alone (before building it).
  // Elements in its parameters and buffers (the decoder's batch-norm statistics):
  int64_t state_count() const;
  // Floats of activation one clip keeps through the encoder and decoder:
  // about a dozen tensors of [C_i, L_i] per stage on each side (and as many
  // per residual block), plus the input's convolution matrix.
  double activation_floats_per_clip() const;
  // Bytes one training step holds besides the data: parameters, gradients
  // and Adam's two moments, and the activations of a batch kept for backward.
  double training_bytes(int64_t batch) const;
};

struct VaeOutput {
  Tensor recon;      // [B, Cin, L]: log-magnitudes (conv) or logits (seed)
  Tensor mu, logvar; // latent_shape(B)
  Tensor z;          // latent_shape(B)
};

class ConvVAE : public Module {
 public:
  explicit ConvVAE(const ConvVaeConfig& config);
  std::pair<Tensor, Tensor> encode(const Tensor& x) const;  // mu, logvar
  Tensor decode(const Tensor& z) const;
  // Full pass; eps (latent_shape(B)) is the reparameterisation noise (zeros: use the mean).
  VaeOutput forward(const Tensor& x, const Tensor& eps) const;
  const ConvVaeConfig& config() const { return config_; }

 private:
  ConvVaeConfig config_;
  int64_t bottleneck_length_;
  std::vector<std::shared_ptr<Conv1d>> down_;
  std::vector<std::shared_ptr<ResNet1DBlock>> enc_blocks_, dec_blocks_;  // blocks per stage, stage-major
  std::vector<std::shared_ptr<ConvTranspose1d>> up_;
  std::shared_ptr<Linear> to_latent_, from_latent_;        // global
  std::shared_ptr<Conv1d> to_latent_conv_, from_latent_conv_;  // time
};

// Active units (Burda, Grosse and Salakhutdinov 2016): latent channels whose
// posterior mean varies across clips (and, time-resolved, frames) with
// variance above `threshold`. mu [N, Z] or [N, Z, T].
int64_t active_units(const Tensor& mu, double threshold = 0.01);

}  // namespace mg::nn
