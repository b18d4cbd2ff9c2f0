// The CPU's figures as the GEMM reads them (kernels/cpu/cpu_figures.h), and
// the blocking derived from them.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "kernels/cpu/cpu_figures.h"
#include "kernels/cpu/isa.h"

using mg::cpu::CacheLevel;
using mg::cpu::CpuFigures;
using mg::cpu::GemmBlocking;

namespace {

// A number from a sysfs cache file ("32K", "8"), or -1 when absent.
int64_t sysfs_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return -1;
  int64_t v = std::stoll(text);
  if (text.back() == 'K') v *= 1024;
  if (text.back() == 'M') v *= 1024 * 1024;
  return v;
}

CpuFigures figures(CacheLevel l1, CacheLevel l2, CacheLevel l3) {
  CpuFigures f;
  f.l1d = l1;
  f.l2 = l2;
  f.l3 = l3;
  return f;
}

}  // namespace

TEST_CASE("the caches read from CPUID are the kernel's (sysfs), where the kernel tells") {
  const CpuFigures& f = mg::cpu::cpu_figures();
  MESSAGE(mg::cpu::describe(f));
  CHECK(f.l1d.size > 0);
  CHECK(f.l1d.size == f.l1d.line * f.l1d.ways * f.l1d.sets);
  int checked = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream type_file(dir + "type");
    std::string type;
    if (!(type_file >> type) || type == "Instruction") continue;
    const int64_t level = sysfs_number(dir + "level");
    const CacheLevel& c = level == 1 ? f.l1d : level == 2 ? f.l2 : f.l3;
    if (level < 1 || level > 3) continue;
    CAPTURE(level);
    CHECK(c.size == sysfs_number(dir + "size"));
    CHECK(c.ways == sysfs_number(dir + "ways_of_associativity"));
    CHECK(c.line == sysfs_number(dir + "coherency_line_size"));
    ++checked;
  }
  if (checked == 0) MESSAGE("no sysfs cache information on this machine: CPUID's figures not cross-checked");
  // The instruction-set flags agree with the kernel choice.
  CHECK(f.avx512 == mg::cpu::isa_supported(mg::cpu::Isa::Avx512));
  CHECK((f.avx2 && f.fma) == mg::cpu::isa_supported(mg::cpu::Isa::Avx2));
}

TEST_CASE("the blocking follows the caches: Zen 4 and a core with a larger L1 and L2") {
  // Zen 4: L1d 32 KiB 8-way, L2 1 MiB 8-way, L3 32 MiB 16-way shared by 16 threads.
  const CpuFigures zen4 = figures({32 << 10, 64, 8, 64, 1}, {1 << 20, 64, 8, 2048, 1}, {32 << 20, 64, 16, 32768, 16});
  // Sapphire / Emerald Rapids: L1d 48 KiB 12-way, L2 2 MiB 16-way, L3 1.875 MiB a core (here 60 MiB for 32 threads).
  const CpuFigures intel = figures({48 << 10, 64, 12, 64, 1}, {2 << 20, 64, 16, 2048, 1}, {60 << 20, 64, 15, 65536, 32});
  SUBCASE("AVX-512 tile 14 x 32, float32") {
    const GemmBlocking z = mg::cpu::derive_blocking(zen4, 14, 32, 4);
    CHECK(z.kc == 288);  // 32 KiB / 2 / (14 * 4) = 292
    CHECK(z.nc == 672);  // 1 MiB * 6/8 / (288 * 4) = 682
    CHECK(z.mc == 1582);  // 2 MiB * 14/16 / (288 * 4) = 1592, down to a multiple of 14
    const GemmBlocking i = mg::cpu::derive_blocking(intel, 14, 32, 4);
    CHECK(i.kc == 432);   // 48 KiB / 2 / 56 = 438
    CHECK(i.nc == 1056);  // 2 MiB * 14/16 / (432 * 4) = 1061
  }
  SUBCASE("every blocking keeps its blocks inside their caches") {
    for (const CpuFigures& f : {zen4, intel})
      for (int64_t mr : {4, 6, 14})
        for (int64_t nr : {16, 32})
          for (int64_t bytes : {2, 4}) {
            const GemmBlocking b = mg::cpu::derive_blocking(f, mr, nr, bytes);
            CAPTURE(mr);
            CAPTURE(nr);
            CAPTURE(bytes);
            CHECK(b.kc % 16 == 0);
            CHECK(b.nc % nr == 0);
            CHECK(b.mc % mr == 0);
            CHECK(mr * b.kc * bytes <= f.l1d.size / 2);  // the A micro-panel: half of L1
            CHECK(b.kc * b.nc * bytes <= f.l2.size);      // the B block in L2
            CHECK(b.mc * b.kc * bytes <= f.l3.size / f.l3.sharing);
          }
  }
  SUBCASE("no caches known: a working blocking all the same") {
    const GemmBlocking b = mg::cpu::derive_blocking(figures({}, {}, {}), 14, 32, 4);
    CHECK(b.kc >= 64);
    CHECK(b.nc >= 32);
    CHECK(b.mc >= 14);
  }
}

TEST_CASE("each register tile holds more accumulators than two FMA units of latency 4 keep in flight") {
  // One 512-bit unit of latency 4 (Zen 4) needs 4 independent chains, two
  // (Intel's server cores) 8. What this machine keeps in flight is measured
  // and shown, not asserted: a timing on a shared machine.
  using mg::cpu::Isa;
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!mg::cpu::isa_supported(isa)) continue;
    const int lanes = isa == Isa::Avx512 ? 16 : 8;
    const mg::cpu::CpuKernels& k = mg::cpu::kernels_for(isa);
    CAPTURE(mg::cpu::isa_name(isa));
    MESSAGE(mg::cpu::isa_name(isa) << ": " << k.mr * k.nr / lanes << " accumulators; FMA chains in flight measured: "
                                   << mg::cpu::measure_fma_chains(lanes));
    CHECK(k.mr * k.nr / lanes >= 8);
    CHECK((k.mr * k.nr / lanes + k.nr / lanes + 1) <= (isa == Isa::Avx512 ? 32 : 16));  // fits the register file
  }
}
