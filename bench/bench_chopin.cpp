// Training throughput of the Chopin network (seed: LSTM 512 -> LSTM 256 ->
// Dense 256 -> Dense vocab over a scalar input; embed: the same over a learned
// embedding), batch 256, 40 steps: one training step is forward, backward
// and an Adamax update. Before timing it checks the first step's loss against
// the float64 reference kernels on a slice of the batch, and prints the
// full-batch first-step loss, a number any machine reproduces (the AVX2 and
// AVX-512 kernels give the same bits). Then it reports the median step time,
// samples/s, the projected epoch on the 48-file Chopin set, the thread-pool
// dispatches per step, and peak memory against the theoretical minimum.
//   bench_chopin [--device cpu|cuda] [--steps N] [--model seed|embed] [--threads N] [--data DIR]
//                [--hidden1 N --hidden2 N --dense N --embed-dim N]
//   bench_chopin --generate N [--context state|window|both] [...]: times
//                generation instead, as chopin-lstm generates, at batch 1
//                (argmax): state (the default) carries both LSTMs' state and
//                runs one step of each per token; window runs the last 40
//                tokens through the network for every token; both times the
//                two in turn and prints their ratio. It first checks that the
//                two agree on the logits after the primer; reports tokens/s.
// The last line is `RESULT {json}` for bench/compare/run.py (--context
// both: one line per context, state last).
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "bench/bench_util.h"
#include "io/music_tokens.h"
#include "kernels/cpu/parallel.h"
#include "models/chopin_lstm.h"
#include "models/optim.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

using namespace mg;

namespace {

std::string format_seconds(double s) {
  return s < 120 ? fmt::format("{:.1f} s", s) : fmt::format("{:.1f} min", s / 60);
}

// The fewest bytes one training step can hold at its peak: parameters, their
// gradients and Adamax's two state tensors, plus what backward must keep from
// forward. Per LSTM layer and step: its input (for W_ih's gradient), the four
// activated gates, c and h; Dropout's mask and output; the dense layers'
// inputs and the softmax probabilities.
double minimum_bytes(const nn::ChopinConfig& c, int64_t params, int64_t B, int64_t T) {
  const int64_t in = c.input == "embed" ? c.embed_dim : 1;
  const int64_t saved = T * B * (in + 6 * c.hidden1)   // LSTM 1
                        + T * B * 2 * c.hidden1       // Dropout 1: mask and output (LSTM 2's input)
                        + T * B * 6 * c.hidden2       // LSTM 2
                        + B * (c.hidden2 + 2 * c.dense + c.vocab);
  return 4.0 * static_cast<double>(4 * params + saved);
}

}  // namespace

int main(int argc, char** argv) {
  Device device = Device::CPU;
  int steps = 5;
  std::string model = "seed", data;
  nn::ChopinConfig cfg;
  int generate = 0;
  std::string context = "state";
  auto int_arg = [&](int& i) { return std::atoi(argv[++i]); };
  for (int i = 1; i < argc; ++i) {
    const bool has = i + 1 < argc;
    if (!std::strcmp(argv[i], "--device") && has) {
      device = std::strcmp(argv[++i], "cuda") == 0 ? Device::CUDA : Device::CPU;
    } else if (!std::strcmp(argv[i], "--steps") && has) {
      steps = std::max(1, int_arg(i));
    } else if (!std::strcmp(argv[i], "--model") && has) {
      model = argv[++i];
    } else if (!std::strcmp(argv[i], "--threads") && has) {
      set_cpu_threads(int_arg(i));
    } else if (!std::strcmp(argv[i], "--data") && has) {
      data = argv[++i];
    } else if (!std::strcmp(argv[i], "--hidden1") && has) {
      cfg.hidden1 = int_arg(i);
    } else if (!std::strcmp(argv[i], "--hidden2") && has) {
      cfg.hidden2 = int_arg(i);
    } else if (!std::strcmp(argv[i], "--dense") && has) {
      cfg.dense = int_arg(i);
    } else if (!std::strcmp(argv[i], "--embed-dim") && has) {
      cfg.embed_dim = int_arg(i);
    } else if (!std::strcmp(argv[i], "--generate") && has) {
      generate = std::max(1, int_arg(i));
    } else if (!std::strcmp(argv[i], "--context") && has) {
      context = argv[++i];
    } else if (!std::strcmp(argv[i], "--precision") && has) {
      if (!bench::set_precision_flag(argv[++i])) return 2;
    } else {
      std::printf("usage: bench_chopin [--device cpu|cuda] [--steps N] [--model seed|embed] [--threads N] [--data DIR]\n"
                  "                    [--hidden1 N --hidden2 N --dense N --embed-dim N] [--precision fp32|bf16]\n"
                  "       bench_chopin --generate N [--context state|window|both] [...]\n");
      return 2;
    }
  }
  if (context != "state" && context != "window" && context != "both") {
    std::printf("bench_chopin: --context: expected state, window or both, got '%s'\n", context.c_str());
    return 2;
  }
  if (model != "seed" && model != "embed") {
    std::printf("bench_chopin: --model: expected seed or embed, got '%s'\n", model.c_str());
    return 2;
  }
  if (cfg.hidden1 < 1 || cfg.hidden2 < 1 || cfg.dense < 1 || cfg.embed_dim < 1) {
    std::printf("bench_chopin: layer sizes must be positive\n");
    return 2;
  }
  if (device == Device::CUDA && !cuda_available()) {
    std::printf("bench_chopin: skipped: no CUDA GPU\n");
    return 0;
  }
  constexpr int64_t kBatch = 256, kSeq = 40, kCheckWindows = 16;
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
  cfg.input = model;
  cfg.vocab = vocab;
  std::vector<int64_t> ids(kBatch * kSeq), targets(kBatch);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 7919) % static_cast<size_t>(vocab));
  for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<int64_t>((i * 104729) % static_cast<size_t>(vocab));

  if (generate > 0) {
    manual_seed(1);
    nn::ChopinLSTM net(cfg);
    net.to(device);
    net.eval();
    NoGradGuard no_grad;
    const std::vector<int64_t> primer(ids.begin(), ids.begin() + kSeq);
    auto argmax_of = [&](const Tensor& logits) {
      return argmax_rows(logits.reshape({1, vocab})).to(Device::CPU).to_vector<int64_t>()[0];
    };
    // Windowed: the last kSeq tokens through the network for every new token.
    std::vector<int64_t> window = primer;
    auto window_token = [&] {
      const int64_t next = argmax_of(net.forward(net.encode_input(window, 1, kSeq, device)));
      window.erase(window.begin());
      window.push_back(next);
      return next;
    };
    // Stateful: the primer once, then one step of each LSTM per new token.
    nn::ChopinState state = net.start_state(1, device);
    Tensor state_logits = net.step(net.encode_input(primer, 1, kSeq, device), state);
    auto state_token = [&] {
      const int64_t next = argmax_of(state_logits);
      state_logits = net.step(net.encode_input({next}, 1, 1, device), state);
      return next;
    };
    // The check: after the primer both have seen the same tokens from zero
    // state, so their logits agree to rounding.
    {
      const std::vector<float> a = net.forward(net.encode_input(primer, 1, kSeq, device)).to_vector<float>();
      const std::vector<float> b = state_logits.to_vector<float>();
      double diff = 0, scale = 1e-30;
      for (size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
        scale = std::max(scale, static_cast<double>(std::abs(a[i])));
      }
      if (!(diff <= 1e-4 * scale)) {
        std::printf("MISMATCH: logits after the primer: windowed and stateful differ by %.3g (largest %.3g)\n", diff,
                    scale);
        return 1;
      }
      std::printf("check: logits after the %lld-token primer, windowed against stateful: largest difference %.2g of %.3g\n",
                  static_cast<long long>(kSeq), diff, scale);
    }
    struct Candidate {
      std::string context;
      std::function<int64_t()> next_token;
      double seconds = 0;  // median per timed chunk
      int64_t first = -1;
    };
    std::vector<Candidate> candidates;
    if (context != "state") candidates.push_back({"window", window_token});
    if (context != "window") candidates.push_back({"state", state_token});
    // Each context makes `generate` tokens in 10 chunks, the contexts taking turns.
    const int chunks = std::min(generate, 10), chunk = std::max(1, generate / chunks);
    std::vector<std::function<void()>> runs;
    for (Candidate& c : candidates)
      runs.push_back([&c, chunk] {
        for (int n = 0; n < chunk; ++n) {
          const int64_t tok = c.next_token();
          if (c.first < 0) c.first = tok;
        }
      });
    const std::vector<double> medians = bench::interleaved_medians(runs, chunks);
    for (size_t i = 0; i < candidates.size(); ++i) candidates[i].seconds = medians[i];
    std::printf("Chopin LSTM generation: batch 1, %d tokens per context in %d chunks (median chunk), argmax;\n"
                "window: the last %lld tokens through the network per new token; state: one step of each LSTM\n",
                chunk * chunks, chunks, static_cast<long long>(kSeq));
    bench::Table table;
    table.header = {"model", "device", "ISA", "threads", "context", "ms per token", "tokens/s"};
    if (candidates.size() == 2) table.header.push_back("vs window");
    for (const Candidate& c : candidates) {
      table.rows.push_back({model, std::string(device_name(device)), device == Device::CPU ? cpu_isa() : "-",
                            std::to_string(cpu_threads()), c.context, fmt::format("{:.3f}", c.seconds * 1e3 / chunk),
                            fmt::format("{:.1f}", chunk / c.seconds)});
      if (candidates.size() == 2)
        table.rows.back().push_back(fmt::format("{:.2f}x", candidates[0].seconds / c.seconds));
    }
    table.print();
    for (const Candidate& c : candidates)
      std::printf("RESULT {\"bench\": \"generate\", \"framework\": \"musicgen\", \"model\": \"%s\", \"context\": \"%s\", "
                  "\"device\": \"%s\", \"isa\": \"%s\", \"threads\": %d, \"step_ms\": %.4f, \"samples_per_s\": %.3f, "
                  "\"loss_first\": %lld, \"peak_rss_mib\": %.1f, \"params\": %lld}\n",
                  model.c_str(), c.context.c_str(), device_name(device).data(), cpu_isa(), cpu_threads(),
                  c.seconds * 1e3 / chunk, chunk / c.seconds, static_cast<long long>(c.first), bench::peak_rss_mib(),
                  static_cast<long long>(net.num_parameters()));
    return 0;
  }

  // The check: the first windows of the batch through the float32 kernels and
  // through the float64 reference loops, from the same initial weights.
  double check_fast = 0, check_ref = 0;
  {
    manual_seed(1);
    nn::ChopinLSTM fast(cfg), ref(cfg);
    ref.load_state(fast.named_parameters(), "the float32 network");
    ref.to(DType::F64);
    fast.eval();
    ref.eval();
    NoGradGuard no_grad;
    std::vector<int64_t> head(ids.begin(), ids.begin() + kCheckWindows * kSeq);
    std::vector<int64_t> head_targets(targets.begin(), targets.begin() + kCheckWindows);
    Tensor yh = from_vector(head_targets, {kCheckWindows});
    check_fast = cross_entropy(fast.forward(fast.encode_input(head, kCheckWindows, kSeq, Device::CPU)), yh).item();
    Tensor xr = ref.encode_input(head, kCheckWindows, kSeq, Device::CPU);
    if (xr.dtype() == DType::F32) xr = xr.to(DType::F64);
    check_ref = cross_entropy(ref.forward(xr), yh).item();
    // bf16 products carry 8 significant bits of each operand: a looser check.
    const double tol = matmul_precision() == MatmulPrecision::Bf16 ? 1e-2 : 1e-4;
    if (!(std::abs(check_fast - check_ref) <= tol * std::abs(check_ref))) {
      std::printf("MISMATCH: loss on %lld windows: float32 kernels %.7f, float64 reference %.7f\n",
                  static_cast<long long>(kCheckWindows), check_fast, check_ref);
      return 1;
    }
  }

  // What the process holds before the network exists (code, libraries, the
  // check above): the step's resident memory is the peak above this.
  const double rss_base = bench::current_rss_mib();
  manual_seed(1);
  nn::ChopinLSTM net(cfg);
  net.to(device);
  nn::Adamax opt(net.named_parameters(), 0.01);
  Tensor x = net.encode_input(ids, kBatch, kSeq, device), y = from_vector(targets, {kBatch}, device);
  double first_loss = NAN, last_loss = 0;
  auto step = [&] {
    Tensor loss = cross_entropy(net.forward(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    last_loss = loss.item();  // also waits for the device
    if (std::isnan(first_loss)) first_loss = last_loss;
  };
  Backend& be = backend_for(device);
  step();  // warm-up: packing buffers, optimizer state
  be.reset_peak_memory();
  const int64_t dispatches0 = cpu::parallel_dispatches();
  const double flops0 = be.matmul_flops();
  std::vector<double> times;
  for (int s = 0; s < steps; ++s) times.push_back(bench::median_seconds(step, 1, 0));
  const double dispatches = static_cast<double>(cpu::parallel_dispatches() - dispatches0) / steps;
  const double gflop_per_step = (be.matmul_flops() - flops0) / steps * 1e-9;
  std::sort(times.begin(), times.end());
  const double t = times[times.size() / 2];
  const double peak_tensor_mib = static_cast<double>(be.memory_use().peak_bytes) / (1 << 20);
  const double step_rss_mib = bench::peak_rss_mib() - rss_base;
  const double min_mib = minimum_bytes(cfg, net.num_parameters(), kBatch, kSeq) / (1 << 20);

  const double samples_per_s = kBatch / t;
  const double epoch = static_cast<double>(train_steps) * t;
  bench::Table table;
  table.header = {"model", "device", "ISA", "products", "threads", "step ms (median)", "samples/s", "one epoch",
                  "pool calls/step", "tensors MiB", "RSS MiB", "min MiB", "RSS/min"};
  table.rows.push_back({model, std::string(device_name(device)), device == Device::CPU ? cpu_isa() : "-",
                        bench::precision_name(), std::to_string(cpu_threads()), fmt::format("{:.1f}", t * 1e3),
                        fmt::format("{:.1f}", samples_per_s),
                        fmt::format("{} ({} steps)", format_seconds(epoch), train_steps),
                        device == Device::CPU ? fmt::format("{:.0f}", dispatches) : "-",
                        fmt::format("{:.0f}", peak_tensor_mib), fmt::format("{:.0f}", step_rss_mib),
                        fmt::format("{:.0f}", min_mib), fmt::format("{:.2f}", step_rss_mib / min_mib)});
  std::printf("build: %s\n", build_description());
  std::printf("Chopin LSTM training step: batch %lld, seq %lld, vocab %lld, %lld parameters\n",
              static_cast<long long>(kBatch), static_cast<long long>(kSeq), static_cast<long long>(vocab),
              static_cast<long long>(net.num_parameters()));
  std::printf("check: loss on the first %lld windows: float32 kernels %.7f, float64 reference %.7f\n",
              static_cast<long long>(kCheckWindows), check_fast, check_ref);
  std::printf("first-step loss on the whole batch: %.7f (after %d steps: %.7f)\n", first_loss, steps + 1, last_loss);
  if (device == Device::CPU)
    std::printf("matrix products: %.1f GFLOP per step (counted by the backend), %.1f GFLOP/s\n", gflop_per_step,
                gflop_per_step / t);
  std::printf("one epoch: the training steps over %lld windows from %s, 80 %% of them for training\n",
              static_cast<long long>(windows), source.c_str());
  std::printf("memory: tensors = the most held at once during a step; RSS = peak resident memory above the\n"
              "%.0f MiB the process held before building the network; min = parameters, gradients, Adamax state\n"
              "and the activations backward needs (minimum_bytes in bench_chopin.cpp)\n",
              rss_base);
  table.print();
  std::printf("RESULT {\"bench\": \"chopin\", \"framework\": \"musicgen\", \"model\": \"%s\", \"device\": \"%s\", "
              "\"isa\": \"%s\", \"precision\": \"%s\", \"threads\": %d, \"step_ms\": %.3f, \"samples_per_s\": %.3f, \"loss_first\": %.7f, "
              "\"peak_rss_mib\": %.1f, \"step_rss_mib\": %.1f, \"peak_tensor_mib\": %.1f, \"min_mib\": %.1f, "
              "\"pool_calls_per_step\": %.0f, \"params\": %lld, \"epoch_s\": %.3f, \"gflop_per_step\": %.3f, \"build\": \"%s\"}\n",
              model.c_str(), device_name(device).data(), cpu_isa(), bench::precision_name(), cpu_threads(), t * 1e3,
              samples_per_s, first_loss,
              bench::peak_rss_mib(), step_rss_mib, peak_tensor_mib, min_mib, dispatches,
              static_cast<long long>(net.num_parameters()), epoch, device == Device::CPU ? gflop_per_step : 0.0,
              build_description());
  return 0;
}
