#pragma once
// What the two dataset caches share (apps/chopin-lstm/token_cache.h,
// apps/jazz-vae/audio_cache.h): a folder of shards named prefix-00000.ext,
// prefix-00001.ext, ... and an index.json that lists each shard's size and
// FNV-1a 64 checksum (io/checksum.h). The apps keep their formats, and the
// words their errors use ("run chopin-lstm prepare again") are parameters.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mg::io {

inline constexpr const char* kCacheIndexName = "index.json";

// A checksum as an index writes it: 16 lower-case hex digits.
std::string hex64(uint64_t v);

// Typed fields of a cache's index; an error names the file and the field
// ("files[3].tokens": the prefix "files[3]." and the key "tokens").
class IndexFields {
 public:
  explicit IndexFields(std::string file) : file_(std::move(file)) {}
  [[noreturn]] void bad(const std::string& field, const std::string& what) const;
  const nlohmann::json& at(const nlohmann::json& j, const std::string& key, const std::string& field) const;
  int64_t integer(const nlohmann::json& j, const std::string& key, const std::string& field, int64_t lo,
                  int64_t hi) const;
  std::string text(const nlohmann::json& j, const std::string& key, const std::string& field) const;
  uint64_t checksum(const nlohmann::json& j, const std::string& key, const std::string& field) const;
  const nlohmann::json& array(const nlohmann::json& j, const std::string& key, const std::string& field) const;

 private:
  std::string file_;
};

// Reads and parses an index (within a size and depth limit); an error names
// the file, and a damaged one says `again` ("run chopin-lstm prepare again").
nlohmann::json read_index_json(const std::string& path, const std::string& again);

// Items as a JSON array of one item a line: a large index stays readable
// with grep and diff.
std::string json_lines(const std::vector<nlohmann::ordered_json>& items);

// A cache's shard names: prefix, five digits, extension ("tokens-00000.bin").
struct ShardNames {
  std::string prefix, ext;
  std::string operator()(size_t s) const;
  bool matches(const std::string& name) const;
};

// Writes a shard atomically (io/atomic_file.h).
void write_shard(const std::string& path, const void* data, size_t bytes);

// Removes shards `count`, count + 1, ... of dir, up to the first missing:
// those of an older, larger cache that the new index no longer lists.
void remove_shards_from(const std::string& dir, const ShardNames& names, size_t count);

// One shard mapped read-only, after its size and then its checksum were
// checked against the index; every error names the shard. `listed` is what
// the index says of it in its own unit ("5 tokens"), `again` the remedy.
class MappedFile {
 public:
  MappedFile(std::string path, uint64_t bytes, uint64_t checksum, const std::string& listed, const std::string& again);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// prepare's check of --out, given as `flag`: a folder that exists may be
// empty, a cache (its index.json is the cache's: owns_index(dir)) or what a
// failed prepare left (shards, a lock, temporaries, no index); anything else
// is refused naming the first foreign file, so that prepare never writes its
// files among someone else's. `kind` names the cache: "a token cache".
void refuse_foreign_folder(const std::string& dir, const std::string& flag, const ShardNames& names,
                           const std::string& kind, bool (*owns_index)(const std::string& dir));

}  // namespace mg::io
