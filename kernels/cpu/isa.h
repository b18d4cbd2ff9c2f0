#pragma once
// The CPU's fast float32 kernels, one set per instruction set, chosen once at
// run time from CPUID so that one binary runs well on every x86-64 machine:
//
//   avx512   512-bit FMA, 14 x 32 GEMM register tile (28 of 32 zmm registers),
//            and with AVX512_BF16 the bf16 products of MatmulPrecision::Bf16
//   avx2     256-bit FMA, 6 x 16 register tile (12 of 16 ymm registers)
//   generic  128-bit SSE2 vectors, no FMA: any x86-64 (and the fallback elsewhere)
//
// MUSICGEN_ISA=avx512|avx2|generic forces a set (an error if this CPU cannot
// run it), so every path can be tested and benchmarked on one machine.
//
// Each set is compiled from the same source (kernels/cpu/simd_kernels.inl)
// under a different target region (GCC's target pragma, clang's target
// attribute), in its own translation unit (isa_avx512.cpp,
// isa_avx512_bf16.cpp, isa_avx2.cpp, isa_generic.cpp). A set gives the same
// bits at every thread count; two sets may differ in the last bits, as each
// splits k by its own blocking.
//
// These are raw-pointer kernels; kernels/cpu/gemm.cpp and lstm.cpp adapt the
// backend's tensors to them. The plain loops in gemm.cpp and nn.cpp are the
// reference each of them is tested against.
#include <cstdint>

#include "kernels/cpu/cpu_figures.h"
#include "kernels/pointwise.h"
#include "tensor/backend.h"

namespace mg::cpu {

enum class Isa { Generic, Avx2, Avx512 };

const char* isa_name(Isa isa);
// Whether this CPU (and its operating system) can run the set.
bool isa_supported(Isa isa);
// The widest supported set, or MUSICGEN_ISA when it is set (checked once).
Isa active_isa();

// One LSTM layer's recurrence over T steps, batch B, hidden H (float32, all
// contiguous). Forward: for each t,
//   gates = xproj[t] + h_{t-1} W_hhᵀ   (i, f, g, o blocks of H columns)
//   acts[t] = (σ(i), σ(f), tanh(g), σ(o));  cs[t] = f c_{t-1} + i g;  hs[t] = o tanh(cs[t])
struct LstmForward {
  int64_t T = 0, B = 0, H = 0;
  const float* xproj = nullptr;  // [T, B, 4H]
  const float* w_hh = nullptr;   // [4H, H]
  const float* h0 = nullptr;     // [B, H]
  const float* c0 = nullptr;     // [B, H]
  float* hs = nullptr;           // [T, B, H]
  float* cs = nullptr;           // [T, B, H]
  float* acts = nullptr;         // [T, B, 4H]; may be xproj itself (the steps add h W_hhᵀ to it in place)
};

// Its backward, from t = T-1 down to 0 (dh_T = 0, dc_T = g_c_last):
//   dh = g_hs[t] + dh_{t+1};  dc = dc_{t+1} + dh o (1 - tanh² c_t)
//   dgates[t] = (dc g i(1-i), dc c_{t-1} f(1-f), dc i (1-g²), dh tanh(c_t) o(1-o))
//   dc_t = dc f;  dh_t = dgates[t] W_hh
// dgates is also the gradient of xproj; W_hh's gradient is one GEMM over all
// steps, done by the caller.
struct LstmBackward {
  int64_t T = 0, B = 0, H = 0;
  const float* w_hh = nullptr;      // [4H, H]
  const float* acts = nullptr;      // [T, B, 4H]
  const float* cs = nullptr;        // [T, B, H]
  const float* c0 = nullptr;        // [B, H]
  const float* g_hs = nullptr;      // [T, B, H] or null (zero); rows may be strided:
  int64_t g_hs_stride_t = 0, g_hs_stride_b = 0;  // element (t, b, j) at t stride_t + b stride_b + j
  const float* g_c_last = nullptr;  // [B, H] or null (zero)
  float* dgates = nullptr;          // [T, B, 4H]
  float* dh0 = nullptr;             // [B, H]
  float* dc0 = nullptr;             // [B, H]
};

// One step's pointwise part on [B, 4H] gates (the backend's lstm_pointwise_*).
struct LstmCell {
  int64_t B = 0, H = 0;
  const float* gates = nullptr;   // [B, 4H] pre-activations (forward)
  const float* c_prev = nullptr;  // [B, H]
  float* h = nullptr;             // [B, H]
  float* c = nullptr;             // [B, H] (forward: written; backward: read)
  float* act = nullptr;           // [B, 4H] (forward: written; backward: read)
  const float* gh = nullptr;      // backward: [B, H] or null
  const float* gc = nullptr;      // backward: [B, H] or null
  float* ggates = nullptr;        // backward: [B, 4H]
  float* gc_prev = nullptr;       // backward: [B, H]
};

struct CpuKernels {
  Isa isa;
  int64_t mr, nr;  // GEMM register tile
  GemmBlocking& (*blocking)();  // the GEMM's cache blocks, derived from this CPU's caches
  void (*sgemm)(const GemmArgs& args);  // float32, any transposes, alpha/beta, batch
  void (*lstm_forward)(const LstmForward& args);
  void (*lstm_backward)(const LstmBackward& args);
  void (*lstm_cell_forward)(const LstmCell& args);
  void (*lstm_cell_backward)(const LstmCell& args);
  // Elementwise float32 over n contiguous elements (simd_elementwise.inl):
  // y = op(x); gx = gy op'(x) (x or y null where the derivative does not
  // read it); one row of a binary op, a and b each read with stride 0 or 1.
  void (*unary)(UnaryOp op, float a, float b, const float* x, float* y, int64_t n);
  void (*unary_backward)(UnaryOp op, float a, const float* gy, const float* x, const float* y, float* gx, int64_t n);
  void (*binary_row)(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n);
  void (*adam)(float* p, const float* g, float* m, float* v, int64_t n, const pointwise::AdamCoeffs& c);
  void (*adamax)(float* p, const float* g, float* m, float* u, int64_t n, const pointwise::AdamCoeffs& c);
  // U[lo, hi) of tensor/rng.h: element i from the Philox counter offset + i.
  void (*random_uniform)(uint64_t seed, uint64_t offset, double lo, double hi, float* out, int64_t n);
};

// bf16 products with float32 sums (AVX512_BF16): the float32 GEMM and LSTM
// recurrence with both operands rounded to bf16 as they are packed.
struct Bf16Kernels {
  GemmBlocking& (*blocking)();  // derived for 2-byte elements
  void (*sgemm)(const GemmArgs& args);
  void (*lstm_forward)(const LstmForward& args);    // H even
  void (*lstm_backward)(const LstmBackward& args);  // H even
};

// The set for active_isa().
const CpuKernels& kernels();
// The bf16 set, or null when this CPU (or the instruction set MUSICGEN_ISA
// chose) cannot run it.
const Bf16Kernels* bf16_kernels();
const Bf16Kernels& avx512_bf16_kernels();  // the caller checks the CPU
// The set for one instruction set (the caller checks isa_supported).
const CpuKernels& kernels_for(Isa isa);

const CpuKernels& generic_kernels();
const CpuKernels& avx2_kernels();
const CpuKernels& avx512_kernels();

}  // namespace mg::cpu
