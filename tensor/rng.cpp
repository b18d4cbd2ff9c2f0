#include "tensor/rng.h"

namespace mg {

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(uint64_t seed) { default_generator() = Generator{seed, 0}; }

BatchRows& batch_rows() {
  static BatchRows rows;
  return rows;
}

uint64_t draw_offset(int64_t numel, int64_t first) {
  const BatchRows& b = batch_rows();
  if (!b.sharded() || first != b.end - b.begin || numel == 0)
    return default_generator().advance(static_cast<uint64_t>(numel));
  const uint64_t row = static_cast<uint64_t>(numel / first);
  return default_generator().advance(row * static_cast<uint64_t>(b.rows)) + row * static_cast<uint64_t>(b.begin);
}

}  // namespace mg
