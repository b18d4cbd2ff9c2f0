// Jazz VAE training throughput: one Adam step (forward, backward, update) on a
// batch of clips for the two jazz-vae models at their default sizes, as
// clips/s (median over steps) and the epoch time that projects to on the
// seed notebook's 13 GTZAN training files.
//   bench_jazz [--device cpu|cuda] [--threads N] [--batch B] [--quick]

#include <cmath>
#include <cstring>
#include <string>

#include "bench/bench_util.h"
#include "io/stft.h"
#include "models/jazz_vae.h"
#include "models/optim.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

using namespace mg;

namespace {

struct Case {
  const char* name;
  const char* input;
  nn::ConvVaeConfig config;
  int64_t clips_per_file;  // clips jazz-vae cuts from one 30 s file
};

}  // namespace

int main(int argc, char** argv) {
  Device device = Device::CPU;
  int64_t batch = 10;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) mg::set_cpu_threads(std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
      if (std::strcmp(argv[++i], "cuda") == 0) {
        if (!cuda_available()) {
          std::printf("bench_jazz: skipped: --device cuda but no CUDA GPU is available\n");
          return 0;
        }
        device = Device::CUDA;
      }
    }
  }
  // The app's defaults: conv = 5 s at 22,050 Hz, n_fft 1024, hop 512; seed = 90,001 samples at 3 kHz.
  nn::ConvVaeConfig conv;
  conv.kind = "conv";
  conv.in_channels = 513;
  conv.length = io::stft_frames(5 * 22050, io::StftConfig{1024, 512, true});
  nn::ConvVaeConfig seed;
  seed.kind = "seed";
  seed.in_channels = 1;
  seed.length = 90001;
  std::vector<Case> cases = {{"conv", "513 bins x frames", conv, 6}, {"seed", "1 x 90,001 samples", seed, 1}};
  constexpr int64_t kTrainFiles = 13;

  bench::Table t;
  t.header = {"model", "input [C, L]", "parameters", "batch", "step s", "clips/s", "epoch s (13 files)"};
  for (const Case& c : cases) {
    manual_seed(1);
    nn::ConvVAE vae(c.config);
    vae.to(device);
    nn::Adam opt(vae.named_parameters(), 3e-4);
    Tensor x = randn({batch, c.config.in_channels, c.config.length}, DType::F32, device);
    auto step = [&] {
      nn::VaeOutput out = vae.forward(x, randn({batch, c.config.latent}, DType::F32, device));
      Tensor d = out.recon - x;
      Tensor loss = sum(d * d) / static_cast<double>(batch) + mean(kl_normal(out.mu, out.logvar));
      opt.zero_grad();
      loss.backward();
      opt.step();
      if (!std::isfinite(loss.item())) std::printf("warning: %s loss is not finite\n", c.name);
    };
    // The seed model's step takes tens of seconds on two cores: fewer repeats.
    const bool slow = c.config.length > 10000 && device == Device::CPU;
    const double s = bench::median_seconds(step, quick || slow ? 3 : 10, 1, quick ? 5.0 : 60.0);
    const double rate = static_cast<double>(batch) / s;
    t.rows.push_back({c.name, fmt::format("{} x {}", c.config.in_channels, c.config.length),
                      fmt::format("{}", vae.num_parameters()), fmt::format("{}", batch), fmt::format("{:.3f}", s),
                      fmt::format("{:.2f}", rate),
                      fmt::format("{:.1f}", static_cast<double>(kTrainFiles * c.clips_per_file) / rate)});
  }
  std::printf("jazz VAE training step (forward + backward + Adam), %s, %d threads, median over steps\n",
              device == Device::CPU ? "CPU" : "CUDA", mg::cpu_threads());
  t.print();
  return 0;
}
