#pragma once
// The training loop, written once. chopin-lstm train, jazz-vae train and
// jazz-vae prior each build a model, an optimizer, a task (the model's batch,
// loss and held-out metrics) and callbacks (their log row, pictures and
// report), and hand the run to a Trainer, which owns its whole life:
//
//   for each epoch from the one the checkpoint stopped in:
//     order = the examples shuffled by (seed, epoch)
//     for each step from the one the checkpoint stopped at:
//       (under mpirun: this rank's part of the batch, gradients and sums
//        reduced over the ranks, and a stop seen by any rank stops all)
//       a stop requested (a signal)?  checkpoint at this step, on_stop, end
//       loss = task.step(batch)               forward: the task's
//       zero_grad, backward, gradient norm (clipped when asked)
//       loss or norm not finite?      end with an error, the last good
//                                     checkpoint kept (or skip the step)
//       learning rate from the schedule, optimizer step, the epoch's sums
//       on_step_end                           the progress line
//     every eval_every epochs and after the last: task.evaluate()
//     the lowest score so far?        its weights to the best file
//     checkpoint of the epoch, then on_epoch_end (log row, pictures, report)
//     patience epochs without a lower score?  end
//
// Rank 0 alone writes checkpoints and runs the callbacks (the log, the
// pictures, the report); a checkpoint does not depend on the rank count.
//
// Resuming is exact, at any step: the order of an epoch is a function of
// (seed, epoch), everything random draws from the default generator whose
// position the checkpoint stores with the weights, the optimizer's moments
// and step count, the step within the epoch and that epoch's running sums
// (models/training_state.h). So a run stopped at any step and resumed ends
// with the weights, bit for bit, of the run that was never stopped.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/checkpoint.h"
#include "models/module.h"
#include "models/optim.h"
#include "models/training_state.h"

namespace mg::nn {

// The order of an epoch's examples, a pure function of (seed, epoch):
//   FisherYates: a Fisher-Yates shuffle driven by std::mt19937_64 seeded with
//                seed * 1000003 + epoch (chopin-lstm's order);
//   PhiloxKeys:  example i gets the key Philox::uniform(seed, (epoch - 1) << 32 | i),
//                and the examples are sorted by key (jazz-vae's and the prior's).
// Two orders rather than one because each app's runs and checkpoints were made
// with its own, and the same seed must keep giving the same result.
enum class ExampleOrder { FisherYates, PhiloxKeys };
std::vector<int64_t> epoch_order(int64_t examples, uint64_t seed, int epoch, ExampleOrder order);

// A deterministic Fisher-Yates shuffle driven by a 64-bit seed (the same on
// every platform: std::mt19937_64 is specified bit for bit).
void seeded_shuffle(std::vector<int64_t>& v, uint64_t seed);

// Where a step stands: epoch counted from 1, step within it from 0.
struct StepPosition {
  int epoch = 1;
  int64_t step = 0;
  // The position in the step's whole batch of this process's first example:
  // 0 on one process; rank r's part of the batch under mpirun
  // (models/distributed.h). What is random per example keys on first + i.
  int64_t first = 0;
};

// One step's forward pass, as the task computes it.
struct StepOutput {
  Tensor loss;                         // a scalar; the trainer runs backward() on it
  int64_t examples = 0;                // examples in the batch (for the progress rate)
  // Added to the epoch's running sums when the step is applied. Totals over
  // the batch's examples (a loss times the examples, the examples), so that
  // the ranks' sums add up to the whole batch's.
  std::map<std::string, double> sums;
};

// Held-out metrics after an epoch.
struct Evaluation {
  std::map<std::string, double> metrics;  // kept in the checkpoint as "heldout"
  double score = NAN;                     // lower is better; NaN: nothing to compare
};

// What a model gives the trainer: its batches and loss, and its metrics.
//
// Under mpirun (models/distributed.h) every rank runs the same task: step()
// gets the rank's part of the batch, with statistics over the batch taken
// over every rank (dist::batch_mean, BatchNorm1d), and returns its mean loss;
// evaluate() runs on every rank and returns the same metrics on each
// (a task may split the held-out examples among the ranks and sum).
class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  // Training examples; a step's batch holds indices into them.
  virtual int64_t examples() const = 0;
  // The forward pass and loss of one batch, in training mode.
  virtual StepOutput step(const std::vector<int64_t>& batch, const StepPosition& at) = 0;
  // Held-out metrics in eval mode (the trainer has called model.eval()).
  virtual Evaluation evaluate() = 0;
  // The task's part of every checkpoint's metadata: what rebuilds the model
  // and its data (configuration, vocabulary, split). The trainer adds the
  // training state, "best" and "heldout".
  virtual nlohmann::json checkpoint_meta() const = 0;
};

struct TrainerOptions {
  std::string app;         // the checkpoints' app name (models/checkpoint.h)
  std::string checkpoint;  // the latest state, every epoch and at a stop; empty: none
  std::string best;        // the epoch with the lowest score, without optimizer state; empty: none
  int epochs = 1;
  int64_t batch = 1;
  bool drop_last = false;  // drop a ragged last batch (every batch then has one shape)
  int64_t max_steps = 0;   // steps of an epoch at most (0: all)
  uint64_t seed = 0;
  ExampleOrder order = ExampleOrder::PhiloxKeys;
  int eval_every = 1;      // evaluate every this many epochs, and after the last
  int patience = 0;        // end this many epochs after the best one (0: never)
  bool skip_nonfinite = false;  // skip a non-finite step instead of ending with an error
  double clip_grad = 0;         // clip the gradients' joint norm to this (0: measure only)
  // The learning rate of each optimizer step (its 0-based count); empty: the optimizer's own.
  std::function<double(int64_t optimizer_step)> learning_rate;
  // The command that resumes the run, for the message after a stop (empty: the run cannot be resumed).
  std::string resume_command;
};

// Where a run starts: at an epoch boundary (step 0) or within an epoch.
struct RunStart {
  int epochs_done = 0;
  int64_t step = 0;
  int64_t steps_per_epoch = 0;
  int epochs = 0;  // the run's last epoch
};

struct StepEnd {
  StepPosition at;
  int64_t steps_per_epoch = 0;
  double loss = 0;
  int64_t examples = 0;
  bool applied = true;  // false: skipped as non-finite
};

// An epoch as it ended, or the part of it that ran before a stop.
struct EpochEnd {
  int epoch = 0;                 // counted from 1
  int64_t steps = 0;             // steps taken (of steps_per_epoch unless stopped)
  int64_t steps_per_epoch = 0;
  bool complete = true;          // false: a stop within the epoch
  std::map<std::string, double> sums;  // the task's sums over the applied steps, and "applied"
  int64_t skipped = 0;           // steps skipped since the last evaluated epoch, this one included
  double seconds = 0;            // wall time of the epoch's steps and evaluation
  std::optional<Evaluation> evaluation;  // when this epoch was evaluated
  bool improved = false;         // a new lowest score: its weights are in the best file
  int best_epoch = 0;            // 0: none yet
  double best_score = 0;
};

// How a run ended.
struct RunEnd {
  int signal = 0;            // the stop signal; 0: the run finished (all epochs, or patience)
  bool patience = false;     // ended by patience before its last epoch
  int epochs_done = 0;
  int64_t step = 0;          // steps into the next epoch when stopped
  int best_epoch = 0;
  double best_score = 0;
  std::string message;       // one line on what happened and what the files hold
  int exit_status() const;   // 0, or stopped_exit_status(signal) (models/stop_request.h)
};

// The points where an app adds what is its own. Every method has an empty default.
class TrainerCallback {
 public:
  virtual ~TrainerCallback() = default;
  virtual void on_train_begin(const RunStart&) {}
  virtual void on_epoch_begin(int /*epoch*/, int64_t /*steps_per_epoch*/) {}
  virtual void on_step_end(const StepEnd&) {}
  // After the epoch's checkpoint is written, so a log row never names an
  // epoch the checkpoint lacks.
  virtual void on_epoch_end(const EpochEnd&) {}
  // A stop within an epoch (or between epochs, with steps 0): after the
  // checkpoint of that step is written.
  virtual void on_stop(const EpochEnd&, const RunEnd&) {}
  // The run failed (a non-finite step, a file that cannot be written); the
  // error propagates after this.
  virtual void on_fail(const std::string& /*what*/) {}
  // The run ended without a stop: all its epochs, or patience.
  virtual void on_train_end(const RunEnd&) {}
};

class Trainer {
 public:
  Trainer(Module& model, Optimizer& optimizer, TrainingTask& task, TrainerOptions options);

  // Continues from a checkpoint written by this trainer: the optimizer's
  // state, the generator and the data position (the model must already hold
  // the checkpoint's weights). An mg::Error names the checkpoint when its
  // partial epoch does not fit this run's epochs.
  void resume(const Checkpoint& ck, const TrainingState& state, const std::string& path);

  void add_callback(TrainerCallback& callback) { callbacks_.push_back(&callback); }

  // Steps in one epoch of this run: epoch_steps of the task's examples.
  int64_t steps_per_epoch() const;
  // Steps in an epoch of `examples` at `batch` (a last partial batch dropped
  // or kept), at most max_steps when that is positive.
  static int64_t epoch_steps(int64_t examples, int64_t batch, bool drop_last, int64_t max_steps);

  // Trains to options.epochs (or patience, or a stop). Signals are handled
  // for its duration (models/stop_request.h).
  RunEnd fit();

 private:
  void save(const std::string& path, bool with_optimizer, int epochs_done, int64_t step,
            const std::map<std::string, double>& sums, const Evaluation* evaluation) const;
  // The end of a run stopped by `signal` before step `step` of `epoch`: its checkpoint, on_stop.
  RunEnd stopped(int signal, int epoch, int64_t step, const EpochEnd& partial,
                 const std::map<std::string, double>& sums);
  // Calls every callback on rank 0; then every rank takes rank 0's generator position.
  void notify(const std::function<void(TrainerCallback&)>& call) const;

  Module& model_;
  Optimizer& optimizer_;
  TrainingTask& task_;
  TrainerOptions o_;
  std::vector<TrainerCallback*> callbacks_;
  TrainingState start_;  // where fit() starts
  int best_epoch_ = 0;   // the epoch with the lowest score so far (0: none)
  double best_score_ = 0;
};

}  // namespace mg::nn
