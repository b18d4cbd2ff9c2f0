// The CPU's float32 elementwise loops and optimizer updates, compiled once per
// instruction set (included after simd.inl in each ISA translation unit, as
// simd_kernels.inl is), so that the portable binary runs them as wide as
// -march=native would.
//
// Arithmetic ops are the formulas of kernels/pointwise.h in plain loops that
// the compiler vectorises for the unit's target. The project compiles with
// -ffp-contract=off, so the vector code performs the same IEEE operations as
// the reference loops of elementwise.cpp and optim.cpp: the same bits.
// exp, log, sigmoid and tanh use the polynomials of simd.inl (within 2 ulp of
// the exact value, where the reference calls libm); a vector with a lane
// outside a polynomial's range goes through the reference formula lane by
// lane. pow stays on the reference formula: exp(a ln x) would lose |a ln x|
// ulp. Work is split into whole vectors, so the split never changes a result.

// f over [0, n) in chunks of whole vectors, on the thread pool when large.
template <typename F>
void vector_chunks(int64_t n, F&& f) {
  constexpr int64_t kGrain = int64_t{1} << 15;
  if (n <= kGrain || num_threads() == 1) return f(int64_t{0}, n);
  const int64_t vectors = (n + kW - 1) / kW;
  parallel_for(vectors, kGrain / kW, [&](int64_t v0, int64_t v1) { f(v0 * kW, std::min(n, v1 * kW)); });
}

// One vector through `fast` when every lane is in [lo, hi], else lane by lane through `exact`.
template <typename Fast, typename Exact>
inline VReg in_range_or(VReg v, float lo, float hi, Fast&& fast, Exact&& exact) {
  if (vall_in(v, lo, hi)) return fast(v);
  alignas(64) float lane[kW];
  vstore(lane, v);
  for (int64_t j = 0; j < kW; ++j) lane[j] = exact(lane[j]);
  return vload(lane);
}

// y[i] = f(x[i]) a vector at a time; a partial last vector is padded with 1.
template <typename F>
void map_vectors(const float* x, float* y, int64_t i0, int64_t i1, F&& f) {
  int64_t i = i0;
  for (; i + kW <= i1; i += kW) vstore(y + i, f(vload(x + i)));
  if (i < i1) {
    alignas(64) float pad[kW];
    for (int64_t j = 0; j < kW; ++j) pad[j] = i + j < i1 ? x[i + j] : 1.0f;
    alignas(64) float out[kW];
    vstore(out, f(vload(pad)));
    for (int64_t j = 0; j < i1 - i; ++j) y[i + j] = out[j];
  }
}

// The polynomials' ranges: vexp clamps beyond [-87.3, 88.3] (the reference
// overflows to inf or rounds to subnormals there); vlog needs a positive normal.
constexpr float kExpLo = -87.0f, kExpHi = 88.0f;

inline void unary_f32(UnaryOp op, float a, float b, const float* x, float* y, int64_t n) {
  auto exact = [op, a, b](float t) { return pointwise::unary_value(op, a, b, t); };
  vector_chunks(n, [&](int64_t i0, int64_t i1) {
    switch (op) {
      case UnaryOp::Exp:
        return map_vectors(x, y, i0, i1, [&](VReg v) { return in_range_or(v, kExpLo, kExpHi, vexp, exact); });
      case UnaryOp::Sigmoid:
        return map_vectors(x, y, i0, i1, [&](VReg v) { return in_range_or(v, kExpLo, kExpHi, vsigmoid, exact); });
      case UnaryOp::Log:
        return map_vectors(x, y, i0, i1, [&](VReg v) {
          return in_range_or(v, std::numeric_limits<float>::min(), std::numeric_limits<float>::max(), vlog, exact);
        });
      case UnaryOp::Tanh: return map_vectors(x, y, i0, i1, [](VReg v) { return vtanh(v); });
      default: break;
    }
    // The rest in plain loops, one per op so each is vectorised on its own formula.
#define MG_UNARY_LOOP(OP) \
  case UnaryOp::OP:       \
    for (int64_t i = i0; i < i1; ++i) y[i] = pointwise::unary_value(UnaryOp::OP, a, b, x[i]); \
    return;
    switch (op) {
      MG_UNARY_LOOP(Neg)
      MG_UNARY_LOOP(Sqrt)
      MG_UNARY_LOOP(Relu)
      MG_UNARY_LOOP(LeakyRelu)
      MG_UNARY_LOOP(Pow)
      MG_UNARY_LOOP(Affine)
      MG_UNARY_LOOP(Abs)
      MG_UNARY_LOOP(Mask)
      default: return;
    }
#undef MG_UNARY_LOOP
  });
}

// gx = gy d op(x)/dx: arithmetic on x, y and the op's parameter only.
inline void unary_backward_f32(UnaryOp op, float a, const float* gy, const float* x, const float* y, float* gx,
                               int64_t n) {
  const float a1 = a - 1.0f;
  vector_chunks(n, [&](int64_t i0, int64_t i1) {
#define MG_UNARY_BACKWARD_LOOP(OP)                                                                        \
  case UnaryOp::OP:                                                                                       \
    for (int64_t i = i0; i < i1; ++i)                                                                     \
      gx[i] = gy[i] * pointwise::unary_derivative(UnaryOp::OP, a, a1, x ? x[i] : 0.0f, y ? y[i] : 0.0f); \
    return;
    switch (op) {
      MG_UNARY_BACKWARD_LOOP(Neg)
      MG_UNARY_BACKWARD_LOOP(Exp)
      MG_UNARY_BACKWARD_LOOP(Log)
      MG_UNARY_BACKWARD_LOOP(Sqrt)
      MG_UNARY_BACKWARD_LOOP(Sigmoid)
      MG_UNARY_BACKWARD_LOOP(Tanh)
      MG_UNARY_BACKWARD_LOOP(Relu)
      MG_UNARY_BACKWARD_LOOP(LeakyRelu)
      MG_UNARY_BACKWARD_LOOP(Pow)
      MG_UNARY_BACKWARD_LOOP(Affine)
      MG_UNARY_BACKWARD_LOOP(Abs)
      MG_UNARY_BACKWARD_LOOP(Mask)
    }
#undef MG_UNARY_BACKWARD_LOOP
  });
}

// out[i] = a[i sa] (op) b[i sb] over one row, sa and sb each 0 (a value
// broadcast along the row) or 1.
inline void binary_row_f32(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out,
                           int64_t n) {
  auto rows = [&](auto kop) {
    constexpr BinaryOp o = decltype(kop)::value;
    if (sa == 1 && sb == 1)
      for (int64_t i = 0; i < n; ++i) out[i] = pointwise::binary_value(o, a[i], b[i]);
    else if (sa == 1)
      for (int64_t i = 0; i < n; ++i) out[i] = pointwise::binary_value(o, a[i], b[0]);
    else if (sb == 1)
      for (int64_t i = 0; i < n; ++i) out[i] = pointwise::binary_value(o, a[0], b[i]);
    else
      for (int64_t i = 0; i < n; ++i) out[i] = pointwise::binary_value(o, a[0], b[0]);
  };
  switch (op) {
    case BinaryOp::Add: return rows(std::integral_constant<BinaryOp, BinaryOp::Add>{});
    case BinaryOp::Sub: return rows(std::integral_constant<BinaryOp, BinaryOp::Sub>{});
    case BinaryOp::Mul: return rows(std::integral_constant<BinaryOp, BinaryOp::Mul>{});
    case BinaryOp::Div: return rows(std::integral_constant<BinaryOp, BinaryOp::Div>{});
  }
}

// The optimizers' updates of kernels/pointwise.h (their arithmetic is in double).
inline void adam_f32(float* p, const float* g, float* m, float* v, int64_t n, const pointwise::AdamCoeffs& c) {
  vector_chunks(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) pointwise::adam_update(p[i], g[i], m[i], v[i], c);
  });
}

inline void adamax_f32(float* p, const float* g, float* m, float* u, int64_t n, const pointwise::AdamCoeffs& c) {
  vector_chunks(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) pointwise::adamax_update(p[i], g[i], m[i], u[i], c);
  });
}

// Uniform draws in [lo, hi): element i = fma(hi - lo, the first word of
// Philox(seed, offset + i) as 24 bits, lo), as tensor/rng.h defines them.
// Philox runs in vector lanes of 64 bits, each holding one 32-bit word, so a
// word's 32 x 32-bit product fits its lane (integer arithmetic: the same bits
// as the scalar definition).
inline void random_uniform_f32(uint64_t seed, uint64_t offset, double lo, double hi, float* out, int64_t n) {
  using Lanes = uint64_t __attribute__((vector_size(kW * sizeof(float))));
  constexpr int64_t kLanes = kW / 2;
  constexpr uint64_t kLow = 0xffffffffu;
  vector_chunks(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i += kLanes) {
      Lanes c0, c1, c2 = {}, c3 = {};
      for (int64_t l = 0; l < kLanes; ++l) {
        const uint64_t counter = offset + static_cast<uint64_t>(i + l);
        c0[l] = counter & kLow;
        c1[l] = counter >> 32;
      }
      uint64_t k0 = seed & kLow, k1 = seed >> 32;
      for (int round = 0; round < 10; ++round) {
        const Lanes p0 = c0 * 0xD2511F53u, p1 = c2 * 0xCD9E8D57u;
        c0 = (p1 >> 32) ^ c1 ^ k0;
        c1 = p1 & kLow;
        c2 = (p0 >> 32) ^ c3 ^ k1;
        c3 = p0 & kLow;
        k0 = (k0 + 0x9E3779B9u) & kLow;
        k1 = (k1 + 0xBB67AE85u) & kLow;
      }
      const int64_t m = std::min<int64_t>(kLanes, i1 - i);
      for (int64_t l = 0; l < m; ++l)
        out[i + l] = static_cast<float>(std::fma(hi - lo, static_cast<double>(c0[l] >> 8) * (1.0 / 16777216.0), lo));
    }
  });
}
