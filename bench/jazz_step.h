#pragma once
// The jazz VAE's training step as the benchmarks time it (bench_jazz,
// bench_scaling): the app's default conv model on 5 s clips at 22,050 Hz
// (n_fft 1024, hop 512), and the loss jazz-vae trains each model with.
#include "io/stft.h"
#include "models/jazz_vae.h"
#include "models/vae_loss.h"

namespace mg::bench {

// conv: 513 bins x 216 frames, stages of 128, 128 and 256 channels, a
// time-resolved latent of 16 channels.
inline nn::ConvVaeConfig jazz_conv_config() {
  nn::ConvVaeConfig conv;
  conv.kind = "conv";
  conv.latent_mode = "time";
  conv.channels = {128, 128, 256};
  conv.latent = 16;
  conv.in_channels = 513;
  conv.length = io::stft_frames(5 * 22050, io::StftConfig{1024, 512, true});
  return conv;
}

// The loss (models/vae_loss.h): conv with the spectral term and free bits of
// its time-resolved latent, seed the plain ELBO.
inline Tensor jazz_loss(const nn::ConvVaeConfig& c, const nn::VaeOutput& out, const Tensor& x) {
  nn::VaeLossConfig loss;
  nn::MagnitudeMap map;
  if (c.kind == "conv") {
    loss.free_bits = 0.1;
    loss.spectral_weight = 1;
    map.shift = zeros({c.in_channels, 1}, x.dtype(), x.device());
    map.floor = 1e-3;
  } else {
    loss.reconstruction = nn::Reconstruction::BernoulliLogits;
  }
  return nn::vae_loss(loss, out, x, 0, &map).total;
}

}  // namespace mg::bench
