#pragma once
// The chopin-lstm subcommands and what they share.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/chopin-lstm/corpus.h"
#include "apps/chopin-lstm/limits.h"
#include "apps/chopin-lstm/token_cache.h"
#include "apps/common/cli.h"
#include "io/timed_grammar.h"
#include "models/checkpoint.h"
#include "models/chopin_training.h"
#include "models/training_state.h"
#include "models/chopin_lstm.h"
#include "models/sampling.h"

namespace chopin {

inline constexpr const char* kApp = "chopin-lstm";

// Without --epochs: the original's 200 epochs for --model seed; the embed
// network trains kEmbedDefaultSteps Adamax steps, as many epochs as that
// takes at --batch (and --max-steps), whatever the data's size
// (apps/chopin-lstm/README.md: about 30 minutes on 2 cores).
inline constexpr int kSeedEpochs = 200;
inline constexpr int64_t kEmbedDefaultSteps = 1500;
// The embed network's default --patience: on the 48 Chopin files its
// held-out NLL is lowest near epoch 24 of those 60 and rises after it.
inline constexpr int kEmbedPatience = 10;

struct TrainOptions {
  mg::app::CommonOptions common;
  std::string model = "embed";  // "seed": the original recipe
  std::string repr;       // "seed" or "timed"; empty: timed for --model embed, seed for --model seed
  std::string objective;  // "next" or "all"; empty: all for --model embed, next for --model seed
  int64_t stride = 0;     // --objective all: windows start every stride tokens; 0: seq_len
  int64_t min_count = -1; // -1: 100 for the seed representation, 1 for timed
  int64_t seq_len = 40;
  double lr = 0.01;
  int64_t max_steps = 0;  // 0: whole epochs
  std::string heldout_data;  // a folder for the held-out metrics; empty: --holdout
  // Without --heldout-data: "pieces" (whole pieces of the data held out, corpus.h hold_out_pieces) or
  // "windows" (a seeded 20 % of the windows, the original's split); empty: pieces for --model embed,
  // windows for --model seed.
  std::string holdout;
  int patience = -1;         // stop after this many epochs without a better held-out NLL; 0: never;
                             // -1: kEmbedPatience for --model embed, 0 for --model seed
  // Training-data augmentation (models/chopin_augment.h), as AugmentOptions::name() writes it; empty:
  // transpose,tempo,velocity for --repr timed, none for --repr seed.
  std::string augment;
  bool resume = false;
  bool skip_nonfinite = false;  // skip a step with a non-finite loss or gradient instead of stopping
  int64_t eval_pieces = 8;  // pieces the best epoch generates at the end for eval's tables (0: none)
  mg::nn::ChopinConfig net;  // sizes (vocab filled from the data)
};

// How each new token sees the music before it (generate --context).
//   State:  both LSTM layers' (h, c) carried from token to token, from zero
//           before the primer's first token: one step of each layer per new
//           token, and a memory of the whole piece.
//   Window: the original recipe: the last seq_len tokens (all of them while
//           there are fewer) run through the network from zero state for
//           every new token: a window per token, and no memory beyond it.
// While primer and piece together fit in seq_len tokens, both see the same
// tokens from the same zero state, and make the same piece.
enum class Context { State, Window };

struct GenerateOptions {
  mg::app::CommonOptions common;
  std::string checkpoint, out, wav, roll, primer;
  Context context = Context::State;
  int64_t count = 1;           // pieces, generated as one batch; piece k draws with seed + k - 1
  int64_t notes = 100;         // seed: tokens; timed: notes
  double length_seconds = 0;   // > 0: stop at this length instead of a note count
  bool greedy = false;         // the original's argmax decoding
  double temperature = 1.0;    // 0: greedy
  int64_t top_k = 0;
  double top_p = 0.95;
  double step_beats = 1.0;     // seed representation: beats per token
  double tempo = 120.0;        // seed representation: bpm
};

struct EvalOptions {
  mg::app::CommonOptions common;
  std::string checkpoint;
  int64_t pieces = 8, notes = 300;
  double temperature = 1.0, top_p = 0.95;
  int64_t max_reference = 200;  // reference pieces for the Yang-Lerch measures
  int64_t window_stride = 0;    // a window at every this many tokens (1: every window; 0: seq_len / 40, at least 1)
  Context context = Context::State;  // how the generated pieces see the music before each token (generate --context)
};

// prepare: a MIDI folder parsed once into a token cache (token_cache.h), or
// with --synthesize N, N MIDI files of the built-in generator.
struct PrepareOptions {
  std::string data, out;
  std::string repr = "timed";
  int threads = 0;      // 0: every CPU this process may use
  uint64_t seed = 42;   // --synthesize: file i is made from seed + i
  int64_t synthesize = 0;
  int bars = 16;        // --synthesize: bars per piece
  int64_t shard_tokens = kDefaultShardTokens;
  bool quiet = false;
};

// One parsed and checked command line.
struct Command {
  enum class Kind { Train, Generate, Eval, Prepare } kind = Kind::Train;
  TrainOptions train;
  GenerateOptions generate;
  EvalOptions eval;
  PrepareOptions prepare;
};

// Parses and checks argv (every flag's type and range, and the flags that
// depend on each other) without touching a file. Returns -1 with `command`
// filled in, or the exit status when there is nothing to run: 0 after --help,
// 2 after a usage error (its one-line message printed).
int parse_command_line(int argc, const char* const* argv, Command& command);

int run_train(TrainOptions o);
int run_generate(const GenerateOptions& o);
int run_eval(const EvalOptions& o);
int run_prepare(const PrepareOptions& o);

// The metadata of a chopin-lstm checkpoint, every field read through
// mg::nn::MetaReader: types, ranges, and consistency (a sorted vocabulary of
// valid tokens, primers of seq_len ids inside it, a model config for that
// vocabulary whose parameter count matches the tensors in the file).
struct ChopinMeta {
  mg::nn::ChopinConfig net;
  std::string repr = "seed";        // absent in older checkpoints: seed
  std::string objective = "next";
  int64_t stride = 1;
  std::vector<std::string> vocab;
  int64_t seq_len = 40;
  std::vector<std::vector<int64_t>> primers;
  // Training settings, for eval and --resume.
  std::string data;
  int64_t min_count = 100, batch = 256, max_steps = 0;
  uint64_t seed = 42;
  std::string heldout_data;  // absent in older checkpoints: the split of the training windows
  std::string holdout = "windows";  // without heldout_data: "pieces" or "windows" (absent in older checkpoints)
  int patience = 0;
  std::string augment = "none";  // absent in older checkpoints: none
  mg::nn::TrainingState state;  // epochs done, a partial epoch, the best epoch, generator, optimizer steps
};
ChopinMeta read_metadata(const mg::nn::Checkpoint& ck, const std::string& path);

// The flags a --resume takes from the checkpoint, against the command line's (apps/common/cli.h).
std::vector<mg::app::ResumedSetting> resumed_settings(const ChopinMeta& m, const TrainOptions& o);

// A model rebuilt from a checkpoint, with what generation and evaluation need.
struct LoadedModel {
  std::shared_ptr<mg::nn::ChopinLSTM> net;
  ChopinMeta meta;
};
LoadedModel load_model(const std::string& path, mg::Device device);

// Follows one piece as its tokens come: which ids may come next, and when
// the piece is complete.
//   seed representation: any id; complete after `notes` tokens.
//   timed: the ids the grammar allows after the primer and the piece so far
//          (io/timed_grammar.h; the primer's tokens are taken as they are,
//          from a permissive start, since it is a window cut from inside a
//          piece), so every note the piece holds is whole; complete with the
//          Vel of note `notes`, or, with seconds > 0, just before the first
//          token that moves time past `seconds` (that token is left out).
//          A primer that ends inside a note (after its Pitch or Dur) is
//          finished first: the Dur and Vel drawn for it belong to the primer,
//          not to the piece, which then starts with a note, an onset or a bar
//          of its own and decodes on its own with no field missing.
class PieceTracker {
 public:
  PieceTracker(const ChopinMeta& meta, const std::vector<int64_t>& primer, int64_t notes, double seconds = 0);
  // Sets the logits of the ids that cannot come next to -inf.
  void mask(std::vector<float>& logits) const;
  // Takes the id drawn next.
  void take(int64_t id);
  bool complete() const { return complete_; }
  // The piece's ids so far.
  const std::vector<int64_t>& ids() const { return ids_; }

 private:
  std::vector<mg::io::TimedToken> timed_vocab_;  // the vocabulary's tokens; empty for the seed representation
  mg::io::TimedGrammar grammar_ = mg::io::TimedGrammar::mid_stream();
  bool finishing_primer_note_ = false;
  mg::io::TimedDecoder decoder_;
  int64_t notes_;
  double seconds_;
  std::vector<int64_t> ids_;
  bool complete_ = false;
};

struct DecodingOptions {
  mg::nn::SamplingOptions sampling;
  Context context = Context::State;
  int64_t window = 40;      // Window: the most tokens one window holds (the model's seq_len)
  int64_t max_tokens = 0;   // the most tokens drawn for one piece
  uint64_t seed = 42;       // piece b draws from the Philox generator (seed + b, 0)
};

// Continues primers[b] (all of one length, at least one token) into the piece
// pieces[b] follows, all as one batch, until every piece is complete or has
// drawn max_tokens. Each piece draws from its own generator and masks only
// its own logits, so its tokens do not depend on the pieces beside it.
void generate_pieces(const mg::nn::ChopinLSTM& net, const std::vector<std::vector<int64_t>>& primers,
                     std::vector<PieceTracker>& pieces, const DecodingOptions& options, mg::Device device);

// The longest run of one id repeated.
int64_t longest_repeat(const std::vector<int64_t>& ids);

}  // namespace chopin
