// Training throughput of the Chopin seed network (LSTM 512 -> LSTM 256 ->
// Dense 256 -> Dense vocab, batch 256, 40 steps): samples/s as the median of
// timed steps (forward, backward, Adamax), and the projected time of one epoch
// on the 48-file Chopin set: (windows - 20 % held out) / 256 steps, as
// chopin-lstm train runs it. With --data the vocabulary and window count come
// from that folder (--min-count 100); without, the 48-file set's 117 tokens
// and 59,517 windows.
//   bench_chopin [--device cpu|cuda] [--steps N] [--model seed|embed] [--threads N] [--data DIR]

#include <cstring>

#include "bench/bench_util.h"
#include "io/music_tokens.h"
#include "models/chopin_lstm.h"
#include "models/optim.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

using namespace mg;

static std::string format_seconds(double s) {
  return s < 120 ? fmt::format("{:.1f} s", s) : fmt::format("{:.1f} min", s / 60);
}

int main(int argc, char** argv) {
  Device device = Device::CPU;
  int steps = 5;
  std::string model = "seed", data;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--device") && i + 1 < argc) {
      device = std::strcmp(argv[++i], "cuda") == 0 ? Device::CUDA : Device::CPU;
    } else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) {
      steps = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--model") && i + 1 < argc) {
      model = argv[++i];
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      mg::set_cpu_threads(std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--data") && i + 1 < argc) {
      data = argv[++i];
    } else {
      std::printf("usage: bench_chopin [--device cpu|cuda] [--steps N] [--model seed|embed] [--threads N] [--data DIR]\n");
      return 2;
    }
  }
  if (model != "seed" && model != "embed") {
    std::printf("bench_chopin: --model: expected seed or embed, got '%s'\n", model.c_str());
    return 2;
  }
  if (device == Device::CUDA && !cuda_available()) {
    std::printf("bench_chopin: skipped: no CUDA GPU\n");
    return 0;
  }
  constexpr int64_t kBatch = 256, kSeq = 40;
  int64_t vocab = 117, windows = 59517;
  std::string source = "the 48-file set's counts";
  if (!data.empty()) {
    try {
      io::FolderTokens ft = io::tokenize_midi_folder(data, [](const std::string&, const std::string&) {});
      std::vector<std::string> kept = io::filter_rare_tokens(ft.tokens, 100);
      vocab = static_cast<int64_t>(io::build_vocabulary(kept).size());
      windows = static_cast<int64_t>(kept.size()) - kSeq;
      source = fmt::format("{} ({} files)", data, ft.files_read.size());
    } catch (const Error& e) {
      std::printf("bench_chopin: %s\n", e.what());
      return 1;
    }
    if (vocab < 2 || windows < 1) {
      std::printf("bench_chopin: %s: too few tokens for a vocabulary and windows\n", data.c_str());
      return 1;
    }
  }
  // The app holds out ceil(20 %) of the windows and drops the ragged last batch.
  const int64_t train_steps = (windows - (windows * 2 + 9) / 10) / kBatch;
  manual_seed(1);
  nn::ChopinConfig cfg;
  cfg.input = model;
  cfg.vocab = vocab;
  nn::ChopinLSTM net(cfg);
  net.to(device);
  nn::Adamax opt(net.named_parameters(), 0.01);
  std::vector<int64_t> ids(kBatch * kSeq), targets(kBatch);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 7919) % static_cast<size_t>(vocab));
  for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<int64_t>((i * 104729) % static_cast<size_t>(vocab));
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
  const double epoch = static_cast<double>(train_steps) * t;
  bench::Table table;
  table.header = {"model", "device", "threads", "step ms (median)", "samples/s", "one epoch", "loss"};
  table.rows.push_back({model, std::string(device_name(device)), std::to_string(mg::cpu_threads()),
                        fmt::format("{:.1f}", t * 1e3), fmt::format("{:.1f}", samples_per_s),
                        fmt::format("{} ({} steps)", format_seconds(epoch), train_steps),
                        fmt::format("{:.4f}", last_loss)});
  std::printf("Chopin LSTM training step: batch %lld, seq %lld, vocab %lld, %lld parameters\n",
              static_cast<long long>(kBatch), static_cast<long long>(kSeq), static_cast<long long>(vocab),
              static_cast<long long>(net.num_parameters()));
  std::printf("one epoch: the training steps over %lld windows from %s, 80 %% of them for training\n", static_cast<long long>(windows), source.c_str());
  table.print();
  return 0;
}
