// CPU GEMM: the reference triple loop (oracle) and a cache-blocked, packed
// version with a register-tiled micro-kernel (the one training uses).
//
// Blocking follows the classic Goto/BLIS scheme: C is updated by KC-deep rank
// updates; each B block (KC x NC) is packed into NR-wide column panels and
// each A block (MC x KC) into MR-tall row panels, so the micro-kernel streams
// both operands linearly from L1/L2 while MR x NR accumulators stay in registers.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_backend.h"

namespace mg::cpu {

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
          double av = g.trans_a ? A[p * g.lda + i] : A[i * g.lda + p];
          double bv = g.trans_b ? B[j * g.ldb + p] : B[p * g.ldb + j];
          acc += av * bv;
        }
        double prev = g.beta == 0.0 ? 0.0 : g.beta * C[i * g.ldc + j];
        C[i * g.ldc + j] = static_cast<T>(g.alpha * acc + prev);
      }
    }
  }
}

void gemm_reference(const GemmArgs& g) {
  dispatch_float(g.dtype, [&]<typename T>() { gemm_reference_typed<T>(g); });
}

namespace {

// Register tile: MR rows x (2 vectors of W lanes), 12 vector accumulators.
// The vector is 512 bits where AVX-512 is available, else 256 bits; the
// compiler maps the GCC vector type to the widest matching registers.
#if defined(__AVX512F__)
constexpr int64_t kVectorBytes = 64;
#else
constexpr int64_t kVectorBytes = 32;
#endif
constexpr int64_t kMR = 6;
constexpr int64_t kMC = 96;   // multiple of kMR
constexpr int64_t kKC = 256;
constexpr int64_t kNC = 2048;

template <typename T>
struct Tile {
  static constexpr int64_t W = kVectorBytes / sizeof(T);
  static constexpr int64_t NR = 2 * W;
  typedef T Vec __attribute__((vector_size(kVectorBytes)));
};

// acc[MR x NR] = sum_p a[p, 0..MR) (outer) b[p, 0..NR).
template <typename T>
inline void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, T* __restrict out) {
  using V = typename Tile<T>::Vec;
  constexpr int64_t W = Tile<T>::W, NR = Tile<T>::NR;
  V c[kMR][2];
  for (int64_t r = 0; r < kMR; ++r) c[r][0] = c[r][1] = V{};
  for (int64_t p = 0; p < kc; ++p) {
    V b0, b1;
    std::memcpy(&b0, b + p * NR, sizeof(V));
    std::memcpy(&b1, b + p * NR + W, sizeof(V));
    const T* ap = a + p * kMR;
    for (int64_t r = 0; r < kMR; ++r) {
      c[r][0] += ap[r] * b0;
      c[r][1] += ap[r] * b1;
    }
  }
  for (int64_t r = 0; r < kMR; ++r) {
    std::memcpy(out + r * NR, &c[r][0], sizeof(V));
    std::memcpy(out + r * NR + W, &c[r][1], sizeof(V));
  }
}

template <typename T>
struct Operand {
  const T* p;
  int64_t ld;
  bool trans;
  // Element (row, col) of op(X).
  T at(int64_t r, int64_t c) const { return trans ? p[c * ld + r] : p[r * ld + c]; }
};

// Packs op(A)[i0.., p0..] (mc x kc) into MR-row panels, zero-padding the tail.
template <typename T>
void pack_a(const Operand<T>& A, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* dst) {
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int64_t rows = std::min(kMR, mc - ir);
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t r = 0; r < kMR; ++r) *dst++ = r < rows ? A.at(i0 + ir + r, p0 + p) : T(0);
  }
}

// Packs op(B)[p0.., j0..] (kc x nc) into NR-column panels, zero-padding the tail.
template <typename T>
void pack_b(const Operand<T>& B, int64_t p0, int64_t kc, int64_t j0, int64_t nc, T* dst) {
  constexpr int64_t NR = Tile<T>::NR;
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t cols = std::min(NR, nc - jr);
    for (int64_t p = 0; p < kc; ++p) {
      if (!B.trans && cols == NR) {
        std::memcpy(dst, B.p + (p0 + p) * B.ld + j0 + jr, NR * sizeof(T));
        dst += NR;
      } else {
        for (int64_t c = 0; c < NR; ++c) *dst++ = c < cols ? B.at(p0 + p, j0 + jr + c) : T(0);
      }
    }
  }
}

template <typename T>
void gemm_blocked(const GemmArgs& g) {
  constexpr int64_t NR = Tile<T>::NR;
  const int64_t m = g.m, n = g.n, k = g.k;
  const int64_t nc_max = std::min(kNC, (n + NR - 1) / NR * NR);
  // Packing buffers persist per thread: allocating (and zeroing) them per call
  // costs more than the multiply for the small GEMMs of an LSTM step.
  static thread_local std::vector<T> bpack;
  if (bpack.size() < static_cast<size_t>(kKC * nc_max)) bpack.resize(static_cast<size_t>(kKC * nc_max));
  T* const bshared = bpack.data();  // the caller's buffer, shared by the team below

  for (int64_t bi = 0; bi < g.batch; ++bi) {
    Operand<T> A{static_cast<const T*>(g.a) + bi * g.stride_a, g.lda, g.trans_a};
    Operand<T> B{static_cast<const T*>(g.b) + bi * g.stride_b, g.ldb, g.trans_b};
    T* C = static_cast<T*>(g.c) + bi * g.stride_c;

    // C = beta C first, so every KC slice below can simply accumulate.
    for (int64_t i = 0; i < m; ++i) {
      T* row = C + i * g.ldc;
      if (g.beta == 0.0) std::fill_n(row, n, T(0));
      else if (g.beta != 1.0) for (int64_t j = 0; j < n; ++j) row[j] = static_cast<T>(g.beta * row[j]);
    }
    if (k == 0 || g.alpha == 0.0) continue;

    for (int64_t j0 = 0; j0 < n; j0 += kNC) {
      const int64_t nc = std::min(kNC, n - j0);
      for (int64_t p0 = 0; p0 < k; p0 += kKC) {
        const int64_t kc = std::min(kKC, k - p0);
        pack_b(B, p0, kc, j0, nc, bshared);
        const int64_t mblocks = (m + kMC - 1) / kMC;
        const int64_t npanels = (nc + NR - 1) / NR;
        // Parallel over (row block, column panel group) so that skinny
        // problems (few rows) still keep both cores busy.
        const int64_t ngroups = std::max<int64_t>(1, std::min<int64_t>(npanels, 8));
        const int64_t panels_per_group = (npanels + ngroups - 1) / ngroups;
#pragma omp parallel if (m * nc * kc > (1 << 18))
        {
          static thread_local std::vector<T> apack;
          if (apack.size() < static_cast<size_t>(kMC * kKC)) apack.resize(static_cast<size_t>(kMC * kKC));
          alignas(64) T tile[kMR * NR];
#pragma omp for collapse(2) schedule(static)
          for (int64_t mb = 0; mb < mblocks; ++mb) {
            for (int64_t grp = 0; grp < ngroups; ++grp) {
              const int64_t i0 = mb * kMC, mc = std::min(kMC, m - i0);
              pack_a(A, i0, mc, p0, kc, apack.data());
              const int64_t pan_end = std::min(npanels, (grp + 1) * panels_per_group);
              for (int64_t pan = grp * panels_per_group; pan < pan_end; ++pan) {
                const int64_t jr = pan * NR, cols = std::min(NR, nc - jr);
                const T* bp = bshared + pan * NR * kc;
                for (int64_t ir = 0; ir < mc; ir += kMR) {
                  const int64_t rows = std::min(kMR, mc - ir);
                  micro_kernel<T>(kc, apack.data() + ir * kc, bp, tile);
                  for (int64_t r = 0; r < rows; ++r) {
                    T* crow = C + (i0 + ir + r) * g.ldc + j0 + jr;
                    const T* trow = tile + r * NR;
                    const T alpha = static_cast<T>(g.alpha);
                    for (int64_t c = 0; c < cols; ++c) crow[c] += alpha * trow[c];
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace

void CpuBackend::gemm(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  // Tiny products: packing would cost more than it saves.
  if (g.m * g.n * g.k < 4096) {
    gemm_reference(g);
    return;
  }
  dispatch_float(g.dtype, [&]<typename T>() { gemm_blocked<T>(g); });
}

}  // namespace mg::cpu
