// jazz-vae: a 1-D convolutional VAE over jazz audio.
//   jazz-vae train       --out DIR [--data DIR] [--model conv|seed] ...
//   jazz-vae prior       --checkpoint FILE [--epochs N]
//   jazz-vae generate    --checkpoint FILE --out DIR [--count N] [--grid K] [--prior learned|normal] [--primer A.wav]
//   jazz-vae interpolate --checkpoint FILE A.wav B.wav --out DIR [--steps N]
//   jazz-vae encode      --checkpoint FILE FILES...
//   jazz-vae eval        --checkpoint FILE [--data DIR]
#include "apps/jazz-vae/jazz.h"

int main(int argc, char** argv) {
  jazz::Command command;
  if (int status = jazz::parse_command_line(argc, argv, command); status >= 0) return status;
  return mg::app::guarded_main(jazz::kApp, [&] {
    using Kind = jazz::Command::Kind;
    switch (command.kind) {
      case Kind::Train: return jazz::run_train(command.train);
      case Kind::Prior: return jazz::run_prior(command.prior);
      case Kind::Generate: return jazz::run_generate(command.generate);
      case Kind::Interpolate: return jazz::run_interpolate(command.interpolate);
      case Kind::Encode: return jazz::run_encode(command.encode);
      case Kind::Eval: return jazz::run_eval(command.eval);
      case Kind::Prepare: return jazz::run_prepare(command.prepare);
    }
    return mg::app::kExitRuntime;
  }, command.kind == jazz::Command::Kind::Train || command.kind == jazz::Command::Kind::Prior);
}
