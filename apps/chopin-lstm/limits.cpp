#include "apps/chopin-lstm/limits.h"

namespace chopin {

int64_t parameter_count(const mg::nn::ChopinConfig& c) {
  auto lstm = [](int64_t in, int64_t h) { return 4 * h * in + 4 * h * h + 4 * h; };  // w_ih, w_hh, one bias
  auto dense = [](int64_t in, int64_t out) { return in * out + out; };
  const bool embed = c.input == "embed";
  const int64_t in = embed ? c.embed_dim : 1;
  return (embed ? c.vocab * c.embed_dim : 0) + lstm(in, c.hidden1) + lstm(c.hidden1, c.hidden2) +
         dense(c.hidden2, c.dense) + dense(c.dense, c.vocab);
}

double training_bytes(const mg::nn::ChopinConfig& c, int64_t batch, int64_t seq_len) {
  constexpr double kFloat = 4;
  // Parameters, gradients, and Adamax's m and u.
  const double weights = 4 * kFloat * static_cast<double>(parameter_count(c));
  // Per step and sample, each LSTM keeps its input projection, gates, cell and
  // hidden state for backward (about 16 H floats), and backward as much again.
  const double per_step = static_cast<double>(c.input == "embed" ? c.embed_dim : 1) +
                          16.0 * static_cast<double>(c.hidden1 + c.hidden2);
  const double activations = 2 * kFloat * static_cast<double>(batch) *
                             (static_cast<double>(seq_len) * per_step + 4.0 * static_cast<double>(c.dense + c.vocab));
  return weights + activations;
}

}  // namespace chopin
