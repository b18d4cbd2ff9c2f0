// GEMM: musicgen's CPU kernels against OpenBLAS (cblas_sgemm, linked) and
// Intel MKL (cblas_sgemm, loaded at run time when present: never a build
// dependency) on the shapes the Chopin seed network runs (every GEMM of its
// training step, and the batch-1 generation GEMV), plus a square size. Each
// kernel is checked against the reference triple loop before it is timed;
// the libraries are timed alternately (A B C A B C ...) and the medians
// reported, beside the machine's measured FMA peak for the vector width in
// use. The header prints what the blocking was derived from: the caches read
// from CPUID, the register tile and the FMA chains it must cover.
//   bench_gemm [--threads N] [--repeats R] [--quick] [--only MxNxK] [--sweep] [--mkl PATH] [--precision fp32|bf16]
//   bench_gemm --peak [--threads N]: only the measured peaks, as one RESULT line (bench/compare/run.py)
// --precision bf16 times musicgen's bf16 products (float32 in and out, bf16
// operands, float32 sums; AVX512_BF16) against the same float32 libraries,
// and measures the peak as vdpbf16ps chains (two multiply-adds per lane).
// --sweep times each shape at the derived KC and at half, 1.5x and twice it
// (MC and NC as derived), interleaved: how close the analytical choice is to
// the best one on this CPU.
// MKL: --mkl PATH, else $MUSICGEN_MKL, else bench/compare/.venv/lib/libmkl_rt.so.* (pip install mkl).
// MUSICGEN_ISA=avx2|avx512|generic forces musicgen's kernels (see kernels/cpu/isa.h).
#include <dlfcn.h>
#include <immintrin.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "bench/bench_util.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_figures.h"
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

// The FMA peak: cpu::run_fma_chains (independent fused multiply-add chains,
// as many per thread as the registers hold) at the vector width musicgen's
// kernels use. The bf16 peak:
// 12 chains of vdpbf16ps, 32 multiply-adds each.
[[gnu::target("avx512f,avx512bf16")]] double dpbf16_512(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.999f), _mm512_set1_ps(0.5f));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], b, b);
    asm volatile("" : "+v"(b));
  }
  alignas(64) float lanes[16];
  float s = 0;
  for (int i = 0; i < 12; ++i) {
    _mm512_store_ps(lanes, acc[i]);
    s += lanes[0];
  }
  return s;
}

int lanes_of(cpu::Isa isa) { return isa == cpu::Isa::Avx512 ? 16 : isa == cpu::Isa::Avx2 ? 8 : 4; }

// GFLOP/s of `threads` threads running the chains at once (best of 5: the
// peak is what the machine can do, and a busy moment only lowers a run).
double fma_peak(cpu::Isa isa, int threads, bool bf16) {
  const int lanes = bf16 ? 32 : lanes_of(isa);
  const int chains = bf16 ? 12 : cpu::fma_chain_count(lanes);
  const int64_t iters = bf16 ? 20'000'000 : 15'000'000;
  std::vector<double> rates;
  for (int rep = 0; rep < 5; ++rep) {
    volatile double sink = 0;
    auto task = [&](int64_t) {
      sink = sink + (bf16 ? dpbf16_512(iters) : cpu::run_fma_chains(lanes, iters));
    };
    const auto t0 = std::chrono::steady_clock::now();
    cpu::run_tasks(threads, cpu::TaskRef(task));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(threads * static_cast<double>(chains) * lanes * 2.0 * static_cast<double>(iters) / s * 1e-9);
  }
  return *std::max_element(rates.begin(), rates.end());
}

// Intel MKL's cblas_sgemm, loaded at run time.
struct Mkl {
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  using GemmBf16 = void (*)(int, int, int, int, int, int, float, const uint16_t*, int, const uint16_t*, int, float,
                            float*, int);
  Sgemm sgemm = nullptr;
  GemmBf16 gemm_bf16 = nullptr;  // cblas_gemm_bf16bf16f32: bf16 operands, float32 sums
  std::string path;
  std::string version;
};

Mkl load_mkl(std::string path, int threads) {
  Mkl mkl;
  if (path.empty() && std::getenv("MUSICGEN_MKL")) path = std::getenv("MUSICGEN_MKL");
  if (path.empty()) {
    const std::filesystem::path lib = std::filesystem::path(MUSICGEN_SOURCE_DIR) / "bench/compare/.venv/lib";
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(lib, ec))
      if (entry.path().filename().string().rfind("libmkl_rt.so", 0) == 0) path = entry.path().string();
  }
  if (path.empty()) return mkl;
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    std::printf("warning: MKL at %s does not load: %s\n", path.c_str(), dlerror());
    return mkl;
  }
  mkl.sgemm = reinterpret_cast<Mkl::Sgemm>(dlsym(h, "cblas_sgemm"));
  mkl.gemm_bf16 = reinterpret_cast<Mkl::GemmBf16>(dlsym(h, "cblas_gemm_bf16bf16f32"));
  if (auto set = reinterpret_cast<void (*)(int)>(dlsym(h, "MKL_Set_Num_Threads"))) set(threads);
  if (auto get = reinterpret_cast<void (*)(char*, int)>(dlsym(h, "MKL_Get_Version_String"))) {
    char text[256] = {};
    get(text, sizeof text - 1);
    mkl.version = text;
  }
  mkl.path = path;
  return mkl;
}

// float32 -> bf16, rounded to nearest even (the operands MKL's bf16 GEMM takes).
std::vector<uint16_t> to_bf16(const Tensor& t) {
  std::vector<uint16_t> out;
  for (float x : t.to_vector<float>()) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    out.push_back(static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, sweep = false, bf16 = false, peak_only = false;
  int repeats = 15;
  std::string only, mkl_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--peak") == 0) peak_only = true;
    else if (std::strcmp(argv[i], "--sweep") == 0) sweep = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) set_cpu_threads(std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = std::max(3, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    else if (std::strcmp(argv[i], "--mkl") == 0 && i + 1 < argc) mkl_path = argv[++i];
    else if (std::strcmp(argv[i], "--precision") == 0 && i + 1 < argc) {
      const std::string p = argv[++i];
      if (p != "fp32" && p != "bf16") {
        std::printf("--precision %s: expected fp32 or bf16\n", p.c_str());
        return 2;
      }
      bf16 = p == "bf16";
    }
    else {
      std::printf("usage: bench_gemm [--threads N] [--repeats R] [--quick] [--only MxNxK] [--sweep] [--mkl PATH] "
                  "[--precision fp32|bf16]\n       bench_gemm --peak [--threads N]\n");
      return 2;
    }
  }
  if (bf16) {
    const std::string why = cpu_bf16_unsupported();
    if (!why.empty()) {
      std::printf("--precision bf16: %s\n", why.c_str());
      return 1;
    }
    set_matmul_precision(MatmulPrecision::Bf16);
  }
  const int threads = cpu_threads();
#if defined(MUSICGEN_HAVE_OPENBLAS)
  openblas_set_num_threads(threads);
#endif
  const Mkl mkl = load_mkl(mkl_path, threads);
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
  if (!only.empty()) {
    std::vector<Case> kept;
    for (const Case& c : cases)
      if (fmt::format("{}x{}x{}", c.m, c.n, c.k) == only) kept.push_back(c);
    if (kept.empty()) {
      std::printf("--only %s: no such shape\n", only.c_str());
      return 2;
    }
    cases = kept;
  }
  const cpu::Isa isa = cpu::active_isa();
  if (peak_only) {
    // FMA peak at this ISA's width, and the vdpbf16ps peak where the CPU has it.
    const double fp32 = fma_peak(isa, threads, false);
    const double bf16_peak = cpu_bf16_unsupported().empty() ? fma_peak(isa, threads, true) : 0.0;
    std::printf("peak of %d thread%s: FMA (%s) %.1f GFLOP/s, vdpbf16ps %s\n", threads, threads == 1 ? "" : "s",
                cpu::isa_name(isa), fp32, bf16_peak > 0 ? fmt::format("{:.1f} GFLOP/s", bf16_peak).c_str() : "n/a");
    std::printf("RESULT {\"bench\": \"peak\", \"threads\": %d, \"isa\": \"%s\", \"fp32_gflops\": %.2f, "
                "\"bf16_gflops\": %.2f, \"cpu\": \"%s\", \"build\": \"%s\"}\n",
                threads, cpu::isa_name(isa), fp32, bf16_peak, cpu::cpu_figures().model_name.c_str(), build_description());
    return 0;
  }
  const cpu::CpuKernels& kernels = cpu::kernels();
  const cpu::CpuFigures& figures = cpu::cpu_figures();
  cpu::GemmBlocking& blocking = bf16 ? cpu::bf16_kernels()->blocking() : kernels.blocking();
  const cpu::GemmBlocking derived = blocking;
  const double peak = fma_peak(isa, threads, bf16);
  const double chains = cpu::measure_fma_chains(lanes_of(isa));
  const int64_t accumulators = derived.mr * derived.nr / lanes_of(isa);

  std::printf("GEMM float32 in and out (musicgen: %s), %d thread%s, musicgen ISA %s\n",
              bf16 ? "bf16 operands, float32 sums" : "float32 products", threads, threads == 1 ? "" : "s",
              cpu::isa_name(isa));
  std::printf("CPU: %s\nbuild: %s\n", cpu::describe(figures).c_str(), build_description());
  std::printf("register tile %ld x %ld: %ld accumulators for %.1f FMA chains in flight (measured); "
              "blocking derived from the caches: KC %ld, MC %ld, NC %ld\n",
              static_cast<long>(derived.mr), static_cast<long>(derived.nr), static_cast<long>(accumulators), chains,
              static_cast<long>(derived.kc), static_cast<long>(derived.mc), static_cast<long>(derived.nc));
  std::printf("measured %s peak %.1f GFLOP/s; MKL: %s\n", bf16 ? "vdpbf16ps" : "FMA", peak,
              mkl.sgemm ? fmt::format("{} ({})", mkl.version, mkl.path).c_str() : "not found (pip install mkl in bench/compare/.venv, or --mkl PATH)");
  std::printf("(medians of %d alternating runs; ratio > 1 means musicgen is faster)\n\n", repeats);

  manual_seed(7);
  Backend& cpu = cpu_backend();
  bench::Table t;
  if (sweep) {
    t.header = {"M x N x K", "op", "what"};
    for (double f : {0.5, 1.0, 1.5, 2.0}) t.header.push_back(fmt::format("KC {}{}", static_cast<long>(derived.kc * f), f == 1.0 ? " (derived)" : ""));
  } else {
    t.header = {"M x N x K", "op", "what", bf16 ? "ours bf16 GFLOP/s" : "ours GFLOP/s",
                bf16 ? "% of bf16 peak" : "% of FMA peak", "OpenBLAS GFLOP/s", "MKL GFLOP/s"};
    if (bf16) t.header.push_back("MKL bf16 GFLOP/s");
    t.header.push_back("ours / best library");
  }
  for (const Case& s : cases) {
    Tensor a = s.trans_a ? randn({s.k, s.m}) : randn({s.m, s.k});
    Tensor b = s.trans_b ? randn({s.n, s.k}) : randn({s.k, s.n});
    Tensor c = zeros({s.m, s.n}), ref = zeros({s.m, s.n});
    GemmArgs g = args_for(s, a, b, c);
    cpu::gemm_reference(args_for(s, a, b, ref));
    cpu.gemm(g);
    // bf16 operands carry 8 significant bits: each product is within about
    // 2^-8 of the float32 one, and over random signs the sum's error grows as
    // sqrt(k) while the sum itself does too.
    const double err = max_rel_diff(c, ref);
    if (err > (bf16 ? 2e-2 : 1e-4)) {
      std::printf("MISMATCH %s: ours vs reference max rel diff %.3g\n", s.what, err);
      return 1;
    }
    const double flops = 2.0 * s.m * s.n * s.k;
    std::vector<std::string> row = {fmt::format("{}x{}x{}", s.m, s.n, s.k),
                                    fmt::format("{}{}", s.trans_a ? "AT" : "A", s.trans_b ? "BT" : "B"), s.what};
    if (sweep) {
      std::vector<std::function<void()>> runs;
      for (double f : {0.5, 1.0, 1.5, 2.0}) {
        runs.push_back([&, f] {
          blocking = derived;
          blocking.kc = static_cast<int64_t>(derived.kc * f);
          cpu.gemm(g);
        });
      }
      const std::vector<double> med = bench::interleaved_medians(runs, repeats, 2);
      blocking = derived;
      for (double m : med) row.push_back(fmt::format("{:.1f}", flops / m * 1e-9));
      t.rows.push_back(row);
      continue;
    }
    std::vector<std::function<void()>> runs = {[&] { cpu.gemm(g); }};
    const auto ta = s.trans_a ? 112 : 111, tb = s.trans_b ? 112 : 111;  // CblasTrans / CblasNoTrans
    auto library_run = [&](auto sgemm, Tensor& out) {
      return [&, sgemm] {
        sgemm(101, ta, tb, static_cast<int>(s.m), static_cast<int>(s.n), static_cast<int>(s.k), 1.0f,
              a.data<float>(), static_cast<int>(g.lda), b.data<float>(), static_cast<int>(g.ldb), 0.0f,
              out.data<float>(), static_cast<int>(s.n));
      };
    };
    Tensor c_blas = zeros({s.m, s.n}), c_mkl = zeros({s.m, s.n});
    int blas_at = -1, mkl_at = -1;
#if defined(MUSICGEN_HAVE_OPENBLAS)
    auto openblas = [](int order, int ta_, int tb_, int m, int n, int k, float alpha, const float* a_, int lda,
                       const float* b_, int ldb, float beta, float* c_, int ldc) {
      cblas_sgemm(static_cast<CBLAS_ORDER>(order), static_cast<CBLAS_TRANSPOSE>(ta_), static_cast<CBLAS_TRANSPOSE>(tb_),
                  m, n, k, alpha, a_, lda, b_, ldb, beta, c_, ldc);
    };
    runs.push_back(library_run(openblas, c_blas));
    runs.back()();
    if (max_rel_diff(c_blas, ref) > 1e-4) std::printf("warning: OpenBLAS differs from the reference on %s\n", s.what);
    blas_at = static_cast<int>(runs.size()) - 1;
#endif
    if (mkl.sgemm) {
      runs.push_back(library_run(mkl.sgemm, c_mkl));
      runs.back()();
      if (max_rel_diff(c_mkl, ref) > 1e-4) std::printf("warning: MKL differs from the reference on %s\n", s.what);
      mkl_at = static_cast<int>(runs.size()) - 1;
    }
    std::vector<uint16_t> a16, b16;
    Tensor c_mkl16 = zeros({s.m, s.n});
    int mkl16_at = -1;
    if (bf16 && mkl.gemm_bf16) {
      a16 = to_bf16(a);
      b16 = to_bf16(b);
      runs.push_back([&] {
        mkl.gemm_bf16(101, ta, tb, static_cast<int>(s.m), static_cast<int>(s.n), static_cast<int>(s.k), 1.0f,
                      a16.data(), static_cast<int>(g.lda), b16.data(), static_cast<int>(g.ldb), 0.0f,
                      c_mkl16.data<float>(), static_cast<int>(s.n));
      });
      runs.back()();
      if (max_rel_diff(c_mkl16, ref) > 2e-2) std::printf("warning: MKL bf16 differs from the reference on %s\n", s.what);
      mkl16_at = static_cast<int>(runs.size()) - 1;
    }
    const std::vector<double> med = bench::interleaved_medians(runs, repeats, 2);
    const double ours = flops / med[0] * 1e-9;
    const double blas = blas_at >= 0 ? flops / med[static_cast<size_t>(blas_at)] * 1e-9 : 0.0;
    const double mkl_rate = mkl_at >= 0 ? flops / med[static_cast<size_t>(mkl_at)] * 1e-9 : 0.0;
    const double mkl16 = mkl16_at >= 0 ? flops / med[static_cast<size_t>(mkl16_at)] * 1e-9 : 0.0;
    const double best = std::max({blas, mkl_rate, mkl16});
    row.push_back(fmt::format("{:.1f}", ours));
    row.push_back(fmt::format("{:.0f} %", 100.0 * ours / peak));
    row.push_back(blas_at >= 0 ? fmt::format("{:.1f}", blas) : "n/a");
    row.push_back(mkl_at >= 0 ? fmt::format("{:.1f}", mkl_rate) : "n/a");
    if (bf16) row.push_back(mkl16_at >= 0 ? fmt::format("{:.1f}", mkl16) : "n/a");
    row.push_back(best > 0 ? fmt::format("{:.2f}x", ours / best) : "n/a");
    t.rows.push_back(row);
  }
  t.print();
  return 0;
}
