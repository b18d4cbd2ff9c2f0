#include "models/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <random>

#include <fmt/format.h>

#include "models/distributed.h"
#include "models/stop_request.h"
#include "tensor/rng.h"

namespace mg::nn {

void seeded_shuffle(std::vector<int64_t>& v, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = v.size(); i > 1; --i) {
    // Modulo bias is below 2^-40 for any realistic i with 64-bit draws.
    const size_t j = static_cast<size_t>(rng() % i);
    std::swap(v[i - 1], v[j]);
  }
}

std::vector<int64_t> epoch_order(int64_t examples, uint64_t seed, int epoch, ExampleOrder order) {
  std::vector<int64_t> out(static_cast<size_t>(examples));
  std::iota(out.begin(), out.end(), int64_t{0});
  if (order == ExampleOrder::FisherYates) {
    seeded_shuffle(out, seed * 1000003ULL + static_cast<uint64_t>(epoch));
    return out;
  }
  std::vector<std::pair<double, int64_t>> keyed;
  keyed.reserve(out.size());
  for (int64_t i : out)
    keyed.emplace_back(Philox::uniform(seed, (static_cast<uint64_t>(epoch - 1) << 32) + static_cast<uint64_t>(i)), i);
  std::sort(keyed.begin(), keyed.end());
  for (size_t i = 0; i < out.size(); ++i) out[i] = keyed[i].second;
  return out;
}

int RunEnd::exit_status() const { return signal == 0 ? 0 : stopped_exit_status(signal); }

Trainer::Trainer(Module& model, Optimizer& optimizer, TrainingTask& task, TrainerOptions options)
    : model_(model), optimizer_(optimizer), task_(task), o_(std::move(options)) {
  MG_CHECK(o_.batch > 0 && o_.eval_every > 0, "Trainer: batch {} and eval_every {} must be positive", o_.batch,
           o_.eval_every);
}

int64_t Trainer::epoch_steps(int64_t examples, int64_t batch, bool drop_last, int64_t max_steps) {
  int64_t steps = drop_last ? examples / batch : (examples + batch - 1) / batch;
  if (max_steps > 0) steps = std::min(steps, max_steps);
  return steps;
}

int64_t Trainer::steps_per_epoch() const { return epoch_steps(task_.examples(), o_.batch, o_.drop_last, o_.max_steps); }

void Trainer::resume(const Checkpoint& ck, const TrainingState& state, const std::string& path) {
  if (state.step >= steps_per_epoch())
    fail("--resume: {} stopped at step {} of epoch {}, but an epoch now has {} steps", path, state.step,
         state.epoch + 1, steps_per_epoch());
  state.restore(optimizer_, model_.named_parameters(), ck, path);
  start_ = state;
  best_epoch_ = state.best_epoch;
  best_score_ = state.best_score;
}

// A checkpoint of the state now: `epochs_done` epochs and `step` steps of the next.
void Trainer::save(const std::string& path, bool with_optimizer, int epochs_done, int64_t step,
                   const std::map<std::string, double>& sums, const Evaluation* evaluation) const {
  if (!dist::world().root()) return;  // one writer
  nlohmann::json meta = task_.checkpoint_meta();
  if (evaluation) meta["heldout"] = evaluation->metrics;
  TrainingState state = TrainingState::now(optimizer_, epochs_done, step, sums);
  state.best_epoch = best_epoch_;
  state.best_score = best_score_;
  state.write(meta);
  save_checkpoint(path, o_.app, model_, with_optimizer ? &optimizer_ : nullptr, meta);
}

void Trainer::notify(const std::function<void(TrainerCallback&)>& call) const {
  if (dist::world().root())  // the callbacks are the run's outputs: rank 0's
    for (TrainerCallback* c : callbacks_) call(*c);
  // A callback may draw from the default generator (a sample for a picture); the other ranks take its position.
  dist::world().broadcast(&default_generator(), sizeof(Generator), "the random generator's position");
}

RunEnd Trainer::fit() {
  StopRequest signals;
  const int64_t steps = steps_per_epoch(), examples = task_.examples();
  const dist::Communicator& comm = dist::world();
  const int ranks = comm.size();
  if (ranks > 1) {
    if (o_.batch % ranks != 0)
      fail("--batch {} does not split evenly among the {} ranks; choose a multiple of {}", o_.batch, ranks, ranks);
    const int64_t last = examples - (steps - 1) * o_.batch;
    if (!o_.drop_last && last < ranks)
      fail("the last batch of each epoch holds {} example{} ({} examples, --batch {}), fewer than the {} ranks; "
           "choose another --batch",
           last, last == 1 ? "" : "s", examples, o_.batch, ranks);
  }
  const std::vector<Tensor> params = model_.parameters();
  const NamedTensors buffers = model_.named_buffers();
  std::vector<Tensor> saved_buffers;  // --skip-nonfinite: the running statistics before the step
  // Skipped steps are counted in the row of the next evaluated epoch; a partial epoch carries its count.
  int64_t skipped = static_cast<int64_t>(start_.step > 0 ? start_.sum("skipped") : 0);
  int last_saved = start_.epoch;  // the epoch the checkpoint on disk holds, for the non-finite message
  if (comm.root()) for (TrainerCallback* c : callbacks_) c->on_train_begin({start_.epoch, start_.step, steps, o_.epochs});
  try {
    for (int epoch = start_.epoch + 1; epoch <= o_.epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      const bool continuing = epoch == start_.epoch + 1 && start_.step > 0;
      EpochEnd end;
      end.epoch = epoch;
      end.steps_per_epoch = steps;
      if (continuing) end.sums = start_.sums;
      end.sums.erase("skipped");
      const std::vector<int64_t> order = epoch_order(examples, o_.seed, epoch, o_.order);
      model_.train();
      notify([&](TrainerCallback& c) { c.on_epoch_begin(epoch, steps); });
      for (int64_t s = continuing ? start_.step : 0; s < steps; ++s) {
        end.steps = s;
        // Every rank stops at the same step: the first signal any of them has seen.
        int signal = StopRequest::requested() ? StopRequest::signal() : 0;
        if (ranks > 1) signal = static_cast<int>(comm.all_reduce_max(signal, "the stop request"));
        if (signal != 0) {
          // A step boundary: the weights, the optimizer and the generator are those after step s - 1.
          end.complete = false;
          end.skipped = skipped;
          end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::map<std::string, double> sums = end.sums;
          sums["skipped"] = static_cast<double>(skipped);
          return stopped(signal, epoch, s, end, sums);
        }
        // This rank's part of the batch (all of it on one process).
        const auto first = order.begin() + s * o_.batch;
        const int64_t whole = std::min<int64_t>(o_.batch, examples - s * o_.batch);
        const dist::RowRange part = dist::rank_rows(whole, comm.rank(), ranks);
        const std::vector<int64_t> batch(first + part.begin, first + part.end);
        if (o_.skip_nonfinite) {
          saved_buffers.clear();
          for (const auto& [name, t] : buffers) saved_buffers.push_back(t.clone());
        }
        std::optional<dist::BatchShard> shard;
        if (ranks > 1) shard.emplace(whole, part.begin, part.end);
        StepOutput out = task_.step(batch, {epoch, s, part.begin});
        optimizer_.zero_grad();
        // Each rank's mean loss weighted by its share: the ranks' gradients then sum to the whole batch's.
        const double share = static_cast<double>(part.end - part.begin) / static_cast<double>(whole);
        if (ranks > 1) mul(out.loss, share).backward();
        else out.loss.backward();
        shard.reset();
        double loss = out.loss.item();
        if (ranks > 1) {
          dist::all_reduce_gradients(params);
          std::vector<double> totals{loss * share};
          for (const auto& [name, value] : out.sums) totals.push_back(value);
          comm.all_reduce_sum(totals.data(), totals.size(), "the step's loss and sums");
          loss = totals[0];
          size_t i = 1;
          for (auto& [name, value] : out.sums) value = totals[i++];
          out.examples = whole;
        }
        const double norm = o_.clip_grad > 0 ? clip_grad_norm(params, o_.clip_grad) : grad_norm(params);
        if (!std::isfinite(loss) || !std::isfinite(norm)) {
          const std::string what =
              fmt::format("epoch {}, step {}: the loss is {} and the gradient norm {}", epoch, s + 1, loss, norm);
          if (!o_.skip_nonfinite) {
            const std::string kept = o_.checkpoint.empty() || last_saved == 0
                                         ? std::string("no checkpoint was written")
                                         : fmt::format("{} keeps epoch {}", o_.checkpoint, last_saved);
            fail("{}; training stopped ({}); lower --lr, or pass --skip-nonfinite to skip such steps", what, kept);
          }
          for (size_t i = 0; i < saved_buffers.size(); ++i) copy_(buffers[i].second, saved_buffers[i]);
          ++skipped;
          std::fprintf(stderr, "warning: %s; step skipped (--skip-nonfinite)\n", what.c_str());
          notify([&](TrainerCallback& c) { c.on_step_end({{epoch, s}, steps, loss, out.examples, false}); });
          continue;
        }
        if (o_.learning_rate) optimizer_.set_learning_rate(o_.learning_rate(optimizer_.steps_taken()));
        optimizer_.step();
        for (const auto& [name, value] : out.sums) end.sums[name] += value;
        end.sums["applied"] += 1;
        if (comm.root()) for (TrainerCallback* c : callbacks_) c->on_step_end({{epoch, s}, steps, loss, out.examples, true});
      }
      end.steps = steps;

      model_.eval();
      if (epoch % o_.eval_every == 0 || epoch == o_.epochs) {
        end.evaluation = task_.evaluate();
        const double score = end.evaluation->score;
        end.improved = std::isfinite(score) && (best_epoch_ == 0 || score < best_score_);
        if (end.improved) {
          best_epoch_ = epoch;
          best_score_ = score;
        }
        end.skipped = skipped;
        skipped = 0;
      }
      end.best_epoch = best_epoch_;
      end.best_score = best_score_;
      end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      // The checkpoints first: the log never has a row for an epoch they lack.
      const Evaluation* evaluation = end.evaluation ? &*end.evaluation : nullptr;
      if (!o_.checkpoint.empty()) save(o_.checkpoint, true, epoch, 0, {}, evaluation);
      if (end.improved && !o_.best.empty()) save(o_.best, false, epoch, 0, {}, evaluation);
      last_saved = epoch;
      notify([&](TrainerCallback& c) { c.on_epoch_end(end); });

      if (o_.patience > 0 && epoch - best_epoch_ >= o_.patience && epoch < o_.epochs) {
        RunEnd r{0, true, epoch, 0, best_epoch_, best_score_,
                 fmt::format("stopping after epoch {}: no lower held-out score for {} epochs (best: epoch {}, {:.4f})",
                             epoch, o_.patience, best_epoch_, best_score_)};
        notify([&](TrainerCallback& c) { c.on_train_end(r); });
        return r;
      }
    }
  } catch (const std::exception& e) {
    if (comm.root()) for (TrainerCallback* c : callbacks_) c->on_fail(e.what());
    throw;
  }
  RunEnd r{0, false, std::max(start_.epoch, o_.epochs), 0, best_epoch_, best_score_, ""};
  notify([&](TrainerCallback& c) { c.on_train_end(r); });
  return r;
}

RunEnd Trainer::stopped(int signal, int epoch, int64_t step, const EpochEnd& partial,
                        const std::map<std::string, double>& sums) {
  RunEnd r{signal, false, epoch - 1, step, best_epoch_, best_score_, ""};
  std::string kept;
  if (!o_.checkpoint.empty()) {
    save(o_.checkpoint, true, epoch - 1, step, sums, nullptr);
    kept = fmt::format("checkpoint {}", o_.checkpoint);
    if (!o_.resume_command.empty()) kept += "\nresume with: " + o_.resume_command;
  } else if (!o_.best.empty() && best_epoch_ > 0) {
    kept = fmt::format("{} keeps epoch {}, the best so far", o_.best, best_epoch_);
  } else {
    kept = "no epoch was complete, so nothing was kept";
  }
  r.message = fmt::format("stopped by {} in epoch {} at step {} of {}; {}", signal_name(signal), epoch, step,
                          partial.steps_per_epoch, kept);
  notify([&](TrainerCallback& c) { c.on_stop(partial, r); });
  return r;
}

}  // namespace mg::nn
