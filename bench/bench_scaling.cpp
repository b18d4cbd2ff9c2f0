// Data-parallel scaling of a training step, alone (one rank) or under mpirun:
//   bench_scaling [--model seed|jazz] [--threads N] [--steps N] [--batch B]
//   mpirun -np 2 bench_scaling --model seed --threads 1
// Every rank computes its rows of the global batch exactly as the trainer
// does (models/trainer.cpp): forward and backward of its part with its mean
// loss weighted by its share (batch norm and the free-bits KL over the whole
// batch), the all-reduce of the gradients, the optimizer's update. Rank 0
// prints the median step, the median wait for the slowest rank and the
// median all-reduce, samples/s of the global batch, and a RESULT line for
// bench/compare/scaling.py, which runs the ranks and threads side by side.
//   seed: the Chopin seed network (LSTM 512 -> LSTM 256 -> Dense 256 -> Dense
//         vocab, dropout 0.1) on 40-token windows, Adamax, global batch 256;
//   jazz: the default conv VAE on 5 s clips (513 bins x 216 frames), its loss
//         with spectral term and free bits, Adam, global batch 10.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "bench/bench_util.h"
#include "bench/jazz_step.h"
#include "models/chopin_lstm.h"
#include "models/distributed.h"
#include "models/optim.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

using namespace mg;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "seed";
  int steps = 6;
  int64_t batch = 0;
  for (int i = 1; i < argc; ++i) {
    const bool has = i + 1 < argc;
    if (!std::strcmp(argv[i], "--model") && has) model = argv[++i];
    else if (!std::strcmp(argv[i], "--threads") && has) set_cpu_threads(std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--steps") && has) steps = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--batch") && has) batch = std::max(1, std::atoi(argv[++i]));
    else {
      std::printf("usage: [mpirun -np N] bench_scaling [--model seed|jazz] [--threads N] [--steps N] [--batch B]\n");
      return 2;
    }
  }
  if (model != "seed" && model != "jazz") {
    std::printf("bench_scaling: --model: expected seed or jazz, got '%s'\n", model.c_str());
    return 2;
  }
  try {
    nn::dist::Session session;
    const nn::dist::Communicator& comm = nn::dist::world();
    if (batch == 0) batch = model == "seed" ? 256 : 10;
    if (batch % comm.size() != 0) fail("--batch {} does not split among {} ranks", batch, comm.size());
    const nn::dist::RowRange part = nn::dist::rank_rows(batch, comm.rank(), comm.size());
    const int64_t local = part.end - part.begin;
    const double share = static_cast<double>(local) / static_cast<double>(batch);

    // The model, its optimizer and a fixed batch (this rank's rows of it).
    manual_seed(1);
    std::shared_ptr<nn::Module> net;
    std::unique_ptr<nn::Optimizer> opt;
    std::function<Tensor()> forward;
    std::string what;
    if (model == "seed") {
      nn::ChopinConfig cfg;
      cfg.input = "seed";
      cfg.vocab = 117;
      const int64_t T = 40;
      auto lstm = std::make_shared<nn::ChopinLSTM>(cfg);
      std::vector<int64_t> ids, targets;
      for (int64_t i = part.begin * T; i < part.end * T; ++i) ids.push_back((i * 7919) % cfg.vocab);
      for (int64_t i = part.begin; i < part.end; ++i) targets.push_back((i * 104729) % cfg.vocab);
      Tensor x = lstm->encode_input(ids, local, T, Device::CPU), y = from_vector(targets, {local});
      forward = [lstm, x, y] { return cross_entropy(lstm->forward(x), y); };
      opt = std::make_unique<nn::Adamax>(lstm->named_parameters(), 0.01);
      net = lstm;
      what = fmt::format("Chopin seed network, vocab {}, 40-token windows, global batch {}", cfg.vocab, batch);
    } else {
      const nn::ConvVaeConfig c = bench::jazz_conv_config();
      auto vae = std::make_shared<nn::ConvVAE>(c);
      // The whole batch's input and noise drawn once; this rank keeps its rows.
      const Tensor x = randn({batch, c.in_channels, c.length}).slice(0, part.begin, part.end).contiguous();
      const Tensor eps = randn(c.latent_shape(batch)).slice(0, part.begin, part.end).contiguous();
      forward = [vae, c, x, eps] { return bench::jazz_loss(c, vae->forward(x, eps), x); };
      opt = std::make_unique<nn::Adam>(vae->named_parameters(), 3e-4);
      net = vae;
      what = fmt::format("jazz conv VAE, {} x {} input, global batch {}", c.in_channels, c.length, batch);
    }
    const std::vector<Tensor> params = net->parameters();
    int64_t grad_floats = 0;
    for (const Tensor& p : params) grad_floats += p.numel();

    std::vector<double> step_s, wait_s, reduce_s;
    double loss_value = 0;
    for (int s = 0; s <= steps; ++s) {
      const double t0 = now();
      double t1, t2;
      {
        nn::dist::BatchShard shard(batch, part.begin, part.end);
        Tensor loss = forward();
        opt->zero_grad();
        (comm.distributed() ? mul(loss, share) : loss).backward();
        loss_value = loss.item();
        t1 = now();
        comm.all_reduce_max(0, "the step's barrier");  // the wait for the slowest rank, apart from the all-reduce
        t2 = now();
        nn::dist::all_reduce_gradients(params);
      }
      const double t3 = now();
      opt->step();
      const double t4 = now();
      if (s == 0) continue;  // warm-up: packing buffers, the optimizer's state
      step_s.push_back(t4 - t0);
      wait_s.push_back(t2 - t1);
      reduce_s.push_back(t3 - t2);
    }
    double sums[1] = {loss_value * share};
    comm.all_reduce_sum(sums, 1, "the loss");
    if (comm.root()) {
      const double t = median(step_s), w = median(wait_s), r = median(reduce_s);
      std::printf("build: %s\n%s: %d rank%s x %d thread%s, %lld parameters (%.1f MB of fp32 gradients)\n",
                  build_description(), what.c_str(), comm.size(), comm.size() == 1 ? "" : "s", cpu_threads(),
                  cpu_threads() == 1 ? "" : "s", static_cast<long long>(grad_floats), grad_floats * 4e-6);
      bench::Table table;
      table.header = {"model", "ranks", "threads", "step ms (median)", "samples/s", "wait ms", "all-reduce ms",
                      "all-reduce %", "last loss"};
      table.rows.push_back({model, std::to_string(comm.size()), std::to_string(cpu_threads()),
                            fmt::format("{:.1f}", t * 1e3), fmt::format("{:.1f}", batch / t),
                            fmt::format("{:.2f}", w * 1e3), fmt::format("{:.2f}", r * 1e3),
                            fmt::format("{:.2f}", 100 * r / t), fmt::format("{:.6f}", sums[0])});
      table.print();
      std::printf("RESULT {\"bench\": \"scaling\", \"model\": \"%s\", \"ranks\": %d, \"threads\": %d, \"batch\": %lld, "
                  "\"step_ms\": %.3f, \"samples_per_s\": %.3f, \"wait_ms\": %.3f, \"allreduce_ms\": %.3f, "
                  "\"grad_mb\": %.3f, \"loss\": %.7f}\n",
                  model.c_str(), comm.size(), cpu_threads(), static_cast<long long>(batch), t * 1e3, batch / t,
                  w * 1e3, r * 1e3, grad_floats * 4e-6, sums[0]);
    }
    session.finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scaling: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
