// The fast CPU kernels compiled for SSE2, the x86-64 baseline.
// It runs on every x86-64 CPU: the fallback when CPUID reports no AVX2.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"

namespace mg::cpu::isa_generic {
#include "kernels/cpu/simd.inl"
#include "kernels/cpu/simd_kernels.inl"
#include "kernels/cpu/simd_elementwise.inl"
}  // namespace mg::cpu::isa_generic

namespace mg::cpu {

const CpuKernels& generic_kernels() {
  namespace k = isa_generic;
  static const CpuKernels table{.isa = Isa::Generic,
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
