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
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tensor/rng.h"

namespace mg::test {

// How input values are drawn: Normal N(0, 1); Positive in [0.5, 2) for
// log/sqrt/pow/div; AwayFromZero |x| in [0.2, 1.2) so that ReLU-like kinks
// are never within a finite-difference step.
enum class Init { Normal, Positive, AwayFromZero };

struct OpVariant {
  std::string label;
  std::vector<Shape> shapes;
  Init init = Init::Normal;
  std::function<Tensor(const TensorList&)> fn;
};

struct OpCase {
  std::string op;
  std::vector<OpVariant> variants;
};

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
  struct U {
    const char* name;
    Init init;
    Tensor (*f)(const Tensor&);
  };
  static const U us[] = {
      {"neg", Init::Normal, [](const Tensor& x) { return neg(x); }},
      {"exp", Init::Normal, [](const Tensor& x) { return exp(x); }},
      {"log", Init::Positive, [](const Tensor& x) { return log(x); }},
      {"sqrt", Init::Positive, [](const Tensor& x) { return sqrt(x); }},
      {"pow", Init::Positive, [](const Tensor& x) { return pow(x, 2.5); }},
      {"abs", Init::AwayFromZero, [](const Tensor& x) { return abs(x); }},
      {"sigmoid", Init::Normal, [](const Tensor& x) { return sigmoid(x); }},
      {"tanh", Init::Normal, [](const Tensor& x) { return tanh(x); }},
      {"relu", Init::AwayFromZero, [](const Tensor& x) { return relu(x); }},
      {"leaky_relu", Init::AwayFromZero, [](const Tensor& x) { return leaky_relu(x, 0.4); }},
      {"affine", Init::Normal, [](const Tensor& x) { return affine(x, -1.5, 0.25); }},
  };
  std::vector<OpCase> out;
  for (const U& u : us) {
    auto f = u.f;
    out.push_back({u.name,
                   {{"plain", {{3, 4}}, u.init, [f](const TensorList& in) { return f(in[0]); }},
                    {"non-contiguous", {{4, 3}}, u.init,
                     [f](const TensorList& in) { return f(in[0].transpose(0, 1)); }}}});
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
  std::vector<OpCase> out;
  for (const B& b : bs) {
    auto f = b.f;
    out.push_back({b.name,
                   {{"same shape", {{3, 4}, {3, 4}}, b.init, [f](const TensorList& in) { return f(in[0], in[1]); }},
                    {"broadcast row", {{3, 4}, {4}}, b.init, [f](const TensorList& in) { return f(in[0], in[1]); }},
                    {"broadcast both", {{2, 1, 4}, {3, 1}}, b.init,
                     [f](const TensorList& in) { return f(in[0], in[1]); }},
                    {"non-contiguous", {{4, 3}, {3, 4}}, b.init,
                     [f](const TensorList& in) { return f(in[0].transpose(0, 1), in[1]); }}}});
  }
  return out;
}

inline const std::vector<OpCase>& op_table() {
  static const std::vector<OpCase> table = [] {
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
                   [](const TensorList& in) { return matmul(in[0].slice(0, 0, 6, 2), in[1]); }}}});

    t.push_back({"linear",
                 {{"2d with bias", {{3, 4}, {5, 4}, {5}}, Init::Normal,
                   [](const TensorList& in) { return linear(in[0], in[1], in[2]); }},
                  {"3d input, no bias", {{2, 3, 4}, {5, 4}}, Init::Normal,
                   [](const TensorList& in) { return linear(in[0], in[1], Tensor()); }},
                  {"transposed input", {{3, 2, 4}, {5, 4}, {5}}, Init::Normal,
                   [](const TensorList& in) { return linear(in[0].transpose(0, 1), in[1], in[2]); }}}});

    t.push_back({"softmax",
                 {{"last dim", {{3, 5}}, Init::Normal, [](const TensorList& in) { return softmax(in[0], -1); }},
                  {"middle dim", {{2, 4, 3}}, Init::Normal, [](const TensorList& in) { return softmax(in[0], 1); }},
                  {"non-contiguous", {{5, 3}}, Init::Normal,
                   [](const TensorList& in) { return softmax(in[0].transpose(0, 1), -1); }}}});
    t.push_back({"log_softmax",
                 {{"last dim", {{3, 5}}, Init::Normal, [](const TensorList& in) { return log_softmax(in[0], -1); }},
                  {"first dim", {{4, 3}}, Init::Normal, [](const TensorList& in) { return log_softmax(in[0], 0); }}}});
    t.push_back({"cross_entropy",
                 {{"plain", {{4, 5}}, Init::Normal,
                   [](const TensorList& in) { return cross_entropy(in[0], targets_like(in[0], {0, 3, 1, 4})); }},
                  {"non-contiguous", {{5, 4}}, Init::Normal, [](const TensorList& in) {
                     return cross_entropy(in[0].transpose(0, 1), targets_like(in[0], {2, 2, 0, 1}));
                   }}}});
    t.push_back({"binary_cross_entropy_with_logits",
                 {{"plain", {{3, 4}}, Init::Normal, [](const TensorList& in) {
                    return binary_cross_entropy_with_logits(in[0], constant_like(in[0], {3, 4}, 5, 0.0, 1.0));
                  }},
                  {"logits and targets", {{2, 3}, {2, 3}}, Init::Normal, [](const TensorList& in) {
                     return binary_cross_entropy_with_logits(in[0], sigmoid(in[1]));
                   }}}});
    t.push_back({"mse",
                 {{"plain", {{3, 4}, {3, 4}}, Init::Normal, [](const TensorList& in) { return mse(in[0], in[1]); }},
                  {"broadcast", {{3, 4}, {4}}, Init::Normal, [](const TensorList& in) { return mse(in[0], in[1]); }}}});

    t.push_back({"sum",
                 {{"all", {{3, 4}}, Init::Normal, [](const TensorList& in) { return sum(in[0]); }},
                  {"one dim", {{3, 4}}, Init::Normal, [](const TensorList& in) { return sum(in[0], {1}); }},
                  {"two dims keepdim", {{2, 3, 4}}, Init::Normal,
                   [](const TensorList& in) { return sum(in[0], {0, 2}, true); }},
                  {"non-contiguous", {{4, 3}}, Init::Normal,
                   [](const TensorList& in) { return sum(in[0].transpose(0, 1), {0}); }}}});
    t.push_back({"mean",
                 {{"all", {{3, 4}}, Init::Normal, [](const TensorList& in) { return mean(in[0]); }},
                  {"dims", {{2, 3, 4}}, Init::Normal, [](const TensorList& in) { return mean(in[0], {-1}); }},
                  {"non-contiguous keepdim", {{4, 3}}, Init::Normal,
                   [](const TensorList& in) { return mean(in[0].transpose(0, 1), {1}, true); }}}});

    t.push_back({"concat",
                 {{"dim 1", {{2, 3}, {2, 2}}, Init::Normal,
                   [](const TensorList& in) { return concat({in[0], in[1]}, 1); }},
                  {"dim 0 non-contiguous", {{1, 3}, {3, 2}}, Init::Normal,
                   [](const TensorList& in) { return concat({in[0], in[1].transpose(0, 1)}, 0); }}}});
    t.push_back({"stack",
                 {{"dim 0", {{2, 3}, {2, 3}, {2, 3}}, Init::Normal,
                   [](const TensorList& in) { return stack({in[0], in[1], in[2]}, 0); }},
                  {"dim -1", {{2, 3}, {2, 3}}, Init::Normal,
                   [](const TensorList& in) { return stack({in[0], in[1]}, -1); }}}});
    t.push_back({"slice",
                 {{"range", {{5, 4}}, Init::Normal, [](const TensorList& in) { return in[0].slice(0, 1, 4); }},
                  {"step", {{5, 4}}, Init::Normal, [](const TensorList& in) { return in[0].slice(1, 0, 4, 2); }},
                  {"negative", {{5, 4}}, Init::Normal, [](const TensorList& in) { return in[0].slice(0, -3, -1); }}}});
    t.push_back({"unbind",
                 {{"dim 1", {{2, 3, 4}}, Init::Normal,
                   [](const TensorList& in) {
                     std::vector<Tensor> parts = unbind(in[0], 1);
                     return add(mul(parts[0], parts[2]), parts[1]);
                   }},
                  {"unused slices", {{4, 2}}, Init::Normal, [](const TensorList& in) { return unbind(in[0], 0)[3]; }}}});
    t.push_back({"index_select",
                 {{"repeated rows", {{6, 3}}, Init::Normal,
                   [](const TensorList& in) { return index_select(in[0], targets_like(in[0], {1, 4, 1, 0})); }},
                  {"2-d index", {{5, 2}}, Init::Normal, [](const TensorList& in) {
                     return index_select(in[0], targets_like(in[0], {0, 2, 2, 4, 1, 3}).view({2, 3}));
                   }}}});
    t.push_back({"views",
                 {{"permute", {{2, 3, 4}}, Init::Normal,
                   [](const TensorList& in) { return mul(in[0].permute({2, 0, 1}), 1.0); }},
                  {"expand", {{3, 1}}, Init::Normal, [](const TensorList& in) { return in[0].expand({2, 3, 4}); }},
                  {"reshape non-contiguous", {{3, 4}}, Init::Normal,
                   [](const TensorList& in) { return in[0].transpose(0, 1).reshape({2, 6}); }},
                  {"unsqueeze squeeze select", {{3, 4}}, Init::Normal,
                   [](const TensorList& in) { return in[0].unsqueeze(1).select(2, 1).squeeze(1); }}}});
    t.push_back({"dropout",
                 {{"train", {{4, 5}}, Init::Normal,
                   [](const TensorList& in) {
                     manual_seed(99);  // the same mask on every evaluation
                     return dropout(in[0], 0.3, true);
                   }},
                  {"eval", {{4, 5}}, Init::Normal, [](const TensorList& in) { return dropout(in[0], 0.3, false); }}}});

    t.push_back({"conv1d",
                 {{"padding 1", {{2, 3, 9}, {4, 3, 3}, {4}}, Init::Normal,
                   [](const TensorList& in) { return conv1d(in[0], in[1], in[2], Conv1dOptions::symmetric(1)); }},
                  {"stride 2 same", {{2, 3, 9}, {4, 3, 4}, {4}}, Init::Normal,
                   [](const TensorList& in) { return conv1d(in[0], in[1], in[2], Conv1dOptions::same(9, 4, 2)); }},
                  {"dilation 2 no bias", {{1, 2, 10}, {3, 2, 3}}, Init::Normal,
                   [](const TensorList& in) { return conv1d(in[0], in[1], Tensor(), Conv1dOptions{1, 2, 2, 2}); }},
                  {"non-contiguous input", {{2, 9, 3}, {4, 3, 3}, {4}}, Init::Normal, [](const TensorList& in) {
                     return conv1d(in[0].transpose(1, 2), in[1], in[2], Conv1dOptions::symmetric(0));
                   }}}});
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
                   [](const TensorList& in) { return conv_transpose1d(in[0].transpose(1, 2), in[1], in[2], 2, 0); }}}});
    t.push_back({"instance_norm1d",
                 {{"affine", {{2, 3, 6}, {3}, {3}}, Init::Normal,
                   [](const TensorList& in) { return instance_norm1d(in[0], in[1], in[2], 1e-3); }},
                  {"no affine", {{2, 2, 5}}, Init::Normal,
                   [](const TensorList& in) { return instance_norm1d(in[0], Tensor(), Tensor(), 1e-5); }}}});
    t.push_back({"batch_norm1d",
                 {{"train", {{4, 3, 5}, {3}, {3}}, Init::Normal,
                   [](const TensorList& in) {
                     return batch_norm1d(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-3);
                   }},
                  {"eval", {{2, 3, 4}, {3}, {3}}, Init::Normal, [](const TensorList& in) {
                     Tensor rm = constant_like(in[0], {3}, 7, -0.5, 0.5), rv = constant_like(in[0], {3}, 8, 0.5, 2.0);
                     return batch_norm1d(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-3);
                   }}}});
    t.push_back({"lstm_cell",
                 {{"with bias", {{3, 4}, {3, 5}, {3, 5}, {20, 4}, {20, 5}, {20}}, Init::Normal,
                   [](const TensorList& in) {
                     auto [h, c] = lstm_cell(in[0], in[1], in[2], in[3], in[4], in[5]);
                     return concat({h, c}, 1);
                   }},
                  {"h only", {{2, 3}, {2, 2}, {2, 2}, {8, 3}, {8, 2}}, Init::Normal, [](const TensorList& in) {
                     return lstm_cell(in[0], in[1], in[2], in[3], in[4], Tensor()).first;
                   }}}});
    t.push_back({"lstm_recurrence",
                 {{"h and c", {{3, 2, 8}, {8, 2}, {2, 2}, {2, 2}}, Init::Normal,
                   [](const TensorList& in) {
                     auto [hs, c] = lstm_recurrence(in[0], in[1], in[2], in[3]);
                     return concat({hs.reshape({-1}), c.reshape({-1})}, 0);
                   }},
                  {"last h only", {{4, 3, 4}, {4, 1}, {3, 1}, {3, 1}}, Init::Normal, [](const TensorList& in) {
                     return lstm_recurrence(in[0], in[1], in[2], in[3]).first.select(0, 3);
                   }}}});
    t.push_back({"lstm_layer",
                 {{"with bias", {{3, 2, 5}, {16, 5}, {16, 4}, {16}, {2, 4}, {2, 4}}, Init::Normal,
                   [](const TensorList& in) {
                     auto [hs, c] = lstm_layer(in[0], in[1], in[2], in[3], in[4], in[5]);
                     return add(sum(hs), sum(mul(c, c)));
                   }},
                  {"transposed input, no bias", {{2, 3, 5}, {16, 5}, {16, 4}, {2, 4}, {2, 4}}, Init::Normal,
                   [](const TensorList& in) {
                     return lstm_layer(in[0].transpose(0, 1), in[1], in[2], Tensor(), in[3], in[4]).first;
                   }}}});
    t.push_back({"lstm_pointwise",
                 {{"h and c", {{3, 8}, {3, 2}}, Init::Normal, [](const TensorList& in) {
                    auto [h, c] = lstm_pointwise(in[0], in[1]);
                    return add(h, mul(c, 0.7));
                  }}}});
    t.push_back({"reparameterize",
                 {{"plain", {{3, 2}, {3, 2}}, Init::Normal, [](const TensorList& in) {
                    return reparameterize(in[0], in[1], constant_like(in[0], {3, 2}, 11, -2.0, 2.0));
                  }}}});
    t.push_back({"kl_normal",
                 {{"plain", {{4, 2}, {4, 2}}, Init::Normal, [](const TensorList& in) { return kl_normal(in[0], in[1]); }},
                  {"non-contiguous", {{3, 4}, {4, 3}}, Init::Normal, [](const TensorList& in) {
                     return kl_normal(in[0].transpose(0, 1), in[1]);
                   }}}});
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
