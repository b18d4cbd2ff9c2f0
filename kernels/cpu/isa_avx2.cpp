// The fast CPU kernels compiled for AVX2 with FMA.
// Standard and intrinsic headers come first, outside the target region, so
// that only this file's own kernels use the wider instructions.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
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
#include "kernels/cpu/simd_elementwise.inl"
}  // namespace mg::cpu::isa_avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace mg::cpu {

const CpuKernels& avx2_kernels() {
  namespace k = isa_avx2;
  static const CpuKernels table{.isa = Isa::Avx2,
                                .mr = k::kMR,
                                .nr = k::kNR,
                                .blocking = k::blocking<k::F32>,
                                .sgemm = k::sgemm,
                                .lstm_forward = k::lstm_forward,
                                .lstm_backward = k::lstm_backward,
                                .lstm_cell_forward = k::lstm_cell_forward,
                                .lstm_cell_backward = k::lstm_cell_backward,
                                .unary = k::unary_f32,
                                .unary_backward = k::unary_backward_f32,
                                .binary_row = k::binary_row_f32,
                                .adam = k::adam_f32,
                                .adamax = k::adamax_f32,
                                .random_uniform = k::random_uniform_f32};
  return table;
}

}  // namespace mg::cpu
