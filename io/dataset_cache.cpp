#include "io/dataset_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/checksum.h"
#include "io/json_limits.h"
#include "tensor/error.h"

namespace mg::io {

namespace fs = std::filesystem;

namespace {

// A cache of a million files has an index of about 200 MB.
constexpr JsonLimits kIndexLimits{size_t(1) << 30, 8};

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// The files prepare writes: the index, shards, the run's lock, and their temporaries (NAME.tmp.PID).
bool is_cache_file(const std::string& name, const ShardNames& names) {
  if (name == kCacheIndexName || name == "run.lock" || names.matches(name)) return true;
  const size_t tmp = name.rfind(".tmp.");
  return tmp != std::string::npos && all_digits(name.substr(tmp + 5)) && is_cache_file(name.substr(0, tmp), names);
}

}  // namespace

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

void IndexFields::bad(const std::string& field, const std::string& what) const {
  mg::fail("{}: field '{}': {}", file_, field, what);
}

const nlohmann::json& IndexFields::at(const nlohmann::json& j, const std::string& key, const std::string& field) const {
  if (!j.is_object()) bad(field, "expected an object");
  auto it = j.find(key);
  if (it == j.end()) bad(field + key, "missing");
  return *it;
}

int64_t IndexFields::integer(const nlohmann::json& j, const std::string& key, const std::string& field, int64_t lo,
                             int64_t hi) const {
  const nlohmann::json& v = at(j, key, field);
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(hi)) ||
      v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    bad(field + key, fmt::format("expected an integer in [{}, {}], got {}", lo, hi, v.dump()));
  return v.get<int64_t>();
}

std::string IndexFields::text(const nlohmann::json& j, const std::string& key, const std::string& field) const {
  const nlohmann::json& v = at(j, key, field);
  if (!v.is_string()) bad(field + key, fmt::format("expected a string, got {}", v.dump()));
  return v.get<std::string>();
}

uint64_t IndexFields::checksum(const nlohmann::json& j, const std::string& key, const std::string& field) const {
  const std::string s = text(j, key, field);
  if (s.size() != 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
    bad(field + key, fmt::format("expected 16 lower-case hex digits, got '{}'", s));
  return std::stoull(s, nullptr, 16);
}

const nlohmann::json& IndexFields::array(const nlohmann::json& j, const std::string& key,
                                         const std::string& field) const {
  const nlohmann::json& v = at(j, key, field);
  if (!v.is_array()) bad(field + key, "expected an array");
  return v;
}

nlohmann::json read_index_json(const std::string& path, const std::string& again) {
  std::ifstream in(path, std::ios::binary);
  if (!in) mg::fail("{}: cannot read the cache index: {}", path, std::strerror(errno));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  check_json_limits(text, kIndexLimits, path);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) mg::fail("{}: not valid JSON (a damaged cache index; {})", path, again);
  return j;
}

std::string json_lines(const std::vector<nlohmann::ordered_json>& items) {
  if (items.empty()) return "[]";
  std::string s = "[\n";
  for (size_t i = 0; i < items.size(); ++i) s += "    " + items[i].dump() + (i + 1 < items.size() ? ",\n" : "\n");
  return s + "  ]";
}

std::string ShardNames::operator()(size_t s) const { return fmt::format("{}{:05}{}", prefix, s, ext); }

bool ShardNames::matches(const std::string& name) const {
  return name.size() == prefix.size() + 5 + ext.size() && name.starts_with(prefix) && name.ends_with(ext) &&
         all_digits(name.substr(prefix.size(), 5));
}

void write_shard(const std::string& path, const void* data, size_t bytes) {
  write_file_atomic(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) mg::fail("{}: cannot open for writing", path);
    out.write(static_cast<const char*>(data), std::streamsize(bytes));
    out.flush();
    if (!out) mg::fail("{}: write failed (disk full?)", path);
  });
}

void remove_shards_from(const std::string& dir, const ShardNames& names, size_t count) {
  std::error_code ec;
  for (size_t s = count; fs::remove(fs::path(dir) / names(s), ec); ++s) {
  }
}

MappedFile::MappedFile(std::string path, uint64_t bytes, uint64_t checksum, const std::string& listed,
                       const std::string& again)
    : path_(std::move(path)), bytes_(size_t(bytes)) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) mg::fail("{}: cannot read the cache shard: {} ({})", path_, std::strerror(errno), again);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    mg::fail("{}: cannot read the cache shard: not a regular file", path_);
  }
  if (uint64_t(st.st_size) != bytes) {
    ::close(fd);
    mg::fail("{}: {} bytes, but {} lists {} ({} bytes): a truncated or replaced shard ({})", path_, st.st_size,
             kCacheIndexName, listed, bytes, again);
  }
  if (bytes_ > 0) {  // mmap refuses an empty mapping
    void* p = ::mmap(nullptr, bytes_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      mg::fail("{}: cannot map the cache shard: {}", path_, std::strerror(err));
    }
    ::madvise(p, bytes_, MADV_SEQUENTIAL);
    data_ = p;
  }
  ::close(fd);  // the mapping stays
  if (fnv1a64(data_, bytes_) != checksum) {
    if (data_) ::munmap(data_, bytes_);
    mg::fail("{}: checksum mismatch against {}: a damaged shard ({})", path_, kCacheIndexName, again);
  }
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, bytes_);
}

void refuse_foreign_folder(const std::string& dir, const std::string& flag, const ShardNames& names,
                           const std::string& kind, bool (*owns_index)(const std::string& dir)) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / kCacheIndexName, ec)) {
    if (owns_index(dir)) return;
    mg::fail("{} {}: holds an {} that is not {}'s; give a new or empty folder, or a cache to replace", flag, dir,
             kCacheIndexName, kind);
  }
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!is_cache_file(name, names))
      mg::fail("{} {}: holds {}, and is not {} (no {}); give a new or empty folder, or a cache to replace", flag, dir,
               name, kind, kCacheIndexName);
  }
  if (ec) mg::fail("{} {}: cannot list folder: {}", flag, dir, ec.message());
}

}  // namespace mg::io
