#pragma once
// A training step whose loss or gradient norm is NaN or infinite would write
// NaN into the weights (and from there into every later checkpoint). The
// guard checks each step before the optimizer applies it: by default training
// stops with an error naming the epoch and the step, leaving the last good
// checkpoint in place; with --skip-nonfinite the step is skipped and counted,
// and the running statistics its forward pass changed are put back.
#include <cstdint>
#include <string>
#include <vector>

#include "models/module.h"

namespace mg::app {

class FiniteGuard {
 public:
  // checkpoint: the file that keeps the last good epoch (for the message).
  FiniteGuard(const nn::Module& model, bool skip_nonfinite, std::string checkpoint);
  // Before each step's forward pass: when skipping is on, remembers the
  // model's buffers (batch-norm running statistics), which that pass updates.
  void begin_step();
  // True when the step may be applied. A non-finite step returns false
  // (skipping: buffers restored) or throws mg::Error (stopping);
  // last_good_epoch is the epoch the checkpoint holds (0: none written yet).
  bool accept(int epoch, int64_t step, double loss, double grad_norm, int last_good_epoch);
  // Steps skipped since the last call (one epoch's count, for the log).
  int64_t take_skipped();

 private:
  nn::NamedTensors buffers_;
  std::vector<Tensor> saved_;
  bool skip_;
  std::string checkpoint_;
  int64_t skipped_ = 0;
};

}  // namespace mg::app
