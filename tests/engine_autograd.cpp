// Graph behaviour: accumulation, no-grad, detach, retain_graph, explicit
// gradients, freeing, deep chains, device errors. Whether each op's backward
// matches its forward is gradcheck's job (tests/gradcheck.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/rng.h"
#include "test_support.h"

using mg::DType;
using mg::Shape;
using mg::Tensor;
using Vec = std::vector<double>;

namespace {

Tensor leaf(const Vec& v, const Shape& shape) {
  Tensor t = mg::from_vector(v, shape);
  t.requires_grad_(true);
  return t;
}

Vec grad_of(const Tensor& t) {
  REQUIRE(t.grad().defined());
  return t.grad().to_vector<double>();
}

}  // namespace

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = leaf({1, -2, 3}, {3});
  CHECK_FALSE(x.grad().defined());
  mg::sum(mg::mul(x, x)).backward();
  CHECK(grad_of(x) == Vec{2, -4, 6});
  mg::sum(mg::mul(x, x)).backward();
  CHECK(grad_of(x) == Vec{4, -8, 12});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  mg::sum(x * 3.0).backward();
  CHECK(grad_of(x) == Vec{3, 3, 3});
  CHECK(x.grad().shape() == x.shape());
  CHECK(x.grad().dtype() == DType::F64);

  // Only leaves keep a gradient; constants get none.
  Tensor c = mg::from_vector(Vec{5, 6, 7}, {3});
  x.zero_grad();
  Tensor u = x * 2.0;
  mg::sum(mg::mul(u, c)).backward();
  CHECK(grad_of(x) == Vec{10, 12, 14});
  CHECK_FALSE(u.grad().defined());
  CHECK_FALSE(c.grad().defined());
}

TEST_CASE("a tensor reached by two paths receives the sum of both") {
  Tensor x = leaf({0.5, -1.0, 2.0}, {3});
  const Vec xv = {0.5, -1.0, 2.0};

  SUBCASE("leaf used twice in one op") {
    mg::sum(mg::mul(x, x)).backward();
    CHECK(grad_of(x) == Vec{1.0, -2.0, 4.0});
  }
  SUBCASE("leaf through two ops: (2x)(3x)") {
    mg::sum(mg::mul(x * 2.0, x * 3.0)).backward();
    Vec g = grad_of(x);
    for (int i = 0; i < 3; ++i) CHECK(g[i] == doctest::Approx(12.0 * xv[i]).epsilon(1e-14));
  }
  SUBCASE("non-leaf diamond: u = e^x, y = u u + u") {
    Tensor u = mg::exp(x);
    mg::sum(mg::add(mg::mul(u, u), u)).backward();
    Vec g = grad_of(x);
    for (int i = 0; i < 3; ++i) {
      const double e = std::exp(xv[i]);
      CHECK(g[i] == doctest::Approx((2.0 * e + 1.0) * e).epsilon(1e-14));
    }
  }
  SUBCASE("broadcast operand: the gradient sums over the broadcast dim") {
    Tensor m = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
    mg::sum(mg::mul(m, x)).backward();  // x [3] broadcast over 2 rows
    CHECK(grad_of(x) == Vec{5, 7, 9});
    CHECK(grad_of(m) == Vec{0.5, -1.0, 2.0, 0.5, -1.0, 2.0});
  }
}

TEST_CASE("NoGradGuard records nothing and restores on exit") {
  Tensor x = leaf({1, 2}, {2});
  CHECK(mg::grad_enabled());
  {
    mg::NoGradGuard outer;
    CHECK_FALSE(mg::grad_enabled());
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    CHECK(y.impl()->grad_fn == nullptr);
    CHECK(y.to_vector<double>() == Vec{2, 4});  // the value is still computed
    {
      mg::NoGradGuard inner;
      CHECK_FALSE(mg::grad_enabled());
    }
    CHECK_FALSE(mg::grad_enabled());  // the inner guard restores "off", not "on"
    CHECK_FALSE(mg::needs_grad({x}));
    CHECK_THROWS_AS(mg::sum(y).backward(), mg::Error);
  }
  CHECK(mg::grad_enabled());
  Tensor z = x * 2.0;
  CHECK(z.requires_grad());
  CHECK_FALSE(z.is_leaf());

  // Without a grad-requiring input nothing is recorded either.
  Tensor c = mg::from_vector(Vec{1, 2}, {2});
  Tensor w = c * 2.0;
  CHECK_FALSE(w.requires_grad());
  CHECK(w.is_leaf());
}

TEST_CASE("detach shares storage and cuts the graph") {
  Tensor x = leaf({1, -2, 3}, {3});
  Tensor d = x.detach();
  CHECK(d.same_storage(x));
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  // d x: only the x factor carries gradient, so the gradient is d = x, not 2x.
  mg::sum(mg::mul(d, x)).backward();
  CHECK(grad_of(x) == Vec{1, -2, 3});

  Tensor u = x * 2.0;
  Tensor ud = u.detach();
  CHECK(ud.is_leaf());
  CHECK_FALSE(ud.requires_grad());
  CHECK(ud.same_storage(u));
}

// The LSTM layer releases its saved activations during backward unless the
// graph is retained: a retained graph must give the same gradients again.
TEST_CASE("an LSTM layer backpropagates again through a retained graph") {
  for (DType dt : {DType::F32, DType::F64}) {
    CAPTURE(mg::dtype_name(dt));
    mg::manual_seed(5);
    Tensor x = mg::randn({4, 3, 5}).to(dt).requires_grad_(true);
    Tensor w_ih = mg::randn({8, 5}).to(dt).requires_grad_(true), w_hh = mg::randn({8, 2}).to(dt).requires_grad_(true);
    Tensor h0 = mg::zeros({3, 2}, dt), c0 = mg::zeros({3, 2}, dt);
    auto [hs, c] = mg::lstm_layer(x, w_ih, w_hh, Tensor(), h0, c0);
    Tensor loss = mg::add(mg::sum(mg::mul(hs, hs)), mg::sum(c));
    loss.backward(Tensor(), /*retain_graph=*/true);
    const Vec gx1 = x.grad().to_vector<double>(), gw1 = w_hh.grad().to_vector<double>();
    x.zero_grad();
    w_hh.zero_grad();
    loss.backward();
    CHECK(x.grad().to_vector<double>() == gx1);
    CHECK(w_hh.grad().to_vector<double>() == gw1);
    CHECK_THROWS_AS(loss.backward(), mg::Error);
  }
}

TEST_CASE("backward a second time needs retain_graph") {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = mg::sum(mg::mul(x, x));
  y.backward();
  CHECK_THROWS_AS(y.backward(), mg::Error);

  x.zero_grad();
  Tensor y2 = mg::sum(mg::mul(x, x));
  y2.backward(Tensor(), /*retain_graph=*/true);
  y2.backward(Tensor(), true);
  CHECK(grad_of(x) == Vec{4, 8, 12});
  y2.backward();  // the last pass may free the graph
  CHECK(grad_of(x) == Vec{6, 12, 18});
  CHECK_THROWS_AS(y2.backward(), mg::Error);
}

TEST_CASE("backward needs a gradient of the root's shape for a non-scalar root") {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = x * 2.0;
  CHECK_THROWS_AS(y.backward(), mg::Error);
  CHECK_THROWS_AS(y.backward(mg::ones({2}, DType::F64)), mg::Error);
  y.backward(mg::from_vector(Vec{1, -1, 0.5}, {3}));
  CHECK(grad_of(x) == Vec{2, -2, 1});

  // Y = X W with an explicit G: dX = G Wᵀ, dW = Xᵀ G, by hand.
  const Vec xv = {1, 2, 3, 4, 5, 6}, wv = {1, 0, -1, 2, 0.5, 1}, gv = {1, 2, -1, 0};  // X [2,3], W [3,2], G [2,2]
  Tensor X = leaf(xv, {2, 3}), W = leaf(wv, {3, 2});
  mg::matmul(X, W).backward(mg::from_vector(gv, {2, 2}));
  Vec gx(6, 0.0), gw(6, 0.0);
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 3; ++k)
      for (int j = 0; j < 2; ++j) {
        gx[i * 3 + k] += gv[i * 2 + j] * wv[k * 2 + j];
        gw[k * 2 + j] += xv[i * 3 + k] * gv[i * 2 + j];
      }
  CHECK(grad_of(X) == gx);
  CHECK(grad_of(W) == gw);

  // A leaf root takes the gradient as given.
  Tensor z = leaf({4, 5}, {2});
  z.backward(mg::from_vector(Vec{0.25, -3}, {2}));
  CHECK(grad_of(z) == Vec{0.25, -3});

  CHECK_THROWS_AS(mg::from_vector(Vec{1}, {1}).backward(), mg::Error);  // nothing requires grad
}

TEST_CASE("leaf gradients are tensors of their own") {
  // Both operands of an add receive the same incoming gradient; each leaf's
  // .grad must still be its own storage, or an in-place update of one
  // (zeroing, clipping) silently changes the other.
  Tensor x = leaf({1, 2, 3}, {3}), y = leaf({4, 5, 6}, {3});
  mg::sum(mg::add(x, y)).backward();
  CHECK_FALSE(x.grad().same_storage(y.grad()));
  mg::fill_(x.grad(), 0.0);
  CHECK(grad_of(y) == Vec{1, 1, 1});

  // Nor may a leaf's .grad alias the gradient tensor the caller passed in.
  Tensor g = mg::from_vector(Vec{1, 2}, {2});
  Tensor z = leaf({0, 0}, {2});
  z.backward(g);
  CHECK_FALSE(z.grad().same_storage(g));
}

TEST_CASE("backward frees the graph") {
  Tensor x = leaf({1, 2, 3}, {3}), w = leaf({4, 5, 6}, {3});
  const long before = x.impl()->storage.use_count();
  Tensor y = mg::mul(x, w);  // saves x and w for its backward
  CHECK(x.impl()->storage.use_count() > before);
  Tensor loss = mg::sum(y);
  std::weak_ptr<mg::Node> mul_node = y.impl()->grad_fn, sum_node = loss.impl()->grad_fn;
  REQUIRE(mul_node.lock());
  CHECK(mul_node.lock()->inputs.size() == 2);

  SUBCASE("retain_graph keeps saved tensors") {
    loss.backward(Tensor(), true);
    CHECK(x.impl()->storage.use_count() > before);
    CHECK(mul_node.lock()->inputs.size() == 2);
  }
  SUBCASE("a plain backward releases them") {
    loss.backward();
    CHECK(x.impl()->storage.use_count() == before);
    REQUIRE(mul_node.lock());  // y still owns its node...
    CHECK(mul_node.lock()->inputs.empty());  // ...but not what it pointed to
    CHECK_FALSE(mul_node.lock()->backward);
    CHECK(sum_node.lock()->inputs.empty());
  }
  // No reference cycles: dropping the outputs drops the nodes.
  y = Tensor();
  loss = Tensor();
  CHECK(mul_node.expired());
  CHECK(sum_node.expired());
}

TEST_CASE("a 2,000-step chain backpropagates without recursion") {
  Tensor x = leaf({1.5, -0.5}, {2});
  Tensor y = x;
  for (int i = 0; i < 2000; ++i) y = y * 1.0001 + 0.0;
  mg::sum(y).backward();
  const double factor = std::pow(1.0001, 2000);
  Vec g = grad_of(x), yv = y.to_vector<double>();
  for (int i = 0; i < 2; ++i) CHECK(g[i] == doctest::Approx(factor).epsilon(1e-12));
  CHECK(yv[0] == doctest::Approx(1.5 * factor).epsilon(1e-12));
  CHECK(yv[1] == doctest::Approx(-0.5 * factor).epsilon(1e-12));
}

TEST_CASE("requires_grad_ rules") {
  CHECK_THROWS_AS(mg::from_vector(std::vector<int64_t>{1}, {1}).requires_grad_(true), mg::Error);
  Tensor x = leaf({1}, {1});
  Tensor y = x * 2.0;
  CHECK_THROWS_AS(y.requires_grad_(false), mg::Error);  // a non-leaf leaves the graph through detach()
  x.requires_grad_(false);
  CHECK_FALSE((x * 2.0).requires_grad());
}

TEST_CASE("tensors on different devices do not mix") {
#if !defined(MUSICGEN_WITH_CUDA)
  CHECK_FALSE(mg::cuda_available());
  CHECK_THROWS_AS(mg::backend_for(mg::Device::CUDA), mg::Error);
  CHECK_THROWS_AS(mg::zeros({2}, DType::F32, mg::Device::CUDA), mg::Error);
  CHECK_THROWS_AS(mg::ones({2}).to(mg::Device::CUDA), mg::Error);
#else
  if (!mg::cuda_available()) {
    mg::test::skip("no CUDA device");
    return;
  }
  Tensor a = mg::ones({2, 2}), b = mg::ones({2, 2}, DType::F32, mg::Device::CUDA);
  CHECK_THROWS_AS(mg::add(a, b), mg::Error);
  CHECK_THROWS_AS(mg::matmul(a, b), mg::Error);
  CHECK_THROWS_AS(mg::concat({a, b}, 0), mg::Error);
  CHECK(mg::add(a.to(mg::Device::CUDA), b).device() == mg::Device::CUDA);
#endif
}
