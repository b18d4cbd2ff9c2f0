#pragma once
// The Chopin next-token network.
//   seed:  x [B, T] scalar index/vocab per step -> [B, T, 1]
//   embed: ids [B, T] int64 -> learned embedding [B, T, E]
// then LSTM(512, all steps) -> Dropout(0.1) -> LSTM(256, last step)
//   -> Dense(256, no activation) -> Dropout(0.1) -> Dense(vocab): logits [B, vocab]
// (forward_all: the second LSTM's every step through the head: [B, T, vocab]).
// step() runs on from a carried state, so a generator pays one step of each
// LSTM per new token instead of a whole window.
// With vocab 228 the seed variant has exactly the original's 1,964,516 parameters.
#include <nlohmann/json.hpp>
#include <string>

#include "models/layers.h"

namespace mg::nn {

// Both LSTM layers' (h, c) after the tokens fed so far: [B, hidden1] and [B, hidden2].
struct ChopinState {
  LstmState lstm1, lstm2;
};

struct ChopinConfig {
  std::string input = "seed";  // "seed" or "embed"
  int64_t vocab = 0;
  int64_t hidden1 = 512, hidden2 = 256, dense = 256, embed_dim = 64;
  double dropout = 0.1;
  nlohmann::json to_json() const;
  static ChopinConfig from_json(const nlohmann::json& j);  // mg::Error on missing/bad fields

  // What the network costs, from the configuration alone (before building it).
  // Elements in its parameters:
  int64_t parameter_count() const;
  // Bytes a training run holds besides its data: parameters, gradients and the
  // optimizer's two moments, and what one batch of windows keeps for backward.
  double training_bytes(int64_t batch, int64_t seq_len) const;
};

class ChopinLSTM : public Module {
 public:
  explicit ChopinLSTM(const ChopinConfig& config);
  // seed: x float [B, T] of index/vocab; embed: x int64 [B, T] of ids. -> logits [B, vocab]
  // for the token after the window (the original's return_sequences=False).
  Tensor forward(const Tensor& x) const;
  // The same head applied at every step: logits [B, T, vocab], step t
  // predicting the token after x[:, t]; its last step equals forward(x).
  Tensor forward_all(const Tensor& x) const;
  // The state before any token: zeros for `batch` sequences on `device`.
  ChopinState start_state(int64_t batch, Device device) const;
  // x [B, T] as for forward, run on from `state`, which becomes the state
  // after x's last step -> logits [B, vocab] for the token after x.
  // forward(x) is step(x, start_state(B)); feeding a sequence one token at a
  // time gives forward's logits for each prefix. Dropout follows the mode
  // (train() / eval()) as in forward.
  Tensor step(const Tensor& x, ChopinState& state) const;
  // Turns token ids [B, T] (int64, CPU) into this model's input on `device`.
  Tensor encode_input(const std::vector<int64_t>& ids, int64_t batch, int64_t steps, Device device) const;
  const ChopinConfig& config() const { return config_; }

 private:
  // Both LSTM layers over x from `state`, which becomes the state after x's
  // last step -> the second layer's h at every step [B, T, hidden2].
  Tensor recurrent(const Tensor& x, ChopinState& state) const;
  // Dense -> Dropout -> Dense: [..., hidden2] -> logits [..., vocab].
  Tensor head(const Tensor& h) const;

  ChopinConfig config_;
  std::shared_ptr<Embedding> embedding_;
  std::shared_ptr<LSTM> lstm1_, lstm2_;
  std::shared_ptr<Dropout> drop1_, drop2_;
  std::shared_ptr<Linear> dense1_, dense2_;
};

}  // namespace mg::nn
