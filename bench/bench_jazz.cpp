// Jazz VAE training throughput: one Adam step (forward, backward, update) on a
// batch of clips for the jazz-vae models at their default sizes, as clips/s
// (median over steps) and the epoch time that projects to on the seed
// notebook's 13 GTZAN training files. Before timing, the first step's loss is
// checked against the float64 reference kernels on two clips; memory is
// reported as the most tensor memory a step holds at once and the peak
// resident memory of the step, against parameters + gradients + Adam state +
// the activations the graph keeps for backward (measured after forward).
//   bench_jazz [--device cpu|cuda] [--threads N] [--batch B] [--steps N] [--model conv|seed|all] [--quick]
// The last line per model is `RESULT {json}` for bench/compare/run.py.
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <string>

#include "bench/bench_util.h"
#include "bench/jazz_step.h"
#include "kernels/cpu/parallel.h"
#include "models/jazz_vae.h"
#include "models/vae_loss.h"
#include "models/optim.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

using namespace mg;

namespace {

struct Case {
  const char* name;
  nn::ConvVaeConfig config;
  int64_t clips_per_file;  // clips jazz-vae cuts from one 30 s file
};

}  // namespace

int main(int argc, char** argv) {
  Device device = Device::CPU;
  int64_t batch = 10;
  int steps = 10;
  bool quick = false;
  std::string which = "conv";
  for (int i = 1; i < argc; ++i) {
    const bool has = i + 1 < argc;
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && has) set_cpu_threads(std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--batch") == 0 && has) batch = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--steps") == 0 && has) steps = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--model") == 0 && has) which = argv[++i];
    else if (std::strcmp(argv[i], "--precision") == 0 && has) {
      if (!bench::set_precision_flag(argv[++i])) return 2;
    }
    else if (std::strcmp(argv[i], "--device") == 0 && has) {
      if (std::strcmp(argv[++i], "cuda") == 0) {
        if (!cuda_available()) {
          std::printf("bench_jazz: skipped: --device cuda but no CUDA GPU is available\n");
          return 0;
        }
        device = Device::CUDA;
      }
    } else {
      std::printf("usage: bench_jazz [--device cpu|cuda] [--threads N] [--batch B] [--steps N] [--model conv|seed|all] [--quick]\n"
                  "                  [--precision fp32|bf16]\n");
      return 2;
    }
  }
  if (which != "conv" && which != "seed" && which != "all") {
    std::printf("bench_jazz: --model: expected conv, seed or all, got '%s'\n", which.c_str());
    return 2;
  }
  // The app's defaults: conv = 5 s at 22,050 Hz, n_fft 1024, hop 512; seed = 90,001 samples at 3 kHz.
  const nn::ConvVaeConfig conv = bench::jazz_conv_config();
  nn::ConvVaeConfig seed;
  seed.kind = "seed";
  seed.latent_mode = "global";
  seed.in_channels = 1;
  seed.length = 90001;
  std::vector<Case> cases;
  if (which != "seed") cases.push_back({"conv", conv, 6});
  if (which != "conv") cases.push_back({"seed", seed, 1});
  constexpr int64_t kTrainFiles = 13, kCheckClips = 2;

  bench::Table t;
  t.header = {"model", "input [C, L]", "parameters", "batch", "ISA, products", "threads", "step ms", "clips/s",
              "GFLOP/step", "GFLOP/s", "epoch s (13 files)", "tensors MiB", "RSS MiB", "min MiB", "RSS/min"};
  std::vector<std::string> results;
  for (const Case& c : cases) {
    // The check: the same first clips through the float32 kernels and the float64 reference.
    manual_seed(1);
    Tensor x_cpu = randn({batch, c.config.in_channels, c.config.length});
    Tensor eps_cpu = randn(c.config.latent_shape(batch));
    if (c.config.length <= 10000) {
      nn::ConvVAE fast(c.config), ref(c.config);
      nn::NamedTensors state = fast.named_parameters(), buffers = fast.named_buffers();
      state.insert(state.end(), buffers.begin(), buffers.end());
      ref.load_state(state, "the float32 network");
      ref.to(DType::F64);
      NoGradGuard no_grad;
      Tensor xh = x_cpu.slice(0, 0, kCheckClips).contiguous(), eh = eps_cpu.slice(0, 0, kCheckClips).contiguous();
      const double lf = bench::jazz_loss(c.config, fast.forward(xh, eh), xh).item();
      const double lr = bench::jazz_loss(c.config, ref.forward(xh.to(DType::F64), eh.to(DType::F64)), xh.to(DType::F64)).item();
      std::printf("check %s: loss on %lld clips: float32 kernels %.7g, float64 reference %.7g\n", c.name,
                  static_cast<long long>(kCheckClips), lf, lr);
      // bf16 products carry 8 significant bits of each operand: a looser check.
      const double tol = matmul_precision() == MatmulPrecision::Bf16 ? 1e-2 : 1e-4;
      if (!(std::abs(lf - lr) <= tol * std::abs(lr))) {
        std::printf("MISMATCH %s: float32 and float64 losses differ\n", c.name);
        return 1;
      }
    }
    Backend& be = backend_for(device);
    const double rss_base = bench::current_rss_mib();
    manual_seed(1);
    nn::ConvVAE vae(c.config);
    vae.to(device);
    nn::Adam opt(vae.named_parameters(), 3e-4);
    Tensor x = x_cpu.to(device), eps = eps_cpu.to(device);
    double first_loss = NAN;
    int64_t saved_bytes = 0;
    auto step = [&] {
      const int64_t before = be.memory_use().live_bytes;
      Tensor loss = bench::jazz_loss(c.config, vae.forward(x, eps), x);
      saved_bytes = be.memory_use().live_bytes - before;  // what the graph holds for backward
      opt.zero_grad();
      loss.backward();
      opt.step();
      const double l = loss.item();
      if (std::isnan(first_loss)) first_loss = l;
      if (!std::isfinite(l)) std::printf("warning: %s loss is not finite\n", c.name);
    };
    step();  // warm-up: optimizer state, packing buffers
    be.reset_peak_memory();
    const int64_t dispatches0 = cpu::parallel_dispatches();
    const bool slow = c.config.length > 10000 && device == Device::CPU;
    const int n = quick || slow ? std::min(steps, 3) : steps;
    const double flops0 = be.matmul_flops();
    std::vector<double> times;
    for (int s = 0; s < n; ++s) times.push_back(bench::median_seconds(step, 1, 0));
    const double gflop_per_step = device == Device::CPU ? (be.matmul_flops() - flops0) / n * 1e-9 : 0.0;
    std::sort(times.begin(), times.end());
    const double sec = times[times.size() / 2];
    const double dispatches = static_cast<double>(cpu::parallel_dispatches() - dispatches0) / n;
    const double rate = static_cast<double>(batch) / sec;
    const int64_t params = vae.num_parameters();
    const double tensors_mib = static_cast<double>(be.memory_use().peak_bytes) / (1 << 20);
    const double min_mib = (16.0 * static_cast<double>(params) + static_cast<double>(saved_bytes)) / (1 << 20);
    const double step_rss = bench::peak_rss_mib() - rss_base;
    t.rows.push_back({c.name, fmt::format("{} x {}", c.config.in_channels, c.config.length), fmt::format("{}", params),
                      fmt::format("{}", batch),
                      device == Device::CPU ? fmt::format("{} {}", cpu_isa(), bench::precision_name()) : "-",
                      fmt::format("{}", cpu_threads()), fmt::format("{:.1f}", sec * 1e3), fmt::format("{:.2f}", rate),
                      fmt::format("{:.2f}", gflop_per_step), fmt::format("{:.1f}", gflop_per_step / sec),
                      fmt::format("{:.1f}", static_cast<double>(kTrainFiles * c.clips_per_file) / rate),
                      fmt::format("{:.0f}", tensors_mib), fmt::format("{:.0f}", step_rss), fmt::format("{:.0f}", min_mib),
                      fmt::format("{:.2f}", step_rss / min_mib)});
    results.push_back(fmt::format(
        "RESULT {{\"bench\": \"jazz\", \"framework\": \"musicgen\", \"model\": \"{}\", \"device\": \"{}\", \"isa\": \"{}\", "
        "\"precision\": \"{}\", \"threads\": {}, \"step_ms\": {:.3f}, \"samples_per_s\": {:.3f}, \"loss_first\": {:.7g}, \"peak_rss_mib\": {:.1f}, "
        "\"step_rss_mib\": {:.1f}, \"peak_tensor_mib\": {:.1f}, \"min_mib\": {:.1f}, \"pool_calls_per_step\": {:.0f}, "
        "\"params\": {}, \"gflop_per_step\": {:.3f}, \"build\": \"{}\"}}",
        c.name, device_name(device), cpu_isa(), bench::precision_name(), cpu_threads(), sec * 1e3, rate, first_loss, bench::peak_rss_mib(), step_rss,
        tensors_mib, min_mib, dispatches, params, gflop_per_step, build_description()));
  }
  std::printf("build: %s\n", build_description());
  std::printf("jazz VAE training step (forward + backward + Adam), %s, median over steps\n",
              device == Device::CPU ? "CPU" : "CUDA");
  if (device == Device::CUDA) std::printf("convolutions: musicgen's kernels, or %s where faster\n", cuda_conv_library().c_str());
  std::printf("memory: tensors = the most held at once in a step; RSS = peak resident memory of the step; min =\n"
              "parameters, gradients, Adam state and the activations the graph keeps for backward\n");
  t.print();
  for (const std::string& r : results) std::puts(r.c_str());
  return 0;
}
