// Forward values of the ops against naive implementations written here in
// plain loops over doubles. Gradients are gradcheck's job (tests/gradcheck.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "autograd/ops.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/isa.h"
#include "tensor/backend.h"
#include "tensor/rng.h"
#include "tests/gemm_segments.h"

using mg::DType;
using mg::Shape;
using mg::Tensor;
using Vec = std::vector<double>;

namespace {

Vec random_values(size_t n, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Vec v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

Tensor tensor(const Vec& v, const Shape& shape, DType dt = DType::F64) { return mg::from_vector(v, shape).to(dt); }

// |got - want| <= atol + rtol |want| elementwise, reporting the first mismatch.
void check_close(const Tensor& got, const Vec& want, double rtol, double atol) {
  Vec g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  for (size_t i = 0; i < g.size(); ++i) {
    if (!(std::abs(g[i] - want[i]) <= atol + rtol * std::abs(want[i]))) {
      FAIL_CHECK("element " << i << ": got " << g[i] << ", want " << want[i]);
      return;
    }
  }
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// ---- GEMM ----------------------------------------------------------------------

struct GemmCase {
  bool ta, tb;
  int64_t m, n, k;
  double alpha, beta;
  int64_t batch;
  bool broadcast_a, broadcast_b;  // stride 0 over the batch
  int64_t pad;                    // extra columns in every stored row (ld > width)
};

// Runs a fast GEMM (the CPU backend's, or one instruction set's kernel) and
// the reference on the same data and compares both with a direct loop. The
// tolerance scales with sum |alpha a b| + |beta c|, the size of the rounding
// error of any summation order. Returns the fast result.
template <typename T>
std::vector<T> check_gemm(const GemmCase& c, double rtol, void (*fast_gemm)(const mg::GemmArgs&) = nullptr) {
  const int64_t rows_a = c.ta ? c.k : c.m, cols_a = c.ta ? c.m : c.k;
  const int64_t rows_b = c.tb ? c.n : c.k, cols_b = c.tb ? c.k : c.n;
  const int64_t lda = cols_a + c.pad, ldb = cols_b + c.pad, ldc = c.n + c.pad;
  const int64_t stride_a = c.broadcast_a ? 0 : rows_a * lda, stride_b = c.broadcast_b ? 0 : rows_b * ldb;
  const int64_t stride_c = c.m * ldc;
  auto to_t = [](const Vec& v) { return std::vector<T>(v.begin(), v.end()); };
  std::vector<T> A = to_t(random_values(static_cast<size_t>((c.broadcast_a ? 1 : c.batch) * rows_a * lda), 1));
  std::vector<T> B = to_t(random_values(static_cast<size_t>((c.broadcast_b ? 1 : c.batch) * rows_b * ldb), 2));
  std::vector<T> C0 = to_t(random_values(static_cast<size_t>(c.batch * stride_c), 3));
  // beta = 0 must ignore C entirely (BLAS semantics), even NaN; padding is a sentinel.
  const T sentinel = T(12345);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < ldc; ++j) {
        T& e = C0[static_cast<size_t>(b * stride_c + i * ldc + j)];
        if (j >= c.n) e = sentinel;
        else if (c.beta == 0.0) e = std::numeric_limits<T>::quiet_NaN();
      }

  mg::GemmArgs g;
  g.dtype = mg::dtype_of<T>();
  g.trans_a = c.ta;
  g.trans_b = c.tb;
  g.m = c.m;
  g.n = c.n;
  g.k = c.k;
  g.alpha = c.alpha;
  g.beta = c.beta;
  g.a = A.data();
  g.lda = lda;
  g.stride_a = stride_a;
  g.b = B.data();
  g.ldb = ldb;
  g.stride_b = stride_b;
  g.ldc = ldc;
  g.stride_c = stride_c;
  g.batch = c.batch;

  std::vector<T> fast = C0, ref = C0;
  g.c = fast.data();
  if (fast_gemm) fast_gemm(g);
  else mg::backend_for(mg::Device::CPU).gemm(g);
  g.c = ref.data();
  mg::cpu::gemm_reference(g);

  for (int64_t b = 0; b < c.batch; ++b) {
    const T* a = A.data() + b * stride_a;
    const T* bm = B.data() + b * stride_b;
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < ldc; ++j) {
        const size_t at = static_cast<size_t>(b * stride_c + i * ldc + j);
        if (j >= c.n) {
          if (fast[at] != sentinel || ref[at] != sentinel) {
            FAIL_CHECK("write outside C at batch " << b << " row " << i << " col " << j);
            return fast;
          }
          continue;
        }
        double acc = 0.0, mag = 0.0;
        for (int64_t p = 0; p < c.k; ++p) {
          const double av = c.ta ? a[p * lda + i] : a[i * lda + p];
          const double bv = c.tb ? bm[j * ldb + p] : bm[p * ldb + j];
          acc += av * bv;
          mag += std::abs(av * bv);
        }
        const double c0 = c.beta == 0.0 ? 0.0 : c.beta * static_cast<double>(C0[at]);
        const double want = c.alpha * acc + c0;
        const double tol = rtol * (std::abs(c.alpha) * mag + std::abs(c0)) + std::numeric_limits<T>::min();
        if (!(std::abs(fast[at] - want) <= tol) || !(std::abs(ref[at] - want) <= tol)) {
          FAIL_CHECK("batch " << b << " C[" << i << ", " << j << "]: fast " << fast[at] << ", reference "
                              << ref[at] << ", direct " << want);
          return fast;
        }
      }
    }
  }
  return fast;
}

// Sizes around the register tiles (4 x 8 SSE2, 6 x 16 AVX2, 12 x 32 AVX-512),
// the MC = 144 and KC = 256 cache blocks, one-row and one-column (GEMV)
// products and the multi-slab packing of a deep K.
std::vector<GemmCase> gemm_cases() {
  const int64_t sizes[][3] = {{1, 1, 1},     {5, 7, 13},      {13, 97, 7},    {97, 13, 300}, {300, 97, 13},
                              {7, 300, 97},  {97, 97, 97},    {6, 32, 257},   {96, 33, 256}, {7, 2100, 13},
                              {13, 2049, 300}, {300, 300, 300}, {1, 300, 97},  {1, 67, 300},  {12, 64, 512},
                              {145, 31, 1}, {2, 40, 9000}, {300, 1, 97}, {67, 1, 300}};
  const double ab[][2] = {{1.0, 0.0}, {0.75, -1.5}, {-2.0, 1.0}, {0.0, 0.5}, {1.0, 1.0}};
  std::vector<GemmCase> out;
  int variant = 0;
  for (const auto& s : sizes) {
    for (int t = 0; t < 4; ++t) {
      const auto& [alpha, beta] = ab[variant % 5];
      const bool small = s[0] * s[1] * s[2] <= 1'000'000;
      const int64_t batch = small ? 3 : 1;
      out.push_back({(t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], alpha, beta, batch,
                     small && variant % 3 == 1, small && variant % 3 == 2, variant % 2 == 0 ? 0 : 3});
      ++variant;
    }
  }
  return out;
}

// ---- convolution -----------------------------------------------------------------

struct ConvCase {
  int64_t B, Cin, L, Cout, K, stride, pad_left, pad_right, dilation;
  bool bias;
};

// y[b, o, t] = bias[o] + sum_{c, k} w[o, c, k] x[b, c, t stride - pad_left + k dilation]
Vec conv1d_direct(const Vec& x, const Vec& w, const Vec& bias, const ConvCase& c, int64_t& T) {
  T = (c.L + c.pad_left + c.pad_right - c.dilation * (c.K - 1) - 1) / c.stride + 1;
  Vec y(static_cast<size_t>(c.B * c.Cout * T), 0.0);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t o = 0; o < c.Cout; ++o)
      for (int64_t t = 0; t < T; ++t) {
        double acc = c.bias ? bias[o] : 0.0;
        for (int64_t ci = 0; ci < c.Cin; ++ci)
          for (int64_t k = 0; k < c.K; ++k) {
            const int64_t pos = t * c.stride - c.pad_left + k * c.dilation;
            if (pos >= 0 && pos < c.L) acc += w[(o * c.Cin + ci) * c.K + k] * x[(b * c.Cin + ci) * c.L + pos];
          }
        y[(b * c.Cout + o) * T + t] = acc;
      }
  return y;
}

struct ConvTCase {
  int64_t B, Cin, L, Cout, K, stride, padding, output_padding, dilation;
  bool bias;
};

// Every input element scatters x[b, c, l] w[c, o, k] to y[b, o, l stride - padding + k dilation].
Vec conv_transpose1d_direct(const Vec& x, const Vec& w, const Vec& bias, const ConvTCase& c, int64_t T) {
  Vec y(static_cast<size_t>(c.B * c.Cout * T), 0.0);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t o = 0; o < c.Cout; ++o)
      for (int64_t t = 0; t < T; ++t) y[(b * c.Cout + o) * T + t] = c.bias ? bias[o] : 0.0;
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t ci = 0; ci < c.Cin; ++ci)
      for (int64_t l = 0; l < c.L; ++l)
        for (int64_t o = 0; o < c.Cout; ++o)
          for (int64_t k = 0; k < c.K; ++k) {
            const int64_t t = l * c.stride - c.padding + k * c.dilation;
            if (t >= 0 && t < T) y[(b * c.Cout + o) * T + t] += x[(b * c.Cin + ci) * c.L + l] * w[(ci * c.Cout + o) * c.K + k];
          }
  return y;
}

void check_conv_transpose(const ConvTCase& c) {
  CAPTURE(c.L);
  CAPTURE(c.K);
  CAPTURE(c.stride);
  CAPTURE(c.padding);
  CAPTURE(c.output_padding);
  CAPTURE(c.dilation);
  Vec x = random_values(static_cast<size_t>(c.B * c.Cin * c.L), 21);
  Vec w = random_values(static_cast<size_t>(c.Cin * c.Cout * c.K), 22);
  Vec bias = random_values(static_cast<size_t>(c.Cout), 23);
  const int64_t T = (c.L - 1) * c.stride - 2 * c.padding + c.dilation * (c.K - 1) + c.output_padding + 1;
  Tensor y = mg::conv_transpose1d(tensor(x, {c.B, c.Cin, c.L}), tensor(w, {c.Cin, c.Cout, c.K}),
                                  c.bias ? tensor(bias, {c.Cout}) : Tensor(), c.stride, c.padding,
                                  c.output_padding, c.dilation);
  REQUIRE(y.shape() == Shape{c.B, c.Cout, T});
  check_close(y, conv_transpose1d_direct(x, w, bias, c, T), 1e-12, 1e-12);
}

// ---- reductions ------------------------------------------------------------------

// Sums values of `shape` (row-major) over `dims` into the keepdim-shaped result.
Vec sum_by_hand(const Vec& v, const Shape& shape, const std::vector<int64_t>& dims, Shape& kept) {
  kept = shape;
  const int64_t nd = static_cast<int64_t>(shape.size());
  for (int64_t d : dims) kept[static_cast<size_t>(d < 0 ? d + nd : d)] = 1;
  Vec out(static_cast<size_t>(mg::shape_numel(kept)), 0.0);
  std::vector<int64_t> idx(shape.size(), 0);
  for (size_t flat = 0; flat < v.size(); ++flat) {
    int64_t rem = static_cast<int64_t>(flat), o = 0;
    for (int64_t d = nd - 1; d >= 0; --d) {
      idx[static_cast<size_t>(d)] = rem % shape[static_cast<size_t>(d)];
      rem /= shape[static_cast<size_t>(d)];
    }
    for (int64_t d = 0; d < nd; ++d)
      o = o * kept[static_cast<size_t>(d)] + (kept[static_cast<size_t>(d)] == 1 ? 0 : idx[static_cast<size_t>(d)]);
    out[static_cast<size_t>(o)] += v[flat];
  }
  return out;
}

}  // namespace

TEST_CASE("the CPU backend's GEMM equals the reference in float32") {
  for (const GemmCase& c : gemm_cases()) {
    CAPTURE(c.m);
    CAPTURE(c.n);
    CAPTURE(c.k);
    CAPTURE(c.ta);
    CAPTURE(c.tb);
    CAPTURE(c.batch);
    check_gemm<float>(c, 1e-5);
  }
}

// Every instruction set this CPU can run, whichever one the backend chose,
// at one and at three threads: each must match the reference, and the thread
// count must not change a single bit. (The instruction sets may differ in the
// last bits: each splits k by the KC its own register tile and this CPU's L1
// give, kernels/cpu/cpu_figures.h.)
TEST_CASE("every instruction set's GEMM equals the reference, bit-identical across threads") {
  using mg::cpu::Isa;
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (mg::cpu::isa_supported(isa)) isas.push_back(isa);
  const int threads_before = mg::cpu_threads();
  for (const GemmCase& c : gemm_cases()) {
    CAPTURE(c.m);
    CAPTURE(c.n);
    CAPTURE(c.k);
    CAPTURE(c.ta);
    CAPTURE(c.tb);
    for (Isa isa : isas) {
      CAPTURE(mg::cpu::isa_name(isa));
      mg::set_cpu_threads(1);
      const std::vector<float> one = check_gemm<float>(c, 1e-5, mg::cpu::kernels_for(isa).sgemm);
      mg::set_cpu_threads(3);
      const std::vector<float> three = check_gemm<float>(c, 1e-5, mg::cpu::kernels_for(isa).sgemm);
      CHECK(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)) == 0);
    }
  }
  mg::set_cpu_threads(threads_before);
}

// The driver's loops with cache blocks far smaller than any real CPU's, so
// that every shape runs through several row blocks (MC), k slices (KC) and
// column blocks (NC), at one and at three threads.
TEST_CASE("every instruction set's GEMM equals the reference with tiny cache blocks") {
  using mg::cpu::Isa;
  const int threads_before = mg::cpu_threads();
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (!mg::cpu::isa_supported(isa)) continue;
    CAPTURE(mg::cpu::isa_name(isa));
    const mg::cpu::CpuKernels& kernels = mg::cpu::kernels_for(isa);
    mg::cpu::GemmBlocking& blocking = kernels.blocking();
    const mg::cpu::GemmBlocking derived = blocking;
    blocking.kc = 32;
    blocking.mc = 2 * derived.mr;
    blocking.nc = 2 * derived.nr;
    for (const GemmCase& c : gemm_cases()) {
      CAPTURE(c.m);
      CAPTURE(c.n);
      CAPTURE(c.k);
      CAPTURE(c.ta);
      CAPTURE(c.tb);
      for (int threads : {1, 3}) {
        mg::set_cpu_threads(threads);
        check_gemm<float>(c, 1e-5, kernels.sgemm);
      }
    }
    blocking = derived;
  }
  mg::set_cpu_threads(threads_before);
}

// Column segments (GemmArgs' seg_*): [S, R, L] read and written as [R, S*L]
// without a copy. The reference honours them; every instruction set's GEMM
// must give the reference's result and the result of the same product on
// copies laid out plainly. Segment lengths around the 32-column tile, so that
// tiles straddle segments.
TEST_CASE("every instruction set's GEMM reads and writes column segments as the plain layout") {
  using mg::cpu::Isa;
  const int64_t S = 3;
  for (int64_t L : {1, 7, 27, 32, 45}) {
    for (int64_t R : {5, 17}) {
      CAPTURE(L);
      CAPTURE(R);
      // C [M, S*L] = A [M, K] @ B [K, S*L], with B = bsl [S, K, L] and C = csl [S, M, L] segmented;
      // then A2 [M, S*L] segmented @ B2ᵀ for the k side (tests/gemm_segments.h).
      const int64_t M = R, K = 19;
      Vec a = random_values(static_cast<size_t>(M * K), 51), bsl = random_values(static_cast<size_t>(S * K * L), 52);
      const Vec b2v = random_values(static_cast<size_t>(R * S * L), 53);
      const std::vector<float> af(a.begin(), a.end()), bf(bsl.begin(), bsl.end()), b2(b2v.begin(), b2v.end());
      for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
        if (!mg::cpu::isa_supported(isa)) continue;
        CAPTURE(mg::cpu::isa_name(isa));
        const std::vector<float> c_seg = mg::test::check_segments_as_plain(
            [isa](const mg::GemmArgs& g) { mg::cpu::kernels_for(isa).sgemm(g); }, af, bf, b2, M, K, S, L, 0.5, 0.5f);
        // The reference with the same segments, in double.
        Tensor cref = mg::full({S, M, L}, 0.5, mg::DType::F64);
        mg::GemmArgs r;
        r.dtype = mg::DType::F64;
        r.m = M;
        r.n = S * L;
        r.k = K;
        r.beta = 0.5;
        Tensor ta = mg::from_vector(a, {M, K}).to(mg::DType::F64), tb = mg::from_vector(bsl, {S, K, L}).to(mg::DType::F64);
        r.a = ta.data_ptr();
        r.lda = K;
        r.b = tb.data_ptr();
        r.ldb = L;
        r.seg_b = L;
        r.seg_stride_b = K * L;
        r.c = cref.data_ptr();
        r.ldc = L;
        r.seg_c = L;
        r.seg_stride_c = M * L;
        mg::cpu::gemm_reference(r);
        const Vec want = cref.to_vector<double>();
        double worst = 0;
        for (size_t e = 0; e < want.size(); ++e) worst = std::max(worst, std::abs(c_seg[e] - want[e]) / (1 + std::abs(want[e])));
        CHECK(worst < 1e-5);
      }
    }
  }
}

TEST_CASE("the reference GEMM equals the direct product in float64") {
  for (const GemmCase& c : gemm_cases()) {
    CAPTURE(c.m);
    CAPTURE(c.n);
    CAPTURE(c.k);
    CAPTURE(c.ta);
    CAPTURE(c.tb);
    CAPTURE(c.batch);
    check_gemm<double>(c, 1e-13);
  }
}

TEST_CASE("matmul of transposed and strided views equals the hand product") {
  auto hand = [](const Tensor& a, const Tensor& b) {
    // Logical values of the views, then a plain triple loop per batch item.
    const bool batched = a.dim() == 3;
    const int64_t nb = batched ? a.size(0) : 1, M = a.size(-2), K = a.size(-1), N = b.size(-1);
    Vec av = a.to_vector<double>(), bv = b.to_vector<double>(), out;
    const int64_t b_stride = b.dim() == 3 ? K * N : 0;
    for (int64_t s = 0; s < nb; ++s)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double acc = 0.0;
          for (int64_t p = 0; p < K; ++p) acc += av[(s * M + i) * K + p] * bv[s * b_stride + p * N + j];
          out.push_back(acc);
        }
    return out;
  };
  auto check = [&](const Tensor& a, const Tensor& b, double tol) {
    Tensor y = mg::matmul(a, b);
    Shape want = a.dim() == 3 ? Shape{a.size(0), a.size(1), b.size(-1)} : Shape{a.size(0), b.size(-1)};
    CHECK(y.shape() == want);
    check_close(y, hand(a, b), tol, tol);
  };
  Tensor x7x5 = tensor(random_values(35, 31), {7, 5});
  Tensor x14x4 = tensor(random_values(56, 32), {14, 4});
  Tensor x5x9 = tensor(random_values(45, 33), {5, 9});
  Tensor x4x7 = tensor(random_values(28, 34), {4, 7});
  Tensor x5x14 = tensor(random_values(70, 35), {5, 14});

  SUBCASE("2-d") {
    check(x7x5.transpose(0, 1), x14x4.slice(0, 0, 14, 2), 1e-13);  // column-major @ every other row
    check(x5x9.slice(1, 1, 8), x4x7.transpose(0, 1), 1e-13);       // ld > width @ column-major
    check(x5x14.slice(1, 0, 14, 2), x4x7.transpose(0, 1), 1e-13);  // column step: needs a copy
    check(x7x5.to(DType::F32).transpose(0, 1), x4x7.to(DType::F32).transpose(0, 1), 1e-5);
  }
  SUBCASE("batched") {
    Tensor a = tensor(random_values(105, 36), {3, 5, 7});
    Tensor bt = tensor(random_values(84, 37), {3, 4, 7});
    check(a, bt.transpose(1, 2), 1e-13);
    check(tensor(random_values(105, 38), {5, 3, 7}).permute({1, 0, 2}), bt.transpose(1, 2), 1e-13);
    check(tensor(random_values(35, 39), {1, 5, 7}).expand({3, 5, 7}), bt.transpose(1, 2), 1e-13);  // batch stride 0
    check(a, x4x7.transpose(0, 1), 1e-13);                                                        // shared weight
    check(a.slice(0, 0, 3, 2), bt.slice(0, 0, 3, 2).transpose(1, 2), 1e-13);  // every other batch item
  }
  SUBCASE("large enough for the blocked kernel") {
    Tensor a = tensor(random_values(40 * 70, 40), {70, 40});
    Tensor b = tensor(random_values(50 * 40, 41), {50, 40});
    check(a, b.transpose(0, 1), 1e-12);
    check(a.slice(0, 1, 70, 3), b.transpose(0, 1), 1e-12);
  }
  SUBCASE("errors") {
    CHECK_THROWS_AS(mg::matmul(x7x5, x7x5), mg::Error);
    CHECK_THROWS_AS(mg::matmul(x7x5, tensor(random_values(20, 1), {2, 5, 2})), mg::Error);
    CHECK_THROWS_AS(mg::matmul(tensor(random_values(10, 1), {2, 1, 5}), tensor(random_values(15, 1), {3, 5, 1})),
                    mg::Error);
  }
}

TEST_CASE("conv1d equals a direct convolution") {
  const ConvCase cases[] = {
      {2, 3, 10, 4, 3, 1, 0, 0, 1, true},  {2, 3, 11, 4, 3, 2, 2, 1, 1, true}, {1, 2, 13, 3, 4, 3, 0, 2, 2, false},
      {3, 1, 7, 2, 5, 1, 4, 4, 1, true},   {1, 4, 9, 2, 1, 2, 0, 0, 1, true},  {2, 2, 6, 3, 3, 1, 1, 3, 2, true},
      {2, 8, 64, 16, 5, 1, 2, 2, 1, true},  // large enough for the blocked GEMM
  };
  for (const ConvCase& c : cases) {
    CAPTURE(c.L);
    CAPTURE(c.K);
    CAPTURE(c.stride);
    CAPTURE(c.pad_left);
    CAPTURE(c.pad_right);
    CAPTURE(c.dilation);
    Vec x = random_values(static_cast<size_t>(c.B * c.Cin * c.L), 11);
    Vec w = random_values(static_cast<size_t>(c.Cout * c.Cin * c.K), 12);
    Vec bias = random_values(static_cast<size_t>(c.Cout), 13);
    int64_t T = 0;
    Vec want = conv1d_direct(x, w, bias, c, T);
    for (DType dt : {DType::F64, DType::F32}) {
      Tensor y = mg::conv1d(tensor(x, {c.B, c.Cin, c.L}, dt), tensor(w, {c.Cout, c.Cin, c.K}, dt),
                            c.bias ? tensor(bias, {c.Cout}, dt) : Tensor(),
                            mg::Conv1dOptions{c.stride, c.pad_left, c.pad_right, c.dilation});
      REQUIRE(y.shape() == Shape{c.B, c.Cout, T});
      const double tol = dt == DType::F64 ? 1e-12 : 1e-5;
      check_close(y, want, tol, tol);
    }
  }
  // A non-contiguous input is read through its strides.
  ConvCase c{2, 3, 8, 2, 3, 1, 1, 1, 1, true};
  Vec x = random_values(48, 14), w = random_values(18, 15), bias = random_values(2, 16);
  Tensor xt = tensor(x, {2, 3, 8}).transpose(1, 2).contiguous().transpose(1, 2);
  REQUIRE_FALSE(xt.is_contiguous());
  int64_t T = 0;
  Vec want = conv1d_direct(x, w, bias, c, T);
  check_close(mg::conv1d(xt, tensor(w, {2, 3, 3}), tensor(bias, {2}), mg::Conv1dOptions::symmetric(1)), want, 1e-12,
              1e-12);

  CHECK_THROWS_AS(mg::conv1d(tensor(x, {2, 3, 8}), tensor(random_values(24, 1), {2, 4, 3}), Tensor(), {}), mg::Error);
  CHECK_THROWS_AS(mg::conv1d(tensor(x, {2, 3, 8}), tensor(random_values(54, 1), {2, 3, 9}), Tensor(), {}), mg::Error);
}

TEST_CASE("Conv1dOptions::same gives ceil(L / stride) outputs with the extra pad on the right") {
  const int64_t table[][4] = {  // L, K, stride, dilation
      {10, 3, 1, 1}, {10, 4, 2, 1}, {9, 4, 2, 1}, {7, 5, 3, 1}, {1, 3, 2, 1}, {16, 2, 4, 1},
      {10, 3, 1, 2}, {5, 7, 1, 1},  {8, 1, 3, 1}, {11, 6, 2, 3}, {4, 4, 4, 1}, {13, 2, 5, 2}};
  for (const auto& r : table) {
    const int64_t L = r[0], K = r[1], stride = r[2], dil = r[3];
    CAPTURE(L);
    CAPTURE(K);
    CAPTURE(stride);
    CAPTURE(dil);
    mg::Conv1dOptions o = mg::Conv1dOptions::same(L, K, stride, dil);
    CHECK(o.stride == stride);
    CHECK(o.dilation == dil);
    const int64_t want = (L + stride - 1) / stride;
    // Floor division: a padded input shorter than the dilated kernel has no outputs.
    auto out_len = [&](int64_t total) {
      const int64_t span = L + total - dil * (K - 1) - 1;
      return span < 0 ? 0 : span / stride + 1;
    };
    const int64_t total = o.pad_left + o.pad_right;
    CHECK(out_len(total) == want);
    // Minimal padding, split evenly with any odd element on the right (TensorFlow).
    if (total > 0) CHECK(out_len(total - 1) < want);
    CHECK(o.pad_left >= 0);
    CHECK(o.pad_right - o.pad_left >= 0);
    CHECK(o.pad_right - o.pad_left <= 1);
    Tensor y = mg::conv1d(mg::ones({1, 1, L}), mg::ones({1, 1, K}), Tensor(), o);
    CHECK(y.shape() == Shape{1, 1, want});
  }
}

TEST_CASE("conv1d rejects a kernel longer than the padded input") {
  // Padded lengths 2 and 3 against a kernel spanning 3 and 5: no output fits,
  // whatever the stride.
  for (int64_t stride : {1, 2, 3}) {
    CAPTURE(stride);
    CHECK_THROWS_AS(mg::conv1d(mg::ones({1, 1, 1}), mg::ones({1, 1, 3}), Tensor(), {stride, 0, 1, 1}), mg::Error);
    CHECK_THROWS_AS(mg::conv1d(mg::ones({1, 1, 2}), mg::ones({1, 1, 3}), Tensor(), {stride, 1, 0, 2}), mg::Error);
  }
}

TEST_CASE("conv_transpose1d equals a direct scatter") {
  const ConvTCase cases[] = {
      {2, 3, 5, 4, 3, 2, 1, 1, 1, true}, {1, 2, 4, 3, 3, 1, 1, 0, 2, false}, {2, 2, 6, 3, 4, 3, 2, 2, 1, true},
      {1, 3, 5, 2, 3, 3, 0, 2, 2, true}, {2, 4, 7, 3, 1, 2, 0, 1, 1, true},  {2, 3, 9, 2, 5, 1, 2, 0, 1, true},
      {2, 16, 40, 8, 4, 2, 1, 0, 1, true},  // large enough for the blocked GEMM
  };
  for (const ConvTCase& c : cases) check_conv_transpose(c);
  CHECK_THROWS_AS(mg::conv_transpose1d(mg::ones({1, 2, 4}), mg::ones({2, 3, 3}), Tensor(), 2, 0, 2), mg::Error);
  CHECK_THROWS_AS(mg::conv_transpose1d(mg::ones({1, 2, 4}), mg::ones({3, 3, 3}), Tensor(), 1, 0), mg::Error);
}

TEST_CASE("conv_transpose1d accepts output_padding up to max(stride, dilation) - 1") {
  // PyTorch allows output_padding < max(stride, dilation), and so does the
  // argument check; the output gains output_padding positions on the right.
  check_conv_transpose({1, 2, 5, 3, 3, 1, 0, 1, 2, true});
  check_conv_transpose({2, 2, 4, 2, 3, 2, 1, 2, 3, false});
}

TEST_CASE("instance_norm1d and batch_norm1d equal the hand formulas") {
  const int64_t N = 4, C = 3, L = 5;
  Vec x = random_values(N * C * L, 51, -2.0, 3.0);
  Vec w = {0.5, -1.25, 2.0}, b = {0.1, 0.0, -0.3};
  const double eps = 1e-3;
  auto at = [&](int64_t n, int64_t c, int64_t l) { return x[static_cast<size_t>((n * C + c) * L + l)]; };

  SUBCASE("instance norm: statistics per (n, c) over L") {
    Vec want(x.size()), want_plain(x.size());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        double mu = 0.0, var = 0.0;
        for (int64_t l = 0; l < L; ++l) mu += at(n, c, l) / L;
        for (int64_t l = 0; l < L; ++l) var += (at(n, c, l) - mu) * (at(n, c, l) - mu) / L;
        for (int64_t l = 0; l < L; ++l) {
          const double xh = (at(n, c, l) - mu) / std::sqrt(var + eps);
          want[static_cast<size_t>((n * C + c) * L + l)] = xh * w[c] + b[c];
          want_plain[static_cast<size_t>((n * C + c) * L + l)] = xh;
        }
      }
    check_close(mg::instance_norm1d(tensor(x, {N, C, L}), tensor(w, {C}), tensor(b, {C}), eps), want, 1e-12, 1e-12);
    check_close(mg::instance_norm1d(tensor(x, {N, C, L}), Tensor(), Tensor(), eps), want_plain, 1e-12, 1e-12);
    check_close(mg::instance_norm1d(tensor(x, {N, C, L}, DType::F32), tensor(w, {C}, DType::F32),
                                    tensor(b, {C}, DType::F32), eps),
                want, 1e-5, 1e-5);
  }

  SUBCASE("batch norm: statistics per channel over (N, L); running averages") {
    Vec mu(C, 0.0), var(C, 0.0), want(x.size());
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t n = 0; n < N; ++n)
        for (int64_t l = 0; l < L; ++l) mu[c] += at(n, c, l) / (N * L);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t l = 0; l < L; ++l) var[c] += (at(n, c, l) - mu[c]) * (at(n, c, l) - mu[c]) / (N * L);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t l = 0; l < L; ++l)
          want[static_cast<size_t>((n * C + c) * L + l)] = (at(n, c, l) - mu[c]) / std::sqrt(var[c] + eps) * w[c] + b[c];
    }
    for (DType dt : {DType::F64, DType::F32}) {
      INFO(mg::dtype_name(dt));
      const double tol = dt == DType::F64 ? 1e-12 : 1e-5;
      Vec rm0 = {0.1, -0.2, 0.3}, rv0 = {1.0, 0.5, 2.0};
      Tensor rm = tensor(rm0, {C}, dt), rv = tensor(rv0, {C}, dt);
      const double momentum = 0.1, unbias = static_cast<double>(N * L) / (N * L - 1);
      Tensor y = mg::batch_norm1d(tensor(x, {N, C, L}, dt), tensor(w, {C}, dt), tensor(b, {C}, dt), rm, rv, true,
                                  momentum, eps);
      check_close(y, want, tol, tol);
      Vec rm1(C), rv1(C);
      for (int64_t c = 0; c < C; ++c) {
        rm1[c] = (1 - momentum) * rm0[c] + momentum * mu[c];
        rv1[c] = (1 - momentum) * rv0[c] + momentum * var[c] * unbias;
      }
      check_close(rm, rm1, tol, tol);
      check_close(rv, rv1, tol, tol);
      // A second step moves them again from where they are.
      mg::batch_norm1d(tensor(x, {N, C, L}, dt), Tensor(), Tensor(), rm, rv, true, momentum, eps);
      for (int64_t c = 0; c < C; ++c) {
        rm1[c] = (1 - momentum) * rm1[c] + momentum * mu[c];
        rv1[c] = (1 - momentum) * rv1[c] + momentum * var[c] * unbias;
      }
      check_close(rm, rm1, tol, tol);
      check_close(rv, rv1, tol, tol);
    }
  }

  SUBCASE("batch norm eval: the given running statistics") {
    Vec rm = {0.4, -1.0, 0.0}, rv = {0.25, 4.0, 1.5};
    Vec want(x.size());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t l = 0; l < L; ++l)
          want[static_cast<size_t>((n * C + c) * L + l)] = (at(n, c, l) - rm[c]) / std::sqrt(rv[c] + eps) * w[c] + b[c];
    Tensor trm = tensor(rm, {C}), trv = tensor(rv, {C});
    check_close(mg::batch_norm1d(tensor(x, {N, C, L}), tensor(w, {C}), tensor(b, {C}), trm, trv, false, 0.1, eps), want,
                1e-12, 1e-12);
    CHECK(trm.to_vector<double>() == rm);  // eval never updates them
    CHECK(trv.to_vector<double>() == rv);
    CHECK_THROWS_AS(mg::batch_norm1d(tensor(x, {N, C, L}), Tensor(), Tensor(), Tensor(), Tensor(), false, 0.1, eps),
                    mg::Error);
  }
}

TEST_CASE("lstm_cell equals the textbook equations (gate order i, f, g, o)") {
  const int64_t B = 3, I = 4, H = 5;
  Vec x = random_values(B * I, 61), h0 = random_values(B * H, 62), c0 = random_values(B * H, 63, -2, 2);
  Vec wih = random_values(4 * H * I, 64), whh = random_values(4 * H * H, 65), bias = random_values(4 * H, 66);
  for (bool with_bias : {true, false}) {
    Vec want_h(B * H), want_c(B * H);
    for (int64_t b = 0; b < B; ++b) {
      Vec gates(4 * H);
      for (int64_t r = 0; r < 4 * H; ++r) {
        double acc = with_bias ? bias[r] : 0.0;
        for (int64_t i = 0; i < I; ++i) acc += x[b * I + i] * wih[r * I + i];
        for (int64_t j = 0; j < H; ++j) acc += h0[b * H + j] * whh[r * H + j];
        gates[r] = acc;
      }
      for (int64_t j = 0; j < H; ++j) {
        const double ig = sigmoid(gates[j]), fg = sigmoid(gates[H + j]);
        const double gg = std::tanh(gates[2 * H + j]), og = sigmoid(gates[3 * H + j]);
        want_c[b * H + j] = fg * c0[b * H + j] + ig * gg;
        want_h[b * H + j] = og * std::tanh(want_c[b * H + j]);
      }
    }
    for (DType dt : {DType::F64, DType::F32}) {
      CAPTURE(with_bias);
      INFO(mg::dtype_name(dt));
      auto [h, c] = mg::lstm_cell(tensor(x, {B, I}, dt), tensor(h0, {B, H}, dt), tensor(c0, {B, H}, dt),
                                  tensor(wih, {4 * H, I}, dt), tensor(whh, {4 * H, H}, dt),
                                  with_bias ? tensor(bias, {4 * H}, dt) : Tensor());
      const double tol = dt == DType::F64 ? 1e-12 : 1e-5;
      CHECK(h.shape() == Shape{B, H});
      check_close(h, want_h, tol, tol);
      check_close(c, want_c, tol, tol);
    }
  }
}

TEST_CASE("softmax and log_softmax: normalised, and stable for large logits") {
  const Vec x = {1000, 999, 998, -1000, 0,  //
                 0.5, -1.5, 2.0, 0.25, -3,  //
                 -1000, -1001, -999, -1000, -1000};
  for (DType dt : {DType::F64, DType::F32}) {
    INFO(mg::dtype_name(dt));
    const double tol = dt == DType::F64 ? 1e-14 : 1e-6;
    Vec want_p, want_lp;
    for (int r = 0; r < 3; ++r) {
      const double* row = x.data() + r * 5;
      const double mx = *std::max_element(row, row + 5);
      double s = 0.0;
      for (int j = 0; j < 5; ++j) s += std::exp(row[j] - mx);
      for (int j = 0; j < 5; ++j) {
        want_p.push_back(std::exp(row[j] - mx) / s);
        want_lp.push_back(row[j] - mx - std::log(s));
      }
    }
    Tensor p = mg::softmax(tensor(x, {3, 5}, dt));
    Tensor lp = mg::log_softmax(tensor(x, {3, 5}, dt));
    check_close(p, want_p, tol, tol);
    check_close(lp, want_lp, tol, dt == DType::F64 ? 1e-12 : 1e-4);
    Vec pv = p.to_vector<double>(), lv = lp.to_vector<double>();
    for (int r = 0; r < 3; ++r) {
      double s = 0.0, se = 0.0;
      for (int j = 0; j < 5; ++j) {
        CHECK(std::isfinite(pv[r * 5 + j]));
        CHECK(std::isfinite(lv[r * 5 + j]));
        s += pv[r * 5 + j];
        se += std::exp(lv[r * 5 + j]);
      }
      CHECK(std::abs(s - 1.0) < 1e-6);
      CHECK(std::abs(std::log(se)) < 1e-6);  // logsumexp of log_softmax is 0
    }
  }
  // Over dim 0: each column sums to 1.
  Tensor cols = mg::softmax(tensor(x, {3, 5}), 0);
  Vec cv = cols.to_vector<double>();
  for (int j = 0; j < 5; ++j) CHECK(std::abs(cv[j] + cv[5 + j] + cv[10 + j] - 1.0) < 1e-12);
  CHECK(std::abs(cv[0] - 1.0) < 1e-12);  // 1000 against 0.5 and -1000
}

TEST_CASE("cross_entropy equals mean(logsumexp(row) - row[target])") {
  const int64_t N = 4, C = 5;
  Vec logits = random_values(N * C, 71, -3, 3);
  std::vector<int64_t> targets = {0, 3, 1, 4};
  double want = 0.0;
  for (int64_t r = 0; r < N; ++r) {
    double s = 0.0;
    for (int64_t j = 0; j < C; ++j) s += std::exp(logits[r * C + j]);
    want += (std::log(s) - logits[r * C + targets[r]]) / N;
  }
  Tensor t = mg::from_vector(targets, {N});
  CHECK(mg::cross_entropy(tensor(logits, {N, C}), t).item() == doctest::Approx(want).epsilon(1e-12));
  CHECK(mg::cross_entropy(tensor(logits, {N, C}, DType::F32), t).item() == doctest::Approx(want).epsilon(1e-5));

  // Large logits: loss of the wrong class is the logit gap, not inf.
  Tensor big = mg::from_vector(Vec{1000, 0, -1000, 1000}, {2, 2});
  CHECK(mg::cross_entropy(big, mg::from_vector(std::vector<int64_t>{1, 0}, {2})).item() ==
        doctest::Approx(1500.0).epsilon(1e-12));

  CHECK_THROWS_AS(mg::cross_entropy(tensor(logits, {N, C}), mg::from_vector(std::vector<int64_t>{0, 5, 1, 2}, {N})),
                  mg::Error);
  CHECK_THROWS_AS(mg::cross_entropy(tensor(logits, {N, C}), mg::from_vector(std::vector<int64_t>{0, 1, -1, 2}, {N})),
                  mg::Error);
  CHECK_THROWS_AS(mg::cross_entropy(tensor(logits, {N, C}), tensor(Vec{0, 1, 2, 3}, {N})), mg::Error);
}

TEST_CASE("binary_cross_entropy_with_logits: the naive formula, and finite at |x| = 100") {
  Vec x = random_values(12, 81, -5, 5), t = random_values(12, 82, 0, 1);
  double want = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double p = sigmoid(x[i]);
    want -= (t[i] * std::log(p) + (1 - t[i]) * std::log(1 - p)) / 12.0;
  }
  CHECK(mg::binary_cross_entropy_with_logits(tensor(x, {3, 4}), tensor(t, {3, 4})).item() ==
        doctest::Approx(want).epsilon(1e-12));
  CHECK(mg::binary_cross_entropy_with_logits(tensor(x, {3, 4}, DType::F32), tensor(t, {3, 4}, DType::F32)).item() ==
        doctest::Approx(want).epsilon(1e-5));

  // Confidently wrong costs |x|; confidently right costs e^-100 ~ 0.
  for (DType dt : {DType::F64, DType::F32}) {
    const double loss =
        mg::binary_cross_entropy_with_logits(tensor({100, -100, 100, -100}, {4}, dt), tensor({0, 1, 1, 0}, {4}, dt))
            .item();
    CHECK(std::isfinite(loss));
    CHECK(loss == doctest::Approx(50.0).epsilon(1e-6));
  }
  CHECK_THROWS_AS(mg::binary_cross_entropy_with_logits(mg::zeros({3}), mg::zeros({4})), mg::Error);
}

TEST_CASE("kl_normal and reparameterize") {
  const int64_t B = 2, Z = 3;
  Vec mu = random_values(B * Z, 91, -2, 2), sigma = random_values(B * Z, 92, 0.2, 3.0), logvar(B * Z);
  for (size_t i = 0; i < mu.size(); ++i) logvar[i] = 2.0 * std::log(sigma[i]);
  Vec want(B, 0.0);
  // KL(N(mu, s^2) || N(0, 1)) = log(1/s) + (s^2 + mu^2) / 2 - 1/2, per latent.
  for (int64_t b = 0; b < B; ++b)
    for (int64_t z = 0; z < Z; ++z) {
      const double m = mu[b * Z + z], s = sigma[b * Z + z];
      want[b] += std::log(1.0 / s) + (s * s + m * m) / 2.0 - 0.5;
    }
  Tensor kl = mg::kl_normal(tensor(mu, {B, Z}), tensor(logvar, {B, Z}));
  CHECK(kl.shape() == Shape{B});
  check_close(kl, want, 1e-12, 1e-12);
  check_close(mg::kl_normal(mg::zeros({B, Z}, DType::F64), mg::zeros({B, Z}, DType::F64)), Vec(B, 0.0), 0, 0);

  Tensor tmu = tensor(mu, {B, Z}), tlv = tensor(logvar, {B, Z});
  CHECK(mg::reparameterize(tmu, tlv, mg::zeros({B, Z}, DType::F64)).to_vector<double>() == mu);
  Vec eps = random_values(B * Z, 93), want_z(B * Z);
  for (size_t i = 0; i < mu.size(); ++i) want_z[i] = mu[i] + sigma[i] * eps[i];
  check_close(mg::reparameterize(tmu, tlv, tensor(eps, {B, Z})), want_z, 1e-12, 1e-12);
  CHECK_THROWS_AS(mg::reparameterize(tmu, tlv, mg::zeros({B, Z + 1}, DType::F64)), mg::Error);
}

TEST_CASE("dropout: drop rate, scaling, eval identity and seeded masks") {
  const int64_t n = 100000;
  const double p = 0.3;
  Tensor x = mg::ones({n});
  mg::manual_seed(5);
  Vec y = mg::dropout(x, p, true).to_vector<double>();
  int64_t zeros = 0;
  bool scaled = true;
  for (double v : y) {
    if (v == 0.0) ++zeros;
    else scaled = scaled && std::abs(v - 1.0 / (1.0 - p)) < 1e-6;
  }
  CHECK(scaled);
  CHECK(std::abs(static_cast<double>(zeros) / n - p) < 0.01);

  // The mask is the default stream's uniforms at the same counters: u >= p keeps.
  mg::manual_seed(5);
  Vec u = mg::rand({n}).to_vector<double>();
  int64_t disagree = 0;
  for (int64_t i = 0; i < n; ++i) disagree += (y[i] == 0.0) != (u[i] < p);
  CHECK(disagree == 0);

  mg::manual_seed(5);
  CHECK(mg::dropout(x, p, true).to_vector<double>() == y);
  mg::manual_seed(6);
  CHECK(mg::dropout(x, p, true).to_vector<double>() != y);

  Tensor r = tensor(random_values(20, 94), {4, 5});
  CHECK(mg::dropout(r, p, false).to_vector<double>() == r.to_vector<double>());
  CHECK(mg::dropout(r, 0.0, true).to_vector<double>() == r.to_vector<double>());
  CHECK_THROWS_AS(mg::dropout(r, 1.0, true), mg::Error);
  CHECK_THROWS_AS(mg::dropout(r, -0.1, true), mg::Error);
}

TEST_CASE("index_select picks rows") {
  Vec src = random_values(15, 101);  // [5, 3]
  Tensor s = tensor(src, {5, 3});
  std::vector<int64_t> idx = {4, 0, 4, 2};
  Vec want;
  for (int64_t i : idx)
    for (int j = 0; j < 3; ++j) want.push_back(src[i * 3 + j]);
  Tensor y = mg::index_select(s, mg::from_vector(idx, {4}));
  CHECK(y.shape() == Shape{4, 3});
  CHECK(y.to_vector<double>() == want);
  Tensor y2 = mg::index_select(s, mg::from_vector(idx, {2, 2}));
  CHECK(y2.shape() == Shape{2, 2, 3});
  CHECK(y2.to_vector<double>() == want);
  // A 1-d source: picks scalars.
  CHECK(mg::index_select(tensor({10, 20, 30}, {3}), mg::from_vector(std::vector<int64_t>{2, 2, 0}, {3}))
            .to_vector<double>() == Vec{30, 30, 10});
  CHECK_THROWS_AS(mg::index_select(s, mg::from_vector(std::vector<int64_t>{5}, {1})), mg::Error);
  CHECK_THROWS_AS(mg::index_select(s, mg::from_vector(std::vector<int64_t>{-1}, {1})), mg::Error);
  CHECK_THROWS_AS(mg::index_select(s, tensor({0}, {1})), mg::Error);
}

TEST_CASE("concat and stack") {
  Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3}), b = tensor({7, 8, 9, 10}, {2, 2});
  Tensor c1 = mg::concat({a, b}, 1);
  CHECK(c1.shape() == Shape{2, 5});
  CHECK(c1.to_vector<double>() == Vec{1, 2, 3, 7, 8, 4, 5, 6, 9, 10});
  Tensor f = tensor({-1, -2, -3, -4, -5, -6}, {3, 2}).transpose(0, 1);  // non-contiguous [2, 3]
  Tensor c0 = mg::concat({a, f, a.slice(0, 1, 2)}, 0);
  CHECK(c0.shape() == Shape{5, 3});
  CHECK(c0.to_vector<double>() == Vec{1, 2, 3, 4, 5, 6, -1, -3, -5, -2, -4, -6, 4, 5, 6});
  CHECK_THROWS_AS(mg::concat({a, b}, 0), mg::Error);
  CHECK_THROWS_AS(mg::concat({}, 0), mg::Error);

  Tensor s0 = mg::stack({a, a}, 0);
  CHECK(s0.shape() == Shape{2, 2, 3});
  CHECK(s0.to_vector<double>() == Vec{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6});
  Tensor d = tensor({-1, -2, -3, -4, -5, -6}, {2, 3});
  Tensor s2 = mg::stack({a, d}, -1);
  CHECK(s2.shape() == Shape{2, 3, 2});
  CHECK(s2.to_vector<double>() == Vec{1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6});
  Tensor s1 = mg::stack({a, d}, 1);
  CHECK(s1.shape() == Shape{2, 2, 3});
  CHECK(s1.to_vector<double>() == Vec{1, 2, 3, -1, -2, -3, 4, 5, 6, -4, -5, -6});
  CHECK_THROWS_AS(mg::stack({a, b}, 0), mg::Error);
}

TEST_CASE("sum and mean over dims equal hand loops") {
  const Shape shape = {2, 3, 4};
  Vec v = random_values(24, 111);
  const std::vector<std::vector<int64_t>> dim_sets = {{0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {1, 2}, {0, 1, 2}};
  for (bool transposed : {false, true}) {
    // The transposed case reduces a non-contiguous view of the same values.
    Tensor x = transposed ? tensor(v, shape).permute({2, 0, 1}).contiguous().permute({1, 2, 0}) : tensor(v, shape);
    REQUIRE(x.is_contiguous() != transposed);
    for (const auto& dims : dim_sets) {
      CAPTURE(transposed);
      CAPTURE(dims.size());
      CAPTURE(dims[0]);
      Shape kept;
      Vec want = sum_by_hand(v, shape, dims, kept);
      int64_t count = 1;
      for (int64_t d : dims) count *= shape[static_cast<size_t>(d < 0 ? d + 3 : d)];
      Vec want_mean = want;
      for (double& m : want_mean) m /= static_cast<double>(count);
      Shape dropped;
      for (size_t d = 0; d < 3; ++d)
        if (kept[d] != 1) dropped.push_back(shape[d]);

      Tensor s = mg::sum(x, dims), sk = mg::sum(x, dims, true), m = mg::mean(x, dims);
      CHECK(s.shape() == dropped);
      CHECK(sk.shape() == kept);
      check_close(s, want, 1e-14, 1e-14);
      check_close(sk, want, 1e-14, 1e-14);
      check_close(m, want_mean, 1e-14, 1e-14);
      check_close(mg::mean(x.to(DType::F32), dims, true), want_mean, 1e-6, 1e-6);
    }
  }
  double total = 0.0;
  for (double e : v) total += e;
  CHECK(mg::sum(tensor(v, shape)).item() == doctest::Approx(total).epsilon(1e-14));
  CHECK(mg::sum(tensor(v, shape)).dim() == 0);
  CHECK(mg::mean(tensor(v, shape).transpose(0, 2)).item() == doctest::Approx(total / 24).epsilon(1e-14));
  CHECK_THROWS_AS(mg::sum(tensor(v, shape), {3}), mg::Error);
}

TEST_CASE("a repeated dim in sum or mean is an error") {
  // Summing over dim 1 twice would divide the mean by size(1)^2; PyTorch rejects it.
  Tensor x = mg::ones({2, 3}, DType::F64);
  CHECK_THROWS_AS(mg::sum(x, {1, 1}), mg::Error);
  CHECK_THROWS_AS(mg::mean(x, {1, -1}), mg::Error);
}

TEST_CASE("argmax_rows takes the first maximum of each row") {
  Tensor x = tensor({0.5, 2.0, -1.0, 2.0,  //
                     -3.0, -2.0, -2.5, -7.0,  //
                     9.0, 1.0, 9.0, 9.0},
                    {3, 4});
  Tensor a = mg::argmax_rows(x);
  CHECK(a.dtype() == DType::I64);
  CHECK(a.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 0});
  // Columns of the transposed view: maxima at rows 2, 0, 2, 2 (first of ties).
  CHECK(mg::argmax_rows(x.transpose(0, 1)).to_vector<int64_t>() == std::vector<int64_t>{2, 0, 2, 2});
  CHECK(mg::argmax_rows(x.to(DType::F32)).to_vector<int64_t>() == std::vector<int64_t>{1, 1, 0});
  CHECK_THROWS_AS(mg::argmax_rows(tensor({1, 2, 3}, {3})), mg::Error);
}
