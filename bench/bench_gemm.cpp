// GEMM: our blocked CPU kernel against OpenBLAS (cblas_sgemm) on the shapes
// the two models run, plus square sizes. Each kernel is checked against the
// reference triple loop before it is timed; times are medians.
//   bench_gemm [--threads N] [--quick]
#include <omp.h>

#include <cmath>
#include <cstring>

#include "bench/bench_util.h"
#include "kernels/cpu/cpu_backend.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

#if defined(MUSICGEN_HAVE_OPENBLAS)
#include <cblas.h>
#endif

using namespace mg;

namespace {

struct Shape3 {
  const char* what;
  int64_t m, n, k;
  bool trans_b;
};

GemmArgs args_for(const Shape3& s, const Tensor& a, const Tensor& b, const Tensor& c) {
  GemmArgs g;
  g.m = s.m;
  g.n = s.n;
  g.k = s.k;
  g.trans_b = s.trans_b;
  g.a = a.data_ptr();
  g.lda = s.k;
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

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) omp_set_num_threads(std::atoi(argv[++i]));
  }
  std::vector<Shape3> shapes = {
      {"LSTM(512) recurrent, batch 256", 256, 2048, 512, true},
      {"LSTM(256) input proj, 256x40 steps", 10240, 1024, 512, true},
      {"LSTM(256) recurrent, batch 256", 256, 1024, 256, true},
      {"Dense(256 -> vocab 228)", 256, 228, 256, true},
      {"generation step, batch 1", 1, 2048, 512, true},
      {"square 512", 512, 512, 512, false},
      {"square 1024", 1024, 1024, 1024, false},
  };
  if (quick) shapes.resize(3);
  manual_seed(7);
  Backend& cpu = cpu_backend();
  bench::Table t;
  t.header = {"shape (M x N x K)", "what", "ours ms", "ours GFLOP/s", "OpenBLAS ms", "OpenBLAS GFLOP/s", "ours/OpenBLAS"};
  for (const Shape3& s : shapes) {
    Tensor a = randn({s.m, s.k}), b = s.trans_b ? randn({s.n, s.k}) : randn({s.k, s.n});
    Tensor c = zeros({s.m, s.n}), ref = zeros({s.m, s.n});
    GemmArgs g = args_for(s, a, b, c);
    GemmArgs gr = args_for(s, a, b, ref);
    cpu::gemm_reference(gr);
    cpu.gemm(g);
    const double err = max_rel_diff(c, ref);
    if (err > 1e-4) {
      std::printf("MISMATCH %s: ours vs reference max rel diff %.3g\n", s.what, err);
      return 1;
    }
    const double flops = 2.0 * s.m * s.n * s.k;
    const double ours = bench::median_seconds([&] { cpu.gemm(g); });
    std::vector<std::string> row = {fmt::format("{}x{}x{}", s.m, s.n, s.k), s.what, fmt::format("{:.3f}", ours * 1e3),
                                    fmt::format("{:.1f}", flops / ours * 1e-9)};
#if defined(MUSICGEN_HAVE_OPENBLAS)
    Tensor cb = zeros({s.m, s.n});
    auto run_blas = [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(s.m),
                  static_cast<int>(s.n), static_cast<int>(s.k), 1.0f, a.data<float>(), static_cast<int>(s.k),
                  b.data<float>(), static_cast<int>(s.trans_b ? s.k : s.n), 0.0f, cb.data<float>(),
                  static_cast<int>(s.n));
    };
    run_blas();
    if (max_rel_diff(cb, ref) > 1e-4) std::printf("warning: OpenBLAS differs from the reference on %s\n", s.what);
    const double blas = bench::median_seconds(run_blas);
    row.push_back(fmt::format("{:.3f}", blas * 1e3));
    row.push_back(fmt::format("{:.1f}", flops / blas * 1e-9));
    row.push_back(fmt::format("{:.2f}x", blas / ours));
#else
    row.insert(row.end(), {"n/a", "n/a", "n/a"});
#endif
    t.rows.push_back(row);
  }
  std::printf("GEMM float32, %d threads (median of repeats; ratio > 1 means ours is faster)\n", omp_get_max_threads());
  t.print();
  return 0;
}
