// Reductions: sum over any set of dims (keepdim output), argmax over rows.
// x's dims split into kept ones (out has their size) and reduced ones (out
// has 1); `kept` and `red` are their geometries under x's strides.
// Sums accumulate in double, like the CPU reference, in a fixed order.
#include "kernels/cuda/launch.h"

namespace mg::cuda {

using detail::dispatch_float;

namespace {

// One block per output: threads stride over the reduced elements, which is
// coalesced when the reduced dims are innermost (row sums, norms over L).
template <typename T>
__global__ void reduce_sum_block_kernel(const T* x, Strided kept, Strided red, int64_t reduced, T* out) {
  const int64_t o = blockIdx.x;
  const int64_t base = offset_of(o, kept);
  double acc = 0.0;
  for (int64_t r = threadIdx.x; r < reduced; r += blockDim.x) acc += x[base + offset_of(r, red)];
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[o] = static_cast<T>(acc);
}

// One thread per output looping over the reduced elements: neighbouring
// threads read neighbouring addresses when the innermost dim is kept (bias
// gradients, [rows, n] -> [1, n]).
template <typename T>
__global__ void reduce_sum_thread_kernel(const T* x, Strided kept, Strided red, int64_t reduced, T* out,
                                         int64_t outputs) {
  const int64_t o = global_index();
  if (o >= outputs) return;
  const int64_t base = offset_of(o, kept);
  double acc = 0.0;
  for (int64_t r = 0; r < reduced; ++r) acc += x[base + offset_of(r, red)];
  out[o] = static_cast<T>(acc);
}

template <typename T>
__global__ void argmax_rows_kernel(const T* x, int64_t rows, int64_t n, int64_t* out) {
  const int64_t r = global_index();
  if (r >= rows) return;
  const T* row = x + r * n;
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j)
    if (row[j] > row[best]) best = j;  // strict: the first maximum wins, as std::max_element
  out[r] = best;
}

}  // namespace

void CudaBackend::reduce_sum(const Tensor& x, const Tensor& out) {
  const int64_t outputs = out.numel();
  if (outputs == 0) return;
  Shape kept_shape, kept_strides, red_shape, red_strides;
  bool unit_stride_kept = false;  // is the dim that steps by one element a kept dim?
  for (int64_t d = 0; d < x.dim(); ++d) {
    const size_t i = static_cast<size_t>(d);
    const bool reduced = out.shape()[i] == 1 && x.shape()[i] != 1;
    (reduced ? red_shape : kept_shape).push_back(x.shape()[i]);
    (reduced ? red_strides : kept_strides).push_back(x.strides()[i]);
    if (x.strides()[i] == 1 && x.shape()[i] > 1) unit_stride_kept = !reduced;
  }
  const int64_t reduced = shape_numel(red_shape);
  const Strided kept = strided_of(kept_shape, kept_strides), red = strided_of(red_shape, red_strides);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // Few outputs would leave the thread-per-output kernel a handful of busy threads.
    if (unit_stride_kept && outputs >= 128) {
      reduce_sum_thread_kernel<<<blocks_for(outputs), kThreads>>>(x.data<T>(), kept, red, reduced, out.data<T>(),
                                                                   outputs);
    } else {
      reduce_sum_block_kernel<<<static_cast<unsigned>(outputs), threads_for_row(reduced)>>>(x.data<T>(), kept, red,
                                                                                           reduced, out.data<T>());
    }
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::argmax_rows(const Tensor& x, const Tensor& out) {
  const int64_t rows = x.size(0), n = x.size(1);
  if (rows == 0) return;
  MG_CHECK(n > 0, "argmax_rows: rows of length 0");
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    argmax_rows_kernel<<<blocks_for(rows), kThreads>>>(x.data<T>(), rows, n, out.data<int64_t>());
  });
  MG_CUDA_LAUNCHED();
}

}  // namespace mg::cuda
