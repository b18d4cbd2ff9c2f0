// Each optimizer's steps, weight decay on, against its published update rule
// written here in long double from the values the tensors hold: PyTorch's SGD
// and Adam (L2 decay: wd p added to the gradient) and Keras' Adamax (decoupled
// decay: p -= lr wd p, the moments see the raw gradient). The kernels share
// kernels/pointwise.h between CPU and CUDA, so only a rule written apart can
// catch a wrong formula. float32 and float64 parameters; the gradient comes
// as a transposed view on odd steps (the optimizer makes it contiguous).
//
// Tolerance after step t: t kUlps eps(T) (|p| + the sum of |every update so
// far|): each step rounds the stored moments and the parameter a few times,
// and the gradients keep one sign per element (larger than |wd p|), so no
// moment cancels and the rounding stays relative to these magnitudes.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "models/optim.h"

using namespace mg;
using Real = long double;

namespace {

constexpr double kUlps = 4;
constexpr int kSteps = 5;
constexpr int64_t kRows = 2, kCols = 4;
constexpr size_t kN = size_t(kRows * kCols);
constexpr double kWeightDecay = 0.05;

// Element 1 never gets a gradient (only decay moves it); element 2 starts at 0.
const std::vector<double> kStart = {0.5, -2.0, 0.0, 3.0, -0.75, 1e-3, -1.5, 2.5};

// Step t's gradient (1-based): magnitude in [0.2, 1), sign fixed per element.
std::vector<double> gradient(int t) {
  std::mt19937_64 gen(uint64_t(100 + t));
  std::vector<double> g(kN);
  for (size_t e = 0; e < kN; ++e) {
    const double magnitude = 0.2 + 0.8 * (double(gen() >> 11) * 0x1.0p-53);
    g[e] = e == 1 ? 0.0 : (e % 2 == 0 ? magnitude : -magnitude);
  }
  return g;
}

// 1 - beta^t in double, as PyTorch computes it: near t = 1 it cancels
// (1 - 0.999^2 keeps 13 of double's 16 digits), an error of the formula in
// double that the rule should share rather than hold against the kernel.
double bias_correction(double beta, int t) { return 1.0 - std::pow(beta, double(t)); }

// One element's update for step t: changes p (and the rule's own state for e).
using Rule = std::function<void(int t, size_t e, Real& p, Real g)>;
using MakeOptimizer = std::function<std::unique_ptr<nn::Optimizer>(nn::NamedTensors)>;

void check_against_rule(DType dt, const MakeOptimizer& make, const Rule& rule) {
  INFO(dtype_name(dt));
  Tensor p = from_vector(kStart, {kRows, kCols}).to(dt);
  p.requires_grad_(true);
  std::unique_ptr<nn::Optimizer> opt = make({{"p", p}});
  const std::vector<double> stored = p.to_vector<double>();
  std::vector<Real> want(stored.begin(), stored.end()), moved(kN, 0);
  const double eps = dt == DType::F32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
  for (int t = 1; t <= kSteps; ++t) {
    const std::vector<double> g64 = gradient(t);
    Tensor g = from_vector(g64, {kRows, kCols}).to(dt);
    if (t % 2 == 1) g = g.transpose(0, 1).contiguous().transpose(0, 1);  // same values, transposed strides
    p.set_grad(g);
    opt->step();
    const std::vector<double> g_stored = g.to_vector<double>(), got = p.to_vector<double>();
    for (size_t e = 0; e < kN; ++e) {
      const Real before = want[e];
      rule(t, e, want[e], g_stored[e]);
      moved[e] += std::abs(want[e] - before);
      const Real tol = t * kUlps * eps * (std::abs(want[e]) + moved[e]);
      if (!(std::abs(Real(got[e]) - want[e]) <= tol)) {
        FAIL_CHECK("step " << t << ", element " << e << ": got " << std::setprecision(17) << got[e] << ", want "
                           << double(want[e]));
        return;
      }
    }
  }
  // The rule did move every element, decay-only and zero-start included.
  for (size_t e = 0; e < kN; ++e) CHECK(moved[e] > 0);
}

}  // namespace

TEST_CASE("sgd with weight decay equals PyTorch's rule, without momentum, with momentum and with nesterov") {
  // d = g + wd p; buf = momentum buf + d (buf starts at 0, so buf_1 = d);
  // step = d + momentum buf (nesterov), buf (momentum) or d (none); p -= lr step.
  const double lr = 0.1;
  for (double momentum : {0.0, 0.9})
    for (bool nesterov : {false, true}) {
      if (nesterov && momentum == 0.0) continue;
      CAPTURE(momentum);
      CAPTURE(nesterov);
      for (DType dt : {DType::F32, DType::F64}) {
        std::vector<Real> buf(kN, 0);
        check_against_rule(
            dt,
            [&](nn::NamedTensors params) {
              return std::make_unique<nn::SGD>(std::move(params), lr, momentum, kWeightDecay, nesterov);
            },
            [&](int, size_t e, Real& p, Real g) {
              Real d = g + kWeightDecay * p;
              if (momentum != 0.0) {
                buf[e] = momentum * buf[e] + d;
                d = nesterov ? d + momentum * buf[e] : buf[e];
              }
              p -= lr * d;
            });
      }
    }
}

TEST_CASE("adam with weight decay equals PyTorch's rule: L2 decay added to the gradient") {
  // g' = g + wd p; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
  // p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (DType dt : {DType::F32, DType::F64}) {
    std::vector<Real> m(kN, 0), v(kN, 0);
    check_against_rule(
        dt,
        [&](nn::NamedTensors params) {
          return std::make_unique<nn::Adam>(std::move(params), lr, b1, b2, eps, kWeightDecay);
        },
        [&](int t, size_t e, Real& p, Real g) {
          const Real gd = g + kWeightDecay * p;
          m[e] = b1 * m[e] + (1 - b1) * gd;
          v[e] = b2 * v[e] + (1 - b2) * gd * gd;
          const Real m_hat = m[e] / bias_correction(b1, t), v_hat = v[e] / bias_correction(b2, t);
          p -= lr * m_hat / (std::sqrt(v_hat) + eps);
        });
  }
}

TEST_CASE("adamax with weight decay equals Keras' rule: decoupled decay, moments from the raw gradient") {
  // Keras applies the decay before the update: p -= lr wd p; then
  // m = b1 m + (1 - b1) g; u = max(b2 u, |g|); p -= lr m / ((1 - b1^t) (u + eps)).
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-7;
  for (DType dt : {DType::F32, DType::F64}) {
    std::vector<Real> m(kN, 0), u(kN, 0);
    check_against_rule(
        dt,
        [&](nn::NamedTensors params) {
          return std::make_unique<nn::Adamax>(std::move(params), lr, b1, b2, eps, kWeightDecay);
        },
        [&](int t, size_t e, Real& p, Real g) {
          p -= lr * kWeightDecay * p;
          m[e] = b1 * m[e] + (1 - b1) * g;
          u[e] = std::max(b2 * u[e], std::abs(g));
          p -= lr * m[e] / (bias_correction(b1, t) * (u[e] + eps));
        });
  }
}
