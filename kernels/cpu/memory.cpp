// CPU memory: small tensors from the C heap, large ones from a cache of
// mapped blocks.
//
// A training step frees and allocates the same large activations every
// iteration. Fresh pages from the kernel arrive zero-filled (a memset of every
// activation, every step), and a heap that keeps them instead fragments as
// sizes interleave (its resident size grows well past the live tensors).
// So blocks from 1 MiB up are mapped once, and a freed block waits for the
// next request it fits (at most twice its size, so little is wasted).
#include <sys/mman.h>

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kernels/cpu/cpu_backend.h"

namespace mg::cpu {

namespace {

constexpr size_t kLargeBlock = size_t{1} << 20;
constexpr size_t kGranule = size_t{64} << 10;  // cached sizes are rounded up to 64 KiB

class BlockCache {
 public:
  ~BlockCache() {
    for (auto& [bytes, p] : free_) munmap(p, bytes);
  }

  // A block of at least `bytes`: the smallest cached one up to twice that
  // size, else a fresh mapping. Null when the system has no memory left.
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    void* p = nullptr;
    size_t size = bytes;
    auto it = free_.lower_bound(bytes);
    if (it != free_.end() && it->first <= 2 * bytes) {
      p = it->second;
      size = it->first;
      free_.erase(it);
    } else {
      p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return nullptr;
    }
    in_use_[p] = size;
    return p;
  }

  void give(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_use_.find(p);
    free_.emplace(it->second, p);
    in_use_.erase(it);
  }

 private:
  std::mutex mu_;
  std::multimap<size_t, void*> free_;        // cached: size -> block
  std::unordered_map<void*, size_t> in_use_;  // handed out: block -> size
};

BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache;  // never destroyed: tensors may outlive static destructors
  return *cache;
}

size_t granule_size(size_t bytes) { return (bytes + kGranule - 1) / kGranule * kGranule; }

}  // namespace

CpuBackend::CpuBackend() {
  // Heap requests stay in the heap (the large ones never reach it), and the
  // heap keeps what a step frees for the next step: trimmed back to the
  // system at every free of its top, its pages would come back zero-filled,
  // a page fault each (thousands per step of the jazz VAE).
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kLargeBlock));
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

void* CpuBackend::allocate(size_t bytes) {
  void* p = nullptr;
  if (bytes >= kLargeBlock) {
    p = block_cache().take(granule_size(bytes));
  } else {
    // 64-byte alignment suits AVX-512 loads and keeps rows off shared cache lines.
    p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  }
  if (!p) fail("out of host memory allocating {} bytes", bytes);
  count_allocation(static_cast<int64_t>(bytes));
  return p;
}

void CpuBackend::deallocate(void* ptr, size_t bytes) {
  if (bytes >= kLargeBlock) block_cache().give(ptr);
  else std::free(ptr);
  count_allocation(-static_cast<int64_t>(bytes));
}

void CpuBackend::copy_from_host(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::copy_to_host(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }

}  // namespace mg::cpu

namespace mg {
Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}
}  // namespace mg
