#include "apps/chopin-lstm/corpus.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>

#include "io/builtin_corpus.h"
#include "io/music_tokens.h"
#include "tensor/error.h"

namespace chopin {

Corpus load_corpus(const std::string& data_dir, int64_t min_count, uint64_t seed) {
  Corpus c;
  std::vector<std::string> tokens;
  if (data_dir.empty()) {
    for (const mg::io::MidiFile& m : mg::io::builtin_piano_corpus(seed)) {
      std::vector<std::string> t = mg::io::midi_to_tokens(m);
      tokens.insert(tokens.end(), t.begin(), t.end());
    }
    c.source = "the built-in piano corpus";
  } else {
    mg::io::FolderTokens ft = mg::io::tokenize_midi_folder(data_dir, [](const std::string& file, const std::string& why) {
      std::fprintf(stderr, "warning: skipping %s: %s\n", file.c_str(), why.c_str());
    });
    if (ft.files_read.empty())
      mg::fail("--data {}: no readable MIDI file ({} skipped)", data_dir, ft.files_skipped);
    tokens = std::move(ft.tokens);
    c.source = fmt::format("{} ({} MIDI files read{})", data_dir, ft.files_read.size(),
                           ft.files_skipped ? fmt::format(", {} skipped", ft.files_skipped) : "");
  }
  if (tokens.empty()) mg::fail("--data {}: the MIDI files hold no notes", data_dir.empty() ? "(built-in)" : data_dir);

  std::map<std::string, int64_t> counts = mg::io::count_tokens(tokens);
  c.raw_tokens = static_cast<int64_t>(tokens.size());
  c.raw_distinct = static_cast<int64_t>(counts.size());
  c.counts.assign(counts.begin(), counts.end());
  std::stable_sort(c.counts.begin(), c.counts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });

  std::vector<std::string> kept = mg::io::filter_rare_tokens(tokens, min_count);
  c.vocab = mg::io::build_vocabulary(kept);
  if (c.vocab.size() < 2)
    mg::fail("--min-count {}: only {} distinct token(s) occur that often in {}; lower --min-count", min_count,
             c.vocab.size(), c.source);
  c.ids = to_ids(kept, c.vocab, nullptr);
  return c;
}

std::vector<int64_t> to_ids(const std::vector<std::string>& tokens, const std::vector<std::string>& vocab,
                            int64_t* skipped) {
  std::vector<int64_t> ids;
  int64_t missing = 0;
  for (const std::string& t : tokens) {
    auto it = std::lower_bound(vocab.begin(), vocab.end(), t);
    if (it != vocab.end() && *it == t) ids.push_back(it - vocab.begin());
    else ++missing;
  }
  if (skipped) *skipped = missing;
  return ids;
}

void seeded_shuffle(std::vector<int64_t>& v, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = v.size(); i > 1; --i) {
    // Modulo bias is below 2^-40 for any realistic i with 64-bit draws.
    const size_t j = static_cast<size_t>(rng() % i);
    std::swap(v[i - 1], v[j]);
  }
}

Split split_windows(int64_t num_tokens, int64_t seq_len, uint64_t seed) {
  const int64_t windows = num_tokens - seq_len;
  Split s;
  if (windows <= 0) return s;
  std::vector<int64_t> all(static_cast<size_t>(windows));
  for (int64_t i = 0; i < windows; ++i) all[static_cast<size_t>(i)] = i;
  seeded_shuffle(all, seed);
  const int64_t n_test = windows >= 2 ? std::max<int64_t>(1, (windows * 2 + 9) / 10) : 0;
  s.heldout.assign(all.begin(), all.begin() + n_test);
  s.train.assign(all.begin() + n_test, all.end());
  return s;
}

}  // namespace chopin
