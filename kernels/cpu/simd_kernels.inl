// The fast CPU kernels, written once over the vector layer (simd.inl) and
// compiled once per instruction set (see isa.h). Included by isa_avx512.cpp,
// isa_avx512_bf16.cpp, isa_avx2.cpp and isa_generic.cpp inside their target
// region and namespace; the reference loops they are tested against are in
// gemm.cpp (gemm_reference) and lstm.cpp (lstm_pointwise_*_reference). The
// LSTM cell's equations are kernels/lstm_cell.inl's, which the reference
// loops and the CUDA kernels use too.
//
// GEMM: C = alpha op(A) op(B) + beta C, the Goto/BLIS way (the five loops
// are in gemm_blocked): operands are packed into panels the micro-kernel
// reads in order, and the micro-kernel keeps an MR x NR tile of C in
// registers: per k step it loads NR/kW vectors of B and broadcasts MR values
// of A, for MR * NR/kW multiply-adds. Every C element is the same sequence
// of operations whichever task or thread computes it, so results never
// depend on the thread count.
//
// Two packed formats share the loops:
//   F32   one float per k step, fused multiply-adds;
//   Bf16  (AVX512_BF16 only) two k steps per 32-bit element: the bf16
//         values of x_k (low half) and x_k+1 (high half), rounded to nearest
//         even when packed. vdpbf16ps multiplies two such pairs and adds both
//         products to a float32 lane: twice the multiply-adds of an FMA per
//         instruction, with float32 sums.
//
// LSTM: one layer's recurrence, fused. W_hh is packed once per call with the
// four gates of each block of NR hidden units side by side, so one pass of the
// micro-kernel yields all gates of an MR x NR block of (row, unit) pairs; the
// gate nonlinearities, the cell update and h are computed on that block while
// it is in L1 (always in float32), and h is written straight into the packed
// layout the next step's GEMM reads. Batch rows never interact, so each task
// owns a band of rows for all T steps: one parallel call per layer and
// direction, no barrier between steps.

// The register tile: MR rows of A broadcast against NV vectors of B. Each k
// step loads NV vectors, broadcasts MR values and issues MR NV FMAs into as
// many accumulators, so the tile needs MR NV + NV + 1 registers; the largest
// MR that fits the register file (one register to spare, which GCC needs to
// avoid spilling) gives the fewest loads per FMA:
//   AVX-512 (32 registers): MR = 14, NV = 2 -> 28 accumulators
//   AVX2    (16 registers): MR =  6, NV = 2 -> 12 accumulators
//   SSE2    (16 registers, no FMA: a product needs a register of its own): MR = 4
// Every core in use keeps at most 8 FMAs in flight per vector width (two
// 512-bit units of latency 4), far below either count; measure_fma_chains
// (cpu_figures.h) measures it and bench_gemm prints it beside the tile.
#if defined(MG_ISA_AVX512)
constexpr int64_t kMR = 14;
#elif defined(MG_ISA_AVX2)
constexpr int64_t kMR = 6;
#else
constexpr int64_t kMR = 4;
#endif
constexpr int64_t kNV = 2;          // vectors per tile row
constexpr int64_t kNR = kNV * kW;   // tile width in floats

// a b + c with one rounding where the instruction set has FMA, as the vector code.
inline float sfma(float a, float b, float c) {
#if defined(MG_HAVE_FMA)
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

// ---------------------------------------------------------------- packed formats

struct F32 {
  using Elem = float;
  static constexpr int64_t kPack = 1;  // k steps per element
  static VReg broadcast(Elem a) { return vset1(a); }
  static VReg load(const Elem* b) { return vload(b); }
  static VReg madd(VReg a, VReg b, VReg acc) { return vfma(a, b, acc); }
};

#if defined(MG_HAVE_BF16)
struct Bf16 {
  using Elem = uint32_t;
  static constexpr int64_t kPack = 2;
  static VReg broadcast(Elem a) { return _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(a))); }
  static VReg load(const Elem* b) { return vload(reinterpret_cast<const float*>(b)); }
  static VReg madd(VReg a, VReg b, VReg acc) { return vdot_bf16(acc, a, b); }
};
#endif

// KC, MC and NC come from this CPU's caches (cpu_figures.h), for each format's
// element size. A benchmark may set others (bench_gemm --sweep) to show how
// the derived ones compare.
template <typename Fmt = F32>
GemmBlocking& blocking() {
  static GemmBlocking b = derive_blocking(cpu_figures(), kMR, kNR, sizeof(typename Fmt::Elem) / Fmt::kPack);
  return b;
}

// ---------------------------------------------------------------- micro-kernel

// C[MR x NR] = alpha Σ_p a[p, 0..MR) ⊗ b[p, 0..NR) + beta C over `steps`
// packed elements of each panel (C is not read when beta == 0).
// kRows < MR computes only the first kRows rows of the tile (the A panel
// keeps its MR stride): the last panel of a block whose rows do not divide
// by MR (256 rows are 18 full panels of 14 and one of 4).
// A function of its own, and C's row addresses are recomputed after the k
// loop: with the loop inlined into its caller, or with the row addresses of
// the prefetch kept live across it, GCC ran out of general registers, parked
// pointers in vector registers and spilled a B vector to the stack,
// re-reading it for half of the FMAs.
template <typename Fmt, int64_t kRows = kMR>
[[gnu::noinline]] void micro_kernel(int64_t steps, const typename Fmt::Elem* __restrict a,
                                    const typename Fmt::Elem* __restrict b, float* __restrict c, int64_t ldc,
                                    float alpha, float beta) {
  // C is read after the k loop: fetch its lines now, while the loop runs.
  if (beta != 0.0f) {
    float* row = c;
    for (int64_t r = 0; r < kRows; ++r, row += ldc) {
      __builtin_prefetch(row, 1);
      __builtin_prefetch(row + kNR - 1, 1);
    }
  }
  VReg acc[kRows][kNV];
#pragma GCC unroll 16
  for (int64_t r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) acc[r][v] = vzero();
  for (int64_t p = 0; p < steps; ++p) {
    VReg bv[kNV];
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) bv[v] = Fmt::load(b + v * kW);
#pragma GCC unroll 16
    for (int64_t r = 0; r < kRows; ++r) {
      const VReg ar = Fmt::broadcast(a[r]);
#pragma GCC unroll 4
      for (int64_t v = 0; v < kNV; ++v) acc[r][v] = Fmt::madd(ar, bv[v], acc[r][v]);
    }
    a += kMR;
    b += kNR;
  }
  asm("" : "+r"(c));  // a fresh C pointer: its row addresses are not the prefetch's
  const VReg va = vset1(alpha), vb = vset1(beta);
  const bool plain = alpha == 1.0f;
#pragma GCC unroll 16
  for (int64_t r = 0; r < kRows; ++r) {
    float* out = c + r * ldc;
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) {
      if (beta == 0.0f) vstore(out + v * kW, plain ? acc[r][v] : vmul(va, acc[r][v]));
      else vstore(out + v * kW, vfma(va, acc[r][v], vmul(vb, vload(out + v * kW))));
    }
  }
}

// Stored row-major matrices: an operand read as op(X), and C. The columns of
// a non-transposed one may come in segments (GemmArgs' seg_*): column c of
// row r at p[r ld + (c / seg) seg_stride + c % seg].
struct Matrix {
  const float* p;
  int64_t ld;
  bool trans;  // element (r, c) of op(X) is stored element (c, r) when trans, else (r, c)
  int64_t seg = 0, seg_stride = 0;
  const float* at(int64_t r, int64_t c) const { return p + r * ld + (seg == 0 ? c : c / seg * seg_stride + c % seg); }
  // How many of the stored columns [c, c + w) lie in c's run (w when all).
  int64_t run(int64_t c, int64_t w) const { return seg == 0 ? w : std::min(w, seg - c % seg); }
  bool contiguous(int64_t c, int64_t w) const { return run(c, w) == w; }
};
struct OutMatrix {
  float* p;
  int64_t ld;
  int64_t seg = 0, seg_stride = 0;
  float* at(int64_t r, int64_t c) const { return p + r * ld + (seg == 0 ? c : c / seg * seg_stride + c % seg); }
  int64_t run(int64_t c, int64_t w) const { return seg == 0 ? w : std::min(w, seg - c % seg); }
  bool contiguous(int64_t c, int64_t w) const { return run(c, w) == w; }
};

// A tile at the edge of C (fewer than MR rows or NR columns, or columns that
// straddle two segments), at C's element (i, j). Up to half a panel of rows
// takes the half-height kernel; what does not fill a whole tile of
// contiguous columns goes through a buffer, with the same two roundings as
// the kernel's own store.
constexpr int64_t kHalfMR = (kMR + 1) / 2;
template <typename Fmt>
void micro_kernel_edge(int64_t steps, const typename Fmt::Elem* a, const typename Fmt::Elem* b, const OutMatrix& C,
                       int64_t i, int64_t j, int64_t rows, int64_t cols, float alpha, float beta) {
  const bool half = rows <= kHalfMR;
  if (cols == kNR && rows == (half ? kHalfMR : kMR) && C.contiguous(j, kNR)) {
    if (half) micro_kernel<Fmt, kHalfMR>(steps, a, b, C.at(i, j), C.ld, alpha, beta);
    else micro_kernel<Fmt>(steps, a, b, C.at(i, j), C.ld, alpha, beta);
    return;
  }
  alignas(64) float tile[kMR * kNR];
  if (half) micro_kernel<Fmt, kHalfMR>(steps, a, b, tile, kNR, 1.0f, 0.0f);
  else micro_kernel<Fmt>(steps, a, b, tile, kNR, 1.0f, 0.0f);
  // Column runs of C (one, or two where the tile straddles a segment).
  for (int64_t c0 = 0; c0 < cols;) {
    const int64_t n = C.run(j + c0, cols - c0);
    for (int64_t r = 0; r < rows; ++r) {
      const float* t = tile + r * kNR + c0;
      float* out = C.at(i + r, j + c0);
      if (beta == 0.0f)
        for (int64_t c = 0; c < n; ++c) out[c] = alpha == 1.0f ? t[c] : alpha * t[c];
      else
        for (int64_t c = 0; c < n; ++c) out[c] = sfma(alpha, t[c], beta * out[c]);
    }
    c0 += n;
  }
}

// ---------------------------------------------------------------- packing

// dst[p * dst_ld + r] = element (r, p) for r < store and p < cols: a
// transpose in kW x kW register blocks. row(r, p, w) returns elements p ..
// p+w of row r (w <= kW, zero past w) for r < rows; rows in [rows, store)
// are zero. The elements are floats or 32-bit bf16 pairs: only their bits move.
template <typename Row, typename Elem>
inline void transpose_block(Row&& row, int64_t rows, int64_t cols, Elem* dst, int64_t dst_ld, int64_t store) {
  static_assert(sizeof(Elem) == sizeof(float));
  float* out = reinterpret_cast<float*>(dst);
  for (int64_t g = 0; g * kW < store; ++g) {
    const int64_t r0 = g * kW, live = std::clamp<int64_t>(rows - r0, 0, kW);
    const int64_t n = std::min<int64_t>(kW, store - r0);
    for (int64_t p = 0; p < cols; p += kW) {
      const int64_t w = std::min<int64_t>(kW, cols - p);
      // Constant indices throughout (unrolled), so the block stays in registers.
      VReg r[kW];
#pragma GCC unroll 16
      for (int64_t i = 0; i < kW; ++i) r[i] = i < live ? row(r0 + i, p, w) : vzero();
      vtranspose(r);
#pragma GCC unroll 16
      for (int64_t q = 0; q < kW; ++q) {
        if (q >= w) break;
        if (n == kW) vstore(out + (p + q) * dst_ld + r0, r[q]);
        else vstore_first(out + (p + q) * dst_ld + r0, r[q], n);
      }
    }
  }
}

// w (<= kW) stored columns of row r from column c, zero past w; gathered
// when they straddle two segments.
inline VReg load_columns(const Matrix& X, int64_t r, int64_t c, int64_t w) {
  if (X.contiguous(c, w)) {
    const float* s = X.at(r, c);
    return w == kW ? vload(s) : vload_first(s, w);
  }
  alignas(64) float lane[kW] = {};
  for (int64_t q = 0; q < w;) {
    const int64_t run = X.run(c + q, w - q);
    std::copy_n(X.at(r, c + q), run, lane + q);
    q += run;
  }
  return vload(lane);
}

// Row loaders for transpose_block over the stored matrix from (r0, c0): w
// floats of a row, or w bf16 pairs of consecutive floats of a row (of which
// `avail` are there: an odd k ends in a pair whose high half is zero).
inline auto matrix_rows(const Matrix& X, int64_t r0, int64_t c0) {
  return [=](int64_t r, int64_t p, int64_t w) { return load_columns(X, r0 + r, c0 + p, w); };
}
#if defined(MG_HAVE_BF16)
inline auto matrix_pair_rows(const Matrix& X, int64_t r0, int64_t c0, int64_t avail) {
  return [=](int64_t r, int64_t p, int64_t w) {
    const int64_t n = std::min(2 * w, avail - 2 * p), c = c0 + 2 * p;
    if (X.contiguous(c, n)) return vbf16_pairs_along(X.at(r0 + r, c), n);
    alignas(64) float values[2 * kW];
    for (int64_t q = 0; q < n;) {
      const int64_t run = X.run(c + q, n - q);
      std::copy_n(X.at(r0 + r, c + q), run, values + q);
      q += run;
    }
    return vbf16_pairs_along(values, n);
  };
}
// The stored columns [c, c + n) of row r (n <= kW) as a pointer: the row
// itself when contiguous, else gathered into `buf`.
inline const float* columns_of(const Matrix& X, int64_t r, int64_t c, int64_t n, float* buf) {
  if (X.contiguous(c, n)) return X.at(r, c);
  for (int64_t q = 0; q < n;) {
    const int64_t run = X.run(c + q, n - q);
    std::copy_n(X.at(r, c + q), run, buf + q);
    q += run;
  }
  return buf;
}
#endif

// op(A)[i0 .. i0+rows, p0 .. p0+kc] -> one MR-row panel: dst[p][r] (per packed
// element p), zero rows past `rows`.
template <typename Fmt>
void pack_a_panel(const Matrix& A, int64_t i0, int64_t rows, int64_t p0, int64_t kc, typename Fmt::Elem* dst) {
  if constexpr (Fmt::kPack == 1) {
    if (!A.trans) return transpose_block(matrix_rows(A, i0, p0), rows, kc, dst, kMR, kMR);
    // Stored [k, m]: row p of the panel is contiguous, a vector or two.
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = A.p + (p0 + p) * A.ld + i0;
      float* d = dst + p * kMR;
#pragma GCC unroll 4
      for (int64_t r = 0; r < kMR; r += kW) {
        const int64_t n = std::min<int64_t>(kW, kMR - r), live = std::clamp<int64_t>(rows - r, 0, n);
        const VReg v = live == kW ? vload(src + r) : vload_first(src + r, live);
        if (n == kW) vstore(d + r, v);
        else vstore_first(d + r, v, n);
      }
    }
  } else {
#if defined(MG_HAVE_BF16)
    const int64_t pairs = (kc + 1) / 2;
    if (!A.trans) return transpose_block(matrix_pair_rows(A, i0, p0, kc), rows, pairs, dst, kMR, kMR);
    // Stored [k, m]: rows k and k+1 of the panel give one row of pairs.
    for (int64_t p = 0; p < pairs; ++p) {
      const float* lo = A.p + (p0 + 2 * p) * A.ld + i0;
      const float* hi = 2 * p + 1 < kc ? lo + A.ld : nullptr;
      float* d = reinterpret_cast<float*>(dst + p * kMR);
#pragma GCC unroll 4
      for (int64_t r = 0; r < kMR; r += kW) {
        const int64_t n = std::min<int64_t>(kW, kMR - r), live = std::clamp<int64_t>(rows - r, 0, n);
        const VReg v = vbf16_pairs_across(lo + r, hi ? hi + r : nullptr, live);
        if (n == kW) vstore(d + r, v);
        else vstore_first(d + r, v, n);
      }
    }
#endif
  }
}

// op(B)[p0 .. p0+kc, j0 .. j0+cols] -> one NR-column panel: dst[p][c] (per
// packed element p), zero columns past `cols`.
template <typename Fmt>
void pack_b_panel(const Matrix& B, int64_t p0, int64_t kc, int64_t j0, int64_t cols, typename Fmt::Elem* dst) {
  if constexpr (Fmt::kPack == 1) {
    if (B.trans) return transpose_block(matrix_rows(Matrix{B.p, B.ld, false}, j0, p0), cols, kc, dst, kNR, kNR);
    for (int64_t p = 0; p < kc; ++p) {
      float* d = dst + p * kNR;
#pragma GCC unroll 4
      for (int64_t v = 0; v < kNV; ++v)
        vstore(d + v * kW, load_columns(B, p0 + p, j0 + v * kW, std::clamp<int64_t>(cols - v * kW, 0, kW)));
    }
  } else {
#if defined(MG_HAVE_BF16)
    const int64_t pairs = (kc + 1) / 2;
    if (B.trans)
      return transpose_block(matrix_pair_rows(Matrix{B.p, B.ld, false}, j0, p0, kc), cols, pairs, dst, kNR, kNR);
    alignas(64) float lo_buf[kW], hi_buf[kW];
    for (int64_t p = 0; p < pairs; ++p) {
      const bool has_hi = 2 * p + 1 < kc;
      float* d = reinterpret_cast<float*>(dst + p * kNR);
#pragma GCC unroll 4
      for (int64_t v = 0; v < kNV; ++v) {
        const int64_t live = std::clamp<int64_t>(cols - v * kW, 0, kW), c = j0 + v * kW;
        const float* lo = live > 0 ? columns_of(B, p0 + 2 * p, c, live, lo_buf) : lo_buf;
        const float* hi = has_hi && live > 0 ? columns_of(B, p0 + 2 * p + 1, c, live, hi_buf) : nullptr;
        vstore(d + v * kW, vbf16_pairs_across(lo, hi, live));
      }
    }
#endif
  }
}

// ---------------------------------------------------------------- GEMV (one row of C)

// Sixteen partial sums, whatever the register width (one 512-bit, two 256-bit
// or four 128-bit registers): lane l accumulates the products with p = l mod 16,
// and the lanes are added in one fixed order, so that every instruction set
// produces the same dot product.
constexpr int64_t kLanes = 16;
constexpr int64_t kLaneRegs = kLanes / kW;

inline float dot16(const float* a, const float* b, int64_t k) {
  VReg s[kLaneRegs];
  for (int64_t v = 0; v < kLaneRegs; ++v) s[v] = vzero();
  int64_t p = 0;
  for (; p + kLanes <= k; p += kLanes)
#pragma GCC unroll 4
    for (int64_t v = 0; v < kLaneRegs; ++v) s[v] = vfma(vload(a + p + v * kW), vload(b + p + v * kW), s[v]);
  alignas(64) float lane[kLanes];
  for (int64_t v = 0; v < kLaneRegs; ++v) vstore(lane + v * kW, s[v]);
  for (int64_t half = kLanes / 2; half >= 1; half /= 2)
    for (int64_t l = 0; l < half; ++l) lane[l] += lane[l + half];
  float d = lane[0];
  for (; p < k; ++p) d = sfma(a[p], b[p], d);
  return d;
}

// c[j inc_c] (j < n) = alpha a op(B) + beta c for a single row a (stride inc).
inline void gemv_row(int64_t n, int64_t k, const float* a, int64_t inc, const Matrix& B, float* c, int64_t inc_c,
                     float alpha, float beta) {
  static thread_local std::vector<float> abuf;
  if (inc != 1) {
    abuf.resize(static_cast<size_t>(k));
    for (int64_t p = 0; p < k; ++p) abuf[static_cast<size_t>(p)] = a[p * inc];
    a = abuf.data();
  }
  auto finish = [&](int64_t j, float dot) {
    float& out = c[j * inc_c];
    out = beta == 0.0f ? alpha * dot : alpha * dot + beta * out;
  };
  if (B.trans) {
    // B stored [n, k]: c[j] is the dot product of a with row j.
    parallel_for(n, std::max<int64_t>(16, (1 << 16) / std::max<int64_t>(k, 1)), [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) finish(j, dot16(a, B.p + j * B.ld, k));
    });
  } else {
    // B stored [k, n]: a block of columns accumulates a[p] B[p, j..] over p in
    // registers. Parallel over whole blocks, so the split never changes the arithmetic.
    constexpr int64_t kBlock = 64;
    constexpr int64_t kBlockRegs = kBlock / kW;
    auto cols = [&](int64_t blk0, int64_t blk1) {
      alignas(64) float acc[kBlock];
      for (int64_t j = blk0 * kBlock; j < std::min(n, blk1 * kBlock); j += kBlock) {
        const int64_t w = std::min(kBlock, n - j);
        if (w == kBlock) {
          VReg s[kBlockRegs];
          for (int64_t v = 0; v < kBlockRegs; ++v) s[v] = vzero();
          for (int64_t p = 0; p < k; ++p) {
            const float* row = B.p + p * B.ld + j;
            const VReg av = vset1(a[p]);
#pragma GCC unroll 16
            for (int64_t v = 0; v < kBlockRegs; ++v) s[v] = vfma(av, vload(row + v * kW), s[v]);
          }
          for (int64_t v = 0; v < kBlockRegs; ++v) vstore(acc + v * kW, s[v]);
        } else {
          for (int64_t q = 0; q < w; ++q) acc[q] = 0.0f;
          for (int64_t p = 0; p < k; ++p)
            for (int64_t q = 0; q < w; ++q) acc[q] = sfma(a[p], B.p[p * B.ld + j + q], acc[q]);
        }
        for (int64_t q = 0; q < w; ++q) finish(j + q, acc[q]);
      }
    };
    parallel_for((n + kBlock - 1) / kBlock, std::max<int64_t>(1, (1 << 16) / (kBlock * std::max<int64_t>(k, 1))), cols);
  }
}

// ---------------------------------------------------------------- GEMM driver

// Growable scratch that stays allocated between calls (allocating and
// zeroing per call costs more than the small GEMMs of an LSTM step).
template <typename T>
T* scratch(std::vector<T>& buf, int64_t count) {
  if (buf.size() < static_cast<size_t>(count)) buf.resize(static_cast<size_t>(count));
  return buf.data();
}

// The five loops around the micro-kernel, BLIS's order with the roles of A
// and B exchanged (the broadcast operand is A here):
//   rows of A in MC blocks, packed once into L3 and shared by every thread;
//   k in KC slices;
//   columns of B in blocks of at most NC, one task each: the task packs its
//   block into its own L2 and sweeps it with every MR-row A micro-panel,
//   which stays in L1 while the NR-column B micro-panels stream past it.
// The k split depends only on k and KC, so every C element is the same
// sequence of operations whichever task or thread computes it.
template <typename Fmt>
void gemm_blocked(int64_t m, int64_t n, int64_t k, const Matrix& A, const Matrix& B, const OutMatrix& C,
                  float alpha, float beta) {
  using Elem = typename Fmt::Elem;
  const GemmBlocking& bk = blocking<Fmt>();
  const int64_t threads = num_threads();
  const bool parallel = threads > 1 && static_cast<double>(m) * n * k > 2.0e6;
  // Even slices (k = 170 with KC = 160 becomes 85 + 85, not 160 + 10), each a
  // whole number of packed elements.
  const int64_t kslices = (k + bk.kc - 1) / bk.kc;
  const int64_t kc_max = ((k + kslices - 1) / kslices + Fmt::kPack - 1) / Fmt::kPack * Fmt::kPack;
  const int64_t steps_max = kc_max / Fmt::kPack;
  const int64_t mblocks = (m + bk.mc - 1) / bk.mc;
  const int64_t mc_max = ((m + mblocks - 1) / mblocks + kMR - 1) / kMR * kMR;
  // Column blocks: at most NC wide, and at least two per thread when the
  // call runs in parallel, so a thread that loses its core is covered.
  const int64_t npanels = (n + kNR - 1) / kNR;
  const int64_t want_blocks = parallel ? std::min(npanels, 2 * threads) : 1;
  const int64_t col_blocks = std::max((npanels * kNR + bk.nc - 1) / bk.nc, want_blocks);
  const int64_t panels_per_block = (npanels + col_blocks - 1) / col_blocks;
  // Too few columns for the threads: rows are split as well (each row group
  // then packs the same B block).
  const int64_t row_groups = parallel ? std::clamp<int64_t>((2 * threads + col_blocks - 1) / col_blocks, 1,
                                                            (m + kMR - 1) / kMR) : 1;

  static thread_local std::vector<Elem> abuf;
  Elem* apack = scratch(abuf, mc_max * steps_max);
  for (int64_t i0 = 0; i0 < m; i0 += mc_max) {
    const int64_t mc = std::min(mc_max, m - i0);
    const int64_t apanels = (mc + kMR - 1) / kMR;
    for (int64_t p0 = 0; p0 < k; p0 += kc_max) {
      const int64_t kc = std::min(kc_max, k - p0), steps = (kc + Fmt::kPack - 1) / Fmt::kPack;
      const float beta_k = p0 == 0 ? beta : 1.0f;  // later slices accumulate
      auto pack_task = [&](int64_t pan) {
        pack_a_panel<Fmt>(A, i0 + pan * kMR, std::min(kMR, mc - pan * kMR), p0, kc, apack + pan * steps * kMR);
      };
      if (parallel) run_tasks(apanels, TaskRef(pack_task));
      else for (int64_t pan = 0; pan < apanels; ++pan) pack_task(pan);

      const int64_t panels_per_group = (apanels + row_groups - 1) / row_groups;
      auto compute_task = [&](int64_t t) {
        const int64_t cb = t / row_groups, rg = t % row_groups;
        const int64_t jp0 = cb * panels_per_block, jp1 = std::min(npanels, jp0 + panels_per_block);
        const int64_t ap0 = rg * panels_per_group, ap1 = std::min(apanels, ap0 + panels_per_group);
        if (jp0 >= jp1 || ap0 >= ap1) return;
        static thread_local std::vector<Elem> bbuf;
        Elem* bpack = scratch(bbuf, (jp1 - jp0) * steps * kNR);
        for (int64_t jp = jp0; jp < jp1; ++jp)
          pack_b_panel<Fmt>(B, p0, kc, jp * kNR, std::min(kNR, n - jp * kNR), bpack + (jp - jp0) * steps * kNR);
        for (int64_t ap = ap0; ap < ap1; ++ap) {
          const int64_t ir = ap * kMR, rows = std::min(kMR, mc - ir);
          const Elem* a = apack + ap * steps * kMR;
          for (int64_t jp = jp0; jp < jp1; ++jp) {
            const int64_t j0 = jp * kNR, cols = std::min(kNR, n - j0);
            const Elem* b = bpack + (jp - jp0) * steps * kNR;
            if (rows == kMR && cols == kNR && C.contiguous(j0, kNR))
              micro_kernel<Fmt>(steps, a, b, C.at(i0 + ir, j0), C.ld, alpha, beta_k);
            else micro_kernel_edge<Fmt>(steps, a, b, C, i0 + ir, j0, rows, cols, alpha, beta_k);
          }
        }
      };
      const int64_t tasks = col_blocks * row_groups;
      if (parallel) run_tasks(tasks, TaskRef(compute_task));
      else for (int64_t t = 0; t < tasks; ++t) compute_task(t);
    }
  }
}

template <typename Fmt>
void gemm_one(int64_t m, int64_t n, int64_t k, const Matrix& A, const Matrix& B, const OutMatrix& C, float alpha,
              float beta) {
  if (k == 0 || alpha == 0.0f) {
    parallel_for(m, 64, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = 0; j < n; ++j) *C.at(i, j) = beta == 0.0f ? 0.0f : beta * *C.at(i, j);
    });
    return;
  }
  // A matrix-vector product is bound by reading the matrix once: float32 in
  // either format (packing it to bf16 would read it as often).
  const bool plain = A.seg == 0 && B.seg == 0 && C.seg == 0;
  if (m == 1 && plain) {
    gemv_row(n, k, A.p, A.trans ? A.ld : 1, B, C.p, 1, alpha, beta);
    return;
  }
  if (n == 1 && plain) {
    // One column: the same product transposed, C[:, 0]ᵀ = op(B)ᵀ op(A)ᵀ.
    gemv_row(m, k, B.p, B.trans ? 1 : B.ld, Matrix{A.p, A.ld, !A.trans}, C.p, C.ld, alpha, beta);
    return;
  }
  gemm_blocked<Fmt>(m, n, k, A, B, C, alpha, beta);
}

template <typename Fmt>
void gemm_batch(const GemmArgs& g) {
  for (int64_t bi = 0; bi < g.batch; ++bi) {
    const Matrix A{static_cast<const float*>(g.a) + bi * g.stride_a, g.lda, g.trans_a, g.seg_a, g.seg_stride_a};
    const Matrix B{static_cast<const float*>(g.b) + bi * g.stride_b, g.ldb, g.trans_b, g.seg_b, g.seg_stride_b};
    const OutMatrix C{static_cast<float*>(g.c) + bi * g.stride_c, g.ldc, g.seg_c, g.seg_stride_c};
    gemm_one<Fmt>(g.m, g.n, g.k, A, B, C, static_cast<float>(g.alpha), static_cast<float>(g.beta));
  }
}

inline void sgemm(const GemmArgs& g) { gemm_batch<F32>(g); }
#if defined(MG_HAVE_BF16)
inline void sgemm_bf16(const GemmArgs& g) { gemm_batch<Bf16>(g); }
#endif

// ---------------------------------------------------------------- LSTM cell math

// Applies f to n floats as whole vectors: the tail goes through a zero-padded
// copy, so every element sees exactly the same arithmetic.
template <int kIn, int kOut, typename F>
inline void for_vectors(int64_t n, const float* const (&in)[kIn], float* const (&out)[kOut], F&& f) {
  int64_t j = 0;
  for (; j + kW <= n; j += kW) {
    VReg x[kIn];
    for (int q = 0; q < kIn; ++q) x[q] = in[q] ? vload(in[q] + j) : vzero();
    VReg y[kOut];
    f(x, y);
    for (int q = 0; q < kOut; ++q) vstore(out[q] + j, y[q]);
  }
  if (j < n) {
    const int64_t rest = n - j;
    alignas(64) float xin[kIn][kW] = {}, yout[kOut][kW];
    VReg x[kIn];
    for (int q = 0; q < kIn; ++q) {
      if (in[q])
        for (int64_t e = 0; e < rest; ++e) xin[q][e] = in[q][j + e];
      x[q] = vload(xin[q]);
    }
    VReg y[kOut];
    f(x, y);
    for (int q = 0; q < kOut; ++q) {
      vstore(yout[q], y[q]);
      for (int64_t e = 0; e < rest; ++e) out[q][j + e] = yout[q][e];
    }
  }
}

// The vector arithmetic the cell's equations (kernels/lstm_cell.inl) run on
// here: the polynomials of simd.inl, and vfma / vfnma for the multiply-adds.
struct VecMath {
  static VReg one() { return vset1(1.0f); }
  static VReg mul(VReg a, VReg b) { return vmul(a, b); }
  static VReg sub(VReg a, VReg b) { return vsub(a, b); }
  static VReg madd(VReg a, VReg b, VReg c) { return vfma(a, b, c); }
  static VReg nmadd(VReg a, VReg b, VReg c) { return vfnma(a, b, c); }
  static VReg sigmoid(VReg x) { return vsigmoid(x); }
  static VReg tanh(VReg x) { return vtanh(x); }
};

// This set's copy of the equations, compiled for its target.
namespace cell {
#include "kernels/lstm_cell.inl"
}  // namespace cell

// Forward cell on pre-activations (gi, gf, gg, go) and c_prev:
// y = {act i, act f, act g, act o, c, h}.
inline void cell_forward(const VReg* x, VReg* y) {
  const auto r = cell::lstm_cell_forward<VReg, VecMath>(x[0], x[1], x[2], x[3], x[4]);
  y[0] = r.i;
  y[1] = r.f;
  y[2] = r.g;
  y[3] = r.o;
  y[4] = r.c;
  y[5] = r.h;
}

// Backward cell on (dh, dc_in, act i, f, g, o, c_prev, c): y = {di, df, dg, do, dc_prev}.
inline void cell_backward(const VReg* x, VReg* y) {
  const auto r = cell::lstm_cell_backward<VReg, VecMath>(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]);
  y[0] = r.di;
  y[1] = r.df;
  y[2] = r.dg;
  y[3] = r.dout;
  y[4] = r.dc_prev;
}

inline void lstm_cell_forward(const LstmCell& a) {
  const int64_t H = a.H;
  parallel_for(a.B, std::max<int64_t>(1, 4096 / std::max<int64_t>(H, 1)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float* g = a.gates + b * 4 * H;
      float* act = a.act + b * 4 * H;
      const float* in[5] = {g, g + H, g + 2 * H, g + 3 * H, a.c_prev + b * H};
      float* const out[6] = {act, act + H, act + 2 * H, act + 3 * H, a.c + b * H, a.h + b * H};
      for_vectors<5, 6>(H, in, out, cell_forward);
    }
  });
}

inline void lstm_cell_backward(const LstmCell& a) {
  const int64_t H = a.H;
  parallel_for(a.B, std::max<int64_t>(1, 4096 / std::max<int64_t>(H, 1)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float* act = a.act + b * 4 * H;
      float* gg = a.ggates + b * 4 * H;
      const float* in[8] = {a.gh ? a.gh + b * H : nullptr, a.gc ? a.gc + b * H : nullptr, act, act + H,
                            act + 2 * H, act + 3 * H, a.c_prev + b * H, a.c + b * H};
      float* const out[5] = {gg, gg + H, gg + 2 * H, gg + 3 * H, a.gc_prev + b * H};
      for_vectors<8, 5>(H, in, out, cell_backward);
    }
  });
}

// ---------------------------------------------------------------- fused LSTM layer

// Bands of batch rows, each a whole number of MR-row tiles: enough bands for
// every thread to take a few (a slow thread is compensated), and bands of at
// most four tiles so each W_hh panel is reused from cache across its tiles.
inline int64_t lstm_band_tiles(int64_t B) {
  const int64_t tiles = (B + kMR - 1) / kMR;
  const int64_t want = std::max<int64_t>(1, 3 * num_threads());
  return std::clamp<int64_t>((tiles + want - 1) / want, 1, 4);
}

// W_hhᵀ [H, 4H] as the GEMM's B, in NR-unit blocks with the four gate panels
// of a block adjacent: panel (u, q) [steps][NR] holds W_hh[q H + u NR + c][p].
template <typename Fmt>
void pack_w_forward(const float* w_hh, int64_t H, typename Fmt::Elem* dst) {
  const int64_t ublocks = (H + kNR - 1) / kNR, steps = (H + Fmt::kPack - 1) / Fmt::kPack;
  const Matrix Wt{w_hh, H, true};  // op = transpose of the stored [4H, H]
  parallel_for(ublocks * 4, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t u = t / 4, q = t % 4;
      const int64_t cols = std::min(kNR, H - u * kNR);
      pack_b_panel<Fmt>(Wt, 0, H, q * H + u * kNR, cols, dst + t * steps * kNR);
    }
  });
}

// W_hh [4H, H] as the backward GEMM's B (dh = dgates W_hh): panel u [steps of 4H][NR].
template <typename Fmt>
void pack_w_backward(const float* w_hh, int64_t H, typename Fmt::Elem* dst) {
  const int64_t ublocks = (H + kNR - 1) / kNR, steps = (4 * H + Fmt::kPack - 1) / Fmt::kPack;
  const Matrix W{w_hh, H, false};
  parallel_for(ublocks, 1, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u)
      pack_b_panel<Fmt>(W, 0, 4 * H, u * kNR, std::min(kNR, H - u * kNR), dst + u * steps * kNR);
  });
}

// Rows [r0, r0 + rows) of src [*, K] (row stride K) into MR-row panels [steps][MR].
template <typename Fmt>
void pack_rows(const float* src, int64_t r0, int64_t rows, int64_t K, typename Fmt::Elem* dst) {
  const int64_t steps = (K + Fmt::kPack - 1) / Fmt::kPack;
  for (int64_t pan = 0; pan * kMR < rows; ++pan)
    pack_a_panel<Fmt>(Matrix{src, K, false}, r0 + pan * kMR, std::min(kMR, rows - pan * kMR), 0, K,
                      dst + pan * steps * kMR);
}

// Rows src[r * ld + j] (r < rows, j < count; the rest of the MR rows zero)
// into a packed A panel as k = k0 + j: dst[k][r] for F32, the pairs (k, k+1)
// for Bf16 (k0 and count even).
template <typename Fmt>
void put_panel_columns(const float* src, int64_t ld, int64_t rows, int64_t k0, int64_t count,
                       typename Fmt::Elem* dst) {
  if constexpr (Fmt::kPack == 1) {
    float* d = dst + k0 * kMR;
    for (int64_t j = 0; j < count; ++j)
      for (int64_t r = 0; r < kMR; ++r) d[j * kMR + r] = r < rows ? src[r * ld + j] : 0.0f;
  } else {
#if defined(MG_HAVE_BF16)
    uint32_t* d = dst + k0 / 2 * kMR;
    alignas(64) uint32_t pairs[kW];
    for (int64_t r = 0; r < kMR; ++r) {
      for (int64_t j = 0; j < count; j += 2 * kW) {
        const int64_t n = std::min<int64_t>(2 * kW, count - j);
        if (r < rows) vstore(reinterpret_cast<float*>(pairs), vbf16_pairs_along(src + r * ld + j, n));
        for (int64_t jj = 0; jj < n / 2; ++jj) d[(j / 2 + jj) * kMR + r] = r < rows ? pairs[jj] : 0u;
      }
    }
#endif
  }
}

template <typename Fmt>
void lstm_forward_fused(const LstmForward& a) {
  using Elem = typename Fmt::Elem;
  const int64_t T = a.T, B = a.B, H = a.H, G = 4 * H;
  // The steps accumulate into acts, which must start as the input projection.
  if (a.acts != a.xproj) std::copy(a.xproj, a.xproj + T * B * G, a.acts);
  const int64_t ublocks = (H + kNR - 1) / kNR, steps = (H + Fmt::kPack - 1) / Fmt::kPack;
  static thread_local std::vector<Elem> wbuf;
  Elem* wp = scratch(wbuf, ublocks * 4 * steps * kNR);
  pack_w_forward<Fmt>(a.w_hh, H, wp);

  const int64_t band_tiles = lstm_band_tiles(B), band_rows = band_tiles * kMR;
  const int64_t bands = (B + band_rows - 1) / band_rows;
  auto band = [&](int64_t bi) {
    const int64_t r0 = bi * band_rows, rows = std::min(band_rows, B - r0);
    const int64_t tiles = (rows + kMR - 1) / kMR;
    // h_{t-1} of this band, packed for the GEMM; two buffers, read one, write the other.
    static thread_local std::vector<Elem> hbuf;
    Elem* hpack[2];
    hpack[0] = scratch(hbuf, 2 * tiles * steps * kMR);
    hpack[1] = hpack[0] + tiles * steps * kMR;
    pack_rows<Fmt>(a.h0, r0, rows, H, hpack[0]);
    for (int64_t t = 0; t < T; ++t) {
      const Elem* hp = hpack[t & 1];
      Elem* hnext = hpack[(t + 1) & 1];
      const float* cprev = t == 0 ? a.c0 : a.cs + (t - 1) * B * H;
      float* hs = a.hs + t * B * H;
      float* cs = a.cs + t * B * H;
      // Step t's input projection, added to h W_hhᵀ in place: acts holds the
      // gates' pre-activations, then (after the cell) their activations.
      float* acts = a.acts + t * B * G;
      for (int64_t u = 0; u < ublocks; ++u) {
        const int64_t j0 = u * kNR, units = std::min(kNR, H - j0);
        for (int64_t ti = 0; ti < tiles; ++ti) {
          const int64_t row0 = r0 + ti * kMR, rt = std::min(kMR, rows - ti * kMR);
          for (int64_t q = 0; q < 4; ++q) {
            const Elem* ap = hp + ti * steps * kMR;
            const Elem* bp = wp + (u * 4 + q) * steps * kNR;
            float* c = acts + row0 * G + q * H + j0;
            if (rt == kMR && units == kNR) micro_kernel<Fmt>(steps, ap, bp, c, G, 1.0f, 1.0f);
            else micro_kernel_edge<Fmt>(steps, ap, bp, OutMatrix{c, G}, 0, 0, rt, units, 1.0f, 1.0f);
          }
          for (int64_t r = 0; r < rt; ++r) {
            const int64_t row = row0 + r;
            float* act = acts + row * G + j0;
            const float* in[5] = {act, act + H, act + 2 * H, act + 3 * H, cprev + row * H + j0};
            float* const out[6] = {act, act + H, act + 2 * H, act + 3 * H, cs + row * H + j0, hs + row * H + j0};
            for_vectors<5, 6>(units, in, out, cell_forward);
          }
          // h_t into the next step's packed A: element (row r, k = unit j0 + j).
          put_panel_columns<Fmt>(hs + row0 * H + j0, H, rt, j0, units, hnext + ti * steps * kMR);
        }
      }
    }
  };
  run_tasks(bands, TaskRef(band));
}

template <typename Fmt>
void lstm_backward_fused(const LstmBackward& a) {
  using Elem = typename Fmt::Elem;
  const int64_t T = a.T, B = a.B, H = a.H, G = 4 * H;
  const int64_t ublocks = (H + kNR - 1) / kNR, steps = (G + Fmt::kPack - 1) / Fmt::kPack;
  static thread_local std::vector<Elem> wbuf;
  Elem* wp = scratch(wbuf, ublocks * steps * kNR);
  pack_w_backward<Fmt>(a.w_hh, H, wp);

  const int64_t band_tiles = lstm_band_tiles(B), band_rows = band_tiles * kMR;
  const int64_t bands = (B + band_rows - 1) / band_rows;
  auto band = [&](int64_t bi) {
    const int64_t r0 = bi * band_rows, rows = std::min(band_rows, B - r0);
    const int64_t tiles = (rows + kMR - 1) / kMR;
    // dgates of the step after, packed as the GEMM's A: [tile][steps][MR]; two buffers.
    static thread_local std::vector<Elem> gbuf;
    Elem* gpack[2];
    gpack[0] = scratch(gbuf, 2 * tiles * steps * kMR);
    gpack[1] = gpack[0] + tiles * steps * kMR;
    // dc carried from step to step lives in dc0's rows, which end up holding dc_0.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < H; ++j)
        a.dc0[(r0 + r) * H + j] = a.g_c_last ? a.g_c_last[(r0 + r) * H + j] : 0.0f;
    alignas(64) float dh[kMR * kNR];
    for (int64_t t = T - 1; t >= -1; --t) {
      const Elem* gp = gpack[(t + 1) & 1];  // dgates[t + 1], packed (unused at t = T - 1)
      Elem* gnext = gpack[t & 1];
      for (int64_t u = 0; u < ublocks; ++u) {
        const int64_t j0 = u * kNR, units = std::min(kNR, H - j0);
        for (int64_t ti = 0; ti < tiles; ++ti) {
          const int64_t rt = std::min(kMR, rows - ti * kMR);
          // The recurrent part of dh_t: dgates[t + 1] W_hh.
          if (t < T - 1) micro_kernel<Fmt>(steps, gp + ti * steps * kMR, wp + u * steps * kNR, dh, kNR, 1.0f, 0.0f);
          else
            for (int64_t e = 0; e < kMR * kNR; ++e) dh[e] = 0.0f;
          if (t < 0) {
            // Past the first step: what is left is the gradient of h0.
            for (int64_t r = 0; r < rt; ++r)
              for (int64_t j = 0; j < units; ++j) a.dh0[(r0 + ti * kMR + r) * H + j0 + j] = dh[r * kNR + j];
            continue;
          }
          const float* acts = a.acts + t * B * G;
          const float* cprev = t == 0 ? a.c0 : a.cs + (t - 1) * B * H;
          const float* cs = a.cs + t * B * H;
          float* dgates = a.dgates + t * B * G;
          for (int64_t r = 0; r < rt; ++r) {
            const int64_t row = r0 + ti * kMR + r;
            if (a.g_hs)
              for (int64_t j = 0; j < units; ++j)
                dh[r * kNR + j] += a.g_hs[t * a.g_hs_stride_t + row * a.g_hs_stride_b + j0 + j];
            const float* act = acts + row * G + j0;
            float* dc = a.dc0 + row * H + j0;
            float* dgo = dgates + row * G + j0;
            const float* in[8] = {dh + r * kNR, dc, act, act + H, act + 2 * H, act + 3 * H, cprev + row * H + j0,
                                  cs + row * H + j0};
            float* const out[5] = {dgo, dgo + H, dgo + 2 * H, dgo + 3 * H, dc};
            for_vectors<8, 5>(units, in, out, cell_backward);
          }
          // dgates[t] into the packed A of the next GEMM: element (row r, k = q H + unit).
          const float* dg0 = dgates + (r0 + ti * kMR) * G + j0;
          for (int64_t q = 0; q < 4; ++q)
            put_panel_columns<Fmt>(dg0 + q * H, G, rt, q * H + j0, units, gnext + ti * steps * kMR);
        }
      }
    }
  };
  run_tasks(bands, TaskRef(band));
}

inline void lstm_forward(const LstmForward& a) { lstm_forward_fused<F32>(a); }
inline void lstm_backward(const LstmBackward& a) { lstm_backward_fused<F32>(a); }
#if defined(MG_HAVE_BF16)
// The bf16 pairs of h and dgates never straddle two unit blocks or gates when H is even.
inline void lstm_forward_bf16(const LstmForward& a) { lstm_forward_fused<Bf16>(a); }
inline void lstm_backward_bf16(const LstmBackward& a) { lstm_backward_fused<Bf16>(a); }
#endif
