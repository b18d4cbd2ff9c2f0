// Joining and indexing. Shapes: concat along dim (other dims equal);
// index_select src [V, D...] by index [n...] -> [n..., D...].
#include "autograd/ops/common.h"

namespace mg {

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  MG_CHECK(!xs.empty(), "concat: no tensors");
  const Tensor& first = xs.front();
  dim = wrap_dim(dim, first.dim());
  Shape out_shape = first.shape();
  int64_t total = 0;
  for (const Tensor& x : xs) {
    detail::check_same("concat", first, x);
    MG_CHECK(x.dim() == first.dim(), "concat: ranks differ ({} vs {})", shape_str(first.shape()), shape_str(x.shape()));
    for (int64_t d = 0; d < x.dim(); ++d)
      MG_CHECK(d == dim || x.size(d) == first.size(d), "concat: shapes {} and {} differ off dim {}",
               shape_str(first.shape()), shape_str(x.shape()), dim);
    total += x.size(dim);
  }
  out_shape[static_cast<size_t>(dim)] = total;
  Tensor out = empty(out_shape, first.dtype(), first.device());
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    starts.push_back(at);
    copy_(out.slice(dim, at, at + x.size(dim)), x.detach());
    at += x.size(dim);
  }
  if (needs_grad(xs)) {
    std::vector<int64_t> sizes;
    for (const Tensor& x : xs) sizes.push_back(x.size(dim));
    record("concat", {out}, xs, [dim, starts, sizes](const TensorList& g) {
      TensorList gs;
      for (size_t i = 0; i < starts.size(); ++i) gs.push_back(g[0].slice(dim, starts[i], starts[i] + sizes[i]));
      return gs;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  MG_CHECK(!xs.empty(), "stack: no tensors");
  dim = wrap_dim(dim, xs.front().dim() + 1);
  std::vector<Tensor> us;
  for (const Tensor& x : xs) {
    MG_CHECK(x.shape() == xs.front().shape(), "stack: shapes {} and {} differ", shape_str(xs.front().shape()),
             shape_str(x.shape()));
    us.push_back(x.unsqueeze(dim));
  }
  return concat(us, dim);
}

std::vector<Tensor> unbind(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim());
  const int64_t n = x.size(dim);
  Shape s = x.shape(), st = x.strides();
  s.erase(s.begin() + dim);
  st.erase(st.begin() + dim);
  std::vector<Tensor> outs;
  for (int64_t i = 0; i < n; ++i)
    outs.push_back(make_view(x, s, st, x.offset() + i * x.strides()[static_cast<size_t>(dim)]));
  if (needs_grad({x})) {
    record("unbind", outs, {x}, [dim, s, dt = x.dtype(), dev = x.device()](const TensorList& g) {
      std::vector<Tensor> parts;
      for (const Tensor& gi : g) parts.push_back(gi.defined() ? gi : zeros(s, dt, dev));
      return TensorList{stack(parts, dim)};
    });
  }
  return outs;
}

Tensor index_select(const Tensor& src, const Tensor& index) {
  MG_CHECK(index.dtype() == DType::I64, "index_select: index must be int64");
  MG_CHECK(src.dim() >= 1, "index_select: src needs at least one dim");
  MG_CHECK(src.device() == index.device(), "index_select: src and index on different devices");
  Shape out_shape = index.shape();
  for (int64_t d = 1; d < src.dim(); ++d) out_shape.push_back(src.size(d));
  Tensor sc = detail::plain(src), ic = detail::plain(index);
  Tensor out = empty(out_shape, src.dtype(), src.device());
  if (out.numel() > 0) backend_of(src).index_select(sc, ic, out);
  if (needs_grad({src})) {
    record("index_select", {out}, {src}, [ic, in = src.shape(), dt = src.dtype(), dev = src.device()](
                                             const TensorList& g) {
      // Rows picked several times receive the sum of their gradients.
      Tensor gs = zeros(in, dt, dev);
      if (ic.numel() > 0) backend_of(gs).index_add(gs, ic, detail::plain(g[0]));
      return TensorList{gs};
    });
  }
  return out;
}

}  // namespace mg
