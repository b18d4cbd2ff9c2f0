// GEMM through cuBLAS. The engine's GemmArgs are row-major; cuBLAS is
// column-major. A row-major matrix read column-major is its transpose, so
// row-major C = op(A) op(B) is computed as column-major Cᵀ = op(B)ᵀ op(A)ᵀ:
// swap the operands and keep each one's transpose flag.
#include "kernels/cuda/cuda_backend.h"

namespace mg::cuda {

void CudaBackend::gemm(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  const cublasOperation_t opa = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = static_cast<int>(g.m), n = static_cast<int>(g.n), k = static_cast<int>(g.k);
  const int lda = static_cast<int>(g.lda), ldb = static_cast<int>(g.ldb), ldc = static_cast<int>(g.ldc);
  const int batch = static_cast<int>(g.batch);
  if (g.dtype == DType::F32) {
    const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    MG_CUBLAS_CHECK(cublasSgemmStridedBatched(cublas_, opb, opa, n, m, k, &alpha, static_cast<const float*>(g.b), ldb,
                                              g.stride_b, static_cast<const float*>(g.a), lda, g.stride_a, &beta,
                                              static_cast<float*>(g.c), ldc, g.stride_c, batch));
  } else if (g.dtype == DType::F64) {
    MG_CUBLAS_CHECK(cublasDgemmStridedBatched(cublas_, opb, opa, n, m, k, &g.alpha, static_cast<const double*>(g.b),
                                              ldb, g.stride_b, static_cast<const double*>(g.a), lda, g.stride_a,
                                              &g.beta, static_cast<double*>(g.c), ldc, g.stride_c, batch));
  } else {
    fail("gemm: expected float32 or float64");
  }
}

}  // namespace mg::cuda
