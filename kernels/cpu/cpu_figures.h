#pragma once
// What this CPU is made of, read at run time, and the GEMM blocking that
// follows from it.
//
// The caches come from CPUID (leaf 4 on Intel, 0x8000001D on AMD: size,
// line, ways, sets and how many threads share each level), or from
// /sys/devices/system/cpu/cpu0/cache where CPUID says nothing (some
// hypervisors); the instruction sets from CPUID leaf 7. Nothing here knows a
// CPU model: a new CPU gets its blocking from its own figures.
//
// The blocking follows the analytical model of BLIS (Low, Igual, Smith and
// Quintana-Orti, "Analytical modeling is enough for high-performance BLIS",
// ACM TOMS 2016), transposed to this project's row-major micro-kernel, which
// broadcasts MR values of A and loads NR values of B per k step, and whose
// loops keep one MR x KC micro-panel of A in L1 while the KC x NR
// micro-panels of B stream past it from L2:
//
//   register tile   MR x NR accumulators in vector registers; it must hold
//                   at least latency x units independent FMA chains (the
//                   FMAs in flight), and MR NR/W + NR/W + 1 registers must
//                   fit the register file (W floats per register);
//   KC (L1)         the A micro-panel fills half of L1: KC = L1 / (2 MR e)
//                   (e bytes per element), rounded down to 16. The B
//                   micro-panel is read once, in order, per use, so only the
//                   lines in flight need L1 room, which the other half
//                   gives them and C's lines. (The paper keeps the whole
//                   streamed panel in L1 beside the resident one, which
//                   gives KC = 128 on Zen 4: at that depth C's loads and
//                   stores cost 3 % more than at 256-512, where measured
//                   throughput is flat; bench_gemm --sweep shows it.);
//   NC (L2)         the packed B block (KC x NC) fills L2 but for two ways
//                   (the A micro-panel and C pass through it);
//   MC (L3)         the packed A block (MC x KC) fills this thread's share
//                   of L3 but for two ways.
//
// On Zen 4 (L1d 32 KiB 8-way, L2 1 MiB 8-way) with the AVX-512 tile 14 x 32:
// KC 288, NC 672. On a core with a 48 KiB L1d and a 2 MiB 16-way L2 (Intel
// Sapphire and Emerald Rapids): KC 432, NC 1056.
#include <cstdint>
#include <string>

namespace mg::cpu {

struct CacheLevel {
  int64_t size = 0;     // bytes
  int64_t line = 64;    // bytes
  int64_t ways = 1;
  int64_t sets = 0;
  int64_t sharing = 1;  // logical CPUs sharing this cache
};

struct CpuFigures {
  std::string vendor;      // "AuthenticAMD", "GenuineIntel", ...
  std::string model_name;  // the brand string
  int family = 0, model = 0;
  CacheLevel l1d, l2, l3;
  std::string cache_source;  // "cpuid" or "sysfs" or "assumed"
  bool avx2 = false, fma = false, avx512 = false;  // avx512: F, DQ, BW, VL
  bool avx512_bf16 = false;                         // vdpbf16ps, vcvtne2ps2bf16
  bool amx_bf16 = false;                            // tdpbf16ps (AMX tiles)
};

// This machine's figures (read once).
const CpuFigures& cpu_figures();

// A register tile and the cache blocks around it, in elements of the packed
// operands (KC counts k steps).
struct GemmBlocking {
  int64_t mr = 0, nr = 0;  // register tile
  int64_t kc = 0, mc = 0, nc = 0;
};

// The blocking for a micro-kernel of mr x nr (nr a multiple of the vector
// width) with `element_bytes` per packed element, for caches `f`. KC is
// rounded down to a multiple of 16 (whole cache lines of A, and even for bf16
// pairs), NC to a multiple of nr and MC to a multiple of mr; each has a floor
// so a tiny or missing cache still gives a working blocking.
GemmBlocking derive_blocking(const CpuFigures& f, int64_t mr, int64_t nr, int64_t element_bytes);

// Independent FMA chains needed to keep every FMA unit busy (latency x
// units), measured for vectors of `lanes` floats (4, 8 or 16) by timing one
// dependent chain against many independent ones (about a millisecond). A
// register tile with fewer accumulators leaves units idle. Zen 4: 4 for
// 512-bit vectors (latency 4, one 512-bit FMA a cycle), 8 for 256-bit; a core
// with two 512-bit FMA units: 8.
double measure_fma_chains(int lanes);

// fma_chain_count(lanes) independent multiply-add chains of `lanes` floats,
// `iters` steps each: fused multiply-adds at 16 lanes (AVX-512, 16 chains)
// and 8 (AVX2 + FMA, 12 chains: all fit the 16 registers), a multiply and an
// add at 4 (SSE2, 12 chains). 2 * chains * lanes * iters FLOPs; returns a
// value that depends on every chain. The FMA peak is this rate on every core.
int fma_chain_count(int lanes);
float run_fma_chains(int lanes, int64_t iters);

// "L1d 32 KiB 8-way, L2 1 MiB 8-way, L3 32 MiB 16-way shared by 16" and the ISA flags.
std::string describe(const CpuFigures& f);

}  // namespace mg::cpu
