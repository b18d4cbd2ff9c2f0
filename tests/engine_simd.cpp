// The fast CPU kernels of every instruction set this machine can run (see
// kernels/cpu/isa.h) against independent plain loops: the fused LSTM layer
// against T textbook steps in double precision, the vectorised LSTM cell
// against the reference loops, and the thread pool they run on.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"
#include "kernels/pointwise.h"
#include "tensor/backend.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"
#include "tests/test_support.h"

using mg::cpu::Isa;
using Vec = std::vector<double>;

namespace {

std::vector<Isa> runnable_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (mg::cpu::isa_supported(isa)) out.push_back(isa);
  return out;
}

using mg::test::random_floats;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// |got - want| <= atol + rtol |want| everywhere; reports the first miss.
void check_close(const std::vector<float>& got, const Vec& want, double rtol, double atol, const char* what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]))) {
      FAIL_CHECK(std::string(what) << "[" << i << "]: got " << got[i] << ", want " << want[i]);
      return;
    }
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct LstmShape {
  int64_t T, B, H;
};

// One layer's inputs and T textbook steps computed in double.
struct LstmProblem {
  LstmShape s;
  std::vector<float> xproj, w_hh, h0, c0, g_hs, g_c;
  Vec hs, cs, acts;             // forward
  Vec dgates, dh0, dc0;         // backward

  LstmProblem(LstmShape shape, uint32_t seed, bool with_g_hs, bool with_g_c) : s(shape) {
    const int64_t T = s.T, B = s.B, H = s.H, G = 4 * H;
    xproj = random_floats(static_cast<size_t>(T * B * G), seed, 1.5f);
    w_hh = random_floats(static_cast<size_t>(G * H), seed + 1, 1.0f / std::sqrt(static_cast<float>(H)));
    h0 = random_floats(static_cast<size_t>(B * H), seed + 2);
    c0 = random_floats(static_cast<size_t>(B * H), seed + 3);
    if (with_g_hs) g_hs = random_floats(static_cast<size_t>(T * B * H), seed + 4);
    if (with_g_c) g_c = random_floats(static_cast<size_t>(B * H), seed + 5);
    forward();
    backward();
  }

  void forward() {
    const int64_t T = s.T, B = s.B, H = s.H, G = 4 * H;
    hs.assign(static_cast<size_t>(T * B * H), 0);
    cs = hs;
    acts.assign(static_cast<size_t>(T * B * G), 0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < H; ++j) {
          double gate[4];
          for (int q = 0; q < 4; ++q) {
            double acc = xproj[static_cast<size_t>((t * B + b) * G + q * H + j)];
            for (int64_t p = 0; p < H; ++p) {
              const double h = t == 0 ? h0[static_cast<size_t>(b * H + p)] : hs[static_cast<size_t>(((t - 1) * B + b) * H + p)];
              acc += h * w_hh[static_cast<size_t>((q * H + j) * H + p)];
            }
            gate[q] = acc;
          }
          const double i = sigmoid(gate[0]), f = sigmoid(gate[1]), g = std::tanh(gate[2]), o = sigmoid(gate[3]);
          const double cp = t == 0 ? c0[static_cast<size_t>(b * H + j)] : cs[static_cast<size_t>(((t - 1) * B + b) * H + j)];
          const double c = f * cp + i * g;
          const size_t k = static_cast<size_t>((t * B + b) * H + j), a = static_cast<size_t>((t * B + b) * G + j);
          cs[k] = c;
          hs[k] = o * std::tanh(c);
          acts[a] = i;
          acts[a + static_cast<size_t>(H)] = f;
          acts[a + static_cast<size_t>(2 * H)] = g;
          acts[a + static_cast<size_t>(3 * H)] = o;
        }
  }

  void backward() {
    const int64_t T = s.T, B = s.B, H = s.H, G = 4 * H;
    dgates.assign(static_cast<size_t>(T * B * G), 0);
    Vec dh(static_cast<size_t>(B * H), 0), dc(static_cast<size_t>(B * H), 0);
    for (size_t e = 0; e < dc.size() && !g_c.empty(); ++e) dc[e] = g_c[e];
    for (int64_t t = T - 1; t >= 0; --t) {
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < H; ++j) {
          const size_t k = static_cast<size_t>(b * H + j), tk = static_cast<size_t>((t * B + b) * H + j);
          const size_t a = static_cast<size_t>((t * B + b) * G + j);
          const double i = acts[a], f = acts[a + H], g = acts[a + 2 * H], o = acts[a + 3 * H];
          const double tc = std::tanh(cs[tk]);
          const double cp = t == 0 ? c0[k] : cs[static_cast<size_t>(((t - 1) * B + b) * H + j)];
          const double dht = dh[k] + (g_hs.empty() ? 0.0 : g_hs[tk]);
          const double dct = dc[k] + dht * o * (1 - tc * tc);
          dgates[a] = dct * g * i * (1 - i);
          dgates[a + H] = dct * cp * f * (1 - f);
          dgates[a + 2 * H] = dct * i * (1 - g * g);
          dgates[a + 3 * H] = dht * tc * o * (1 - o);
          dc[k] = dct * f;
        }
      // dh_{t-1} = dgates_t W_hh
      for (int64_t b = 0; b < B; ++b)
        for (int64_t p = 0; p < H; ++p) {
          double acc = 0;
          for (int64_t n = 0; n < G; ++n)
            acc += dgates[static_cast<size_t>((t * B + b) * G + n)] * w_hh[static_cast<size_t>(n * H + p)];
          dh[static_cast<size_t>(b * H + p)] = acc;
        }
    }
    dh0 = dh;
    dc0 = dc;
  }
};

struct LstmResult {
  std::vector<float> hs, cs, acts, dgates, dh0, dc0;
};

// g_hs_batch_major: pass the gradient of hs laid out [B, T, H] (as a
// transposed view delivers it), through the kernel's strides.
// in_place: dgates written over acts, as autograd does when the graph is not
// kept (tensor/backend.h allows it); r.dgates then holds a copy of the result.
LstmResult run_fused(const mg::cpu::CpuKernels& k, const LstmProblem& pr, bool g_hs_batch_major,
                     bool in_place = false) {
  const int64_t T = pr.s.T, B = pr.s.B, H = pr.s.H;
  LstmResult r;
  // NaN-poisoned outputs: an element the kernel forgets to write fails the comparison.
  const float nan = std::nanf("");
  r.hs.assign(static_cast<size_t>(T * B * H), nan);
  r.cs = r.hs;
  r.acts.assign(static_cast<size_t>(T * B * 4 * H), nan);
  r.dgates = r.acts;
  r.dh0.assign(static_cast<size_t>(B * H), nan);
  r.dc0 = r.dh0;
  mg::cpu::LstmForward f;
  f.T = T;
  f.B = B;
  f.H = H;
  f.xproj = pr.xproj.data();
  f.w_hh = pr.w_hh.data();
  f.h0 = pr.h0.data();
  f.c0 = pr.c0.data();
  f.hs = r.hs.data();
  f.cs = r.cs.data();
  f.acts = r.acts.data();
  k.lstm_forward(f);
  mg::cpu::LstmBackward g;
  g.T = T;
  g.B = B;
  g.H = H;
  g.w_hh = pr.w_hh.data();
  g.acts = r.acts.data();
  g.cs = r.cs.data();
  g.c0 = pr.c0.data();
  std::vector<float> g_hs_bth;
  g.g_hs = pr.g_hs.empty() ? nullptr : pr.g_hs.data();
  g.g_hs_stride_t = B * H;
  g.g_hs_stride_b = H;
  if (g.g_hs && g_hs_batch_major) {
    g_hs_bth.resize(pr.g_hs.size());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < H; ++j)
          g_hs_bth[static_cast<size_t>((b * T + t) * H + j)] = pr.g_hs[static_cast<size_t>((t * B + b) * H + j)];
    g.g_hs = g_hs_bth.data();
    g.g_hs_stride_t = H;
    g.g_hs_stride_b = T * H;
  }
  g.g_c_last = pr.g_c.empty() ? nullptr : pr.g_c.data();
  g.dgates = in_place ? r.acts.data() : r.dgates.data();
  g.dh0 = r.dh0.data();
  g.dc0 = r.dc0.data();
  k.lstm_backward(g);
  if (in_place) r.dgates = r.acts;
  return r;
}

}  // namespace

TEST_CASE("fused LSTM layer equals T textbook steps on every instruction set, bit-identical across threads and in place") {
  const int threads_before = mg::cpu_threads();
  // Batches around the row tiles (4, 6, 12) and bands; hidden sizes around the 8/16/32-unit blocks.
  const LstmShape shapes[] = {{1, 1, 5}, {3, 13, 40}, {5, 30, 64}, {4, 25, 33}, {2, 50, 16}};
  int variant = 0;
  for (const LstmShape& s : shapes) {
    const bool with_g_hs = variant % 3 != 2, with_g_c = variant % 2 == 0;
    ++variant;
    CAPTURE(s.T);
    CAPTURE(s.B);
    CAPTURE(s.H);
    CAPTURE(with_g_hs);
    CAPTURE(with_g_c);
    const LstmProblem pr(s, static_cast<uint32_t>(100 + variant), with_g_hs, with_g_c);
    std::vector<LstmResult> fma_results;
    for (Isa isa : runnable_isas()) {
      CAPTURE(mg::cpu::isa_name(isa));
      mg::set_cpu_threads(1);
      const LstmResult one = run_fused(mg::cpu::kernels_for(isa), pr, variant % 2 == 1);
      mg::set_cpu_threads(3);
      const LstmResult three = run_fused(mg::cpu::kernels_for(isa), pr, variant % 2 == 0);
      check_close(one.hs, pr.hs, 1e-4, 1e-5, "hs");
      check_close(one.cs, pr.cs, 1e-4, 1e-5, "cs");
      check_close(one.acts, pr.acts, 1e-4, 1e-5, "acts");
      check_close(one.dgates, pr.dgates, 1e-4, 1e-5, "dgates");
      check_close(one.dh0, pr.dh0, 1e-4, 1e-5, "dh0");
      check_close(one.dc0, pr.dc0, 1e-4, 1e-5, "dc0");
      CHECK(same_bits(one.hs, three.hs));
      CHECK(same_bits(one.acts, three.acts));
      // The gradients written over the activations, on 3 threads: the same bits.
      const LstmResult over = run_fused(mg::cpu::kernels_for(isa), pr, variant % 2 == 1, /*in_place=*/true);
      CHECK(same_bits(one.dgates, over.dgates));
      CHECK(same_bits(one.dh0, over.dh0));
      CHECK(same_bits(one.dc0, over.dc0));
      CHECK(same_bits(one.dgates, three.dgates));
      CHECK(same_bits(one.dh0, three.dh0));
      if (isa != Isa::Generic) fma_results.push_back(one);
    }
    if (fma_results.size() == 2) {
      CHECK(same_bits(fma_results[0].hs, fma_results[1].hs));
      CHECK(same_bits(fma_results[0].dgates, fma_results[1].dgates));
      CHECK(same_bits(fma_results[0].dh0, fma_results[1].dh0));
    }
  }
  mg::set_cpu_threads(threads_before);
}

TEST_CASE("vectorised LSTM cell equals the reference loops, saturated and tiny gates included") {
  const int64_t B = 7, H = 37;  // H not a multiple of any vector width: the tail path runs
  std::vector<float> gates = random_floats(static_cast<size_t>(B * 4 * H), 7, 4.0f);
  // Extremes: saturation far past exp's range, and values where tanh x ~ x.
  const float extremes[] = {-120.0f, -88.0f, -20.0f, -1e-6f, 0.0f, 3e-8f, 1e-4f, 0.6f, 0.65f, 20.0f, 90.0f, 150.0f};
  for (size_t e = 0; e < std::size(extremes); ++e) gates[e * 13] = extremes[e];
  std::vector<float> c_prev = random_floats(static_cast<size_t>(B * H), 8, 2.0f);
  std::vector<float> gh = random_floats(static_cast<size_t>(B * H), 9), gc = random_floats(static_cast<size_t>(B * H), 10);
  auto T = [](std::vector<float>& v, mg::Shape shape) { return mg::from_vector(v, shape); };
  std::vector<float> h_ref(static_cast<size_t>(B * H)), c_ref(h_ref.size()), act_ref(gates.size());
  mg::Tensor tg = T(gates, {B, 4 * H}), tcp = T(c_prev, {B, H});
  mg::Tensor th = mg::empty({B, H}), tc = mg::empty({B, H}), ta = mg::empty({B, 4 * H});
  mg::cpu::lstm_pointwise_forward_reference(tg, tcp, th, tc, ta);
  mg::Tensor gg_ref = mg::empty({B, 4 * H}), gcp_ref = mg::empty({B, H});
  mg::cpu::lstm_pointwise_backward_reference(T(gh, {B, H}), T(gc, {B, H}), ta, tcp, tc, gg_ref, gcp_ref);
  auto to_d = [](const mg::Tensor& t) { return t.to_vector<double>(); };
  for (Isa isa : runnable_isas()) {
    CAPTURE(mg::cpu::isa_name(isa));
    std::vector<float> h(h_ref.size(), NAN), c(h_ref.size(), NAN), act(gates.size(), NAN);
    mg::cpu::LstmCell a;
    a.B = B;
    a.H = H;
    a.gates = gates.data();
    a.c_prev = c_prev.data();
    a.h = h.data();
    a.c = c.data();
    a.act = act.data();
    mg::cpu::kernels_for(isa).lstm_cell_forward(a);
    check_close(act, to_d(ta), 2e-6, 1e-7, "act");
    check_close(c, to_d(tc), 2e-6, 1e-7, "c");
    check_close(h, to_d(th), 2e-6, 1e-7, "h");
    // Backward from the reference's saved state, so only the backward math differs.
    std::vector<float> act_saved = ta.to_vector<float>(), c_saved = tc.to_vector<float>();
    std::vector<float> gg(gates.size(), NAN), gcp(h_ref.size(), NAN);
    mg::cpu::LstmCell b;
    b.B = B;
    b.H = H;
    b.act = act_saved.data();
    b.c = c_saved.data();
    b.c_prev = c_prev.data();
    b.gh = gh.data();
    b.gc = gc.data();
    b.ggates = gg.data();
    b.gc_prev = gcp.data();
    mg::cpu::kernels_for(isa).lstm_cell_backward(b);
    check_close(gg, to_d(gg_ref), 1e-5, 1e-6, "ggates");
    check_close(gcp, to_d(gcp_ref), 1e-5, 1e-6, "gc_prev");
  }
}

TEST_CASE("MUSICGEN_ISA names a set this CPU runs, and the backend reports it") {
  const std::string name = mg::cpu_isa();
  CHECK((name == "avx512" || name == "avx2" || name == "generic"));
  CHECK(mg::cpu::isa_supported(mg::cpu::active_isa()));
  CHECK(mg::cpu::kernels().isa == mg::cpu::active_isa());
  CHECK(mg::cpu::isa_supported(Isa::Generic));
}

TEST_CASE("thread pool runs every task exactly once at any thread count") {
  const int threads_before = mg::cpu_threads();
  for (int threads : {1, 2, 3, 8}) {
    mg::set_cpu_threads(threads);
    CHECK(mg::cpu_threads() == threads);
    for (int64_t n : {1, 2, 7, 1000, 100000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      auto task = [&](int64_t i) { hits[static_cast<size_t>(i)].fetch_add(1); };
      mg::cpu::run_tasks(n, mg::cpu::TaskRef(task));
      int64_t wrong = 0;
      for (auto& h : hits) wrong += h.load() != 1;
      CAPTURE(threads);
      CAPTURE(n);
      CHECK(wrong == 0);
    }
  }
  mg::set_cpu_threads(0);
  CHECK(mg::cpu_threads() == mg::cpu::available_cpus());
  mg::set_cpu_threads(threads_before);
}

TEST_CASE("thread pool: nested parallel calls run inline, and a task's exception reaches the caller") {
  const int threads_before = mg::cpu_threads();
  mg::set_cpu_threads(4);
  std::atomic<int64_t> sum{0};
  mg::cpu::parallel_for(64, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      mg::cpu::parallel_for(100, 1, [&](int64_t j0, int64_t j1) { sum.fetch_add(j1 - j0); });
  });
  CHECK(sum.load() == 64 * 100);
  auto throwing = [](int64_t i) {
    if (i == 37) throw std::runtime_error("task 37 failed");
  };
  CHECK_THROWS_WITH(mg::cpu::run_tasks(100, mg::cpu::TaskRef(throwing)), "task 37 failed");
  // The pool still works afterwards.
  std::atomic<int> count{0};
  auto counting = [&](int64_t) { count.fetch_add(1); };
  mg::cpu::run_tasks(50, mg::cpu::TaskRef(counting));
  CHECK(count.load() == 50);
  mg::set_cpu_threads(threads_before);
}

namespace {

// ulps between two floats of one sign (0 when both are the same NaN or infinity).
int64_t ulps_apart(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : INT64_MAX;
  if (a == b) return 0;
  if ((a < 0) != (b < 0)) return INT64_MAX;
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(static_cast<int64_t>(ia) - ib);
}

}  // namespace

// Every instruction set's float32 elementwise loops (simd_elementwise.inl)
// against the plain reference loops of elementwise.cpp and optim.cpp: the
// arithmetic ops to the bit, exp / log / sigmoid / tanh within 2 ulp (or
// both below float32's smallest normal), at 1 and 3 threads (the same bits).
TEST_CASE("every instruction set's elementwise loops equal the reference loops") {
  using mg::UnaryOp;
  const int threads_before = mg::cpu_threads();
  // Past the parallel grain, not a multiple of any vector width; edges included.
  const int64_t n = (1 << 16) + 13;
  std::vector<float> x = random_floats(static_cast<size_t>(n), 31, 6.0f), gy = random_floats(static_cast<size_t>(n), 32);
  const float edges[] = {0.0f, -0.0f, 1e-40f, -1e-40f, 1e-30f, 87.5f, -87.5f, 88.9f, -104.0f, 200.0f, -200.0f,
                         1e30f, -1e30f, INFINITY, -INFINITY, NAN, 0.625f, -0.625f, 1.0f, 0.7071067f};
  for (size_t e = 0; e < std::size(edges); ++e) x[e * 101] = edges[e];
  const std::vector<float> positive = [&] {
    std::vector<float> p(x.size());
    for (size_t i = 0; i < x.size(); ++i) p[i] = std::abs(x[i]) * 3.0f;
    return p;
  }();
  auto tensor = [](const std::vector<float>& v) { return mg::from_vector(v, {static_cast<int64_t>(v.size())}); };
  const UnaryOp polynomial[] = {UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sigmoid, UnaryOp::Tanh};
  for (Isa isa : runnable_isas()) {
    CAPTURE(mg::cpu::isa_name(isa));
    const mg::cpu::CpuKernels& k = mg::cpu::kernels_for(isa);
    for (int threads : {1, 3}) {
      mg::set_cpu_threads(threads);
      for (UnaryOp op : {UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Sigmoid, UnaryOp::Tanh,
                         UnaryOp::Relu, UnaryOp::LeakyRelu, UnaryOp::Pow, UnaryOp::Affine, UnaryOp::Abs,
                         UnaryOp::Mask}) {
        CAPTURE(static_cast<int>(op));
        const bool fast_math = std::find(std::begin(polynomial), std::end(polynomial), op) != std::end(polynomial);
        const std::vector<float>& in = op == UnaryOp::Log || op == UnaryOp::Sqrt || op == UnaryOp::Pow ? positive : x;
        mg::UnaryArgs args{op, op == UnaryOp::Pow ? 1.5 : 0.3, -0.7};
        mg::Tensor want = mg::empty({n});
        mg::cpu::unary_reference(args, tensor(in), want);
        std::vector<float> got(in.size());
        k.unary(op, static_cast<float>(args.alpha), static_cast<float>(args.beta), in.data(), got.data(), n);
        const std::vector<float> w = want.to_vector<float>();
        int64_t worst = 0;
        for (size_t i = 0; i < got.size(); ++i) {
          const bool both_tiny = std::abs(got[i]) < FLT_MIN && std::abs(w[i]) < FLT_MIN;
          if (!both_tiny) worst = std::max(worst, ulps_apart(got[i], w[i]));
        }
        CHECK(worst <= (fast_math ? 2 : 0));
        // The backward: arithmetic on x, y = op(x) and gy, the same bits.
        mg::Tensor gx_want = mg::empty({n});
        const mg::Tensor xt = tensor(in), yt = tensor(w);
        mg::cpu::unary_backward_reference(args, tensor(gy), xt, yt, gx_want);
        std::vector<float> gx(in.size());
        k.unary_backward(op, static_cast<float>(args.alpha), gy.data(), in.data(), w.data(), gx.data(), n);
        CHECK(same_bits(gx, gx_want.to_vector<float>()));
      }
      // Binary rows: both operands read in full, and one broadcast along the row.
      const std::vector<float> y = random_floats(static_cast<size_t>(n), 33, 3.0f);
      for (mg::BinaryOp op : {mg::BinaryOp::Add, mg::BinaryOp::Sub, mg::BinaryOp::Mul, mg::BinaryOp::Div}) {
        for (int64_t sb : {0, 1}) {
          std::vector<float> got(x.size()), want(x.size());
          k.binary_row(op, x.data(), 1, y.data() + 5, sb, got.data(), n);
          for (int64_t i = 0; i < n; ++i) want[i] = mg::pointwise::binary_value(op, x[i], y[5 + sb * i]);
          CHECK(same_bits(got, want));
        }
      }
    }
    // Uniform draws: the Philox definition of tensor/rng.h, to the bit, from an offset past 2^32.
    for (uint64_t offset : {uint64_t{0}, (uint64_t{1} << 32) - 5}) {
      std::vector<float> draws(static_cast<size_t>(n));
      k.random_uniform(0x5eedULL << 20, offset, -0.5, 2.0, draws.data(), n);
      mg::Tensor want = mg::empty({n});
      mg::cpu::random_uniform_reference(want, 0x5eedULL << 20, offset, -0.5, 2.0);
      CHECK(same_bits(draws, want.to_vector<float>()));
      CHECK(draws[1] == static_cast<float>(mg::PhiloxScaled::uniform_in(0x5eedULL << 20, offset + 1, -0.5, 2.0)));
    }
    // Adam and Adamax updates: the reference formulas element by element.
    mg::pointwise::AdamCoeffs c{1e-3, 0.9, 0.999, 1e-8, 0.01, 1 - 0.9, 1 - 0.999};
    std::vector<float> p = x, m = random_floats(x.size(), 34), v = positive, g = gy;
    for (float& f : p)
      if (!std::isfinite(f)) f = 0.5f;
    std::vector<float> p2 = p, m2 = m, v2 = v;
    k.adam(p.data(), g.data(), m.data(), v.data(), n, c);
    for (int64_t i = 0; i < n; ++i) mg::pointwise::adam_update(p2[i], g[i], m2[i], v2[i], c);
    CHECK(same_bits(p, p2));
    CHECK(same_bits(v, v2));
    k.adamax(p.data(), g.data(), m.data(), v.data(), n, c);
    for (int64_t i = 0; i < n; ++i) mg::pointwise::adamax_update(p2[i], g[i], m2[i], v2[i], c);
    CHECK(same_bits(p, p2));
    CHECK(same_bits(m, m2));
  }
  mg::set_cpu_threads(threads_before);
}
