#include "apps/chopin-lstm/corpus.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <random>

#include "apps/chopin-lstm/limits.h"
#include "apps/chopin-lstm/token_cache.h"
#include "apps/common/cli.h"
#include "io/builtin_corpus.h"
#include "io/music_tokens.h"
#include "io/timed_tokens.h"
#include "models/trainer.h"
#include "tensor/error.h"

namespace chopin {

std::vector<std::string> piece_tokens(const mg::io::MidiFile& m, const std::string& repr) {
  return repr == "timed" ? mg::io::midi_to_timed_tokens(m).tokens : mg::io::midi_to_tokens(m);
}

namespace {

namespace fs = std::filesystem;

// Token -> vocabulary id: its own, or (timed) the nearest token of its kind
// that vocab holds; -1 when neither (a seed token outside vocab, a timed
// token whose kind vocab lacks).
class VocabMapper {
 public:
  VocabMapper(const std::vector<std::string>& vocab, const std::string& repr) : vocab_(vocab), timed_(repr == "timed") {
    if (timed_)
      for (const std::string& v : vocab) known_.push_back(mg::io::parse_timed_token(v));
  }
  int64_t id(const std::string& token, bool* replaced) const {
    *replaced = false;
    int64_t i = find(token);
    if (i >= 0 || !timed_) return i;
    i = find(mg::io::timed_token_name(mg::io::nearest_timed_token(mg::io::parse_timed_token(token), known_)));
    *replaced = i >= 0;
    return i;
  }

 private:
  int64_t find(const std::string& token) const {
    auto it = std::lower_bound(vocab_.begin(), vocab_.end(), token);
    return it != vocab_.end() && *it == token ? it - vocab_.begin() : -1;
  }
  const std::vector<std::string>& vocab_;
  bool timed_;
  std::vector<mg::io::TimedToken> known_;
};

std::string cache_source(const CacheIndex& index) {
  return fmt::format("{} (token cache of {}: {} MIDI files read{})", index.dir, index.source, index.files.size(),
                     index.skipped.empty() ? "" : fmt::format(", {} skipped", index.skipped.size()));
}

// The cache's files, skipped files and source, as a folder's would be; warns once about the skipped.
template <class Out>
void describe_cache(const CacheIndex& index, const std::string& flag, Out& out) {
  if (index.files.empty())
    mg::fail("{} {}: no readable MIDI file ({} skipped)", flag, index.dir, index.skipped.size());
  out.source = cache_source(index);
  out.files_read = static_cast<int64_t>(index.files.size());
  for (const CacheFile& f : index.files) out.files.push_back((fs::path(index.source) / f.path).string());
  out.skipped = index.skipped;
  if (!index.skipped.empty())
    std::fprintf(stderr, "warning: %s: %zu files were skipped by prepare (listed in %s with the reason)\n",
                 index.dir.c_str(), index.skipped.size(), index.index_path().c_str());
}

FolderPieces load_cached_pieces(const std::string& dir, const std::string& repr, const std::string& flag) {
  const CacheIndex index = read_cache_index(dir);
  require_cache_repr(index, repr, flag);
  if (index.tokens > int64_t(mg::io::kMaxFolderTokens))
    mg::fail("{} {}: more than {} tokens in the cache (the limit for reading its pieces as text); use fewer files",
             flag, dir, mg::io::kMaxFolderTokens);
  FolderPieces out;
  describe_cache(index, flag, out);
  std::optional<MappedShard> shard;
  for (const CacheFile& f : index.files) {
    if (f.tokens > 0 && (!shard || shard->path() != index.shard_path(size_t(f.shard)))) shard.emplace(index, size_t(f.shard));
    std::vector<std::string>& piece = out.pieces.emplace_back();
    for (int64_t i = f.first; i < f.first + f.tokens; ++i) {
      const uint32_t id = (*shard)[size_t(i)];
      if (id >= index.vocab.size())
        mg::fail("{}: token id {} outside the cache's vocabulary of {}", shard->path(), id, index.vocab.size());
      piece.push_back(index.vocab[id]);
    }
  }
  return out;
}

// load_corpus from a cache: the folder's vocabulary, counts and id stream,
// with no token text per occurrence: each raw id's vocabulary id is found
// once, then every shard streams through that table into ids.
Corpus load_cached_corpus(const std::string& dir, int64_t min_count, const std::string& repr) {
  const CacheIndex index = read_cache_index(dir);
  require_cache_repr(index, repr, "--data");
  Corpus c;
  c.repr = repr;
  describe_cache(index, "--data", c);
  if (index.tokens == 0) mg::fail("--data {}: the MIDI files hold no notes", dir);
  if (index.tokens > kMaxCacheTokens)
    mg::fail("--data {}: {} tokens, more than the limit of {}; prepare a cache of fewer files", dir, index.tokens,
             kMaxCacheTokens);
  // The raw tokens in byte order, as the folder's std::map counts them.
  std::vector<size_t> by_text(index.vocab.size());
  std::iota(by_text.begin(), by_text.end(), size_t(0));
  std::sort(by_text.begin(), by_text.end(), [&](size_t a, size_t b) { return index.vocab[a] < index.vocab[b]; });
  c.raw_tokens = index.tokens;
  c.raw_distinct = static_cast<int64_t>(index.vocab.size());
  for (size_t r : by_text) {
    c.counts.emplace_back(index.vocab[r], index.counts[r]);
    if (index.counts[r] >= min_count) c.vocab.push_back(index.vocab[r]);
  }
  std::stable_sort(c.counts.begin(), c.counts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (c.vocab.size() < 2)
    mg::fail("--min-count {}: only {} distinct token(s) occur that often in {}; lower --min-count", min_count,
             c.vocab.size(), c.source);

  const VocabMapper mapper(c.vocab, repr);
  std::vector<int64_t> id_of(index.vocab.size());  // raw id -> vocabulary id, -1: dropped
  int64_t kept = 0;
  for (size_t r = 0; r < index.vocab.size(); ++r) {
    bool replaced = false;
    id_of[r] = mapper.id(index.vocab[r], &replaced);
    if (id_of[r] >= 0) kept += index.counts[r];
    if (replaced) c.mapped += index.counts[r];
  }
  // The ids, and the window lists training builds over them (split_windows).
  mg::app::check_memory(fmt::format("--data {} ({} tokens)", dir, kept), 18.0 * double(kept));
  c.ids.reserve(static_cast<size_t>(kept));
  std::optional<MappedShard> shard;
  for (const CacheFile& f : index.files) {  // file by file, as the folder reads them
    if (f.tokens > 0 && (!shard || shard->path() != index.shard_path(size_t(f.shard)))) shard.emplace(index, size_t(f.shard));
    for (int64_t i = f.first; i < f.first + f.tokens; ++i) {
      const uint32_t raw = (*shard)[size_t(i)];
      if (raw >= id_of.size())
        mg::fail("{}: token id {} outside the cache's vocabulary of {}", shard->path(), raw, id_of.size());
      if (id_of[raw] >= 0) c.ids.push_back(id_of[raw]);
    }
    c.piece_ends.push_back(static_cast<int64_t>(c.ids.size()));
  }
  return c;
}

}  // namespace

FolderPieces load_pieces(const std::string& data_dir, uint64_t seed, const std::string& repr, const std::string& flag) {
  FolderPieces out;
  if (data_dir.empty()) {
    for (const mg::io::MidiFile& m : mg::io::builtin_piano_corpus(seed)) out.pieces.push_back(piece_tokens(m, repr));
    out.source = "the built-in piano corpus";
    return out;
  }
  if (is_token_cache(data_dir)) return load_cached_pieces(data_dir, repr, flag);
  mg::io::FolderTokens ft = mg::io::tokenize_midi_folder(
      data_dir,
      [&](const std::string& file, const std::string& why) {
        std::fprintf(stderr, "warning: skipping %s: %s\n", file.c_str(), why.c_str());
        out.skipped.emplace_back(file, why);
      },
      [&](const mg::io::MidiFile& m) { return piece_tokens(m, repr); });
  if (ft.files_read.empty()) mg::fail("{} {}: no readable MIDI file ({} skipped)", flag, data_dir, ft.files_skipped);
  for (size_t f = 0; f < ft.file_starts.size(); ++f) {
    const size_t end = f + 1 < ft.file_starts.size() ? ft.file_starts[f + 1] : ft.tokens.size();
    out.pieces.emplace_back(ft.tokens.begin() + static_cast<long>(ft.file_starts[f]),
                            ft.tokens.begin() + static_cast<long>(end));
  }
  out.files_read = static_cast<int64_t>(ft.files_read.size());
  for (const std::string& name : ft.files_read) out.files.push_back((std::filesystem::path(data_dir) / name).string());
  out.source = fmt::format("{} ({} MIDI files read{})", data_dir, ft.files_read.size(),
                           ft.files_skipped ? fmt::format(", {} skipped", ft.files_skipped) : "");
  return out;
}

Corpus load_corpus(const std::string& data_dir, int64_t min_count, uint64_t seed, const std::string& repr) {
  if (!data_dir.empty() && is_token_cache(data_dir)) return load_cached_corpus(data_dir, min_count, repr);
  Corpus c;
  c.repr = repr;
  FolderPieces pieces = load_pieces(data_dir, seed, repr);
  c.source = pieces.source;
  c.files_read = data_dir.empty() ? static_cast<int64_t>(pieces.pieces.size()) : pieces.files_read;
  c.skipped = pieces.skipped;
  c.files = pieces.files;
  std::vector<std::string> tokens;
  for (const auto& p : pieces.pieces) tokens.insert(tokens.end(), p.begin(), p.end());
  if (tokens.empty()) mg::fail("--data {}: the MIDI files hold no notes", data_dir.empty() ? "(built-in)" : data_dir);

  std::map<std::string, int64_t> counts = mg::io::count_tokens(tokens);
  c.raw_tokens = static_cast<int64_t>(tokens.size());
  c.raw_distinct = static_cast<int64_t>(counts.size());
  c.counts.assign(counts.begin(), counts.end());
  std::stable_sort(c.counts.begin(), c.counts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });

  std::vector<std::string> frequent;
  for (const auto& [token, n] : counts)
    if (n >= min_count) frequent.push_back(token);  // sorted: a map's keys are
  c.vocab = frequent;
  if (c.vocab.size() < 2)
    mg::fail("--min-count {}: only {} distinct token(s) occur that often in {}; lower --min-count", min_count,
             c.vocab.size(), c.source);
  for (const auto& p : pieces.pieces) {
    int64_t mapped = 0, skipped = 0;
    std::vector<int64_t> ids = to_ids_nearest(p, c.vocab, repr, &mapped, &skipped);
    c.mapped += mapped;
    c.ids.insert(c.ids.end(), ids.begin(), ids.end());
    c.piece_ends.push_back(static_cast<int64_t>(c.ids.size()));
  }
  return c;
}

std::vector<size_t> heldout_piece_numbers(size_t pieces) {
  std::vector<size_t> held;
  for (size_t i = kHoldoutFirst; i < pieces; i += kHoldoutEvery) held.push_back(i);
  if (held.empty() && pieces >= 2) held.push_back(pieces - 1);
  return held;
}

namespace {

// Tokens of the held-out pieces and of the others.
std::pair<int64_t, int64_t> holdout_sizes(const Corpus& corpus, const std::vector<size_t>& held) {
  int64_t in_held = 0;
  for (size_t p : held) in_held += corpus.piece_ends[p] - (p == 0 ? 0 : corpus.piece_ends[p - 1]);
  const int64_t total = corpus.piece_ends.empty() ? 0 : corpus.piece_ends.back();
  return {in_held, total - in_held};
}

}  // namespace

std::string pieces_holdout_problem(const Corpus& corpus, int64_t seq_len) {
  const std::vector<size_t> held = heldout_piece_numbers(corpus.piece_ends.size());
  if (held.empty()) return fmt::format("{} holds one piece; nothing can be held out whole", corpus.source);
  const auto [in_held, in_train] = holdout_sizes(corpus, held);
  if (in_held <= seq_len || in_train <= seq_len)
    return fmt::format("{} held-out and {} training tokens in {}; each needs more than one window of {}", in_held,
                       in_train, corpus.source, seq_len);
  return "";
}

PieceHoldout hold_out_pieces(Corpus& corpus, int64_t seq_len, Split& split) {
  const std::string problem = pieces_holdout_problem(corpus, seq_len);
  if (!problem.empty()) mg::fail("--holdout pieces: {} (use --holdout windows or --heldout-data)", problem);
  const size_t n = corpus.piece_ends.size();
  const std::vector<size_t> held = heldout_piece_numbers(n);
  PieceHoldout out;
  std::vector<int64_t> train;
  size_t next = 0;
  for (size_t p = 0; p < n; ++p) {
    const int64_t begin = p == 0 ? 0 : corpus.piece_ends[p - 1], end = corpus.piece_ends[p];
    const auto first = corpus.ids.begin() + begin, last = corpus.ids.begin() + end;
    if (next < held.size() && held[next] == p) {
      ++next;
      out.ids.insert(out.ids.end(), first, last);
      out.pieces.emplace_back(first, last);
      out.names.push_back(p < corpus.files.size() ? corpus.files[p] : fmt::format("built-in piece {}", p + 1));
    } else {
      train.insert(train.end(), first, last);
    }
  }
  corpus.ids = std::move(train);
  split.train.clear();
  split.heldout.clear();
  for (int64_t s = 0; s + seq_len < static_cast<int64_t>(corpus.ids.size()); ++s) split.train.push_back(s);
  for (int64_t s = 0; s + seq_len < static_cast<int64_t>(out.ids.size()); ++s) split.heldout.push_back(s);
  return out;
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

FolderIds load_folder_ids(const std::string& dir, const std::string& flag, const std::string& label, uint64_t seed,
                          const std::string& repr, const std::vector<std::string>& vocab, int64_t seq_len) {
  FolderIds out;
  out.data = load_pieces(dir, seed, repr, flag);
  for (const auto& piece : out.data.pieces) {
    int64_t s = 0;
    const std::vector<int64_t> p = to_ids(piece, vocab, &s);
    out.skipped += s;
    out.ids.insert(out.ids.end(), p.begin(), p.end());
  }
  if (static_cast<int64_t>(out.ids.size()) - seq_len < 1)
    mg::fail("{} {}: {} tokens in the model's vocabulary, fewer than one window of {} and its next token", flag, dir,
             out.ids.size(), seq_len);
  std::printf("%s: %s: %zu tokens in the vocabulary, %lld outside it skipped\n", label.c_str(), out.data.source.c_str(),
              out.ids.size(), static_cast<long long>(out.skipped));
  return out;
}

std::vector<int64_t> to_ids_nearest(const std::vector<std::string>& tokens, const std::vector<std::string>& vocab,
                                    const std::string& repr, int64_t* mapped, int64_t* skipped) {
  const VocabMapper mapper(vocab, repr);
  std::vector<int64_t> ids;
  int64_t n_mapped = 0, n_skipped = 0;
  for (const std::string& t : tokens) {
    bool replaced = false;
    const int64_t id = mapper.id(t, &replaced);
    if (id < 0) {
      ++n_skipped;
    } else {
      ids.push_back(id);
      n_mapped += replaced;
    }
  }
  if (mapped) *mapped = n_mapped;
  if (skipped) *skipped = n_skipped;
  return ids;
}

Split split_windows(int64_t num_tokens, int64_t seq_len, uint64_t seed) {
  const int64_t windows = num_tokens - seq_len;
  Split s;
  if (windows <= 0) return s;
  std::vector<int64_t> all(static_cast<size_t>(windows));
  for (int64_t i = 0; i < windows; ++i) all[static_cast<size_t>(i)] = i;
  mg::nn::seeded_shuffle(all, seed);
  const int64_t n_test = windows >= 2 ? std::max<int64_t>(1, (windows * 2 + 9) / 10) : 0;
  s.heldout.assign(all.begin(), all.begin() + n_test);
  // The training windows stay in `all`: one list of every window at a time, not two.
  all.erase(all.begin(), all.begin() + n_test);
  s.train = std::move(all);
  return s;
}

std::vector<int64_t> strided(const std::vector<int64_t>& starts, int64_t stride) {
  std::vector<int64_t> out;
  for (int64_t s : starts)
    if (s % stride == 0) out.push_back(s);
  return out;
}

std::vector<std::string> overlapping_files(const std::vector<std::string>& train, const std::vector<std::string>& heldout) {
  std::map<std::string, std::string> canonical;       // canonical path -> training file
  std::map<uintmax_t, std::vector<std::string>> by_size;
  for (const std::string& f : train) {
    std::error_code ec;
    canonical[fs::weakly_canonical(f, ec).string()] = f;
    const uintmax_t size = fs::file_size(f, ec);
    if (!ec) by_size[size].push_back(f);  // a file no longer there (a cache's source) compares by path only
  }
  auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  std::vector<std::string> out;
  for (const std::string& f : heldout) {
    std::error_code ec;
    if (canonical.count(fs::weakly_canonical(f, ec).string())) {
      out.push_back(f);
      continue;
    }
    const auto same_size = by_size.find(fs::file_size(f, ec));
    if (ec || same_size == by_size.end()) continue;
    const std::string mine = bytes(f);
    for (const std::string& t : same_size->second)
      if (bytes(t) == mine) {
        out.push_back(f);
        break;
      }
  }
  return out;
}

std::vector<int64_t> hold_out_folder(const std::string& dir, const Corpus& corpus, uint64_t seed,
                                     const std::string& repr, int64_t seq_len, Split& split) {
  FolderIds held = load_folder_ids(dir, "--heldout-data", "held-out data", seed, repr, corpus.vocab, seq_len);
  const std::vector<std::string> both = overlapping_files(corpus.files, held.data.files);
  if (!both.empty())
    mg::fail("--heldout-data {}: {} of its files are training files too ({}{}); held-out music must be music the "
             "model does not train on", dir, both.size(), both.front(), both.size() > 1 ? ", ..." : "");
  split.train.insert(split.train.end(), split.heldout.begin(), split.heldout.end());
  std::sort(split.train.begin(), split.train.end());
  split.heldout.clear();
  for (int64_t s = 0; s + seq_len < static_cast<int64_t>(held.ids.size()); ++s) split.heldout.push_back(s);
  return std::move(held.ids);
}

}  // namespace chopin
