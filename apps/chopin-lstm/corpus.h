#pragma once
// The Chopin data pipeline: MIDI folder (or the built-in corpus) -> tokens ->
// rare-token filter -> vocabulary -> 40-token windows -> seeded 80/20 split.
#include <cstdint>
#include <string>
#include <vector>

namespace chopin {

struct Corpus {
  std::string source;                        // what was read, for messages
  int64_t raw_tokens = 0, raw_distinct = 0;  // before the rare-token filter
  std::vector<std::pair<std::string, int64_t>> counts;  // every raw token, most frequent first
  std::vector<std::string> vocab;            // sorted distinct tokens after filtering
  std::vector<int64_t> ids;                  // the filtered token stream as vocab ids
};

// data_dir empty: the built-in corpus made from `seed`. Warns once per
// unreadable file; errors (one line, naming the folder) when nothing usable remains.
Corpus load_corpus(const std::string& data_dir, int64_t min_count, uint64_t seed);

// Window i is ids[i, i + seq_len) -> ids[i + seq_len].
struct Split {
  std::vector<int64_t> train, heldout;  // window start positions
};
// Shuffles all windows with `seed` and holds out ceil(20 %), like
// sklearn's train_test_split(test_size=0.2). Deterministic on every platform.
Split split_windows(int64_t num_tokens, int64_t seq_len, uint64_t seed);

// A deterministic Fisher-Yates shuffle driven by a 64-bit seed.
void seeded_shuffle(std::vector<int64_t>& v, uint64_t seed);

// Ids of tokens, skipping those not in vocab (returns how many were skipped).
std::vector<int64_t> to_ids(const std::vector<std::string>& tokens, const std::vector<std::string>& vocab,
                            int64_t* skipped);

}  // namespace chopin
