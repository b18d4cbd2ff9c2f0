// Tensors, views, broadcasting and the RNG. Expected values come from index
// arithmetic written out here, never from the engine itself.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tensor/rng.h"

using mg::DType;
using mg::Shape;
using mg::Tensor;

namespace {

// 0, 1, 2, ... as a float64 tensor of the given shape (element value = flat index).
Tensor iota(const Shape& shape) {
  std::vector<double> v(static_cast<size_t>(mg::shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return mg::from_vector(v, shape);
}

}  // namespace

TEST_CASE("transpose and permute swap strides over the same storage") {
  Tensor base = iota({2, 3, 4});  // strides 12, 4, 1
  Tensor t = base.transpose(0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(t.strides() == Shape{1, 4, 12});
  CHECK(t.offset() == 0);
  CHECK(t.same_storage(base));
  CHECK_FALSE(t.is_contiguous());
  std::vector<double> tv = t.to_vector<double>(), expected;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) expected.push_back(k * 12 + j * 4 + i);
  CHECK(tv == expected);

  Tensor p = base.permute({1, 2, 0});  // out[a][b][c] = base[c][a][b]
  CHECK(p.shape() == Shape{3, 4, 2});
  CHECK(p.strides() == Shape{4, 1, 12});
  CHECK(p.same_storage(base));
  expected.clear();
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 4; ++b)
      for (int c = 0; c < 2; ++c) expected.push_back(c * 12 + a * 4 + b);
  CHECK(p.to_vector<double>() == expected);

  CHECK_THROWS_AS(base.permute({0, 0, 1}), mg::Error);
  CHECK_THROWS_AS(base.permute({0, 1}), mg::Error);
  CHECK_THROWS_AS(base.transpose(0, 3), mg::Error);
}

TEST_CASE("slice with a step, negative bounds, and select") {
  Tensor base = iota({5, 6});  // value = 6 r + c

  Tensor s = base.slice(1, 1, 6, 2);  // columns 1, 3, 5
  CHECK(s.shape() == Shape{5, 3});
  CHECK(s.strides() == Shape{6, 2});
  CHECK(s.offset() == 1);
  CHECK(s.same_storage(base));
  std::vector<double> expected;
  for (int r = 0; r < 5; ++r)
    for (int j = 0; j < 3; ++j) expected.push_back(6 * r + 1 + 2 * j);
  CHECK(s.to_vector<double>() == expected);

  // An end that the step does not land on: columns 0 and 3 of [0, 5).
  Tensor s3 = base.slice(1, 0, 5, 3);
  CHECK(s3.shape() == Shape{5, 2});
  CHECK(s3.to_vector<double>()[1] == 3.0);

  Tensor rows = base.slice(0, -3, -1);  // rows 2 and 3
  CHECK(rows.shape() == Shape{2, 6});
  CHECK(rows.offset() == 12);
  CHECK(rows.to_vector<double>().front() == 12.0);
  CHECK(rows.to_vector<double>().back() == 23.0);

  // A slice of a slice composes offsets and strides.
  Tensor ss = s.slice(0, 1, 5, 2);  // rows 1, 3 of columns 1, 3, 5
  CHECK(ss.strides() == Shape{12, 2});
  CHECK(ss.offset() == 7);
  CHECK(ss.to_vector<double>() == std::vector<double>{7, 9, 11, 19, 21, 23});

  Tensor row2 = base.select(0, 2);
  CHECK(row2.shape() == Shape{6});
  CHECK(row2.strides() == Shape{1});
  CHECK(row2.offset() == 12);
  CHECK(row2.to_vector<double>() == std::vector<double>{12, 13, 14, 15, 16, 17});

  Tensor last_col = base.select(1, -1);
  CHECK(last_col.shape() == Shape{5});
  CHECK(last_col.strides() == Shape{6});
  CHECK(last_col.offset() == 5);
  CHECK(last_col.to_vector<double>() == std::vector<double>{5, 11, 17, 23, 29});

  CHECK_THROWS_AS(base.select(0, 5), mg::Error);
  CHECK_THROWS_AS(base.slice(0, 0, 2, 0), mg::Error);
}

TEST_CASE("expand, unsqueeze and squeeze") {
  Tensor col = mg::from_vector(std::vector<double>{1, 2, 3}, {3, 1});
  Tensor e = col.expand({2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.strides() == Shape{0, 1, 0});
  CHECK(e.same_storage(col));
  std::vector<double> expected;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) expected.push_back(j + 1);
  CHECK(e.to_vector<double>() == expected);
  CHECK_THROWS_AS(col.expand({2, 2}), mg::Error);  // 3 rows cannot become 2
  CHECK_THROWS_AS(col.expand({3}), mg::Error);

  Tensor m = iota({3, 4});
  Tensor u1 = m.unsqueeze(1);
  CHECK(u1.shape() == Shape{3, 1, 4});
  CHECK(u1.strides() == Shape{4, 4, 1});
  Tensor u_last = m.unsqueeze(-1);
  CHECK(u_last.shape() == Shape{3, 4, 1});
  CHECK(u_last.strides()[0] == 4);
  CHECK(u_last.strides()[1] == 1);
  Tensor u0 = m.unsqueeze(0);
  CHECK(u0.shape() == Shape{1, 3, 4});
  CHECK(u0.to_vector<double>() == m.to_vector<double>());

  Tensor sq = u1.squeeze(1);
  CHECK(sq.shape() == Shape{3, 4});
  CHECK(sq.strides() == Shape{4, 1});
  CHECK(sq.same_storage(m));
  CHECK_THROWS_AS(m.squeeze(0), mg::Error);
}

TEST_CASE("view and reshape") {
  Tensor base = iota({2, 3, 4});
  Tensor v = base.view({4, -1});
  CHECK(v.shape() == Shape{4, 6});
  CHECK(v.strides() == Shape{6, 1});
  CHECK(v.same_storage(base));
  CHECK(v.to_vector<double>() == base.to_vector<double>());
  CHECK_THROWS_AS(base.view({-1, -1}), mg::Error);
  CHECK_THROWS_AS(base.view({5, 5}), mg::Error);
  CHECK_THROWS_AS(base.view({7, -1}), mg::Error);

  // A view of a contiguous slice keeps the slice's offset.
  Tensor tail = base.view({24}).slice(0, 12, 24).view({3, 4});
  CHECK(tail.offset() == 12);
  CHECK(tail.to_vector<double>()[0] == 12.0);

  Tensor t = base.transpose(1, 2);  // [2, 4, 3], non-contiguous
  CHECK_THROWS_AS(t.view({24}), mg::Error);
  Tensor r = t.reshape({24});
  CHECK_FALSE(r.same_storage(base));
  std::vector<double> expected;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 4; ++b)
      for (int c = 0; c < 3; ++c) expected.push_back(a * 12 + c * 4 + b);
  CHECK(r.to_vector<double>() == expected);

  Tensor rc = base.reshape({6, 4});
  CHECK(rc.same_storage(base));
}

TEST_CASE("writes through a view reach the base") {
  Tensor base = mg::zeros({4, 5}, DType::F64);
  mg::fill_(base.slice(1, 1, 5, 2), 7.0);                                       // columns 1 and 3
  mg::copy_(base.select(0, 2), mg::from_vector(std::vector<double>{1, 2, 3, 4, 5}, {5}));  // row 2
  // Column 4 through a transposed view, converting from float32.
  mg::copy_(base.transpose(0, 1).select(0, 4), mg::from_vector(std::vector<float>{-1, -2, -3, -4}, {4}));

  std::vector<double> expected(20, 0.0);
  for (int r = 0; r < 4; ++r) {
    expected[r * 5 + 1] = 7;
    expected[r * 5 + 3] = 7;
  }
  for (int c = 0; c < 5; ++c) expected[2 * 5 + c] = c + 1;
  for (int r = 0; r < 4; ++r) expected[r * 5 + 4] = -(r + 1);
  CHECK(base.to_vector<double>() == expected);

  CHECK_THROWS_AS(mg::copy_(base.select(0, 0), mg::zeros({4}, DType::F64)), mg::Error);
}

TEST_CASE("contiguous and clone") {
  Tensor base = iota({3, 4});
  Tensor same = base.contiguous();
  CHECK(same.same_storage(base));
  CHECK(same.impl() == base.impl());

  Tensor t = base.transpose(0, 1);
  Tensor c = t.contiguous();
  CHECK_FALSE(c.same_storage(base));
  CHECK(c.is_contiguous());
  CHECK(c.strides() == Shape{3, 1});
  std::vector<double> expected;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) expected.push_back(j * 4 + i);
  CHECK(c.to_vector<double>() == expected);

  Tensor k = base.clone();
  CHECK_FALSE(k.same_storage(base));
  mg::fill_(k, 0.0);
  CHECK(base.to_vector<double>()[5] == 5.0);
}

TEST_CASE("broadcast_shapes") {
  struct Row {
    Shape a, b, out;
  };
  const Row ok[] = {
      {{3, 4}, {4}, {3, 4}},           {{2, 1, 4}, {3, 1}, {2, 3, 4}}, {{}, {5}, {5}},
      {{1}, {1}, {1}},                 {{5, 1, 1}, {1, 6, 1}, {5, 6, 1}}, {{0}, {1}, {0}},
      {{7, 1}, {1, 7}, {7, 7}},        {{2, 3}, {}, {2, 3}},
  };
  for (const Row& r : ok) {
    INFO(mg::shape_str(r.a), " with ", mg::shape_str(r.b));
    CHECK(mg::broadcast_shapes(r.a, r.b) == r.out);
    CHECK(mg::broadcast_shapes(r.b, r.a) == r.out);
  }
  const std::pair<Shape, Shape> bad[] = {
      {{3}, {4}}, {{2, 3}, {3, 2}}, {{2, 1, 4}, {3, 2}}, {{0}, {2}}, {{4, 3}, {4}},
  };
  for (const auto& [a, b] : bad) {
    INFO(mg::shape_str(a), " with ", mg::shape_str(b));
    CHECK_THROWS_AS(mg::broadcast_shapes(a, b), mg::Error);
    CHECK_THROWS_AS(mg::add(mg::zeros(a), mg::zeros(b)), mg::Error);
  }
}

TEST_CASE("broadcast add, sub, mul and div equal a hand loop") {
  // a [2, 1, 4], b [3, 1] -> [2, 3, 4]
  std::vector<double> av(8), bv(3);
  for (int i = 0; i < 8; ++i) av[i] = 0.5 * i - 1.75;
  for (int j = 0; j < 3; ++j) bv[j] = 1.25 + j;
  for (DType dt : {DType::F32, DType::F64}) {
    INFO(mg::dtype_name(dt));
    Tensor a = mg::from_vector(av, {2, 1, 4}).to(dt), b = mg::from_vector(bv, {3, 1}).to(dt);
    std::vector<double> add_e, sub_e, mul_e, div_e;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 4; ++k) {
          const double x = av[i * 4 + k], y = bv[j];
          add_e.push_back(x + y);
          sub_e.push_back(x - y);
          mul_e.push_back(x * y);
          div_e.push_back(x / y);
        }
    const double tol = dt == DType::F32 ? 1e-6 : 1e-15;
    auto near = [&](const Tensor& t, const std::vector<double>& e) {
      REQUIRE(t.shape() == Shape{2, 3, 4});
      std::vector<double> v = t.to_vector<double>();
      for (size_t i = 0; i < e.size(); ++i) CHECK(std::abs(v[i] - e[i]) <= tol * (1 + std::abs(e[i])));
    };
    near(mg::add(a, b), add_e);
    near(mg::sub(a, b), sub_e);
    near(mg::mul(a, b), mul_e);
    near(mg::div(a, b), div_e);
  }

  // A transposed operand broadcast against a row: out[i][j] = m[j][i] * row[j].
  Tensor m = iota({3, 4});
  Tensor row = mg::from_vector(std::vector<double>{2, -1, 0.5}, {3});
  std::vector<double> expected;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) expected.push_back((j * 4 + i) * std::vector<double>{2, -1, 0.5}[j]);
  CHECK(mg::mul(m.transpose(0, 1), row).to_vector<double>() == expected);
}

TEST_CASE("RNG: a seed fixes the stream") {
  mg::manual_seed(42);
  std::vector<float> u1 = mg::rand({1000}).to_vector<float>();
  std::vector<float> n1 = mg::randn({1000}).to_vector<float>();
  mg::manual_seed(42);
  CHECK(mg::rand({1000}).to_vector<float>() == u1);
  CHECK(mg::randn({1000}).to_vector<float>() == n1);

  mg::manual_seed(43);
  std::vector<float> u2 = mg::rand({1000}).to_vector<float>();
  int same = 0;
  for (size_t i = 0; i < u1.size(); ++i) same += u1[i] == u2[i];
  CHECK(same < 10);

  // manual_seed resets the offset, not just the key.
  mg::manual_seed(42);
  (void)mg::rand({17});
  CHECK(mg::default_generator().offset == 17);
  mg::manual_seed(42);
  CHECK(mg::default_generator().seed == 42);
  CHECK(mg::default_generator().offset == 0);
  CHECK(mg::rand({1000}).to_vector<float>() == u1);
}

TEST_CASE("RNG: element i depends only on (seed, offset + i)") {
  const int n = 37, m = 91;  // odd sizes, so no block alignment hides an error
  for (bool normal : {false, true}) {
    INFO((normal ? "randn" : "rand"));
    auto draw = [normal](int64_t k) { return (normal ? mg::randn({k}, DType::F64) : mg::rand({k}, DType::F64)); };
    mg::manual_seed(7);
    std::vector<double> first = draw(n).to_vector<double>();
    std::vector<double> second = draw(m).to_vector<double>();
    CHECK(mg::default_generator().offset == static_cast<uint64_t>(n + m));
    mg::manual_seed(7);
    std::vector<double> whole = draw(n + m).to_vector<double>();
    CHECK(std::vector<double>(whole.begin(), whole.begin() + n) == first);
    CHECK(std::vector<double>(whole.begin() + n, whole.end()) == second);
  }

  // The shape does not matter, only the counter: [4, 5] is the flat stream of 20.
  mg::manual_seed(9);
  std::vector<float> flat = mg::randn({20}).to_vector<float>();
  mg::manual_seed(9);
  CHECK(mg::randn({4, 5}).to_vector<float>() == flat);

  // rand is the top 24 bits of Philox lane 0 at counter offset + i.
  mg::default_generator() = mg::Generator{123, 1000};
  std::vector<double> u = mg::rand({8}, DType::F64).to_vector<double>();
  for (int i = 0; i < 8; ++i) {
    uint32_t r[4];
    mg::Philox::block(123, 1000 + i, r);
    CHECK(u[i] == static_cast<double>(r[0] >> 8) / 16777216.0);
  }
}

TEST_CASE("RNG: randn moments and rand range") {
  mg::manual_seed(2024);
  const int n = 100000;
  std::vector<double> z = mg::randn({n}, DType::F64).to_vector<double>();
  double s = 0.0, ss = 0.0;
  for (double v : z) s += v;
  const double mean = s / n;
  for (double v : z) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / (n - 1));
  CHECK(std::abs(mean) < 0.02);
  CHECK(std::abs(sd - 1.0) < 0.02);

  std::vector<float> u = mg::rand({n}).to_vector<float>();
  float lo = 1.0f, hi = 0.0f;
  double us = 0.0;
  for (float v : u) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    us += v;
  }
  CHECK(lo >= 0.0f);
  CHECK(hi < 1.0f);
  CHECK(std::abs(us / n - 0.5) < 0.01);

  std::vector<double> w = mg::uniform({1000}, -3.0, -1.0, DType::F64).to_vector<double>();
  for (double v : w) {
    CHECK(v >= -3.0);
    CHECK(v < -1.0);
  }
}

TEST_CASE("Philox-4x32-10 known answer") {
  // Random123's kat_vectors: philox4x32 10, counter 0, key 0.
  uint32_t r[4];
  mg::Philox::block(0, 0, r);
  CHECK(r[0] == 0x6627e8d5u);
  CHECK(r[1] == 0xe169c58du);
  CHECK(r[2] == 0xbc57ac4cu);
  CHECK(r[3] == 0x9b00dbd8u);
}

TEST_CASE("dtype conversions") {
  std::vector<double> v = {0.1, -2.5, 1e-3, 3.0, 1e10};
  Tensor d = mg::from_vector(v, {5});
  Tensor f = d.to(DType::F32);
  CHECK(f.dtype() == DType::F32);
  std::vector<float> fv = f.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) CHECK(fv[i] == static_cast<float>(v[i]));
  // float32 -> float64 is exact, so the round trip returns the rounded values.
  std::vector<double> back = f.to(DType::F64).to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) CHECK(back[i] == static_cast<double>(static_cast<float>(v[i])));

  CHECK(d.to(DType::F64).same_storage(d));
  // Converting a strided view converts its elements in view order.
  Tensor m = iota({2, 3}).transpose(0, 1).to(DType::F32);
  CHECK(m.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});

  Tensor idx = mg::from_vector(std::vector<int64_t>{3, -1}, {2});
  CHECK(idx.dtype() == DType::I64);
  CHECK(idx.to_vector<int64_t>() == std::vector<int64_t>{3, -1});
  CHECK_THROWS_AS(idx.to_vector<float>(), mg::Error);
  CHECK_THROWS_AS(d.data<float>(), mg::Error);
}

TEST_CASE("factory and accessor errors") {
  CHECK_THROWS_AS(mg::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), mg::Error);
  CHECK_THROWS_AS(mg::from_vector(std::vector<double>{1, 2}, {3}), mg::Error);
  CHECK_THROWS_AS(mg::from_vector(std::vector<int64_t>{1}, {0}), mg::Error);
  CHECK_THROWS_AS(mg::empty({2, -1}), mg::Error);

  CHECK_THROWS_AS(mg::zeros({2}).item(), mg::Error);
  CHECK_THROWS_AS(mg::zeros({0}).item(), mg::Error);
  CHECK(mg::full({1, 1}, -3.5).item() == -3.5);
  CHECK(mg::scalar(2.25, DType::F64).item() == 2.25);
  CHECK(mg::from_vector(std::vector<int64_t>{-7}, {1}).item() == -7.0);

  CHECK(mg::ones({2, 3}).to_vector<float>() == std::vector<float>(6, 1.0f));
  CHECK(mg::arange(4, DType::I64).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(mg::arange(3, DType::F64).to_vector<double>() == std::vector<double>{0, 1, 2});
  CHECK(mg::zeros({0, 3}).numel() == 0);
}

TEST_CASE("str shows shape, dtype and values") {
  Tensor t = mg::from_vector(std::vector<float>{1.5f, -2.25f, 3.0f, 4.0f}, {2, 2});
  std::string s = t.str();
  CHECK(s.find("shape=[2, 2]") != std::string::npos);
  CHECK(s.find("float32") != std::string::npos);
  for (const char* v : {"1.5", "-2.25", "3", "4"}) CHECK(s.find(v) != std::string::npos);

  // Long dims are elided in the middle: the first and last three stay.
  std::string e = mg::arange(20, DType::I64).str(6);
  CHECK(e.find("...") != std::string::npos);
  for (const char* v : {"0", "2", "17", "19"}) CHECK(e.find(v) != std::string::npos);
  CHECK(e.find("10") == std::string::npos);
  CHECK(Tensor().str() == "Tensor(undefined)");
}
