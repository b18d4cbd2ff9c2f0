// chopin-lstm: train an LSTM on piano MIDI tokens, generate new pieces, evaluate.
//   chopin-lstm train    [--data DIR] [--out DIR] [--model seed|embed] ...
//   chopin-lstm generate --checkpoint FILE --notes N --out FILE.mid [--wav FILE.wav]
//   chopin-lstm eval     --checkpoint FILE [--data DIR]
//   chopin-lstm prepare  --data DIR --out CACHE [--repr seed|timed] [--threads N]
#include "apps/chopin-lstm/chopin.h"

int main(int argc, char** argv) {
  chopin::Command command;
  if (int status = chopin::parse_command_line(argc, argv, command); status >= 0) return status;
  return mg::app::guarded_main(chopin::kApp, [&] {
    switch (command.kind) {
      case chopin::Command::Kind::Train: return chopin::run_train(command.train);
      case chopin::Command::Kind::Generate: return chopin::run_generate(command.generate);
      case chopin::Command::Kind::Eval: return chopin::run_eval(command.eval);
      case chopin::Command::Kind::Prepare: return chopin::run_prepare(command.prepare);
    }
    return mg::app::kExitRuntime;
  }, command.kind == chopin::Command::Kind::Train);
}
