// The LSTM recurrence as one cooperative kernel per direction; the design, the
// work split and the expected timings are in lstm_persistent.h.
//   T = time, B = batch, H = hidden size, G = 4H; Bb rows and J units per block.
// The cell formulas are kernels/pointwise.h's, as in lstm.cu and the CPU.
#include "kernels/cuda/lstm_persistent.h"

#include <cooperative_groups.h>

#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "kernels/cuda/launch.h"
#include "kernels/pointwise.h"

namespace mg::cuda {

namespace {

namespace cg = cooperative_groups;

// The tiling assumes it: 256 threads x a 4 x 4 micro-tile = 4096 partial sums
// per block, and at most 1024 (row, unit) cells per block, 4 per thread.
constexpr int kBlockThreads = 256;
constexpr int kPartials = kBlockThreads * 16;
constexpr int kCellsPerThread = 4;
constexpr int kMaxRows = 64, kMaxUnits = 64, kMaxCells = kBlockThreads * kCellsPerThread;

// One block's GEMM: out[Bb, Nc] = in[Bb rows, K] . w[K, Nc], w in shared memory.
// Forward: K = H, Nc = 4J (column gate * J + u). Backward: K = 4H, Nc = J.
struct Tiling {
  int rows, units;              // Bb, J: powers of two in 4..64, rows * units <= kMaxCells
  int row_blocks, unit_blocks;  // ceil(B / Bb), ceil(H / J); block index = row block * unit_blocks + unit block
  int k, cols;                  // K, Nc
  int splits;                   // K is split over this many groups of the block's threads
  int tile_k;                   // K columns per staged tile; each split takes tile_k / splits of them
  int stage_ld;                 // tile_k + 4: for tile_k % 32 == 0, a warp's 4 or 8 rows lie on distinct banks
  int row_groups, col_groups;   // Bb / 4, Nc / 4: micro-tiles per split
  int warp_rows, warp_cols;     // a warp's micro-tiles as warp_rows x warp_cols (4 x 8 or 8 x 4 when possible)

  int blocks() const { return row_blocks * unit_blocks; }
  __host__ __device__ int chunk() const { return tile_k / splits; }
  // Floats: weights [K, Nc], two staged tiles [Bb, stage_ld], the partial sums.
  size_t smem_bytes() const {
    return sizeof(float) * (static_cast<size_t>(k) * cols + 2 * static_cast<size_t>(rows) * stage_ld + kPartials);
  }
};

struct ForwardArgs {
  const float* xproj;
  const float* w_hh;
  const float* h0;
  const float* c0;
  float* hs;
  float* cs;
  float* acts;
  int T, B, H;
  Tiling tiling;
};

struct BackwardArgs {
  const float* g_hs;
  int64_t gs_t, gs_b;
  const float* g_c_last;
  const float* w_hh;
  const float* acts;
  const float* cs;
  const float* c0;
  float* dgates;
  float* dh0;
  float* dc0;
  int T, B, H;
  Tiling tiling;
};

__host__ __device__ __forceinline__ int min_int(int a, int b) { return a < b ? a : b; }

__device__ __forceinline__ float* dynamic_shared() {
  extern __shared__ float4 lstm_persistent_smem[];  // float4: 16-byte aligned for the vector accesses
  return reinterpret_cast<float*>(lstm_persistent_smem);
}

__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ void store4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }

// Where a thread's micro-tile lies: rows row_group + i * row_groups (i < 4; interleaved, so a warp's row groups
// are adjacent rows on distinct banks) and columns 4 * col_group .. + 3, over K split `split`.
struct Place {
  int split, row_group, col_group;
};

__device__ __forceinline__ Place place_of(int tid, const Tiling& t) {
  const int per_split = t.row_groups * t.col_groups;
  const int s = tid % per_split;
  const int lane_col = s % t.warp_cols, lane_row = (s / t.warp_cols) % t.warp_rows;
  const int patch = s / (t.warp_cols * t.warp_rows), patches_across = t.col_groups / t.warp_cols;
  return {tid / per_split, (patch / patches_across) * t.warp_rows + lane_row,
          (patch % patches_across) * t.warp_cols + lane_col};
}

// A tile of `in` (rows of length K) into registers: columns k0 .. k0 + tile_k, rows past rows_valid and
// columns past K as zeros. At most rows * tile_k = 4096 floats: 4 float4 per thread.
__device__ __forceinline__ void fetch_tile(float4 (&v)[4], const float* in, int rows_valid, int k0, const Tiling& t) {
  const int per_row = t.tile_k / 4, count = t.rows * per_row;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int idx = threadIdx.x + q * kBlockThreads, row = idx / per_row, k = k0 + 4 * (idx % per_row);
    v[q] = make_float4(0.f, 0.f, 0.f, 0.f);
    if (idx < count && row < rows_valid && k < t.k) v[q] = load4(in + static_cast<int64_t>(row) * t.k + k);
  }
}

__device__ __forceinline__ void store_tile(const float4 (&v)[4], float* stage, const Tiling& t) {
  const int per_row = t.tile_k / 4, count = t.rows * per_row;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int idx = threadIdx.x + q * kBlockThreads;
    if (idx < count) store4(stage + (idx / per_row) * t.stage_ld + 4 * (idx % per_row), v[q]);
  }
}

// acc += the staged tile (K columns k0 ..) times w_s, over this thread's share of the tile.
__device__ __forceinline__ void multiply_tile(float (&acc)[4][4], const float* stage, const float* w_s, int k0,
                                              const Tiling& t, const Place& p) {
  const int begin = p.split * t.chunk(), end = min_int(begin + t.chunk(), t.k - k0);
  const float* a = stage + p.row_group * t.stage_ld;
  const float* w = w_s + static_cast<int64_t>(k0) * t.cols + 4 * p.col_group;
  const int a_step = t.row_groups * t.stage_ld;
#pragma unroll 2
  for (int kk = begin; kk < end; kk += 4) {
    float4 x[4], y[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) x[i] = load4(a + i * a_step + kk);
#pragma unroll
    for (int q = 0; q < 4; ++q) y[q] = load4(w + (kk + q) * t.cols);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float xs[4] = {x[i].x, x[i].y, x[i].z, x[i].w};
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        acc[i][0] += xs[q] * y[q].x;
        acc[i][1] += xs[q] * y[q].y;
        acc[i][2] += xs[q] * y[q].z;
        acc[i][3] += xs[q] * y[q].w;
      }
    }
  }
}

// The block's product in[rows, K] . w_s[K, Nc], in read from global memory (written by other blocks before the
// last grid barrier, so plain coherent loads), staged in tiles, double-buffered: the next tile's loads are in
// flight while the current one is multiplied. Leaves partials[split][row][col] for the cell code, after a
// block barrier.
__device__ void block_product(const float* in, int rows_valid, const float* w_s, float* stage, float* partials,
                              const Tiling& t, const Place& p) {
  float acc[4][4] = {};
  const int tiles = (t.k + t.tile_k - 1) / t.tile_k, stage_floats = t.rows * t.stage_ld;
  float4 next[4];
  fetch_tile(next, in, rows_valid, 0, t);
  store_tile(next, stage, t);
  __syncthreads();
  for (int i = 0; i < tiles; ++i) {
    const bool more = i + 1 < tiles;
    if (more) fetch_tile(next, in, rows_valid, (i + 1) * t.tile_k, t);
    multiply_tile(acc, stage + (i & 1) * stage_floats, w_s, i * t.tile_k, t, p);
    if (more) store_tile(next, stage + ((i + 1) & 1) * stage_floats, t);
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int row = p.row_group + i * t.row_groups;
    store4(partials + (p.split * t.rows + row) * t.cols + 4 * p.col_group,
           make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
  }
  __syncthreads();
}

// Output (row, col) of the block's product: its splits' partial sums, in split order.
__device__ __forceinline__ float product_at(const float* partials, int row, int col, const Tiling& t) {
  float s = 0.f;
  for (int k = 0; k < t.splits; ++k) s += partials[(k * t.rows + row) * t.cols + col];
  return s;
}

// A thread's cells: cell r is (row, unit) = divmod(threadIdx.x + r * 256, J) of the block's Bb x J, kept for
// all T steps (the c or dc it carries belongs to it).
struct Cells {
  int row[kCellsPerThread], unit[kCellsPerThread];  // block-local row, global unit
  bool valid[kCellsPerThread];
};

__device__ __forceinline__ Cells cells_of(int row0, int unit0, int B, int H, const Tiling& t) {
  Cells c;
#pragma unroll
  for (int r = 0; r < kCellsPerThread; ++r) {
    const int e = threadIdx.x + r * kBlockThreads;
    c.row[r] = e / t.units;
    c.unit[r] = unit0 + e % t.units;
    c.valid[r] = e < t.rows * t.units && row0 + c.row[r] < B && c.unit[r] < H;
  }
  return c;
}

// Forward weights: w_s[k, gate * J + u] = w_hh[gate * H + unit0 + u, k], zero past H. Consecutive threads take
// consecutive columns, so the transposing shared stores are conflict-free.
__device__ void load_forward_weights(float* w_s, const float* w_hh, int H, int unit0, const Tiling& t) {
  const int n = t.cols * (H / 4);
  for (int idx = threadIdx.x; idx < n; idx += kBlockThreads) {
    const int col = idx % t.cols, k = 4 * (idx / t.cols);
    const int gate = col / t.units, unit = unit0 + col % t.units;
    const float4 v = unit < H ? load4(w_hh + (static_cast<int64_t>(gate) * H + unit) * H + k)
                              : make_float4(0.f, 0.f, 0.f, 0.f);
    w_s[(k + 0) * t.cols + col] = v.x;
    w_s[(k + 1) * t.cols + col] = v.y;
    w_s[(k + 2) * t.cols + col] = v.z;
    w_s[(k + 3) * t.cols + col] = v.w;
  }
}

// Backward weights: w_s[n, u] = w_hh[n, unit0 + u] for n < 4H, zero past H (J and unit0 are multiples of 4).
__device__ void load_backward_weights(float* w_s, const float* w_hh, int H, int unit0, const Tiling& t) {
  const int per_row = t.units / 4, n = 4 * H * per_row;
  for (int idx = threadIdx.x; idx < n; idx += kBlockThreads) {
    const int row = idx / per_row, u = 4 * (idx % per_row);
    const float4 v = unit0 + u < H ? load4(w_hh + static_cast<int64_t>(row) * H + unit0 + u)
                                   : make_float4(0.f, 0.f, 0.f, 0.f);
    store4(w_s + row * t.units + u, v);
  }
}

// What both kernels start from: the dynamic shared memory cut into the
// weights, the staging tiles and the partial sums, and the block's place in
// the grid (its first unit and batch row; the last row block may be short).
struct BlockFrame {
  float* w_s;
  float* stage;
  float* partials;
  int unit0, row0, rows_valid;
};

__device__ __forceinline__ BlockFrame block_frame(const Tiling& t, int B) {
  BlockFrame f;
  f.w_s = dynamic_shared();
  f.stage = f.w_s + t.k * t.cols;
  f.partials = f.stage + 2 * t.rows * t.stage_ld;
  f.unit0 = (blockIdx.x % t.unit_blocks) * t.units;
  f.row0 = (blockIdx.x / t.unit_blocks) * t.rows;
  f.rows_valid = min_int(t.rows, B - f.row0);
  return f;
}

// Step t: gates = h_{t-1} W_hhᵀ + xproj_t on the block's rows and gate columns, then the cell.
__global__ void __launch_bounds__(kBlockThreads, 1) lstm_persistent_forward_kernel(ForwardArgs a) {
  const Tiling& t = a.tiling;
  const BlockFrame f = block_frame(t, a.B);
  float *w_s = f.w_s, *stage = f.stage, *partials = f.partials;
  const int unit0 = f.unit0, row0 = f.row0, rows_valid = f.rows_valid;
  const int64_t H = a.H, G = 4 * H, BH = a.B * H, BG = a.B * G;
  const Place p = place_of(threadIdx.x, t);
  const Cells cells = cells_of(row0, unit0, a.B, a.H, t);
  load_forward_weights(w_s, a.w_hh, a.H, unit0, t);  // visible after block_product's first barrier

  float c[kCellsPerThread];
#pragma unroll
  for (int r = 0; r < kCellsPerThread; ++r)
    c[r] = cells.valid[r] ? a.c0[(row0 + cells.row[r]) * H + cells.unit[r]] : 0.f;

  for (int step = 0; step < a.T; ++step) {
    // This step's projections, loaded before the product so that their latency hides under it.
    float x[kCellsPerThread][4];
#pragma unroll
    for (int r = 0; r < kCellsPerThread; ++r) {
#pragma unroll
      for (int g = 0; g < 4; ++g) x[r][g] = 0.f;
      if (!cells.valid[r]) continue;
      const float* xp = a.xproj + step * BG + (row0 + cells.row[r]) * G + cells.unit[r];
#pragma unroll
      for (int g = 0; g < 4; ++g) x[r][g] = xp[g * H];
    }
    const float* h_prev = step == 0 ? a.h0 : a.hs + (step - 1) * BH;
    block_product(h_prev + row0 * H, rows_valid, w_s, stage, partials, t, p);
#pragma unroll
    for (int r = 0; r < kCellsPerThread; ++r) {
      if (!cells.valid[r]) continue;
      const int u = cells.unit[r] - unit0;
      float pre[4];
#pragma unroll
      for (int g = 0; g < 4; ++g) pre[g] = product_at(partials, cells.row[r], g * t.units + u, t) + x[r][g];
      const auto cell = pointwise::lstm_cell_forward(pre[0], pre[1], pre[2], pre[3], c[r]);
      c[r] = cell.c;
      const int64_t i = step * BH + (row0 + cells.row[r]) * H + cells.unit[r];
      float* act = a.acts + step * BG + (row0 + cells.row[r]) * G + cells.unit[r];
      act[0] = cell.i;
      act[H] = cell.f;
      act[2 * H] = cell.g;
      act[3 * H] = cell.o;
      a.hs[i] = cell.h;
      a.cs[i] = cell.c;
    }
    if (step + 1 < a.T) cg::this_grid().sync();  // hs_t complete before anyone reads it
  }
}

// Step t (from T - 1 down): dh = dgates_{t+1} W_hh on the block's rows and unit columns (zero at T - 1), then
// the cell's backward, which writes dgates_t. After the last step, dh0 = dgates_0 W_hh.
__global__ void __launch_bounds__(kBlockThreads, 1) lstm_persistent_backward_kernel(BackwardArgs a) {
  const Tiling& t = a.tiling;
  const BlockFrame f = block_frame(t, a.B);
  float *w_s = f.w_s, *stage = f.stage, *partials = f.partials;
  const int unit0 = f.unit0, row0 = f.row0, rows_valid = f.rows_valid;
  const int64_t H = a.H, G = 4 * H, BH = a.B * H, BG = a.B * G;
  const Place p = place_of(threadIdx.x, t);
  const Cells cells = cells_of(row0, unit0, a.B, a.H, t);
  load_backward_weights(w_s, a.w_hh, a.H, unit0, t);

  float dc[kCellsPerThread];  // the gradient reaching c_t from step t + 1 (from g_c_last at T - 1)
#pragma unroll
  for (int r = 0; r < kCellsPerThread; ++r)
    dc[r] = cells.valid[r] && a.g_c_last ? a.g_c_last[(row0 + cells.row[r]) * H + cells.unit[r]] : 0.f;

  for (int step = a.T - 1; step >= 0; --step) {
    // What the cell needs besides dh, loaded before the product so that their latency hides under it.
    float act[kCellsPerThread][4], c_now[kCellsPerThread], c_prev[kCellsPerThread], gh[kCellsPerThread];
#pragma unroll
    for (int r = 0; r < kCellsPerThread; ++r) {
#pragma unroll
      for (int g = 0; g < 4; ++g) act[r][g] = 0.f;
      c_now[r] = c_prev[r] = gh[r] = 0.f;
      if (!cells.valid[r]) continue;
      const int64_t b = row0 + cells.row[r], j = cells.unit[r];
      const float* ap = a.acts + step * BG + b * G + j;
#pragma unroll
      for (int g = 0; g < 4; ++g) act[r][g] = ap[g * H];
      c_now[r] = a.cs[step * BH + b * H + j];
      c_prev[r] = step > 0 ? a.cs[(step - 1) * BH + b * H + j] : a.c0[b * H + j];
      if (a.g_hs) gh[r] = a.g_hs[step * a.gs_t + b * a.gs_b + j];
    }
    const bool has_dh = step + 1 < a.T;
    if (has_dh) block_product(a.dgates + (step + 1) * BG + row0 * G, rows_valid, w_s, stage, partials, t, p);
#pragma unroll
    for (int r = 0; r < kCellsPerThread; ++r) {
      if (!cells.valid[r]) continue;
      const float dh = has_dh ? product_at(partials, cells.row[r], cells.unit[r] - unit0, t) : 0.f;
      const auto cell = pointwise::lstm_cell_backward(gh[r] + dh, dc[r], act[r][0], act[r][1], act[r][2],
                                                      act[r][3], c_prev[r], c_now[r]);
      dc[r] = cell.dc_prev;
      float* dg = a.dgates + step * BG + (row0 + cells.row[r]) * G + cells.unit[r];
      dg[0] = cell.di;
      dg[H] = cell.df;
      dg[2 * H] = cell.dg;
      dg[3 * H] = cell.dout;
    }
    cg::this_grid().sync();  // dgates_t complete before anyone reads it
  }
  block_product(a.dgates + row0 * G, rows_valid, w_s, stage, partials, t, p);
#pragma unroll
  for (int r = 0; r < kCellsPerThread; ++r) {
    if (!cells.valid[r]) continue;
    const int64_t i = (row0 + cells.row[r]) * H + cells.unit[r];
    a.dh0[i] = product_at(partials, cells.row[r], cells.unit[r] - unit0, t);
    a.dc0[i] = dc[r];
  }
}

// ---- host side: choosing a tiling and checking that all its blocks can be resident at once.

enum Direction { kForward = 0, kBackward = 1 };

struct DeviceLimits {
  int sms = 0;
  int smem_per_block = 0;  // the opt-in maximum of dynamic shared memory, less the kernels' static use
  bool cooperative = false;
};

template <typename Kernel>
int settle_smem_limit(Kernel kernel, int optin) {
  cudaFuncAttributes attr{};
  MG_CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
  const int limit = optin - static_cast<int>(attr.sharedSizeBytes);
  MG_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit));
  return limit;
}

// Per device, once: SM count, cooperative launch support, and both kernels allowed the opt-in shared memory
// (the occupancy query below counts only what a kernel is allowed).
const DeviceLimits& device_limits(int device) {
  static std::mutex mu;
  static std::map<int, DeviceLimits> known;
  const std::lock_guard<std::mutex> lock(mu);
  auto it = known.find(device);
  if (it != known.end()) return it->second;
  DeviceLimits d;
  int optin = 0, coop = 0;
  MG_CUDA_CHECK(cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, device));
  MG_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  MG_CUDA_CHECK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device));
  d.cooperative = coop != 0;
  d.smem_per_block = min_int(settle_smem_limit(lstm_persistent_forward_kernel, optin),
                             settle_smem_limit(lstm_persistent_backward_kernel, optin));
  return known.emplace(device, d).first->second;
}

Tiling make_tiling(Direction dir, int rows, int units, int B, int H) {
  Tiling t{};
  t.rows = rows;
  t.units = units;
  t.row_blocks = (B + rows - 1) / rows;
  t.unit_blocks = (H + units - 1) / units;
  t.k = dir == kForward ? H : 4 * H;
  t.cols = dir == kForward ? 4 * units : units;
  t.row_groups = rows / 4;
  t.col_groups = t.cols / 4;
  t.splits = kBlockThreads / (t.row_groups * t.col_groups);
  // 64 columns per tile, more when there are many splits (each takes at least 16 per tile), at most 4096 floats,
  // and no more than K needs (each split's share a multiple of 4).
  const int share = 4 * t.splits, k_needed = (t.k + share - 1) / share * share;
  int tile_k = 16 * t.splits;
  if (tile_k < 64) tile_k = 64;
  if (tile_k > kPartials / rows) tile_k = kPartials / rows;
  if (tile_k > k_needed) tile_k = k_needed;
  t.tile_k = tile_k;
  t.stage_ld = tile_k + 4;
  t.warp_cols = min_int(t.col_groups, 8);
  t.warp_rows = min_int(t.row_groups, 32 / t.warp_cols);
  return t;
}

// Clocks per step on one SM, roughly: FMAs of the busiest SM at 128 per clock, plus the grid's L2 reads at
// 2 KiB per clock (~4 TB/s at 2 GHz; not fully hidden under the FMAs, so added). Larger J reads h (or dgates)
// fewer times; smaller tiles spread the FMAs over more SMs.
double step_cost(const Tiling& t, int sms) {
  const double per_sm = (t.blocks() + sms - 1) / sms;
  const double fma = per_sm * t.rows * static_cast<double>(t.cols) * t.k / 128.0;
  const double l2 = static_cast<double>(t.blocks()) * t.rows * t.k * sizeof(float) / 2048.0;
  return fma + l2;
}

template <typename Kernel>
std::optional<Tiling> choose_tiling(Direction dir, int B, int H, const DeviceLimits& d, Kernel kernel) {
  std::optional<Tiling> best;
  double best_cost = 0;
  for (int rows = 4; rows <= kMaxRows; rows *= 2) {
    for (int units = 4; units <= kMaxUnits; units *= 2) {
      if (rows * units > kMaxCells) continue;
      const Tiling t = make_tiling(dir, rows, units, B, H);
      if (t.smem_bytes() > static_cast<size_t>(d.smem_per_block)) continue;
      int per_sm = 0;
      MG_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kBlockThreads, t.smem_bytes()));
      if (static_cast<int64_t>(per_sm) * d.sms < t.blocks()) continue;
      const double cost = step_cost(t, d.sms);
      if (!best || cost < best_cost || (cost == best_cost && t.blocks() < best->blocks())) {
        best = t;
        best_cost = cost;
      }
    }
  }
  return best;
}

// The tiling for this device and shape, or none when no tiling can be resident; cached per shape.
template <typename Kernel>
std::optional<Tiling> tiling_for(Direction dir, int B, int H, Kernel kernel) {
  if (B < 1 || H < 4 || H % 4 != 0) return std::nullopt;
  int device = 0;
  MG_CUDA_CHECK(cudaGetDevice(&device));
  const DeviceLimits& d = device_limits(device);
  if (!d.cooperative) return std::nullopt;
  static std::mutex mu;
  static std::map<std::tuple<int, int, int, int>, std::optional<Tiling>> known;
  const std::lock_guard<std::mutex> lock(mu);
  const auto key = std::make_tuple(device, static_cast<int>(dir), B, H);
  auto it = known.find(key);
  if (it == known.end()) it = known.emplace(key, choose_tiling(dir, B, H, d, kernel)).first;
  return it->second;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// A cooperative launch that finds too few SMs free (another context holding
// some, say) is refused, not queued: that is "cannot run here", as for any
// other constraint; every other error is one.
bool launched(cudaError_t err) {
  if (err == cudaErrorCooperativeLaunchTooLarge) {
    cudaGetLastError();  // clear it, so the next kernel's check does not report it
    return false;
  }
  MG_CUDA_CHECK(err);
  return true;
}

}  // namespace

bool lstm_persistent_forward(const float* xproj, const float* w_hh, const float* h0, const float* c0, float* hs,
                             float* cs, float* acts, int T, int B, int H) {
  if (T < 1 || !aligned16(w_hh) || !aligned16(h0) || !aligned16(hs)) return false;
  const std::optional<Tiling> t = tiling_for(kForward, B, H, lstm_persistent_forward_kernel);
  if (!t) return false;
  ForwardArgs a{xproj, w_hh, h0, c0, hs, cs, acts, T, B, H, *t};
  void* args[] = {&a};
  return launched(cudaLaunchCooperativeKernel(lstm_persistent_forward_kernel, dim3(t->blocks()), dim3(kBlockThreads),
                                              args, t->smem_bytes(), 0));
}

bool lstm_persistent_backward(const float* g_hs, int64_t gs_t, int64_t gs_b, const float* g_c_last,
                              const float* w_hh, const float* acts, const float* cs, const float* c0, float* dgates,
                              float* dh0, float* dc0, int T, int B, int H) {
  if (T < 1 || !aligned16(w_hh) || !aligned16(dgates)) return false;
  const std::optional<Tiling> t = tiling_for(kBackward, B, H, lstm_persistent_backward_kernel);
  if (!t) return false;
  BackwardArgs a{g_hs, gs_t, gs_b, g_c_last, w_hh, acts, cs, c0, dgates, dh0, dc0, T, B, H, *t};
  void* args[] = {&a};
  return launched(cudaLaunchCooperativeKernel(lstm_persistent_backward_kernel, dim3(t->blocks()), dim3(kBlockThreads),
                                              args, t->smem_bytes(), 0));
}

}  // namespace mg::cuda
