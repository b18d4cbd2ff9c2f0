#include "apps/chopin-lstm/token_cache.h"

#include <bit>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "io/music_tokens.h"
#include "io/timed_tokens.h"
#include "io/utf8.h"
#include "tensor/error.h"

namespace chopin {

namespace fs = std::filesystem;

namespace {

constexpr const char* kAgain = "run chopin-lstm prepare again";

uint32_t from_little_endian(uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) return v;
  return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
}

// A token the representation can produce (so a damaged vocabulary is caught here, not in training).
bool valid_token(const std::string& token, const std::string& repr) {
  if (repr == "timed") return mg::io::is_timed_token(token);
  try {
    mg::io::token_to_notes(token, 0);
    return true;
  } catch (const mg::Error&) {
    return false;
  }
}

}  // namespace

bool is_token_cache(const std::string& dir) {
  std::error_code ec;
  return !dir.empty() && fs::is_directory(dir, ec) && fs::exists(fs::path(dir) / kCacheIndexName, ec);
}

CacheIndex read_cache_index(const std::string& dir) {
  CacheIndex index;
  index.dir = dir;
  const std::string path = index.index_path();
  const nlohmann::json j = mg::io::read_index_json(path, kAgain);
  const mg::io::IndexFields f(path);
  if (!j.is_object() || !j.contains("format") || j["format"] != kCacheFormat)
    mg::fail("{}: not a chopin-lstm token cache (its format is not \"{}\")", path, kCacheFormat);
  const int64_t version = f.integer(j, "version", "", 1, 1'000'000);
  if (version != kCacheVersion)
    mg::fail("{}: cache format version {}; this chopin-lstm reads version {} (run chopin-lstm prepare again)", path,
             version, kCacheVersion);
  index.repr = f.text(j, "repr", "");
  if (index.repr != "seed" && index.repr != "timed") f.bad("repr", fmt::format("expected seed or timed, got '{}'", index.repr));
  index.source = mg::io::from_valid_utf8(f.text(j, "source", ""));
  if (f.text(j, "ids", "") != "uint32le") f.bad("ids", "expected \"uint32le\"");

  const nlohmann::json& vocab = f.array(j, "vocabulary", "");
  std::set<std::string> seen;
  for (size_t i = 0; i < vocab.size(); ++i) {
    const std::string field = fmt::format("vocabulary[{}].", i);
    std::string token = f.text(vocab[i], "token", field);
    if (!valid_token(token, index.repr)) f.bad(field + "token", fmt::format("'{}' is not a {} token", token, index.repr));
    if (!seen.insert(token).second) f.bad(field + "token", fmt::format("'{}' appears twice", token));
    index.counts.push_back(f.integer(vocab[i], "count", field, 1, INT64_MAX));
    index.vocab.push_back(std::move(token));
  }
  if (index.vocab.size() > UINT32_MAX) f.bad("vocabulary", "more tokens than uint32 ids can name");

  const nlohmann::json& shards = f.array(j, "shards", "");
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string field = fmt::format("shards[{}].", s);
    CacheShard shard;
    shard.name = f.text(shards[s], "file", field);
    if (shard.name != shard_name(s)) f.bad(field + "file", fmt::format("expected {}, got '{}'", shard_name(s), shard.name));
    shard.tokens = f.integer(shards[s], "tokens", field, 0, INT64_MAX / 4);
    if (f.integer(shards[s], "bytes", field, 0, INT64_MAX) != 4 * shard.tokens)
      f.bad(field + "bytes", "expected 4 bytes per token");
    shard.checksum = f.checksum(shards[s], "fnv1a64", field);
    index.tokens += shard.tokens;
    index.shards.push_back(std::move(shard));
  }

  // Files fill the shards one after another, in order, with no gap.
  const nlohmann::json& files = f.array(j, "files", "");
  int64_t shard = 0, at = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string field = fmt::format("files[{}].", i);
    CacheFile file;
    file.path = mg::io::from_valid_utf8(f.text(files[i], "path", field));
    file.bytes = uint64_t(f.integer(files[i], "bytes", field, 0, INT64_MAX));
    file.checksum = f.checksum(files[i], "fnv1a64", field);
    file.notes = f.integer(files[i], "notes", field, 0, INT64_MAX);
    file.shard = f.integer(files[i], "shard", field, 0, std::max<int64_t>(0, int64_t(index.shards.size()) - 1));
    file.first = f.integer(files[i], "first", field, 0, INT64_MAX);
    file.tokens = f.integer(files[i], "tokens", field, 0, INT64_MAX);
    if (file.shard != shard && file.shard == shard + 1 && at == index.shards[size_t(shard)].tokens) {
      shard = file.shard;
      at = 0;
    }
    if (file.shard != shard || file.first != at || (file.tokens > 0 && index.shards.empty()) ||
        (!index.shards.empty() && file.tokens > index.shards[size_t(shard)].tokens - at))
      f.bad(field + "first", fmt::format("tokens [{}, {}) of shard {} do not follow the previous file's", file.first,
                                        file.first + file.tokens, file.shard));
    at += file.tokens;
    index.notes += file.notes;
    index.files.push_back(std::move(file));
  }
  if (!index.shards.empty() && (shard + 1 != int64_t(index.shards.size()) || at != index.shards.back().tokens))
    f.bad("files", "the files' tokens do not fill the shards");
  const nlohmann::json& skipped = f.array(j, "skipped", "");
  for (size_t i = 0; i < skipped.size(); ++i) {
    const std::string field = fmt::format("skipped[{}].", i);
    index.skipped.emplace_back(mg::io::from_valid_utf8(f.text(skipped[i], "path", field)),
                               f.text(skipped[i], "reason", field));
  }
  int64_t counted = 0;
  for (int64_t c : index.counts) counted += c;
  if (counted != index.tokens)
    f.bad("vocabulary", fmt::format("the counts add up to {} tokens, the shards hold {}", counted, index.tokens));
  return index;
}

void require_cache_repr(const CacheIndex& index, const std::string& repr, const std::string& flag) {
  if (index.repr != repr)
    mg::fail("--repr {}: {} {} is a cache of --repr {} tokens (run chopin-lstm prepare --repr {} on the MIDI folder, "
             "or use --repr {})", repr, flag, index.dir, index.repr, repr, index.repr);
}

MappedShard::MappedShard(const CacheIndex& index, size_t shard)
    : file_(index.shard_path(shard), 4 * uint64_t(index.shards[shard].tokens), index.shards[shard].checksum,
            fmt::format("{} tokens", index.shards[shard].tokens), kAgain) {}

uint32_t MappedShard::operator[](size_t i) const {
  return from_little_endian(static_cast<const uint32_t*>(file_.data())[i]);
}

CacheWriter::CacheWriter(std::string dir, std::string repr, std::string source, int64_t shard_tokens)
    : shard_tokens_(shard_tokens) {
  index_.dir = std::move(dir);
  index_.repr = std::move(repr);
  index_.source = std::move(source);
}

void CacheWriter::add_file(CacheFile file, const std::vector<std::string>& distinct, const std::vector<uint32_t>& ids) {
  // Raw ids in the order tokens are first met, file after file: the same for any number of threads.
  std::vector<uint32_t> raw(distinct.size());
  for (size_t k = 0; k < distinct.size(); ++k) {
    auto [it, added] = raw_id_.emplace(distinct[k], uint32_t(index_.vocab.size()));
    if (added) {
      if (index_.vocab.size() >= UINT32_MAX) mg::fail("{}: more distinct tokens than uint32 ids can name", index_.dir);
      index_.vocab.push_back(distinct[k]);
      index_.counts.push_back(0);
    }
    raw[k] = it->second;
  }
  if (!ids.empty() && !pending_.empty() && int64_t(pending_.size() + ids.size()) > shard_tokens_) write_shard();
  file.shard = int64_t(index_.shards.size());
  file.first = int64_t(pending_.size());
  file.tokens = int64_t(ids.size());
  for (uint32_t id : ids) {
    pending_.push_back(raw[id]);
    ++index_.counts[raw[id]];
  }
  index_.tokens += file.tokens;
  index_.notes += file.notes;
  index_.files.push_back(std::move(file));
}

void CacheWriter::add_skipped(const std::string& path, const std::string& why) { index_.skipped.emplace_back(path, why); }

void CacheWriter::write_shard() {
  CacheShard shard{shard_name(index_.shards.size()), int64_t(pending_.size()), 0};
  for (uint32_t& id : pending_) id = from_little_endian(id);  // to little-endian: the same swap
  shard.checksum = fnv1a64(pending_.data(), 4 * pending_.size());
  const std::string path = index_.dir + "/" + shard.name;
  mg::io::write_shard(path, pending_.data(), 4 * pending_.size());
  written_.add(path);
  index_.shards.push_back(std::move(shard));
  pending_.clear();
}

void CacheWriter::finish() {
  if (!pending_.empty()) write_shard();
  // One line per vocabulary entry, shard and file: a large index stays readable with grep and diff.
  using ojson = nlohmann::ordered_json;
  using mg::io::hex64, mg::io::json_lines;
  std::vector<ojson> vocab, shards, files, skipped;
  for (size_t i = 0; i < index_.vocab.size(); ++i) vocab.push_back({{"token", index_.vocab[i]}, {"count", index_.counts[i]}});
  for (const CacheShard& s : index_.shards)
    shards.push_back({{"file", s.name}, {"tokens", s.tokens}, {"bytes", 4 * s.tokens}, {"fnv1a64", hex64(s.checksum)}});
  for (const CacheFile& f : index_.files)
    files.push_back({{"path", mg::io::valid_utf8(f.path)},   {"bytes", f.bytes},   {"fnv1a64", hex64(f.checksum)}, {"notes", f.notes},
                     {"shard", f.shard}, {"first", f.first}, {"tokens", f.tokens}});
  for (const auto& [path, why] : index_.skipped)
    skipped.push_back({{"path", mg::io::valid_utf8(path)}, {"reason", mg::io::valid_utf8(why)}});
  const std::string text =
      fmt::format("{{\n  \"format\": {},\n  \"version\": {},\n  \"repr\": {},\n  \"source\": {},\n  \"ids\": \"uint32le\",\n"
                  "  \"tokens\": {},\n  \"notes\": {},\n  \"vocabulary\": {},\n  \"shards\": {},\n  \"files\": {},\n"
                  "  \"skipped\": {}\n}}\n",
                  ojson(kCacheFormat).dump(), kCacheVersion, ojson(index_.repr).dump(), ojson(mg::io::valid_utf8(index_.source)).dump(),
                  index_.tokens, index_.notes, json_lines(vocab), json_lines(shards), json_lines(files), json_lines(skipped));
  mg::io::write_file_atomic(index_.index_path(), text);
  written_.keep();
  mg::io::remove_shards_from(index_.dir, shard_name, index_.shards.size());
}

}  // namespace chopin
