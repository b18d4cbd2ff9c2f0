#include "models/training_state.h"

#include "tensor/rng.h"

namespace mg::nn {

TrainingState TrainingState::now(const Optimizer& opt, int epoch, int64_t step, std::map<std::string, double> sums) {
  TrainingState s;
  s.epoch = epoch;
  s.step = step;
  if (step > 0) s.sums = std::move(sums);
  s.rng_seed = default_generator().seed;
  s.rng_offset = default_generator().offset;
  s.optimizer_steps = opt.steps_taken();
  s.learning_rate = opt.learning_rate();
  return s;
}

void TrainingState::write(nlohmann::json& meta) const {
  meta["epoch"] = epoch;
  meta["rng"] = {{"seed", rng_seed}, {"offset", rng_offset}};
  if (best_epoch > 0) meta["best"] = {{"epoch", best_epoch}, {"loss", best_score}};
  if (step > 0) meta["partial"] = {{"step", step}, {"sums", sums}};
  else meta.erase("partial");
}

TrainingState TrainingState::read(const MetaReader& m, int max_epochs, int64_t max_steps) {
  TrainingState s;
  s.epoch = static_cast<int>(m.integer("epoch", 0, max_epochs));
  const MetaReader rng = m.object("rng");
  s.rng_seed = rng.unsigned_integer("seed");
  s.rng_offset = rng.unsigned_integer("offset");
  if (m.has("optimizer")) {
    const MetaReader opt = m.object("optimizer");
    s.optimizer_steps = opt.integer("steps", 0, INT64_MAX);
    if (opt.has("lr")) s.learning_rate = opt.number("lr", 0, 1e6);
  }
  if (m.has("best")) {
    const MetaReader best = m.object("best");
    s.best_epoch = static_cast<int>(best.integer("epoch", 1, max_epochs));
    s.best_score = best.number("loss", -1e300, 1e300);
  }
  if (m.has("partial")) {
    const MetaReader partial = m.object("partial");
    s.step = partial.integer("step", 1, std::max<int64_t>(1, max_steps - 1));
    const MetaReader named = partial.object("sums");
    for (const std::string& name : named.keys(64)) s.sums[name] = named.number(name, -1e300, 1e300);
  }
  return s;
}

void TrainingState::restore(Optimizer& opt, const NamedTensors& params, const Checkpoint& ck,
                            const std::string& path) const {
  check_optimizer_state(params, ck.optim, path);
  opt.load_state(ck.optim, optimizer_steps, path);
  if (learning_rate > 0) opt.set_learning_rate(learning_rate);
  default_generator() = Generator{rng_seed, rng_offset};
}

double TrainingState::sum(const std::string& name) const {
  auto it = sums.find(name);
  return it == sums.end() ? 0.0 : it->second;
}

}  // namespace mg::nn
