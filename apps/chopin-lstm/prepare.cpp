// chopin-lstm prepare: a MIDI folder parsed once into a token cache
// (token_cache.h) that train and eval then read with --data instead of the
// folder. Files are read, parsed and tokenized on --threads threads, each
// file on its own; this thread takes the results in file-name order and
// writes the shards, so the cache is byte for byte the same for any number of
// threads, and at most a few results per thread wait for their turn, so
// memory does not grow with the folder.
//
// --synthesize N writes N MIDI files of the built-in generator instead
// (io/builtin_corpus.h, file i from seed + i): a corpus of any size to
// measure with.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

#include "apps/chopin-lstm/chopin.h"
#include "apps/common/ordered_map.h"
#include "apps/common/progress.h"
#include "apps/common/run_control.h"
#include "io/atomic_file.h"
#include "io/builtin_corpus.h"
#include "io/music_tokens.h"
#include "io/run_folder.h"
#include "kernels/cpu/parallel.h"

namespace chopin {

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One file read, parsed and tokenized, or why it was skipped.
struct ParsedFile {
  std::string error;                  // non-empty: skipped
  CacheFile file;                     // its path (file name), size, checksum and notes
  std::vector<std::string> distinct;  // its distinct tokens, in the order first met
  std::vector<uint32_t> ids;          // its tokens as indices into distinct
  double seconds = 0;                 // reading, parsing and tokenizing it
};

// As load_pieces reads a file: the same tokens, and the same reason to skip it.
ParsedFile parse_file(const fs::path& path, const std::string& repr) {
  const auto start = std::chrono::steady_clock::now();
  ParsedFile p;
  p.file.path = path.filename().string();
  try {
    const std::vector<uint8_t> bytes = mg::io::read_midi_bytes(path.string());
    p.file.bytes = bytes.size();
    p.file.checksum = fnv1a64(bytes.data(), bytes.size());
    const mg::io::MidiFile midi = mg::io::parse_midi(bytes.data(), bytes.size(), path.string());
    p.file.notes = static_cast<int64_t>(midi.notes.size());
    const std::vector<std::string> tokens = piece_tokens(midi, repr);
    std::unordered_map<std::string, uint32_t> local;
    p.ids.reserve(tokens.size());
    for (const std::string& t : tokens) {
      const auto [it, added] = local.try_emplace(t, static_cast<uint32_t>(p.distinct.size()));
      if (added) p.distinct.push_back(t);
      p.ids.push_back(it->second);
    }
  } catch (const mg::Error& e) {
    p = ParsedFile{e.what(), {path.filename().string()}, {}, {}, 0};
  }
  p.seconds = seconds_since(start);
  return p;
}

int synthesize(const PrepareOptions& o) {
  mg::io::check_output_folder(o.out, "--out");
  std::error_code ec;
  if (fs::exists(o.out, ec) && !fs::is_empty(o.out, ec))
    mg::fail("--out {}: --synthesize writes into a new or empty folder", o.out);
  mg::io::ensure_output_folder(o.out, "--out");
  const size_t digits = std::max<size_t>(5, std::to_string(o.synthesize - 1).size());
  mg::app::Progress progress("synthesize", o.synthesize, "files");
  int64_t notes = 0;
  for (int64_t i = 0; i < o.synthesize; ++i) {
    // Keys in turn, as the built-in corpus's pieces take them.
    const mg::io::BuiltinCorpusOptions options{.pieces = 1, .bars_per_piece = o.bars, .first_key = int(i % 3)};
    const mg::io::MidiFile piece = mg::io::builtin_piano_corpus(o.seed + uint64_t(i), options).front();
    const std::string path = fmt::format("{}/piece-{:0{}}.mid", o.out, i, digits);
    mg::io::write_midi(path, mg::io::midi_to_note_events(piece), piece.tempo_map.front().bpm(), piece.ticks_per_quarter);
    notes += static_cast<int64_t>(piece.notes.size());
    progress.update(i, NAN, 1);
  }
  progress.finish();
  std::printf("wrote %lld MIDI files (%lld notes, %d bars each, seeds %llu to %llu) into %s\n",
              static_cast<long long>(o.synthesize), static_cast<long long>(notes), o.bars,
              static_cast<unsigned long long>(o.seed), static_cast<unsigned long long>(o.seed + uint64_t(o.synthesize) - 1),
              o.out.c_str());
  return 0;
}

}  // namespace

int run_prepare(const PrepareOptions& o) {
  if (o.quiet) mg::app::set_output_mode(mg::app::OutputMode::Quiet);
  if (o.synthesize > 0) return synthesize(o);
  std::vector<fs::path> files;
  try {
    files = mg::io::list_midi_files(o.data);
  } catch (const mg::Error& e) {
    mg::fail("--data {}", e.what());  // "--data DIR: no .mid or .midi files in this folder"
  }
  mg::io::check_output_folder(o.out, "--out");
  std::error_code ec;
  if (fs::is_directory(o.out, ec))
    mg::io::refuse_foreign_folder(o.out, "--out", shard_name, "a token cache", is_token_cache);
  mg::io::RunFolder folder(o.out, "--out");  // one prepare per folder

  const int threads =
      std::max(1, std::min<int>(o.threads > 0 ? o.threads : mg::cpu::available_cpus(), static_cast<int>(files.size())));
  CacheWriter writer(o.out, o.repr, fs::weakly_canonical(fs::absolute(o.data), ec).string(), o.shard_tokens);
  mg::app::Progress progress("prepare", static_cast<int64_t>(files.size()), "files");
  const auto start = std::chrono::steady_clock::now();
  double parse_seconds = 0;
  int64_t done = 0;
  // At most 8 parsed files per thread wait for their turn.
  mg::app::map_in_order(
      files.size(), threads, 8 * size_t(threads), [&](size_t i) { return parse_file(files[i], o.repr); },
      [&](ParsedFile&& p) {
        if (!p.error.empty()) {
          std::fprintf(stderr, "warning: skipping %s: %s\n", p.file.path.c_str(), p.error.c_str());
          writer.add_skipped(p.file.path, p.error);
        } else {
          writer.add_file(std::move(p.file), p.distinct, p.ids);
          if (writer.index().tokens > kMaxCacheTokens)
            mg::fail("--data {}: more than {} tokens, the most train reads from a cache; use fewer files", o.data,
                     kMaxCacheTokens);
        }
        parse_seconds += p.seconds;
        progress.update(done++, NAN, 1, fmt::format("{} tokens", writer.index().tokens));
      });
  const CacheIndex& index = writer.index();
  if (index.files.empty()) mg::fail("--data {}: no readable MIDI file ({} skipped)", o.data, index.skipped.size());
  writer.finish();
  const double seconds = seconds_since(start);
  progress.finish();
  std::printf("data: %s: %zu MIDI files read, %zu skipped, %lld notes\n", o.data.c_str(), index.files.size(),
              index.skipped.size(), static_cast<long long>(index.notes));
  std::printf("cache: %s: %lld tokens (--repr %s, %zu distinct) in %zu shard%s; index %s\n", o.out.c_str(),
              static_cast<long long>(index.tokens), o.repr.c_str(), index.vocab.size(), index.shards.size(),
              index.shards.size() == 1 ? "" : "s", index.index_path().c_str());
  std::printf("time: %.3f s with %d thread%s: %.0f files/s, %.0f notes/s (reading, parsing and tokenizing: %.3f s of "
              "thread time, %.0f notes/s per thread)\n",
              seconds, threads, threads == 1 ? "" : "s", double(files.size()) / seconds, double(index.notes) / seconds,
              parse_seconds, parse_seconds > 0 ? double(index.notes) / parse_seconds : 0.0);
  return 0;
}

}  // namespace chopin
