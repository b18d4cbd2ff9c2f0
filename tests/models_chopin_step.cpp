// ChopinLSTM::step: running on from a carried state gives forward()'s logits
// on the same prefix, token by token, in batches, and after a prefill.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "models/chopin_lstm.h"
#include "tensor/rng.h"

using namespace mg;

namespace {

nn::ChopinConfig small_config(const char* input) {
  nn::ChopinConfig c;
  c.input = input;
  c.vocab = 29;
  c.hidden1 = 24;
  c.hidden2 = 16;
  c.dense = 12;
  c.embed_dim = 8;
  return c;
}

// Largest |a - b| over the largest |a|.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::abs(a[i])));
  }
  return diff / scale;
}

// Columns [from, to) of ids [B, T].
std::vector<int64_t> columns(const std::vector<int64_t>& ids, int64_t B, int64_t T, int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = from; t < to; ++t) out.push_back(ids[static_cast<size_t>(b * T + t)]);
  return out;
}

}  // namespace

TEST_CASE("chopin step by step gives forward's logits on every prefix") {
  for (const char* input : {"seed", "embed"}) {
    INFO(input);
    manual_seed(11);
    nn::ChopinLSTM net(small_config(input));
    net.eval();
    NoGradGuard no_grad;
    const int64_t B = 3, T = 12;
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < B * T; ++i) ids.push_back((i * 7 + 3) % 29);
    nn::ChopinState state = net.start_state(B, Device::CPU);
    for (int64_t t = 1; t <= T; ++t) {
      CAPTURE(t);
      const std::vector<float> stepped =
          net.step(net.encode_input(columns(ids, B, T, t - 1, t), B, 1, Device::CPU), state).to_vector<float>();
      const std::vector<float> whole =
          net.forward(net.encode_input(columns(ids, B, T, 0, t), B, t, Device::CPU)).to_vector<float>();
      CHECK(relative_difference(whole, stepped) < 1e-5);
    }
    // A prefill of several tokens, then single steps, is the same again.
    nn::ChopinState prefilled = net.start_state(B, Device::CPU);
    net.step(net.encode_input(columns(ids, B, T, 0, T - 2), B, T - 2, Device::CPU), prefilled);
    net.step(net.encode_input(columns(ids, B, T, T - 2, T - 1), B, 1, Device::CPU), prefilled);
    const std::vector<float> after_prefill =
        net.step(net.encode_input(columns(ids, B, T, T - 1, T), B, 1, Device::CPU), prefilled).to_vector<float>();
    const std::vector<float> whole = net.forward(net.encode_input(ids, B, T, Device::CPU)).to_vector<float>();
    CHECK(relative_difference(whole, after_prefill) < 1e-5);
    // forward_all's step t is the logits after t + 1 tokens.
    const std::vector<float> all = net.forward_all(net.encode_input(ids, B, T, Device::CPU)).to_vector<float>();
    std::vector<float> last;
    for (int64_t b = 0; b < B; ++b)
      last.insert(last.end(), all.begin() + (b * T + T - 1) * 29, all.begin() + (b * T + T) * 29);
    CHECK(relative_difference(whole, last) < 1e-5);
  }
}

TEST_CASE("chopin start_state: zeros of the model's dtype and sizes") {
  manual_seed(2);
  nn::ChopinLSTM net(small_config("embed"));
  net.to(DType::F64);
  const nn::ChopinState s = net.start_state(5, Device::CPU);
  CHECK(s.lstm1.h.shape() == Shape{5, 24});
  CHECK(s.lstm1.c.shape() == Shape{5, 24});
  CHECK(s.lstm2.h.shape() == Shape{5, 16});
  CHECK(s.lstm2.c.dtype() == DType::F64);
  for (double v : s.lstm2.c.to_vector<double>()) CHECK(v == 0.0);
}
