#pragma once
// The dataset cache `chopin-lstm prepare` writes and `train`/`eval` read
// (format version 1, apps/chopin-lstm/README.md "Dataset cache"): a MIDI
// folder's tokens, parsed once, as little-endian uint32 ids into the cache's
// raw vocabulary (every distinct token, before any --min-count), in shards
// tokens-00000.bin, tokens-00001.bin, ... of whole files, and index.json:
// the format and version, the representation, the raw vocabulary with its
// counts, the shards (tokens, FNV-1a 64 checksum), every file read (path,
// size, checksum, notes, shard and token range) and every file skipped, with
// why. Readers map the shards read-only and verify each shard's size and
// checksum before using a token of it; every error names the file.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "io/checksum.h"
#include "io/dataset_cache.h"

namespace chopin {

inline constexpr const char* kCacheFormat = "chopin-lstm-token-cache";
inline constexpr int kCacheVersion = 1;
using mg::io::kCacheIndexName;  // index.json
// Shard s is shard_name(s): tokens-00000.bin.
inline const mg::io::ShardNames shard_name{"tokens-", ".bin"};
// Tokens per shard (64 MiB of ids); a file with more gets a shard of its own.
inline constexpr int64_t kDefaultShardTokens = int64_t(16) << 20;

using mg::io::fnv1a64;  // io/checksum.h

struct CacheShard {
  std::string name;  // tokens-00000.bin
  int64_t tokens = 0;
  uint64_t checksum = 0;  // FNV-1a 64 of its bytes
};

struct CacheFile {
  std::string path;      // relative to the MIDI folder
  uint64_t bytes = 0;    // the MIDI file's size
  uint64_t checksum = 0; // FNV-1a 64 of the MIDI file's bytes
  int64_t notes = 0;     // notes the reader found in it
  int64_t shard = 0, first = 0, tokens = 0;  // its tokens: [first, first + tokens) of that shard
};

struct CacheIndex {
  std::string dir;     // the cache folder
  std::string source;  // the MIDI folder it was made from (absolute)
  std::string repr;    // "seed" or "timed"
  std::vector<std::string> vocab;  // raw id -> token, in the order first met
  std::vector<int64_t> counts;     // raw id -> occurrences (at least 1)
  std::vector<CacheShard> shards;
  std::vector<CacheFile> files;
  std::vector<std::pair<std::string, std::string>> skipped;  // file, why
  int64_t tokens = 0;  // in all shards
  int64_t notes = 0;   // in all files read
  std::string index_path() const { return dir + "/" + kCacheIndexName; }
  std::string shard_path(size_t s) const { return dir + "/" + shards[s].name; }
};

// True when dir is a folder holding index.json: a cache (or a damaged one,
// which read_cache_index then names).
bool is_token_cache(const std::string& dir);

// Reads DIR/index.json and checks it whole (format, version, types, ranges,
// the files' token ranges against the shards, the counts against the
// shards' sizes); an error names index.json and the field.
CacheIndex read_cache_index(const std::string& dir);

// "--data DIR: ..." when the cache holds another representation than `repr`,
// naming --repr and both values.
void require_cache_repr(const CacheIndex& index, const std::string& repr, const std::string& flag);

// One shard mapped read-only, its size and checksum verified against the
// index first (an error names the shard). Ids are little-endian on disk;
// operator[] gives them in the machine's order.
class MappedShard {
 public:
  MappedShard(const CacheIndex& index, size_t shard);
  size_t size() const { return file_.bytes() / 4; }
  uint32_t operator[](size_t i) const;
  const std::string& path() const { return file_.path(); }

 private:
  mg::io::MappedFile file_;
};

// Writes a cache file by file, in the order the files are added: a file's
// tokens go to the current shard, or start a new one when they would take it
// past shard_tokens. Shards are written (atomically) as they fill, index.json
// at finish(), after the last shard; then shards of an older cache beyond the
// new count are removed. A writer destroyed before finish() removes the
// shards it wrote.
class CacheWriter {
 public:
  CacheWriter(std::string dir, std::string repr, std::string source, int64_t shard_tokens = kDefaultShardTokens);
  // One file's tokens, given as indices into `distinct`, its distinct tokens.
  void add_file(CacheFile file, const std::vector<std::string>& distinct, const std::vector<uint32_t>& ids);
  void add_skipped(const std::string& path, const std::string& why);
  const CacheIndex& index() const { return index_; }
  void finish();

 private:
  void write_shard();
  CacheIndex index_;
  int64_t shard_tokens_;
  std::unordered_map<std::string, uint32_t> raw_id_;
  std::vector<uint32_t> pending_;  // the ids of the shard being filled
  mg::io::OutputSet written_;
};

}  // namespace chopin
