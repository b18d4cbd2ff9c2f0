#pragma once
// The Chopin data pipeline: MIDI folder (or the built-in corpus) -> tokens in
// one of two representations -> rare-token filter -> vocabulary -> windows ->
// seeded 80/20 split.
//   seed:  the original notebook's note and chord tokens (io/music_tokens.h);
//          rare tokens are dropped.
//   timed: bar, tempo, position, pitch, duration and velocity tokens
//          (io/timed_tokens.h); a rare token is replaced by the nearest
//          token of its kind that is frequent enough, so every note keeps
//          its place and fields.
#include <cstdint>
#include <string>
#include <vector>

#include "io/midi.h"

namespace chopin {

struct Corpus {
  std::string source;                        // what was read, for messages
  std::string repr = "seed";                 // "seed" or "timed"
  int64_t raw_tokens = 0, raw_distinct = 0;  // before the rare-token filter
  int64_t mapped = 0;                        // timed: rare tokens replaced by a near one
  std::vector<std::pair<std::string, int64_t>> counts;  // every raw token, most frequent first
  std::vector<std::string> vocab;            // sorted distinct tokens after filtering
  std::vector<int64_t> ids;                  // the filtered token stream as vocab ids
  std::vector<int64_t> piece_ends;           // where each piece (file) ends in ids, in reading order
  int64_t files_read = 0;                    // MIDI files read (built-in: its pieces)
  std::vector<std::string> files;            // the paths of the files read (none for the built-in corpus)
  std::vector<std::pair<std::string, std::string>> skipped;  // files skipped, and why
};

// data_dir empty: the built-in corpus made from `seed`. Warns once per
// unreadable file; errors (one line, naming the folder) when nothing usable remains.
Corpus load_corpus(const std::string& data_dir, int64_t min_count, uint64_t seed, const std::string& repr);

// The tokens of a folder (or of the built-in corpus) in a representation,
// file by file, with no filter: for evaluating on data a model was not trained on.
struct FolderPieces {
  std::string source;
  int64_t files_read = 0;                                     // 0 for the built-in corpus
  std::vector<std::string> files;                             // the paths of the files read
  std::vector<std::pair<std::string, std::string>> skipped;  // file, why
  std::vector<std::vector<std::string>> pieces;
};
// `flag` names the folder in the error when nothing in it is readable.
FolderPieces load_pieces(const std::string& data_dir, uint64_t seed, const std::string& repr,
                         const std::string& flag = "--data");

// Token caches: a folder holding index.json is read as a token cache that
// `chopin-lstm prepare` wrote (token_cache.h), not as MIDI: the same tokens in the same
// order, from memory-mapped shards, so load_corpus, load_pieces and
// everything built on them give what the MIDI folder itself would. A cache
// of another representation than `repr` is refused, naming --repr and both
// values. load_corpus maps the cache's raw ids to vocabulary ids through one
// table over its distinct tokens (no token text per occurrence) and reads
// up to kMaxCacheTokens (limits.h); load_pieces returns token text and keeps
// the folder limit (io/music_tokens.h kMaxFolderTokens).

// The tokens of one parsed file in a representation ("seed" or "timed").
std::vector<std::string> piece_tokens(const mg::io::MidiFile& midi, const std::string& repr);

// Window i is ids[i, i + seq_len) -> ids[i + seq_len].
struct Split {
  std::vector<int64_t> train, heldout;  // window start positions
};
// Shuffles all windows with `seed` and holds out ceil(20 %), like
// sklearn's train_test_split(test_size=0.2). Deterministic on every platform.
Split split_windows(int64_t num_tokens, int64_t seq_len, uint64_t seed);

// The training windows that start on a multiple of `stride` (stride 1: all).
std::vector<int64_t> strided(const std::vector<int64_t>& starts, int64_t stride);

// A MIDI folder the model was not trained on, as `eval --data` and `train
// --heldout-data` read it: its pieces, and the ids of every piece's tokens
// that are in vocab, pieces one after another (the tokens outside it are
// dropped and counted). Fails, naming `flag` and the folder, when fewer than
// one window of seq_len tokens and its next token remain; prints
// "<label>: <folder and files read>: N tokens in the vocabulary, M outside it
// skipped".
struct FolderIds {
  FolderPieces data;
  std::vector<int64_t> ids;
  int64_t skipped = 0;
};
FolderIds load_folder_ids(const std::string& dir, const std::string& flag, const std::string& label, uint64_t seed,
                          const std::string& repr, const std::vector<std::string>& vocab, int64_t seq_len);

// The files of `heldout` that are also training files: the same file (by its
// canonical path: the same folder, or links to one file) or the same bytes.
std::vector<std::string> overlapping_files(const std::vector<std::string>& train, const std::vector<std::string>& heldout);

// train --heldout-data: the windows of that folder become the held-out ones
// (their starts in split.heldout, indexing the returned ids) and every window
// of the training stream trains. An error names the folder and a file of it
// that is also a training file (overlapping_files).
std::vector<int64_t> hold_out_folder(const std::string& dir, const Corpus& corpus, uint64_t seed,
                                     const std::string& repr, int64_t seq_len, Split& split);

// train --holdout pieces (the embed network's default): whole pieces held
// out, so that the held-out metrics judge music the model never trained on,
// not windows that overlap training windows of the same piece. Pieces
// kHoldoutFirst, kHoldoutFirst + kHoldoutEvery, ... in reading order (file
// names sorted; the built-in corpus's pieces in order): 8 of the 48 Chopin
// files, 3 of the 16 built-in pieces; the last piece when there are fewer
// than kHoldoutFirst + 1. The vocabulary stays the whole corpus's.
inline constexpr size_t kHoldoutFirst = 3, kHoldoutEvery = 6;
std::vector<size_t> heldout_piece_numbers(size_t pieces);
struct PieceHoldout {
  std::vector<int64_t> ids;                  // the held-out pieces one after another
  std::vector<std::vector<int64_t>> pieces;  // each held-out piece
  std::vector<std::string> names;            // their files ("built-in piece N" for the built-in corpus)
};
// Why whole pieces cannot be held out ("" when they can): one piece, or no
// more than a window of seq_len tokens on either side.
std::string pieces_holdout_problem(const Corpus& corpus, int64_t seq_len);
// Takes the held-out pieces out of corpus.ids (which keeps the training
// pieces, one after another) and sets split to every window of each stream.
// Fails, naming --holdout, with pieces_holdout_problem's reason.
PieceHoldout hold_out_pieces(Corpus& corpus, int64_t seq_len, Split& split);

// Ids of tokens, skipping those not in vocab (returns how many were skipped).
std::vector<int64_t> to_ids(const std::vector<std::string>& tokens, const std::vector<std::string>& vocab,
                            int64_t* skipped);

// Timed tokens outside vocab replaced by the nearest token of their kind in
// it (counted in *mapped); a token whose kind the vocabulary lacks is dropped
// (counted in *skipped). Seed tokens outside vocab are dropped.
std::vector<int64_t> to_ids_nearest(const std::vector<std::string>& tokens, const std::vector<std::string>& vocab,
                                    const std::string& repr, int64_t* mapped, int64_t* skipped);

}  // namespace chopin
