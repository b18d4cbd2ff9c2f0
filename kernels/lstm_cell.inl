// The LSTM cell's pointwise equations for one (row, unit), written once over
// an arithmetic M on values V. Gate pre-activations come in the order i, f,
// g, o (Keras calls g "c"). Included twice:
//   - inside mg::pointwise by kernels/pointwise.h, with M = ScalarMath<T>
//     (float or double): the CPU reference loops and the CUDA kernels;
//   - inside each instruction set's namespace by kernels/cpu/simd_kernels.inl,
//     with that set's vector arithmetic (the polynomials of simd.inl, one
//     rounding per multiply-add where the set has FMA), so that each copy is
//     compiled for its own target.
// M provides one(), mul(a, b), sub(a, b), madd(a, b, c) = a b + c,
// nmadd(a, b, c) = c - a b, sigmoid(x) and tanh(x).

//   i, f, o = σ(·);  g = tanh(·);  c = f c_prev + i g;  h = o tanh(c)
template <typename V, typename M = pointwise::ScalarMath<V>>
MG_POINTWISE pointwise::LstmCellForward<V> lstm_cell_forward(V pre_i, V pre_f, V pre_g, V pre_o, V c_prev) {
  pointwise::LstmCellForward<V> r;
  r.i = M::sigmoid(pre_i);
  r.f = M::sigmoid(pre_f);
  r.g = M::tanh(pre_g);
  r.o = M::sigmoid(pre_o);
  r.c = M::madd(r.f, c_prev, M::mul(r.i, r.g));
  r.h = M::mul(r.o, M::tanh(r.c));
  return r;
}

// From the gradients reaching h and c (gh, gc) and the saved activations;
// each gate's gradient is what reaches it times its activation's derivative
// (σ' = s(1-s), tanh' = 1 - t²):
//   dc = gh o (1 - tanh² c) + gc
//   di = (dc g) i(1-i);  df = (dc c_prev) f(1-f);  dg = (dc i) (1-g²);  do = (gh tanh c) o(1-o)
//   dc_prev = dc f
template <typename V, typename M = pointwise::ScalarMath<V>>
MG_POINTWISE pointwise::LstmCellBackward<V> lstm_cell_backward(V gh, V gc, V i, V f, V g, V o, V c_prev, V c) {
  const V one = M::one();
  const V tc = M::tanh(c);
  const V dc = M::madd(M::mul(gh, o), M::nmadd(tc, tc, one), gc);
  pointwise::LstmCellBackward<V> r;
  r.di = M::mul(M::mul(dc, g), M::mul(i, M::sub(one, i)));
  r.df = M::mul(M::mul(dc, c_prev), M::mul(f, M::sub(one, f)));
  r.dg = M::mul(M::mul(dc, i), M::nmadd(g, g, one));
  r.dout = M::mul(M::mul(gh, tc), M::mul(o, M::sub(one, o)));
  r.dc_prev = M::mul(dc, f);
  return r;
}
