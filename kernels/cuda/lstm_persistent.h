#pragma once
// One LSTM layer's recurrence over all T steps in ONE kernel launch per
// direction (a persistent, cooperative kernel), float32 only.
//   T = time, B = batch, H = hidden size, G = 4H gate columns in order i, f, g, o.
//
// Why one launch. Backend::lstm_sequence_forward (tensor/backend.cpp) runs, per
// step, a cuBLAS GEMM [B, H] x [H, 4H] and a pointwise kernel; backward the
// same again. At the seed network's shapes (B = 256, H = 512 and 256, T = 40)
// each GEMM is 0.1 to 0.5 GFLOP, only 32 output tiles of 128 x 128 at H = 512
// (16 at H = 256), so most SMs idle, and each of the ~500 launches of a
// training step re-reads its weights and pays a launch. Here every SM runs one
// block for the whole sequence; the recurrent weights are read from global
// memory once per launch and then stay in shared memory for all T steps.
//
// The work split. W_hh [4H, H] is cut by hidden unit: a block owns J units
// (J a power of two, 4..64) and all four gates of them, so the cell of a unit
// (i, f, g, o -> c, h) needs nothing from another block. Its rows are also
// cut by batch: a block owns Bb rows (4..64). Grid = ceil(H/J) x ceil(B/Bb).
//   forward,  step t:  gates[Bb, 4J] = h_{t-1}[Bb, H] . W_hh[4J rows, H]ᵀ + xproj_t
//                      then the cell for its Bb x J (row, unit) pairs
//   backward, step t:  dh[Bb, J] = dgates_{t+1}[Bb, 4H] . W_hh[4H, J columns]
//                      then the cell's backward for its Bb x J pairs
// The block keeps 4J x H weights in shared memory (forward: its gate rows;
// backward: its unit columns), and c (forward) or dc (backward) of its own
// pairs in registers across steps. At B = 256 on an H200 the launchers pick
// J = 16, Bb = 64 for H = 512 (128 blocks, 128 KiB of weights each) and J = 32,
// Bb = 16 for H = 256 (128 blocks, 128 KiB each), by a small cost model
// (compute per SM + L2 traffic) over the tilings that fit.
//
// Inside a block (256 threads). The product is staged through shared memory
// in K tiles, double-buffered: the next tile's global loads are in flight
// while the current one is multiplied. Each thread accumulates a 4 x 4
// micro-tile (4 batch rows, 4 columns: one 128-bit shared load of each per
// k, 16 FMAs); when the block's output has fewer than 256 x 16 entries, its
// threads also split K into interleaved ranges and the partial sums meet in
// shared memory, added in a fixed order (results do not depend on timing).
// A warp's 32 micro-tiles form a 4 x 8 or 8 x 4 patch so both shared loads
// are conflict-free.
//
// The barrier between steps. Step t reads h_{t-1} (forward) or dgates_{t+1}
// (backward) rows that every block wrote during the step before, so all
// blocks meet at a grid-wide barrier, cooperative_groups::this_grid().sync(),
// once per step. That is only safe when every block is resident at once,
// which is what cudaLaunchCooperativeKernel guarantees (it fails rather than
// queue blocks); the launchers check co-residency first (occupancy x SMs) and
// return false instead. Since CUDA 11 the grid barrier is header code whose
// counter lives in a driver workspace passed to cooperative launches, so it
// needs no relocatable device code. Nothing is reused across steps in global
// memory: step t writes slice t of hs / cs / acts (or dgates) while slower
// blocks may still read slice t-1 (or t+1), so the one barrier per step is all
// the ordering needed.
//
// Memory traffic per step, at B = 256 (Bb x K floats read per block from L2,
// the grid's total in brackets; weights are not re-read):
//   forward  H = 512: 64 x 512   = 128 KiB per block (16 MiB);  H = 256: 16 x 256  = 16 KiB (2 MiB)
//   backward H = 512: 64 x 2048  = 512 KiB per block (64 MiB);  H = 256: 16 x 1024 = 64 KiB (8 MiB)
// plus, from HBM, xproj_t read and hs_t, cs_t, acts_t written once (forward)
// and acts_t, cs_t, cs_{t-1}, g_hs_t read and dgates_t written (backward):
// 5 to 6 MiB per step at H = 512; the reads are issued before the product so
// that their latency overlaps it.
//
// Expected time per step on an H200 (132 SMs, 128 fp32 FMA per clock per SM,
// ~1.98 GHz; L2 ~5 to 7 TB/s aggregate). Each of the 128 blocks does
// Bb x 4J x H FMAs: 64 x 64 x 512 = 2.1 M at H = 512, 16384 clocks = 8.3 us at
// the full FMA rate. The inner loop issues 8 shared loads per 64 FMAs, and
// the tile stores and block barriers cost a little more: ~80 % of that rate,
// ~10.5 us. Forward adds ~1 us for the grid barrier and ~0.5 us for the first
// tile's latency and the cell, its 16 MiB of L2 reads hidden under the FMAs:
// ~12 us per step. Backward does the same FMAs but reads 64 MiB from L2,
// 10 to 13 us of L2 bandwidth, as much a limit as the FMAs: ~13
// to 15 us. At H = 256 the FMAs take 2.1 us at full rate, ~2.6 us at 80 %,
// plus the same ~1.5 us of barrier and latency: ~4 us per step either way.
// Whole layer, T = 40: ~0.5 ms forward and ~0.55 ms backward at H = 512,
// ~0.16 ms each way at H = 256. These are counts, not measurements, to be
// checked against a profile.
//
// Constraints: float32; H % 4 == 0 (128-bit loads along H); h0, hs, w_hh and
// dgates 16-byte aligned; T >= 1, B >= 1; and a tiling whose weights fit in
// shared memory with all its blocks resident (one block of 256 threads per
// SM: the kernels use 206 to 228 registers a thread). Otherwise the launchers
// return false having launched nothing, and the caller uses the per-step
// default. At B = 256 an H200 takes every H % 4 == 0 up to 528 (178 KiB of
// shared memory per block at H = 512); an A100 (108 SMs, 163 KiB) up to 432,
// so not H = 512. Small and odd shapes (B = 33, H = 24) run, in small tiles.
// Work runs on the default stream, ordered with everything else on it.
#include <cstdint>

namespace mg::cuda {

// xproj [T, B, 4H] (= x W_ihᵀ + b, gates i, f, g, o), w_hh [4H, H], h0, c0 [B, H].
// Writes hs, cs [T, B, H] and acts [T, B, 4H] (the activated gates). acts may be
// xproj: each element of step t's projection is read before the same element
// of step t's activations is written, by the same thread.
bool lstm_persistent_forward(const float* xproj, const float* w_hh, const float* h0, const float* c0, float* hs,
                             float* cs, float* acts, int T, int B, int H);

// g_hs: the gradient reaching every h_t, element (t, b, j) at g_hs[t * gs_t + b * gs_b + j],
// or null (zero). g_c_last [B, H] or null (zero). acts, cs as written by the forward; c0 [B, H].
// Writes dgates [T, B, 4H] (also the gradient of xproj), dh0, dc0 [B, H]; the
// semantics of Backend::lstm_sequence_backward.
bool lstm_persistent_backward(const float* g_hs, int64_t gs_t, int64_t gs_b, const float* g_c_last,
                              const float* w_hh, const float* acts, const float* cs, const float* c0, float* dgates,
                              float* dh0, float* dc0, int T, int B, int H);

}  // namespace mg::cuda
