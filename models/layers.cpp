#include "models/layers.h"

#include "models/distributed.h"
#include "models/init.h"

namespace mg::nn {

Linear::Linear(int64_t in, int64_t out, bool has_bias) {
  register_parameter("weight", weight, init::glorot_uniform({out, in}, in, out));
  if (has_bias) register_parameter("bias", bias, zeros({out}));
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

Embedding::Embedding(int64_t vocab, int64_t dim) { register_parameter("weight", weight, uniform({vocab, dim}, -0.05, 0.05)); }

Tensor Embedding::forward(const Tensor& ids) const { return index_select(weight, ids); }

LSTM::LSTM(int64_t input_size, int64_t hidden_size) : hidden_(hidden_size) {
  const int64_t H = hidden_size;
  register_parameter("w_ih", w_ih, init::glorot_uniform({4 * H, input_size}, input_size, 4 * H));
  register_parameter("w_hh", w_hh, init::orthogonal(4 * H, H));
  // Forget-gate bias 1 (Keras unit_forget_bias): early gradients flow through c.
  Tensor b = zeros({4 * H});
  fill_(b.slice(0, H, 2 * H), 1.0);
  register_parameter("bias", bias, b);
}

std::pair<Tensor, LstmState> LSTM::forward(const Tensor& x, const std::optional<LstmState>& state) const {
  MG_CHECK(x.dim() == 3 && x.size(2) == w_ih.size(1), "LSTM: input must be [B, T, {}], got {}", w_ih.size(1),
           shape_str(x.shape()));
  const int64_t B = x.size(0), T = x.size(1), H = hidden_;
  Tensor h = state ? state->h : zeros({B, H}, x.dtype(), x.device());
  Tensor c = state ? state->c : zeros({B, H}, x.dtype(), x.device());
  // Time-major: every step's input projection in one GEMM, then the recurrence.
  auto [hs, c_last] = lstm_layer(x.transpose(0, 1), w_ih, w_hh, bias, h, c);  // hs [T, B, H]
  // [B, T, H] as a view: a following LSTM's time-major transpose makes it contiguous again for free.
  return {hs.transpose(0, 1), LstmState{hs.select(0, T - 1), c_last}};
}

Conv1d::Conv1d(int64_t in, int64_t out, const ConvSpec& spec, bool has_bias) : spec_(spec) {
  const int64_t K = spec.kernel;
  register_parameter("weight", weight, init::glorot_uniform({out, in, K}, in * K, out * K));
  if (has_bias) register_parameter("bias", bias, zeros({out}));
}

Tensor Conv1d::forward(const Tensor& x) const {
  Conv1dOptions opt = spec_.same ? Conv1dOptions::same(x.size(2), spec_.kernel, spec_.stride, spec_.dilation)
                                 : Conv1dOptions::symmetric(spec_.padding, spec_.stride, spec_.dilation);
  return conv1d(x, weight, bias, opt);
}

ConvTranspose1d::ConvTranspose1d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                                 int64_t output_padding, bool has_bias)
    : stride_(stride), padding_(padding), output_padding_(output_padding) {
  register_parameter("weight", weight, init::glorot_uniform({in, out, kernel}, out * kernel, in * kernel));
  if (has_bias) register_parameter("bias", bias, zeros({out}));
}

Tensor ConvTranspose1d::forward(const Tensor& x) const {
  return conv_transpose1d(x, weight, bias, stride_, padding_, output_padding_);
}

InstanceNorm1d::InstanceNorm1d(int64_t channels, double eps) : eps_(eps) {
  register_parameter("weight", weight, ones({channels}));
  register_parameter("bias", bias, zeros({channels}));
}

BatchNorm1d::BatchNorm1d(int64_t channels, double eps, double momentum) : eps_(eps), momentum_(momentum) {
  register_parameter("weight", weight, ones({channels}));
  register_parameter("bias", bias, zeros({channels}));
  register_buffer("running_mean", running_mean, zeros({channels}));
  register_buffer("running_var", running_var, ones({channels}));
}

Tensor BatchNorm1d::forward(const Tensor& x) const {
  if (!training() || dist::batch_count(x.size(0)) == x.size(0))
    return batch_norm1d(x, weight, bias, running_mean, running_var, training(), momentum_, eps_);
  // Part of a batch shared by several ranks (models/distributed.h): the
  // statistics of the whole batch, from sums over every rank, composed from
  // differentiable ops, so the gradient reaches every rank's examples.
  const int64_t C = x.size(1);
  const double M = static_cast<double>(dist::batch_count(x.size(0)) * x.size(2));
  const Tensor mean_c = dist::all_reduce_sum(sum(x, {0, 2})) * (1.0 / M);
  const Tensor centred = x - mean_c.reshape({1, C, 1});
  const Tensor var_c = dist::all_reduce_sum(sum(centred * centred, {0, 2})) * (1.0 / M);
  const Tensor rstd = pow(var_c + eps_, -0.5);
  Tensor y = centred * (rstd * weight).reshape({1, C, 1}) + bias.reshape({1, C, 1});
  {
    NoGradGuard no_grad;
    const Tensor unbiased = var_c.detach() * (M > 1 ? M / (M - 1) : 1.0);
    copy_(running_mean, add(mul(running_mean, 1.0 - momentum_), mul(mean_c.detach(), momentum_)));
    copy_(running_var, add(mul(running_var, 1.0 - momentum_), mul(unbiased, momentum_)));
  }
  return y;
}

}  // namespace mg::nn
