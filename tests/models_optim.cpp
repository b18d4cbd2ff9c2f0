// Optimizers against steps computed by hand, gradient clipping, and
// checkpoint round trips (model, optimizer state, metadata, errors).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "models/checkpoint.h"
#include "models/layers.h"
#include "models/optim.h"
#include "tensor/rng.h"
#include "test_support.h"

using namespace mg;

namespace {

// One parameter p = [1, -2] whose gradient we set by hand before each step.
struct OneParam {
  Tensor p = from_vector(std::vector<float>{1.0f, -2.0f}, {2});
  OneParam() { p.requires_grad_(true); }
  nn::NamedTensors named() { return {{"p", p}}; }
  void set_grad(float g0, float g1) { p.set_grad(from_vector(std::vector<float>{g0, g1}, {2})); }
  std::vector<float> values() const { return p.to_vector<float>(); }
};

}  // namespace

TEST_CASE("sgd with momentum and nesterov matches hand steps") {
  OneParam w;
  nn::SGD opt(w.named(), 0.1, 0.9);
  w.set_grad(0.5f, 1.0f);
  opt.step();  // buf = g; p -= 0.1 g
  CHECK(w.values()[0] == doctest::Approx(0.95));
  CHECK(w.values()[1] == doctest::Approx(-2.1));
  w.set_grad(0.5f, 1.0f);
  opt.step();  // buf = 0.9 g + g = 1.9 g; p -= 0.1 * 1.9 g
  CHECK(w.values()[0] == doctest::Approx(0.95 - 0.095));
  CHECK(w.values()[1] == doctest::Approx(-2.1 - 0.19));

  OneParam n;
  nn::SGD nest(n.named(), 0.1, 0.9, 0.0, true);
  n.set_grad(1.0f, 0.0f);
  nest.step();  // buf = 1; step = g + 0.9 buf = 1.9
  CHECK(n.values()[0] == doctest::Approx(1.0 - 0.19));
}

TEST_CASE("adam matches hand steps") {
  OneParam w;
  nn::Adam opt(w.named(), 0.01);
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double m = 0, v = 0, p = 1.0;
  for (int t = 1; t <= 3; ++t) {
    const double g = 0.3 * t;
    w.set_grad(static_cast<float>(g), 0.0f);
    opt.step();
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    p -= 0.01 * (m / (1 - std::pow(b1, t))) / (std::sqrt(v / (1 - std::pow(b2, t))) + eps);
    CHECK(w.values()[0] == doctest::Approx(p).epsilon(1e-6));
  }
  CHECK(w.values()[1] == doctest::Approx(-2.0));  // zero gradient: Adam's m and v stay 0, no move
}

TEST_CASE("adamax matches hand steps with Keras semantics") {
  OneParam w;
  nn::Adamax opt(w.named(), 0.01);
  const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
  double m = 0, u = 0, p = -2.0;
  const double gs[] = {0.5, -2.0, 0.1};
  for (int t = 1; t <= 3; ++t) {
    const double g = gs[t - 1];
    w.set_grad(0.0f, static_cast<float>(g));
    opt.step();
    m = b1 * m + (1 - b1) * g;
    u = std::max(b2 * u, std::abs(g));
    p -= 0.01 / (1 - std::pow(b1, t)) * m / (u + eps);
    CHECK(w.values()[1] == doctest::Approx(p).epsilon(1e-6));
  }
}

TEST_CASE("clip_grad_norm scales to the bound and reports the old norm") {
  OneParam a, b;
  a.set_grad(3.0f, 0.0f);
  b.set_grad(0.0f, 4.0f);
  const double norm = nn::clip_grad_norm({a.p, b.p}, 1.0);
  CHECK(norm == doctest::Approx(5.0));
  std::vector<float> ga = a.p.grad().to_vector<float>(), gb = b.p.grad().to_vector<float>();
  CHECK(std::sqrt(ga[0] * ga[0] + gb[1] * gb[1]) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(ga[0] / gb[1] == doctest::Approx(0.75));
  // Below the bound nothing changes.
  CHECK(nn::clip_grad_norm({a.p, b.p}, 10.0) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(a.p.grad().to_vector<float>()[0] == doctest::Approx(ga[0]));
}

namespace {
struct Tiny : nn::Module {
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::BatchNorm1d> bn;
  Tiny() {
    fc = register_module("fc", std::make_shared<nn::Linear>(3, 2));
    bn = register_module("bn", std::make_shared<nn::BatchNorm1d>(2));
  }
};
}  // namespace

TEST_CASE("cosine decay starts at the base rate, halves at mid-run and reaches zero at the end") {
  CHECK(nn::cosine_learning_rate(2e-3, 0, 100) == doctest::Approx(2e-3));
  CHECK(nn::cosine_learning_rate(2e-3, 50, 100) == doctest::Approx(1e-3));
  CHECK(nn::cosine_learning_rate(2e-3, 25, 100) == doctest::Approx(1e-3 * (1 + std::sqrt(0.5))));
  CHECK(nn::cosine_learning_rate(2e-3, 99, 100) > 0.0);
  CHECK(nn::cosine_learning_rate(2e-3, 99, 100) < 1e-6);
  CHECK(nn::cosine_learning_rate(2e-3, 100, 100) == 0.0);
  CHECK(nn::cosine_learning_rate(2e-3, 150, 100) == 0.0);
  // Monotone over the run.
  double last = 1.0;
  for (int64_t s = 0; s <= 100; ++s) {
    const double lr = nn::cosine_learning_rate(1.0, s, 100);
    CHECK(lr <= last);
    last = lr;
  }
}

TEST_CASE("checkpoint round trip restores weights, buffers, optimizer state and metadata") {
  std::string dir = test::scratch_dir("checkpoint");
  manual_seed(5);
  Tiny a;
  fill_(a.bn->running_mean, 0.25);
  nn::Adam opt(a.named_parameters(), 0.01);
  for (auto& [name, p] : a.named_parameters()) p.set_grad(ones_like(p));
  opt.step();
  nlohmann::json meta = {{"epoch", 3}, {"vocab", {"C4", "0.4.7"}}};
  std::string path = dir + "/model.safetensors";
  nn::save_checkpoint(path, "test-app", a, &opt, meta);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));

  nn::Checkpoint ck = nn::load_checkpoint(path, "test-app");
  CHECK(ck.meta["epoch"] == 3);
  CHECK(ck.meta["vocab"][1] == "0.4.7");
  CHECK(ck.meta["optimizer"]["type"] == "adam");
  manual_seed(99);
  Tiny b;
  b.load_state(ck.model, path);
  for (auto& [name, t] : a.named_parameters()) {
    auto other = std::find_if(ck.model.begin(), ck.model.end(), [&](const auto& e) { return e.first == name; });
    REQUIRE(other != ck.model.end());
    CHECK(t.to_vector<float>() == other->second.to_vector<float>());
  }
  CHECK(b.fc->weight.to_vector<float>() == a.fc->weight.to_vector<float>());
  CHECK(b.bn->running_mean.to_vector<float>()[0] == doctest::Approx(0.25));
  nn::Adam opt2(b.named_parameters(), 0.01);
  opt2.load_state(ck.optim, 1, path);
  std::map<std::string, std::vector<float>> want, got;
  for (auto& [n, t] : opt.named_state()) want[n] = t.to_vector<float>();
  for (auto& [n, t] : opt2.named_state()) got[n] = t.to_vector<float>();
  CHECK(want.size() == 8);  // m and v for 4 parameters
  CHECK(got == want);
}

TEST_CASE("checkpoint errors name the file") {
  std::string dir = test::scratch_dir("checkpoint-errors");
  Tiny a;
  std::string path = dir + "/model.safetensors";
  nn::save_checkpoint(path, "chopin-lstm", a, nullptr, nlohmann::json::object());
  // The other app's checkpoint.
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, "jazz-vae"), doctest::Contains(path.c_str()), mg::Error);
  // Truncated file.
  std::string bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::string cut = dir + "/cut.safetensors";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(cut, "chopin-lstm"), doctest::Contains(cut.c_str()), mg::Error);
  // A missing tensor when loading into a bigger model.
  nn::Checkpoint ck = nn::load_checkpoint(path, "chopin-lstm");
  ck.model.pop_back();
  Tiny b;
  CHECK_THROWS_AS(b.load_state(ck.model, path), mg::Error);
  // Not a checkpoint at all.
  std::string junk = dir + "/junk.safetensors";
  std::ofstream(junk) << "hello";
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(junk, "chopin-lstm"), doctest::Contains(junk.c_str()), mg::Error);
}
