// GEMM: musicgen's CPU kernels against OpenBLAS (cblas_sgemm) on the shapes
// the Chopin seed network runs (every GEMM of its training step, and the
// batch-1 generation GEMV), plus a square size. Each kernel is checked
// against the reference triple loop before it is timed; the two libraries
// are timed alternately (A B A B ...) and the medians reported, beside the
// machine's measured FMA peak for the vector width in use.
//   bench_gemm [--threads N] [--repeats R] [--quick]
// MUSICGEN_ISA=avx2|avx512|generic forces musicgen's kernels (see kernels/cpu/isa.h).
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>

#include "bench/bench_util.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

#if defined(MUSICGEN_HAVE_OPENBLAS)
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

using namespace mg;

namespace {

struct Case {
  const char* what;
  int64_t m, n, k;
  bool trans_a, trans_b;
};

GemmArgs args_for(const Case& s, const Tensor& a, const Tensor& b, const Tensor& c) {
  GemmArgs g;
  g.m = s.m;
  g.n = s.n;
  g.k = s.k;
  g.trans_a = s.trans_a;
  g.trans_b = s.trans_b;
  g.a = a.data_ptr();
  g.lda = s.trans_a ? s.m : s.k;
  g.b = b.data_ptr();
  g.ldb = s.trans_b ? s.k : s.n;
  g.c = c.data_ptr();
  g.ldc = s.n;
  return g;
}

double max_rel_diff(const Tensor& x, const Tensor& ref) {
  auto a = x.to_vector<float>(), b = ref.to_vector<float>();
  double scale = 1e-12, diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return diff / scale;
}

// The FMA peak: 12 independent multiply-add chains per thread, the most a
// core can overlap, at the vector width musicgen's kernels use.
template <typename V>
[[gnu::always_inline]] inline double fma_chains(int64_t iters) {
  V acc[12], b, c;
  for (int i = 0; i < 12; ++i) acc[i] = V{} + 0.001f * static_cast<float>(i);
  b = V{} + 0.999f;
  c = V{} + 1e-4f;
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * b + c;
    asm volatile("" : "+v"(b));
  }
  float s = 0;
  for (int i = 0; i < 12; ++i) s += acc[i][0];
  return s;
}
typedef float V16 __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));
[[gnu::target("avx512f,fma")]] double fma_512(int64_t iters) { return fma_chains<V16>(iters); }
[[gnu::target("avx2,fma")]] double fma_256(int64_t iters) { return fma_chains<V8>(iters); }
double fma_128(int64_t iters) { return fma_chains<V4>(iters); }  // SSE2: a multiply and an add

// GFLOP/s of `threads` threads running the chains at once (best of 5: the
// peak is what the machine can do, and a busy moment only lowers a run).
double fma_peak(cpu::Isa isa, int threads) {
  const int lanes = isa == cpu::Isa::Avx512 ? 16 : isa == cpu::Isa::Avx2 ? 8 : 4;
  const int64_t iters = 20'000'000;
  std::vector<double> rates;
  for (int rep = 0; rep < 5; ++rep) {
    volatile double sink = 0;
    auto task = [&](int64_t) {
      sink = sink + (isa == cpu::Isa::Avx512 ? fma_512(iters) : isa == cpu::Isa::Avx2 ? fma_256(iters) : fma_128(iters));
    };
    const auto t0 = std::chrono::steady_clock::now();
    cpu::run_tasks(threads, cpu::TaskRef(task));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(threads * 12.0 * lanes * 2.0 * static_cast<double>(iters) / s * 1e-9);
  }
  return *std::max_element(rates.begin(), rates.end());
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int repeats = 15;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) set_cpu_threads(std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = std::max(3, std::atoi(argv[++i]));
    else {
      std::printf("usage: bench_gemm [--threads N] [--repeats R] [--quick]\n");
      return 2;
    }
  }
  const int threads = cpu_threads();
#if defined(MUSICGEN_HAVE_OPENBLAS)
  openblas_set_num_threads(threads);
#endif
  // The seed network's training step: LSTM(512) over a 1-d input, LSTM(256), Dense 256 -> 117.
  std::vector<Case> cases = {
      {"LSTM(512) step: h W_hhT", 256, 2048, 512, false, true},
      {"LSTM(512) backward step: dG W_hh", 256, 512, 2048, false, false},
      {"LSTM(512) dW_hh: dGT H, 40 steps", 2048, 512, 10240, true, false},
      {"LSTM(256) input projection, 40 steps", 10240, 1024, 512, false, true},
      {"LSTM(256) input gradient dG W_ih", 10240, 512, 1024, false, false},
      {"LSTM(256) dW_ih: dGT X", 1024, 512, 10240, true, false},
      {"LSTM(256) step: h W_hhT", 256, 1024, 256, false, true},
      {"Dense(256 -> vocab 117)", 256, 117, 256, false, true},
      {"generation step, batch 1 (GEMV)", 1, 2048, 512, false, true},
      {"square 1024", 1024, 1024, 1024, false, false},
  };
  if (quick) cases = {cases[0], cases[1], cases[8]};
  const cpu::Isa isa = cpu::active_isa();
  const double peak = fma_peak(isa, threads);
  manual_seed(7);
  Backend& cpu = cpu_backend();
  bench::Table t;
  t.header = {"M x N x K", "op", "what", "ours GFLOP/s", "% of FMA peak", "OpenBLAS GFLOP/s", "ours/OpenBLAS"};
  for (const Case& s : cases) {
    Tensor a = s.trans_a ? randn({s.k, s.m}) : randn({s.m, s.k});
    Tensor b = s.trans_b ? randn({s.n, s.k}) : randn({s.k, s.n});
    Tensor c = zeros({s.m, s.n}), ref = zeros({s.m, s.n});
    GemmArgs g = args_for(s, a, b, c);
    cpu::gemm_reference(args_for(s, a, b, ref));
    cpu.gemm(g);
    const double err = max_rel_diff(c, ref);
    if (err > 1e-4) {
      std::printf("MISMATCH %s: ours vs reference max rel diff %.3g\n", s.what, err);
      return 1;
    }
    auto run_ours = [&] { cpu.gemm(g); };
    std::vector<std::function<void()>> runs = {run_ours};
#if defined(MUSICGEN_HAVE_OPENBLAS)
    Tensor cb = zeros({s.m, s.n});
    auto run_blas = [&] {
      cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans,
                  static_cast<int>(s.m), static_cast<int>(s.n), static_cast<int>(s.k), 1.0f, a.data<float>(),
                  static_cast<int>(g.lda), b.data<float>(), static_cast<int>(g.ldb), 0.0f, cb.data<float>(),
                  static_cast<int>(s.n));
    };
    run_blas();
    if (max_rel_diff(cb, ref) > 1e-4) std::printf("warning: OpenBLAS differs from the reference on %s\n", s.what);
    runs.push_back(run_blas);
#endif
    const std::vector<double> med = bench::interleaved_medians(runs, repeats, 2);
    const double flops = 2.0 * s.m * s.n * s.k;
    const double ours = flops / med[0] * 1e-9;
    std::vector<std::string> row = {fmt::format("{}x{}x{}", s.m, s.n, s.k),
                                    fmt::format("{}{}", s.trans_a ? "AT" : "A", s.trans_b ? "BT" : "B"), s.what,
                                    fmt::format("{:.1f}", ours), fmt::format("{:.0f} %", 100.0 * ours / peak)};
#if defined(MUSICGEN_HAVE_OPENBLAS)
    const double blas = flops / med[1] * 1e-9;
    row.push_back(fmt::format("{:.1f}", blas));
    row.push_back(fmt::format("{:.2f}x", ours / blas));
#else
    row.insert(row.end(), {"n/a", "n/a"});
#endif
    t.rows.push_back(row);
  }
  std::printf("GEMM float32 on %s, %d thread%s, musicgen ISA %s; measured FMA peak %.1f GFLOP/s\n",
              cpu_model().c_str(), threads, threads == 1 ? "" : "s", cpu::isa_name(isa), peak);
  std::printf("(medians of %d alternating runs; ratio > 1 means musicgen is faster)\n", repeats);
  t.print();
  return 0;
}
