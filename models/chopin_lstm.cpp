#include "models/chopin_lstm.h"

namespace mg::nn {

nlohmann::json ChopinConfig::to_json() const {
  return {{"input", input},     {"vocab", vocab},         {"hidden1", hidden1}, {"hidden2", hidden2},
          {"dense", dense},     {"embed_dim", embed_dim}, {"dropout", dropout}};
}

ChopinConfig ChopinConfig::from_json(const nlohmann::json& j) {
  ChopinConfig c;
  try {
    c.input = j.at("input").get<std::string>();
    c.vocab = j.at("vocab").get<int64_t>();
    c.hidden1 = j.at("hidden1").get<int64_t>();
    c.hidden2 = j.at("hidden2").get<int64_t>();
    c.dense = j.at("dense").get<int64_t>();
    c.embed_dim = j.at("embed_dim").get<int64_t>();
    c.dropout = j.at("dropout").get<double>();
  } catch (const nlohmann::json::exception& e) {
    fail("model config: {}", e.what());
  }
  if (c.input != "seed" && c.input != "embed") fail("model config: input must be 'seed' or 'embed', got '{}'", c.input);
  if (c.vocab < 2 || c.hidden1 < 1 || c.hidden2 < 1 || c.dense < 1 || c.embed_dim < 1)
    fail("model config: sizes must be positive (vocab {})", c.vocab);
  return c;
}

int64_t ChopinConfig::parameter_count() const {
  auto lstm = [](int64_t in, int64_t h) { return 4 * h * in + 4 * h * h + 4 * h; };  // w_ih, w_hh, one bias
  auto linear = [](int64_t in, int64_t out) { return in * out + out; };
  const bool embed = input == "embed";
  return (embed ? vocab * embed_dim : 0) + lstm(embed ? embed_dim : 1, hidden1) + lstm(hidden1, hidden2) +
         linear(hidden2, dense) + linear(dense, vocab);
}

double ChopinConfig::training_bytes(int64_t batch, int64_t seq_len) const {
  constexpr double kFloat = 4;
  // Parameters, gradients, and Adamax's m and u.
  const double weights = 4 * kFloat * static_cast<double>(parameter_count());
  // Per step and sample, each LSTM keeps its input projection, gates, cell and
  // hidden state for backward (about 16 H floats), and backward as much again.
  const double per_step = static_cast<double>(input == "embed" ? embed_dim : 1) + 16.0 * static_cast<double>(hidden1 + hidden2);
  const double activations = 2 * kFloat * static_cast<double>(batch) *
                             (static_cast<double>(seq_len) * per_step + 4.0 * static_cast<double>(dense + vocab));
  return weights + activations;
}

ChopinLSTM::ChopinLSTM(const ChopinConfig& c) : config_(c) {
  int64_t in = 1;
  if (c.input == "embed") {
    embedding_ = register_module("embedding", std::make_shared<Embedding>(c.vocab, c.embed_dim));
    in = c.embed_dim;
  }
  lstm1_ = register_module("lstm1", std::make_shared<LSTM>(in, c.hidden1));
  drop1_ = register_module("drop1", std::make_shared<Dropout>(c.dropout));
  lstm2_ = register_module("lstm2", std::make_shared<LSTM>(c.hidden1, c.hidden2));
  dense1_ = register_module("dense1", std::make_shared<Linear>(c.hidden2, c.dense));
  drop2_ = register_module("drop2", std::make_shared<Dropout>(c.dropout));
  dense2_ = register_module("dense2", std::make_shared<Linear>(c.dense, c.vocab));
}

Tensor ChopinLSTM::encode_input(const std::vector<int64_t>& ids, int64_t batch, int64_t steps, Device device) const {
  MG_CHECK(static_cast<int64_t>(ids.size()) == batch * steps, "encode_input: {} ids for [{}, {}]", ids.size(), batch,
           steps);
  if (embedding_) return from_vector(ids, {batch, steps}, device);
  // The seed's input: one scalar per step, index / vocab.
  std::vector<float> x(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) x[i] = static_cast<float>(ids[i]) / static_cast<float>(config_.vocab);
  return from_vector(x, {batch, steps}, device);
}

ChopinState ChopinLSTM::start_state(int64_t batch, Device device) const {
  const DType dtype = lstm1_->w_hh.dtype();
  auto zero = [&](int64_t hidden) { return zeros({batch, hidden}, dtype, device); };
  return {{zero(config_.hidden1), zero(config_.hidden1)}, {zero(config_.hidden2), zero(config_.hidden2)}};
}

Tensor ChopinLSTM::recurrent(const Tensor& x, ChopinState& state) const {
  Tensor seq = embedding_ ? embedding_->forward(x) : x.unsqueeze(2);  // [B, T, in]
  auto [h1, s1] = lstm1_->forward(seq, state.lstm1);
  auto [h2, s2] = lstm2_->forward(drop1_->forward(h1), state.lstm2);  // [B, T, H2]
  state = {s1, s2};
  return h2;
}

Tensor ChopinLSTM::head(const Tensor& h) const { return dense2_->forward(drop2_->forward(dense1_->forward(h))); }

Tensor ChopinLSTM::step(const Tensor& x, ChopinState& state) const {
  recurrent(x, state);
  return head(state.lstm2.h);  // [B, H2]: the last step only, as return_sequences=False
}

Tensor ChopinLSTM::forward(const Tensor& x) const {
  ChopinState state = start_state(x.size(0), x.device());
  return step(x, state);
}

Tensor ChopinLSTM::forward_all(const Tensor& x) const {
  ChopinState state = start_state(x.size(0), x.device());
  return head(recurrent(x, state));
}

}  // namespace mg::nn
