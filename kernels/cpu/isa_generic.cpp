// The fast CPU kernels compiled for SSE2, the x86-64 baseline.
// It runs on every x86-64 CPU: the fallback when CPUID reports no AVX2.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"

namespace mg::cpu::isa_generic {
#include "kernels/cpu/simd.inl"
#include "kernels/cpu/simd_kernels.inl"
}  // namespace mg::cpu::isa_generic

namespace mg::cpu {

const CpuKernels& generic_kernels() {
  namespace k = isa_generic;
  static const CpuKernels table{Isa::Generic, k::kMR, k::kNR, k::blocking, k::sgemm, k::lstm_forward, k::lstm_backward,
                                k::lstm_cell_forward, k::lstm_cell_backward};
  return table;
}

}  // namespace mg::cpu
