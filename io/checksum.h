#pragma once
// FNV-1a, 64 bits: the plain, well-known checksum every musicgen file uses
// (checkpoints, the dataset caches, the ranks' comparison of their data); it
// catches corruption, not an attack.
#include <cstddef>
#include <cstdint>

namespace mg::io {

inline constexpr uint64_t kFnv1aOffset = 0xcbf29ce484222325ULL;

// The checksum of n bytes, continuing from h (kFnv1aOffset to start).
inline uint64_t fnv1a64(const void* data, size_t n, uint64_t h = kFnv1aOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

}  // namespace mg::io
