// CPU LSTM kernels: the reference loops for one step's pointwise part (the
// oracle, in scalar arithmetic with the math library's exp and tanh), and the
// backend entries that send float32 to the fused kernels of this CPU's
// instruction set (kernels/cpu/simd_kernels.inl). Both evaluate the cell's
// equations of kernels/lstm_cell.inl; tests/engine_formulas.cpp checks each
// against the equations written out in long double. gates [B, 4H] in order
// i, f, g, o.
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/pointwise.h"

namespace mg::cpu {

void lstm_pointwise_forward_reference(const Tensor& gates, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                                      const Tensor& act) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  dispatch_float(gates.dtype(), [&]<typename T>() {
    const T* pg = gates.data<T>();
    const T* pc0 = c_prev.data<T>();
    T* ph = h.data<T>();
    T* pc = c.data<T>();
    T* pa = act.data<T>();
    for (int64_t b = 0; b < B; ++b) {
      const T* g = pg + b * 4 * H;
      T* a = pa + b * 4 * H;
      for (int64_t j = 0; j < H; ++j) {
        const auto r = pointwise::lstm_cell_forward(g[j], g[H + j], g[2 * H + j], g[3 * H + j], pc0[b * H + j]);
        a[j] = r.i;
        a[H + j] = r.f;
        a[2 * H + j] = r.g;
        a[3 * H + j] = r.o;
        pc[b * H + j] = r.c;
        ph[b * H + j] = r.h;
      }
    }
  });
}

void lstm_pointwise_backward_reference(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& c_prev,
                                       const Tensor& c, const Tensor& ggates, const Tensor& gc_prev) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  dispatch_float(act.dtype(), [&]<typename T>() {
    const T* pgh = gh.defined() ? gh.data<T>() : nullptr;
    const T* pgc = gc.defined() ? gc.data<T>() : nullptr;
    const T* pa = act.data<T>();
    const T* pc0 = c_prev.data<T>();
    const T* pc = c.data<T>();
    T* pgg = ggates.data<T>();
    T* pgc0 = gc_prev.data<T>();
    for (int64_t b = 0; b < B; ++b) {
      const T* a = pa + b * 4 * H;
      T* dg = pgg + b * 4 * H;
      for (int64_t j = 0; j < H; ++j) {
        const int64_t k = b * H + j;
        const auto r = pointwise::lstm_cell_backward(pgh ? pgh[k] : T(0), pgc ? pgc[k] : T(0), a[j], a[H + j],
                                                     a[2 * H + j], a[3 * H + j], pc0[k], pc[k]);
        dg[j] = r.di;
        dg[H + j] = r.df;
        dg[2 * H + j] = r.dg;
        dg[3 * H + j] = r.dout;
        pgc0[k] = r.dc_prev;
      }
    }
  });
}

void CpuBackend::lstm_pointwise_forward(const Tensor& gates, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                                        const Tensor& act) {
  if (gates.dtype() != DType::F32) return lstm_pointwise_forward_reference(gates, c_prev, h, c, act);
  LstmCell a;
  a.B = c_prev.size(0);
  a.H = c_prev.size(1);
  a.gates = gates.data<float>();
  a.c_prev = c_prev.data<float>();
  a.h = h.data<float>();
  a.c = c.data<float>();
  a.act = act.data<float>();
  kernels().lstm_cell_forward(a);
}

void CpuBackend::lstm_pointwise_backward(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& c_prev,
                                         const Tensor& c, const Tensor& ggates, const Tensor& gc_prev) {
  if (act.dtype() != DType::F32) return lstm_pointwise_backward_reference(gh, gc, act, c_prev, c, ggates, gc_prev);
  LstmCell a;
  a.B = c_prev.size(0);
  a.H = c_prev.size(1);
  a.act = act.data<float>();
  a.c_prev = c_prev.data<float>();
  a.c = c.data<float>();
  a.gh = gh.defined() ? gh.data<float>() : nullptr;
  a.gc = gc.defined() ? gc.data<float>() : nullptr;
  a.ggates = ggates.data<float>();
  a.gc_prev = gc_prev.data<float>();
  kernels().lstm_cell_backward(a);
}

namespace {
// Below this batch the fused kernel's register tile would be mostly padding:
// a step is then a matrix-vector product, which the per-step path does by
// reading W_hh once (the GEMV of gemm_one), split over the threads.
constexpr int64_t kFusedMinBatch = 4;

// bf16 products for a layer whose hidden size pairs up (see isa_avx512_bf16.cpp).
bool bf16_layer(int64_t H) { return matmul_precision() == MatmulPrecision::Bf16 && H % 2 == 0; }
}  // namespace

void CpuBackend::lstm_sequence_forward(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0,
                                       const Tensor& hs, const Tensor& cs, const Tensor& acts) {
  if (xproj.dtype() != DType::F32 || xproj.size(1) < kFusedMinBatch)
    return Backend::lstm_sequence_forward(xproj, w_hh, h0, c0, hs, cs, acts);
  LstmForward a;
  a.T = xproj.size(0);
  a.B = xproj.size(1);
  a.H = w_hh.size(1);
  a.xproj = xproj.data<float>();
  a.w_hh = w_hh.data<float>();
  a.h0 = h0.data<float>();
  a.c0 = c0.data<float>();
  a.hs = hs.data<float>();
  a.cs = cs.data<float>();
  a.acts = acts.data<float>();
  count_flops(2.0 * static_cast<double>(a.T * a.B) * static_cast<double>(4 * a.H * a.H));
  if (bf16_layer(a.H)) bf16_kernels()->lstm_forward(a);
  else kernels().lstm_forward(a);
}

void CpuBackend::lstm_sequence_backward(const Tensor& g_hs, const Tensor& g_c_last, const Tensor& w_hh,
                                        const Tensor& acts, const Tensor& cs, const Tensor& c0, const Tensor& dgates,
                                        const Tensor& dh0, const Tensor& dc0) {
  if (acts.dtype() != DType::F32 || acts.size(1) < kFusedMinBatch)
    return Backend::lstm_sequence_backward(g_hs, g_c_last, w_hh, acts, cs, c0, dgates, dh0, dc0);
  LstmBackward a;
  a.T = acts.size(0);
  a.B = acts.size(1);
  a.H = w_hh.size(1);
  a.w_hh = w_hh.data<float>();
  a.acts = acts.data<float>();
  a.cs = cs.data<float>();
  a.c0 = c0.data<float>();
  if (g_hs.defined()) {
    a.g_hs = g_hs.data<float>();
    a.g_hs_stride_t = g_hs.strides()[0];
    a.g_hs_stride_b = g_hs.strides()[1];
  }
  a.g_c_last = g_c_last.defined() ? g_c_last.data<float>() : nullptr;
  a.dgates = dgates.data<float>();
  a.dh0 = dh0.data<float>();
  a.dc0 = dc0.data<float>();
  count_flops(2.0 * static_cast<double>(a.T * a.B) * static_cast<double>(4 * a.H * a.H));  // dh = dgates W_hh
  if (bf16_layer(a.H)) bf16_kernels()->lstm_backward(a);
  else kernels().lstm_backward(a);
}

}  // namespace mg::cpu
