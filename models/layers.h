#pragma once
// Layers. Shape legend: B = batch, T = time steps, I/O = feature sizes,
// C = channels, L = length, H = LSTM hidden size, K = kernel size.
// Initialisation follows Keras defaults (glorot-uniform kernels, zero biases,
// orthogonal recurrent kernels, LSTM forget-gate bias 1).
#include <optional>
#include <utility>

#include "models/module.h"

namespace mg::nn {

// y = x Wᵀ + b; x [..., I] with 2 or 3 dims -> [..., O]. weight [O, I].
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
};

// ids int64 [...] -> [..., D]. weight [V, D], U(-0.05, 0.05) like Keras.
class Embedding : public Module {
 public:
  Embedding(int64_t vocab, int64_t dim);
  Tensor forward(const Tensor& ids) const;
  Tensor weight;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p) : p_(p) {}
  Tensor forward(const Tensor& x) const { return dropout(x, p_, training()); }

 private:
  double p_;
};

struct LstmState {
  Tensor h, c;  // [B, H]
};

// One LSTM layer over a sequence: x [B, T, I] -> h for every step [B, T, H]
// (and the final state). The input projection of all steps is one GEMM; the
// recurrence (one GEMM and the fused pointwise kernel per step) is the
// lstm_recurrence op, whose backward forms W_hh's gradient in one GEMM.
class LSTM : public Module {
 public:
  LSTM(int64_t input_size, int64_t hidden_size);
  // Returns (outputs [B, T, H], final state). A missing state starts at zeros.
  std::pair<Tensor, LstmState> forward(const Tensor& x, const std::optional<LstmState>& state = std::nullopt) const;
  int64_t hidden_size() const { return hidden_; }
  Tensor w_ih, w_hh, bias;

 private:
  int64_t hidden_;
};

// Keras 'same' padding when `same` is set (any stride), else symmetric `padding`.
struct ConvSpec {
  int64_t kernel = 3;
  int64_t stride = 1;
  bool same = true;
  int64_t padding = 0;
  int64_t dilation = 1;
};

// x [B, Cin, L] -> [B, Cout, L'] ; weight [Cout, Cin, K].
class Conv1d : public Module {
 public:
  Conv1d(int64_t in, int64_t out, const ConvSpec& spec, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;

 private:
  ConvSpec spec_;
};

// x [B, Cin, L] -> [B, Cout, (L-1) stride - 2 padding + K + output_padding]; weight [Cin, Cout, K].
class ConvTranspose1d : public Module {
 public:
  ConvTranspose1d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
                  int64_t output_padding = 0, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;

 private:
  int64_t stride_, padding_, output_padding_;
};

// Normalises each (sample, channel) over L, then a per-channel scale and shift.
class InstanceNorm1d : public Module {
 public:
  explicit InstanceNorm1d(int64_t channels, double eps = 1e-3);
  Tensor forward(const Tensor& x) const { return instance_norm1d(x, weight, bias, eps_); }
  Tensor weight, bias;

 private:
  double eps_;
};

// Batch statistics while training (running averages updated with `momentum`,
// PyTorch convention: Keras' momentum 0.99 is 0.01 here); running statistics in eval.
class BatchNorm1d : public Module {
 public:
  explicit BatchNorm1d(int64_t channels, double eps = 1e-3, double momentum = 0.01);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias, running_mean, running_var;

 private:
  double eps_, momentum_;
};

}  // namespace mg::nn
