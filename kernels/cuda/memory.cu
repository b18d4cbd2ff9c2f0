// Device memory (caching allocator), host<->device copies, the backend
// singleton and the cuBLAS handle. Sizes are in bytes.
#include <algorithm>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cudnn_conv.h"

namespace mg::cuda {

size_t CachingAllocator::bucket(size_t bytes) {
  // 512-byte granules up to 1 MiB, then whole MiB: few distinct sizes, and at
  // most 1 MiB (under half) wasted per large block, where powers of two could
  // waste half of a 100 MiB activation. Zero-byte tensors get a real block.
  constexpr size_t kSmall = 512, kLarge = size_t{1} << 20;
  if (bytes <= kLarge) return std::max<size_t>((bytes + kSmall - 1) / kSmall, 1) * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t b = bucket(bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(b);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_ -= b;
      return p;
    }
    ++mallocs_;
  }
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, b);
  if (err == cudaErrorMemoryAllocation) {
    // Blocks of other sizes may be sitting in the cache: give them back and retry once.
    cudaGetLastError();
    empty_cache();
    err = cudaMalloc(&p, b);
  }
  if (err != cudaSuccess)
    fail("CUDA out of memory allocating {} bytes ({}; {} bytes were cached)", b, cudaGetErrorString(err),
         stats().cached_bytes);
  return p;
}

void CachingAllocator::release(void* ptr, size_t bytes) {
  const size_t b = bucket(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  free_[b].push_back(ptr);
  cached_ += b;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  // Kernels queued on the default stream may still read a block freed a moment ago.
  MG_CUDA_CHECK(cudaDeviceSynchronize());
  for (auto& [size, blocks] : free_)
    for (void* p : blocks) MG_CUDA_CHECK(cudaFree(p));
  free_.clear();
  cached_ = 0;
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return MemoryStats{mallocs_, cached_};
}

CudaBackend::CudaBackend() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    cudaGetLastError();  // leave no error behind for a caller that goes on without CUDA
    fail("--device cuda: no CUDA GPU is available ({})",
         err != cudaSuccess ? cudaGetErrorString(err) : "the driver reports 0 devices");
  }
  MG_CUBLAS_CHECK(cublasCreate(&cublas_));
  // Full float32 products: tensor-core TF32 would move results by ~1e-3 and
  // break parity with the CPU reference.
  MG_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  cudnn_conv_ = std::make_unique<CudnnConv>();  // reads MUSICGEN_CUDNN now; loads cuDNN at the first convolution
  recurrence_mode_ = kernel_choice_from_env("MUSICGEN_LSTM_RECURRENCE", "persistent", "steps");
}

// The backend is never destroyed (see backend()); the driver releases device
// memory with the process, and destroying a cuBLAS handle after the CUDA
// runtime has shut down at exit would fail.
CudaBackend::~CudaBackend() = default;  // CudnnConv is complete here (cudnn_conv.h)

void* CudaBackend::allocate(size_t bytes) {
  void* p = alloc_.allocate(bytes);
  count_allocation(static_cast<int64_t>(bytes));
  return p;
}

void CudaBackend::deallocate(void* ptr, size_t bytes) {
  alloc_.release(ptr, bytes);
  count_allocation(-static_cast<int64_t>(bytes));
}

void CudaBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  MG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  MG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void CudaBackend::synchronize() { MG_CUDA_CHECK(cudaDeviceSynchronize()); }

CudaBackend& backend() {
  // Constructed on first use, so CPU-only runs never touch the driver; if the
  // constructor throws, the next call tries again and throws the same message.
  static CudaBackend* instance = new CudaBackend();
  return *instance;
}

MemoryStats memory_stats() { return backend().allocator().stats(); }
void empty_cache() { backend().allocator().empty_cache(); }

Strided strided_of(const Shape& shape, const Shape& strides) {
  MG_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), "CUDA kernels support up to {} dims, got {}", kMaxDims,
           shape.size());
  Strided s;
  s.nd = static_cast<int>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    s.shape[i] = shape[i];
    s.stride[i] = strides[i];
  }
  return s;
}

Strided strided_of(const Tensor& t) { return strided_of(t.shape(), t.strides()); }

void check_indices(const Tensor& index, int64_t n, const char* what) {
  MG_CHECK(index.dtype() == DType::I64, "{}: indices must be int64, got {}", what, dtype_name(index.dtype()));
  for (int64_t i : index.to_vector<int64_t>()) MG_CHECK(i >= 0 && i < n, "{}: index {} outside [0, {})", what, i, n);
}

}  // namespace mg::cuda

namespace mg {

void select_cuda_device(int ordinal) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return;
  const cudaError_t e = cudaSetDevice(ordinal % count);
  if (e != cudaSuccess) fail("cannot select GPU {}: {}", ordinal % count, cudaGetErrorString(e));
}

bool cuda_available() {
  // Probed once: GPUs do not come and go while the process runs.
  static const bool available = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();  // clear it, so later checks do not report this probe
      return false;
    }
    return count > 0;
  }();
  return available;
}

Backend& cuda_backend() { return cuda::backend(); }

std::string cuda_conv_library() { return cuda::backend().cudnn_conv().describe(); }

}  // namespace mg
