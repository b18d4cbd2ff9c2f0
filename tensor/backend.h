#pragma once
// The backend interface: every kernel an op needs, behind one virtual table
// per device. Ops (autograd/ops/*.cpp) never touch memory themselves; they
// allocate tensors and call backend_for(device).something(...). The CPU
// backend (kernels/cpu) is the readable reference; the CUDA backend
// (kernels/cuda) implements the same calls and is tested against it.
//
// Conventions: unless a parameter says otherwise, tensors passed in are
// contiguous, of one dtype (F32 or F64), and on this backend's device.
// Outputs are preallocated by the caller.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tensor/tensor.h"

namespace mg {

enum class UnaryOp : uint8_t {
  Neg,        // -x
  Exp,        // e^x
  Log,        // ln x
  Sqrt,       // sqrt x
  Sigmoid,    // 1 / (1 + e^-x)
  Tanh,       // tanh x
  Relu,       // max(x, 0)
  LeakyRelu,  // x > 0 ? x : alpha x
  Pow,        // x^alpha
  Affine,     // alpha x + beta
  Abs,        // |x|
  Mask,       // x >= alpha ? beta : 0   (dropout keep mask from uniforms)
};

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div };

struct UnaryArgs {
  UnaryOp op;
  double alpha = 0.0;
  double beta = 0.0;
};

// Row-major C[m, n] = alpha * op(A)[m, k] . op(B)[k, n] + beta * C, repeated
// over `batch` matrices. op(A) = A^T when trans_a. lda/ldb/ldc are row strides
// of the stored matrices; stride_* step between batch items (0 = broadcast).
struct GemmArgs {
  DType dtype = DType::F32;
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  double alpha = 1.0, beta = 0.0;
  const void* a = nullptr;
  int64_t lda = 0, stride_a = 0;
  const void* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  int64_t batch = 1;
  // Column segments, CPU only (0 = none; other backends refuse them): the
  // columns of the non-transposed A, B or C come in runs of seg_* columns,
  // each run seg_stride_* elements after the one before, so that [S, R, L]
  // reads as the matrix [R, S*L] (seg L, seg_stride R*L, ld L) without a copy.
  int64_t seg_a = 0, seg_stride_a = 0, seg_b = 0, seg_stride_b = 0, seg_c = 0, seg_stride_c = 0;
};

// 1-D convolution geometry over x [B, C, L] with kernel size K.
// out length = (L + pad_left + pad_right - dilation (K - 1) - 1) / stride + 1.
struct Conv1dGeometry {
  int64_t batch = 0, channels = 0, length = 0, kernel = 0;
  int64_t stride = 1, pad_left = 0, pad_right = 0, dilation = 1;
  int64_t out_length() const {
    const int64_t span = length + pad_left + pad_right - dilation * (kernel - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;  // C++ division truncates toward zero: guard negative spans
  }
};

struct AdamArgs {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  int64_t step = 1;  // 1-based, for bias correction
};

// GEMM arguments for C [m, n] = op(A) op(B) + beta C over contiguous row-major
// tensors: leading dimensions follow from the shapes; no batch.
GemmArgs contiguous_gemm(const Tensor& c, double beta, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                const Tensor& a, const Tensor& b);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- memory
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;

  // ---- layout
  // dst[i] = src[i] for every index of their common shape; both may be any
  // strided view (dst must not overlap itself); dtypes may differ among F32/F64.
  virtual void copy(const Tensor& dst, const Tensor& src) = 0;
  virtual void fill(const Tensor& dst, double value) = 0;
  // U[lo, hi) and N(mean, std) from Philox counters (seed, offset + i).
  virtual void random_uniform(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi) = 0;
  virtual void random_normal(const Tensor& dst, uint64_t seed, uint64_t offset, double mean, double std) = 0;

  // ---- elementwise
  virtual void unary(const UnaryArgs& args, const Tensor& x, const Tensor& y) = 0;
  // gx = gy * d op(x) / dx; y is op(x), which exp/sigmoid/tanh/sqrt's derivatives
  // read instead of x. x or y is undefined where the derivative does not read it
  // (pointwise::derivative_reads_x/_y).
  virtual void unary_backward(const UnaryArgs& args, const Tensor& gy, const Tensor& x, const Tensor& y,
                              const Tensor& gx) = 0;
  // out = a (op) b; a and b are strided views broadcast to out's shape (stride 0
  // on broadcast dims); out is contiguous.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // ---- reductions
  // out has x's rank with size 1 on reduced dims; out = sum of x over them.
  virtual void reduce_sum(const Tensor& x, const Tensor& out) = 0;
  // For x [rows, n]: out[rows] (int64) = argmax over n (first maximum).
  virtual void argmax_rows(const Tensor& x, const Tensor& out) = 0;

  // ---- linear algebra
  virtual void gemm(const GemmArgs& args) = 0;

  // ---- softmax family, over the last dim of [rows, n]
  virtual void softmax(const Tensor& x, const Tensor& y, bool log) = 0;
  // gx for y = softmax(x) (log = false) or y = log_softmax(x) (log = true).
  virtual void softmax_backward(const Tensor& gy, const Tensor& y, const Tensor& gx, bool log) = 0;
  // logits [N, C], targets int64 [N]: losses[N] = -log softmax(logits)[target],
  // probs [N, C] = softmax(logits). A target outside [0, C) is an error.
  virtual void cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& losses,
                             const Tensor& probs) = 0;
  // grad [N, C] = probs - onehot(targets).
  virtual void probs_minus_onehot(const Tensor& probs, const Tensor& targets, const Tensor& grad) = 0;

  // ---- indexing, along dim 0 of [V, D]
  virtual void index_select(const Tensor& src, const Tensor& index, const Tensor& out) = 0;
  // dst[index[i]] += src[i]
  virtual void index_add(const Tensor& dst, const Tensor& index, const Tensor& src) = 0;

  // ---- convolution lowering
  // cols [C*K, B, Lout]: cols[c*K + k, b, t] = x[b, c, t*stride - pad_left + k*dilation] (0 outside).
  // The batch sits inside each row, so that a convolution over the whole
  // batch is one GEMM, W [Cout, C*K] @ cols [C*K, B*Lout].
  virtual void im2col1d(const Tensor& x, const Tensor& cols, const Conv1dGeometry& g) = 0;
  // The adjoint: x[b, c, ...] += cols[...] (x must be zeroed by the caller to get a plain col2im).
  virtual void col2im1d(const Tensor& cols, const Tensor& x, const Conv1dGeometry& g) = 0;

  // ---- 1-D convolution, the three products of one layer. g describes the
  // convolution x [B, C, L] -> y [B, Cout, T]; w [Cout, C, K]; all contiguous.
  // The transposed convolution is the same three with the roles of x and y
  // swapped (autograd/ops/conv.cpp). The defaults lower each to im2col1d or
  // col2im1d plus one GEMM over the whole batch; a backend may use a library
  // instead where that is faster.
  // y = conv(x, w) + bias (bias [Cout] or undefined)
  virtual void conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                              const Conv1dGeometry& g);
  // gx = the gradient through x of gy [B, Cout, T] (overwritten)
  virtual void conv1d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv1dGeometry& g);
  // gw [Cout, C, K] = the gradient through w (overwritten)
  virtual void conv1d_backward_filter(const Tensor& gy, const Tensor& x, const Tensor& gw, const Conv1dGeometry& g);

  // ---- normalisation over x [N, C, L]: per (n, c) over L when per_instance,
  // else per c over (N, L). mean/rstd hold one value per group; weight/bias [C]
  // may be undefined (no affine).
  virtual void norm1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool per_instance,
                              double eps, const Tensor& y, const Tensor& mean, const Tensor& rstd) = 0;
  // gweight/gbias may be undefined (not wanted).
  virtual void norm1d_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                               const Tensor& rstd, bool per_instance, const Tensor& gx, const Tensor& gweight,
                               const Tensor& gbias) = 0;

  // ---- LSTM cell pointwise part. gates [B, 4H] pre-activations in order
  // i, f, g, o; c_prev, h, c [B, H]; act [B, 4H] saves sigmoid/tanh of gates.
  virtual void lstm_pointwise_forward(const Tensor& gates, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                                      const Tensor& act) = 0;
  // gh, gc may be undefined (treated as zero). Writes ggates [B, 4H], gc_prev [B, H].
  virtual void lstm_pointwise_backward(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& c_prev,
                                       const Tensor& c, const Tensor& ggates, const Tensor& gc_prev) = 0;

  // ---- one LSTM layer's recurrence over all T steps (the equations are in
  // autograd/ops/lstm.cpp). xproj [T, B, 4H] = x W_ihᵀ + b; w_hh [4H, H];
  // h0, c0 [B, H]. Writes hs, cs [T, B, H] and acts [T, B, 4H] (the activated
  // gates, saved for backward); acts may be xproj itself, which is then
  // overwritten (step t's projection is read before its activations are
  // written). The default runs one GEMM and one lstm_pointwise_forward per
  // step; the CPU fuses the two.
  virtual void lstm_sequence_forward(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0,
                                     const Tensor& hs, const Tensor& cs, const Tensor& acts);
  // The gradients of g_hs [T, B, H] (the loss through every h_t; any strides
  // over T and B, contiguous along H) and g_c_last [B, H] (through the last c),
  // either undefined when zero. Writes dgates
  // [T, B, 4H] (also the gradient of xproj), dh0 and dc0 [B, H]. dgates may
  // be acts itself, which is then overwritten (each element of a step's
  // activations is read before the same element of its gradient is written).
  virtual void lstm_sequence_backward(const Tensor& g_hs, const Tensor& g_c_last, const Tensor& w_hh,
                                      const Tensor& acts, const Tensor& cs, const Tensor& c0, const Tensor& dgates,
                                      const Tensor& dh0, const Tensor& dc0);

  // ---- multi-resolution spectral convergence (models/vae_loss.h), in one
  // pass where the composition of elementwise ops takes thirty.
  // est, ref [B, C, L]: at three resolutions r (0: as given; 1: the power of
  // `group` frames pooled, sqrt(Σ x² + tiny); 2: of `group` bins, where C and
  // L allow it), stats [B, 3, 2] receives the numerator sqrt(Σ (E - R)² +
  // tiny) and the denominator sqrt(Σ R² + tiny) of clip b's convergence
  // (zeros for a resolution that does not apply). Backward: gest = Σ_r
  // weight[b, r] d(num/den)[b, r] / d est, with weight [B, 3].
  // The defaults fail: the model composes the loss from plain ops elsewhere.
  virtual void spectral_convergence(const Tensor& est, const Tensor& ref, int64_t group, double tiny,
                                    const Tensor& stats);
  virtual void spectral_convergence_backward(const Tensor& est, const Tensor& ref, int64_t group, double tiny,
                                             const Tensor& stats, const Tensor& weight, const Tensor& gest);

  // ---- decoded features -> magnitudes (models/vae_loss.h MagnitudeMap), fused:
  //   u = min(v scale + shift[c], ceiling)
  //   power 0: out = exp(u) - floor, and expu = exp(u) (what backward reads);
  //   power p: out = max(u, 0)^(1/p) (expu unused).
  // v, out, expu [B, C, L]; shift [C]. Backward: gv = gout d out / d v, 0
  // where the ceiling (or, for power p, zero) clips.
  virtual void feature_magnitudes(const Tensor& v, const Tensor& shift, double scale, double ceiling, double floor,
                                  double power, const Tensor& out, const Tensor& expu);
  virtual void feature_magnitudes_backward(const Tensor& v, const Tensor& shift, double scale, double ceiling,
                                           double power, const Tensor& expu, const Tensor& gout, const Tensor& gv);

  // ---- fused optimizer updates (in place on param, m, v; grad read-only)
  virtual void adam_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                         const AdamArgs& args) = 0;
  // Adamax as Keras defines it, eps added to u in the denominator (PyTorch adds
  // it inside the max); the formulas are in kernels/pointwise.h.
  virtual void adamax_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                           const AdamArgs& args) = 0;
  // SGD with momentum buffer (may be undefined when momentum = 0).
  virtual void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
                        double weight_decay, bool nesterov) = 0;

  // Waits for queued work (no-op on the CPU).
  virtual void synchronize() {}

  // ---- memory accounting: bytes held by live tensors on this device, and
  // the most held at once since the last reset (benchmarks report the peak
  // of a training step against its theoretical minimum).
  struct MemoryUse {
    int64_t live_bytes = 0, peak_bytes = 0;
  };
  MemoryUse memory_use() const { return {live_.load(), peak_.load()}; }
  void reset_peak_memory() { peak_.store(live_.load()); }

  // Floating-point operations of the matrix products run so far (2 m n k for
  // each GEMM, the convolutions built on it and the LSTM recurrence), the
  // work a benchmark holds against the machine's peak. Counted on the CPU.
  double matmul_flops() const { return flops_.load(); }

 protected:
  void count_flops(double flops) {
    for (double f = flops_.load(); !flops_.compare_exchange_weak(f, f + flops);) {
    }
  }
  // Called by allocate (+bytes) and deallocate (-bytes).
  void count_allocation(int64_t bytes) {
    const int64_t now = live_.fetch_add(bytes) + bytes;
    for (int64_t p = peak_.load(); now > p && !peak_.compare_exchange_weak(p, now);) {
    }
  }

 private:
  std::atomic<int64_t> live_{0}, peak_{0};
  std::atomic<double> flops_{0};
};

Backend& backend_for(Device device);
inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

// True when CUDA was compiled in and at least one GPU is usable.
bool cuda_available();

// The GPU this process uses, by ordinal modulo the GPUs it sees (a rank
// under mpirun takes its local rank's GPU). Before any GPU memory is used.
void select_cuda_device(int ordinal);

// What the CUDA backend's convolutions may use besides its own kernels, e.g.
// "cuDNN 9.10.2 (auto)" or why cuDNN is not in use (kernels/cuda/cudnn_conv.h).
// Needs a GPU.
std::string cuda_conv_library();

Backend& cpu_backend();

// Threads of the CPU backend's pool (kernels/cpu/parallel.h): n >= 1 sets the
// count, 0 means every CPU this process may run on (the default).
void set_cpu_threads(int n);
int cpu_threads();
// The CPU instruction set the fast kernels use ("avx512", "avx2", "generic";
// MUSICGEN_ISA overrides the choice).
const char* cpu_isa();

// The build, as benchmark tables report it: "Release, portable x86-64,
// kernels chosen at run time" or "Release, -march=native".
const char* build_description();

// How the CPU backend runs float32 matrix products (GEMM, the convolutions
// built on it, the LSTM recurrence):
//   Fp32  float32 operands and sums;
//   Bf16  operands rounded to bfloat16 (to nearest even) as they are packed,
//         products summed in float32 (AVX512_BF16's vdpbf16ps): twice the
//         multiply-adds per instruction. Everything else (the loss, softmax,
//         the LSTM cell, the optimizer and its master weights) stays float32.
// float64 is never affected (gradient checks). A matrix-vector product
// (one row or column) stays float32: it is bound by reading the matrix.
enum class MatmulPrecision { Fp32, Bf16 };
// Throws mg::Error naming what the CPU lacks when it cannot run `precision`.
void set_matmul_precision(MatmulPrecision precision);
MatmulPrecision matmul_precision();
// "" when this CPU can run bf16 products; else why not ("this CPU has no AVX512_BF16 (vdpbf16ps)").
std::string cpu_bf16_unsupported();
#if defined(MUSICGEN_WITH_CUDA)
Backend& cuda_backend();  // kernels/cuda; errors when no GPU is present
#endif

}  // namespace mg
