// 1-D convolution and transposed convolution, lowered to im2col + GEMM.
// B = batch, Cin/Cout = channels, L = length, K = kernel, T = output length.
//
//   conv1d:            cols[b] = im2col(x[b])  [Cin*K, T];   y[b] = W [Cout, Cin*K] @ cols[b]
//   conv_transpose1d:  cols[b] = Wᵀ @ x[b]     [Cout*K, L];  y[b] = col2im(cols[b])
// The transposed convolution is exactly the input-gradient of a convolution,
// which is why the two share the im2col/col2im pair with their roles swapped.
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

// Batched C[b] = op(A)[b] @ op(B)[b].
void batched_gemm(const Tensor& out, double beta, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const Tensor& a,
                  int64_t stride_a, const Tensor& b, int64_t stride_b, int64_t batch) {
  GemmArgs g = detail::contiguous_gemm(out, beta, ta, tb, m, n, k, a, b);
  g.stride_a = stride_a;
  g.stride_b = stride_b;
  g.stride_c = m * n;
  g.batch = batch;
  backend_of(out).gemm(g);
}

// sum_b op(A)[b] @ op(B)[b] into out [m, n]: one GEMM per batch item, accumulating.
void gemm_sum_over_batch(const Tensor& out, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const Tensor& a,
                         int64_t stride_a, const Tensor& b, int64_t stride_b, int64_t batch) {
  const int64_t elem = static_cast<int64_t>(dtype_size(out.dtype()));
  for (int64_t i = 0; i < batch; ++i) {
    GemmArgs g = detail::contiguous_gemm(out, i == 0 ? 0.0 : 1.0, ta, tb, m, n, k, a, b);
    g.a = static_cast<const char*>(g.a) + i * stride_a * elem;
    g.b = static_cast<const char*>(g.b) + i * stride_b * elem;
    backend_of(out).gemm(g);
  }
  if (batch == 0) fill_(out, 0.0);
}

// y [B, C, T] += bias broadcast over B and T (or y = bias when fresh).
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

  Tensor xc = plain(x), wc = plain(weight);
  Tensor cols = empty({B, CK, T}, x.dtype(), x.device());
  backend_of(x).im2col1d(xc, cols, geo);
  Tensor y = empty({B, Cout, T}, x.dtype(), x.device());
  if (bias.defined()) copy_(y, bias_broadcast(plain(bias), y.shape()));
  batched_gemm(y, bias.defined() ? 1.0 : 0.0, false, false, Cout, T, CK, wc, 0, cols, CK * T, B);

  if (needs_grad({x, weight, bias})) {
    const bool gx_on = x.requires_grad(), gw_on = weight.requires_grad();
    record("conv1d", {y}, {x, weight, bias}, [=](const TensorList& g) {
      Tensor gy = plain(g[0]);
      Tensor gx, gw, gb;
      if (gw_on) {
        gw = empty({Cout, Cin, K}, gy.dtype(), gy.device());
        gemm_sum_over_batch(gw, false, true, Cout, CK, T, gy, Cout * T, cols, CK * T, B);  // gy[b] @ cols[b]ᵀ
      }
      if (gx_on) {
        Tensor gcols = empty({B, CK, T}, gy.dtype(), gy.device());
        batched_gemm(gcols, 0.0, true, false, CK, T, Cout, wc, 0, gy, Cout * T, B);  // Wᵀ @ gy[b]
        gx = zeros({B, Cin, geo.length}, gy.dtype(), gy.device());
        backend_of(gy).col2im1d(gcols, gx, geo);
      }
      if (bias.defined() && bias.requires_grad()) gb = bias_grad(gy);
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

  Tensor xc = plain(x), wc = plain(weight);
  Tensor cols = empty({B, CK, L}, x.dtype(), x.device());
  batched_gemm(cols, 0.0, true, false, CK, L, Cin, wc, 0, xc, Cin * L, B);  // Wᵀ [CK, Cin] @ x[b]
  Tensor y = zeros({B, Cout, T}, x.dtype(), x.device());
  backend_of(x).col2im1d(cols, y, geo);
  if (bias.defined()) {
    NoGradGuard ng;
    y = add(y, bias_broadcast(plain(bias), y.shape()));
  }

  if (needs_grad({x, weight, bias})) {
    const bool gx_on = x.requires_grad(), gw_on = weight.requires_grad();
    record("conv_transpose1d", {y}, {x, weight, bias}, [=](const TensorList& g) {
      Tensor gy = plain(g[0]);
      Tensor gcols = empty({B, CK, L}, gy.dtype(), gy.device());
      backend_of(gy).im2col1d(gy, gcols, geo);
      Tensor gx, gw, gb;
      if (gx_on) {
        gx = empty({B, Cin, L}, gy.dtype(), gy.device());
        batched_gemm(gx, 0.0, false, false, Cin, L, CK, wc, 0, gcols, CK * L, B);  // W @ gcols[b]
      }
      if (gw_on) {
        gw = empty({Cin, Cout, K}, gy.dtype(), gy.device());
        gemm_sum_over_batch(gw, false, true, Cin, CK, L, xc, Cin * L, gcols, CK * L, B);  // x[b] @ gcols[b]ᵀ
      }
      if (bias.defined() && bias.requires_grad()) gb = bias_grad(gy);
      return TensorList{gx, gw, gb};
    });
  }
  return y;
}

}  // namespace mg
