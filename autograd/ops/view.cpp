// Views and conversions: new geometry over the same storage (no copy), except
// contiguous/clone/to which copy. Each view's backward maps the gradient back
// to the input's geometry.
#include <algorithm>
#include <numeric>

#include "autograd/ops/common.h"

namespace mg {

Tensor Tensor::view(const Shape& shape_in) const {
  MG_CHECK(is_contiguous(), "view() needs a contiguous tensor (shape {}); use reshape()", shape_str(shape()));
  Shape s = shape_in;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      MG_CHECK(infer < 0, "view: more than one -1 in {}", shape_str(shape_in));
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    MG_CHECK(known > 0 && numel() % known == 0, "view: cannot infer -1 in {} for {} elements", shape_str(shape_in),
             numel());
    s[static_cast<size_t>(infer)] = numel() / known;
  }
  MG_CHECK(shape_numel(s) == numel(), "view: shape {} does not hold {} elements", shape_str(s), numel());
  Tensor out = make_view(*this, s, contiguous_strides(s), offset());
  if (needs_grad({*this})) {
    record("view", {out}, {*this}, [in = shape()](const TensorList& g) { return TensorList{g[0].reshape(in)}; });
  }
  return out;
}

Tensor Tensor::reshape(const Shape& s) const { return is_contiguous() ? view(s) : contiguous().view(s); }

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  MG_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: {} dims for a {}-d tensor", dims.size(), dim());
  Shape s(dims.size()), st(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], dim());
    MG_CHECK(inverse[static_cast<size_t>(d)] < 0, "permute: dim {} repeated", d);
    inverse[static_cast<size_t>(d)] = static_cast<int64_t>(i);
    s[i] = shape()[static_cast<size_t>(d)];
    st[i] = strides()[static_cast<size_t>(d)];
  }
  Tensor out = make_view(*this, s, st, offset());
  if (needs_grad({*this})) {
    record("permute", {out}, {*this}, [inverse](const TensorList& g) { return TensorList{g[0].permute(inverse)}; });
  }
  return out;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> dims(static_cast<size_t>(dim()));
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[static_cast<size_t>(wrap_dim(d0, dim()))], dims[static_cast<size_t>(wrap_dim(d1, dim()))]);
  return permute(dims);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim());
  MG_CHECK(step > 0, "slice: step must be positive");
  const int64_t n = shape()[static_cast<size_t>(d)];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  s[static_cast<size_t>(d)] = (end - start + step - 1) / step;
  st[static_cast<size_t>(d)] *= step;
  Tensor out = make_view(*this, s, st, offset() + start * strides()[static_cast<size_t>(d)]);
  if (needs_grad({*this})) {
    record("slice", {out}, {*this}, [in = detach(), d, start, end, step](const TensorList& g) {
      Tensor gx = zeros(in.shape(), in.dtype(), in.device());
      copy_(gx.slice(d, start, end, step), g[0]);
      return TensorList{gx};
    });
  }
  return out;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim());
  const int64_t n = size(d);
  if (index < 0) index += n;
  MG_CHECK(index >= 0 && index < n, "select: index {} out of range for size {}", index, n);
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& s) const {
  MG_CHECK(s.size() >= shape().size(), "expand: {} has more dims than {}", shape_str(shape()), shape_str(s));
  Tensor out = detail::broadcast_view(*this, s);
  if (needs_grad({*this})) {
    record("expand", {out}, {*this}, [in = shape()](const TensorList& g) { return TensorList{sum_to(g[0], in)}; });
  }
  return out;
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1);
  Shape s = shape(), st = strides();
  const int64_t stride = d < dim() ? strides()[static_cast<size_t>(d)] * shape()[static_cast<size_t>(d)] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  Tensor out = make_view(*this, s, st, offset());
  if (needs_grad({*this})) {
    record("unsqueeze", {out}, {*this}, [d](const TensorList& g) { return TensorList{g[0].squeeze(d)}; });
  }
  return out;
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim());
  MG_CHECK(size(d) == 1, "squeeze: dim {} has size {}", d, size(d));
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(*this, s, st, offset());
  if (needs_grad({*this})) {
    record("squeeze", {out}, {*this}, [d](const TensorList& g) { return TensorList{g[0].unsqueeze(d)}; });
  }
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  copy_(out, *this);
  if (needs_grad({*this})) {
    record("clone", {out}, {*this}, [](const TensorList& g) { return TensorList{g[0]}; });
  }
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor out = empty(shape(), dtype(), d);
  copy_(out, *this);
  if (needs_grad({*this})) {
    record("to_device", {out}, {*this}, [src = device()](const TensorList& g) { return TensorList{g[0].to(src)}; });
  }
  return out;
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = empty(shape(), t, device());
  copy_(out, *this);
  if (needs_grad({*this})) {
    record("to_dtype", {out}, {*this}, [src = dtype()](const TensorList& g) { return TensorList{g[0].to(src)}; });
  }
  return out;
}

}  // namespace mg
