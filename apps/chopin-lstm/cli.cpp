// chopin-lstm's command line: every flag with its type, range and default,
// shown by --help; checked here, before any file is touched.
#include <cmath>

#include "apps/chopin-lstm/chopin.h"

namespace chopin {

using mg::app::integer_in;
using mg::app::number_in;
using mg::app::positive_up_to;

int parse_command_line(int argc, const char* const* argv, Command& command) {
  CLI::App app{"chopin-lstm: an LSTM that learns note and chord tokens from piano MIDI and writes new pieces.\n"
               "Exit status: 0 success, 1 runtime error (files, data, memory), 2 usage error.",
               kApp};
  app.require_subcommand(1);

  TrainOptions& t = command.train;
  CLI::App* train = app.add_subcommand("train", "Train on a MIDI folder (default: the built-in corpus)");
  t.common.epochs = 200;
  t.common.batch = 256;
  t.common.out = "runs/chopin";
  mg::app::add_common_options(train, t.common, true, kMaxBatch);
  train->get_option("--epochs")->description("Training epochs (default 200)");
  train->get_option("--batch")->description("Batch size (default 256)");
  train->add_option("--out", t.common.out, "Output folder (default runs/chopin)");
  train->add_option("--model", t.model, "seed: scalar input as the original; embed: learned embedding")
      ->check(CLI::IsMember({"seed", "embed"}));
  train->add_option("--min-count", t.min_count, "Drop tokens seen fewer times (default 100)")
      ->check(integer_in(0, 1'000'000'000));
  train->add_option("--seq-len", t.seq_len, "Tokens per input window (default 40)")->check(integer_in(1, kMaxSeqLen));
  train->add_option("--lr", t.lr, "Adamax learning rate (default 0.01)")->check(positive_up_to(kMaxLearningRate));
  train->add_option("--max-steps", t.max_steps, "Stop each epoch after this many batches (quick runs)")
      ->check(integer_in(0, 1'000'000'000));
  train->add_flag("--resume", t.resume, "Continue from OUT/model.safetensors");
  train->add_flag("--skip-nonfinite", t.skip_nonfinite,
                  "Skip a step whose loss or gradient is NaN or infinite (counted in log.csv) instead of stopping");
  train->add_option("--hidden1", t.net.hidden1, "First LSTM size (default 512)")->check(integer_in(1, kMaxLayer));
  train->add_option("--hidden2", t.net.hidden2, "Second LSTM size (default 256)")->check(integer_in(1, kMaxLayer));
  train->add_option("--dense", t.net.dense, "Dense layer size (default 256)")->check(integer_in(1, kMaxLayer));
  train->add_option("--embed-dim", t.net.embed_dim, "Embedding size for --model embed (default 64)")
      ->check(integer_in(1, kMaxLayer));
  train->add_option("--dropout", t.net.dropout, "Dropout rate (default 0.1)")->check(number_in(0.0, kMaxDropout));

  GenerateOptions& g = command.generate;
  CLI::App* gen = app.add_subcommand("generate", "Continue a primer and write MIDI (and WAV)");
  mg::app::add_common_options(gen, g.common, false);
  gen->add_option("--checkpoint", g.checkpoint, "A model.safetensors written by train")->required();
  gen->add_option("--notes", g.notes, "Tokens to generate (default 100), written to the file as they are made")
      ->check(integer_in(1, kMaxNotes));
  gen->add_option("--out", g.out, "MIDI file to write")->required();
  gen->add_option("--wav", g.wav, "Also render audio to this WAV (44.1 kHz, 16-bit; pieces up to an hour)");
  gen->add_option("--roll", g.roll, "Piano-roll PNG (default: next to the MIDI file); shows up to 2000 tokens");
  gen->add_option("--primer", g.primer, "Start from the last tokens of this MIDI file (default: a held-out window)");
  gen->add_option("--temperature", g.temperature, "0: greedy as the original (default); > 0: sample")
      ->check(number_in(0, kMaxTemperature));
  gen->add_option("--top-k", g.top_k, "Sample only among the k most likely tokens (0: all)")
      ->check(integer_in(0, kMaxVocab));
  gen->add_option("--top-p", g.top_p, "Sample only from the smallest set with this much probability (default 1)")
      ->check(positive_up_to(1));
  gen->add_option("--step", g.step_beats, "Beats per token (default 1: a quarter note, as the original)")
      ->check(number_in(kMinStep, kMaxStep));
  gen->add_option("--tempo", g.tempo, "Tempo in BPM (default 120)")->check(number_in(kMinTempo, kMaxTempo));

  EvalOptions& e = command.eval;
  CLI::App* ev = app.add_subcommand("eval", "Held-out metrics and statistics of generated music");
  mg::app::add_common_options(ev, e.common, false);
  ev->add_option("--checkpoint", e.checkpoint, "A model.safetensors written by train")->required();
  ev->add_option("--data", e.common.data, "The training data (default: what the checkpoint was trained on)");
  ev->add_option("--pieces", e.pieces, "Pieces to generate for the statistics (default 4)")
      ->check(integer_in(1, kMaxPieces));
  ev->add_option("--notes", e.notes, "Tokens per piece (default 200)")->check(integer_in(1, kMaxEvalNotes));
  ev->add_option("--temperature", e.temperature, "Sampling temperature of those pieces (default 1; 0: greedy)")
      ->check(number_in(0, kMaxTemperature));

  return mg::app::parse_cli(app, argc, argv, [&] {
    command.kind = *train ? Command::Kind::Train : *gen ? Command::Kind::Generate : Command::Kind::Eval;
    if (*train && t.common.out.empty()) mg::app::usage_fail("--out: give the folder for the checkpoint, log and pictures");
    if (*gen) {
      if (g.out.empty()) mg::app::usage_fail("--out: give the MIDI file to write");
      if (g.out == g.wav || g.out == g.roll || (!g.wav.empty() && g.wav == g.roll))
        mg::app::usage_fail("--out, --wav and --roll must name different files");
      const double seconds = static_cast<double>(g.notes) * g.step_beats * 60.0 / g.tempo;
      if (!g.wav.empty() && seconds > kMaxWavSeconds)
        mg::app::usage_fail("--wav: {} tokens of {} beats at {} bpm last {:.0f} s; audio is rendered for pieces up to "
                            "{:.0f} s (lower --notes or --step, or raise --tempo)",
                            g.notes, g.step_beats, g.tempo, seconds, kMaxWavSeconds);
    }
  });
}

}  // namespace chopin
