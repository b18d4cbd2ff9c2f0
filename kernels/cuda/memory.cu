// Device memory (caching allocator), host<->device copies, the backend
// singleton, and the cuBLAS handle.
#include <cstring>

#include "kernels/cuda/cuda_backend.h"

namespace mg::cuda {

size_t CachingAllocator::bucket(size_t bytes) {
  // 512-byte granules up to 1 MiB, then whole MiB: few distinct sizes, little waste.
  constexpr size_t kSmall = 512, kLarge = size_t{1} << 20;
  if (bytes <= kLarge) return (bytes + kSmall - 1) / kSmall * kSmall;
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
  }
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, b);
  if (err == cudaErrorMemoryAllocation) {
    // Give cached blocks back and try once more before failing.
    cudaGetLastError();
    empty_cache();
    err = cudaMalloc(&p, b);
  }
  if (err != cudaSuccess) fail("CUDA out of memory allocating {} bytes ({})", b, cudaGetErrorString(err));
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
  for (auto& [size, blocks] : free_)
    for (void* p : blocks) cudaFree(p);
  free_.clear();
  cached_ = 0;
}

size_t CachingAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

CudaBackend::CudaBackend() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0)
    fail("--device cuda: no CUDA GPU is available ({})",
         err != cudaSuccess ? cudaGetErrorString(err) : "cudaGetDeviceCount found 0 devices");
  MG_CUBLAS_CHECK(cublasCreate(&cublas_));
}

// The backend lives until exit; the driver releases device memory with the process.
CudaBackend::~CudaBackend() = default;

void* CudaBackend::allocate(size_t bytes) { return alloc_.allocate(bytes); }
void CudaBackend::deallocate(void* ptr, size_t bytes) { alloc_.release(ptr, bytes); }

void CudaBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  MG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  MG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void CudaBackend::synchronize() { MG_CUDA_CHECK(cudaDeviceSynchronize()); }

CudaBackend& backend() {
  // Constructed on first use so that CPU-only runs never touch the driver.
  static CudaBackend* instance = new CudaBackend();
  return *instance;
}

Strided strided_of(const Shape& shape, const Shape& strides) {
  MG_CHECK(shape.size() <= 8, "CUDA kernels support up to 8 dims, got {}", shape.size());
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
  std::vector<int64_t> idx = index.to_vector<int64_t>();
  for (int64_t i : idx) MG_CHECK(i >= 0 && i < n, "{}: index {} outside [0, {})", what, i, n);
}

}  // namespace mg::cuda

namespace mg {

bool cuda_available() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear it, so later checks do not report this probe
    return false;
  }
  return count > 0;
}

Backend& cuda_backend() { return cuda::backend(); }

}  // namespace mg
