#pragma once
// The op table: one entry per differentiable op, each with a few variants
// (plain, broadcast, non-contiguous, op options). It drives the float64
// gradcheck suite (tests/gradcheck.cpp), the CPU-vs-CUDA parity suite
// (tests/cuda_parity.cpp) and the op benchmark (bench/bench_ops.cpp).
// Adding an op means adding one entry here.
//
// A variant's function receives fresh contiguous leaf tensors of the listed
// shapes (on the device and dtype under test) and returns the op's output;
// non-contiguous and broadcast cases are made inside it with views.
//
// Besides its test variants, each op has one perf variant: the op at a size
// one of the two models runs it, which bench_ops times (forward and backward,
// CPU and CUDA) after checking it against float64.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tensor/rng.h"

namespace mg::test {

// How input values are drawn: Normal N(0, 1); Positive in [0.5, 2) for
// log/sqrt/pow/div; AwayFromZero |x| in [0.2, 1.2) so that ReLU-like kinks
// are never within a finite-difference step.
// Normal: N(0, 1). Positive: U(0.5, 2). AwayFromZero: at least 0.2 from 0.
// FanIn: rank-2 tensors (weight matrices, recurrent states) N(0, 1 / columns),
// the rest N(0, 1): the scale of an initialised layer. A 40-step recurrence
// with N(0, 1) weights of 512 columns is chaotic, and float32 rounding alone
// then takes it away from float64 within a few steps.
enum class Init { Normal, Positive, AwayFromZero, FanIn };

struct OpVariant {
  std::string label;
  std::vector<Shape> shapes;
  Init init = Init::Normal;
  std::function<Tensor(const TensorList&)> fn;
};

// The op at a model's size. flops: floating-point operations of one forward
// for GEMM-like ops (reported as GFLOP/s); 0 for the rest, which are limited
// by memory traffic (reported as GB/s).
struct PerfVariant {
  OpVariant variant;
  double flops = 0.0;
};

struct OpCase {
  std::string op;
  std::vector<OpVariant> variants;
  std::optional<PerfVariant> perf = {};
};

// The sizes of the two models (models/chopin_lstm.h, models/jazz_vae.h) that
// the perf variants use.
namespace model_size {
// Chopin seed network: batch 256 of 40 steps, LSTM 512 -> LSTM 256 -> Dense 256 -> Dense vocab.
constexpr int64_t kChopinBatch = 256, kChopinSteps = 40, kHidden1 = 512, kHidden2 = 256, kDense = 256,
                  kVocab = 117, kEmbed = 64;
// Jazz conv VAE: batch 10 of 513 frequency bins x 216 frames; encoder channels
// 64, 128, 128, 256, each stage halving the frames (216 -> 108 -> 54 -> 27 -> 14);
// the decoder doubles 14 -> 224 and crops to 216.
constexpr int64_t kJazzBatch = 10, kBins = 513, kFrames = 216, kLatent = 2;
}  // namespace model_size

// Token ids (or targets) for the perf variants: a fixed multiplicative sequence in [0, vocab).
inline std::vector<int64_t> perf_ids(int64_t n, int64_t vocab) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = (i * 7919) % vocab;
  return ids;
}

// Constant (non-differentiated) tensors a variant needs, built on the inputs' device.
inline Tensor targets_like(const Tensor& like, const std::vector<int64_t>& values) {
  return from_vector(values, {static_cast<int64_t>(values.size())}, like.device());
}
inline Tensor constant_like(const Tensor& like, const Shape& shape, uint64_t seed, double lo, double hi) {
  Generator saved = default_generator();
  default_generator() = Generator{seed, 0};
  Tensor t = uniform(shape, lo, hi, like.dtype(), like.device());
  default_generator() = saved;
  return t;
}

inline std::vector<OpCase> unary_cases() {
  using namespace model_size;
  // Perf sizes: the spectrogram batch (the loss and the log-magnitude), LSTM 1's
  // gates for its activations, the first encoder block for ReLU-like ones.
  const Shape spectrogram{kJazzBatch, kBins, kFrames}, gates{kChopinBatch, 4 * kHidden1},
      block{kJazzBatch, 64, kFrames / 2};
  struct U {
    const char* name;
    Init init;
    Tensor (*f)(const Tensor&);
    const Shape& perf_shape;
    const char* perf_label;
  };
  const U us[] = {
      {"neg", Init::Normal, [](const Tensor& x) { return neg(x); }, spectrogram, "jazz spectrogram batch"},
      {"exp", Init::Normal, [](const Tensor& x) { return exp(x); }, spectrogram, "jazz spectrogram batch"},
      {"log", Init::Positive, [](const Tensor& x) { return log(x); }, spectrogram, "jazz spectrogram batch"},
      {"sqrt", Init::Positive, [](const Tensor& x) { return sqrt(x); }, spectrogram, "jazz spectrogram batch"},
      {"pow", Init::Positive, [](const Tensor& x) { return pow(x, 2.5); }, spectrogram, "jazz spectrogram batch"},
      {"abs", Init::AwayFromZero, [](const Tensor& x) { return abs(x); }, spectrogram, "jazz spectrogram batch"},
      {"sigmoid", Init::Normal, [](const Tensor& x) { return sigmoid(x); }, gates, "chopin LSTM 1 gates"},
      {"tanh", Init::Normal, [](const Tensor& x) { return tanh(x); }, gates, "chopin LSTM 1 gates"},
      {"relu", Init::AwayFromZero, [](const Tensor& x) { return relu(x); }, block, "jazz encoder block 1"},
      {"leaky_relu", Init::AwayFromZero, [](const Tensor& x) { return leaky_relu(x, 0.4); }, block,
       "jazz encoder block 1"},
      {"affine", Init::Normal, [](const Tensor& x) { return affine(x, -1.5, 0.25); }, spectrogram,
       "jazz spectrogram batch"},
  };
  std::vector<OpCase> out;
  for (const U& u : us) {
    auto f = u.f;
    out.push_back({u.name,
                   {{"plain", {{3, 4}}, u.init, [f](const TensorList& in) { return f(in[0]); }},
                    {"non-contiguous", {{4, 3}}, u.init,
                     [f](const TensorList& in) { return f(in[0].transpose(0, 1)); }}},
                   PerfVariant{
                       {u.perf_label, {u.perf_shape}, u.init, [f](const TensorList& in) { return f(in[0]); }}}});
  }
  return out;
}

inline std::vector<OpCase> binary_cases() {
  struct B {
    const char* name;
    Init init;
    Tensor (*f)(const Tensor&, const Tensor&);
  };
  static const B bs[] = {
      {"add", Init::Normal, [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"sub", Init::Normal, [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"mul", Init::Normal, [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", Init::Positive, [](const Tensor& a, const Tensor& b) { return div(a, b); }},
  };
  using namespace model_size;
  const Shape spectrogram{kJazzBatch, kBins, kFrames};
  std::vector<OpCase> out;
  for (const B& b : bs) {
    auto f = b.f;
    out.push_back({b.name,
                   {{"same shape", {{3, 4}, {3, 4}}, b.init, [f](const TensorList& in) { return f(in[0], in[1]); }},
                    {"broadcast row", {{3, 4}, {4}}, b.init, [f](const TensorList& in) { return f(in[0], in[1]); }},
                    {"broadcast both", {{2, 1, 4}, {3, 1}}, b.init,
                     [f](const TensorList& in) { return f(in[0], in[1]); }},
                    {"non-contiguous", {{4, 3}, {3, 4}}, b.init,
                     [f](const TensorList& in) { return f(in[0].transpose(0, 1), in[1]); }}},
                   PerfVariant{{"jazz reconstruction and input", {spectrogram, spectrogram}, b.init,
                                [f](const TensorList& in) { return f(in[0], in[1]); }}}});
  }
  return out;
}

inline const std::vector<OpCase>& op_table() {
  static const std::vector<OpCase> table = [] {
    using namespace model_size;
    std::vector<OpCase> t = binary_cases();
    for (OpCase& c : unary_cases()) t.push_back(std::move(c));

    t.push_back({"matmul",
                 {{"2d", {{3, 4}, {4, 5}}, Init::Normal, [](const TensorList& in) { return matmul(in[0], in[1]); }},
                  {"batched", {{2, 3, 4}, {2, 4, 5}}, Init::Normal,
                   [](const TensorList& in) { return matmul(in[0], in[1]); }},
                  {"shared weight", {{2, 3, 4}, {4, 5}}, Init::Normal,
                   [](const TensorList& in) { return matmul(in[0], in[1]); }},
                  {"transposed operands", {{4, 3}, {5, 4}}, Init::Normal,
                   [](const TensorList& in) { return matmul(in[0].transpose(0, 1), in[1].transpose(0, 1)); }},
                  {"batched transposed", {{2, 4, 3}, {2, 4, 5}}, Init::Normal,
                   [](const TensorList& in) { return matmul(in[0].transpose(1, 2), in[1]); }},
                  {"strided rows", {{6, 4}, {4, 5}}, Init::Normal,
                   [](const TensorList& in) { return matmul(in[0].slice(0, 0, 6, 2), in[1]); }}},
                 PerfVariant{{"chopin LSTM 1 recurrent GEMM h W_hh^T",
                              {{kChopinBatch, kHidden1}, {4 * kHidden1, kHidden1}},
                              Init::Normal,
                              [](const TensorList& in) { return matmul(in[0], in[1].transpose(0, 1)); }},
                             2.0 * kChopinBatch * kHidden1 * 4 * kHidden1}});

    t.push_back({"linear",
                 {{"2d with bias", {{3, 4}, {5, 4}, {5}}, Init::Normal,
                   [](const TensorList& in) { return linear(in[0], in[1], in[2]); }},
                  {"3d input, no bias", {{2, 3, 4}, {5, 4}}, Init::Normal,
                   [](const TensorList& in) { return linear(in[0], in[1], Tensor()); }},
                  {"transposed input", {{3, 2, 4}, {5, 4}, {5}}, Init::Normal,
                   [](const TensorList& in) { return linear(in[0].transpose(0, 1), in[1], in[2]); }}},
                 PerfVariant{{"chopin Dense 256", {{kChopinBatch, kHidden2}, {kDense, kHidden2}, {kDense}},
                              Init::Normal,
                              [](const TensorList& in) { return linear(in[0], in[1], in[2]); }},
                             2.0 * kChopinBatch * kHidden2 * kDense}});

    t.push_back({"softmax",
                 {{"last dim", {{3, 5}}, Init::Normal, [](const TensorList& in) { return softmax(in[0], -1); }},
                  {"middle dim", {{2, 4, 3}}, Init::Normal, [](const TensorList& in) { return softmax(in[0], 1); }},
                  {"non-contiguous", {{5, 3}}, Init::Normal,
                   [](const TensorList& in) { return softmax(in[0].transpose(0, 1), -1); }}},
                 PerfVariant{{"chopin logits", {{kChopinBatch, kVocab}}, Init::Normal,
                              [](const TensorList& in) { return softmax(in[0], -1); }}}});
    t.push_back({"log_softmax",
                 {{"last dim", {{3, 5}}, Init::Normal, [](const TensorList& in) { return log_softmax(in[0], -1); }},
                  {"first dim", {{4, 3}}, Init::Normal, [](const TensorList& in) { return log_softmax(in[0], 0); }}},
                 PerfVariant{{"chopin logits", {{kChopinBatch, kVocab}}, Init::Normal,
                              [](const TensorList& in) { return log_softmax(in[0], -1); }}}});
    t.push_back({"cross_entropy",
                 {{"plain", {{4, 5}}, Init::Normal,
                   [](const TensorList& in) { return cross_entropy(in[0], targets_like(in[0], {0, 3, 1, 4})); }},
                  {"non-contiguous", {{5, 4}}, Init::Normal, [](const TensorList& in) {
                     return cross_entropy(in[0].transpose(0, 1), targets_like(in[0], {2, 2, 0, 1}));
                   }}},
                 PerfVariant{{"chopin logits and targets", {{kChopinBatch, kVocab}}, Init::Normal,
                              [](const TensorList& in) {
                                return cross_entropy(in[0], targets_like(in[0], perf_ids(kChopinBatch, kVocab)));
                              }}}});
    t.push_back({"binary_cross_entropy_with_logits",
                 {{"plain", {{3, 4}}, Init::Normal, [](const TensorList& in) {
                    return binary_cross_entropy_with_logits(in[0], constant_like(in[0], {3, 4}, 5, 0.0, 1.0));
                  }},
                  {"logits and targets", {{2, 3}, {2, 3}}, Init::Normal, [](const TensorList& in) {
                     return binary_cross_entropy_with_logits(in[0], sigmoid(in[1]));
                   }}},
                 PerfVariant{{"jazz spectrogram batch", {{kJazzBatch, kBins, kFrames}}, Init::Normal,
                              [](const TensorList& in) {
                                return binary_cross_entropy_with_logits(
                                    in[0], constant_like(in[0], {kJazzBatch, kBins, kFrames}, 5, 0.0, 1.0));
                              }}}});
    t.push_back({"mse",
                 {{"plain", {{3, 4}, {3, 4}}, Init::Normal, [](const TensorList& in) { return mse(in[0], in[1]); }},
                  {"broadcast", {{3, 4}, {4}}, Init::Normal, [](const TensorList& in) { return mse(in[0], in[1]); }}},
                 PerfVariant{{"jazz reconstruction and input",
                              {{kJazzBatch, kBins, kFrames}, {kJazzBatch, kBins, kFrames}},
                              Init::Normal,
                              [](const TensorList& in) { return mse(in[0], in[1]); }}}});

    t.push_back({"sum",
                 {{"all", {{3, 4}}, Init::Normal, [](const TensorList& in) { return sum(in[0]); }},
                  {"one dim", {{3, 4}}, Init::Normal, [](const TensorList& in) { return sum(in[0], {1}); }},
                  {"two dims keepdim", {{2, 3, 4}}, Init::Normal,
                   [](const TensorList& in) { return sum(in[0], {0, 2}, true); }},
                  {"non-contiguous", {{4, 3}}, Init::Normal,
                   [](const TensorList& in) { return sum(in[0].transpose(0, 1), {0}); }}},
                 PerfVariant{{"jazz spectrogram batch", {{kJazzBatch, kBins, kFrames}}, Init::Normal,
                              [](const TensorList& in) { return sum(in[0]); }}}});
    t.push_back({"mean",
                 {{"all", {{3, 4}}, Init::Normal, [](const TensorList& in) { return mean(in[0]); }},
                  {"dims", {{2, 3, 4}}, Init::Normal, [](const TensorList& in) { return mean(in[0], {-1}); }},
                  {"non-contiguous keepdim", {{4, 3}}, Init::Normal,
                   [](const TensorList& in) { return mean(in[0].transpose(0, 1), {1}, true); }}},
                 PerfVariant{{"jazz spectrogram batch, over frames", {{kJazzBatch, kBins, kFrames}}, Init::Normal,
                              [](const TensorList& in) { return mean(in[0], {-1}); }}}});

    t.push_back({"concat",
                 {{"dim 1", {{2, 3}, {2, 2}}, Init::Normal,
                   [](const TensorList& in) { return concat({in[0], in[1]}, 1); }},
                  {"dim 0 non-contiguous", {{1, 3}, {3, 2}}, Init::Normal,
                   [](const TensorList& in) { return concat({in[0], in[1].transpose(0, 1)}, 0); }}},
                 PerfVariant{{"two jazz encoder block 2 activations", {{kJazzBatch, 128, 54}, {kJazzBatch, 128, 54}},
                              Init::Normal, [](const TensorList& in) { return concat({in[0], in[1]}, 1); }}}});
    t.push_back({"stack",
                 {{"dim 0", {{2, 3}, {2, 3}, {2, 3}}, Init::Normal,
                   [](const TensorList& in) { return stack({in[0], in[1], in[2]}, 0); }},
                  {"dim -1", {{2, 3}, {2, 3}}, Init::Normal,
                   [](const TensorList& in) { return stack({in[0], in[1]}, -1); }}},
                 PerfVariant{{"chopin LSTM 2 outputs of 40 steps",
                              std::vector<Shape>(kChopinSteps, Shape{kChopinBatch, kHidden2}), Init::Normal,
                              [](const TensorList& in) { return stack(in, 0); }}}});
    t.push_back({"slice",
                 {{"range", {{5, 4}}, Init::Normal, [](const TensorList& in) { return in[0].slice(0, 1, 4); }},
                  {"step", {{5, 4}}, Init::Normal, [](const TensorList& in) { return in[0].slice(1, 0, 4, 2); }},
                  {"negative", {{5, 4}}, Init::Normal, [](const TensorList& in) { return in[0].slice(0, -3, -1); }}},
                 PerfVariant{{"jazz decoder output cropped to 216 frames", {{kJazzBatch, kBins, 224}}, Init::Normal,
                              [](const TensorList& in) { return in[0].slice(2, 0, kFrames); }}}});
    t.push_back({"unbind",
                 {{"dim 1", {{2, 3, 4}}, Init::Normal,
                   [](const TensorList& in) {
                     std::vector<Tensor> parts = unbind(in[0], 1);
                     return add(mul(parts[0], parts[2]), parts[1]);
                   }},
                  {"unused slices", {{4, 2}}, Init::Normal, [](const TensorList& in) { return unbind(in[0], 0)[3]; }}},
                 PerfVariant{{"chopin LSTM 2 outputs, last step", {{kChopinSteps, kChopinBatch, kHidden2}},
                              Init::Normal,
                              [](const TensorList& in) { return unbind(in[0], 0).back(); }}}});
    t.push_back({"index_select",
                 {{"repeated rows", {{6, 3}}, Init::Normal,
                   [](const TensorList& in) { return index_select(in[0], targets_like(in[0], {1, 4, 1, 0})); }},
                  {"2-d index", {{5, 2}}, Init::Normal, [](const TensorList& in) {
                     return index_select(in[0], targets_like(in[0], {0, 2, 2, 4, 1, 3}).view({2, 3}));
                   }}},
                 PerfVariant{{"chopin embedding lookup", {{kVocab, kEmbed}}, Init::Normal,
                              [](const TensorList& in) {
                                Tensor ids = targets_like(in[0], perf_ids(kChopinBatch * kChopinSteps, kVocab));
                                return index_select(in[0], ids.view({kChopinBatch, kChopinSteps}));
                              }}}});
    t.push_back({"views",
                 {{"permute", {{2, 3, 4}}, Init::Normal,
                   [](const TensorList& in) { return mul(in[0].permute({2, 0, 1}), 1.0); }},
                  {"expand", {{3, 1}}, Init::Normal, [](const TensorList& in) { return in[0].expand({2, 3, 4}); }},
                  {"reshape non-contiguous", {{3, 4}}, Init::Normal,
                   [](const TensorList& in) { return in[0].transpose(0, 1).reshape({2, 6}); }},
                  {"unsqueeze squeeze select", {{3, 4}}, Init::Normal,
                   [](const TensorList& in) { return in[0].unsqueeze(1).select(2, 1).squeeze(1); }}},
                 PerfVariant{{"chopin LSTM 1 outputs, time-major to batch-major",
                              {{kChopinSteps, kChopinBatch, kHidden1}},
                              Init::Normal,
                              [](const TensorList& in) {
                                return in[0].transpose(0, 1).reshape({kChopinBatch, kChopinSteps * kHidden1});
                              }}}});
    t.push_back({"dropout",
                 {{"train", {{4, 5}}, Init::Normal,
                   [](const TensorList& in) {
                     manual_seed(99);  // the same mask on every evaluation
                     return dropout(in[0], 0.3, true);
                   }},
                  {"eval", {{4, 5}}, Init::Normal, [](const TensorList& in) { return dropout(in[0], 0.3, false); }}},
                 PerfVariant{{"chopin LSTM 1 outputs", {{kChopinSteps, kChopinBatch, kHidden1}}, Init::Normal,
                              [](const TensorList& in) {
                                manual_seed(99);
                                return dropout(in[0], 0.1, true);
                              }}}});

    t.push_back({"conv1d",
                 {{"padding 1", {{2, 3, 9}, {4, 3, 3}, {4}}, Init::Normal,
                   [](const TensorList& in) { return conv1d(in[0], in[1], in[2], Conv1dOptions::symmetric(1)); }},
                  {"stride 2 same", {{2, 3, 9}, {4, 3, 4}, {4}}, Init::Normal,
                   [](const TensorList& in) { return conv1d(in[0], in[1], in[2], Conv1dOptions::same(9, 4, 2)); }},
                  {"dilation 2 no bias", {{1, 2, 10}, {3, 2, 3}}, Init::Normal,
                   [](const TensorList& in) { return conv1d(in[0], in[1], Tensor(), Conv1dOptions{1, 2, 2, 2}); }},
                  {"non-contiguous input", {{2, 9, 3}, {4, 3, 3}, {4}}, Init::Normal, [](const TensorList& in) {
                     return conv1d(in[0].transpose(1, 2), in[1], in[2], Conv1dOptions::symmetric(0));
                   }}},
                 PerfVariant{{"jazz encoder conv 1 (k3 s2 same)", {{kJazzBatch, kBins, kFrames}, {64, kBins, 3}, {64}},
                              Init::Normal,
                              [](const TensorList& in) {
                                return conv1d(in[0], in[1], in[2], Conv1dOptions::same(kFrames, 3, 2));
                              }},
                             2.0 * kJazzBatch * 64 * (kFrames / 2) * kBins * 3}});
    t.push_back({"conv_transpose1d",
                 {{"stride 2 output_padding 1", {{2, 3, 5}, {3, 4, 3}, {4}}, Init::Normal,
                   [](const TensorList& in) { return conv_transpose1d(in[0], in[1], in[2], 2, 1, 1); }},
                  {"stride 1", {{2, 3, 5}, {3, 2, 3}, {2}}, Init::Normal,
                   [](const TensorList& in) { return conv_transpose1d(in[0], in[1], in[2], 1, 0); }},
                  {"dilation 2 no bias", {{1, 2, 4}, {2, 3, 3}}, Init::Normal,
                   [](const TensorList& in) { return conv_transpose1d(in[0], in[1], Tensor(), 1, 1, 0, 2); }},
                  {"output_padding beyond stride", {{1, 2, 4}, {2, 2, 3}, {2}}, Init::Normal,
                   [](const TensorList& in) { return conv_transpose1d(in[0], in[1], in[2], 1, 0, 1, 2); }},
                  {"non-contiguous input", {{2, 5, 3}, {3, 4, 2}, {4}}, Init::Normal,
                   [](const TensorList& in) { return conv_transpose1d(in[0].transpose(1, 2), in[1], in[2], 2, 0); }}},
                 PerfVariant{{"jazz decoder upsampling 4 (k4 s2 p1)", {{kJazzBatch, 64, 112}, {64, kBins, 4}, {kBins}},
                              Init::Normal,
                              [](const TensorList& in) { return conv_transpose1d(in[0], in[1], in[2], 2, 1); }},
                             2.0 * kJazzBatch * 64 * 112 * kBins * 4}});
    t.push_back({"instance_norm1d",
                 {{"affine", {{2, 3, 6}, {3}, {3}}, Init::Normal,
                   [](const TensorList& in) { return instance_norm1d(in[0], in[1], in[2], 1e-3); }},
                  {"no affine", {{2, 2, 5}}, Init::Normal,
                   [](const TensorList& in) { return instance_norm1d(in[0], Tensor(), Tensor(), 1e-5); }}},
                 PerfVariant{{"jazz encoder block 1", {{kJazzBatch, 64, kFrames / 2}, {64}, {64}}, Init::Normal,
                              [](const TensorList& in) { return instance_norm1d(in[0], in[1], in[2], 1e-3); }}}});
    t.push_back({"batch_norm1d",
                 {{"train", {{4, 3, 5}, {3}, {3}}, Init::Normal,
                   [](const TensorList& in) {
                     return batch_norm1d(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-3);
                   }},
                  {"eval", {{2, 3, 4}, {3}, {3}}, Init::Normal, [](const TensorList& in) {
                     Tensor rm = constant_like(in[0], {3}, 7, -0.5, 0.5), rv = constant_like(in[0], {3}, 8, 0.5, 2.0);
                     return batch_norm1d(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-3);
                   }}},
                 PerfVariant{{"jazz decoder block 4, training", {{kJazzBatch, 64, 112}, {64}, {64}}, Init::Normal,
                              [](const TensorList& in) {
                                return batch_norm1d(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-3);
                              }}}});
    t.push_back({"lstm_cell",
                 {{"with bias", {{3, 4}, {3, 5}, {3, 5}, {20, 4}, {20, 5}, {20}}, Init::Normal,
                   [](const TensorList& in) {
                     auto [h, c] = lstm_cell(in[0], in[1], in[2], in[3], in[4], in[5]);
                     return concat({h, c}, 1);
                   }},
                  {"h only", {{2, 3}, {2, 2}, {2, 2}, {8, 3}, {8, 2}}, Init::Normal, [](const TensorList& in) {
                     return lstm_cell(in[0], in[1], in[2], in[3], in[4], Tensor()).first;
                   }}},
                 PerfVariant{{"chopin LSTM 2, one step",
                              {{kChopinBatch, kHidden1},
                               {kChopinBatch, kHidden2},
                               {kChopinBatch, kHidden2},
                               {4 * kHidden2, kHidden1},
                               {4 * kHidden2, kHidden2},
                               {4 * kHidden2}},
                              Init::FanIn,
                              [](const TensorList& in) {
                                return lstm_cell(in[0], in[1], in[2], in[3], in[4], in[5]).first;
                              }},
                             2.0 * kChopinBatch * 4 * kHidden2 * (kHidden1 + kHidden2)}});
    t.push_back({"lstm_recurrence",
                 {{"h and c", {{3, 2, 8}, {8, 2}, {2, 2}, {2, 2}}, Init::Normal,
                   [](const TensorList& in) {
                     auto [hs, c] = lstm_recurrence(in[0], in[1], in[2], in[3]);
                     return concat({hs.reshape({-1}), c.reshape({-1})}, 0);
                   }},
                  {"last h only", {{4, 3, 4}, {4, 1}, {3, 1}, {3, 1}}, Init::Normal, [](const TensorList& in) {
                     return lstm_recurrence(in[0], in[1], in[2], in[3]).first.select(0, 3);
                   }}},
                 PerfVariant{{"chopin LSTM 1, 40 steps",
                              {{kChopinSteps, kChopinBatch, 4 * kHidden1},
                               {4 * kHidden1, kHidden1},
                               {kChopinBatch, kHidden1},
                               {kChopinBatch, kHidden1}},
                              Init::FanIn,
                              [](const TensorList& in) { return lstm_recurrence(in[0], in[1], in[2], in[3]).first; }},
                             2.0 * kChopinSteps * kChopinBatch * 4 * kHidden1 * kHidden1}});
    t.push_back({"lstm_layer",
                 {{"with bias", {{3, 2, 5}, {16, 5}, {16, 4}, {16}, {2, 4}, {2, 4}}, Init::Normal,
                   [](const TensorList& in) {
                     auto [hs, c] = lstm_layer(in[0], in[1], in[2], in[3], in[4], in[5]);
                     return add(sum(hs), sum(mul(c, c)));
                   }},
                  {"transposed input, no bias", {{2, 3, 5}, {16, 5}, {16, 4}, {2, 4}, {2, 4}}, Init::Normal,
                   [](const TensorList& in) {
                     return lstm_layer(in[0].transpose(0, 1), in[1], in[2], Tensor(), in[3], in[4]).first;
                   }}},
                 PerfVariant{{"chopin LSTM 2, 40 steps",
                              {{kChopinSteps, kChopinBatch, kHidden1},
                               {4 * kHidden2, kHidden1},
                               {4 * kHidden2, kHidden2},
                               {4 * kHidden2},
                               {kChopinBatch, kHidden2},
                               {kChopinBatch, kHidden2}},
                              Init::FanIn,
                              [](const TensorList& in) {
                                return lstm_layer(in[0], in[1], in[2], in[3], in[4], in[5]).first;
                              }},
                             2.0 * kChopinSteps * kChopinBatch * 4 * kHidden2 * (kHidden1 + kHidden2)}});
    t.push_back({"lstm_pointwise",
                 {{"h and c", {{3, 8}, {3, 2}}, Init::Normal, [](const TensorList& in) {
                    auto [h, c] = lstm_pointwise(in[0], in[1]);
                    return add(h, mul(c, 0.7));
                  }}},
                 PerfVariant{{"chopin LSTM 1 gates", {{kChopinBatch, 4 * kHidden1}, {kChopinBatch, kHidden1}},
                              Init::Normal,
                              [](const TensorList& in) { return lstm_pointwise(in[0], in[1]).first; }}}});
    t.push_back({"reparameterize",
                 {{"plain", {{3, 2}, {3, 2}}, Init::Normal, [](const TensorList& in) {
                    return reparameterize(in[0], in[1], constant_like(in[0], {3, 2}, 11, -2.0, 2.0));
                  }}},
                 PerfVariant{{"jazz latent", {{kJazzBatch, kLatent}, {kJazzBatch, kLatent}}, Init::Normal,
                              [](const TensorList& in) {
                                Tensor eps = constant_like(in[0], {kJazzBatch, kLatent}, 11, -2.0, 2.0);
                                return reparameterize(in[0], in[1], eps);
                              }}}});
    t.push_back({"kl_normal",
                 {{"plain", {{4, 2}, {4, 2}}, Init::Normal, [](const TensorList& in) { return kl_normal(in[0], in[1]); }},
                  {"non-contiguous", {{3, 4}, {4, 3}}, Init::Normal, [](const TensorList& in) {
                     return kl_normal(in[0].transpose(0, 1), in[1]);
                   }}},
                 PerfVariant{{"jazz latent", {{kJazzBatch, kLatent}, {kJazzBatch, kLatent}}, Init::Normal,
                              [](const TensorList& in) { return kl_normal(in[0], in[1]); }}}});
    return t;
  }();
  return table;
}

// Fresh leaf inputs for a variant, drawn from a seeded stream.
inline TensorList make_inputs(const OpVariant& v, uint64_t seed, DType dtype, Device device) {
  Generator saved = default_generator();
  default_generator() = Generator{seed, 0};
  TensorList in;
  for (const Shape& s : v.shapes) {
    Tensor x;
    switch (v.init) {
      case Init::Normal: x = randn(s, DType::F64); break;
      case Init::Positive: x = uniform(s, 0.5, 2.0, DType::F64); break;
      case Init::FanIn:
        x = randn(s, DType::F64);
        if (s.size() == 2) x = mul(x, 1.0 / std::sqrt(static_cast<double>(s[1])));
        break;
      case Init::AwayFromZero: {
        // sign * (0.2 + |u|) keeps every value at least 0.2 from the kink at 0.
        Tensor u = uniform(s, -1.0, 1.0, DType::F64);
        std::vector<double> v2 = u.to_vector<double>();
        for (double& e : v2) e = (e < 0 ? -1.0 : 1.0) * (0.2 + std::abs(e));
        x = from_vector(v2, s);
        break;
      }
    }
    x = x.to(dtype).to(device);
    x.requires_grad_(true);
    in.push_back(x);
  }
  default_generator() = saved;
  return in;
}

}  // namespace mg::test
