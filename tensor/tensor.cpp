#include "tensor/tensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "tensor/backend.h"
#include "tensor/rng.h"

namespace mg {

Storage::Storage(size_t n, Device dev) : bytes(n), device(dev) {
  if (bytes > 0) data = backend_for(device).allocate(bytes);
}

Storage::~Storage() {
  if (data) backend_for(device).deallocate(data, bytes);
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t wrap_dim(int64_t dim, int64_t ndim) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  MG_CHECK(d >= 0 && d < std::max<int64_t>(ndim, 1), "dim {} out of range for a {}-d tensor", dim, ndim);
  return d;
}

int64_t Tensor::size(int64_t d) const { return impl_->shape[wrap_dim(d, dim())]; }

int64_t Tensor::numel() const { return shape_numel(impl_->shape); }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = impl_->shape.size(); i-- > 0;) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<int64_t>(dtype_size(dtype()));
}

Tensor& Tensor::requires_grad_(bool on) {
  MG_CHECK(dtype() != DType::I64 || !on, "an int64 tensor cannot require grad");
  MG_CHECK(is_leaf() || on, "requires_grad_(false) on a non-leaf tensor: use detach()");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(impl);
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) MG_CHECK(s >= 0, "negative size in shape {}", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

void fill_(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  if (dst.is_contiguous()) {
    backend_of(dst).fill(dst, value);
  } else {
    Tensor tmp = full(dst.shape(), value, dst.dtype(), dst.device());
    copy_(dst, tmp);
  }
}

void copy_(const Tensor& dst, const Tensor& src) {
  MG_CHECK(dst.shape() == src.shape(), "copy: shape {} vs {}", shape_str(dst.shape()), shape_str(src.shape()));
  if (dst.numel() == 0) return;
  if (dst.device() == src.device()) {
    backend_of(dst).copy(dst, src);
    return;
  }
  // Across devices: make both sides contiguous host-visible blocks of one dtype.
  Tensor s = src.detach().contiguous();
  if (s.dtype() != dst.dtype()) s = s.to(dst.dtype());
  Tensor d = dst.is_contiguous() ? dst.detach() : empty(dst.shape(), dst.dtype(), dst.device());
  size_t bytes = static_cast<size_t>(s.numel()) * dtype_size(s.dtype());
  if (s.device() == Device::CPU) {
    backend_of(d).copy_from_host(d.data_ptr(), s.data_ptr(), bytes);
  } else {
    backend_of(s).copy_to_host(d.data_ptr(), s.data_ptr(), bytes);
  }
  if (!dst.is_contiguous()) backend_of(dst).copy(dst, d);
}

Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (t.numel() > 0) backend_for(device).fill(t, value);
  return t;
}

Tensor arange(int64_t n, DType dtype, Device device) {
  if (dtype == DType::I64) {
    std::vector<int64_t> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = i;
    return from_vector(v, {n}, device);
  }
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
  return from_vector(v, {n}, device).to(dtype);
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }

template <typename T>
static Tensor from_host(const std::vector<T>& values, const Shape& shape, Device device) {
  MG_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: {} values for shape {}",
           values.size(), shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>(), device);
  if (!values.empty()) backend_for(device).copy_from_host(t.data_ptr(), values.data(), values.size() * sizeof(T));
  return t;
}

Tensor from_vector(const std::vector<float>& v, const Shape& s, Device d) { return from_host(v, s, d); }
Tensor from_vector(const std::vector<double>& v, const Shape& s, Device d) { return from_host(v, s, d); }
Tensor from_vector(const std::vector<int64_t>& v, const Shape& s, Device d) { return from_host(v, s, d); }

Tensor scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor uniform(const Shape& shape, double lo, double hi, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  uint64_t off = draw_offset(t.numel(), shape.empty() ? 0 : shape[0]);
  if (t.numel() > 0) backend_for(device).random_uniform(t, default_generator().seed, off, lo, hi);
  return t;
}

Tensor rand(const Shape& shape, DType dtype, Device device) { return uniform(shape, 0.0, 1.0, dtype, device); }

Tensor randn(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  uint64_t off = draw_offset(t.numel(), shape.empty() ? 0 : shape[0]);
  if (t.numel() > 0) backend_for(device).random_normal(t, default_generator().seed, off, 0.0, 1.0);
  return t;
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = detach().contiguous();
  if (c.dtype() != dtype_of<T>()) {
    MG_CHECK(c.dtype() != DType::I64 && dtype_of<T>() != DType::I64, "to_vector: cannot convert {} to {}",
             dtype_name(c.dtype()), dtype_name(dtype_of<T>()));
    c = c.to(dtype_of<T>());
  }
  std::vector<T> out(static_cast<size_t>(c.numel()));
  if (!out.empty()) backend_of(c).copy_to_host(out.data(), c.data_ptr(), out.size() * sizeof(T));
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

double Tensor::item() const {
  MG_CHECK(numel() == 1, "item() on a tensor of shape {}", shape_str(shape()));
  if (dtype() == DType::I64) return static_cast<double>(to_vector<int64_t>()[0]);
  return to_vector<double>()[0];
}

std::string Tensor::str(int max_per_dim) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype())
     << ", device=" << device_name(device());
  if (requires_grad()) os << ", requires_grad";
  os << ")\n";
  std::vector<double> v;
  if (dtype() == DType::I64) {
    for (int64_t x : to_vector<int64_t>()) v.push_back(static_cast<double>(x));
  } else {
    v = to_vector<double>();
  }
  Shape shp = shape();
  Shape st = contiguous_strides(shp);
  // Recursive printer with elision beyond max_per_dim entries per dim.
  auto rec = [&](auto&& self, size_t d, int64_t base) -> void {
    if (d == shp.size()) {
      os << v[static_cast<size_t>(base)];
      return;
    }
    os << "[";
    int64_t n = shp[d];
    for (int64_t i = 0; i < n; ++i) {
      if (n > max_per_dim && i == max_per_dim / 2) {
        os << "..., ";
        i = n - max_per_dim / 2;
      }
      self(self, d + 1, base + i * st[d]);
      if (i + 1 < n) os << (d + 1 == shp.size() ? ", " : ",\n ");
    }
    os << "]";
  };
  rec(rec, 0, 0);
  return os.str();
}

}  // namespace mg
