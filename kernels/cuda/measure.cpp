#include "kernels/cuda/measure.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <vector>

#include "kernels/cuda/cuda_backend.h"

namespace mg::cuda {

std::pair<double, double> time_interleaved(const std::function<void()>& f, const std::function<void()>& g, int n) {
  cudaEvent_t start, stop;
  MG_CUDA_CHECK(cudaEventCreate(&start));
  MG_CUDA_CHECK(cudaEventCreate(&stop));
  auto time_one = [&](const std::function<void()>& fn) {
    MG_CUDA_CHECK(cudaEventRecord(start));
    fn();
    MG_CUDA_CHECK(cudaEventRecord(stop));
    MG_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    MG_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return static_cast<double>(ms);
  };
  std::vector<double> tf, tg;
  for (int i = 0; i < n; ++i) {
    tf.push_back(time_one(f));
    tg.push_back(time_one(g));
  }
  MG_CUDA_CHECK(cudaEventDestroy(start));
  MG_CUDA_CHECK(cudaEventDestroy(stop));
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {median(tf), median(tg)};
}

double relative_difference(const Tensor& a, const Tensor& b) {
  const Tensor ha = a.to(Device::CPU).to(DType::F64).contiguous();
  const Tensor hb = b.to(Device::CPU).to(DType::F64).contiguous();
  const double* pa = ha.data<double>();
  const double* pb = hb.data<double>();
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < ha.numel(); ++i) {
    if (!std::isfinite(pb[i])) return INFINITY;
    diff = std::max(diff, std::abs(pa[i] - pb[i]));
    scale = std::max(scale, std::abs(pa[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

KernelChoice kernel_choice_from_env(const char* name, const char* alternative, const char* ours) {
  const char* v = std::getenv(name);
  if (!v || !*v || std::strcmp(v, "auto") == 0) return KernelChoice::Auto;
  if (std::strcmp(v, alternative) == 0) return KernelChoice::Alternative;
  if (std::strcmp(v, ours) == 0) return KernelChoice::Ours;
  fail("{}={}: expected auto, {} or {}", name, v, alternative, ours);
}

Measurement measure_alternative(const std::function<bool()>& alternative, const std::function<void()>& ours,
                                const std::function<double()>& difference, double tolerance,
                                const std::function<void()>& time_ours,
                                const std::function<void()>& time_alternative, int rounds) {
  Measurement m;
  const bool ran = alternative();
  ours();
  if (!ran) return m;
  m.difference = difference();
  if (!(m.difference <= tolerance)) return m;
  std::tie(m.ms_ours, m.ms_alternative) = time_interleaved(time_ours, time_alternative, rounds);
  m.use_alternative = m.ms_alternative < m.ms_ours;
  return m;
}

bool kernel_log_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("MUSICGEN_KERNEL_LOG");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}

}  // namespace mg::cuda
