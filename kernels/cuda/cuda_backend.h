#pragma once
// The CUDA backend: the same calls as the CPU reference (tensor/backend.h),
// as CUDA kernels plus cuBLAS for GEMM, one .cu file per op family. Every
// kernel is checked against the CPU reference by tests/cuda_parity.cpp.
//
// All work runs on the default stream, so a block freed to the caching
// allocator can be handed out again at once: later kernels are ordered after
// the ones still reading it. Host<->device copies are synchronous, so item()
// and to_vector() see finished results without extra syncs.
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_memory.h"
#include "kernels/cuda/measure.h"
#include "tensor/backend.h"

// Every CUDA and cuBLAS call is checked; failures name the call site.
#define MG_CUDA_CHECK(call)                                                                          \
  do {                                                                                               \
    cudaError_t mg_err_ = (call);                                                                    \
    if (mg_err_ != cudaSuccess)                                                                      \
      ::mg::fail("CUDA error at {}:{}: {} ({})", __FILE__, __LINE__, cudaGetErrorString(mg_err_), #call); \
  } while (0)

#define MG_CUBLAS_CHECK(call)                                                                          \
  do {                                                                                                 \
    cublasStatus_t mg_st_ = (call);                                                                    \
    if (mg_st_ != CUBLAS_STATUS_SUCCESS)                                                               \
      ::mg::fail("cuBLAS error at {}:{}: {} ({})", __FILE__, __LINE__, cublasGetStatusString(mg_st_), #call); \
  } while (0)

// After a kernel launch: bad launch configurations surface here, at the call site.
#define MG_CUDA_LAUNCHED() MG_CUDA_CHECK(cudaGetLastError())

namespace mg::cuda {

class CudnnConv;
struct RecurrenceCandidates;

// Up to 8 dims of geometry, passed to kernels by value.
constexpr int kMaxDims = 8;
struct Strided {
  int nd = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
};
Strided strided_of(const Tensor& t);
Strided strided_of(const Shape& shape, const Shape& strides);

// Size-bucketed free lists: a training loop reallocates the same sizes every
// step, so after the first step no cudaMalloc happens at all.
class CachingAllocator {
 public:
  void* allocate(size_t bytes);
  void release(void* ptr, size_t bytes);
  void empty_cache();
  MemoryStats stats() const;
  static size_t bucket(size_t bytes);

 private:
  mutable std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
  size_t mallocs_ = 0;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend();
  ~CudaBackend() override;
  Device device() const override { return Device::CUDA; }
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
  // cuDNN or the default lowering, per shape (kernels/cuda/cudnn_conv.h).
  void conv1d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                      const Conv1dGeometry& g) override;
  void conv1d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv1dGeometry& g) override;
  void conv1d_backward_filter(const Tensor& gy, const Tensor& x, const Tensor& gw, const Conv1dGeometry& g) override;

  void norm1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool per_instance, double eps,
                      const Tensor& y, const Tensor& mean, const Tensor& rstd) override;
  void norm1d_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                       const Tensor& rstd, bool per_instance, const Tensor& gx, const Tensor& gweight,
                       const Tensor& gbias) override;

  void lstm_pointwise_forward(const Tensor& gates, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                              const Tensor& act) override;
  void lstm_pointwise_backward(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& c_prev,
                               const Tensor& c, const Tensor& ggates, const Tensor& gc_prev) override;
  // One persistent launch for all T steps (lstm_persistent.h) or the
  // default's GEMM and cell kernel per step, per shape by measurement;
  // MUSICGEN_LSTM_RECURRENCE=auto (the default) | persistent | steps.
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

  void synchronize() override;

  CachingAllocator& allocator() { return alloc_; }
  CudnnConv& cudnn_conv() { return *cudnn_conv_; }

 private:
  CachingAllocator alloc_;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<CudnnConv> cudnn_conv_;
  void run_recurrence(const std::string& key, const RecurrenceCandidates& c);  // kernels/cuda/lstm.cu
  KernelChoice recurrence_mode_ = KernelChoice::Auto;  // MUSICGEN_LSTM_RECURRENCE: persistent, steps
  std::mutex recurrence_mu_;
  std::map<std::string, bool> recurrence_persistent_;  // per shape: the persistent kernel won (and agreed)
};

CudaBackend& backend();

// Copies an int64 index tensor to the host (indices are small) and checks
// every value is in [0, n): an out-of-range index on the device would be a
// silent wild read or write, not an error.
void check_indices(const Tensor& index, int64_t n, const char* what);

}  // namespace mg::cuda

namespace mg::cuda::detail {
// Calls f(T{}) with T = float or double (CUDA sources are C++17: no templated
// lambdas, so the element type travels as a tag value).
template <typename F>
void dispatch_float(DType dtype, F&& f) {
  if (dtype == DType::F32) f(float{});
  else if (dtype == DType::F64) f(double{});
  else fail("CUDA kernel expects float32 or float64, got {}", dtype_name(dtype));
}
// Optional tensor -> nullable device pointer.
template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
}  // namespace mg::cuda::detail
