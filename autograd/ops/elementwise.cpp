// Elementwise ops. Binary ops broadcast like NumPy; their backward sums the
// incoming gradient back down to each input's shape (sum_to).
// Shapes: a, b broadcastable; out = broadcast_shapes(a, b).
#include "autograd/ops/common.h"
#include "kernels/pointwise.h"

namespace mg {

using detail::plain;

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    MG_CHECK(da == db || da == 1 || db == 1, "shapes {} and {} do not broadcast", shape_str(a), shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor detail::broadcast_view(const Tensor& t, const Shape& shape) {
  const size_t lead = shape.size() - t.shape().size();
  Shape strides(shape.size(), 0);
  for (size_t i = 0; i < t.shape().size(); ++i) {
    MG_CHECK(t.shape()[i] == shape[lead + i] || t.shape()[i] == 1, "cannot broadcast {} to {}",
             shape_str(t.shape()), shape_str(shape));
    strides[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  }
  return make_view(t, shape, strides, t.offset());
}

static Tensor binary_forward(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  detail::check_same(name, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape());
  Tensor out = empty(shape, a.dtype(), a.device());
  if (out.numel() > 0)
    backend_of(a).binary(op, detail::broadcast_view(a, shape), detail::broadcast_view(b, shape), out);
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("add", BinaryOp::Add, a, b);
  if (needs_grad({a, b})) {
    record("add", {out}, {a, b}, [sa = a.shape(), sb = b.shape()](const TensorList& g) {
      return TensorList{sum_to(g[0], sa), sum_to(g[0], sb)};
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("sub", BinaryOp::Sub, a, b);
  if (needs_grad({a, b})) {
    record("sub", {out}, {a, b}, [sa = a.shape(), sb = b.shape()](const TensorList& g) {
      return TensorList{sum_to(g[0], sa), sum_to(neg(g[0]), sb)};
    });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("mul", BinaryOp::Mul, a, b);
  if (needs_grad({a, b})) {
    const bool ga = a.requires_grad(), gb = b.requires_grad();
    record("mul", {out}, {a, b}, [ga, gb, sa = a.detach(), sb = b.detach()](const TensorList& g) {
      return TensorList{ga ? sum_to(mul(g[0], sb), sa.shape()) : Tensor(),
                        gb ? sum_to(mul(g[0], sa), sb.shape()) : Tensor()};
    });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("div", BinaryOp::Div, a, b);
  if (needs_grad({a, b})) {
    const bool ga = a.requires_grad(), gb = b.requires_grad();
    record("div", {out}, {a, b}, [ga, gb, sa = a.detach(), sb = b.detach()](const TensorList& g) {
      // d(a/b)/db = -a / b^2
      return TensorList{ga ? sum_to(div(g[0], sb), sa.shape()) : Tensor(),
                        gb ? sum_to(neg(div(mul(g[0], sa), mul(sb, sb))), sb.shape()) : Tensor()};
    });
  }
  return out;
}

// One pass of a unary map y = op(x) (the formulas: kernels/pointwise.h).
// Backward: gx = gy · op'(x), where op' reads x (log, relu, pow, ...) or y
// (exp, sqrt, sigmoid: σ' = y (1 - y), tanh: 1 - y²) or neither; only what
// it reads is saved.
static Tensor unary_op(const char* name, UnaryArgs args, const Tensor& x) {
  MG_CHECK(x.dtype() != DType::I64, "{}: needs a float tensor", name);
  Tensor xc = plain(x);
  Tensor y = empty_like(xc);
  if (y.numel() > 0) backend_of(x).unary(args, xc, y);
  if (needs_grad({x})) {
    Tensor saved_x = pointwise::derivative_reads_x(args.op) ? xc : Tensor();
    Tensor saved_y = pointwise::derivative_reads_y(args.op) ? y.detach() : Tensor();
    record(name, {y}, {x}, [args, saved_x, saved_y](const TensorList& g) {
      Tensor gy = plain(g[0]);
      Tensor gx = empty_like(gy);
      if (gx.numel() > 0) backend_of(gy).unary_backward(args, gy, saved_x, saved_y, gx);
      return TensorList{gx};
    });
  }
  return y;
}

Tensor neg(const Tensor& x) { return unary_op("neg", {UnaryOp::Neg}, x); }
Tensor exp(const Tensor& x) { return unary_op("exp", {UnaryOp::Exp}, x); }
Tensor log(const Tensor& x) { return unary_op("log", {UnaryOp::Log}, x); }
Tensor sqrt(const Tensor& x) { return unary_op("sqrt", {UnaryOp::Sqrt}, x); }
Tensor pow(const Tensor& x, double e) { return unary_op("pow", {UnaryOp::Pow, e}, x); }
Tensor abs(const Tensor& x) { return unary_op("abs", {UnaryOp::Abs}, x); }
Tensor sigmoid(const Tensor& x) { return unary_op("sigmoid", {UnaryOp::Sigmoid}, x); }
Tensor tanh(const Tensor& x) { return unary_op("tanh", {UnaryOp::Tanh}, x); }
Tensor relu(const Tensor& x) { return unary_op("relu", {UnaryOp::Relu}, x); }
Tensor leaky_relu(const Tensor& x, double slope) { return unary_op("leaky_relu", {UnaryOp::LeakyRelu, slope}, x); }
Tensor affine(const Tensor& x, double alpha, double beta) {
  return unary_op("affine", {UnaryOp::Affine, alpha, beta}, x);
}
Tensor add(const Tensor& a, double b) { return affine(a, 1.0, b); }
Tensor mul(const Tensor& a, double b) { return affine(a, b, 0.0); }

}  // namespace mg
