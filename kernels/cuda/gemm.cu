// GEMM through cuBLAS: C [m, n] = alpha op(A) [m, k] op(B) [k, n] + beta C,
// over `batch` items with batch strides (0 = the same matrix for every item).
//
// The engine's GemmArgs are row-major; cuBLAS is column-major. A row-major
// matrix read column-major is its transpose, so row-major C = op(A) op(B) is
// computed as column-major Cᵀ = op(B)ᵀ op(A)ᵀ: swap the operands (and m with
// n) and keep each one's transpose flag and leading dimension.
#include <climits>

#include "kernels/cuda/launch.h"

namespace mg::cuda {

namespace {

// C = beta C for k = 0 (an empty product): BLAS leaves this case to the
// implementation's reading of "alpha A B", so it is done here explicitly.
template <typename T>
__global__ void scale_matrices_kernel(T* c, int64_t m, int64_t n, int64_t ldc, int64_t stride_c, int64_t batch,
                                      T beta) {
  const int64_t i = global_index();
  if (i >= batch * m * n) return;
  const int64_t b = i / (m * n), r = (i / n) % m, col = i % n;
  T& v = c[b * stride_c + r * ldc + col];
  v = beta == T(0) ? T(0) : beta * v;  // beta = 0 overwrites, even NaN, as in the reference
}

int as_int(int64_t v, const char* what) {
  MG_CHECK(v >= 0 && v <= INT_MAX, "gemm: {} = {} is outside cuBLAS's 32-bit range", what, v);
  return static_cast<int>(v);
}

// cuBLAS checks ld >= the stored matrix's row length even when the matrix has
// a single row, where a row stride means nothing and views may carry any value.
int64_t leading_dim(int64_t ld, int64_t rows, int64_t cols) { return rows == 1 ? std::max(ld, cols) : ld; }

}  // namespace

void CudaBackend::gemm(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  MG_CHECK(g.batch == 1 || g.stride_c != 0, "gemm: batched output with stride 0 would race");
  MG_CHECK(g.seg_a == 0 && g.seg_b == 0 && g.seg_c == 0, "gemm: column segments are a CPU layout");
  if (g.k == 0) {
    detail::dispatch_float(g.dtype, [&](auto tag) {
      using T = decltype(tag);
      scale_matrices_kernel<<<blocks_for(g.batch * g.m * g.n), kThreads>>>(
          static_cast<T*>(g.c), g.m, g.n, g.ldc, g.stride_c, g.batch, static_cast<T>(g.beta));
    });
    MG_CUDA_LAUNCHED();
    return;
  }
  const cublasOperation_t opa = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = as_int(g.m, "m"), n = as_int(g.n, "n"), k = as_int(g.k, "k"), batch = as_int(g.batch, "batch");
  // Stored (row-major) shapes: A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k].
  const int lda = as_int(g.trans_a ? leading_dim(g.lda, g.k, g.m) : leading_dim(g.lda, g.m, g.k), "lda");
  const int ldb = as_int(g.trans_b ? leading_dim(g.ldb, g.n, g.k) : leading_dim(g.ldb, g.k, g.n), "ldb");
  const int ldc = as_int(leading_dim(g.ldc, g.m, g.n), "ldc");
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
    fail("gemm: expected float32 or float64, got {}", dtype_name(g.dtype));
  }
}

}  // namespace mg::cuda
