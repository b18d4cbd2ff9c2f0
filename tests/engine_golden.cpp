// The layers the two models run, against outside references.
//  - Golden values: outputs and gradients from PyTorch (tests/golden/*.json,
//    written by bench/compare/make_golden.py from fixed inputs stored in the
//    same files) for lstm_layer, lstm_recurrence, conv1d, conv_transpose1d,
//    instance_norm1d and batch_norm1d, in float32 (the fast CPU kernels) and
//    float64 (the reference loops).
//  - The LSTM recurrence against T textbook steps unrolled in a plain double
//    loop here, at batch sizes that take the per-step path (1, 3) and the
//    fused layer kernel (13), with hidden sizes that are not a whole number
//    of vectors.
// Shapes: T = time, B = batch, I = input size, H = hidden size;
// x [T, B, I] for the LSTM, [B, C, L] for the convolutions and norms.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"

using mg::DType;
using mg::Shape;
using mg::Tensor;
using Json = nlohmann::json;
using Vec = std::vector<double>;

namespace {

// ---- golden values ------------------------------------------------------------

Json load_golden(const std::string& op) {
  const std::string path = std::string(MUSICGEN_SOURCE_DIR) + "/tests/golden/" + op + ".json";
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  Json j = Json::parse(f);
  REQUIRE(j.at("op") == op);
  REQUIRE(!j.at("cases").empty());
  return j;
}

Shape shape_of(const Json& t) { return t.at("shape").get<Shape>(); }

Tensor tensor_of(const Json& t, DType dt) { return mg::from_vector(t.at("data").get<Vec>(), shape_of(t)).to(dt); }

// The largest errors seen for one op and dtype, over every value compared;
// the relative error over values of magnitude 1e-3 and above, where it means something.
struct Errors {
  double abs = 0.0, rel = 0.0;
  void add(double got, double want) {
    const double d = std::abs(got - want);
    abs = std::max(abs, d);
    if (std::abs(want) >= 1e-3) rel = std::max(rel, d / std::abs(want));
  }
};

// |got - want| <= tol (1 + |want|) elementwise: relative for large values,
// absolute near 0. NaN never passes.
void check_tensor(const Tensor& got, const Json& want, double tol, const std::string& what, Errors& errors) {
  INFO(what);
  REQUIRE(got.defined());
  REQUIRE(got.shape() == shape_of(want));
  const Vec g = got.to(DType::F64).to_vector<double>();
  const Vec w = want.at("data").get<Vec>();
  size_t bad = 0, first_bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    errors.add(g[i], w[i]);
    if (!(std::abs(g[i] - w[i]) <= tol * (1.0 + std::abs(w[i])))) {
      if (bad++ == 0) first_bad = i;
    }
  }
  INFO("first mismatch at element ", first_bad, ": got ", g[first_bad], ", want ", w[first_bad]);
  CHECK(bad == 0);
}

// Float32 carries about 7 digits: these layers' outputs and gradients are sums
// of tens of O(1) products, off by a few 1e-7. Float64 runs the same math with
// the rounding 1e9 times smaller, so any slip in indexing or formula stands out.
double tolerance(DType dt) { return dt == DType::F32 ? 1e-5 : 1e-10; }

// The op under test on a case's inputs (leaves of the dtype under test),
// returning its outputs by the golden file's names.
using GoldenRun = std::function<std::map<std::string, Tensor>(const Json& c, std::map<std::string, Tensor>& in)>;

// Every case of tests/golden/<file>.json: forward outputs, then the gradient
// of sum(output * loss weight) with respect to every input.
void check_golden(const std::string& file, const std::string& label, const GoldenRun& run) {
  const Json golden = load_golden(file);
  for (DType dt : {DType::F32, DType::F64}) {
    Errors errors;
    for (const Json& c : golden.at("cases")) {
      INFO(label, " [", c.at("name").get<std::string>(), "] ", mg::dtype_name(dt));
      std::map<std::string, Tensor> in;
      for (const auto& [name, t] : c.at("inputs").items()) in[name] = tensor_of(t, dt).requires_grad_(true);
      std::map<std::string, Tensor> out = run(c, in);
      REQUIRE(out.size() == c.at("outputs").size());
      Tensor loss;
      for (const auto& [name, want] : c.at("outputs").items()) {
        REQUIRE(out.count(name) == 1);
        check_tensor(out[name], want, tolerance(dt), "output " + name, errors);
        Tensor term = mg::sum(mg::mul(out[name], tensor_of(c.at("loss_weights").at(name), dt)));
        loss = loss.defined() ? mg::add(loss, term) : term;
      }
      loss.backward();
      for (const auto& [name, want] : c.at("grads").items())
        check_tensor(in.at(name).grad(), want, tolerance(dt), "gradient of " + name, errors);
    }
    MESSAGE(label, " ", mg::dtype_name(dt), ": max abs error ", errors.abs, ", max rel error ", errors.rel);
  }
}

}  // namespace

TEST_CASE("lstm_layer matches PyTorch's nn.LSTM: outputs and gradients") {
  check_golden("lstm", "lstm_layer", [](const Json&, std::map<std::string, Tensor>& in) {
    auto [hs, c] = mg::lstm_layer(in["x"], in["w_ih"], in["w_hh"], in["b"], in["h0"], in["c0"]);
    return std::map<std::string, Tensor>{{"hs", hs}, {"c", c}};
  });
}

TEST_CASE("lstm_recurrence matches PyTorch's nn.LSTM: outputs and gradients") {
  // The input projection by linear, then the recurrence on its own.
  check_golden("lstm", "lstm_recurrence", [](const Json&, std::map<std::string, Tensor>& in) {
    auto [hs, c] = mg::lstm_recurrence(mg::linear(in["x"], in["w_ih"], in["b"]), in["w_hh"], in["h0"], in["c0"]);
    return std::map<std::string, Tensor>{{"hs", hs}, {"c", c}};
  });
}

TEST_CASE("conv1d matches PyTorch: outputs and gradients") {
  check_golden("conv1d", "conv1d", [](const Json& c, std::map<std::string, Tensor>& in) {
    const Json& p = c.at("params");
    const mg::Conv1dOptions opt{p.at("stride").get<int64_t>(), p.at("pad_left").get<int64_t>(),
                                p.at("pad_right").get<int64_t>(), p.at("dilation").get<int64_t>()};
    Tensor bias = p.at("bias").get<bool>() ? in.at("bias") : Tensor();
    return std::map<std::string, Tensor>{{"y", mg::conv1d(in["x"], in["weight"], bias, opt)}};
  });
}

TEST_CASE("conv_transpose1d matches PyTorch: outputs and gradients") {
  check_golden("conv_transpose1d", "conv_transpose1d", [](const Json& c, std::map<std::string, Tensor>& in) {
    const Json& p = c.at("params");
    Tensor bias = p.at("bias").get<bool>() ? in.at("bias") : Tensor();
    return std::map<std::string, Tensor>{
        {"y", mg::conv_transpose1d(in["x"], in["weight"], bias, p.at("stride").get<int64_t>(),
                                   p.at("padding").get<int64_t>(), p.at("output_padding").get<int64_t>(),
                                   p.at("dilation").get<int64_t>())}};
  });
}

TEST_CASE("instance_norm1d matches PyTorch: outputs and gradients") {
  check_golden("instance_norm1d", "instance_norm1d", [](const Json& c, std::map<std::string, Tensor>& in) {
    const Json& p = c.at("params");
    const bool affine = p.at("affine").get<bool>();
    return std::map<std::string, Tensor>{{"y", mg::instance_norm1d(in["x"], affine ? in.at("weight") : Tensor(),
                                                                   affine ? in.at("bias") : Tensor(),
                                                                   p.at("eps").get<double>())}};
  });
}

TEST_CASE("batch_norm1d in training matches PyTorch: outputs, gradients and running statistics") {
  check_golden("batch_norm1d", "batch_norm1d", [](const Json& c, std::map<std::string, Tensor>& in) {
    const Json& p = c.at("params");
    const Json& running = c.at("running");
    const DType dt = in["x"].dtype();
    Tensor mean = tensor_of(running.at("mean_before"), dt), var = tensor_of(running.at("var_before"), dt);
    Tensor y = mg::batch_norm1d(in["x"], in["weight"], in["bias"], mean, var, true, p.at("momentum").get<double>(),
                                p.at("eps").get<double>());
    Errors unused;
    check_tensor(mean, running.at("mean_after"), tolerance(dt), "running mean", unused);
    check_tensor(var, running.at("var_after"), tolerance(dt), "running var", unused);
    return std::map<std::string, Tensor>{{"y", y}};
  });
}

// ---- the LSTM against unrolled textbook steps ------------------------------------

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

Vec random_values(size_t n, uint32_t seed, double lo, double hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Vec v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

struct LstmRef {
  Vec xproj;  // [T, B, 4H]: x_t W_ihᵀ + b, what lstm_recurrence takes
  Vec hs;     // [T, B, H]
  Vec c;      // [B, H], the last step's
};

// for t: gates = x_t W_ihᵀ + h W_hhᵀ + b (rows i, f, g, o of 4H)
//        c = σ(f) c + σ(i) tanh(g);  h = σ(o) tanh(c)
LstmRef lstm_textbook(const Vec& x, const Vec& w_ih, const Vec& w_hh, const Vec& b, const Vec& h0, const Vec& c0,
                      int64_t T, int64_t B, int64_t I, int64_t H) {
  LstmRef r{Vec(T * B * 4 * H), Vec(T * B * H), c0};
  Vec h = h0;
  for (int64_t t = 0; t < T; ++t) {
    Vec h_next(B * H);
    for (int64_t n = 0; n < B; ++n) {
      Vec gates(4 * H);
      for (int64_t row = 0; row < 4 * H; ++row) {
        double proj = b[row];
        for (int64_t k = 0; k < I; ++k) proj += x[(t * B + n) * I + k] * w_ih[row * I + k];
        r.xproj[(t * B + n) * 4 * H + row] = proj;
        double rec = 0.0;
        for (int64_t k = 0; k < H; ++k) rec += h[n * H + k] * w_hh[row * H + k];
        gates[row] = proj + rec;
      }
      for (int64_t j = 0; j < H; ++j) {
        const double in_gate = sigmoid(gates[j]), forget = sigmoid(gates[H + j]);
        const double cell = std::tanh(gates[2 * H + j]), out_gate = sigmoid(gates[3 * H + j]);
        double& c = r.c[n * H + j];
        c = forget * c + in_gate * cell;
        h_next[n * H + j] = out_gate * std::tanh(c);
      }
    }
    h = h_next;
    std::copy(h.begin(), h.end(), r.hs.begin() + t * B * H);
  }
  return r;
}

void check_close(const Tensor& got, const Vec& want, double tol, const char* what) {
  INFO(what);
  const Vec g = got.to(DType::F64).to_vector<double>();
  REQUIRE(g.size() == want.size());
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double d = std::abs(g[i] - want[i]) / (1.0 + std::abs(want[i]));
    if (!(d <= worst)) worst = d, at = i;  // NaN is kept as the worst
  }
  INFO("worst element ", at, ": got ", g[at], ", want ", want[at]);
  CHECK(worst <= tol);
}

}  // namespace

TEST_CASE("lstm_layer and lstm_recurrence equal T unrolled textbook steps") {
  const int64_t T = 6, I = 7;
  for (int64_t B : {1, 3, 13}) {
    for (int64_t H : {5, 11, 19}) {
      CAPTURE(B);
      CAPTURE(H);
      const uint32_t seed = static_cast<uint32_t>(100 * B + H);
      // Weights of a size that keeps every gate away from saturation, so a
      // gate read in the wrong place changes the result.
      const Vec x = random_values(T * B * I, seed, -1.0, 1.0);
      const Vec w_ih = random_values(4 * H * I, seed + 1, -0.5, 0.5);
      const Vec w_hh = random_values(4 * H * H, seed + 2, -0.5, 0.5);
      const Vec b = random_values(4 * H, seed + 3, -0.5, 0.5);
      const Vec h0 = random_values(B * H, seed + 4, -1.0, 1.0);
      const Vec c0 = random_values(B * H, seed + 5, -2.0, 2.0);
      const LstmRef want = lstm_textbook(x, w_ih, w_hh, b, h0, c0, T, B, I, H);
      for (DType dt : {DType::F32, DType::F64}) {
        INFO(mg::dtype_name(dt));
        auto t = [dt](const Vec& v, const Shape& s) { return mg::from_vector(v, s).to(dt); };
        const double tol = dt == DType::F32 ? 1e-5 : 1e-12;
        auto [hs, c] = mg::lstm_layer(t(x, {T, B, I}), t(w_ih, {4 * H, I}), t(w_hh, {4 * H, H}), t(b, {4 * H}),
                                      t(h0, {B, H}), t(c0, {B, H}));
        REQUIRE(hs.shape() == Shape{T, B, H});
        REQUIRE(c.shape() == Shape{B, H});
        check_close(hs, want.hs, tol, "lstm_layer hs");
        check_close(c, want.c, tol, "lstm_layer c");
        auto [rhs, rc] = mg::lstm_recurrence(t(want.xproj, {T, B, 4 * H}), t(w_hh, {4 * H, H}), t(h0, {B, H}),
                                             t(c0, {B, H}));
        check_close(rhs, want.hs, tol, "lstm_recurrence hs");
        check_close(rc, want.c, tol, "lstm_recurrence c");
      }
    }
  }
}
