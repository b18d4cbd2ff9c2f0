// The Chopin network: parameter count, shapes, and a few training steps lower the loss.
#include <doctest/doctest.h>

#include "models/chopin_lstm.h"
#include "models/optim.h"
#include "tensor/rng.h"

using namespace mg;

TEST_CASE("chopin seed model has the original parameter count") {
  manual_seed(1);
  nn::ChopinConfig c;
  c.vocab = 228;
  nn::ChopinLSTM m(c);
  // LSTM(512) 1,052,672 + LSTM(256) 787,456 + Dense(256) 65,792 + Dense(228) 58,596
  CHECK(m.num_parameters() == 1964516);
}

TEST_CASE("chopin model learns a repeating sequence") {
  for (const char* input : {"seed", "embed"}) {
    manual_seed(3);
    nn::ChopinConfig c;
    c.input = input;
    c.vocab = 5;
    c.hidden1 = 16;
    c.hidden2 = 12;
    c.dense = 8;
    c.embed_dim = 4;
    nn::ChopinLSTM m(c);
    // Period-5 sequence: the next token is determined by the current one.
    const int64_t B = 10, T = 6;
    std::vector<int64_t> ids, targets;
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < T; ++t) ids.push_back((b + t) % 5);
      targets.push_back((b + T) % 5);
    }
    Tensor x = m.encode_input(ids, B, T, Device::CPU);
    Tensor y = from_vector(targets, {B});
    nn::Adamax opt(m.named_parameters(), 0.01);
    double first = 0, last = 0;
    for (int step = 0; step < 150; ++step) {
      Tensor loss = cross_entropy(m.forward(x), y);
      if (step == 0) first = loss.item();
      last = loss.item();
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    INFO(input, ": first ", first, " last ", last);
    CHECK(last < 0.3 * first);
  }
}
