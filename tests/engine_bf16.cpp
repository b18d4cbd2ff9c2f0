// bf16 products with float32 sums (MatmulPrecision::Bf16, kernels/cpu/isa.h)
// against plain loops in double written here, which round the operands to
// bf16 the way the kernels are documented to: to nearest even, subnormals
// flushed to zero. Skipped where the CPU has no AVX512_BF16.
//
// Tolerances:
//  - operands that are exact in bf16 (8 significant bits): products are
//    exact in float32, so only the float32 sums round: |err| <= 2 k eps32 sum|a b|;
//  - any float32 operands: rounding each to bf16 moves it by at most 2^-9
//    of itself, so a product moves by at most 2^-8 (plus 2^-18) of itself:
//    |err| <= (2^-8 + 2^-17) sum|a b| + the float32 sums' bound;
//  - the fused LSTM layer is compared with a double layer that rounds h,
//    dgates and W_hh to bf16 at the same points; the two can round an
//    element on opposite sides of a tie, which moves a gate by 2^-8 of one
//    term, far below 1e-3, while a wrong layout is off by O(1).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/tensor.h"
#include "tests/gemm_segments.h"
#include "tests/test_support.h"

using Vec = std::vector<double>;

namespace {

// float32 -> bf16 -> float32: round to nearest even; subnormals to (signed) zero.
double bf16(double x) {
  float f = static_cast<float>(x);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

// True, with the case marked skipped, on a CPU without the instructions.
bool skipped_without_bf16() {
  const std::string why = mg::cpu_bf16_unsupported();
  if (why.empty()) return false;
  mg::test::skip("bf16 kernels not run: " + why);
  return true;
}

using mg::test::random_floats;

// Values with at most 8 significant bits (exact in bf16), |x| < 4.
std::vector<float> bf16_exact_floats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> mantissa(-255, 255), exponent(-8, -6);
  std::vector<float> v(n);
  for (float& x : v) x = std::ldexp(static_cast<float>(mantissa(gen)), exponent(gen));
  return v;
}

struct Gemm {
  int64_t m, n, k;
  bool ta, tb;
  double alpha, beta;
};

// C = alpha op(A) op(B) + beta C0 through the bf16 kernels; checks every
// element against the double product of the bf16-rounded operands within
// `rel` of sum |a b| (plus the float32 sums' bound); returns C.
std::vector<float> check_bf16_gemm(const Gemm& g, const std::vector<float>& a, const std::vector<float>& b,
                                   double rel) {
  std::vector<float> c0 = random_floats(static_cast<size_t>(g.m * g.n), 99);
  std::vector<float> c = c0;
  mg::GemmArgs args;
  args.m = g.m;
  args.n = g.n;
  args.k = g.k;
  args.trans_a = g.ta;
  args.trans_b = g.tb;
  args.a = a.data();
  args.lda = g.ta ? g.m : g.k;
  args.b = b.data();
  args.ldb = g.tb ? g.k : g.n;
  args.c = c.data();
  args.ldc = g.n;
  args.alpha = g.alpha;
  args.beta = g.beta;
  mg::cpu::bf16_kernels()->sgemm(args);
  const double eps32 = std::ldexp(1.0, -23);
  int misses = 0;
  for (int64_t i = 0; i < g.m && misses < 3; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      double sum = 0, mag = 0;
      for (int64_t p = 0; p < g.k; ++p) {
        const double av = bf16(g.ta ? a[p * g.m + i] : a[i * g.k + p]);
        const double bv = bf16(g.tb ? b[j * g.k + p] : b[p * g.n + j]);
        sum += av * bv;
        mag += std::abs(av * bv);
      }
      const double want = g.alpha * sum + g.beta * c0[i * g.n + j];
      const double tol = std::abs(g.alpha) * (rel + 2.0 * g.k * eps32) * mag +
                         4 * eps32 * (std::abs(want) + std::abs(g.beta * c0[i * g.n + j])) + 1e-30;
      if (!(std::abs(c[i * g.n + j] - want) <= tol)) {
        FAIL_CHECK("C[" << i << "][" << j << "]: got " << c[i * g.n + j] << ", want " << want << " (tolerance " << tol
                        << ")");
        if (++misses >= 3) break;
      }
    }
  return c;
}

std::vector<Gemm> gemm_shapes() {
  // Around the 14 x 32 tile, the half-height edge, odd k (a pair with an
  // empty high half), k past one KC slice, and the LSTM shapes.
  return {{1, 1, 1, false, false, 1, 0},    {3, 5, 7, false, true, 1, 0},      {14, 32, 16, true, false, 1, 0},
          {15, 33, 17, true, true, 0.5, 1}, {7, 64, 2, false, false, -2, 0.5}, {30, 100, 1201, false, true, 1, 1},
          {97, 45, 300, true, true, 1, 0},  {256, 117, 256, false, true, 1, 0}, {40, 2048, 64, false, false, 1, -1},
          {2, 40, 9001, true, false, 1, 0}};
}

}  // namespace

TEST_CASE("bf16 GEMM is exact up to float32 sums on operands bf16 holds exactly") {
  if (skipped_without_bf16()) return;
  const int threads_before = mg::cpu_threads();
  for (const Gemm& g : gemm_shapes()) {
    CAPTURE(g.m);
    CAPTURE(g.n);
    CAPTURE(g.k);
    CAPTURE(g.ta);
    CAPTURE(g.tb);
    const std::vector<float> a = bf16_exact_floats(static_cast<size_t>(g.m * g.k), 1);
    const std::vector<float> b = bf16_exact_floats(static_cast<size_t>(g.k * g.n), 2);
    mg::set_cpu_threads(1);
    const std::vector<float> one = check_bf16_gemm(g, a, b, 0.0);
    mg::set_cpu_threads(3);
    const std::vector<float> three = check_bf16_gemm(g, a, b, 0.0);
    CHECK(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)) == 0);
  }
  mg::set_cpu_threads(threads_before);
}

TEST_CASE("bf16 GEMM is within bf16 rounding of the exact product on any float32 operands") {
  if (skipped_without_bf16()) return;
  // Including magnitudes that round up to the next binade and subnormals that flush.
  for (const Gemm& g : gemm_shapes()) {
    CAPTURE(g.m);
    CAPTURE(g.n);
    CAPTURE(g.k);
    std::vector<float> a = random_floats(static_cast<size_t>(g.m * g.k), 3, 3.0f);
    std::vector<float> b = random_floats(static_cast<size_t>(g.k * g.n), 4, 0.5f);
    a[0] = 1.99999f;
    if (a.size() > 1) a[1] = 1e-39f;
    check_bf16_gemm(g, a, b, std::ldexp(1.0, -8) + std::ldexp(1.0, -17));
  }
}

TEST_CASE("bf16 GEMM with tiny cache blocks: many row blocks, k slices and column blocks") {
  if (skipped_without_bf16()) return;
  mg::cpu::GemmBlocking& blocking = mg::cpu::bf16_kernels()->blocking();
  const mg::cpu::GemmBlocking derived = blocking;
  blocking.kc = 32;
  blocking.mc = 2 * derived.mr;
  blocking.nc = 2 * derived.nr;
  for (const Gemm& g : gemm_shapes()) {
    CAPTURE(g.m);
    CAPTURE(g.n);
    CAPTURE(g.k);
    check_bf16_gemm(g, bf16_exact_floats(static_cast<size_t>(g.m * g.k), 5),
                    bf16_exact_floats(static_cast<size_t>(g.k * g.n), 6), 0.0);
  }
  blocking = derived;
}

TEST_CASE("matmul under MatmulPrecision::Bf16 uses bf16 products, while float64 and the default stay exact") {
  if (skipped_without_bf16()) return;
  // 1 + 2^-12 is not a bf16 value: bf16 products lose it, float32 ones keep it.
  const mg::Tensor a = mg::full({4, 8}, 1.0 + std::ldexp(1.0, -12));
  const mg::Tensor b = mg::full({8, 4}, 1.0);
  const double exact = 8 * (1.0 + std::ldexp(1.0, -12));
  CHECK(mg::matmul(a, b).to_vector<double>()[0] == doctest::Approx(exact).epsilon(1e-7));
  mg::set_matmul_precision(mg::MatmulPrecision::Bf16);
  CHECK(mg::matmul(a, b).to_vector<double>()[0] == 8.0);
  CHECK(mg::matmul(a.to(mg::DType::F64), b.to(mg::DType::F64)).to_vector<double>()[0] == exact);
  mg::set_matmul_precision(mg::MatmulPrecision::Fp32);
  CHECK(mg::matmul(a, b).to_vector<double>()[0] == doctest::Approx(exact).epsilon(1e-7));
}

TEST_CASE("asking for bf16 products on a CPU without AVX512_BF16 is an error naming the instructions") {
  const std::string why = mg::cpu_bf16_unsupported();
  if (why.empty()) {
    CHECK_NOTHROW(mg::set_matmul_precision(mg::MatmulPrecision::Bf16));
    mg::set_matmul_precision(mg::MatmulPrecision::Fp32);
    return;
  }
  CHECK(why.find("AVX512_BF16") != std::string::npos);
  CHECK_THROWS_WITH(mg::set_matmul_precision(mg::MatmulPrecision::Bf16), doctest::Contains("AVX512_BF16"));
  CHECK(mg::matmul_precision() == mg::MatmulPrecision::Fp32);
}

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// One layer forward and backward in double, with the recurrent products'
// operands rounded by `round` (bf16 or the identity).
struct LstmReference {
  Vec hs, cs, dgates, dh0, dc0;
};

template <typename Round>
LstmReference lstm_reference(int64_t T, int64_t B, int64_t H, const std::vector<float>& xproj,
                             const std::vector<float>& w, const std::vector<float>& h0, const std::vector<float>& c0,
                             const std::vector<float>& g_hs, Round round) {
  const int64_t G = 4 * H;
  LstmReference r;
  r.hs.assign(static_cast<size_t>(T * B * H), 0);
  r.cs = r.hs;
  Vec acts(static_cast<size_t>(T * B * G));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < H; ++j) {
        double g[4];
        for (int q = 0; q < 4; ++q) {
          double s = xproj[(t * B + b) * G + q * H + j];
          for (int64_t p = 0; p < H; ++p) {
            const double h = t == 0 ? h0[b * H + p] : r.hs[((t - 1) * B + b) * H + p];
            s += round(h) * round(w[(q * H + j) * H + p]);
          }
          g[q] = s;
        }
        const double i = sigmoid(g[0]), f = sigmoid(g[1]), gg = std::tanh(g[2]), o = sigmoid(g[3]);
        const double cp = t == 0 ? c0[b * H + j] : r.cs[((t - 1) * B + b) * H + j];
        const double c = f * cp + i * gg;
        r.cs[(t * B + b) * H + j] = c;
        r.hs[(t * B + b) * H + j] = o * std::tanh(c);
        double* a = &acts[(t * B + b) * G];
        a[j] = i;
        a[H + j] = f;
        a[2 * H + j] = gg;
        a[3 * H + j] = o;
      }
    }
  r.dgates.assign(acts.size(), 0);
  Vec dh_next(static_cast<size_t>(B * H), 0), dc(static_cast<size_t>(B * H), 0);
  for (int64_t t = T - 1; t >= 0; --t)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        const double* a = &acts[(t * B + b) * G];
        const double c = r.cs[(t * B + b) * H + j], tc = std::tanh(c);
        const double cp = t == 0 ? c0[b * H + j] : r.cs[((t - 1) * B + b) * H + j];
        double dh = g_hs[(t * B + b) * H + j];
        if (t + 1 < T)
          for (int64_t k = 0; k < G; ++k) dh += round(r.dgates[((t + 1) * B + b) * G + k]) * round(w[k * H + j]);
        double& dcj = dc[b * H + j];
        dcj += dh * a[3 * H + j] * (1 - tc * tc);
        double* dg = &r.dgates[(t * B + b) * G];
        dg[j] = dcj * a[2 * H + j] * a[j] * (1 - a[j]);
        dg[H + j] = dcj * cp * a[H + j] * (1 - a[H + j]);
        dg[2 * H + j] = dcj * a[j] * (1 - a[2 * H + j] * a[2 * H + j]);
        dg[3 * H + j] = dh * tc * a[3 * H + j] * (1 - a[3 * H + j]);
        dcj *= a[H + j];
      }
  r.dh0.assign(static_cast<size_t>(B * H), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j)
      for (int64_t k = 0; k < G; ++k) r.dh0[b * H + j] += round(r.dgates[b * G + k]) * round(w[k * H + j]);
  r.dc0 = dc;
  return r;
}

void check_close(const std::vector<float>& got, const Vec& want, double tol, const char* what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])))) {
      FAIL_CHECK(what << "[" << i << "]: got " << got[i] << ", want " << want[i]);
      return;
    }
}

}  // namespace

TEST_CASE("fused bf16 LSTM layer equals T steps in double with h, dgates and W_hh rounded to bf16") {
  if (skipped_without_bf16()) return;
  const int threads_before = mg::cpu_threads();
  struct Shape {
    int64_t T, B, H;
  };
  // Batches around the 14-row tiles and bands, hidden sizes around the 32-unit blocks.
  for (const Shape& s : {Shape{1, 5, 16}, Shape{3, 15, 34}, Shape{4, 30, 64}, Shape{2, 1, 2}, Shape{2, 60, 40}}) {
    CAPTURE(s.T);
    CAPTURE(s.B);
    CAPTURE(s.H);
    const int64_t T = s.T, B = s.B, H = s.H, G = 4 * H;
    const std::vector<float> xproj = random_floats(static_cast<size_t>(T * B * G), 11);
    const std::vector<float> w = random_floats(static_cast<size_t>(G * H), 12, 1.0f / std::sqrt(float(H)));
    const std::vector<float> h0 = random_floats(static_cast<size_t>(B * H), 13);
    const std::vector<float> c0 = random_floats(static_cast<size_t>(B * H), 14);
    const std::vector<float> g_hs = random_floats(static_cast<size_t>(T * B * H), 15);
    const LstmReference want = lstm_reference(T, B, H, xproj, w, h0, c0, g_hs, bf16);
    std::vector<std::vector<float>> runs;
    for (int threads : {1, 3}) {
      mg::set_cpu_threads(threads);
      std::vector<float> hs(static_cast<size_t>(T * B * H), NAN), cs = hs, acts(static_cast<size_t>(T * B * G), NAN);
      std::vector<float> dgates = acts, dh0(static_cast<size_t>(B * H), NAN), dc0 = dh0;
      mg::cpu::LstmForward f;
      f.T = T;
      f.B = B;
      f.H = H;
      f.xproj = xproj.data();
      f.w_hh = w.data();
      f.h0 = h0.data();
      f.c0 = c0.data();
      f.hs = hs.data();
      f.cs = cs.data();
      f.acts = acts.data();
      mg::cpu::bf16_kernels()->lstm_forward(f);
      mg::cpu::LstmBackward g;
      g.T = T;
      g.B = B;
      g.H = H;
      g.w_hh = w.data();
      g.acts = acts.data();
      g.cs = cs.data();
      g.c0 = c0.data();
      g.g_hs = g_hs.data();
      g.g_hs_stride_t = B * H;
      g.g_hs_stride_b = H;
      g.dgates = dgates.data();
      g.dh0 = dh0.data();
      g.dc0 = dc0.data();
      mg::cpu::bf16_kernels()->lstm_backward(g);
      check_close(hs, want.hs, 1e-3, "hs");
      check_close(cs, want.cs, 1e-3, "cs");
      check_close(dgates, want.dgates, 1e-3, "dgates");
      check_close(dh0, want.dh0, 1e-3, "dh0");
      check_close(dc0, want.dc0, 1e-3, "dc0");
      hs.insert(hs.end(), dgates.begin(), dgates.end());
      hs.insert(hs.end(), dh0.begin(), dh0.end());
      runs.push_back(hs);
    }
    CHECK(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * sizeof(float)) == 0);
    // And the rounding matters: the float32 layer (no rounding) is further from this reference.
    const LstmReference exact = lstm_reference(T, B, H, xproj, w, h0, c0, g_hs, [](double x) { return x; });
    double moved = 0;
    for (size_t i = 0; i < exact.hs.size(); ++i) moved = std::max(moved, std::abs(exact.hs[i] - want.hs[i]));
    CHECK(moved > 1e-5);
  }
  mg::set_cpu_threads(threads_before);
}

TEST_CASE("bf16 GEMM reads and writes column segments as the plain layout") {
  if (skipped_without_bf16()) return;
  const int64_t S = 3, K = 21;  // odd k: a pair straddles two runs of an odd segment
  for (int64_t L : {1, 7, 27, 45}) {
    CAPTURE(L);
    const int64_t M = 17;
    const std::vector<float> a = random_floats(static_cast<size_t>(M * K), 61);
    const std::vector<float> bsl = random_floats(static_cast<size_t>(S * K * L), 62);
    // The k side's odd segments put a bf16 pair across two runs.
    const std::vector<float> b2 = random_floats(static_cast<size_t>(M * S * L), 63);
    mg::test::check_segments_as_plain([](const mg::GemmArgs& g) { mg::cpu::bf16_kernels()->sgemm(g); }, a, bsl, b2,
                                      M, K, S, L, 1.0, 0.25f);
  }
}
