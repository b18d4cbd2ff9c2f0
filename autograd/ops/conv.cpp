// 1-D convolution and transposed convolution, lowered to im2col + one GEMM
// over the whole batch. B = batch, Cin/Cout = channels, L = length, K = kernel,
// T = output length. im2col puts the batch inside each row, cols [Cin*K, B*T],
// so the product needs no loop over clips (and none of the ragged tiles that
// short clips would leave):
//
//   conv1d:            cols = im2col(x) [Cin*K, B*T];  y' = W [Cout, Cin*K] @ cols  -> y [B, Cout, T]
//     backward:        gW = gy' colsᵀ;  gcols = Wᵀ gy';  gx = col2im(gcols);  gb = Σ gy'
//   conv_transpose1d:  cols = Wᵀ [Cout*K, Cin] @ x' [Cin, B*L];  y = col2im(cols)
//     backward:        gcols = im2col(gy);  gx' = W gcols;  gW = x' gcolsᵀ;  gb = Σ gy
// where z' is z [B, C, L] laid out channel-major, [C, B*L]. The transposed
// convolution is exactly the input-gradient of a convolution, which is why the
// two share the im2col/col2im pair with their roles swapped.
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

// C [m, n] = op(A) [m, k] @ op(B) [k, n] + beta C, all contiguous.
void gemm_into(const Tensor& c, double beta, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const Tensor& a,
               const Tensor& b) {
  backend_of(c).gemm(detail::contiguous_gemm(c, beta, ta, tb, m, n, k, a, b));
}

// x [B, C, L] -> [C, B*L] (a copy) and back.
Tensor channel_major(const Tensor& x) {
  return x.permute({1, 0, 2}).contiguous().reshape({x.size(1), x.size(0) * x.size(2)});
}
Tensor batch_major(const Tensor& x2, int64_t batch) {
  const int64_t C = x2.size(0), L = x2.size(1) / batch;
  return x2.reshape({C, batch, L}).permute({1, 0, 2}).contiguous();
}

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
  const int64_t T = geo.out_length(), CK = Cin * K;
  MG_CHECK(T > 0, "conv1d: input length {} too short for kernel {} (dilation {})", x.size(2), K, opt.dilation);
  if (bias.defined()) MG_CHECK(bias.dim() == 1 && bias.size(0) == Cout, "conv1d: bias must be [{}]", Cout);

  Tensor xc = plain(x), wc = plain(weight).reshape({Cout, CK});
  Tensor y;
  {
    Tensor cols = empty({CK, B * T}, x.dtype(), x.device());
    backend_of(x).im2col1d(xc, cols, geo);
    Tensor y2 = empty({Cout, B * T}, x.dtype(), x.device());
    if (bias.defined()) copy_(y2, make_view(plain(bias), {Cout, B * T}, {1, 0}, 0));
    gemm_into(y2, bias.defined() ? 1.0 : 0.0, false, false, Cout, B * T, CK, wc, cols);
    y = batch_major(y2, B);
  }

  if (needs_grad({x, weight, bias})) {
    const bool gx_on = x.requires_grad(), gw_on = weight.requires_grad(), gb_on = bias.defined() && bias.requires_grad();
    // Saved: x and W, not cols (K times x): backward rebuilds cols with one im2col.
    record("conv1d", {y}, {x, weight, bias}, [xc, wc, geo, B, Cin, Cout, K, T, CK, gx_on, gw_on, gb_on](const TensorList& g) {
      Tensor gy2 = channel_major(plain(g[0]));  // [Cout, B*T]
      Tensor gx, gw, gb;
      if (gw_on) {
        Tensor cols = empty({CK, B * T}, xc.dtype(), xc.device());
        backend_of(xc).im2col1d(xc, cols, geo);
        gw = empty({Cout, Cin, K}, gy2.dtype(), gy2.device());
        gemm_into(gw, 0.0, false, true, Cout, CK, B * T, gy2, cols);  // gy' [Cout, B*T] @ colsᵀ
      }
      if (gx_on) {
        Tensor gcols = empty({CK, B * T}, gy2.dtype(), gy2.device());
        gemm_into(gcols, 0.0, true, false, CK, B * T, Cout, wc, gy2);  // Wᵀ [CK, Cout] @ gy'
        gx = zeros({B, Cin, geo.length}, gy2.dtype(), gy2.device());
        backend_of(gy2).col2im1d(gcols, gx, geo);
      }
      if (gb_on) gb = sum(gy2, {1});
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
  const int64_t B = x.size(0), Cin = x.size(1), L = x.size(2), Cout = weight.size(1), K = weight.size(2);
  const int64_t T = (L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1;
  MG_CHECK(T > 0, "conv_transpose1d: output length {} is not positive", T);
  if (bias.defined()) MG_CHECK(bias.dim() == 1 && bias.size(0) == Cout, "conv_transpose1d: bias must be [{}]", Cout);
  // The convolution whose input-gradient this is: over y [B, Cout, T], producing L positions.
  // Its right padding absorbs output_padding (kernels only read pad_left).
  Conv1dGeometry geo{B, Cout, T, K, stride, padding, padding - output_padding, dilation};
  MG_CHECK(geo.out_length() == L, "conv_transpose1d: inconsistent geometry");
  const int64_t CK = Cout * K;

  Tensor x2 = channel_major(plain(x)), wc = plain(weight).reshape({Cin, CK});
  Tensor y = zeros({B, Cout, T}, x.dtype(), x.device());
  {
    Tensor cols = empty({CK, B * L}, x.dtype(), x.device());
    gemm_into(cols, 0.0, true, false, CK, B * L, Cin, wc, x2);  // Wᵀ [CK, Cin] @ x' [Cin, B*L]
    backend_of(x).col2im1d(cols, y, geo);
  }
  if (bias.defined()) {
    NoGradGuard ng;
    y = add(y, bias_broadcast(plain(bias), y.shape()));
  }

  if (needs_grad({x, weight, bias})) {
    const bool gx_on = x.requires_grad(), gw_on = weight.requires_grad(), gb_on = bias.defined() && bias.requires_grad();
    // Saved: x (channel-major) and W.
    record("conv_transpose1d", {y}, {x, weight, bias},
           [x2, wc, geo, B, Cin, Cout, K, L, CK, gx_on, gw_on, gb_on](const TensorList& g) {
             Tensor gy = plain(g[0]);
             Tensor gcols = empty({CK, B * L}, gy.dtype(), gy.device());
             backend_of(gy).im2col1d(gy, gcols, geo);
             Tensor gx, gw, gb;
             if (gx_on) {
               Tensor gx2 = empty({Cin, B * L}, gy.dtype(), gy.device());
               gemm_into(gx2, 0.0, false, false, Cin, B * L, CK, wc, gcols);  // W [Cin, CK] @ gcols
               gx = batch_major(gx2, B);
             }
             if (gw_on) {
               gw = empty({Cin, Cout, K}, gy.dtype(), gy.device());
               gemm_into(gw, 0.0, false, true, Cin, CK, B * L, x2, gcols);  // x' [Cin, B*L] @ gcolsᵀ
             }
             if (gb_on) gb = bias_grad(gy);
             return TensorList{gx, gw, gb};
           });
  }
  return y;
}

}  // namespace mg
