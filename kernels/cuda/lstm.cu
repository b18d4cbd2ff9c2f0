// LSTM cell, pointwise part. B = batch, H = hidden size; gates and act
// [B, 4H] in order i, f, g, o; c_prev, h, c [B, H].
//   c = sigmoid(f) c_prev + sigmoid(i) tanh(g);  h = sigmoid(o) tanh(c)
// One thread per (b, j) computes all four gates: the GEMM before it is where
// the time goes, and this keeps the step to one read of the gates.
#include "kernels/cuda/launch.h"

namespace mg::cuda {

using detail::data_or_null;
using detail::dispatch_float;

namespace {

template <typename T>
__device__ __forceinline__ T sigmoid(T v) {
  return T(1) / (T(1) + exp(-v));
}

template <typename T>
__global__ void lstm_forward_kernel(const T* gates, const T* c_prev, T* h, T* c, T* act, int64_t B, int64_t H) {
  const int64_t i = global_index();
  if (i >= B * H) return;
  const int64_t b = i / H, j = i - b * H;
  const T* g = gates + b * 4 * H;
  T* a = act + b * 4 * H;
  const T ig = sigmoid(g[j]), fg = sigmoid(g[H + j]), gg = tanh(g[2 * H + j]), og = sigmoid(g[3 * H + j]);
  a[j] = ig;
  a[H + j] = fg;
  a[2 * H + j] = gg;
  a[3 * H + j] = og;
  const T cn = fg * c_prev[i] + ig * gg;
  c[i] = cn;
  h[i] = og * tanh(cn);
}

// gh, gc may be null (zero). dc is the total gradient reaching c.
template <typename T>
__global__ void lstm_backward_kernel(const T* gh, const T* gc, const T* act, const T* c_prev, const T* c, T* ggates,
                                     T* gc_prev, int64_t B, int64_t H) {
  const int64_t i = global_index();
  if (i >= B * H) return;
  const int64_t b = i / H, j = i - b * H;
  const T* a = act + b * 4 * H;
  T* dg = ggates + b * 4 * H;
  const T ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
  const T tc = tanh(c[i]);
  const T dh = gh ? gh[i] : T(0);
  const T dc = (gc ? gc[i] : T(0)) + dh * og * (T(1) - tc * tc);
  dg[j] = dc * gg * ig * (T(1) - ig);             // input gate
  dg[H + j] = dc * c_prev[i] * fg * (T(1) - fg);  // forget gate
  dg[2 * H + j] = dc * ig * (T(1) - gg * gg);     // candidate
  dg[3 * H + j] = dh * tc * og * (T(1) - og);     // output gate
  gc_prev[i] = dc * fg;
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
