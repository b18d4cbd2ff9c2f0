#pragma once
// Differentiable ops. Each records itself on the autograd graph when an input
// requires grad (autograd/graph.h); forward and backward of an op sit side by
// side in autograd/ops/<family>.cpp. All inputs of one op must be on one device.
#include <utility>
#include <vector>

#include "autograd/graph.h"
#include "tensor/tensor.h"

namespace mg {

// ---- elementwise with NumPy broadcasting (autograd/ops/elementwise.cpp)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor abs(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope);
// alpha x + beta in one pass.
Tensor affine(const Tensor& x, double alpha, double beta);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
inline Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }

// The broadcast shape of a and b (NumPy rules); an error when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);

// ---- reductions (autograd/ops/reduce.cpp)
Tensor sum(const Tensor& x);                                           // all elements -> scalar
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Sums x down to `shape` (the inverse of broadcasting; used by backward passes).
Tensor sum_to(const Tensor& x, const Shape& shape);
// Row-wise argmax of [rows, n] -> int64 [rows]; not differentiable.
Tensor argmax_rows(const Tensor& x);

// ---- linear algebra (autograd/ops/matmul.cpp)
// [M, K] @ [K, N], [B, M, K] @ [B, K, N], or [B, M, K] @ [K, N] (weight shared
// across the batch). Transposed views are passed to GEMM without copying.
Tensor matmul(const Tensor& a, const Tensor& b);
// x [.., I] wᵀ + b for w [O, I], b [O] (or undefined): a dense layer, bias fused into the GEMM.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);

// ---- softmax family and losses (autograd/ops/softmax.cpp)
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
// Mean over the batch of -log softmax(logits)[target]; logits [N, C], targets int64 [N].
Tensor cross_entropy(const Tensor& logits, const Tensor& targets);
// Mean of max(x, 0) - x t + log(1 + e^-|x|), the stable form of BCE on sigmoid(x).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets);
// Mean of (a - b)^2.
Tensor mse(const Tensor& a, const Tensor& b);

// ---- joining and indexing (autograd/ops/shape.cpp)
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
// The slices of x along dim as separate tensors (views). One graph node for
// all of them, so backward assembles the full gradient once rather than once
// per slice (what an LSTM over T time steps needs).
std::vector<Tensor> unbind(const Tensor& x, int64_t dim);
// Rows of src [V, D...] picked by int64 index [n...] -> [n..., D...] (an embedding lookup).
Tensor index_select(const Tensor& src, const Tensor& index);

// ---- regularisation (autograd/ops/dropout.cpp)
// Inverted dropout: zeroes with probability p and scales survivors by 1/(1-p)
// in training; identity in eval. Masks come from the default generator.
Tensor dropout(const Tensor& x, double p, bool training);

// ---- convolution (autograd/ops/conv.cpp); B = batch, C = channels, L = length
struct Conv1dOptions {
  int64_t stride = 1;
  int64_t pad_left = 0, pad_right = 0;
  int64_t dilation = 1;
  // Keras/TensorFlow 'same': output length ceil(L / stride), padding split with
  // the extra element on the right.
  static Conv1dOptions same(int64_t length, int64_t kernel, int64_t stride = 1, int64_t dilation = 1);
  static Conv1dOptions symmetric(int64_t padding, int64_t stride = 1, int64_t dilation = 1) {
    return Conv1dOptions{stride, padding, padding, dilation};
  }
};
// x [B, Cin, L], weight [Cout, Cin, K], bias [Cout] or undefined -> [B, Cout, Lout].
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv1dOptions& opt);
// x [B, Cin, L], weight [Cin, Cout, K] (PyTorch layout), bias [Cout] or undefined ->
// [B, Cout, (L-1) stride - 2 padding + dilation (K-1) + output_padding + 1].
Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
                        int64_t output_padding = 0, int64_t dilation = 1);

// ---- normalisation (autograd/ops/norm.cpp); x [N, C, L], weight/bias [C] or undefined
Tensor instance_norm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
// Training: batch statistics, and running_mean/var (if defined) move by
// `momentum` toward them (unbiased variance, as PyTorch). Eval: running statistics.
Tensor batch_norm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                    const Tensor& running_var, bool training, double momentum, double eps);

// ---- recurrent (autograd/ops/lstm.cpp)
// Gate pre-activations gates [B, 4H] (order i, f, g, o) and c_prev [B, H] ->
// (h, c) with c = σ(f) c_prev + σ(i) tanh(g), h = σ(o) tanh(c). One fused kernel.
std::pair<Tensor, Tensor> lstm_pointwise(const Tensor& gates, const Tensor& c_prev);
// One LSTM step: gates = x W_ihᵀ + h W_hhᵀ + b, then lstm_pointwise.
// x [B, I], h/c [B, H], w_ih [4H, I], w_hh [4H, H], b [4H] (may be undefined).
std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih,
                                    const Tensor& w_hh, const Tensor& b);

// The recurrence of a whole LSTM layer as one op. T = time steps.
// xproj [T, B, 4H] holds every step's input projection x_t W_ihᵀ + b (one
// GEMM for all steps, done by the caller); w_hh [4H, H]; h0, c0 [B, H].
// Per step: one recurrent GEMM accumulated onto xproj_t and the fused
// pointwise kernel. Backward mirrors it step by step and forms the gradient
// of w_hh with a single GEMM over all steps. Returns (h for every step
// [T, B, H], final c [B, H]); the final h is the last row of the first.
std::pair<Tensor, Tensor> lstm_recurrence(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0);

// A whole LSTM layer as one op, as the models run it: x [T, B, I] (time-major),
// w_ih [4H, I], w_hh [4H, H], b [4H] (may be undefined), h0, c0 [B, H].
// The input projection of every step is one GEMM written into the buffer the
// recurrence then overwrites with the activated gates, so the layer holds one
// [T, B, 4H] tensor, not two; backward forms the gradients of x, W_ih and W_hh
// with one GEMM each over all steps. Returns (hs [T, B, H], final c [B, H]).
std::pair<Tensor, Tensor> lstm_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b,
                                     const Tensor& h0, const Tensor& c0);

// ---- variational (autograd/ops/vae.cpp)
// z = mu + exp(0.5 logvar) eps, with eps ~ N(0, 1) given (so it can be seeded).
Tensor reparameterize(const Tensor& mu, const Tensor& logvar, const Tensor& eps);
// KL(N(mu, exp(logvar)) || N(0, 1)) summed over the last dim: [B, Z] -> [B].
//   = -0.5 sum(1 + logvar - mu^2 - exp(logvar))
Tensor kl_normal(const Tensor& mu, const Tensor& logvar);

// Multi-resolution spectral convergence of magnitudes est and ref [B, C, L]:
// the mean over clips and resolutions of ||E - R||_F / ||R||_F, where E, R
// are the magnitudes as given, their power pooled over `group` frames and
// over `group` bins (sqrt(Σ x² + tiny); each where the length allows). One
// fused kernel (Backend::spectral_convergence; CPU). ref takes no gradient.
Tensor spectral_convergence(const Tensor& est, const Tensor& ref, int64_t group, double tiny);

// Decoded features v [B, C, L] -> magnitudes (models/vae_loss.h MagnitudeMap):
// u = min(v scale + shift[c], ceiling); power 0: exp(u) - floor; power p > 0:
// max(u, 0)^(1/p). One fused kernel (Backend::feature_magnitudes; CPU);
// shift [C] takes no gradient.
Tensor feature_magnitudes(const Tensor& v, const Tensor& shift, double scale, double ceiling, double floor,
                          double power);

}  // namespace mg
