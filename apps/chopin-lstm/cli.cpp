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
  t.common.epochs = 0;  // the model's default (train.cpp)
  t.common.batch = 256;
  t.common.out = "runs/chopin";
  mg::app::add_common_options(train, t.common, true, kMaxBatch);
  train->get_option("--epochs")->description(fmt::format(
      "Training epochs (default: --model seed {}, as the original; --model embed as many as {} steps take, e.g. 60 "
      "epochs of 25 steps on the 40 training pieces of the 48 Chopin files)", kSeedEpochs, kEmbedDefaultSteps));
  train->get_option("--batch")->description("Batch size (default 256)");
  train->add_option("--out", t.common.out, "Output folder (default runs/chopin)");
  train->add_option("--model", t.model,
                    "embed: learned embedding, timed tokens, loss at every position (default); seed: scalar input, "
                    "the original recipe with its tokens and loss")
      ->check(CLI::IsMember({"seed", "embed"}));
  train->add_option("--repr", t.repr,
                    "Tokens: seed (the original's notes and chords) or timed (bars, positions, pitch, duration, "
                    "velocity, tempo); default timed for --model embed, seed for --model seed")
      ->check(CLI::IsMember({"seed", "timed"}));
  train->add_option("--objective", t.objective,
                    "next: predict the token after each window (the original); all: the next token at every "
                    "position; default all for --model embed, next for --model seed")
      ->check(CLI::IsMember({"next", "all"}));
  train->add_option("--stride", t.stride, "--objective all: a window every this many tokens (default --seq-len)")
      ->check(integer_in(1, kMaxSeqLen));
  train->add_option("--min-count", t.min_count,
                    "Rarer tokens are dropped (seed) or replaced by the nearest frequent one (timed); default 100 "
                    "for seed, 1 for timed")
      ->check(integer_in(0, 1'000'000'000));
  train->add_option("--seq-len", t.seq_len, "Tokens per input window (default 40)")->check(integer_in(1, kMaxSeqLen));
  train->add_option("--lr", t.lr, "Adamax learning rate (default 0.01)")->check(positive_up_to(kMaxLearningRate));
  train->add_option("--max-steps", t.max_steps, "Stop each epoch after this many batches (quick runs)")
      ->check(integer_in(0, 1'000'000'000));
  train->add_option("--heldout-data", t.heldout_data,
                    "MIDI folder for the held-out metrics (music the model does not train on; every window, or "
                    "every --stride-th with --objective all); then every training window is trained on. "
                    "Default: --holdout")
      ->check(CLI::ExistingDirectory);
  train->add_option("--holdout", t.holdout,
                    "Without --heldout-data, what is held out of --data: pieces: whole pieces, every sixth from the "
                    "fourth in file-name order (8 of 48 files; the last piece when there are fewer than 4), none of "
                    "whose tokens trains; windows: a seeded 20 % of all windows, as the original (default pieces for "
                    "--model embed, windows for --model seed)")
      ->check(CLI::IsMember({"pieces", "windows"}));
  train->add_option("--patience", t.patience,
                    "Stop after this many epochs without a lower held-out NLL (0: run every --epochs; default "
                    + std::to_string(kEmbedPatience) + " for --model embed, 0 for --model seed); "
                    "OUT/best.safetensors always holds the best epoch")
      ->check(integer_in(0, mg::app::kMaxEpochs));
  train->add_option("--augment", t.augment,
                    "--repr timed: augment each training window, never the held-out ones (default: all three for "
                    "--repr timed, none for --repr seed): none, or a comma-separated list of transpose (by -5..+6 semitones, redrawn while a pitch would leave the "
                    "piano or the vocabulary), tempo (Tempo tokens stretched by 0.95..1.05, to the nearest bin) and "
                    "velocity (Vel tokens moved -1..+1 bins); drawn anew for every window and epoch from --seed");
  train->add_option("--eval-pieces", t.eval_pieces,
                    "At the end, the best epoch generates this many pieces that are compared with the held-out "
                    "pieces or --heldout-data, as `eval` does (its tables, also in report.html; default 8, 0: none)")
      ->check(integer_in(0, kMaxPieces));
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
  gen->add_option("--notes", g.notes,
                  "Seed representation: tokens to generate, written to the file as they are made; timed: notes "
                  "(default 100)")
      ->check(integer_in(1, kMaxNotes));
  CLI::Option* length = gen->add_option("--length-seconds", g.length_seconds,
                                        "Generate this many seconds of music instead of --notes (default 0: use --notes)")
                            ->check(number_in(1.0 / 64, kMaxWavSeconds));
  gen->add_option("--out", g.out, "MIDI file to write")->required();
  gen->add_option("--wav", g.wav, "Also render audio to this WAV (44.1 kHz, 16-bit; pieces up to an hour)");
  gen->add_option("--roll", g.roll, "Piano-roll PNG (default: next to the MIDI file); shows up to 2000 tokens");
  gen->add_option("--primer", g.primer, "Start from the last tokens of this MIDI file (default: a held-out window)");
  gen->add_option_function<std::string>(
         "--context", [&g](const std::string& v) { g.context = v == "window" ? Context::Window : Context::State; },
         "state: carry both LSTMs' state from token to token, from the primer's first token on: one step per "
         "token and a memory of the whole piece (default); window: the original recipe, the last 40 tokens "
         "(train's --seq-len) run again from zero state for every token, no memory beyond them")
      ->check(CLI::IsMember({"state", "window"}));
  gen->add_option("--count", g.count,
                  "Pieces to generate, as one batch; with more than one, piece k goes to --out (and --roll, "
                  "--wav) with -k before the extension (k padded to N's digits), draws with --seed + k - 1 and (without --primer) starts "
                  "from the held-out window that seed picks (default 1)")
      ->check(integer_in(1, kMaxPieces));
  gen->add_flag("--greedy", g.greedy, "Always take the most likely token, as the original did");
  gen->add_option("--temperature", g.temperature, "Sampling temperature (default 1; 0: greedy)")
      ->check(number_in(0, kMaxTemperature));
  gen->add_option("--top-k", g.top_k, "Sample only among the k most likely tokens (0: all)")
      ->check(integer_in(0, kMaxVocab));
  gen->add_option("--top-p", g.top_p,
                  "Sample only from the smallest set of most likely tokens with this much probability (default 0.95)")
      ->check(positive_up_to(1));
  gen->add_option("--step", g.step_beats, "Seed representation: beats per token (default 1: a quarter note, as the original)")
      ->check(number_in(kMinStep, kMaxStep));
  gen->add_option("--tempo", g.tempo, "Seed representation: tempo in BPM (default 120; timed pieces carry their own)")->check(number_in(kMinTempo, kMaxTempo));

  EvalOptions& e = command.eval;
  CLI::App* ev = app.add_subcommand("eval", "Held-out metrics and statistics of generated music");
  mg::app::add_common_options(ev, e.common, false);
  ev->add_option("--checkpoint", e.checkpoint, "A model.safetensors written by train")->required();
  ev->add_option("--data", e.common.data,
                 "A MIDI folder to evaluate on, every window of it, and to compare generated pieces with "
                 "(default: the held-out windows of the training data)");
  ev->add_option("--pieces", e.pieces, "Pieces to generate for the statistics (default 8)")
      ->check(integer_in(1, kMaxPieces));
  ev->add_option("--notes", e.notes, "Notes per piece (seed representation: tokens; default 300)")
      ->check(integer_in(1, kMaxEvalNotes));
  ev->add_option("--temperature", e.temperature, "Sampling temperature of those pieces (default 1; 0: greedy)")
      ->check(number_in(0, kMaxTemperature));
  ev->add_option("--top-p", e.top_p, "Top-p of those pieces (default 0.95)")->check(positive_up_to(1));
  ev->add_option_function<std::string>(
         "--context", [&e](const std::string& v) { e.context = v == "window" ? Context::Window : Context::State; },
         "How the generated pieces see the music before each token, as generate --context (default state)")
      ->check(CLI::IsMember({"state", "window"}));
  ev->add_option("--window-stride", e.window_stride,
                 "Evaluate the windows starting every this many tokens (default: train's --seq-len / 40, at least "
                 "1: every window of the default 40 tokens)")
      ->check(integer_in(1, kMaxSeqLen));
  ev->add_option("--reference-pieces", e.max_reference,
                 "Most reference pieces cut from the data for the Yang-Lerch measures (default 200)")
      ->check(integer_in(2, kMaxPieces));

  PrepareOptions& p = command.prepare;
  CLI::App* prep = app.add_subcommand(
      "prepare", "Parse a MIDI folder once into a token cache that train and eval read with --data (README: Dataset cache)");
  prep->add_option("--data", p.data, "MIDI folder to parse (its *.mid and *.midi files, not its subfolders)");
  prep->add_option("--out", p.out,
                   "Cache folder to write: new, empty, or a cache to replace (a folder holding other files is refused)")
      ->required();
  prep->add_option("--repr", p.repr, "Tokens: seed or timed (default timed, as train's default --model embed)")
      ->check(CLI::IsMember({"seed", "timed"}));
  prep->add_option("--threads", p.threads, "Threads parsing files (0 = all cores); the cache is the same for any number")
      ->check(integer_in(0, mg::app::kMaxThreads));
  prep->add_option("--shard-tokens", p.shard_tokens,
                   fmt::format("Most tokens per shard file, 4 bytes each (default {}: 64 MiB); a file with more gets a "
                               "shard of its own", kDefaultShardTokens))
      ->check(integer_in(1, kMaxShardTokens));
  prep->add_option("--synthesize", p.synthesize,
                   "Instead of a cache, write this many MIDI files made by the built-in generator into --out (a new "
                   "or empty folder): a corpus of any size for measurements")
      ->check(integer_in(1, kMaxSynthesize));
  prep->add_option("--bars", p.bars, "--synthesize: bars per piece (default 16)")
      ->check(integer_in(1, kMaxSynthesizeBars));
  prep->add_option("--seed", p.seed, "--synthesize: file i is the generator's piece for seed + i (default 42)")
      ->check(mg::app::any_unsigned());
  prep->add_flag("--quiet", p.quiet, "Print only warnings and errors");

  return mg::app::parse_cli(app, argc, argv, [&] {
    command.kind = *train ? Command::Kind::Train
                   : *gen ? Command::Kind::Generate
                   : *ev  ? Command::Kind::Eval
                          : Command::Kind::Prepare;
    if (*prep) {
      if (p.synthesize > 0) {
        for (const char* flag : {"--data", "--repr", "--shard-tokens"})
          if (prep->count(flag)) mg::app::usage_fail("{}: not with --synthesize, which writes MIDI files", flag);
      } else {
        if (p.data.empty()) mg::app::usage_fail("--data: give the MIDI folder to parse (or --synthesize N)");
        if (prep->count("--seed"))
          mg::app::usage_fail("--seed: only with --synthesize (a folder's tokens do not depend on a seed)");
        if (prep->count("--bars")) mg::app::usage_fail("--bars: only with --synthesize");
      }
    }
    if (*train && t.common.out.empty()) mg::app::usage_fail("--out: give the folder for the checkpoint, log and pictures");
    if (*train) {
      // The original recipe is --model seed: seed tokens, the next-token-after-the-window loss.
      if (t.repr.empty()) t.repr = t.model == "embed" ? "timed" : "seed";
      if (t.objective.empty()) t.objective = t.model == "embed" ? "all" : "next";
      if (t.min_count < 0) t.min_count = t.repr == "timed" ? 1 : 100;
      // Augmentation lowers the held-out NLL of whole pieces never trained on (apps/chopin-lstm/README.md).
      if (t.augment.empty()) t.augment = t.repr == "timed" ? "transpose,tempo,velocity" : "none";
      try {
        t.augment = mg::nn::AugmentOptions::parse(t.augment).name();  // one spelling, for the checkpoint and --resume
      } catch (const mg::Error& e) {
        mg::app::usage_fail("--augment {}: {}", t.augment, e.what());
      }
      if (t.augment != "none" && t.repr != "timed")
        mg::app::usage_fail("--augment {}: only with --repr timed, not --repr {}", t.augment, t.repr);
      if (!t.heldout_data.empty() && train->count("--holdout"))
        mg::app::usage_fail("--holdout: not with --heldout-data, whose folder is what is held out");
      if (t.patience < 0) t.patience = t.model == "embed" ? kEmbedPatience : 0;
      if (t.holdout.empty()) t.holdout = t.heldout_data.empty() && t.model == "embed" ? "pieces" : "windows";
      if (t.stride == 0) t.stride = t.objective == "all" ? t.seq_len : 1;
      else if (t.objective != "all") mg::app::usage_fail("--stride: only with --objective all");
    }
    if (*gen) {
      if (g.out.empty()) mg::app::usage_fail("--out: give the MIDI file to write");
      if (g.out == g.wav || g.out == g.roll || (!g.wav.empty() && g.wav == g.roll))
        mg::app::usage_fail("--out, --wav and --roll must name different files");
      if (g.greedy && (gen->count("--temperature") || gen->count("--top-k") || gen->count("--top-p")))
        mg::app::usage_fail("--greedy takes the most likely token; drop --temperature, --top-k and --top-p");
      if (*length && gen->count("--notes")) mg::app::usage_fail("--length-seconds: give it or --notes, not both");
      const double seconds = static_cast<double>(g.notes) * g.step_beats * 60.0 / g.tempo;
      if (!*length && !g.wav.empty() && seconds > kMaxWavSeconds)
        mg::app::usage_fail("--wav: {} tokens of {} beats at {} bpm last {:.0f} s; audio is rendered for pieces up to "
                            "{:.0f} s (lower --notes or --step, or raise --tempo)",
                            g.notes, g.step_beats, g.tempo, seconds, kMaxWavSeconds);
    }
  });
}

}  // namespace chopin
