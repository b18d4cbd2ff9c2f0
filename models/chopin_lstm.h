#pragma once
// The Chopin next-token network.
//   seed:  x [B, T] scalar index/vocab per step -> [B, T, 1]
//   embed: ids [B, T] int64 -> learned embedding [B, T, E]
// then LSTM(512, all steps) -> Dropout(0.1) -> LSTM(256, last step)
//   -> Dense(256, no activation) -> Dropout(0.1) -> Dense(vocab): logits [B, vocab]
// (forward_all: the second LSTM's every step through the head: [B, T, vocab]).
// With vocab 228 the seed variant has exactly the original's 1,964,516 parameters.
#include <nlohmann/json.hpp>
#include <string>

#include "models/layers.h"

namespace mg::nn {

struct ChopinConfig {
  std::string input = "seed";  // "seed" or "embed"
  int64_t vocab = 0;
  int64_t hidden1 = 512, hidden2 = 256, dense = 256, embed_dim = 64;
  double dropout = 0.1;
  nlohmann::json to_json() const;
  static ChopinConfig from_json(const nlohmann::json& j);  // mg::Error on missing/bad fields
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
  // Turns token ids [B, T] (int64, CPU) into this model's input on `device`.
  Tensor encode_input(const std::vector<int64_t>& ids, int64_t batch, int64_t steps, Device device) const;
  const ChopinConfig& config() const { return config_; }

 private:
  ChopinConfig config_;
  std::shared_ptr<Embedding> embedding_;
  std::shared_ptr<LSTM> lstm1_, lstm2_;
  std::shared_ptr<Dropout> drop1_, drop2_;
  std::shared_ptr<Linear> dense1_, dense2_;
};

}  // namespace mg::nn
