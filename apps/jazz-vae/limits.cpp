#include "apps/jazz-vae/limits.h"

namespace jazz {

namespace {

constexpr double kFloat = 4;

}  // namespace

double dataset_bytes(const FeatureConfig& f, double clips) {
  return kFloat * clips * static_cast<double>(f.clip_samples() + f.channels() * f.length());
}

double decode_bytes(const mg::nn::ConvVaeConfig& c, const FeatureConfig& f, int64_t batch) {
  // Griffin-Lim holds a few complex spectrograms (bins x frames) and the signal.
  const double per_clip = c.activation_floats_per_clip() + 8.0 * static_cast<double>(f.channels() * f.length()) +
                          4.0 * static_cast<double>(f.clip_samples());
  return kFloat * static_cast<double>(c.state_count()) + kFloat * static_cast<double>(batch) * per_clip;
}

}  // namespace jazz
