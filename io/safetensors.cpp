#include "io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/checksum.h"
#include "io/input_file.h"
#include "io/json_limits.h"
#include "tensor/error.h"

namespace mg::io {

namespace {

constexpr const char* kMetadataKey = "__metadata__";

// Element count times element size, or false when it overflows 64 bits.
bool byte_length(const std::vector<int64_t>& shape, size_t elem, uint64_t& out) {
  uint64_t n = elem;
  for (int64_t d : shape) {
    if (d < 0) return false;
    if (d != 0 && n > UINT64_MAX / static_cast<uint64_t>(d)) return false;
    n *= static_cast<uint64_t>(d);
  }
  out = n;
  return true;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// FNV-1a, 64-bit (io/checksum.h), fed piece by piece.
class Fnv1a64 {
 public:
  void update(const void* data, size_t n) { hash_ = fnv1a64(data, n, hash_); }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = kFnv1aOffset;
};

}  // namespace

size_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
      {"I32", 4},  {"U32", 4}, {"F32", 4}, {"I64", 8}, {"U64", 8}, {"F64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) header[kMetadataKey] = file.metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const TensorRecord& t : file.tensors) {
    if (t.name == kMetadataKey) fail("{}: '{}' cannot be a tensor name", path, t.name);
    if (!seen.insert(t.name).second) fail("{}: tensor name '{}' appears twice", path, t.name);
    size_t elem = dtype_size(t.dtype);
    if (elem == 0) fail("{}: tensor '{}' has unknown dtype '{}'", path, t.name, t.dtype);
    uint64_t bytes = 0;
    if (!byte_length(t.shape, elem, bytes)) fail("{}: tensor '{}' has an invalid shape {}", path, t.name, shape_text(t.shape));
    if (bytes != t.data.size())
      fail("{}: tensor '{}' ({} {}) needs {} bytes but has {}", path, t.name, t.dtype, shape_text(t.shape), bytes, t.data.size());
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name that is not UTF-8
    fail("{}: cannot encode header: {}", path, e.what());
  }
  // Pad so that the data buffer starts 8-byte aligned.
  text.resize((text.size() + 7) / 8 * 8, ' ');
  write_file_atomic(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) fail("{}: cannot open for writing", path);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
    f.write(reinterpret_cast<const char*>(len), 8);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const TensorRecord& t : file.tensors)
      f.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
    f.flush();
    if (!f) fail("{}: write failed (disk full?)", path);
  });
}

namespace {

// One tensor's header entry: the record without its data, and its byte range in the data buffer.
struct Entry {
  TensorRecord record;
  uint64_t begin = 0, end = 0;
};

// The parsed header: metadata, and the tensors in data-buffer order, checked to tile the buffer exactly.
struct Layout {
  std::map<std::string, std::string> metadata;
  std::vector<Entry> entries;
};

// The 8-byte length prefix, checked against the file size and kMaxSafetensorsHeader.
uint64_t header_length(const uint8_t* prefix, uint64_t file_size, const std::string& path) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(prefix[i]) << (8 * i);
  if (n > file_size - 8) fail("{}: header length {} is impossible for a file of {} bytes", path, n, file_size);
  if (n > kMaxSafetensorsHeader)
    fail("{}: header of {} bytes is larger than the limit of {}", path, n, kMaxSafetensorsHeader);
  return n;
}

Layout parse_layout(const std::string& text, uint64_t buffer, const std::string& path) {
  if (text.empty() || text[0] != '{') fail("{}: header does not start with '{{'", path);
  check_json_limits(text, {kMaxSafetensorsHeader, kMaxSafetensorsHeaderDepth}, path + ": header");

  // nlohmann keeps the last of duplicate keys; the callback sees them all.
  std::string duplicate;
  std::set<std::string> keys;
  auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& value) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && !keys.insert(value.get<std::string>()).second)
      duplicate = value.get<std::string>();
    return true;
  };
  nlohmann::json header = nlohmann::json::parse(text, on_event, /*allow_exceptions=*/false);
  if (header.is_discarded()) fail("{}: header is not valid JSON", path);
  if (!header.is_object()) fail("{}: header is not a JSON object", path);
  if (!duplicate.empty()) fail("{}: header names '{}' twice", path, duplicate);

  Layout out;
  for (const auto& [name, info] : header.items()) {
    if (name == kMetadataKey) {
      if (!info.is_object()) fail("{}: __metadata__ is not an object", path);
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) fail("{}: metadata '{}' is not a string", path, key);
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    if (!info.is_object()) fail("{}: tensor '{}' is not described by an object", path, name);
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!info.contains(field)) fail("{}: tensor '{}' has no {}", path, name, field);
    Entry e;
    e.record.name = name;
    if (!info["dtype"].is_string()) fail("{}: tensor '{}' dtype is not a string", path, name);
    e.record.dtype = info["dtype"].get<std::string>();
    size_t elem = dtype_size(e.record.dtype);
    if (elem == 0) fail("{}: tensor '{}' has unknown dtype '{}'", path, name, e.record.dtype);
    const auto& shape = info["shape"];
    if (!shape.is_array()) fail("{}: tensor '{}' shape is not an array", path, name);
    for (const auto& d : shape) {
      if (!d.is_number_integer()) fail("{}: tensor '{}' shape has a non-integer entry", path, name);
      if (d.is_number_unsigned() ? d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) : d.get<int64_t>() < 0)
        fail("{}: tensor '{}' shape has an entry out of range ({})", path, name, d.dump());
      e.record.shape.push_back(d.get<int64_t>());
    }
    const auto& offsets = info["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      fail("{}: tensor '{}' data_offsets is not a pair of non-negative integers", path, name);
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.end < e.begin) fail("{}: tensor '{}' data_offsets [{}, {}] end before they begin", path, name, e.begin, e.end);
    if (e.end > buffer)
      fail("{}: tensor '{}' data_offsets [{}, {}] lie outside the {}-byte data buffer", path, name, e.begin, e.end, buffer);
    uint64_t bytes = 0;
    if (!byte_length(e.record.shape, elem, bytes) || bytes != e.end - e.begin)
      fail("{}: tensor '{}' ({} {}) spans {} bytes, which does not match its shape", path, name, e.record.dtype,
           shape_text(e.record.shape), e.end - e.begin);
    out.entries.push_back(std::move(e));
  }

  // The tensors must tile the buffer exactly.
  std::stable_sort(out.entries.begin(), out.entries.end(),
                   [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t pos = 0;
  for (const Entry& e : out.entries) {
    if (e.begin < pos) fail("{}: tensor '{}' overlaps the tensor before it", path, e.record.name);
    if (e.begin > pos) fail("{}: data buffer has a hole at bytes [{}, {})", path, pos, e.begin);
    pos = e.end;
  }
  if (pos != buffer) fail("{}: {} bytes of trailing data after the last tensor", path, buffer - pos);
  return out;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  const uint64_t size = input_file_size(path, "safetensors file");
  if (size < 8) fail("{}: {} bytes is too short for a safetensors file", path, size);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open: {}", path, std::strerror(errno));
  uint8_t prefix[8];
  f.read(reinterpret_cast<char*>(prefix), 8);
  const uint64_t n = header_length(prefix, size, path);
  std::string text(n, '\0');
  f.read(text.data(), static_cast<std::streamsize>(n));
  if (!f) fail("{}: cannot read the header", path);
  Layout layout = parse_layout(text, size - 8 - n, path);

  SafetensorsFile out;
  out.metadata = std::move(layout.metadata);
  for (Entry& e : layout.entries) {
    e.record.data.resize(e.end - e.begin);
    f.seekg(static_cast<std::streamoff>(8 + n + e.begin));
    f.read(reinterpret_cast<char*>(e.record.data.data()), static_cast<std::streamsize>(e.record.data.size()));
    if (!f) fail("{}: cannot read tensor '{}'", path, e.record.name);
    out.tensors.push_back(std::move(e.record));
  }
  return out;
}

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name) {
  if (size < 8) fail("{}: {} bytes is too short for a safetensors file", name, size);
  const uint64_t n = header_length(data, size, name);
  Layout layout = parse_layout(std::string(reinterpret_cast<const char*>(data) + 8, n), size - 8 - n, name);
  SafetensorsFile out;
  out.metadata = std::move(layout.metadata);
  const uint8_t* buffer = data + 8 + n;
  for (Entry& e : layout.entries) {
    e.record.data.assign(buffer + e.begin, buffer + e.end);
    out.tensors.push_back(std::move(e.record));
  }
  return out;
}

uint64_t content_checksum(const SafetensorsFile& file, const std::string& skip_key) {
  Fnv1a64 h;
  auto field = [&](const void* p, size_t n) {
    const uint64_t len = n;
    h.update(&len, sizeof len);
    h.update(p, n);
  };
  for (const auto& [key, value] : file.metadata) {
    if (key == skip_key) continue;
    field(key.data(), key.size());
    field(value.data(), value.size());
  }
  for (const TensorRecord& t : file.tensors) {
    field(t.name.data(), t.name.size());
    field(t.dtype.data(), t.dtype.size());
    field(t.shape.data(), t.shape.size() * sizeof(int64_t));
    field(t.data.data(), t.data.size());
  }
  return h.value();
}

}  // namespace mg::io
