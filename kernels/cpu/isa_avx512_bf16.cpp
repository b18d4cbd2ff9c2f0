// The bf16 kernels (MatmulPrecision::Bf16), compiled for AVX-512 with
// AVX512_BF16: the GEMM and LSTM recurrence of simd_kernels.inl over bf16
// pairs. Only a CPU that reports AVX512_BF16 runs them (isa.cpp checks).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512bf16,avx2,fma,bmi2"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx512bf16,avx2,fma,bmi2")
#endif
#define MG_ISA_AVX512 1
#define MG_HAVE_BF16 1
namespace mg::cpu::isa_avx512_bf16 {
#include "kernels/cpu/simd.inl"
#include "kernels/cpu/simd_kernels.inl"
}  // namespace mg::cpu::isa_avx512_bf16
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#pragma GCC diagnostic pop

namespace mg::cpu {

const Bf16Kernels& avx512_bf16_kernels() {
  namespace k = isa_avx512_bf16;
  static const Bf16Kernels table{k::blocking<k::Bf16>, k::sgemm_bf16, k::lstm_forward_bf16, k::lstm_backward_bf16};
  return table;
}

}  // namespace mg::cpu
