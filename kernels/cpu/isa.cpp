// Choosing the instruction set: CPUID (through GCC's __builtin_cpu_supports,
// which also checks that the OS saves the wide registers), or MUSICGEN_ISA.
#include "kernels/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace mg::cpu {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Generic: return "generic";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
    case Isa::Generic: return true;
  }
  return false;
}

namespace {

Isa choose_isa() {
  const char* forced = std::getenv("MUSICGEN_ISA");
  if (forced && *forced) {
    for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Generic}) {
      if (std::strcmp(forced, isa_name(isa)) != 0) continue;
      if (!isa_supported(isa)) fail("MUSICGEN_ISA={}: this CPU does not support {}", forced, isa_name(isa));
      return isa;
    }
    fail("MUSICGEN_ISA={}: expected avx512, avx2 or generic", forced);
  }
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Generic;
}

}  // namespace

Isa active_isa() {
  static const Isa isa = choose_isa();
  return isa;
}

const CpuKernels& kernels_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return avx512_kernels();
    case Isa::Avx2: return avx2_kernels();
    case Isa::Generic: break;
  }
  return generic_kernels();
}

const CpuKernels& kernels() {
  static const CpuKernels& k = kernels_for(active_isa());
  return k;
}

const Bf16Kernels* bf16_kernels() {
  static const Bf16Kernels* k =
      active_isa() == Isa::Avx512 && cpu_figures().avx512_bf16 ? &avx512_bf16_kernels() : nullptr;
  return k;
}

namespace {
std::atomic<MatmulPrecision> precision{MatmulPrecision::Fp32};
}  // namespace

}  // namespace mg::cpu

namespace mg {

const char* cpu_isa() { return cpu::isa_name(cpu::active_isa()); }

#if !defined(MUSICGEN_BUILD_DESCRIPTION)
#define MUSICGEN_BUILD_DESCRIPTION "unknown build"
#endif
const char* build_description() { return MUSICGEN_BUILD_DESCRIPTION; }

std::string cpu_bf16_unsupported() {
  if (cpu::bf16_kernels()) return "";
  const cpu::CpuFigures& f = cpu::cpu_figures();
  if (f.avx512_bf16)
    return fmt::format("MUSICGEN_ISA={} leaves out AVX512_BF16 (vdpbf16ps), which this CPU has", cpu_isa());
  return fmt::format("this CPU ({}) has no AVX512_BF16 (vdpbf16ps), which the bf16 kernels need", f.model_name);
}

void set_matmul_precision(MatmulPrecision p) {
  if (p == MatmulPrecision::Bf16) {
    const std::string why = cpu_bf16_unsupported();
    if (!why.empty()) fail("bf16 matrix products: {}", why);
  }
  cpu::precision.store(p);
}

MatmulPrecision matmul_precision() { return cpu::precision.load(); }

}  // namespace mg
