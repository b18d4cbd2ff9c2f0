// matmul. Shapes: a [M, K] or [B, M, K]; b [K, N] or [B, K, N]; out [.., M, N].
// Operands that are transposed views go to GEMM as trans flags, not copies:
// the backward pass's a @ bᵀ and aᵀ @ g never materialise a transpose.
#include "autograd/ops/common.h"

namespace mg {

namespace {

struct MatDesc {
  Tensor t;
  bool trans = false;
  int64_t ld = 0;
  int64_t batch_stride = 0;
};

// How the last two dims of x sit in memory: row-major (trans = false) or
// column-major (trans = true); anything else is copied to contiguous first.
MatDesc describe(const Tensor& x) {
  const int64_t nd = x.dim(), R = x.size(-2), C = x.size(-1);
  const int64_t sr = x.strides()[static_cast<size_t>(nd - 2)], sc = x.strides()[static_cast<size_t>(nd - 1)];
  const int64_t bstride = nd == 3 ? x.strides()[0] : 0;
  if (sc == 1 || C == 1) {
    const int64_t ld = R == 1 ? std::max<int64_t>(C, 1) : sr;
    if (ld >= C) return {x, false, ld, bstride};
  }
  if (sr == 1 || R == 1) {
    const int64_t ld = C == 1 ? std::max<int64_t>(R, 1) : sc;
    if (ld >= R) return {x, true, ld, bstride};
  }
  Tensor c = x.detach().contiguous();
  return {c, false, std::max<int64_t>(C, 1), nd == 3 ? R * C : 0};
}

Tensor matmul_forward(const Tensor& a, const Tensor& b) {
  detail::check_same("matmul", a, b);
  MG_CHECK(a.dtype() != DType::I64, "matmul: needs float tensors");
  MG_CHECK((a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || b.dim() == 3) && !(a.dim() == 2 && b.dim() == 3),
           "matmul: unsupported shapes {} @ {}", shape_str(a.shape()), shape_str(b.shape()));
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  MG_CHECK(b.size(-2) == K, "matmul: inner sizes differ: {} @ {}", shape_str(a.shape()), shape_str(b.shape()));
  const int64_t batch = a.dim() == 3 ? a.size(0) : 1;
  if (b.dim() == 3)
    MG_CHECK(b.size(0) == batch, "matmul: batch sizes differ: {} @ {}", shape_str(a.shape()), shape_str(b.shape()));
  Shape out_shape = a.dim() == 3 ? Shape{batch, M, N} : Shape{M, N};
  Tensor out = empty(out_shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  if (K == 0) {
    fill_(out, 0.0);
    return out;
  }
  MatDesc da = describe(a.detach()), db = describe(b.detach());
  GemmArgs g;
  g.dtype = a.dtype();
  g.trans_a = da.trans;
  g.trans_b = db.trans;
  g.m = M;
  g.n = N;
  g.k = K;
  g.a = da.t.data_ptr();
  g.lda = da.ld;
  g.stride_a = da.batch_stride;
  g.b = db.t.data_ptr();
  g.ldb = db.ld;
  g.stride_b = db.batch_stride;
  g.c = out.data_ptr();
  g.ldc = N;
  g.stride_c = M * N;
  g.batch = batch;
  backend_of(a).gemm(g);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor out = matmul_forward(a, b);
  if (needs_grad({a, b})) {
    const bool ga = a.requires_grad(), gb = b.requires_grad();
    record("matmul", {out}, {a, b}, [ga, gb, sa = a.detach(), sb = b.detach()](const TensorList& g) {
      const Tensor& go = g[0];
      Tensor gra, grb;
      if (ga) gra = matmul(go, sb.transpose(-1, -2));  // [.., M, N] @ [.., N, K]
      if (gb) {
        if (sa.dim() == 3 && sb.dim() == 2) {
          // Shared weight: sum over the batch in one GEMM, [K, B*M] @ [B*M, N].
          const int64_t K = sa.size(-1), N = go.size(-1);
          grb = matmul(sa.reshape({-1, K}).transpose(0, 1), go.reshape({-1, N}));
        } else {
          grb = matmul(sa.transpose(-1, -2), go);
        }
      }
      return TensorList{gra, grb};
    });
  }
  return out;
}

// linear: y [.., O] = x [.., I] wᵀ + b, for w [O, I] and b [O] (may be
// undefined). The bias is folded into the GEMM: y starts as b in every row and
// the product is added with beta = 1, one pass over y instead of two.
// Backward, with rows = the leading dims of x flattened:
//   gx = g w;  gw = gᵀ x  (one GEMM over all rows);  gb = Σ_rows g.
// Saved: x (for gw) and w (for gx).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_same("linear", x, w);
  MG_CHECK(x.dim() >= 1 && w.dim() == 2 && x.size(-1) == w.size(1), "linear: x {} does not fit a weight {}",
           shape_str(x.shape()), shape_str(w.shape()));
  const int64_t I = w.size(1), O = w.size(0), rows = x.numel() / std::max<int64_t>(I, 1);
  if (b.defined()) {
    detail::check_same("linear", x, b);
    MG_CHECK(b.dim() == 1 && b.size(0) == O, "linear: bias must be [{}], got {}", O, shape_str(b.shape()));
  }
  Shape out_shape = x.shape();
  out_shape.back() = O;
  Tensor x2 = detail::plain(x).reshape({rows, I}), w2 = detail::plain(w);
  Tensor y = empty({rows, O}, x.dtype(), x.device());
  if (b.defined()) backend_of(y).copy(y, detail::broadcast_view(b.detach(), {rows, O}));
  if (y.numel() > 0) {
    if (I == 0 && !b.defined()) fill_(y, 0.0);
    else if (I > 0) backend_of(y).gemm(contiguous_gemm(y, b.defined() ? 1.0 : 0.0, false, true, rows, O, I, x2, w2));
  }
  y = y.reshape(out_shape);
  if (needs_grad({x, w, b})) {
    const bool gx_on = x.requires_grad(), gw_on = w.requires_grad(), gb_on = b.defined() && b.requires_grad();
    record("linear", {y}, {x, w, b}, [gx_on, gw_on, gb_on, rows, I, O, xs = x.shape(), x2, w2](const TensorList& g) {
      Tensor g2 = detail::plain(g[0]).reshape({rows, O});
      Tensor gx, gw, gb;
      if (gx_on) gx = matmul(g2, w2).reshape(xs);            // [rows, O] @ [O, I]
      if (gw_on) gw = matmul(g2.transpose(0, 1), x2);         // [O, rows] @ [rows, I]
      if (gb_on) gb = sum(g2, {0});
      return TensorList{gx, gw, gb};
    });
  }
  return y;
}

}  // namespace mg
