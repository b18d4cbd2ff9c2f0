#pragma once
// What the CUDA caching allocator exposes to plain C++ (apps, tests): no CUDA
// headers here, so this compiles in any translation unit of a CUDA build.
// Only defined when the engine is built with MUSICGEN_WITH_CUDA.
#include <cstddef>

namespace mg::cuda {

struct MemoryStats {
  size_t device_mallocs = 0;  // cudaMalloc calls since start-up: flat once a training loop is warm
  size_t cached_bytes = 0;    // freed blocks held for reuse
};

MemoryStats memory_stats();
// Returns every cached block to the driver (cudaFree); live tensors are untouched.
void empty_cache();

}  // namespace mg::cuda
