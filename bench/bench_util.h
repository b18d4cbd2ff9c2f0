#pragma once
// Benchmark helpers: warm up, time many repeats, report the median; print
// aligned tables with a reference column and the ratio.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tensor/backend.h"

namespace mg::bench {

// --precision fp32|bf16 of the CPU benchmarks (tensor/backend.h MatmulPrecision):
// false, with the reason printed, for another value or a CPU without AVX512_BF16.
inline bool set_precision_flag(const std::string& text) {
  if (text != "fp32" && text != "bf16") {
    std::printf("--precision %s: expected fp32 or bf16\n", text.c_str());
    return false;
  }
  if (text == "bf16") {
    const std::string why = cpu_bf16_unsupported();
    if (!why.empty()) {
      std::printf("--precision bf16: %s\n", why.c_str());
      return false;
    }
  }
  set_matmul_precision(text == "bf16" ? MatmulPrecision::Bf16 : MatmulPrecision::Fp32);
  return true;
}
inline const char* precision_name() { return matmul_precision() == MatmulPrecision::Bf16 ? "bf16" : "fp32"; }

// Peak resident memory of this process so far, MiB.
inline double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Resident memory of this process now, MiB (/proc/self/statm; 0 when it cannot be read).
inline double current_rss_mib() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// Median wall time of fn() in seconds over `repeats` runs after `warmup` runs.
// Stops early once `budget_seconds` is spent (after at least 3 timed runs).
inline double median_seconds(const std::function<void()>& fn, int repeats = 15, int warmup = 2,
                             double budget_seconds = 5.0) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> times;
  auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    auto t1 = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double>(t1 - t0).count());
    if (times.size() >= 3 && std::chrono::duration<double>(t1 - begin).count() > budget_seconds) break;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Runs the candidates alternately (A B C A B C ...) `repeats` times after
// `warmup` rounds and returns each one's median seconds: load that comes
// and goes on a shared machine then hits every candidate alike.
inline std::vector<double> interleaved_medians(const std::vector<std::function<void()>>& fns, int repeats,
                                               int warmup = 1) {
  for (int w = 0; w < warmup; ++w)
    for (const auto& f : fns) f();
  std::vector<std::vector<double>> times(fns.size());
  for (int r = 0; r < repeats; ++r)
    for (size_t i = 0; i < fns.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      fns[i]();
      times[i].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  std::vector<double> med;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    med.push_back(t[t.size() / 2]);
  }
  return med;
}

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  void print() const {
    std::vector<size_t> w(header.size());
    for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
    for (const auto& r : rows)
      for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    auto print_row = [&](const std::vector<std::string>& r) {
      std::string s = "|";
      for (size_t i = 0; i < w.size(); ++i) s += fmt::format(" {:>{}} |", i < r.size() ? r[i] : "", w[i]);
      std::puts(s.c_str());
    };
    print_row(header);
    std::string sep = "|";
    for (size_t x : w) sep += std::string(x + 2, '-') + "|";
    std::puts(sep.c_str());
    for (const auto& r : rows) print_row(r);
  }
};

}  // namespace mg::bench
