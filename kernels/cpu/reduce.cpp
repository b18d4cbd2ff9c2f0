// CPU reference: sums over any dims (accumulated in double) and row argmax.
#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"

namespace mg::cpu {

namespace {
constexpr int64_t kParallelGrain = 1 << 15;
// A sum of everything is cut into blocks of this many elements, summed in
// parallel and then added in block order: the same arithmetic at any thread count.
constexpr int64_t kSumBlock = 1 << 16;

// Σ p[0, n) in double. Eight independent partial sums: one running sum would
// wait on the latency of every add (about 4 cycles an element); eight keep
// the adder busy and vectorise.
template <typename T>
double sum_run(const T* p, int64_t n) {
  double s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += static_cast<double>(p[i + k]);
  double tail = 0.0;
  for (; i < n; ++i) tail += static_cast<double>(p[i]);
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}
}  // namespace

void CpuBackend::reduce_sum(const Tensor& x, const Tensor& out) {
  // Accumulate in double so the float32 reference is not the noisy side of a parity test.
  const size_t nd = x.shape().size();
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    // Sums that accumulate over several passes do so in double here: kept
    // from call to call, so a large output does not map fresh pages each time.
    // (A reference, so that the pool's threads fill the calling thread's buffer.)
    static thread_local std::vector<double> kept;
    std::vector<double>& acc = kept;
    auto accumulate = [&] { acc.assign(static_cast<size_t>(out.numel()), 0.0); };
    auto store = [&] {
      for (size_t i = 0; i < static_cast<size_t>(out.numel()); ++i) po[i] = static_cast<T>(acc[i]);
    };
    // Fast path: x contiguous and the kept dims one block in the middle, so x
    // reads as [outer, mid, inner] and out[m] = Σ_o Σ_i x[o, m, i] (bias
    // gradients [rows, n] -> [n] and [B, C, L] -> [C], row sums [rows, n] -> [rows]).
    size_t lead = 0, trail = nd;
    while (lead < nd && out.shape()[lead] == 1) ++lead;
    while (trail > lead && out.shape()[trail - 1] == 1) --trail;
    bool blocked = x.is_contiguous();
    for (size_t d = lead; d < trail; ++d) blocked = blocked && out.shape()[d] == x.shape()[d];
    int64_t outer = 1, mid = 1, inner = 1;
    for (size_t d = 0; d < nd; ++d) (d < lead ? outer : d < trail ? mid : inner) *= x.shape()[d];
    if (blocked && mid == 1 && inner == 1) {
      // Everything into one number (a loss): blocks in parallel, then in order.
      const int64_t n = outer, blocks = (n + kSumBlock - 1) / kSumBlock;
      std::vector<double> part(static_cast<size_t>(blocks), 0.0);
      auto block = [&](int64_t b) {
        const int64_t lo = b * kSumBlock;
        part[static_cast<size_t>(b)] = sum_run(px + lo, std::min(kSumBlock, n - lo));
      };
      run_tasks(blocks, TaskRef(block));
      double total = 0.0;
      for (double v : part) total += v;
      po[0] = static_cast<T>(total);
    } else if (blocked && inner == 1) {
      // Sums down columns, row by row (each task a band of columns): sequential reads.
      accumulate();
      parallel_for(mid, std::max<int64_t>(16, kParallelGrain / std::max<int64_t>(outer, 1)), [&](int64_t j0, int64_t j1) {
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t j = j0; j < j1; ++j) acc[static_cast<size_t>(j)] += px[o * mid + j];
      });
      store();
    } else if (blocked) {
      parallel_for(mid, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(outer * inner, 1)), [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) {
          double a = 0.0;
          for (int64_t o = 0; o < outer; ++o) a += sum_run(px + (o * mid + m) * inner, inner);
          po[m] = static_cast<T>(a);
        }
      });
    } else {
      Shape out_strides = out.strides();
      for (size_t d = 0; d < nd; ++d)
        if (out.shape()[d] == 1) out_strides[d] = 0;
      accumulate();
      strided_walk<2>(x.shape(), {&x.strides(), &out_strides},
                      [&](int64_t ix, int64_t io) { acc[static_cast<size_t>(io)] += px[ix]; });
      store();
    }
  });
}

void CpuBackend::argmax_rows(const Tensor& x, const Tensor& out) {
  const int64_t rows = x.size(0), n = x.size(1);
  int64_t* po = out.data<int64_t>();
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = px + r * n;
      po[r] = std::max_element(row, row + n) - row;
    }
  });
}

}  // namespace mg::cpu
