// jazz-vae train's default length: the time-resolved conv model trains a
// fixed number of steps in whole epochs whatever the data's size, the other
// designs the original's 20 epochs, and about 36 evaluations a run.
#include <doctest/doctest.h>

#include "apps/jazz-vae/jazz.h"

TEST_CASE("jazz-vae default epochs: 7,200 steps in whole epochs for the time latent, 20 for the others") {
  jazz::TrainOptions o;
  mg::nn::ConvVaeConfig time;
  time.kind = "conv";
  time.latent_mode = "time";
  CHECK(jazz::default_epochs(o, time, 8) == 900);     // the rendered set: 78 clips, batches of 10
  CHECK(jazz::default_epochs(o, time, 48) == 150);    // GTZAN jazz: 80 training files of 6 clips
  CHECK(jazz::default_epochs(o, time, 7) == 1029);    // a partial last epoch rounds up
  CHECK(jazz::default_epochs(o, time, 10000) == 1);   // more steps in one epoch than the default
  CHECK(jazz::default_epochs(o, time, 0) == 7200);    // no step an epoch is counted as one
  mg::nn::ConvVaeConfig global = time;
  global.latent_mode = "global";
  CHECK(jazz::default_epochs(o, global, 8) == 20);
  mg::nn::ConvVaeConfig seed = global;
  seed.kind = "seed";
  CHECK(jazz::default_epochs(o, seed, 8) == 20);
  o.common.epochs = 33;  // --epochs given: kept, whatever the model
  CHECK(jazz::default_epochs(o, time, 8) == 33);
  CHECK(jazz::default_epochs(o, global, 8) == 33);
}

TEST_CASE("jazz-vae default --eval-every: about 36 evaluations a run, every epoch for short runs") {
  jazz::TrainOptions o;
  CHECK(jazz::default_eval_every(o, 900) == 25);
  CHECK(jazz::default_eval_every(o, 150) == 4);
  CHECK(jazz::default_eval_every(o, 36) == 1);
  CHECK(jazz::default_eval_every(o, 20) == 1);
  o.eval_every = 7;
  CHECK(jazz::default_eval_every(o, 900) == 7);
}
