// SGEMM on the GPU, one step of optimisation at a time: C = A B in fp32 on
// the CUDA cores (no tensor cores, no TF32), five numbered kernels beside
// cuBLAS. Each version is checked against cuBLAS over the whole of C before
// it is timed; cuBLAS itself is checked against fp64 sums on the host.
//   bench_sgemm_cuda [--sizes 1024,2048,4096,8192] [--repeats 10] [--warmup 2] [--versions 1,2,3,4,5]
//
// M, N, K: A is [M, K], B is [K, N], C is [M, N], all row-major and dense.
// The program runs square sizes; the kernels take M, N and K apart, and
// assume each is a multiple of 128 (the largest block tile), so no kernel
// needs bounds checks. Indices are 32-bit: sizes stop at 16384.
//
//   v1 naive           one thread per C entry: the reference kernel
//   v2 shared tiles    32x32 tiles of A and B staged in shared memory
//   v3 block tiles     128x128 block tile, BK = 8, an 8x8 micro-tile of C per thread
//   v4 vectorised      v3 with float4 loads, A transposed in shared memory, double buffering
//   v5 warp tiles      v4 with each warp owning a 64x32 piece of C: no shared-memory bank conflicts
//
// The expected best is v5: it does v4's work with a third less
// shared-memory traffic per FMA and without bank conflicts, so the inner
// loop is FMAs plus four conflict-free 128-bit shared loads per 64 FMAs.
//
// cuBLAS runs with CUBLAS_DEFAULT_MATH: the plain fp32 path, which uses TF32
// tensor cores only when asked (CUBLAS_TF32_TENSOR_OP_MATH). The fp64 check
// below would flag TF32 if it were used anyway.
//
// Accuracy. Each entry's error is divided by its entry of |A| |B|,
// sum_k |a_ik| |b_kj|: the scale in which rounding-error bounds are stated.
// With these inputs (independent, uniform in [-1, 1]) an fp32 sum of the K
// products, sequential or blocked, lands within a few units of 2^-24 ~ 6e-8
// of the exact sum on that scale, whatever K (at most 3e-7 over 4000 such
// sums at each K = 128..8192). TF32 inputs (a 10-bit mantissa) miss by about
// 3e-4 / sqrt(K) on average, so the largest of 64 samples is near 1e-5 at
// K = 8192; a dropped or repeated term misses by about 1/K. One tolerance,
// 4e-6, serves both checks: over 10x above fp32 rounding, below TF32 and
// below indexing bugs. (The worst-case bound K * 2^-24, or 1e-5 * sqrt(K),
// would let TF32 pass.)
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

constexpr const char* kProgram = "bench_sgemm_cuda";
constexpr int kSizeMultiple = 128;   // the block tile of v3..v5
constexpr int kMaxSize = 16384;      // keeps every index below 2^31
constexpr double kTolerance = 4e-6;  // see "Accuracy" above

[[noreturn]] void die_call(const char* call, const char* what) {
  std::fprintf(stderr, "%s: %s failed: %s\n", kProgram, call, what);
  std::exit(1);
}

// Every runtime and cuBLAS call goes through these: a failure is one line
// naming the call, and exit status 1.
#define CHECK_CUDA(call)                                                      \
  do {                                                                        \
    const cudaError_t status_ = (call);                                       \
    if (status_ != cudaSuccess) die_call(#call, cudaGetErrorString(status_)); \
  } while (0)

#define CHECK_CUBLAS(call)                                                                 \
  do {                                                                                     \
    const cublasStatus_t status_ = (call);                                                 \
    if (status_ != CUBLAS_STATUS_SUCCESS) die_call(#call, cublasGetStatusString(status_)); \
  } while (0)

// ---------------------------------------------------------------------------
// v1 naive: thread (x, y) of block (bx, by) computes C[by*32 + y][bx*32 + x]
// as a dot product straight from global memory. A warp's 32 threads share
// a row, so per k they read one A entry (a broadcast) and 32 consecutive B
// entries (one coalesced 128-byte load). Still, every load feeds a single
// FMA, and each row of B is fetched again by every warp: the kernel is
// bound by L1/L2 bandwidth, far below the FMA units.
//   grid (N/32, M/32), block (32, 32)
// ---------------------------------------------------------------------------
constexpr int kNaiveTile = 32;

__global__ void sgemm_v1_naive(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                               float* __restrict__ C) {
  const int row = blockIdx.y * kNaiveTile + threadIdx.y;
  const int col = blockIdx.x * kNaiveTile + threadIdx.x;
  float acc = 0.0f;
  for (int k = 0; k < K; ++k) acc += A[row * K + k] * B[k * N + col];
  C[row * N + col] = acc;
}

// ---------------------------------------------------------------------------
// v2 shared tiles: the block works through K in 32-wide steps. Each step its
// 1024 threads copy one 32x32 tile of A and one of B into shared memory (one
// entry each, coalesced), then every thread takes its 32 products from
// there. The block fetches each entry of its tiles from global memory once,
// where v1's 32 warps each fetched the whole B tile. But every FMA still
// takes two shared loads (A's a broadcast, B's one word per thread), so
// shared-memory bandwidth is the new limit.
//   grid (N/32, M/32), block (32, 32)
// ---------------------------------------------------------------------------
constexpr int kSmemTile = 32;

__global__ void sgemm_v2_smem(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                              float* __restrict__ C) {
  __shared__ float As[kSmemTile][kSmemTile];  // As[r][k] = A[row0 + r][k0 + k]
  __shared__ float Bs[kSmemTile][kSmemTile];  // Bs[k][c] = B[k0 + k][col0 + c]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * kSmemTile + ty;
  const int col = blockIdx.x * kSmemTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kSmemTile) {
    As[ty][tx] = A[row * K + k0 + tx];
    Bs[ty][tx] = B[(k0 + ty) * N + col];
    __syncthreads();  // the tiles are complete
#pragma unroll
    for (int k = 0; k < kSmemTile; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();  // everyone is done with them before the next step overwrites them
  }
  C[row * N + col] = acc;
}

// ---------------------------------------------------------------------------
// v3..v5 share the block tile: 256 threads compute a 128x128 tile of C,
// walking K in steps of BK = 8, each thread an 8x8 micro-tile (64
// accumulators in registers). __launch_bounds__(256, 2) holds a thread to
// 128 registers, so two blocks share an SM and one block's barrier waits
// hide behind the other's FMAs.
// ---------------------------------------------------------------------------
constexpr int BM = 128;             // block tile rows (of C and A)
constexpr int BN = 128;             // block tile columns (of C and B)
constexpr int BK = 8;               // K step: the A tile is BM x BK, the B tile BK x BN
constexpr int TM = 8;               // micro-tile rows per thread
constexpr int TN = 8;               // micro-tile columns per thread
constexpr int kBlockThreads = 256;  // (BM / TM) * (BN / TN)
static_assert((BM / TM) * (BN / TN) == kBlockThreads, "one micro-tile per thread");

// v3 block tiles (2-D blocktiling): a thread keeps 8 A values and 8 B values
// in registers per k and multiplies them as an outer product into its 8x8
// accumulators: 64 FMAs per 16 shared loads, where v2 needed two loads per
// FMA. From global memory a block loads 128 + 128 entries per k for
// 128 x 128 FMAs: 64 FMAs per entry (v2's 32x32 tiles: 16).
//   grid (N/128, M/128), block 256; thread t owns rows tr*8 .. tr*8+7 and
//   columns tc*8 .. tc*8+7 of the block tile, tr = t / 16, tc = t % 16.
__global__ void __launch_bounds__(kBlockThreads, 2)
    sgemm_v3_blocktile(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                       float* __restrict__ C) {
  __shared__ float As[BM][BK];  // As[r][k] = A[row0 + r][k0 + k]
  __shared__ float Bs[BK][BN];  // Bs[k][c] = B[k0 + k][col0 + c]
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  const int tr = threadIdx.x / (BN / TN), tc = threadIdx.x % (BN / TN);
  // Copying the tiles: A's 128x8 tile as 4 passes of 32 rows (8 threads per
  // row), B's 8x128 tile as 4 passes of 2 rows (128 threads per row).
  const int a_r = threadIdx.x / BK, a_k = threadIdx.x % BK;
  const int b_k = threadIdx.x / BN, b_c = threadIdx.x % BN;
  constexpr int kARowsPerPass = kBlockThreads / BK;  // 32
  constexpr int kBRowsPerPass = kBlockThreads / BN;  // 2

  float acc[TM][TN] = {};
  for (int k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
    for (int r = 0; r < BM; r += kARowsPerPass) As[a_r + r][a_k] = A[(row0 + a_r + r) * K + k0 + a_k];
#pragma unroll
    for (int k = 0; k < BK; k += kBRowsPerPass) Bs[b_k + k][b_c] = B[(k0 + b_k + k) * N + col0 + b_c];
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = As[tr * TM + i][k];
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = Bs[k][tc * TN + j];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) C[(row0 + tr * TM + i) * N + col0 + tc * TN + j] = acc[i][j];
}

// ---------------------------------------------------------------------------
// v4 and v5 run the same pipeline and differ only in where a thread's 8x8
// micro-tile lies in the block tile. Over v3 the pipeline adds:
// - 128-bit global loads: per k-step a thread fetches 4 consecutive A
//   entries and 4 consecutive B entries with one float4 load each (v3: 8
//   scalar loads).
// - A stored transposed in shared memory (As[k][r]), so a thread's column
//   of 8 A values for one k is contiguous and comes in two float4 loads, as
//   its 8 B values do: 4 shared loads per 64 FMAs instead of 16.
// - Double buffering: two shared buffers per operand. While the block
//   multiplies out of one, each thread has already issued its global loads
//   for the next k-step into registers, and stores them into the other
//   buffer afterwards. The global-load latency hides behind 512 FMAs, and
//   one __syncthreads per k-step suffices (v3 needs two).
//
// A thread's micro-tile is two 4-row groups by two 4-column groups:
//   rows    row0 + row_base + {0, row_step} + {0, 1, 2, 3}
//   columns col0 + col_base + {0, col_step} + {0, 1, 2, 3}
// so its A values for one k are two float4 at As[k][row_base] and
// As[k][row_base + row_step], and likewise for B.
//
// v4 (vectorised, double-buffered): row_step = col_step = 4, i.e. v3's
// contiguous 8x8 at tr*8, tc*8. A warp then spans 16 rows x 128 columns of
// C: per k it reads 144 distinct values from shared memory, and the B reads
// (16 float4 at a stride of 32 bytes) meet 2-way bank conflicts.
//
// v5 (warp tiles): the 8 warps tile the block 2 x 4, each warp a 64x32
// piece of C; its 32 lanes sit 8 x 4 with row_step = 32, col_step = 16.
// A warp then reads 64 + 32 = 96 distinct values per k (a third fewer
// than v4), and each of its float4 reads covers consecutive addresses (8
// lanes x 16 bytes for A, 4 lanes x 16 bytes for B), so no bank conflicts.
// The A tile's rows are also padded from 128 to 132 floats, which makes the
// transposing scalar stores conflict-free as well (v4's are 2-way).
//   grid (N/128, M/128), block 256
// ---------------------------------------------------------------------------
enum class MicroTile { Contiguous, WarpTiled };

__device__ __forceinline__ float4 load_float4(const float* p) { return *reinterpret_cast<const float4*>(p); }

template <MicroTile kPlacement>
__device__ __forceinline__ void sgemm_double_buffered(int N, int K, const float* __restrict__ A,
                                                      const float* __restrict__ B, float* __restrict__ C) {
  constexpr int kPadA = kPlacement == MicroTile::WarpTiled ? 4 : 0;  // a multiple of 4 keeps float4 alignment
  __shared__ __align__(16) float As[2][BK][BM + kPadA];  // As[buf][k][r] = A[row0 + r][k0 + k]
  __shared__ __align__(16) float Bs[2][BK][BN];          // Bs[buf][k][c] = B[k0 + k][col0 + c]
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;

  int row_base, row_step, col_base, col_step;
  if constexpr (kPlacement == MicroTile::Contiguous) {
    row_base = threadIdx.x / (BN / TN) * TM;  // tr * 8, tr in 0..15
    col_base = threadIdx.x % (BN / TN) * TN;  // tc * 8, tc in 0..15
    row_step = 4;
    col_step = 4;
  } else {
    constexpr int WM = 64, WN = 32;  // a warp's piece of the block tile
    static_assert((BM / WM) * (BN / WN) * 32 == kBlockThreads, "one warp tile per warp");
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int warp_r = warp / (BN / WN), warp_c = warp % (BN / WN);  // 0..1, 0..3
    const int lane_r = lane / 4, lane_c = lane % 4;                  // 0..7, 0..3
    row_base = warp_r * WM + lane_r * 4;
    col_base = warp_c * WN + lane_c * 4;
    row_step = WM / 2;  // the lanes' first 4-row groups cover rows 0..31 of the warp tile, the second 32..63
    col_step = WN / 2;  // likewise columns 0..15 and 16..31
  }

  // Copying one k-step's tiles: thread t fetches A[row0 + t/2][k0 + (t%2)*4 ..+3]
  // (two threads cover a row's 8 entries, 32 contiguous bytes) and
  // B[k0 + t/32][col0 + (t%32)*4 ..+3] (32 threads cover a row's 128 entries).
  const int a_r = threadIdx.x / 2, a_k = threadIdx.x % 2 * 4;
  const int b_k = threadIdx.x / 32, b_c = threadIdx.x % 32 * 4;
  const float* a_src = A + (row0 + a_r) * K + a_k;  // + k0 for the k-step at k0
  const float* b_src = B + b_k * N + col0 + b_c;    // + k0 * N
  auto store_tiles = [&](int buf, float4 a, float4 b) {
    As[buf][a_k + 0][a_r] = a.x;
    As[buf][a_k + 1][a_r] = a.y;
    As[buf][a_k + 2][a_r] = a.z;
    As[buf][a_k + 3][a_r] = a.w;
    *reinterpret_cast<float4*>(&Bs[buf][b_k][b_c]) = b;
  };

  // acc[i][j] is C[row0 + row_base + i / 4 * row_step + i % 4][col0 + col_base + j / 4 * col_step + j % 4].
  float acc[TM][TN] = {};
  float4 a_next = load_float4(a_src), b_next = load_float4(b_src);
  store_tiles(0, a_next, b_next);
  __syncthreads();
  const int steps = K / BK;
  for (int s = 0; s < steps; ++s) {
    const int cur = s % 2;
    const bool more = s + 1 < steps;
    if (more) {  // issued now, consumed after the FMAs below
      a_next = load_float4(a_src + (s + 1) * BK);
      b_next = load_float4(b_src + (s + 1) * BK * N);
    }
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      const float4 a_lo = load_float4(&As[cur][k][row_base]), a_hi = load_float4(&As[cur][k][row_base + row_step]);
      const float4 b_lo = load_float4(&Bs[cur][k][col_base]), b_hi = load_float4(&Bs[cur][k][col_base + col_step]);
      const float a[TM] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
      const float b[TN] = {b_lo.x, b_lo.y, b_lo.z, b_lo.w, b_hi.x, b_hi.y, b_hi.z, b_hi.w};
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    // The other buffer was last read in step s - 1, before that step's
    // closing barrier, so it is free; the barrier below publishes it for
    // step s + 1 and, at the same time, frees this one for step s + 2.
    if (more) store_tiles(cur ^ 1, a_next, b_next);
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int row = row0 + row_base + i / 4 * row_step + i % 4;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int col = col0 + col_base + half * col_step;
      *reinterpret_cast<float4*>(&C[row * N + col]) =
          make_float4(acc[i][half * 4 + 0], acc[i][half * 4 + 1], acc[i][half * 4 + 2], acc[i][half * 4 + 3]);
    }
  }
}

__global__ void __launch_bounds__(kBlockThreads, 2)
    sgemm_v4_vectorized(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                        float* __restrict__ C) {
  sgemm_double_buffered<MicroTile::Contiguous>(N, K, A, B, C);
}

__global__ void __launch_bounds__(kBlockThreads, 2)
    sgemm_v5_warptile(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                      float* __restrict__ C) {
  sgemm_double_buffered<MicroTile::WarpTiled>(N, K, A, B, C);
}

// ---------------------------------------------------------------------------
// Host side: launches, cuBLAS, checks, timing.
// ---------------------------------------------------------------------------
using LaunchFn = void (*)(int M, int N, int K, const float* A, const float* B, float* C);

void launch_v1(int M, int N, int K, const float* A, const float* B, float* C) {
  sgemm_v1_naive<<<dim3(N / kNaiveTile, M / kNaiveTile), dim3(kNaiveTile, kNaiveTile)>>>(M, N, K, A, B, C);
}
void launch_v2(int M, int N, int K, const float* A, const float* B, float* C) {
  sgemm_v2_smem<<<dim3(N / kSmemTile, M / kSmemTile), dim3(kSmemTile, kSmemTile)>>>(M, N, K, A, B, C);
}
void launch_v3(int M, int N, int K, const float* A, const float* B, float* C) {
  sgemm_v3_blocktile<<<dim3(N / BN, M / BM), kBlockThreads>>>(M, N, K, A, B, C);
}
void launch_v4(int M, int N, int K, const float* A, const float* B, float* C) {
  sgemm_v4_vectorized<<<dim3(N / BN, M / BM), kBlockThreads>>>(M, N, K, A, B, C);
}
void launch_v5(int M, int N, int K, const float* A, const float* B, float* C) {
  sgemm_v5_warptile<<<dim3(N / BN, M / BM), kBlockThreads>>>(M, N, K, A, B, C);
}

struct Version {
  const char* name;
  LaunchFn launch;
  int max_size;  // larger sizes are skipped
};

// Version v is kVersions[v - 1]. v1 stops at 4096, to keep the default run
// short: at 8192 its launches alone would take seconds, and its row would
// only repeat the lesson of 4096.
const Version kVersions[] = {
    {"v1 naive", launch_v1, 4096},
    {"v2 shared tiles", launch_v2, kMaxSize},
    {"v3 block tiles", launch_v3, kMaxSize},
    {"v4 vectorised", launch_v4, kMaxSize},
    {"v5 warp tiles", launch_v5, kMaxSize},
};
constexpr int kVersionCount = sizeof(kVersions) / sizeof(kVersions[0]);

// Row-major C = A B through column-major cuBLAS: a row-major matrix read
// column-major is its transpose, so compute C^T [N, M] = B^T [N, K] A^T [K, M]
// with the operands swapped and each leading dimension its row length.
void cublas_sgemm(cublasHandle_t handle, int M, int N, int K, const float* A, const float* B, float* C) {
  const float one = 1.0f, zero = 0.0f;
  CHECK_CUBLAS(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, B, N, A, K, &zero, C, N));
}

// Deterministic inputs: a 64-bit LCG whose top 24 bits give a float in [-1, 1).
struct Lcg {
  uint64_t state;
  uint64_t next() { return state = state * 6364136223846793005ull + 1442695040888963407ull; }
  float uniform_pm1() { return static_cast<float>(next() >> 40) * 0x1.0p-23f - 1.0f; }
};

// Largest |x - ref| / scale over all entries; an unwritten entry (the NaN
// the output was poisoned with) counts as infinitely wrong.
double max_rel_err(const std::vector<float>& x, const std::vector<float>& ref, const std::vector<float>& scale) {
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = std::fabs(static_cast<double>(x[i]) - ref[i]) / std::max(static_cast<double>(scale[i]), 1e-30);
    if (std::isnan(e)) return INFINITY;
    worst = std::max(worst, e);
  }
  return worst;
}

struct Options {
  std::vector<int> sizes = {1024, 2048, 4096, 8192};
  int repeats = 10;
  int warmup = 2;
  std::vector<int> versions = {1, 2, 3, 4, 5};
};

void print_usage() {
  std::printf(
      "usage: %s [--sizes 1024,2048,4096,8192] [--repeats 10] [--warmup 2] [--versions 1,2,3,4,5]\n"
      "  fp32 C = A B for square sizes (multiples of %d, at most %d) by the numbered CUDA\n"
      "  kernels and by cuBLAS; each is checked against cuBLAS before it is timed.\n"
      "  v1 naive, v2 shared tiles, v3 block tiles, v4 vectorised, v5 warp tiles.\n",
      kProgram, kSizeMultiple, kMaxSize);
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "%s: %s (see --help)\n", kProgram, message.c_str());
  std::exit(2);
}

int parse_int(const std::string& flag, const std::string& text, int lo, int hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    usage_error(flag + ": '" + text + "' is not an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                "]");
  return static_cast<int>(v);
}

std::vector<int> parse_list(const std::string& flag, const std::string& text, int lo, int hi) {
  std::vector<int> out;
  size_t begin = 0;
  while (true) {
    const size_t comma = text.find(',', begin);
    out.push_back(parse_int(flag, text.substr(begin, comma - begin), lo, hi));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return out;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i], value;
    if (flag == "--help" || flag == "-h") {
      print_usage();
      std::exit(0);
    }
    const size_t eq = flag.find('=');
    const bool inline_value = eq != std::string::npos;  // --flag=value
    if (inline_value) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    if (flag != "--sizes" && flag != "--repeats" && flag != "--warmup" && flag != "--versions")
      usage_error("unknown argument '" + std::string(argv[i]) + "'");
    if (!inline_value) {
      if (i + 1 == argc) usage_error(flag + " needs a value");
      value = argv[++i];
    }
    if (flag == "--sizes") {
      o.sizes = parse_list(flag, value, 1, kMaxSize);
      for (int s : o.sizes)
        if (s % kSizeMultiple != 0)
          usage_error("--sizes: " + std::to_string(s) + " is not a multiple of " + std::to_string(kSizeMultiple));
    } else if (flag == "--repeats") {
      o.repeats = parse_int(flag, value, 1, 100000);
    } else if (flag == "--warmup") {
      o.warmup = parse_int(flag, value, 0, 100000);
    } else {
      o.versions = parse_list(flag, value, 1, kVersionCount);
      std::sort(o.versions.begin(), o.versions.end());
      o.versions.erase(std::unique(o.versions.begin(), o.versions.end()), o.versions.end());
    }
  }
  return o;
}

// One row of the results table.
struct Row {
  std::string name;
  std::string status;  // "" when timed, else FAILED, skipped or unchecked (cuBLAS failed its check)
  double ms = -1.0;    // < 0: not timed
  double err = -1.0;   // < 0: not checked
};

void print_table(int n, const std::vector<Row>& rows) {
  const double flops = 2.0 * n * static_cast<double>(n) * n;
  const double cublas_ms = rows.front().ms;
  std::printf("| %-16s | %10s | %8s | %11s | %11s |\n", "version", "median ms", "TFLOP/s", "% of cuBLAS",
              "max rel err");
  std::printf("|------------------|------------|----------|-------------|-------------|\n");
  for (const Row& r : rows) {
    char err[32] = "";
    if (r.err >= 0) std::snprintf(err, sizeof err, "%.1e", r.err);
    if (r.ms < 0) {
      std::printf("| %-16s | %10s | %8s | %11s | %11s |\n", r.name.c_str(), r.status.c_str(), "", "", err);
    } else {
      const double pct = cublas_ms > 0 ? 100.0 * cublas_ms / r.ms : 0.0;
      std::printf("| %-16s | %10.4f | %8.2f | %10.1f%% | %11s |\n", r.name.c_str(), r.ms, flops / (r.ms * 1e-3) / 1e12,
                  pct, err);
    }
  }
}

// Checks and times every selected version at n x n x n; returns the number
// of failed checks (cuBLAS's included).
int run_size(cublasHandle_t handle, int n, const Options& opt) {
  const size_t count = static_cast<size_t>(n) * n;
  const size_t bytes = count * sizeof(float);
  std::printf("\nM = N = K = %d\n", n);

  std::vector<float> a(count), b(count);
  Lcg rng{0x5eed5eedull};
  for (float& v : a) v = rng.uniform_pm1();
  for (float& v : b) v = rng.uniform_pm1();

  float *d_a = nullptr, *d_b = nullptr, *d_c = nullptr;
  CHECK_CUDA(cudaMalloc(&d_a, bytes));
  CHECK_CUDA(cudaMalloc(&d_b, bytes));
  CHECK_CUDA(cudaMalloc(&d_c, bytes));

  // The error scale |A| |B|, by cuBLAS on copies of the inputs' magnitudes.
  std::vector<float> scale(count), ref(count), out(count);
  {
    std::vector<float> abs_a(count), abs_b(count);
    for (size_t i = 0; i < count; ++i) abs_a[i] = std::fabs(a[i]), abs_b[i] = std::fabs(b[i]);
    CHECK_CUDA(cudaMemcpy(d_a, abs_a.data(), bytes, cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(d_b, abs_b.data(), bytes, cudaMemcpyHostToDevice));
    cublas_sgemm(handle, n, n, n, d_a, d_b, d_c);
    CHECK_CUDA(cudaMemcpy(scale.data(), d_c, bytes, cudaMemcpyDeviceToHost));
  }
  CHECK_CUDA(cudaMemcpy(d_a, a.data(), bytes, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(d_b, b.data(), bytes, cudaMemcpyHostToDevice));

  // cuBLAS's C, checked against fp64 sums (exact products, ~1e-16 rounding)
  // on 64 sampled entries.
  CHECK_CUDA(cudaMemset(d_c, 0xff, bytes));  // NaN everywhere: an unwritten entry cannot pass
  cublas_sgemm(handle, n, n, n, d_a, d_b, d_c);
  CHECK_CUDA(cudaMemcpy(ref.data(), d_c, bytes, cudaMemcpyDeviceToHost));
  double cublas_err = 0.0;
  for (int s = 0; s < 64; ++s) {
    const int i = static_cast<int>(rng.next() >> 33) % n, j = static_cast<int>(rng.next() >> 33) % n;
    double exact = 0.0, abs_sum = 0.0;
    for (int k = 0; k < n; ++k) {
      const double p = static_cast<double>(a[static_cast<size_t>(i) * n + k]) * b[static_cast<size_t>(k) * n + j];
      exact += p;
      abs_sum += std::fabs(p);
    }
    const double e = std::fabs(ref[static_cast<size_t>(i) * n + j] - exact) / std::max(abs_sum, 1e-30);
    cublas_err = std::isnan(e) ? INFINITY : std::max(cublas_err, e);
  }

  int failures = 0;
  std::vector<Row> rows;
  std::vector<std::function<void()>> timed;  // the launches of the rows that are timed
  std::vector<size_t> timed_rows;            // their places in rows
  const bool cublas_ok = cublas_err <= kTolerance;
  rows.push_back({"cuBLAS", cublas_ok ? "" : "FAILED", -1.0, cublas_err});
  if (cublas_ok) {
    timed.push_back([=] { cublas_sgemm(handle, n, n, n, d_a, d_b, d_c); });
    timed_rows.push_back(0);
  } else {
    ++failures;
  }

  for (int id : opt.versions) {
    const Version& v = kVersions[id - 1];
    if (!cublas_ok || n > v.max_size) {  // no trusted reference, or too slow to be worth it
      rows.push_back({v.name, cublas_ok ? "skipped" : "unchecked", -1.0, -1.0});
      continue;
    }
    CHECK_CUDA(cudaMemset(d_c, 0xff, bytes));
    v.launch(n, n, n, d_a, d_b, d_c);
    CHECK_CUDA(cudaGetLastError());
    CHECK_CUDA(cudaDeviceSynchronize());
    CHECK_CUDA(cudaMemcpy(out.data(), d_c, bytes, cudaMemcpyDeviceToHost));
    const double err = max_rel_err(out, ref, scale);
    const bool ok = err <= kTolerance;
    rows.push_back({v.name, ok ? "" : "FAILED", -1.0, err});
    if (ok) {
      timed.push_back([=] {
        v.launch(n, n, n, d_a, d_b, d_c);
        CHECK_CUDA(cudaGetLastError());
      });
      timed_rows.push_back(rows.size() - 1);
    } else {
      ++failures;
    }
  }

  // Interleaved timing: each round launches every candidate once, so clock
  // and thermal drift over the run reach all of them alike.
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  std::vector<std::vector<float>> times(timed.size());
  for (int round = 0; round < opt.warmup + opt.repeats; ++round) {
    for (size_t c = 0; c < timed.size(); ++c) {
      CHECK_CUDA(cudaEventRecord(start));
      timed[c]();
      CHECK_CUDA(cudaEventRecord(stop));
      CHECK_CUDA(cudaEventSynchronize(stop));
      float ms = 0.0f;
      CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
      if (round >= opt.warmup) times[c].push_back(ms);
    }
  }
  for (size_t c = 0; c < timed.size(); ++c) {
    std::sort(times[c].begin(), times[c].end());
    rows[timed_rows[c]].ms = times[c][times[c].size() / 2];
  }
  CHECK_CUDA(cudaEventDestroy(start));
  CHECK_CUDA(cudaEventDestroy(stop));
  CHECK_CUDA(cudaFree(d_a));
  CHECK_CUDA(cudaFree(d_b));
  CHECK_CUDA(cudaFree(d_c));

  print_table(n, rows);
  std::fflush(stdout);  // a table per size as it is done, also when the output goes to a file
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_options(argc, argv);

  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "%s: no CUDA device; nothing measured\n", kProgram);
    return 0;
  }
  int device = 0;
  CHECK_CUDA(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, device));
  int clock_khz = 0;
  CHECK_CUDA(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device));
  std::printf("GPU: %s (sm_%d%d), %d SMs, %.0f MHz peak clock\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount, clock_khz / 1000.0);

  cublasHandle_t handle;
  CHECK_CUBLAS(cublasCreate(&handle));
  CHECK_CUBLAS(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
  std::printf("cuBLAS: cublasSgemm, CUBLAS_DEFAULT_MATH (fp32 FMA, no TF32); median of %d after %d warm-up rounds\n",
              opt.repeats, opt.warmup);
  std::printf("max rel err: max |C - C_ref| / (|A| |B|), C_ref = cuBLAS over all of C; for cuBLAS, fp64 on 64 "
              "entries; tolerance %.0e\n",
              kTolerance);

  int failures = 0;
  for (int n : opt.sizes) failures += run_size(handle, n, opt);
  CHECK_CUBLAS(cublasDestroy(handle));

  if (failures > 0) {
    std::fprintf(stderr, "%s: %d check(s) FAILED\n", kProgram, failures);
    return 1;
  }
  return 0;
}
