// Reading the CPU's caches and instruction sets, and the blocking that
// follows from them (see cpu_figures.h for the model).
#include "kernels/cpu/cpu_figures.h"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <fmt/format.h>

namespace mg::cpu {

namespace {

struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub = 0) {
  Regs r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}

// Leaf 4 (Intel) and 0x8000001D (AMD) share one layout: one sub-leaf per cache.
bool read_cpuid_caches(unsigned leaf, CpuFigures& f) {
  bool any = false;
  for (unsigned sub = 0; sub < 16; ++sub) {
    const Regs r = cpuid(leaf, sub);
    const unsigned type = r.a & 31;  // 0 none, 1 data, 2 instruction, 3 unified
    if (type == 0) break;
    if (type == 2) continue;
    CacheLevel c;
    c.line = (r.b & 0xfff) + 1;
    const int64_t partitions = ((r.b >> 12) & 0x3ff) + 1;
    c.ways = ((r.b >> 22) & 0x3ff) + 1;
    c.sets = static_cast<int64_t>(r.c) + 1;
    c.sharing = ((r.a >> 14) & 0xfff) + 1;
    c.size = c.line * partitions * c.ways * c.sets;
    switch ((r.a >> 5) & 7) {
      case 1: f.l1d = c; break;
      case 2: f.l2 = c; break;
      case 3: f.l3 = c; break;
      default: continue;
    }
    any = true;
  }
  return any;
}

int64_t read_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text.empty()) return 0;
  int64_t v = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) v = v * 10 + (text[i] - '0');
  if (i < text.size() && (text[i] == 'K' || text[i] == 'k')) v *= 1024;
  if (i < text.size() && (text[i] == 'M' || text[i] == 'm')) v *= 1024 * 1024;
  return v;
}

// /sys/devices/system/cpu/cpu0/cache/index*/: level, type, size, ways, sets, line, shared CPUs.
bool read_sysfs_caches(CpuFigures& f) {
  bool any = false;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}/", i);
    std::ifstream type_file(dir + "type");
    std::string type;
    if (!(type_file >> type)) break;
    if (type == "Instruction") continue;
    CacheLevel c;
    c.size = read_number(dir + "size");
    c.ways = std::max<int64_t>(1, read_number(dir + "ways_of_associativity"));
    c.line = std::max<int64_t>(16, read_number(dir + "coherency_line_size"));
    c.sets = read_number(dir + "number_of_sets");
    if (c.sets == 0 && c.size > 0) c.sets = c.size / (c.ways * c.line);
    std::ifstream shared(dir + "shared_cpu_list");
    std::string list;
    if (shared >> list) {
      // "0-15" or "0,8" or "3": count the CPUs named.
      int64_t count = 0;
      size_t pos = 0;
      while (pos < list.size()) {
        const size_t comma = std::min(list.find(',', pos), list.size());
        const std::string part = list.substr(pos, comma - pos);
        const size_t dash = part.find('-');
        count += dash == std::string::npos ? 1 : std::stoll(part.substr(dash + 1)) - std::stoll(part.substr(0, dash)) + 1;
        pos = comma + 1;
      }
      c.sharing = std::max<int64_t>(1, count);
    }
    switch (read_number(dir + "level")) {
      case 1: f.l1d = c; break;
      case 2: f.l2 = c; break;
      case 3: f.l3 = c; break;
      default: continue;
    }
    any = c.size > 0 || any;
  }
  return any;
}

CpuFigures read_figures() {
  CpuFigures f;
  const Regs v = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &v.b, 4);
  std::memcpy(vendor + 4, &v.d, 4);
  std::memcpy(vendor + 8, &v.c, 4);
  f.vendor = vendor;
  const unsigned max_leaf = v.a;
  const unsigned max_ext = cpuid(0x80000000).a;

  const Regs id = cpuid(1);
  const unsigned base_family = (id.a >> 8) & 0xf, base_model = (id.a >> 4) & 0xf;
  f.family = static_cast<int>(base_family == 0xf ? base_family + ((id.a >> 20) & 0xff) : base_family);
  f.model = static_cast<int>(base_family >= 6 ? base_model | (((id.a >> 16) & 0xf) << 4) : base_model);
  if (max_ext >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    f.model_name = brand;
    f.model_name.erase(0, f.model_name.find_first_not_of(' '));
    f.model_name.erase(f.model_name.find_last_not_of(' ') + 1);
  }

  // The instruction sets, as GCC sees them (it also checks that the OS saves the registers).
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  if (max_leaf >= 7) {
    const Regs l7 = cpuid(7, 0), l71 = cpuid(7, 1);
    f.avx512_bf16 = f.avx512 && ((l71.a >> 5) & 1);
    f.amx_bf16 = ((l7.d >> 22) & 1) && ((l7.d >> 24) & 1);
  }

  if ((max_leaf >= 4 && read_cpuid_caches(4, f) && f.l1d.size > 0) ||
      (max_ext >= 0x8000001D && read_cpuid_caches(0x8000001D, f) && f.l1d.size > 0)) {
    f.cache_source = "cpuid";
  } else if (read_sysfs_caches(f) && f.l1d.size > 0) {
    f.cache_source = "sysfs";
  } else {
    // Nothing readable: the smallest caches of any x86-64 core in use.
    f.l1d = {32 * 1024, 64, 8, 64, 1};
    f.l2 = {256 * 1024, 64, 4, 1024, 1};
    f.l3 = {};
    f.cache_source = "assumed";
  }
  return f;
}

int64_t round_down(int64_t x, int64_t multiple, int64_t floor) {
  return std::max(floor, x / multiple * multiple);
}

}  // namespace

const CpuFigures& cpu_figures() {
  static const CpuFigures f = read_figures();
  return f;
}

GemmBlocking derive_blocking(const CpuFigures& f, int64_t mr, int64_t nr, int64_t element_bytes) {
  GemmBlocking b;
  b.mr = mr;
  b.nr = nr;
  // L1: the A micro-panel takes half.
  b.kc = round_down(f.l1d.size / (2 * mr * element_bytes), 16, 64);
  // L2: the packed B block, all but two ways.
  const CacheLevel& l2 = f.l2.size > 0 ? f.l2 : f.l1d;
  const int64_t l2_bytes = l2.size * std::max<int64_t>(1, l2.ways - 2) / std::max<int64_t>(1, l2.ways);
  b.nc = round_down(l2_bytes / (b.kc * element_bytes), nr, nr);
  // L3: the packed A block, all but two ways of this thread's share. Without
  // an L3, A stays in L2 beside B.
  if (f.l3.size > 0) {
    const int64_t share = f.l3.size / std::max<int64_t>(1, f.l3.sharing);
    const int64_t l3_bytes = share * std::max<int64_t>(1, f.l3.ways - 2) / std::max<int64_t>(1, f.l3.ways);
    b.mc = round_down(l3_bytes / (b.kc * element_bytes), mr, mr);
  } else {
    b.mc = round_down(l2.size / 4 / (b.kc * element_bytes), mr, mr);
  }
  return b;
}

namespace {

// `kChains` independent multiply-add chains, `iters` steps each, as fused
// multiply-adds at 512 and 256 bits (written as intrinsics: the project
// compiles with -ffp-contract=off, under which `a * b + c` stays a multiply
// and an add) and as a multiply and an add with SSE2, which has no FMA.
template <int kChains>
[[gnu::target("avx512f")]] float fma_512(int64_t iters) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  __m512 b = _mm512_set1_ps(0.999f);
  const __m512 c = _mm512_set1_ps(1e-4f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], b, c);
    asm volatile("" : "+v"(b));
  }
  float s = 0;
  for (int i = 0; i < kChains; ++i) s += _mm512_cvtss_f32(acc[i]);
  return s;
}
template <int kChains>
[[gnu::target("avx2,fma")]] float fma_256(int64_t iters) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  __m256 b = _mm256_set1_ps(0.999f);
  const __m256 c = _mm256_set1_ps(1e-4f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
    asm volatile("" : "+v"(b));
  }
  float s = 0;
  for (int i = 0; i < kChains; ++i) s += _mm256_cvtss_f32(acc[i]);
  return s;
}
template <int kChains>
float fma_128(int64_t iters) {
  typedef float V4 __attribute__((vector_size(16)));
  V4 acc[kChains], b, c;
  for (int i = 0; i < kChains; ++i) acc[i] = V4{} + 0.001f * static_cast<float>(i);
  b = V4{} + 0.999f;
  c = V4{} + 1e-4f;
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * b + c;
    asm volatile("" : "+v"(b));
  }
  float s = 0;
  for (int i = 0; i < kChains; ++i) s += acc[i][0];
  return s;
}

template <int kChains>
double seconds_for(int lanes, int64_t iters) {
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    volatile float sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + (lanes == 16 ? fma_512<kChains>(iters) : lanes == 8 ? fma_256<kChains>(iters) : fma_128<kChains>(iters));
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int fma_chain_count(int lanes) { return lanes == 16 ? 16 : 12; }

float run_fma_chains(int lanes, int64_t iters) {
  return lanes == 16 ? fma_512<16>(iters) : lanes == 8 ? fma_256<12>(iters) : fma_128<12>(iters);
}

double measure_fma_chains(int lanes) {
  // One chain runs at one FMA per latency; many independent chains run at
  // the units' throughput: sixteen with AVX-512's 32 registers, twelve with
  // the 16 registers of AVX2 and SSE2 (more would spill; no x86 core has more
  // than eight in flight at those widths). The ratio of the two rates is the
  // number of FMAs in flight, whatever the clock.
  const int64_t iters = 200'000;
  const double one = seconds_for<1>(lanes, iters);
  const double many = lanes == 16 ? seconds_for<16>(lanes, iters) / 16.0 : seconds_for<12>(lanes, iters) / 12.0;
  return one / many;
}

std::string describe(const CpuFigures& f) {
  auto level = [](const char* name, const CacheLevel& c) {
    if (c.size == 0) return fmt::format("{} none", name);
    const std::string size = c.size >= (1 << 20) ? fmt::format("{} MiB", c.size >> 20) : fmt::format("{} KiB", c.size >> 10);
    return c.sharing > 1 ? fmt::format("{} {} {}-way shared by {}", name, size, c.ways, c.sharing)
                         : fmt::format("{} {} {}-way", name, size, c.ways);
  };
  std::string isa = f.avx512 ? "AVX-512" : f.avx2 ? "AVX2" : "SSE2";
  if (f.avx512_bf16) isa += ", AVX512_BF16";
  if (f.amx_bf16) isa += ", AMX-BF16";
  return fmt::format("{} (family {} model {}): {}, {}, {} ({}); {}", f.model_name, f.family, f.model,
                     level("L1d", f.l1d), level("L2", f.l2), level("L3", f.l3), f.cache_source, isa);
}

}  // namespace mg::cpu
