#include "apps/jazz-vae/limits.h"

namespace jazz {

namespace {

constexpr double kFloat = 4;

// Floats of activation one clip keeps through the encoder and decoder stages:
// about a dozen tensors of [C_i, L_i] per stage on each side, plus the
// input's convolution matrix (in_channels x kernel x L/2).
double activations_per_clip(const mg::nn::ConvVaeConfig& c) {
  double floats = 3.0 * static_cast<double>(c.in_channels * c.length);
  int64_t len = c.length;
  for (int64_t ch : c.channels) {
    len = (len + 1) / 2;
    floats += (12.0 + 12.0 * static_cast<double>(c.blocks)) * static_cast<double>(ch) * static_cast<double>(len);
  }
  return floats;
}

}  // namespace

int64_t state_count(const mg::nn::ConvVaeConfig& c) {
  const int64_t K = c.kernel;
  auto conv = [](int64_t in, int64_t out, int64_t k) { return in * out * k + out; };  // weight and bias
  int64_t n = 0, prev = c.in_channels, len = c.length;
  for (int64_t ch : c.channels) {
    n += conv(prev, ch, K);                            // down: stride-2 convolution
    n += c.blocks * (2 * conv(ch, ch, K) + 2 * 2 * ch);  // encoder blocks: two convolutions, two instance norms
    prev = ch;
    len = (len + 1) / 2;
  }
  const int64_t top = c.channels.back();
  if (c.time_resolved()) {
    n += conv(top, 2 * c.latent, 1);  // to_latent: 1x1 convolution
    n += conv(c.latent, top, 3);      // from_latent: k3 convolution
  } else {
    const int64_t flat = top * len;
    n += flat * 2 * c.latent + 2 * c.latent;  // to_latent
    n += c.latent * flat + flat;              // from_latent
  }
  for (size_t i = c.channels.size(); i-- > 0;) {
    const int64_t ch = c.channels[i], next = i > 0 ? c.channels[i - 1] : c.in_channels;
    n += c.blocks * (2 * conv(ch, ch, K) + 2 * 4 * ch);  // decoder blocks: two convolutions, two batch norms with running stats
    n += conv(ch, next, 4);                              // up: stride-2 transposed convolution, kernel 4
  }
  return n;
}

int64_t prior_state_count(const mg::nn::LatentPriorConfig& c) {
  int64_t n = 0, in = c.latent;
  for (int64_t l = 0; l < c.layers; ++l) {
    n += 4 * c.hidden * (in + (l == 0 ? c.files : 0) + c.hidden + 1);  // W_ih (file codes beside the frames), W_hh, bias
    in = c.hidden;
  }
  return n + c.hidden * 2 * c.latent + 2 * c.latent + 2 * c.latent;  // head, and the mean and deviation buffers
}

double training_bytes(const mg::nn::ConvVaeConfig& c, int64_t batch) {
  return 4 * kFloat * static_cast<double>(state_count(c)) +
         2 * kFloat * static_cast<double>(batch) * activations_per_clip(c);
}

double dataset_bytes(const FeatureConfig& f, double clips) {
  return kFloat * clips * static_cast<double>(f.clip_samples() + f.channels() * f.length());
}

double decode_bytes(const mg::nn::ConvVaeConfig& c, const FeatureConfig& f, int64_t batch) {
  // Griffin-Lim holds a few complex spectrograms (bins x frames) and the signal.
  const double per_clip = activations_per_clip(c) + 8.0 * static_cast<double>(f.channels() * f.length()) +
                          4.0 * static_cast<double>(f.clip_samples());
  return kFloat * static_cast<double>(state_count(c)) + kFloat * static_cast<double>(batch) * per_clip;
}

}  // namespace jazz
