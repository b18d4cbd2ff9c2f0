#pragma once
// The safetensors checkpoint format (https://github.com/huggingface/safetensors):
//   8 bytes   little-endian u64 N, the header length
//   N bytes   JSON object: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//             "__metadata__": {"key": "string value", ...}}, padded with spaces
//   rest      the data buffer; offsets are relative to its start, the tensors
//             cover it exactly (no holes, no overlap), raw little-endian values
// Plain bytes in, plain bytes out: models/ turns records into tensors.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mg::io {

struct TensorRecord {
  std::string name;
  std::string dtype;  // "F32", "F64", "I64", or another safetensors dtype (BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, U64)
  std::vector<int64_t> shape;  // empty for a scalar (one element)
  std::vector<uint8_t> data;   // product(shape) * dtype_size(dtype) bytes, little-endian
};

struct SafetensorsFile {
  std::vector<TensorRecord> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__"; values are strings only
};

// Bytes per element of a safetensors dtype; 0 when the name is unknown.
size_t dtype_size(const std::string& dtype);

// Writes atomically; tensors are laid out in the given order, the header is
// padded with spaces so the data starts at a multiple of 8. Errors (duplicate or
// reserved names, unknown dtype, data size not matching the shape) name the file.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

// Largest header read_safetensors accepts (the reference implementation allows
// 100 MB; musicgen's own headers are a few hundred kilobytes), and the deepest
// JSON nesting in it (a valid header nests 3 levels).
inline constexpr uint64_t kMaxSafetensorsHeader = 16'000'000;
inline constexpr int kMaxSafetensorsHeaderDepth = 8;

// Reads and validates the whole file; tensors come back in data-buffer order.
// Any malformed input (not a regular file, short file, absurd header length,
// header too large or too deeply nested, bad JSON, missing or invalid fields,
// offsets out of range, overlap, holes, trailing bytes, non-string metadata)
// is an mg::Error naming the file; allocations never exceed the file's size.
SafetensorsFile read_safetensors(const std::string& path);

// The same from bytes in memory; name_for_errors starts every error message.
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name_for_errors);

// A 64-bit FNV-1a checksum of everything a file holds: each metadata entry
// except `skip_key` (where a writer stores the checksum itself), then each
// tensor's name, dtype, shape and bytes in order, every field length-prefixed.
// Equal for a file as written and as read back; any change to a covered byte
// changes it with probability 1 - 2^-64.
uint64_t content_checksum(const SafetensorsFile& file, const std::string& skip_key);

}  // namespace mg::io
