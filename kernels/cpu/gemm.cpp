// CPU GEMM: the reference triple loop, the oracle every fast GEMM (the
// packed, register-tiled kernels of kernels/cpu/simd_kernels.inl, cuBLAS) is
// tested against, and the backend entry that picks the fast one.
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/isa.h"

namespace mg::cpu {

// Where column c of a stored matrix lies within its row (GemmArgs' column segments).
static int64_t column(int64_t c, int64_t seg, int64_t seg_stride) { return seg == 0 ? c : c / seg * seg_stride + c % seg; }

template <typename T>
static void gemm_reference_typed(const GemmArgs& g) {
  for (int64_t bi = 0; bi < g.batch; ++bi) {
    const T* A = static_cast<const T*>(g.a) + bi * g.stride_a;
    const T* B = static_cast<const T*>(g.b) + bi * g.stride_b;
    T* C = static_cast<T*>(g.c) + bi * g.stride_c;
    for (int64_t i = 0; i < g.m; ++i) {
      for (int64_t j = 0; j < g.n; ++j) {
        double acc = 0.0;
        for (int64_t p = 0; p < g.k; ++p) {
          double av = g.trans_a ? A[p * g.lda + i] : A[i * g.lda + column(p, g.seg_a, g.seg_stride_a)];
          double bv = g.trans_b ? B[j * g.ldb + p] : B[p * g.ldb + column(j, g.seg_b, g.seg_stride_b)];
          acc += av * bv;
        }
        T& out = C[i * g.ldc + column(j, g.seg_c, g.seg_stride_c)];
        double prev = g.beta == 0.0 ? 0.0 : g.beta * out;
        out = static_cast<T>(g.alpha * acc + prev);
      }
    }
  }
}

void gemm_reference(const GemmArgs& g) {
  dispatch_float(g.dtype, [&]<typename T>() { gemm_reference_typed<T>(g); });
}

void CpuBackend::gemm(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  MG_CHECK((g.seg_a == 0 || !g.trans_a) && (g.seg_b == 0 || !g.trans_b),
           "gemm: column segments apply to non-transposed operands only");
  count_flops(2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k) *
              static_cast<double>(g.batch));
  // float32 through the packed, register-tiled kernels of this CPU's
  // instruction set (bf16 products when asked); float64 (gradient checks,
  // tests) through the reference.
  if (g.dtype != DType::F32) return gemm_reference(g);
  if (matmul_precision() == MatmulPrecision::Bf16) return bf16_kernels()->sgemm(g);
  kernels().sgemm(g);
}

}  // namespace mg::cpu
