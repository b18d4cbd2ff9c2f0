#pragma once
// The CPU backend: plain loops that are the reference every faster kernel
// (CUDA, SIMD) is tested against. Loops are written for clarity first; the
// project's thread pool (kernels/cpu/parallel.h) runs the ones that are large
// enough to pay for it. GEMM and the LSTM go to the vectorised kernels of
// kernels/cpu/isa.h.
#include <array>
#include <tuple>
#include <vector>

#include "tensor/backend.h"

namespace mg::cpu {

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  Device device() const override { return Device::CPU; }
  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;

  void copy(const Tensor& dst, const Tensor& src) override;
  void fill(const Tensor& dst, double value) override;
  void random_uniform(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi) override;
  void random_normal(const Tensor& dst, uint64_t seed, uint64_t offset, double mean, double std) override;

  void unary(const UnaryArgs& args, const Tensor& x, const Tensor& y) override;
  void unary_backward(const UnaryArgs& args, const Tensor& gy, const Tensor& x, const Tensor& y,
                      const Tensor& gx) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce_sum(const Tensor& x, const Tensor& out) override;
  void argmax_rows(const Tensor& x, const Tensor& out) override;

  void gemm(const GemmArgs& args) override;

  void softmax(const Tensor& x, const Tensor& y, bool log) override;
  void softmax_backward(const Tensor& gy, const Tensor& y, const Tensor& gx, bool log) override;
  void cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& losses, const Tensor& probs) override;
  void probs_minus_onehot(const Tensor& probs, const Tensor& targets, const Tensor& grad) override;

  void index_select(const Tensor& src, const Tensor& index, const Tensor& out) override;
  void index_add(const Tensor& dst, const Tensor& index, const Tensor& src) override;

  void im2col1d(const Tensor& x, const Tensor& cols, const Conv1dGeometry& g) override;
  void col2im1d(const Tensor& cols, const Tensor& x, const Conv1dGeometry& g) override;
  void conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                      const Conv1dGeometry& g) override;
  void conv1d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv1dGeometry& g) override;
  void conv1d_backward_filter(const Tensor& gy, const Tensor& x, const Tensor& gw, const Conv1dGeometry& g) override;

  void norm1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool per_instance, double eps,
                      const Tensor& y, const Tensor& mean, const Tensor& rstd) override;
  void norm1d_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                       const Tensor& rstd, bool per_instance, const Tensor& gx, const Tensor& gweight,
                       const Tensor& gbias) override;

  void spectral_convergence(const Tensor& est, const Tensor& ref, int64_t group, double tiny,
                            const Tensor& stats) override;
  void spectral_convergence_backward(const Tensor& est, const Tensor& ref, int64_t group, double tiny,
                                     const Tensor& stats, const Tensor& weight, const Tensor& gest) override;

  void feature_magnitudes(const Tensor& v, const Tensor& shift, double scale, double ceiling, double floor,
                          double power, const Tensor& out, const Tensor& expu) override;
  void feature_magnitudes_backward(const Tensor& v, const Tensor& shift, double scale, double ceiling, double power,
                                   const Tensor& expu, const Tensor& gout, const Tensor& gv) override;

  void lstm_pointwise_forward(const Tensor& gates, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                              const Tensor& act) override;
  void lstm_pointwise_backward(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& c_prev,
                               const Tensor& c, const Tensor& ggates, const Tensor& gc_prev) override;
  void lstm_sequence_forward(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0,
                             const Tensor& hs, const Tensor& cs, const Tensor& acts) override;
  void lstm_sequence_backward(const Tensor& g_hs, const Tensor& g_c_last, const Tensor& w_hh, const Tensor& acts,
                              const Tensor& cs, const Tensor& c0, const Tensor& dgates, const Tensor& dh0,
                              const Tensor& dc0) override;

  void adam_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                 const AdamArgs& args) override;
  void adamax_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                   const AdamArgs& args) override;
  void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
                double weight_decay, bool nesterov) override;
};

// Calls f.template operator()<T>() with T = float or double for the dtype.
template <typename F>
decltype(auto) dispatch_float(DType dtype, F&& f) {
  switch (dtype) {
    case DType::F32: return f.template operator()<float>();
    case DType::F64: return f.template operator()<double>();
    default: fail("expected a float32 or float64 tensor, got {}", dtype_name(dtype));
  }
}

// Visits every index of `shape` in row-major order and calls f(o0, o1, ...)
// with the element offset of each operand under its own strides.
template <size_t N, typename F>
void strided_walk(const Shape& shape, const std::array<const Shape*, N>& strides, F&& f) {
  const size_t nd = shape.size();
  std::array<int64_t, N> off{};
  if (nd == 0) {
    std::apply(f, off);
    return;
  }
  for (int64_t s : shape)
    if (s == 0) return;
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = shape[nd - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = (*strides[k])[nd - 1];
  while (true) {
    std::array<int64_t, N> o = off;
    for (int64_t i = 0; i < inner; ++i) {
      std::apply(f, o);
      for (size_t k = 0; k < N; ++k) o[k] += inner_stride[k];
    }
    // Advance the outer index like an odometer.
    size_t d = nd - 1;
    while (d-- > 0) {
      ++idx[d];
      for (size_t k = 0; k < N; ++k) off[k] += (*strides[k])[d];
      if (idx[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= (*strides[k])[d] * shape[d];
      idx[d] = 0;
    }
    if (d == static_cast<size_t>(-1)) return;
  }
}

// The untuned triple loop: the oracle the fast GEMMs are tested against.
void gemm_reference(const GemmArgs& args);
// The plain elementwise loops (any float dtype; binary on any strided
// views): the oracle of the per-ISA float32 loops of simd_elementwise.inl.
void unary_reference(const UnaryArgs& args, const Tensor& x, const Tensor& y);
void unary_backward_reference(const UnaryArgs& args, const Tensor& gy, const Tensor& x, const Tensor& y,
                              const Tensor& gx);
void binary_reference(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void random_uniform_reference(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi);
// Plain loops for one LSTM step's pointwise part (float32 or float64), the
// oracle for the vectorised cell and the fused layer kernels.
void lstm_pointwise_forward_reference(const Tensor& gates, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                                      const Tensor& act);
void lstm_pointwise_backward_reference(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& c_prev,
                                       const Tensor& c, const Tensor& ggates, const Tensor& gc_prev);

}  // namespace mg::cpu
