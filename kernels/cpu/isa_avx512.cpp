// The fast CPU kernels compiled for AVX-512 (F, DQ, BW, VL) with FMA.
// Standard and intrinsic headers come first, outside the target region, so
// that only this file's own kernels use the wider instructions.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"

// GCC 12's avx512fintrin.h seeds some intrinsics with deliberately undefined
// registers (_mm512_undefined_ps), which -Wuninitialized reports.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// GCC's target pragma; clang's equivalent is a target attribute on every function of the region.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi2"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi2")
#endif
#define MG_ISA_AVX512 1
namespace mg::cpu::isa_avx512 {
#include "kernels/cpu/simd.inl"
#include "kernels/cpu/simd_kernels.inl"
}  // namespace mg::cpu::isa_avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#pragma GCC diagnostic pop

namespace mg::cpu {

const CpuKernels& avx512_kernels() {
  namespace k = isa_avx512;
  static const CpuKernels table{Isa::Avx512, k::kMR, k::kNR, k::blocking, k::sgemm, k::lstm_forward, k::lstm_backward,
                                k::lstm_cell_forward, k::lstm_cell_backward};
  return table;
}

}  // namespace mg::cpu
