// Every op of the op table (tests/op_table.h) at the size one of the two
// models runs it (the op's perf variant), timed forward and backward in
// float32 on the CPU and, where there is a GPU, on CUDA.
//   bench_ops [--threads N] [--device cpu|cuda|all] [--filter SUBSTR] [--quick]
//
// Verify, then time: each op's float32 forward is first compared with the
// float64 forward of the same input values on the CPU (the reference loops and
// GEMM), max |f32 - f64| <= 1e-4 (1 + max |f64|); an op that fails is
// reported and not timed, and the program exits 1.
//
// Columns: forward ms with the graph recorded, as in training; backward ms
// alone, from a fixed gradient of the op's output (the forward before it is
// not timed); both medians after warm-up. Rates: GFLOP/s for GEMM-like ops
// (the perf variant's flops; backward does twice the forward's), otherwise
// GB/s of tensor traffic: inputs + output for the forward, inputs + their
// gradients + the output's gradient for the backward ("view" when the forward
// copies nothing). CUDA/CPU: CUDA's forward + backward time over the CPU's
// (below 1: CUDA is faster).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "tensor/backend.h"
#include "tensor/rng.h"
#include "tests/op_table.h"

using namespace mg;

namespace {

constexpr double kCheckTolerance = 1e-4;

struct Settings {
  int repeats = 15, warmup = 2;
  double budget_seconds = 3.0;  // per measurement, after at least 3 timed runs
};

// The reason CUDA cannot be timed here, or empty when it can.
std::string cuda_missing() {
#if defined(MUSICGEN_WITH_CUDA)
  return cuda_available() ? "" : "no CUDA GPU is visible to this process";
#else
  return "this build has no CUDA backend (configured with MUSICGEN_CUDA=OFF, or nvcc was not found)";
#endif
}

void sync(Device d) { backend_for(d).synchronize(); }

// max |got - ref| / (1 + max |ref|); infinite when either holds a NaN or
// infinity the other does not.
double check_error(const Tensor& got, const Tensor& ref) {
  if (got.shape() != ref.shape()) return INFINITY;
  const std::vector<double> a = got.to(Device::CPU).to(DType::F64).to_vector<double>();
  const std::vector<double> b = ref.to_vector<double>();
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isfinite(a[i]) != std::isfinite(b[i]) || std::isnan(a[i])) return INFINITY;
    if (!std::isfinite(b[i])) continue;
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / (1.0 + scale);
}

// Fresh leaves holding the values of `from`, in `dtype` on `device`.
TensorList leaves_like(const TensorList& from, DType dtype, Device device) {
  TensorList out;
  for (const Tensor& t : from) {
    Tensor x = t.detach().to(dtype).to(device);
    x.requires_grad_(true);
    out.push_back(x);
  }
  return out;
}

// Median seconds of timed() over repeats, each run preceded by an untimed prepare().
double median_after(const std::function<void()>& prepare, const std::function<void()>& timed, const Settings& s) {
  std::vector<double> times;
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < s.warmup + s.repeats; ++i) {
    prepare();
    const auto t0 = std::chrono::steady_clock::now();
    timed();
    const auto t1 = std::chrono::steady_clock::now();
    if (i < s.warmup) continue;
    times.push_back(std::chrono::duration<double>(t1 - t0).count());
    if (times.size() >= 3 && std::chrono::duration<double>(t1 - begin).count() > s.budget_seconds) break;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Timing {
  double forward = 0.0, backward = 0.0;
  bool view = false;  // the forward's output shares an input's storage
};

// Forward (graph recorded) and backward of the variant on `inputs`, one device.
Timing time_variant(const test::OpVariant& v, const TensorList& inputs, const Settings& s) {
  const Device d = inputs[0].device();
  Timing t;
  Tensor grad_out;
  {
    Tensor y = v.fn(inputs);
    for (const Tensor& x : inputs) t.view = t.view || y.same_storage(x);
    Generator saved = default_generator();
    default_generator() = Generator{4242, 0};
    grad_out = randn(y.shape(), y.dtype(), d);
    default_generator() = saved;
  }
  t.forward = median_after([] {}, [&] {
    Tensor y = v.fn(inputs);
    sync(d);
  }, s);
  Tensor y;
  t.backward = median_after(
      [&] {
        for (Tensor x : inputs) x.zero_grad();  // a handle: clears the leaf's gradient
        y = v.fn(inputs);
        sync(d);
      },
      [&] {
        y.backward(grad_out);
        sync(d);
      },
      s);
  return t;
}

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t e : s) n *= e;
  return n;
}

// "256x512, 2048x512"; runs of one shape as "256x256 (x40)".
std::string shapes_text(const std::vector<Shape>& shapes) {
  std::string out;
  for (size_t i = 0; i < shapes.size();) {
    size_t j = i;
    while (j < shapes.size() && shapes[j] == shapes[i]) ++j;
    std::string one;
    for (size_t k = 0; k < shapes[i].size(); ++k) one += (k ? "x" : "") + std::to_string(shapes[i][k]);
    if (shapes[i].empty()) one = "scalar";
    if (j - i > 1) one += fmt::format(" (x{})", j - i);
    out += (out.empty() ? "" : ", ") + one;
    i = j;
  }
  return out;
}

std::string rate_text(double flops, double bytes, double seconds, bool view) {
  if (flops > 0) return fmt::format("{:.1f} GFLOP/s", flops / seconds * 1e-9);
  if (view) return "view";
  return fmt::format("{:.1f} GB/s", bytes / seconds * 1e-9);
}

std::string ms_text(double seconds) { return fmt::format("{:.3f}", seconds * 1e3); }

int usage(const char* why) {
  std::printf("bench_ops: %s\nusage: bench_ops [--threads N] [--device cpu|cuda|all] [--filter SUBSTR] [--quick]\n",
              why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device = "all", filter;
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const bool has = i + 1 < argc;
    if (!std::strcmp(argv[i], "--quick")) {
      settings = {5, 1, 1.0};
    } else if (!std::strcmp(argv[i], "--threads") && has) {
      const int n = std::atoi(argv[++i]);
      if (n < 1) return usage("--threads: expected a positive number");
      set_cpu_threads(n);
    } else if (!std::strcmp(argv[i], "--device") && has) {
      device = argv[++i];
      if (device != "cpu" && device != "cuda" && device != "all")
        return usage(("--device: expected cpu, cuda or all, got '" + device + "'").c_str());
    } else if (!std::strcmp(argv[i], "--filter") && has) {
      filter = argv[++i];
    } else {
      return usage(("unknown or incomplete argument '" + std::string(argv[i]) + "'").c_str());
    }
  }
  const std::string no_cuda = cuda_missing();
  if (device == "cuda" && !no_cuda.empty()) {
    std::printf("bench_ops: skipped: --device cuda, but %s\n", no_cuda.c_str());
    return 0;
  }
  const bool on_cpu = device != "cuda", on_cuda = device != "cpu" && no_cuda.empty();

  std::vector<const test::OpCase*> cases;
  std::vector<std::string> without_perf;
  for (const test::OpCase& c : test::op_table()) {
    if (!filter.empty() && c.op.find(filter) == std::string::npos) continue;
    if (c.perf) cases.push_back(&c);
    else without_perf.push_back(c.op);
  }
  if (cases.empty() && without_perf.empty()) {
    std::printf("bench_ops: --filter '%s' matches no op of the op table\n", filter.c_str());
    return 2;
  }

  const bool progress = isatty(STDERR_FILENO);
  bench::Table table;
  table.header = {"op", "size from", "input shapes", "f32 vs f64", "fwd ms", "bwd ms", "fwd rate", "bwd rate",
                  "CUDA fwd ms", "CUDA bwd ms", "CUDA/CPU"};
  int failed = 0;
  for (size_t n = 0; n < cases.size(); ++n) {
    const test::OpCase& c = *cases[n];
    const test::OpVariant& v = c.perf->variant;
    if (progress) std::fprintf(stderr, "\r[%zu/%zu] %-40s", n + 1, cases.size(), c.op.c_str());
    // Inputs drawn once in float32; the float64 reference reads the same values.
    const TensorList in32 = test::make_inputs(v, 1, DType::F32, Device::CPU);
    Tensor ref;
    {
      NoGradGuard no_grad;
      ref = v.fn(leaves_like(in32, DType::F64, Device::CPU)).detach();
    }
    std::vector<std::string> row = {c.op, v.label, shapes_text(v.shapes)};
    double in_bytes = 0.0;
    for (const Shape& s : v.shapes) in_bytes += 4.0 * static_cast<double>(numel_of(s));
    const double out_bytes = 4.0 * static_cast<double>(ref.numel());
    const double fwd_bytes = in_bytes + out_bytes, bwd_bytes = 2.0 * in_bytes + out_bytes;
    const double flops = c.perf->flops;

    // Check every device first; time only what agrees with the reference.
    std::vector<std::pair<Device, TensorList>> runs;
    if (on_cpu) runs.emplace_back(Device::CPU, leaves_like(in32, DType::F32, Device::CPU));
    if (on_cuda) runs.emplace_back(Device::CUDA, leaves_like(in32, DType::F32, Device::CUDA));
    std::string check;
    bool ok = true;
    for (const auto& [d, in] : runs) {
      NoGradGuard no_grad;
      const double err = check_error(v.fn(in), ref);
      ok = ok && err <= kCheckTolerance;
      const std::string where = runs.size() > 1 ? " " + std::string(device_name(d)) : "";
      check += fmt::format("{}{:.1e}{}", check.empty() ? "" : " / ", err, where);
    }
    row.push_back(ok ? check : "FAIL " + check);
    if (!ok) {
      ++failed;
      table.rows.push_back(row);
      continue;
    }

    Timing cpu, gpu;
    for (const auto& [d, in] : runs) (d == Device::CPU ? cpu : gpu) = time_variant(v, in, settings);
    if (on_cpu) {
      row.insert(row.end(), {ms_text(cpu.forward), ms_text(cpu.backward),
                             rate_text(flops, fwd_bytes, cpu.forward, cpu.view),
                             rate_text(2.0 * flops, bwd_bytes, cpu.backward, false)});
    } else {
      row.insert(row.end(), {"-", "-", rate_text(flops, fwd_bytes, gpu.forward, gpu.view),
                             rate_text(2.0 * flops, bwd_bytes, gpu.backward, false)});
    }
    if (on_cuda) {
      row.insert(row.end(), {ms_text(gpu.forward), ms_text(gpu.backward),
                             on_cpu ? fmt::format("{:.3f}", (gpu.forward + gpu.backward) / (cpu.forward + cpu.backward))
                                    : "-"});
    } else {
      row.insert(row.end(), {"n/a", "n/a", "n/a"});
    }
    table.rows.push_back(row);
  }
  if (progress) std::fprintf(stderr, "\r%60s\r", "");

  std::printf("op benchmark: the op table's perf variants in float32, %s; CPU ISA %s, %d threads\n",
              on_cpu && on_cuda ? "CPU and CUDA" : on_cuda ? "CUDA" : "CPU", cpu_isa(), cpu_threads());
  std::printf("medians of up to %d runs after %d warm-up; checked against float64 first (tolerance %.0e)\n",
              settings.repeats, settings.warmup, kCheckTolerance);
  table.print();
  if (on_cpu && !on_cuda) std::printf("CUDA columns n/a: %s\n", no_cuda.empty() ? "--device cpu" : no_cuda.c_str());
  if (!without_perf.empty()) {
    std::string names;
    for (const std::string& s : without_perf) names += (names.empty() ? "" : ", ") + s;
    std::printf("ops without a perf variant in tests/op_table.h: %s\n", names.c_str());
  }
  if (failed) {
    std::printf("bench_ops: %d op(s) disagree with the float64 reference; they were not timed\n", failed);
    return 1;
  }
  return 0;
}
