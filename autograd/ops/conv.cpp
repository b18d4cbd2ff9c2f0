// 1-D convolution and transposed convolution. B = batch, Cin/Cout = channels,
// L = length, K = kernel, T = output length. One layer needs three products,
// each one backend call (tensor/backend.h), over the whole batch at once:
//
//   conv1d:            y  = conv1d_forward(x, W) + b                        [B, Cout, T]
//     backward:        gx = conv1d_backward_data(gy, W);  gW = conv1d_backward_filter(gy, x);  gb = Σ gy
//   conv_transpose1d:  y  = conv1d_backward_data(x, W) + b                  [B, Cout, T]
//     backward:        gx = conv1d_forward(gy, W);  gW = conv1d_backward_filter(x, gy);  gb = Σ gy
//
// The transposed convolution is exactly the input-gradient of a convolution
// (the one from y [B, Cout, T] to L positions with weight W [Cin, Cout, K]),
// which is why the two share the three products with their roles swapped.
// The backends' defaults lower each product to im2col or col2im plus one GEMM
// (tensor/backend.cpp); the CUDA backend may pick cuDNN instead, per shape.
#include <algorithm>

#include "autograd/ops/common.h"

namespace mg {

using detail::plain;

Conv1dOptions Conv1dOptions::same(int64_t length, int64_t kernel, int64_t stride, int64_t dilation) {
  const int64_t out = (length + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + dilation * (kernel - 1) + 1 - length, 0);
  return Conv1dOptions{stride, total / 2, total - total / 2, dilation};
}

namespace {

// bias [C] as a view of shape [B, C, T].
Tensor bias_broadcast(const Tensor& bias, const Shape& shape) {
  return make_view(bias, shape, Shape{0, bias.strides()[0], 0}, bias.offset());
}

Tensor bias_grad(const Tensor& gy) { return sum(gy, {0, 2}); }

}  // namespace

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv1dOptions& opt) {
  detail::check_same("conv1d", x, weight);
  MG_CHECK(x.dim() == 3 && weight.dim() == 3, "conv1d: x must be [B, Cin, L] and weight [Cout, Cin, K], got {} and {}",
           shape_str(x.shape()), shape_str(weight.shape()));
  MG_CHECK(weight.size(1) == x.size(1), "conv1d: weight expects {} input channels, x has {}", weight.size(1),
           x.size(1));
  MG_CHECK(opt.stride >= 1 && opt.dilation >= 1 && opt.pad_left >= 0 && opt.pad_right >= 0,
           "conv1d: bad stride/padding/dilation");
  const int64_t B = x.size(0), Cin = x.size(1), Cout = weight.size(0), K = weight.size(2);
  Conv1dGeometry geo{B, Cin, x.size(2), K, opt.stride, opt.pad_left, opt.pad_right, opt.dilation};
  const int64_t T = geo.out_length();
  MG_CHECK(T > 0, "conv1d: input length {} too short for kernel {} (dilation {})", x.size(2), K, opt.dilation);
  if (bias.defined()) MG_CHECK(bias.dim() == 1 && bias.size(0) == Cout, "conv1d: bias must be [{}]", Cout);

  Tensor xc = plain(x), wc = plain(weight);
  Tensor y = empty({B, Cout, T}, x.dtype(), x.device());
  backend_of(x).conv1d_forward(xc, wc, bias.defined() ? plain(bias) : Tensor(), y, geo);

  if (needs_grad({x, weight, bias})) {
    const bool gx_on = x.requires_grad(), gw_on = weight.requires_grad(), gb_on = bias.defined() && bias.requires_grad();
    // Saved: x and W, not im2col's columns (K times x): backward rebuilds them.
    record("conv1d", {y}, {x, weight, bias}, [xc, wc, geo, gx_on, gw_on, gb_on](const TensorList& g) {
      Tensor gy = plain(g[0]);
      Tensor gx, gw, gb;
      if (gw_on) {
        gw = empty_like(wc);
        backend_of(gy).conv1d_backward_filter(gy, xc, gw, geo);
      }
      if (gx_on) {
        gx = empty_like(xc);
        backend_of(gy).conv1d_backward_data(gy, wc, gx, geo);
      }
      if (gb_on) gb = bias_grad(gy);
      return TensorList{gx, gw, gb};
    });
  }
  return y;
}

Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
                        int64_t output_padding, int64_t dilation) {
  detail::check_same("conv_transpose1d", x, weight);
  MG_CHECK(x.dim() == 3 && weight.dim() == 3,
           "conv_transpose1d: x must be [B, Cin, L] and weight [Cin, Cout, K], got {} and {}", shape_str(x.shape()),
           shape_str(weight.shape()));
  MG_CHECK(weight.size(0) == x.size(1), "conv_transpose1d: weight expects {} input channels, x has {}",
           weight.size(0), x.size(1));
  MG_CHECK(stride >= 1 && dilation >= 1 && padding >= 0 && output_padding >= 0 &&
               output_padding < std::max(stride, dilation),
           "conv_transpose1d: bad stride/padding/output_padding/dilation");
  const int64_t B = x.size(0), L = x.size(2), Cout = weight.size(1), K = weight.size(2);
  const int64_t T = (L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1;
  MG_CHECK(T > 0, "conv_transpose1d: output length {} is not positive", T);
  if (bias.defined()) MG_CHECK(bias.dim() == 1 && bias.size(0) == Cout, "conv_transpose1d: bias must be [{}]", Cout);
  // The convolution whose input-gradient this is: over y [B, Cout, T], producing L positions.
  // Its right padding absorbs output_padding (kernels only read pad_left).
  Conv1dGeometry geo{B, Cout, T, K, stride, padding, padding - output_padding, dilation};
  MG_CHECK(geo.out_length() == L, "conv_transpose1d: inconsistent geometry");

  Tensor xc = plain(x), wc = plain(weight);
  Tensor y = empty({B, Cout, T}, x.dtype(), x.device());
  backend_of(x).conv1d_backward_data(xc, wc, y, geo);
  if (bias.defined()) {
    NoGradGuard ng;
    y = add(y, bias_broadcast(plain(bias), y.shape()));
  }

  if (needs_grad({x, weight, bias})) {
    const bool gx_on = x.requires_grad(), gw_on = weight.requires_grad(), gb_on = bias.defined() && bias.requires_grad();
    // Saved: x and W.
    record("conv_transpose1d", {y}, {x, weight, bias}, [xc, wc, geo, gx_on, gw_on, gb_on](const TensorList& g) {
      Tensor gy = plain(g[0]);
      Tensor gx, gw, gb;
      if (gx_on) {
        gx = empty_like(xc);
        backend_of(gy).conv1d_forward(gy, wc, Tensor(), gx, geo);
      }
      if (gw_on) {
        gw = empty_like(wc);
        backend_of(gy).conv1d_backward_filter(xc, gy, gw, geo);
      }
      if (gb_on) gb = bias_grad(gy);
      return TensorList{gx, gw, gb};
    });
  }
  return y;
}

}  // namespace mg
