// LSTM cell, pointwise part. B = batch, H = hidden size; gates and act
// [B, 4H] in order i, f, g, o; c_prev, h, c [B, H]. The formulas are
// kernels/pointwise.h's, shared with the CPU reference.
// One thread per (b, j) computes all four gates: the GEMM before it is where
// the time goes, and this keeps the step to one read of the gates.
//
// The whole recurrence (lstm_sequence_forward/backward) runs either as the
// default's GEMM plus cell kernel per step (tensor/backend.cpp) or as one
// persistent launch per layer (lstm_persistent.h). The first time a shape
// comes, both run on the same inputs; the persistent kernel is used from then
// on when it agrees with the per-step result and is faster.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/lstm_persistent.h"
#include "kernels/cuda/measure.h"
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

namespace {

std::string recurrence_key(const char* pass, int64_t T, int64_t B, int64_t H) {
  return fmt::format("lstm recurrence {} T {} B {} H {}", pass, T, B, H);
}

// The persistent kernels load 128 bits at a time along H (g_hs, read one
// float at a time, may have any strides).
bool aligned16(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined() && reinterpret_cast<uintptr_t>(t->data_ptr()) % 16 != 0) return false;
  return true;
}

// Agreement between the two recurrences, relative to each output's largest
// value: summation orders differ, and T steps compound the rounding.
constexpr double kRecurrenceTolerance = 1e-4;

}  // namespace

// The two recurrences of one pass, as run_recurrence needs them.
struct RecurrenceCandidates {
  std::function<void()> steps;        // the per-step path, into the caller's outputs
  std::function<bool()> persistent;   // the persistent kernels, into the caller's outputs (false: cannot run)
  // For the first call of a shape (measure_alternative): the persistent
  // kernels into scratch outputs, run before steps; their largest relative
  // difference from the caller's outputs; each path once more into scratch.
  std::function<bool()> persistent_scratch;
  std::function<double()> difference;
  std::function<void()> time_steps, time_persistent;
};

void CudaBackend::run_recurrence(const std::string& key, const RecurrenceCandidates& c) {
  if (recurrence_mode_ == KernelChoice::Alternative) {
    if (!c.persistent()) c.steps();
    return;
  }
  std::lock_guard<std::mutex> lock(recurrence_mu_);
  auto it = recurrence_persistent_.find(key);
  if (it != recurrence_persistent_.end()) {
    if (!it->second || !c.persistent()) c.steps();
    return;
  }
  const Measurement m = measure_alternative(c.persistent_scratch, c.steps, c.difference, kRecurrenceTolerance,
                                            c.time_steps, c.time_persistent, 3);
  recurrence_persistent_[key] = m.use_alternative;
  if (kernel_log_enabled() || !(m.difference <= kRecurrenceTolerance))
    std::fprintf(stderr, "kernels: %s: per step %.3f ms, persistent %.3f ms (diff %.2g) -> %s\n", key.c_str(),
                 m.ms_ours, m.ms_alternative, m.difference, m.use_alternative ? "persistent" : "per step");
}

void CudaBackend::lstm_sequence_forward(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0,
                                        const Tensor& hs, const Tensor& cs, const Tensor& acts) {
  const int64_t T = xproj.size(0), B = xproj.size(1), H = w_hh.size(1);
  const bool eligible = recurrence_mode_ != KernelChoice::Ours && xproj.dtype() == DType::F32 &&
                        T * B * 4 * H < (int64_t{1} << 31) && aligned16({&xproj, &w_hh, &h0, &c0, &hs, &cs, &acts});
  if (!eligible) return Backend::lstm_sequence_forward(xproj, w_hh, h0, c0, hs, cs, acts);
  auto persistent = [&](const Tensor& xp, const Tensor& h, const Tensor& c, const Tensor& a) {
    return lstm_persistent_forward(xp.data<float>(), w_hh.data<float>(), h0.data<float>(), c0.data<float>(),
                                   h.data<float>(), c.data<float>(), a.data<float>(), static_cast<int>(T),
                                   static_cast<int>(B), static_cast<int>(H));
  };
  // Scratch for the first call: acts may be xproj itself (overwritten), so
  // the candidates run on a copy of xproj, restored before every run.
  Tensor xp0, xp, h2, c2, a2;
  RecurrenceCandidates c;
  c.steps = [&] { Backend::lstm_sequence_forward(xproj, w_hh, h0, c0, hs, cs, acts); };
  c.persistent = [&] { return persistent(xproj, hs, cs, acts); };
  c.persistent_scratch = [&] {
    xp0 = xproj.clone();
    xp = xproj.clone();
    h2 = empty_like(hs);
    c2 = empty_like(cs);
    a2 = acts.data_ptr() == xproj.data_ptr() ? xp : empty_like(acts);
    return persistent(xp, h2, c2, a2);
  };
  c.difference = [&] {
    return std::max({relative_difference(hs, h2), relative_difference(cs, c2), relative_difference(acts, a2)});
  };
  c.time_steps = [&] {
    copy(xp, xp0);
    Backend::lstm_sequence_forward(xp, w_hh, h0, c0, h2, c2, a2);
  };
  c.time_persistent = [&] {
    copy(xp, xp0);
    persistent(xp, h2, c2, a2);
  };
  run_recurrence(recurrence_key("forward", T, B, H), c);
}

void CudaBackend::lstm_sequence_backward(const Tensor& g_hs, const Tensor& g_c_last, const Tensor& w_hh,
                                         const Tensor& acts, const Tensor& cs, const Tensor& c0, const Tensor& dgates,
                                         const Tensor& dh0, const Tensor& dc0) {
  const int64_t T = acts.size(0), B = acts.size(1), H = w_hh.size(1);
  const bool eligible = recurrence_mode_ != KernelChoice::Ours && acts.dtype() == DType::F32 &&
                        T * B * 4 * H < (int64_t{1} << 31) &&
                        aligned16({&w_hh, &acts, &cs, &c0, &dgates, &dh0, &dc0});
  if (!eligible) return Backend::lstm_sequence_backward(g_hs, g_c_last, w_hh, acts, cs, c0, dgates, dh0, dc0);
  auto steps = [&](const Tensor& a, const Tensor& dg, const Tensor& dh, const Tensor& dc) {
    Backend::lstm_sequence_backward(g_hs, g_c_last, w_hh, a, cs, c0, dg, dh, dc);
  };
  auto persistent = [&](const Tensor& a, const Tensor& dg, const Tensor& dh, const Tensor& dc) {
    return lstm_persistent_backward(
        g_hs.defined() ? g_hs.data<float>() : nullptr, g_hs.defined() ? g_hs.strides()[0] : 0,
        g_hs.defined() ? g_hs.strides()[1] : 0, g_c_last.defined() ? g_c_last.data<float>() : nullptr,
        w_hh.data<float>(), a.data<float>(), cs.data<float>(), c0.data<float>(), dg.data<float>(), dh.data<float>(),
        dc.data<float>(), static_cast<int>(T), static_cast<int>(B), static_cast<int>(H));
  };
  // Scratch for the first call. dgates may be acts itself (overwritten), so
  // the candidates read a copy of acts, made before the caller's run.
  Tensor a0, dg2, dh2, dc2;
  RecurrenceCandidates c;
  c.steps = [&] { steps(acts, dgates, dh0, dc0); };
  c.persistent = [&] { return persistent(acts, dgates, dh0, dc0); };
  c.persistent_scratch = [&] {
    a0 = acts.clone();
    dg2 = empty_like(dgates);
    dh2 = empty_like(dh0);
    dc2 = empty_like(dc0);
    return persistent(a0, dg2, dh2, dc2);
  };
  c.difference = [&] {
    return std::max({relative_difference(dgates, dg2), relative_difference(dh0, dh2), relative_difference(dc0, dc2)});
  };
  c.time_steps = [&] { steps(a0, dg2, dh2, dc2); };
  c.time_persistent = [&] { persistent(a0, dg2, dh2, dc2); };
  run_recurrence(recurrence_key("backward", T, B, H), c);
}

}  // namespace mg::cuda
