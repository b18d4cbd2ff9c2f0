// models/training_state.h: the state a checkpoint carries besides the
// weights. A run stopped in the middle of an epoch, saved, loaded into a new
// model and optimizer and continued, ends with the same weights, optimizer
// state and generator as the run that never stopped; bad fields are errors
// that name the checkpoint and the field.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "models/checkpoint.h"
#include "models/layers.h"
#include "models/optim.h"
#include "models/training_state.h"
#include "tensor/rng.h"
#include "tests/test_support.h"

using namespace mg;
using mg::test::error_of;

namespace {

// One step of a tiny regression with dropout, so the generator matters: the
// data of step k is a function of k alone, like an epoch's shuffled windows.
double train_step(const nn::Linear& net, nn::Optimizer& opt, int64_t k) {
  Generator saved = default_generator();
  default_generator() = Generator{1000 + static_cast<uint64_t>(k), 0};
  Tensor x = randn({8, 5}, DType::F32), target = randn({8, 3}, DType::F32);
  default_generator() = saved;
  Tensor y = net.forward(dropout(x, 0.3, true));
  Tensor loss = mean(mul(sub(y, target), sub(y, target)));
  opt.zero_grad();
  loss.backward();
  opt.step();
  return loss.item();
}

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }


}  // namespace

TEST_CASE("a run stopped mid-epoch and resumed from its checkpoint equals the run that never stopped") {
  const std::string dir = test::scratch_dir("training_state");
  const int64_t steps = 7, stop_at = 3;

  manual_seed(5);
  nn::Linear straight(5, 3);
  nn::Adam straight_opt(straight.named_parameters(), 0.01);
  double straight_sum = 0;
  for (int64_t k = 0; k < steps; ++k) straight_sum += train_step(straight, straight_opt, k);

  manual_seed(5);
  nn::Linear first(5, 3);
  nn::Adam first_opt(first.named_parameters(), 0.01);
  double sum = 0;
  for (int64_t k = 0; k < stop_at; ++k) sum += train_step(first, first_opt, k);
  nlohmann::json meta = {{"note", "kept"}};
  nn::TrainingState::now(first_opt, 0, stop_at, {{"loss", sum}, {"steps", double(stop_at)}}).write(meta);
  nn::save_checkpoint(dir + "/ck.safetensors", "test", first, &first_opt, meta);

  // A fresh process: other weights, another generator position.
  manual_seed(99);
  nn::Linear second(5, 3);
  nn::Adam second_opt(second.named_parameters(), 0.5);
  const nn::Checkpoint ck = nn::load_checkpoint(dir + "/ck.safetensors", "test");
  const nn::TrainingState st = nn::TrainingState::read(nn::MetaReader(ck.meta, "ck"), 100, steps);
  CHECK(st.epoch == 0);
  CHECK(st.step == stop_at);
  CHECK(st.optimizer_steps == stop_at);
  CHECK(st.sum("steps") == doctest::Approx(3.0));
  CHECK(st.sum("absent") == 0.0);
  second.load_state(ck.model, "ck");
  st.restore(second_opt, second.named_parameters(), ck, "ck");
  CHECK(second_opt.learning_rate() == 0.01);
  double resumed_sum = st.sum("loss");
  for (int64_t k = st.step; k < steps; ++k) resumed_sum += train_step(second, second_opt, k);

  CHECK(values(second.weight) == values(straight.weight));
  CHECK(values(second.bias) == values(straight.bias));
  CHECK(second_opt.steps_taken() == straight_opt.steps_taken());
  const nn::NamedTensors a = straight_opt.named_state(), b = second_opt.named_state();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(values(a[i].second) == values(b[i].second));
  CHECK(default_generator().offset > 0);
  CHECK(resumed_sum == straight_sum);
}

TEST_CASE("an epoch boundary writes no partial record, and a later boundary removes an earlier one") {
  manual_seed(1);
  nn::Linear net(2, 2);
  nn::SGD opt(net.named_parameters(), 0.1);
  nlohmann::json meta;
  nn::TrainingState::now(opt, 2, 5, {{"loss", 1.5}}).write(meta);
  CHECK(meta.contains("partial"));
  nn::TrainingState::now(opt, 3).write(meta);
  CHECK_FALSE(meta.contains("partial"));
  CHECK(meta.at("epoch") == 3);
  const nn::TrainingState st = nn::TrainingState::read(nn::MetaReader(meta, "m"), 10);
  CHECK(st.step == 0);
  CHECK(st.sums.empty());
  CHECK(st.rng_seed == default_generator().seed);
}

TEST_CASE("bad training-state fields name the checkpoint and the field") {
  nlohmann::json good = {{"epoch", 1}, {"rng", {{"seed", uint64_t{1}}, {"offset", uint64_t{2}}}}, {"partial", {{"step", 3}, {"sums", {{"loss", 1.0}}}}}};
  auto read = [](const nlohmann::json& m, int64_t max_steps = 100) {
    return nn::TrainingState::read(nn::MetaReader(m, "ck.safetensors"), 10, max_steps);
  };
  CHECK(read(good).step == 3);

  nlohmann::json m = good;
  m["epoch"] = 11;
  CHECK(error_of([&] { read(m); }).find("'epoch'") != std::string::npos);
  m = good;
  m["partial"]["step"] = 0;
  CHECK(error_of([&] { read(m); }).find("'partial.step'") != std::string::npos);
  // A partial step beyond the resumed run's epoch (fewer steps per epoch now).
  CHECK(error_of([&] { read(good, 3); }).find("'partial.step'") != std::string::npos);
  m = good;
  m["partial"]["sums"]["loss"] = "x";
  CHECK(error_of([&] { read(m); }).find("'partial.sums.loss'") != std::string::npos);
  m = good;
  m["partial"]["sums"] = nlohmann::json::array();
  CHECK(error_of([&] { read(m); }).find("'partial.sums'") != std::string::npos);
  m = good;
  for (int i = 0; i < 65; ++i) m["partial"]["sums"]["s" + std::to_string(i)] = 1.0;
  const std::string many = error_of([&] { read(m); });
  CHECK(many.find("ck.safetensors") != std::string::npos);
  CHECK(many.find("partial.sums") != std::string::npos);
  m = good;
  m.erase("rng");
  CHECK(error_of([&] { read(m); }).find("'rng'") != std::string::npos);
}
