// The fast float32 CPU kernels, written once over the vector layer
// (simd.inl) and compiled once per instruction set (see isa.h). Included by
// isa_avx512.cpp, isa_avx2.cpp and isa_generic.cpp inside their target
// region and namespace; the reference loops they are tested against are in
// gemm.cpp (gemm_reference) and lstm.cpp (lstm_pointwise_*_reference).
//
// GEMM: C = alpha op(A) op(B) + beta C, the Goto/BLIS way.
//   - op(B) is packed once per call (in slabs of a few MB for a deep K) into
//     NR-wide column panels, KC deep;
//   - each task packs one MC x KC block of op(A) into MR-tall row panels
//     (in L2) and sweeps it against the B panels (each kept in L1 while it
//     meets every A panel of the block);
//   - the micro-kernel keeps an MR x NR tile of C in registers for KC rank-1
//     updates: per step it loads NR/kW vectors of B and broadcasts MR values
//     of A, for MR * NR/kW fused multiply-adds.
//   Every C element is the same sequence of FMAs whichever task or thread
//   computes it, so results never depend on the thread count.
//
// LSTM: one layer's recurrence, fused. W_hh is packed once per call with the
// four gates of each block of NR hidden units side by side, so one pass of the
// micro-kernel yields all gates of an MR x NR block of (row, unit) pairs; the
// gate nonlinearities, the cell update and h are computed on that block while
// it is in L1, and h is written straight into the packed layout the next
// step's GEMM reads. Batch rows never interact, so each task owns a band of
// rows for all T steps: one parallel call per layer and direction, no
// barrier between steps.

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

// KC, MC and NC come from this CPU's caches (cpu_figures.h). A benchmark may
// set others (bench_gemm --sweep) to show how the derived ones compare.
inline GemmBlocking& blocking() {
  static GemmBlocking b = derive_blocking(cpu_figures(), kMR, kNR, sizeof(float));
  return b;
}

// ---------------------------------------------------------------- micro-kernel

// a b + c with one rounding where the instruction set has FMA, as the vector code.
inline float sfma(float a, float b, float c) {
#if defined(MG_HAVE_FMA)
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

// C[MR x NR] = alpha Σ_p a[p, 0..MR) ⊗ b[p, 0..NR) + beta C over k steps of
// packed panels (C is not read when beta == 0).
// A function of its own, and C's row addresses are recomputed after the k
// loop: with the loop inlined into its caller, or with the row addresses of
// the prefetch kept live across it, GCC ran out of general registers, parked
// pointers in vector registers and spilled a B vector to the stack,
// re-reading it for half of the FMAs.
// kRows < MR computes only the first kRows rows of the tile (the A panel
// keeps its MR stride): the last panel of a block whose rows do not divide
// by MR (256 rows are 18 full panels of 14 and one of 4).
template <int64_t kRows = kMR>
[[gnu::noinline]] void micro_kernel(int64_t k, const float* __restrict a, const float* __restrict b,
                                    float* __restrict c, int64_t ldc, float alpha, float beta) {
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
  for (int64_t p = 0; p < k; ++p) {
    VReg bv[kNV];
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) bv[v] = vload(b + v * kW);
#pragma GCC unroll 16
    for (int64_t r = 0; r < kRows; ++r) {
      const VReg ar = vset1(a[r]);
#pragma GCC unroll 4
      for (int64_t v = 0; v < kNV; ++v) acc[r][v] = vfma(ar, bv[v], acc[r][v]);
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

// A tile at the edge of C (fewer than MR rows or NR columns). Up to half a
// panel of rows takes the half-height kernel; what does not fill a whole
// tile goes through a buffer, with the same two roundings as the kernel's
// own store.
constexpr int64_t kHalfMR = (kMR + 1) / 2;
inline void micro_kernel_edge(int64_t k, const float* a, const float* b, float* c, int64_t ldc, int64_t rows,
                              int64_t cols, float alpha, float beta) {
  const bool half = rows <= kHalfMR;
  if (cols == kNR && rows == (half ? kHalfMR : kMR)) {
    if (half) micro_kernel<kHalfMR>(k, a, b, c, ldc, alpha, beta);
    else micro_kernel(k, a, b, c, ldc, alpha, beta);
    return;
  }
  alignas(64) float tile[kMR * kNR];
  if (half) micro_kernel<kHalfMR>(k, a, b, tile, kNR, 1.0f, 0.0f);
  else micro_kernel(k, a, b, tile, kNR, 1.0f, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float* out = c + r * ldc;
    const float* t = tile + r * kNR;
    if (beta == 0.0f)
      for (int64_t j = 0; j < cols; ++j) out[j] = alpha == 1.0f ? t[j] : alpha * t[j];
    else
      for (int64_t j = 0; j < cols; ++j) out[j] = sfma(alpha, t[j], beta * out[j]);
  }
}

// ---------------------------------------------------------------- packing

struct Matrix {
  const float* p;
  int64_t ld;
  bool trans;  // element (r, c) of op(X) is p[c * ld + r] when trans, else p[r * ld + c]
};

// dst[p * dst_ld + r] = src[r * ld + p] for r < store, p < cols, reading
// only rows r < rows (rows <= store) and writing zero for the others: a
// transpose of a rows x cols block into `store`-wide rows, kW x kW at a time
// in registers.
inline void transpose_block(const float* src, int64_t ld, int64_t rows, int64_t cols, float* dst, int64_t dst_ld,
                            int64_t store) {
  for (int64_t g = 0; g * kW < store; ++g) {
    const int64_t r0 = g * kW, live = std::clamp<int64_t>(rows - r0, 0, kW);
    const int64_t n = std::min<int64_t>(kW, store - r0);
    int64_t p = 0;
    for (; p + kW <= cols; p += kW) {
      // Constant indices throughout (unrolled), so the block stays in registers.
      VReg r[kW];
#pragma GCC unroll 16
      for (int64_t i = 0; i < kW; ++i) r[i] = i < live ? vload(src + (r0 + i) * ld + p) : vzero();
      vtranspose(r);
#pragma GCC unroll 16
      for (int64_t q = 0; q < kW; ++q) {
        if (n == kW) vstore(dst + (p + q) * dst_ld + r0, r[q]);
        else vstore_first(dst + (p + q) * dst_ld + r0, r[q], n);
      }
    }
    for (; p < cols; ++p)
      for (int64_t i = 0; i < n; ++i) dst[p * dst_ld + r0 + i] = i < live ? src[(r0 + i) * ld + p] : 0.0f;
  }
}

// op(A)[i0 .. i0+mc, p0 .. p0+kc] -> MR-row panels: dst[panel][p][r], zero rows past mc.
inline void pack_a_panel(const Matrix& A, int64_t i0, int64_t rows, int64_t p0, int64_t kc, float* dst) {
  if (A.trans) {
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
    return;
  }
  // Stored [m, k]: a transpose of rows x kc.
  transpose_block(A.p + i0 * A.ld + p0, A.ld, rows, kc, dst, kMR, kMR);
}

inline void pack_a(const Matrix& A, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  for (int64_t pan = 0; pan * kMR < mc; ++pan)
    pack_a_panel(A, i0 + pan * kMR, std::min(kMR, mc - pan * kMR), p0, kc, dst + pan * kc * kMR);
}

// op(B)[p0 .. p0+kc, j0 .. j0+cols] -> one NR-column panel: dst[p][c], zero columns past cols.
inline void pack_b_panel(const Matrix& B, int64_t p0, int64_t kc, int64_t j0, int64_t cols, float* dst) {
  if (!B.trans) {
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = B.p + (p0 + p) * B.ld + j0;
      float* d = dst + p * kNR;
      if (cols == kNR) {
#pragma GCC unroll 4
        for (int64_t v = 0; v < kNV; ++v) vstore(d + v * kW, vload(src + v * kW));
      } else {
        for (int64_t c = 0; c < cols; ++c) d[c] = src[c];
        for (int64_t c = cols; c < kNR; ++c) d[c] = 0.0f;
      }
    }
    return;
  }
  // Stored [n, k]: a transpose of cols x kc.
  transpose_block(B.p + j0 * B.ld + p0, B.ld, cols, kc, dst, kNR, kNR);
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
inline float* scratch(std::vector<float>& buf, int64_t floats) {
  if (buf.size() < static_cast<size_t>(floats)) buf.resize(static_cast<size_t>(floats));
  return buf.data();
}

inline void gemm_one(int64_t m, int64_t n, int64_t k, const Matrix& A, const Matrix& B, float* C, int64_t ldc,
                     float alpha, float beta) {
  if (k == 0 || alpha == 0.0f) {
    parallel_for(m, 64, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = 0; j < n; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    });
    return;
  }
  if (m == 1) {
    // One row: a matrix-vector product, bound by reading B once.
    gemv_row(n, k, A.p, A.trans ? A.ld : 1, B, C, 1, alpha, beta);
    return;
  }
  if (n == 1) {
    // One column: the same product transposed, C[:, 0]ᵀ = op(B)ᵀ op(A)ᵀ.
    gemv_row(m, k, B.p, B.trans ? 1 : B.ld, Matrix{A.p, A.ld, !A.trans}, C, ldc, alpha, beta);
    return;
  }
  // The five loops around the micro-kernel, BLIS's order with the roles of
  // A and B exchanged (the broadcast operand is A here):
  //   rows of A in MC blocks, packed once into L3 and shared by every thread;
  //   k in KC slices;
  //   columns of B in blocks of at most NC, one task each: the task packs its
  //   block into its own L2 and sweeps it with every MR-row A micro-panel,
  //   which stays in L1 while the NR-column B micro-panels stream past it.
  // The k split depends only on k and KC, so every C element is the same
  // sequence of FMAs whichever task or thread computes it.
  const GemmBlocking& bk = blocking();
  const int64_t threads = num_threads();
  const bool parallel = threads > 1 && static_cast<double>(m) * n * k > 2.0e6;
  // Even slices: k = 170 with KC = 160 becomes 85 + 85, not 160 + 10.
  const int64_t kslices = (k + bk.kc - 1) / bk.kc, kc_max = (k + kslices - 1) / kslices;
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

  static thread_local std::vector<float> abuf;
  float* apack = scratch(abuf, mc_max * kc_max);
  for (int64_t i0 = 0; i0 < m; i0 += mc_max) {
    const int64_t mc = std::min(mc_max, m - i0);
    const int64_t apanels = (mc + kMR - 1) / kMR;
    for (int64_t p0 = 0; p0 < k; p0 += kc_max) {
      const int64_t kc = std::min(kc_max, k - p0);
      const float beta_k = p0 == 0 ? beta : 1.0f;  // later slices accumulate
      auto pack_task = [&](int64_t pan) {
        pack_a_panel(A, i0 + pan * kMR, std::min(kMR, mc - pan * kMR), p0, kc, apack + pan * kc * kMR);
      };
      if (parallel) run_tasks(apanels, TaskRef(pack_task));
      else for (int64_t pan = 0; pan < apanels; ++pan) pack_task(pan);

      const int64_t panels_per_group = (apanels + row_groups - 1) / row_groups;
      auto compute_task = [&](int64_t t) {
        const int64_t cb = t / row_groups, rg = t % row_groups;
        const int64_t jp0 = cb * panels_per_block, jp1 = std::min(npanels, jp0 + panels_per_block);
        const int64_t ap0 = rg * panels_per_group, ap1 = std::min(apanels, ap0 + panels_per_group);
        if (jp0 >= jp1 || ap0 >= ap1) return;
        static thread_local std::vector<float> bbuf;
        float* bpack = scratch(bbuf, (jp1 - jp0) * kc * kNR);
        for (int64_t jp = jp0; jp < jp1; ++jp)
          pack_b_panel(B, p0, kc, jp * kNR, std::min(kNR, n - jp * kNR), bpack + (jp - jp0) * kc * kNR);
        for (int64_t ap = ap0; ap < ap1; ++ap) {
          const int64_t ir = ap * kMR, rows = std::min(kMR, mc - ir);
          const float* a = apack + ap * kc * kMR;
          for (int64_t jp = jp0; jp < jp1; ++jp) {
            const int64_t j0 = jp * kNR, cols = std::min(kNR, n - j0);
            const float* b = bpack + (jp - jp0) * kc * kNR;
            float* c = C + (i0 + ir) * ldc + j0;
            if (rows == kMR && cols == kNR) micro_kernel(kc, a, b, c, ldc, alpha, beta_k);
            else micro_kernel_edge(kc, a, b, c, ldc, rows, cols, alpha, beta_k);
          }
        }
      };
      const int64_t tasks = col_blocks * row_groups;
      if (parallel) run_tasks(tasks, TaskRef(compute_task));
      else for (int64_t t = 0; t < tasks; ++t) compute_task(t);
    }
  }
}

inline void sgemm(const GemmArgs& g) {
  for (int64_t bi = 0; bi < g.batch; ++bi) {
    Matrix A{static_cast<const float*>(g.a) + bi * g.stride_a, g.lda, g.trans_a};
    Matrix B{static_cast<const float*>(g.b) + bi * g.stride_b, g.ldb, g.trans_b};
    gemm_one(g.m, g.n, g.k, A, B, static_cast<float*>(g.c) + bi * g.stride_c, g.ldc, static_cast<float>(g.alpha),
             static_cast<float>(g.beta));
  }
}

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

// Forward cell on pre-activations (gi, gf, gg, go) and c_prev:
// y = {act i, act f, act g, act o, c, h}.
inline void cell_forward(const VReg* x, VReg* y) {
  const VReg i = vsigmoid(x[0]), f = vsigmoid(x[1]), g = vtanh(x[2]), o = vsigmoid(x[3]);
  const VReg c = vfma(f, x[4], vmul(i, g));
  y[0] = i;
  y[1] = f;
  y[2] = g;
  y[3] = o;
  y[4] = c;
  y[5] = vmul(o, vtanh(c));
}

// Backward cell on (dh, dc_in, act i, f, g, o, c_prev, c): y = {di, df, dg, do, dc_prev}.
inline void cell_backward(const VReg* x, VReg* y) {
  const VReg one = vset1(1.0f);
  const VReg dh = x[0], i = x[2], f = x[3], g = x[4], o = x[5], cp = x[6];
  const VReg tc = vtanh(x[7]);
  const VReg dc = vfma(vmul(dh, o), vfnma(tc, tc, one), x[1]);  // dc_in + dh o (1 - tanh² c)
  y[0] = vmul(vmul(dc, g), vmul(i, vsub(one, i)));
  y[1] = vmul(vmul(dc, cp), vmul(f, vsub(one, f)));
  y[2] = vmul(vmul(dc, i), vfnma(g, g, one));
  y[3] = vmul(vmul(dh, tc), vmul(o, vsub(one, o)));
  y[4] = vmul(dc, f);
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
// of a block adjacent: panel (u, q) [H][NR] holds W_hh[q H + u NR + c][p].
inline void pack_w_forward(const float* w_hh, int64_t H, float* dst) {
  const int64_t ublocks = (H + kNR - 1) / kNR;
  const Matrix Wt{w_hh, H, true};  // op = transpose of the stored [4H, H]
  parallel_for(ublocks * 4, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t u = t / 4, q = t % 4;
      const int64_t cols = std::min(kNR, H - u * kNR);
      pack_b_panel(Wt, 0, H, q * H + u * kNR, cols, dst + t * H * kNR);
    }
  });
}

// W_hh [4H, H] as the backward GEMM's B (dh = dgates W_hh): panel u [4H][NR].
inline void pack_w_backward(const float* w_hh, int64_t H, float* dst) {
  const int64_t ublocks = (H + kNR - 1) / kNR;
  const Matrix W{w_hh, H, false};
  parallel_for(ublocks, 1, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u)
      pack_b_panel(W, 0, 4 * H, u * kNR, std::min(kNR, H - u * kNR), dst + u * 4 * H * kNR);
  });
}

// Rows [r0, r0 + rows) of src [*, K] (row stride K) into MR-row panels [K][MR].
inline void pack_rows(const float* src, int64_t r0, int64_t rows, int64_t K, float* dst) {
  pack_a(Matrix{src, K, false}, r0, rows, 0, K, dst);
}

inline void lstm_forward(const LstmForward& a) {
  const int64_t T = a.T, B = a.B, H = a.H, G = 4 * H;
  const int64_t ublocks = (H + kNR - 1) / kNR;
  static thread_local std::vector<float> wbuf;
  float* wp = scratch(wbuf, ublocks * 4 * H * kNR);
  pack_w_forward(a.w_hh, H, wp);

  const int64_t band_tiles = lstm_band_tiles(B), band_rows = band_tiles * kMR;
  const int64_t bands = (B + band_rows - 1) / band_rows;
  auto band = [&](int64_t bi) {
    const int64_t r0 = bi * band_rows, rows = std::min(band_rows, B - r0);
    const int64_t tiles = (rows + kMR - 1) / kMR;
    // h_{t-1} of this band, packed for the GEMM; two buffers, read one, write the other.
    static thread_local std::vector<float> hbuf;
    float* hpack[2];
    hpack[0] = scratch(hbuf, 2 * tiles * H * kMR);
    hpack[1] = hpack[0] + tiles * H * kMR;
    pack_rows(a.h0, r0, rows, H, hpack[0]);
    alignas(64) float gates[4][kMR * kNR];
    alignas(64) float hout[kMR * kNR];
    for (int64_t t = 0; t < T; ++t) {
      const float* hp = hpack[t & 1];
      float* hnext = hpack[(t + 1) & 1];
      const float* xp = a.xproj + t * B * G;
      const float* cprev = t == 0 ? a.c0 : a.cs + (t - 1) * B * H;
      float* hs = a.hs + t * B * H;
      float* cs = a.cs + t * B * H;
      float* acts = a.acts + t * B * G;
      for (int64_t u = 0; u < ublocks; ++u) {
        const int64_t j0 = u * kNR, units = std::min(kNR, H - j0);
        for (int64_t ti = 0; ti < tiles; ++ti) {
          const int64_t rt = std::min(kMR, rows - ti * kMR);
          for (int64_t q = 0; q < 4; ++q)
            micro_kernel(H, hp + ti * H * kMR, wp + (u * 4 + q) * H * kNR, gates[q], kNR, 1.0f, 0.0f);
          for (int64_t r = 0; r < rt; ++r) {
            const int64_t row = r0 + ti * kMR + r;
            const float* x = xp + row * G + j0;
            float* act = acts + row * G + j0;
            // gates = h W_hhᵀ (the tile) + xproj, then the cell.
            for (int64_t q = 0; q < 4; ++q)
              for (int64_t j = 0; j < units; ++j) gates[q][r * kNR + j] += x[q * H + j];
            const float* in[5] = {gates[0] + r * kNR, gates[1] + r * kNR, gates[2] + r * kNR, gates[3] + r * kNR,
                                  cprev + row * H + j0};
            float* const out[6] = {act, act + H, act + 2 * H, act + 3 * H, cs + row * H + j0, hs + row * H + j0};
            for_vectors<5, 6>(units, in, out, cell_forward);
            for (int64_t j = 0; j < units; ++j) hout[r * kNR + j] = hs[row * H + j0 + j];
          }
          // h_t into the next step's packed A: element (row r, k = unit j) at [j][r].
          float* dst = hnext + ti * H * kMR + j0 * kMR;
          for (int64_t j = 0; j < units; ++j)
            for (int64_t r = 0; r < kMR; ++r) dst[j * kMR + r] = r < rt ? hout[r * kNR + j] : 0.0f;
        }
      }
    }
  };
  run_tasks(bands, TaskRef(band));
}

inline void lstm_backward(const LstmBackward& a) {
  const int64_t T = a.T, B = a.B, H = a.H, G = 4 * H;
  const int64_t ublocks = (H + kNR - 1) / kNR;
  static thread_local std::vector<float> wbuf;
  float* wp = scratch(wbuf, ublocks * G * kNR);
  pack_w_backward(a.w_hh, H, wp);

  const int64_t band_tiles = lstm_band_tiles(B), band_rows = band_tiles * kMR;
  const int64_t bands = (B + band_rows - 1) / band_rows;
  auto band = [&](int64_t bi) {
    const int64_t r0 = bi * band_rows, rows = std::min(band_rows, B - r0);
    const int64_t tiles = (rows + kMR - 1) / kMR;
    // dgates of the step after, packed as the GEMM's A: [tile][4H][MR]; two buffers.
    static thread_local std::vector<float> gbuf;
    float* gpack[2];
    gpack[0] = scratch(gbuf, 2 * tiles * G * kMR);
    gpack[1] = gpack[0] + tiles * G * kMR;
    // dc carried from step to step lives in dc0's rows, which end up holding dc_0.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < H; ++j)
        a.dc0[(r0 + r) * H + j] = a.g_c_last ? a.g_c_last[(r0 + r) * H + j] : 0.0f;
    alignas(64) float dh[kMR * kNR];
    alignas(64) float dg[4][kMR * kNR];
    for (int64_t t = T - 1; t >= -1; --t) {
      const float* gp = gpack[(t + 1) & 1];  // dgates[t + 1], packed (unused at t = T - 1)
      float* gnext = gpack[t & 1];
      for (int64_t u = 0; u < ublocks; ++u) {
        const int64_t j0 = u * kNR, units = std::min(kNR, H - j0);
        for (int64_t ti = 0; ti < tiles; ++ti) {
          const int64_t rt = std::min(kMR, rows - ti * kMR);
          // The recurrent part of dh_t: dgates[t + 1] W_hh.
          if (t < T - 1) micro_kernel(G, gp + ti * G * kMR, wp + u * G * kNR, dh, kNR, 1.0f, 0.0f);
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
            for (int64_t q = 0; q < 4; ++q)
              for (int64_t j = 0; j < units; ++j) dg[q][r * kNR + j] = dgo[q * H + j];
          }
          // dgates[t] into the packed A of the next GEMM: element (row r, k = q H + unit) at [k][r].
          float* dst = gnext + ti * G * kMR;
          for (int64_t q = 0; q < 4; ++q)
            for (int64_t j = 0; j < units; ++j) {
              float* d = dst + (q * H + j0 + j) * kMR;
              for (int64_t r = 0; r < kMR; ++r) d[r] = r < rt ? dg[q][r * kNR + j] : 0.0f;
            }
        }
      }
    }
  };
  run_tasks(bands, TaskRef(band));
}
