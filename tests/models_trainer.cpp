// The trainer (models/trainer.h) on a tiny model: a linear layer behind
// dropout, so that every step draws from the generator the checkpoint must
// restore. It checks what the trainer promises:
//   - stopped at any step and resumed, a run ends with the same weights and
//     optimizer state, bit for bit, as the run that was never stopped;
//   - a stop request before step k writes a checkpoint at step k;
//   - patience ends the run exactly N epochs after the best one;
//   - a non-finite loss ends the run with an error, the last good checkpoint
//     kept; --skip-nonfinite skips the step and counts it;
// and the signals' side (models/stop_request.h): the first SIGINT, SIGTERM or
// SIGHUP is a request, a second ends the process with 128 + its number
// (SIGHUP with SIGTERM's 143).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "models/layers.h"
#include "models/stop_request.h"
#include "models/trainer.h"
#include "tensor/rng.h"
#include "test_support.h"

using namespace mg;

namespace {

class Tiny : public nn::Module {
 public:
  Tiny() {
    lin_ = register_module("lin", std::make_shared<nn::Linear>(3, 1));
    drop_ = register_module("drop", std::make_shared<nn::Dropout>(0.3));
  }
  Tensor forward(const Tensor& x) const { return lin_->forward(drop_->forward(x)); }

 private:
  std::shared_ptr<nn::Linear> lin_;
  std::shared_ptr<nn::Dropout> drop_;
};

// Ten examples of y = x . (1, -2, 0.5) + 0.3; a step's loss is the batch's mean squared error. The held-out score
// comes from `scores` (by epoch) when given, else it is the error over all ten; the loss of (epoch, step) is NaN
// when it is `poisoned`.
class TinyTask : public nn::TrainingTask {
 public:
  explicit TinyTask(const Tiny& net) : net_(net) {
    const std::vector<float> noise = test::uniform_noise(30, 7);
    for (int i = 0; i < 10; ++i) {
      const float a = noise[3 * i], b = noise[3 * i + 1], c = noise[3 * i + 2];
      x_.insert(x_.end(), {a, b, c});
      y_.push_back(a - 2 * b + 0.5f * c + 0.3f);
    }
  }
  int64_t examples() const override { return 10; }
  nn::StepOutput step(const std::vector<int64_t>& batch, const nn::StepPosition& at) override {
    std::vector<float> xs, ys;
    for (int64_t i : batch) {
      xs.insert(xs.end(), x_.begin() + 3 * i, x_.begin() + 3 * i + 3);
      ys.push_back(y_[static_cast<size_t>(i)]);
    }
    const int64_t B = static_cast<int64_t>(batch.size());
    Tensor loss = mse(net_.forward(from_vector(xs, {B, 3})), from_vector(ys, {B, 1}));
    if (poisoned && poisoned->epoch == at.epoch && poisoned->step == at.step) loss = loss * NAN;
    return {loss, B, {{"loss", loss.item()}}};
  }
  nn::Evaluation evaluate() override {
    ++evaluations;
    if (!scores.empty()) return {{{"score", scores.at(static_cast<size_t>(evaluations - 1))}}, scores.at(static_cast<size_t>(evaluations - 1))};
    NoGradGuard no_grad;
    const double e = mse(net_.forward(from_vector(x_, {10, 3})), from_vector(y_, {10, 1})).item();
    return {{{"mse", e}}, e};
  }
  nlohmann::json checkpoint_meta() const override { return {{"what", "tiny"}}; }

  std::vector<double> scores;
  std::optional<nn::StepPosition> poisoned;
  int evaluations = 0;

 private:
  const Tiny& net_;
  std::vector<float> x_, y_;
};

// Requests a stop once `after` steps have been taken in this run, so the trainer stops before the next one.
struct StopAfter : nn::TrainerCallback {
  int64_t after = 0, taken = 0;
  void on_step_end(const nn::StepEnd&) override {
    if (++taken == after) nn::StopRequest::request(SIGTERM);
  }
};

struct Run {
  std::shared_ptr<Tiny> net;
  nn::SGD opt;
  TinyTask task;
  nn::Trainer trainer;
  Run(const std::string& dir, nn::TrainerOptions o, uint64_t seed = 5)
      : net(make(seed)),
        opt(net->named_parameters(), 0.1, 0.9),
        task(*net),
        trainer(*net, opt, task, with_paths(std::move(o), dir)) {}
  static std::shared_ptr<Tiny> make(uint64_t seed) {
    manual_seed(seed);
    return std::make_shared<Tiny>();
  }
  static nn::TrainerOptions with_paths(nn::TrainerOptions o, const std::string& dir) {
    o.app = "tiny";
    o.checkpoint = dir + "/model.safetensors";
    if (o.best.empty()) o.best = dir + "/best.safetensors";
    return o;
  }
};

nn::TrainerOptions options(int epochs, int64_t batch) {
  nn::TrainerOptions o;
  o.epochs = epochs;
  o.batch = batch;
  o.seed = 11;
  return o;
}

std::map<std::string, std::vector<float>> values(const nn::NamedTensors& tensors) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, t] : tensors) out[name] = t.to_vector<float>();
  return out;
}

}  // namespace

TEST_CASE("epoch orders: permutations, a function of (seed, epoch)") {
  for (nn::ExampleOrder order : {nn::ExampleOrder::FisherYates, nn::ExampleOrder::PhiloxKeys}) {
    const std::vector<int64_t> a = nn::epoch_order(50, 3, 1, order);
    CHECK(std::set<int64_t>(a.begin(), a.end()).size() == 50);
    CHECK(a == nn::epoch_order(50, 3, 1, order));
    CHECK(a != nn::epoch_order(50, 3, 2, order));
    CHECK(a != nn::epoch_order(50, 4, 1, order));
  }
}

TEST_CASE("trainer: stopped at every step and resumed, the run ends bit for bit as the uninterrupted one") {
  const std::string dir = test::scratch_dir("trainer-resume");
  // 3 epochs of ceil(10 / 3) = 4 steps, the last batch of each a single example.
  Run straight(dir + "/straight", options(3, 3));
  std::filesystem::create_directories(dir + "/straight");
  REQUIRE(straight.trainer.steps_per_epoch() == 4);
  const nn::RunEnd done = straight.trainer.fit();
  CHECK(done.signal == 0);
  CHECK(done.epochs_done == 3);
  const auto weights = values(straight.net->named_parameters()), moments = values(straight.opt.named_state());
  const Generator generator = default_generator();

  for (int64_t k = 0; k < 12; ++k) {
    CAPTURE(k);
    const std::string at = dir + "/stop" + std::to_string(k);
    std::filesystem::create_directories(at);
    {
      Run first(at, options(3, 3));
      StopAfter stop;
      stop.after = k;
      first.trainer.add_callback(stop);
      nn::StopRequest outer;  // the outermost starts clean; fit()'s own is nested and keeps a request made before
      if (k == 0) nn::StopRequest::request(SIGINT);
      const nn::RunEnd end = first.trainer.fit();
      nn::StopRequest::clear();
      REQUIRE(end.signal == (k == 0 ? SIGINT : SIGTERM));
      CHECK(end.exit_status() == 128 + end.signal);
      // The checkpoint is at step k: k / 4 epochs done and k % 4 steps into the next.
      const nn::Checkpoint ck = nn::load_checkpoint(at + "/model.safetensors", "tiny");
      CHECK(ck.meta.at("epoch").get<int>() == k / 4);
      if (k % 4 == 0) CHECK_FALSE(ck.meta.contains("partial"));
      else CHECK(ck.meta.at("partial").at("step").get<int64_t>() == k % 4);
    }
    // A new process would start here: other weights, another generator position.
    Run second(at, options(3, 3), 999);
    const nn::Checkpoint ck = nn::load_checkpoint(at + "/model.safetensors", "tiny");
    const nn::TrainingState state = nn::TrainingState::read(nn::MetaReader(ck.meta, "ck"), 100, 100);
    second.net->load_state(ck.model, "ck");
    second.trainer.resume(ck, state, "ck");
    CHECK(second.trainer.fit().signal == 0);
    CHECK(values(second.net->named_parameters()) == weights);
    CHECK(values(second.opt.named_state()) == moments);
    CHECK(default_generator().offset == generator.offset);
  }
}

TEST_CASE("trainer: patience ends the run exactly N epochs after the best") {
  const std::string dir = test::scratch_dir("trainer-patience");
  nn::TrainerOptions o = options(20, 5);
  o.patience = 3;
  Run run(dir, o);
  run.task.scores = {5, 3, 4, 2.5, 2.6, 2.7, 2.8, 2.9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const nn::RunEnd end = run.trainer.fit();
  CHECK(end.patience);
  CHECK(end.best_epoch == 4);
  CHECK(end.epochs_done == 7);  // 4 + 3: epochs 5, 6 and 7 without a lower score
  CHECK(run.task.evaluations == 7);
  const nn::Checkpoint best = nn::load_checkpoint(dir + "/best.safetensors", "tiny");
  CHECK(best.meta.at("epoch") == 4);
  CHECK(best.meta.at("heldout").at("score") == 2.5);
  CHECK(best.optim.empty());  // the best file holds weights only
  const nn::Checkpoint latest = nn::load_checkpoint(dir + "/model.safetensors", "tiny");
  CHECK(latest.meta.at("epoch") == 7);
  CHECK(latest.meta.at("best").at("epoch") == 4);
}

TEST_CASE("trainer: a non-finite loss ends the run with the last good checkpoint kept, or is skipped") {
  const std::string dir = test::scratch_dir("trainer-nonfinite");
  Run run(dir, options(3, 5));
  run.task.poisoned = nn::StepPosition{2, 1};
  std::map<std::string, std::vector<float>> after_epoch_1;
  struct Keep : nn::TrainerCallback {
    std::function<void()> fn;
    void on_epoch_end(const nn::EpochEnd& e) override {
      if (e.epoch == 1) fn();
    }
  } keep;
  keep.fn = [&] { after_epoch_1 = values(run.net->named_parameters()); };
  run.trainer.add_callback(keep);
  const std::string error = test::error_of([&] { run.trainer.fit(); });
  CHECK(error.find("epoch 2, step 2: the loss is nan") != std::string::npos);
  CHECK(error.find(dir + "/model.safetensors keeps epoch 1") != std::string::npos);
  const nn::Checkpoint ck = nn::load_checkpoint(dir + "/model.safetensors", "tiny");
  CHECK(ck.meta.at("epoch") == 1);
  nn::NamedTensors kept = ck.model;
  CHECK(values(kept) == after_epoch_1);

  const std::string skip_dir = test::scratch_dir("trainer-skip");
  nn::TrainerOptions o = options(3, 5);
  o.skip_nonfinite = true;
  Run skipping(skip_dir, o);
  skipping.task.poisoned = nn::StepPosition{2, 1};
  struct Count : nn::TrainerCallback {
    int64_t skipped = -1, applied = -1;
    void on_epoch_end(const nn::EpochEnd& e) override {
      if (e.epoch == 2) skipped = e.skipped, applied = static_cast<int64_t>(e.sums.at("applied"));
    }
  } count;
  skipping.trainer.add_callback(count);
  CHECK(skipping.trainer.fit().epochs_done == 3);
  CHECK(count.skipped == 1);
  CHECK(count.applied == 1);
  for (const auto& [name, v] : values(skipping.net->named_parameters()))
    for (float x : v) CHECK(std::isfinite(x));
}

namespace {

// The exit status of a child that runs fn.
int in_child(const std::function<int()>& fn) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("signals: the first is a request the trainer reads, a second ends the process with 128 + its number") {
  CHECK(nn::stopped_exit_status(SIGINT) == 130);
  CHECK(nn::stopped_exit_status(SIGTERM) == 143);
  CHECK(nn::stopped_exit_status(SIGHUP) == 143);  // a closed terminal ends a run like SIGTERM
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    CAPTURE(sig);
    CHECK(in_child([sig] {
            nn::StopRequest stop;
            if (nn::StopRequest::requested()) return 1;
            raise(sig);
            return nn::StopRequest::signal() == sig ? 0 : 2;
          }) == 0);
    CHECK(in_child([sig] {
            nn::StopRequest stop;
            raise(sig);
            raise(sig);
            return 3;  // not reached: the second signal ends the process at once
          }) == nn::stopped_exit_status(sig));
  }
  CHECK(std::string(nn::signal_name(SIGTERM)) == "SIGTERM");
  // Once the outermost StopRequest is gone, SIGINT has its default effect again.
  CHECK(in_child([] {
          {
            nn::StopRequest outer;
            nn::StopRequest inner;
          }
          raise(SIGINT);
          return 4;
        }) == 128 + SIGINT);
}
