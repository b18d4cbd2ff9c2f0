#pragma once
// Where a training run stands, stored in every checkpoint so that a resumed
// run continues bit for bit on the CPU: weights and optimizer tensors are the
// checkpoint's tensors; the rest lives in its metadata document as
//
//   "epoch":     epochs completed
//   "rng":       {"seed", "offset"} of the default Philox generator, which
//                draws dropout masks and reparameterisation noise
//   "optimizer": type, hyper-parameters, learning rate and step count
//                (written by save_checkpoint)
//   "best":      {"epoch", "loss"}: the epoch with the lowest held-out score
//                so far (its weights in the best file), when there is one
//   "partial":   only after a stop in the middle of an epoch (Ctrl-C):
//                {"step": steps of the next epoch already taken,
//                 "sums": {name: value}, the running sums of that epoch's
//                 log row (losses, counts)}
//
// What an epoch trains on is derived from the seed and the epoch number (the
// trainer shuffles with a key of both), so (epoch, step) is the data position.
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "models/checkpoint.h"
#include "models/optim.h"

namespace mg::nn {

struct TrainingState {
  int epoch = 0;           // epochs completed
  int64_t step = 0;        // steps of epoch + 1 already taken; 0 at an epoch boundary
  std::map<std::string, double> sums;  // that epoch's running sums, when step > 0
  uint64_t rng_seed = 0, rng_offset = 0;
  int64_t optimizer_steps = 0;
  double learning_rate = 0;
  int best_epoch = 0;      // 0: no epoch scored yet
  double best_score = 0;   // its held-out score (lower is better)

  // The state of a run now: `epoch` completed, `step` steps into the next
  // one with its running sums, the default generator, the optimizer's step
  // count and learning rate.
  static TrainingState now(const Optimizer& opt, int epoch, int64_t step = 0, std::map<std::string, double> sums = {});

  // Adds "epoch", "rng", "best" (when best_epoch > 0) and (when step > 0) "partial" to a checkpoint's metadata.
  void write(nlohmann::json& meta) const;

  // Reads the fields above through `m` (errors name the checkpoint and the
  // field). max_epochs bounds "epoch"; a "partial" step must be below
  // max_steps, the steps of one epoch of the resumed run.
  static TrainingState read(const MetaReader& m, int max_epochs, int64_t max_steps = INT64_MAX);

  // Puts the optimizer (state tensors, step count, learning rate) and the
  // default generator back where the checkpoint left them. The optimizer's
  // parameters must already hold the checkpoint's weights.
  void restore(Optimizer& opt, const NamedTensors& params, const Checkpoint& ck, const std::string& path) const;

  // The running sum `name` of a partial epoch, 0 at an epoch boundary.
  double sum(const std::string& name) const;
};

}  // namespace mg::nn
