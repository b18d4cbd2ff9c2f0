// Training throughput of the Chopin seed network (LSTM 512 -> LSTM 256 ->
// Dense 256 -> Dense vocab, batch 256, 40 steps): samples/s as the median of
// timed steps (forward, backward, Adamax), and the projected time of one epoch
// on the 48-file Chopin set (47,613 training windows with --min-count 100).
//   bench_chopin [--device cpu|cuda] [--steps N] [--model seed|embed] [--threads N]
#include <omp.h>

#include <cstring>

#include "bench/bench_util.h"
#include "models/chopin_lstm.h"
#include "models/optim.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

using namespace mg;

int main(int argc, char** argv) {
  Device device = Device::CPU;
  int steps = 5;
  std::string model = "seed";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--device") && i + 1 < argc) {
      device = std::strcmp(argv[++i], "cuda") == 0 ? Device::CUDA : Device::CPU;
    } else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) {
      steps = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--model") && i + 1 < argc) {
      model = argv[++i];
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      omp_set_num_threads(std::atoi(argv[++i]));
    } else {
      std::printf("usage: bench_chopin [--device cpu|cuda] [--steps N] [--model seed|embed] [--threads N]\n");
      return 2;
    }
  }
  if (device == Device::CUDA && !cuda_available()) {
    std::printf("bench_chopin: skipped: no CUDA GPU\n");
    return 0;
  }
  constexpr int64_t kBatch = 256, kSeq = 40, kVocab = 117, kTrainWindows = 47613;
  manual_seed(1);
  nn::ChopinConfig cfg;
  cfg.input = model;
  cfg.vocab = kVocab;
  nn::ChopinLSTM net(cfg);
  net.to(device);
  nn::Adamax opt(net.named_parameters(), 0.01);
  std::vector<int64_t> ids(kBatch * kSeq), targets(kBatch);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 7919) % kVocab);
  for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<int64_t>((i * 104729) % kVocab);
  Tensor x = net.encode_input(ids, kBatch, kSeq, device), y = from_vector(targets, {kBatch}, device);
  double last_loss = 0;
  auto step = [&] {
    Tensor loss = cross_entropy(net.forward(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    last_loss = loss.item();  // also waits for the device
  };
  const double t = bench::median_seconds(step, steps, 1, 600.0);
  const double samples_per_s = kBatch / t;
  const double epoch = static_cast<double>(kTrainWindows / kBatch) * t;
  bench::Table table;
  table.header = {"model", "device", "threads", "step ms (median)", "samples/s", "epoch on 48 files", "loss"};
  table.rows.push_back({model, std::string(device_name(device)), std::to_string(omp_get_max_threads()),
                        fmt::format("{:.1f}", t * 1e3), fmt::format("{:.1f}", samples_per_s),
                        fmt::format("{:.1f} s ({} steps)", epoch, kTrainWindows / kBatch), fmt::format("{:.4f}", last_loss)});
  std::printf("Chopin LSTM training step: batch %lld, %lld steps per window, vocab %lld, %lld parameters\n",
              static_cast<long long>(kBatch), static_cast<long long>(kSeq), static_cast<long long>(kVocab),
              static_cast<long long>(net.num_parameters()));
  table.print();
  return 0;
}
