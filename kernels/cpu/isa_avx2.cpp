// The fast CPU kernels compiled for AVX2 with FMA.
// Standard and intrinsic headers come first, outside the target region, so
// that only this file's own kernels use the wider instructions.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"

// GCC's target pragma; clang's equivalent is a target attribute on every function of the region.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi2")
#endif
#define MG_ISA_AVX2 1
namespace mg::cpu::isa_avx2 {
#include "kernels/cpu/simd.inl"
#include "kernels/cpu/simd_kernels.inl"
}  // namespace mg::cpu::isa_avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace mg::cpu {

const CpuKernels& avx2_kernels() {
  namespace k = isa_avx2;
  static const CpuKernels table{Isa::Avx2, k::kMR, k::kNR, k::blocking, k::sgemm, k::lstm_forward, k::lstm_backward,
                                k::lstm_cell_forward, k::lstm_cell_backward};
  return table;
}

}  // namespace mg::cpu
