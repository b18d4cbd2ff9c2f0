#pragma once
// Counter-based random numbers (Philox-4x32-10, Salmon et al., SC'11).
//
// A draw of n numbers takes the generator's current offset and advances it by
// n; element i of the draw is a pure function of (seed, offset + i). That is
// what lets the CPU and CUDA backends produce bit-identical dropout masks and
// noise, and lets a checkpoint restore the stream with two integers.
#include <array>
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MG_HOST_DEVICE __host__ __device__
#else
#define MG_HOST_DEVICE
#endif

namespace mg {

struct Philox {
  // One Philox-4x32 block: 10 rounds over a 128-bit counter with a 64-bit key.
  static MG_HOST_DEVICE inline void block(uint64_t key, uint64_t counter, uint32_t out[4]) {
    uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
    for (int round = 0; round < 10; ++round) {
      uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
      uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
      uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
      uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
      c0 = hi1 ^ c1 ^ k0;
      c1 = lo1;
      c2 = hi0 ^ c3 ^ k1;
      c3 = lo0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
  }

  // U[0, 1) with 24 random bits (exact in float32).
  static MG_HOST_DEVICE inline double uniform(uint64_t key, uint64_t counter) {
    uint32_t r[4];
    block(key, counter, r);
    return static_cast<double>(r[0] >> 8) * (1.0 / 16777216.0);
  }

  // N(0, 1) by Box-Muller on the first two lanes; u1 in (0, 1] keeps log finite.
  static MG_HOST_DEVICE inline double normal(uint64_t key, uint64_t counter) {
    uint32_t r[4];
    block(key, counter, r);
    double u1 = (static_cast<double>(r[0] >> 8) + 1.0) * (1.0 / 16777216.0);
    double u2 = static_cast<double>(r[1] >> 8) * (1.0 / 16777216.0);
    return ::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586 * u2);
  }
};

// Scaled draws, with the multiply-add fused explicitly so the CPU and CUDA
// backends round them identically whatever the compiler's contraction flags.
struct PhiloxScaled {
  static MG_HOST_DEVICE inline double uniform_in(uint64_t key, uint64_t counter, double lo, double hi) {
    return ::fma(hi - lo, Philox::uniform(key, counter), lo);
  }
  static MG_HOST_DEVICE inline double normal_with(uint64_t key, uint64_t counter, double mean, double std) {
    return ::fma(std, Philox::normal(key, counter), mean);
  }
};

// The stream position: (seed, offset). Copyable, so a checkpoint can store it.
struct Generator {
  uint64_t seed = 0x5eed;
  uint64_t offset = 0;
  // Reserves n counters and returns the first.
  uint64_t advance(uint64_t n) {
    uint64_t start = offset;
    offset += n;
    return start;
  }
};

// The process-wide generator used by rand/randn/dropout.
Generator& default_generator();

// Data-parallel training (models/distributed.h): this process computes rows
// [begin, end) of a global batch of `rows` examples. While that is set, a
// draw from the default generator whose first dimension is end - begin is
// the part of the draw for the whole batch [rows, ...] that those rows
// would take: it starts at offset + begin * row_size and the generator
// advances past the whole batch's draw. So dropout masks and noise do not
// depend on how many processes share the batch; one process (begin 0,
// end rows) draws exactly as without it. Other draws are unchanged.
struct BatchRows {
  int64_t rows = 0, begin = 0, end = 0;
  bool sharded() const { return rows > 0 && end - begin != rows; }
};
BatchRows& batch_rows();
// Counters for a draw of `numel` numbers whose first dimension is `first`:
// the offset of this process's part, after advancing the generator.
uint64_t draw_offset(int64_t numel, int64_t first);
// Resets the default generator to (seed, 0).
void manual_seed(uint64_t seed);

}  // namespace mg
