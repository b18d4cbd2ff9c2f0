// The vector layer under the fast CPU kernels: one register type and a dozen
// operations, defined for the instruction set its including translation unit
// selects (MG_ISA_AVX512, MG_ISA_AVX2 or neither for SSE2). Included inside
// that unit's target region and its own namespace, after the
// standard headers and <immintrin.h>.
//
// The transcendental functions are Cephes-style polynomials, written once in
// terms of these operations, so every instruction set evaluates the same
// formula (and the two FMA sets round identically).

#if defined(MG_ISA_AVX512)

using VReg = __m512;
constexpr int kW = 16;  // float lanes
inline VReg vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, VReg v) { _mm512_storeu_ps(p, v); }
inline VReg vset1(float x) { return _mm512_set1_ps(x); }
inline VReg vzero() { return _mm512_setzero_ps(); }
inline VReg vadd(VReg a, VReg b) { return _mm512_add_ps(a, b); }
inline VReg vsub(VReg a, VReg b) { return _mm512_sub_ps(a, b); }
inline VReg vmul(VReg a, VReg b) { return _mm512_mul_ps(a, b); }
inline VReg vdiv(VReg a, VReg b) { return _mm512_div_ps(a, b); }
inline VReg vmin(VReg a, VReg b) { return _mm512_min_ps(a, b); }
inline VReg vmax(VReg a, VReg b) { return _mm512_max_ps(a, b); }
inline VReg vfma(VReg a, VReg b, VReg c) { return _mm512_fmadd_ps(a, b, c); }    // a b + c
inline VReg vfnma(VReg a, VReg b, VReg c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a b
inline VReg vabs(VReg a) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff)));
}
// |a| with the sign of s.
inline VReg vcopysign(VReg a, VReg s) {
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(vabs(a)),
                                             _mm512_and_si512(_mm512_castps_si512(s), sign)));
}
// lt < bound ? a : b, lane by lane.
inline VReg vselect_lt(VReg lt, VReg bound, VReg a, VReg b) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(lt, bound, _CMP_LT_OQ), b, a);
}
// 2^n for integral n in [-126, 127], built in the exponent field.
inline VReg vpow2i(VReg n) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
}
inline float vsum(VReg v) { return _mm512_reduce_add_ps(v); }
// x = m 2^e with m in [0.5, 1), for positive normal x: returns m, sets e.
inline VReg vfrexp(VReg x, VReg& e) {
  const __m512i bits = _mm512_castps_si512(x);
  e = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(126)));
  return _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f000000)));
}
// Whether lo <= x <= hi in every lane (false for a NaN lane).
inline bool vall_in(VReg x, float lo, float hi) {
  return (_mm512_cmp_ps_mask(x, vset1(lo), _CMP_GE_OQ) & _mm512_cmp_ps_mask(x, vset1(hi), _CMP_LE_OQ)) == 0xffff;
}
// The first n lanes of v to p (n <= kW); nothing is written past them.
inline void vstore_first(float* p, VReg v, int64_t n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v);
}
// The first n lanes from p, zero in the others; nothing is read past them.
inline VReg vload_first(const float* p, int64_t n) {
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p);
}
// r[i][j] <-> r[j][i]: a 16 x 16 block, rows in registers.
inline void vtranspose(VReg (&r)[kW]) {
  VReg t[16], u[16];
#pragma GCC unroll 16
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);      // per 128-bit lane: a0 b0 a1 b1
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);  // a2 b2 a3 b3
  }
#pragma GCC unroll 16
  for (int i = 0; i < 4; ++i) {  // u[4i + j], lane L: column 4L + j of rows 4i .. 4i+3
    const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
#pragma GCC unroll 16
  for (int j = 0; j < 4; ++j) {  // gather lane L of u[j], u[4+j], u[8+j], u[12+j] into column 4L + j
    const VReg a = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), b = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
    const VReg c = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), d = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
    r[j] = _mm512_shuffle_f32x4(a, c, 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(a, c, 0xDD);
    r[4 + j] = _mm512_shuffle_f32x4(b, d, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(b, d, 0xDD);
  }
}
#define MG_HAVE_FMA 1

#if defined(MG_HAVE_BF16)
// bf16 pairs (AVX512_BF16): 32-bit lanes holding bf16(x_k) in the low half
// and bf16(x_k+1) in the high half, rounded to nearest even by the
// conversion instructions (which also flush subnormals to zero).

// n consecutive floats from p (n <= 32; zero past n) as 16 pairs: lane i = (p[2i], p[2i+1]).
inline VReg vbf16_pairs_along(const float* p, int64_t n) {
  const int64_t n_lo = std::clamp<int64_t>(n, 0, 16), n_hi = std::clamp<int64_t>(n - 16, 0, 16);
  const __m512 lo = n_lo == 16 ? _mm512_loadu_ps(p) : vload_first(p, n_lo);
  const __m512 hi = n_hi == 16 ? _mm512_loadu_ps(p + 16) : vload_first(p + 16, n_hi);
  // Lanes 0..15 of the result are lo's, 16..31 hi's: p[0..31] in memory order.
  return (__m512)_mm512_cvtne2ps_pbh(hi, lo);
}

// n pairs across two rows (n <= 16; zero past n; hi may be null: zero):
// lane i = (lo[i], hi[i]).
inline VReg vbf16_pairs_across(const float* lo, const float* hi, int64_t n) {
  const __m512 l = n == 16 ? _mm512_loadu_ps(lo) : vload_first(lo, n);
  const __m512 h = hi == nullptr ? _mm512_setzero_ps() : n == 16 ? _mm512_loadu_ps(hi) : vload_first(hi, n);
  // 16-bit lanes 0..15 hold l's values, 16..31 h's; interleave them.
  const __m512i halves = (__m512i)_mm512_cvtne2ps_pbh(h, l);
  const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_castsi512_ps(_mm512_permutexvar_epi16(order, halves));
}

// acc + a.b per lane: each lane adds the float32 products of its two bf16 pairs.
inline VReg vdot_bf16(VReg acc, VReg a, VReg b) {
  return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}
#endif

#elif defined(MG_ISA_AVX2)

using VReg = __m256;
constexpr int kW = 8;
inline VReg vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, VReg v) { _mm256_storeu_ps(p, v); }
inline VReg vset1(float x) { return _mm256_set1_ps(x); }
inline VReg vzero() { return _mm256_setzero_ps(); }
inline VReg vadd(VReg a, VReg b) { return _mm256_add_ps(a, b); }
inline VReg vsub(VReg a, VReg b) { return _mm256_sub_ps(a, b); }
inline VReg vmul(VReg a, VReg b) { return _mm256_mul_ps(a, b); }
inline VReg vdiv(VReg a, VReg b) { return _mm256_div_ps(a, b); }
inline VReg vmin(VReg a, VReg b) { return _mm256_min_ps(a, b); }
inline VReg vmax(VReg a, VReg b) { return _mm256_max_ps(a, b); }
inline VReg vfma(VReg a, VReg b, VReg c) { return _mm256_fmadd_ps(a, b, c); }
inline VReg vfnma(VReg a, VReg b, VReg c) { return _mm256_fnmadd_ps(a, b, c); }
inline VReg vabs(VReg a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
inline VReg vcopysign(VReg a, VReg s) {
  const VReg sign = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(sign, a), _mm256_and_ps(sign, s));
}
inline VReg vselect_lt(VReg lt, VReg bound, VReg a, VReg b) {
  return _mm256_blendv_ps(b, a, _mm256_cmp_ps(lt, bound, _CMP_LT_OQ));
}
inline VReg vpow2i(VReg n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
inline VReg vfrexp(VReg x, VReg& e) {
  const __m256i bits = _mm256_castps_si256(x);
  e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
  return _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
}
inline bool vall_in(VReg x, float lo, float hi) {
  return _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(x, vset1(lo), _CMP_GE_OQ), _mm256_cmp_ps(x, vset1(hi), _CMP_LE_OQ))) == 0xff;
}
inline float vsum(VReg v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline __m256i vfirst_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline void vstore_first(float* p, VReg v, int64_t n) { _mm256_maskstore_ps(p, vfirst_mask(n), v); }
inline VReg vload_first(const float* p, int64_t n) { return _mm256_maskload_ps(p, vfirst_mask(n)); }
// An 8 x 8 block.
inline void vtranspose(VReg (&r)[kW]) {
  VReg t[8], u[8];
#pragma GCC unroll 16
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 2; ++i) {  // u[4i + j], lane L: column 4L + j of rows 4i .. 4i+3
    const __m256d t0 = _mm256_castps_pd(t[4 * i]), t1 = _mm256_castps_pd(t[4 * i + 1]);
    const __m256d t2 = _mm256_castps_pd(t[4 * i + 2]), t3 = _mm256_castps_pd(t[4 * i + 3]);
    u[4 * i] = _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2));
    u[4 * i + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2));
    u[4 * i + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3));
    u[4 * i + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3));
  }
#pragma GCC unroll 16
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}
#define MG_HAVE_FMA 1

#else  // SSE2: every x86-64 CPU

using VReg = __m128;
constexpr int kW = 4;
inline VReg vload(const float* p) { return _mm_loadu_ps(p); }
inline void vstore(float* p, VReg v) { _mm_storeu_ps(p, v); }
inline VReg vset1(float x) { return _mm_set1_ps(x); }
inline VReg vzero() { return _mm_setzero_ps(); }
inline VReg vadd(VReg a, VReg b) { return _mm_add_ps(a, b); }
inline VReg vsub(VReg a, VReg b) { return _mm_sub_ps(a, b); }
inline VReg vmul(VReg a, VReg b) { return _mm_mul_ps(a, b); }
inline VReg vdiv(VReg a, VReg b) { return _mm_div_ps(a, b); }
inline VReg vmin(VReg a, VReg b) { return _mm_min_ps(a, b); }
inline VReg vmax(VReg a, VReg b) { return _mm_max_ps(a, b); }
inline VReg vfma(VReg a, VReg b, VReg c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }  // no FMA: two roundings
inline VReg vfnma(VReg a, VReg b, VReg c) { return _mm_sub_ps(c, _mm_mul_ps(a, b)); }
inline VReg vabs(VReg a) { return _mm_andnot_ps(_mm_set1_ps(-0.0f), a); }
inline VReg vcopysign(VReg a, VReg s) {
  const VReg sign = _mm_set1_ps(-0.0f);
  return _mm_or_ps(_mm_andnot_ps(sign, a), _mm_and_ps(sign, s));
}
inline VReg vselect_lt(VReg lt, VReg bound, VReg a, VReg b) {
  const VReg m = _mm_cmplt_ps(lt, bound);
  return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b));
}
inline VReg vpow2i(VReg n) {
  return _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(_mm_cvtps_epi32(n), _mm_set1_epi32(127)), 23));
}
inline VReg vfrexp(VReg x, VReg& e) {
  const __m128i bits = _mm_castps_si128(x);
  e = _mm_cvtepi32_ps(_mm_sub_epi32(_mm_srli_epi32(bits, 23), _mm_set1_epi32(126)));
  return _mm_castsi128_ps(_mm_or_si128(_mm_and_si128(bits, _mm_set1_epi32(0x007fffff)), _mm_set1_epi32(0x3f000000)));
}
inline bool vall_in(VReg x, float lo, float hi) {
  return _mm_movemask_ps(_mm_and_ps(_mm_cmpge_ps(x, vset1(lo)), _mm_cmple_ps(x, vset1(hi)))) == 0xf;
}
inline float vsum(VReg v) {
  VReg s = _mm_add_ps(v, _mm_movehl_ps(v, v));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline void vstore_first(float* p, VReg v, int64_t n) {
  alignas(16) float lane[4];
  _mm_store_ps(lane, v);
  for (int64_t i = 0; i < n; ++i) p[i] = lane[i];
}
inline VReg vload_first(const float* p, int64_t n) {
  alignas(16) float lane[4] = {};
  for (int64_t i = 0; i < n; ++i) lane[i] = p[i];
  return _mm_load_ps(lane);
}
inline void vtranspose(VReg (&r)[kW]) { _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]); }

#endif

// e^x, within 2 ulp over the float range; inputs are clamped to
// [-87.3, 88.3] so that 2^n stays a normal number (e^-87.3 ~ 1.2e-38).
inline VReg vexp(VReg x) {
  // min and max return their second operand when one is NaN: x second, so NaN stays NaN.
  x = vmax(vset1(-87.3f), vmin(vset1(88.3f), x));
  // n = round(x / ln 2): adding and subtracting 1.5 * 2^23 rounds to nearest even.
  const VReg magic = vset1(12582912.0f);
  const VReg n = vsub(vfma(x, vset1(1.44269504088896341f), magic), magic);
  // r = x - n ln 2, with ln 2 split in two so that n ln2_hi is exact.
  VReg r = vfnma(n, vset1(0.693359375f), x);
  r = vfnma(n, vset1(-2.12194440e-4f), r);
  VReg p = vset1(1.9875691500e-4f);
  p = vfma(p, r, vset1(1.3981999507e-3f));
  p = vfma(p, r, vset1(8.3334519073e-3f));
  p = vfma(p, r, vset1(4.1665795894e-2f));
  p = vfma(p, r, vset1(1.6666665459e-1f));
  p = vfma(p, r, vset1(5.0000001201e-1f));
  p = vfma(p, vmul(r, r), vadd(r, vset1(1.0f)));
  return vmul(p, vpow2i(n));
}

// ln x for positive normal x (the caller sends other lanes elsewhere; see
// vall_in), within 2 ulp: x = m 2^e with m in [sqrt(1/2), sqrt(2)), and a
// polynomial in m - 1 (Cephes' logf).
inline VReg vlog(VReg x) {
  VReg e;
  VReg m = vfrexp(x, e);  // [0.5, 1)
  // m < sqrt(1/2): use 2m and e - 1, so that m - 1 stays in [-0.29, 0.41].
  const VReg small = vselect_lt(m, vset1(0.707106781186547524f), vset1(1.0f), vzero());
  e = vsub(e, small);
  m = vsub(vadd(m, vmul(m, small)), vset1(1.0f));
  const VReg z = vmul(m, m);
  VReg p = vset1(7.0376836292e-2f);
  p = vfma(p, m, vset1(-1.1514610310e-1f));
  p = vfma(p, m, vset1(1.1676998740e-1f));
  p = vfma(p, m, vset1(-1.2420140846e-1f));
  p = vfma(p, m, vset1(1.4249322787e-1f));
  p = vfma(p, m, vset1(-1.6668057665e-1f));
  p = vfma(p, m, vset1(2.0000714765e-1f));
  p = vfma(p, m, vset1(-2.4999993993e-1f));
  p = vfma(p, m, vset1(3.3333331174e-1f));
  VReg y = vmul(vmul(p, m), z);
  y = vfma(e, vset1(-2.12194440e-4f), y);  // e ln2, ln2 split in two so that e ln2_hi is exact
  y = vfnma(z, vset1(0.5f), y);
  return vfma(e, vset1(0.693359375f), vadd(m, y));
}

// 1 / (1 + e^-x)
inline VReg vsigmoid(VReg x) { return vdiv(vset1(1.0f), vadd(vset1(1.0f), vexp(vsub(vzero(), x)))); }

// tanh x: an odd polynomial below |x| = 0.625 (where 1 - 2/(e^2x + 1) would
// cancel), 1 - 2 / (e^2|x| + 1) with x's sign above.
inline VReg vtanh(VReg x) {
  const VReg ax = vabs(x);
  const VReg z = vmul(x, x);
  VReg p = vset1(-5.70498872745e-3f);
  p = vfma(p, z, vset1(2.06390887954e-2f));
  p = vfma(p, z, vset1(-5.37397155531e-2f));
  p = vfma(p, z, vset1(1.33314422036e-1f));
  p = vfma(p, z, vset1(-3.33332819422e-1f));
  const VReg small = vfma(vmul(p, z), x, x);
  const VReg e = vexp(vadd(ax, ax));
  const VReg large = vcopysign(vsub(vset1(1.0f), vdiv(vset1(2.0f), vadd(e, vset1(1.0f)))), x);
  return vselect_lt(ax, vset1(0.625f), small, large);
}
