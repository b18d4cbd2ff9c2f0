// LSTM cell, pointwise part. B = batch, H = hidden size; gates and act
// [B, 4H] in order i, f, g, o; c_prev, h, c [B, H]. The formulas are
// kernels/pointwise.h's, shared with the CPU reference.
// One thread per (b, j) computes all four gates: the GEMM before it is where
// the time goes, and this keeps the step to one read of the gates.
#include "kernels/cuda/launch.h"
#include "kernels/pointwise.h"

namespace mg::cuda {

using detail::data_or_null;
using detail::dispatch_float;

namespace {

template <typename T>
__global__ void lstm_forward_kernel(const T* gates, const T* c_prev, T* h, T* c, T* act, int64_t B, int64_t H) {
  const int64_t i = global_index();
  if (i >= B * H) return;
  const int64_t b = i / H, j = i - b * H;
  const T* g = gates + b * 4 * H;
  T* a = act + b * 4 * H;
  const auto r = pointwise::lstm_cell_forward(g[j], g[H + j], g[2 * H + j], g[3 * H + j], c_prev[i]);
  a[j] = r.i;
  a[H + j] = r.f;
  a[2 * H + j] = r.g;
  a[3 * H + j] = r.o;
  c[i] = r.c;
  h[i] = r.h;
}

// gh, gc may be null (zero).
template <typename T>
__global__ void lstm_backward_kernel(const T* gh, const T* gc, const T* act, const T* c_prev, const T* c, T* ggates,
                                     T* gc_prev, int64_t B, int64_t H) {
  const int64_t i = global_index();
  if (i >= B * H) return;
  const int64_t b = i / H, j = i - b * H;
  const T* a = act + b * 4 * H;
  T* dg = ggates + b * 4 * H;
  const auto r = pointwise::lstm_cell_backward(gh ? gh[i] : T(0), gc ? gc[i] : T(0), a[j], a[H + j], a[2 * H + j],
                                               a[3 * H + j], c_prev[i], c[i]);
  dg[j] = r.di;
  dg[H + j] = r.df;
  dg[2 * H + j] = r.dg;
  dg[3 * H + j] = r.dout;
  gc_prev[i] = r.dc_prev;
}

}  // namespace

void CudaBackend::lstm_pointwise_forward(const Tensor& gates, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                                         const Tensor& act) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  if (B * H == 0) return;
  dispatch_float(gates.dtype(), [&](auto tag) {
    using T = decltype(tag);
    lstm_forward_kernel<<<blocks_for(B * H), kThreads>>>(gates.data<T>(), c_prev.data<T>(), h.data<T>(), c.data<T>(),
                                                         act.data<T>(), B, H);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::lstm_pointwise_backward(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& c_prev,
                                          const Tensor& c, const Tensor& ggates, const Tensor& gc_prev) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  if (B * H == 0) return;
  dispatch_float(act.dtype(), [&](auto tag) {
    using T = decltype(tag);
    lstm_backward_kernel<<<blocks_for(B * H), kThreads>>>(data_or_null<T>(gh), data_or_null<T>(gc), act.data<T>(),
                                                          c_prev.data<T>(), c.data<T>(), ggates.data<T>(),
                                                          gc_prev.data<T>(), B, H);
  });
  MG_CUDA_LAUNCHED();
}

}  // namespace mg::cuda
