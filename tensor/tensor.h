#pragma once
// Tensor: a cheap, shared handle to (storage, shape, strides, offset).
//
// Several tensors may view one Storage (views never copy): a transpose swaps
// two strides, a slice moves the offset, an expand sets a stride to 0. Kernels
// receive tensors and read shape/strides themselves; most kernels ask for
// contiguous inputs and the ops call contiguous() first.
//
// Autograd state lives on the same TensorImpl: requires_grad, the accumulated
// .grad, and grad_fn (the graph node that produced this tensor, if any).
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"

namespace mg {

using Shape = std::vector<int64_t>;

struct Node;  // autograd/graph.h

// A block of device memory, returned to its backend's allocator on destruction.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;   // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;      // producer node of a non-leaf
  int output_nr = 0;                  // which output of grad_fn this is
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t offset() const { return impl_->offset; }
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device; }
  bool is_contiguous() const;
  bool same_storage(const Tensor& other) const { return impl_->storage == other.impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // Raw pointer to the first element (device memory for CUDA tensors).
  void* data_ptr() const;
  template <typename T> T* data() const {
    MG_CHECK(dtype_of<T>() == dtype(), "tensor is {}, not {}", dtype_name(dtype()), dtype_name(dtype_of<T>()));
    return static_cast<T*>(data_ptr());
  }

  // ---- views (differentiable; defined in autograd/ops/view.cpp)
  Tensor view(const Shape& shape) const;        // needs contiguous input; one dim may be -1
  Tensor reshape(const Shape& shape) const;     // view when possible, else copies
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // slice and drop the dim
  Tensor expand(const Shape& shape) const;      // broadcast size-1 dims (stride 0)
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor contiguous() const;                    // itself if already contiguous
  Tensor clone() const;                         // always a fresh copy

  // ---- conversions (differentiable)
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;

  // ---- autograd
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true);
  Tensor grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void zero_grad() { impl_->grad.reset(); }
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  // Backpropagates from this tensor. Without an argument it must hold one element.
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;
  // Same storage, cut from the graph.
  Tensor detach() const;

  // ---- host access (copies device data to the host when needed)
  template <typename T> std::vector<T> to_vector() const;
  double item() const;  // single element, as double
  std::string str(int max_per_dim = 6) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Contiguous row-major strides for a shape.
Shape contiguous_strides(const Shape& shape);
int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);
// Normalises a possibly negative dim index against ndim; errors when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim);

// A tensor that aliases base's storage with new geometry (no autograd record).
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

// ---- factories (no autograd history; the result is a leaf)
Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = Device::CPU);
Tensor arange(int64_t n, DType dtype = DType::F32, Device device = Device::CPU);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
// From host values; the vector's length must equal the shape's element count.
Tensor from_vector(const std::vector<float>& values, const Shape& shape, Device device = Device::CPU);
Tensor from_vector(const std::vector<double>& values, const Shape& shape, Device device = Device::CPU);
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape, Device device = Device::CPU);
Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::CPU);

// Random tensors from the default counter-based generator (tensor/rng.h):
// element i of a draw uses counter (offset + i), so CPU and CUDA agree.
Tensor rand(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);   // U[0, 1)
Tensor randn(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);  // N(0, 1)
Tensor uniform(const Shape& shape, double lo, double hi, DType dtype = DType::F32, Device device = Device::CPU);

// Copies src into dst elementwise (same shape; any strides; dtype converted).
// Not recorded by autograd: used for initialisation and in-place parameter updates.
void copy_(const Tensor& dst, const Tensor& src);
void fill_(const Tensor& dst, double value);

}  // namespace mg
