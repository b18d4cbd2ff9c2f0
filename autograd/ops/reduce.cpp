// Reductions. Shapes: x [...]; dims reduced to 1 (keepdim) or dropped.
#include <algorithm>

#include "autograd/ops/common.h"

namespace mg {

// Sums x over dims into a keepdim-shaped result (no autograd record).
static Tensor reduce_keepdim(const Tensor& x, const std::vector<int64_t>& dims) {
  Shape keep = x.shape();
  std::vector<bool> seen(static_cast<size_t>(x.dim()), false);
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, x.dim());
    MG_CHECK(!seen[static_cast<size_t>(w)], "dim {} appears twice in a reduction", w);
    seen[static_cast<size_t>(w)] = true;
    keep[static_cast<size_t>(w)] = 1;
  }
  Tensor out = empty(keep, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  if (x.numel() == 0) {
    fill_(out, 0.0);
  } else {
    backend_of(x).reduce_sum(x.detach(), out);
  }
  return out;
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  MG_CHECK(x.dtype() != DType::I64, "sum: needs a float tensor");
  Tensor kept = reduce_keepdim(x, dims);
  Shape out_shape;
  if (keepdim) {
    out_shape = kept.shape();
  } else {
    std::vector<bool> drop(x.shape().size(), false);
    for (int64_t d : dims) drop[wrap_dim(d, x.dim())] = true;
    for (size_t i = 0; i < drop.size(); ++i)
      if (!drop[i]) out_shape.push_back(x.shape()[i]);
  }
  Tensor out = make_view(kept, out_shape, contiguous_strides(out_shape), 0);
  if (needs_grad({x})) {
    record("sum", {out}, {x}, [xs = x.shape(), ks = kept.shape()](const TensorList& g) {
      // Each input element received its group's gradient once: broadcast back.
      return TensorList{detail::broadcast_view(g[0].reshape(ks), xs).contiguous()};
    });
  }
  return out;
}

Tensor sum(const Tensor& x) {
  std::vector<int64_t> all(static_cast<size_t>(x.dim()));
  for (int64_t i = 0; i < x.dim(); ++i) all[static_cast<size_t>(i)] = i;
  return sum(x, all, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor total = sum(x, dims, keepdim);  // rejects repeated dims before they are counted twice
  int64_t count = 1;
  for (int64_t d : dims) count *= x.size(d);
  return mul(total, 1.0 / static_cast<double>(std::max<int64_t>(count, 1)));
}

Tensor mean(const Tensor& x) { return mul(sum(x), 1.0 / static_cast<double>(std::max<int64_t>(x.numel(), 1))); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  MG_CHECK(lead >= 0, "sum_to: cannot reduce {} to {}", shape_str(x.shape()), shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (i < lead || (shape[static_cast<size_t>(i - lead)] == 1 && x.size(i) != 1)) dims.push_back(i);
  return sum(x, dims, true).reshape(shape);
}

Tensor argmax_rows(const Tensor& x) {
  MG_CHECK(x.dim() == 2, "argmax_rows: expected [rows, n], got {}", shape_str(x.shape()));
  Tensor out = empty({x.size(0)}, DType::I64, x.device());
  if (x.size(0) > 0) backend_of(x).argmax_rows(detail::plain(x), out);
  return out;
}

}  // namespace mg
