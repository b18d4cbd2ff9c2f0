// The forward formulas of the elementwise ops, mse and the LSTM cell against
// formulas written here, evaluated in long double from the values the tensors
// hold. The kernels share kernels/pointwise.h between CPU and CUDA and
// gradcheck compares backward with forward, so neither can see a wrong
// formula; this suite can. long double (64-bit mantissa on x86-64) makes the
// float64 results checkable too: a double reference would share their rounding.
//
// Tolerance: |got - want| <= kUlps eps(T) scale + min(T), where scale is
// |want| unless a case says otherwise, eps is the dtype's machine epsilon (one
// ulp at 1, so kUlps eps is at least kUlps ulp of any normal number) and
// min(T) is the smallest normal number (results below it carry no relative
// precision). The libm functions the kernels call are within 2 ulp, and each
// formula adds at most two roundings.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/pointwise.h"
#include "tensor/tensor.h"

using mg::DType;
using mg::Shape;
using mg::Tensor;
using Real = long double;
using Vec = std::vector<double>;
using RealVec = std::vector<Real>;

namespace {

constexpr double kUlps = 4;

// Uniform in [lo, hi), the same sequence on every standard library.
Vec random_values(size_t n, uint64_t seed, double lo, double hi) {
  std::mt19937_64 gen(seed);
  Vec v(n);
  for (double& x : v) x = lo + (hi - lo) * (double(gen() >> 11) * 0x1.0p-53);
  return v;
}

double eps_of(DType dt) {
  return dt == DType::F32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
}
double min_normal_of(DType dt) {
  return dt == DType::F32 ? std::numeric_limits<float>::min() : std::numeric_limits<double>::min();
}
double max_of(DType dt) {
  return dt == DType::F32 ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max();
}

Tensor tensor_of(const Vec& v, const Shape& shape, DType dt) { return mg::from_vector(v, shape).to(dt); }

// got against want within ulps eps(T) scale + min(T); the same infinity counts
// as equal. Reports how many elements miss and the first of them.
void check_formula(const Tensor& got, const RealVec& want, const RealVec& scale, double ulps, const std::string& what) {
  const Vec g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  const DType dt = got.dtype();
  size_t misses = 0, first = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const bool ok = std::isinf(want[i]) ? Real(g[i]) == want[i]
                                        : std::abs(Real(g[i]) - want[i]) <= ulps * eps_of(dt) * scale[i] + min_normal_of(dt);
    if (!ok && misses++ == 0) first = i;
  }
  if (misses > 0)
    FAIL_CHECK(what << " " << mg::dtype_name(dt) << ": " << misses << " of " << g.size() << " elements off; element "
                    << first << ": got " << std::setprecision(17) << g[first] << ", want " << double(want[first]));
}

// Element (r, c) of b broadcast to [rows, cols], from b's values in row-major
// order: b is [cols], [rows, 1] or [rows, cols].
double broadcast_element(const Vec& bv, const Shape& b_shape, int64_t r, int64_t c) {
  if (b_shape.size() == 1) return bv[size_t(c)];
  if (b_shape[1] == 1) return bv[size_t(r)];
  return bv[size_t(r * b_shape[1] + c)];
}

RealVec magnitudes(const RealVec& v) {
  RealVec m(v.size());
  for (size_t i = 0; i < v.size(); ++i) m[i] = std::abs(v[i]);
  return m;
}

// σ(x) without overflow: e^x / (1 + e^x) below 0.
Real sigmoid_formula(Real x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }
// tanh x = (1 - e^-2|x|) / (1 + e^-2|x|) with x's sign, through expm1 so that small x keeps its digits.
Real tanh_formula(Real x) {
  const Real e = std::expm1(-2 * std::abs(x));
  return std::copysign(-e / (2 + e), x);
}

// The same values as a contiguous tensor, a transposed view and a view of
// every other column (the columns it skips hold NaN, so a kernel that reads
// past the view's strides gives NaN); all [rows, cols].
struct Layout {
  const char* name;
  Tensor x;
};
std::vector<Layout> layouts(const Vec& v, int64_t rows, int64_t cols, DType dt) {
  Vec transposed(v.size()), strided(v.size() * 2, std::nan(""));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      transposed[size_t(c * rows + r)] = v[size_t(r * cols + c)];
      strided[size_t(r * 2 * cols + 2 * c)] = v[size_t(r * cols + c)];
    }
  return {{"contiguous", tensor_of(v, {rows, cols}, dt)},
          {"transposed", tensor_of(transposed, {cols, rows}, dt).transpose(0, 1)},
          {"strided", tensor_of(strided, {rows, 2 * cols}, dt).slice(1, 0, 2 * cols, 2)}};
}

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<Real(Real)> formula;
  double lo, hi;  // the random inputs' range
  Vec edges;      // kept where the dtype holds the input and the result (or the result is exactly infinite)
  // The size of the terms that make the result, when it can cancel (affine); |want| otherwise.
  std::function<Real(Real)> scale = nullptr;
};

std::vector<UnaryCase> unary_cases() {
  const Vec signed_edges = {0.0,    -0.0,   1.0,     -1.0,   0.5,   -2.5,    1e-30, -1e-30, 1e-40,
                            -1e-40, 1e-300, -1e-300, 1e30,   -1e30, 3e38,    -3e38, 1e300, -1e300};
  const Vec positive_edges = {0.0, 1.0, 2.0, 0.5, 1e-30, 1e-40, 1e-300, 1e30, 3e38, 1e300};
  const Vec saturating = {0.0,  -0.0,  1e-8,  -1e-8, 0.5,  -0.5,  0.625, -0.625, 1.0,    -1.0,  9.0,  -9.0,   20.0,
                          -20.0, 40.0, -40.0, 88.0, -88.0, 89.0,  -89.0,  100.0, -100.0, 710.0, -710.0, 745.0, -745.0,
                          1000.0, -1000.0, 1e30, -1e30};
  // The kernels round the parameters to the element type (half an ulp), so
  // they need not be exact in float32.
  const double alpha = -1.75, beta = 0.3, slope = 0.2;
  return {
      {"neg", [](const Tensor& x) { return mg::neg(x); }, [](Real x) { return -x; }, -100, 100, signed_edges},
      {"abs", [](const Tensor& x) { return mg::abs(x); }, [](Real x) { return std::abs(x); }, -100, 100, signed_edges},
      {"relu", [](const Tensor& x) { return mg::relu(x); }, [](Real x) { return x > 0 ? x : Real(0); }, -100, 100,
       signed_edges},
      {"leaky_relu", [=](const Tensor& x) { return mg::leaky_relu(x, slope); },
       [=](Real x) { return x > 0 ? x : Real(slope) * x; }, -100, 100, signed_edges},
      {"affine", [=](const Tensor& x) { return mg::affine(x, alpha, beta); },
       [=](Real x) { return Real(alpha) * x + Real(beta); }, -100, 100,
       [=] {
         Vec e = signed_edges;
         e.push_back(beta / -alpha);  // the result cancels to about 0
         return e;
       }(),
       [=](Real x) { return std::abs(Real(alpha) * x) + std::abs(Real(beta)); }},
      {"exp", [](const Tensor& x) { return mg::exp(x); }, [](Real x) { return std::exp(x); }, -30, 30,
       {0.0, -0.0, 1.0, -1.0, 1e-30, -1e-30, 88.0, -87.0, -103.0, 709.0, -708.0, -745.0, -1000.0}},
      {"log", [](const Tensor& x) { return mg::log(x); }, [](Real x) { return std::log(x); }, 0, 100,
       positive_edges},
      {"sqrt", [](const Tensor& x) { return mg::sqrt(x); }, [](Real x) { return std::sqrt(x); }, 0, 100,
       positive_edges},
      {"pow 2", [](const Tensor& x) { return mg::pow(x, 2.0); }, [](Real x) { return x * x; }, -100, 100,
       signed_edges},
      {"pow 3", [](const Tensor& x) { return mg::pow(x, 3.0); }, [](Real x) { return x * x * x; }, -100, 100,
       signed_edges},
      {"pow 0.5", [](const Tensor& x) { return mg::pow(x, 0.5); }, [](Real x) { return std::sqrt(x); }, 0, 100,
       positive_edges},
      {"pow -1.5", [](const Tensor& x) { return mg::pow(x, -1.5); }, [](Real x) { return 1 / (x * std::sqrt(x)); },
       0, 100, positive_edges},
      {"sigmoid", [](const Tensor& x) { return mg::sigmoid(x); }, sigmoid_formula, -40, 40, saturating},
      {"tanh", [](const Tensor& x) { return mg::tanh(x); }, tanh_formula, -10, 10, saturating},
  };
}

// The edges the dtype can hold (as input and as result), then random values.
Vec inputs_for(const UnaryCase& c, DType dt, size_t n) {
  Vec v;
  for (double e : c.edges) {
    if (std::abs(e) > max_of(dt)) continue;
    const Real want = c.formula(Real(tensor_of({e}, {1}, dt).item()));
    if (std::isinf(want) || std::abs(want) <= max_of(dt)) v.push_back(e);
  }
  const Vec r = random_values(n - v.size(), 17, c.lo, c.hi);
  v.insert(v.end(), r.begin(), r.end());
  return v;
}

}  // namespace

// 160 x 256 elements: above the parallel grain of the CPU maps (1 << 15), so
// the split across threads runs too.
TEST_CASE("elementwise ops equal their formulas in long double: float32 and float64, edges, views") {
  const int64_t rows = 160, cols = 256;
  const size_t n = size_t(rows * cols);
  for (const UnaryCase& c : unary_cases())
    for (DType dt : {DType::F32, DType::F64}) {
      const Vec stored = tensor_of(inputs_for(c, dt, n), {rows, cols}, dt).to_vector<double>();
      RealVec want(n), scale(n);
      for (size_t i = 0; i < n; ++i) {
        want[i] = c.formula(Real(stored[i]));
        scale[i] = c.scale ? c.scale(Real(stored[i])) : std::abs(want[i]);
      }
      for (const Layout& l : layouts(stored, rows, cols, dt)) {
        const Tensor y = c.op(l.x);
        CHECK(y.shape() == Shape{rows, cols});
        CHECK(y.dtype() == dt);
        check_formula(y, want, scale, kUlps, std::string(c.name) + " of a " + l.name + " input");
      }
    }
}

TEST_CASE("add, sub, mul and div equal exact arithmetic, broadcast and on views") {
  const int64_t rows = 160, cols = 256;
  const Vec a = random_values(size_t(rows * cols), 21, -1e3, 1e3);
  Vec b_row = random_values(size_t(cols), 22, -10, 10), b_col = random_values(size_t(rows), 23, 0.5, 2);
  b_row[0] = a[0];  // a - b cancels to 0 exactly
  struct Binary {
    const char* name;
    Tensor (*op)(const Tensor&, const Tensor&);
    Real (*formula)(Real, Real);
  };
  const Binary ops[] = {{"add", mg::add, [](Real x, Real y) { return x + y; }},
                        {"sub", mg::sub, [](Real x, Real y) { return x - y; }},
                        {"mul", mg::mul, [](Real x, Real y) { return x * y; }},
                        {"div", mg::div, [](Real x, Real y) { return x / y; }}};
  for (DType dt : {DType::F32, DType::F64})
    for (const Layout& l : layouts(tensor_of(a, {rows, cols}, dt).to_vector<double>(), rows, cols, dt)) {
      const Vec av = l.x.to_vector<double>();
      // b as a row [cols], a column [rows, 1] and a full [rows, cols] tensor.
      const Tensor b_as_row = tensor_of(b_row, {cols}, dt), b_as_col = tensor_of(b_col, {rows, 1}, dt);
      const Tensor b_full = b_as_row.expand({rows, cols}).contiguous();
      for (const Tensor& b : {b_as_row, b_as_col, b_full}) {
        const Vec bv = b.to_vector<double>();
        for (const Binary& op : ops) {
          RealVec want(av.size());
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
              const size_t i = size_t(r * cols + c);
              want[i] = op.formula(Real(av[i]), Real(broadcast_element(bv, b.shape(), r, c)));
            }
          const Tensor got = op.op(l.x, b);
          CHECK(got.shape() == Shape{rows, cols});
          // IEEE arithmetic rounds once: half an ulp.
          check_formula(got, want, magnitudes(want), 0.5,
                        std::string(op.name) + " of a " + l.name + " a and b of shape " + mg::shape_str(b.shape()));
        }
      }
    }
}

// Each term (a - b)^2 is rounded a few times in the element type and summed
// in double: the tolerance adds the double sum's worst case, n eps(double).
TEST_CASE("mse equals the mean of squared differences, broadcast and on views") {
  const int64_t rows = 160, cols = 256;
  for (DType dt : {DType::F32, DType::F64}) {
    const double big = dt == DType::F32 ? 1e15 : 1e150;  // (a - b)^2 stays finite
    for (double magnitude : {1.0, big}) {
      INFO("values up to " << magnitude);
      Vec a = random_values(size_t(rows * cols), 31, -magnitude, magnitude);
      a[1] = 0.0;
      const Vec b_row = random_values(size_t(cols), 32, -magnitude, magnitude);
      a[0] = b_row[0];  // a zero difference
      const Tensor b_as_row = tensor_of(b_row, {cols}, dt);
      const Tensor b_full = tensor_of(random_values(size_t(rows * cols), 33, -magnitude, magnitude), {rows, cols}, dt);
      for (const Layout& l : layouts(tensor_of(a, {rows, cols}, dt).to_vector<double>(), rows, cols, dt))
        for (const Tensor& b : {b_as_row, b_full, b_full.transpose(0, 1).contiguous().transpose(0, 1)}) {
          const Vec av = l.x.to_vector<double>(), bv = b.to_vector<double>();
          Real sum = 0;
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
              const Real d = Real(av[size_t(r * cols + c)]) - Real(broadcast_element(bv, b.shape(), r, c));
              sum += d * d;
            }
          const Real want = sum / Real(av.size());
          const Tensor got = mg::mse(l.x, b);
          CHECK(got.numel() == 1);
          const double ulps = kUlps + double(av.size()) * std::numeric_limits<double>::epsilon() / eps_of(dt);
          check_formula(got, {want}, {want}, ulps,
                        std::string("mse of a ") + l.name + " a, b of shape " + mg::shape_str(b.shape()) +
                            (b.is_contiguous() ? "" : " (transposed view)"));
        }
    }
  }
}

// ---- the LSTM cell's pointwise part: every instruction set's vectorised
// kernel (float32, its own exp and tanh) and the reference loops (float32
// and float64) against the cell's equations.

namespace {

// The cell's equations (gate order i, f, g, o), and the sizes of the terms
// that make each result: where a result cancels (c, dc, and 1 - tanh² c near
// saturation) its rounding is relative to them, not to the result.
struct CellForward {
  RealVec act, c, h;  // [B, 4H], [B, H], [B, H]
  RealVec act_scale, c_scale, h_scale;
};
struct CellBackward {
  RealVec dgates, dc_prev;  // [B, 4H], [B, H]
  RealVec dgates_scale, dc_prev_scale;
};

// i, f, o = σ, g = tanh of the gates; c = f c_prev + i g; h = o tanh c.
CellForward cell_forward_formula(int64_t B, int64_t H, const Vec& gates, const Vec& c_prev) {
  CellForward r;
  r.act.resize(size_t(B * 4 * H));
  r.act_scale = r.act;
  r.c.resize(size_t(B * H));
  r.h = r.c_scale = r.h_scale = r.c;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) {
      const size_t k = size_t(b * H + j), ai = size_t(b * 4 * H + j);
      const size_t af = ai + size_t(H), ag = ai + size_t(2 * H), ao = ai + size_t(3 * H);
      const Real cp = c_prev[k];
      const Real i = sigmoid_formula(gates[ai]), f = sigmoid_formula(gates[af]);
      const Real g = tanh_formula(gates[ag]), o = sigmoid_formula(gates[ao]);
      r.act[ai] = i;
      r.act[af] = f;
      r.act[ag] = g;
      r.act[ao] = o;
      for (size_t q : {ai, af, ag, ao}) r.act_scale[q] = std::abs(r.act[q]);
      r.c[k] = f * cp + i * g;
      r.c_scale[k] = std::abs(f * cp) + std::abs(i * g);
      const Real tc = tanh_formula(r.c[k]);
      r.h[k] = o * tc;
      r.h_scale[k] = std::abs(r.h[k]) + o * (1 - tc * tc) * r.c_scale[k];
    }
  return r;
}

// From the saved activations and c as the kernels receive them:
// dc = gc + gh o (1 - tanh² c); di = dc g i (1 - i); df = dc c_prev f (1 - f);
// dg = dc i (1 - g²); do = gh tanh(c) o (1 - o); dc_prev = dc f.
CellBackward cell_backward_formula(int64_t B, int64_t H, const Vec& gh, const Vec& gc, const Vec& act,
                                   const Vec& c_prev, const Vec& c) {
  CellBackward r;
  r.dgates.resize(size_t(B * 4 * H));
  r.dgates_scale = r.dgates;
  r.dc_prev.resize(size_t(B * H));
  r.dc_prev_scale = r.dc_prev;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) {
      const size_t k = size_t(b * H + j), ai = size_t(b * 4 * H + j);
      const size_t af = ai + size_t(H), ag = ai + size_t(2 * H), ao = ai + size_t(3 * H);
      const Real i = act[ai], f = act[af], g = act[ag], o = act[ao], cp = c_prev[k];
      const Real tc = tanh_formula(c[k]);
      const Real dc = gc[k] + gh[k] * o * (1 - tc * tc);
      const Real dc_scale = std::abs(Real(gc[k])) + std::abs(gh[k] * o) * (1 + tc * tc);
      r.dgates[ai] = dc * g * i * (1 - i);
      r.dgates[af] = dc * cp * f * (1 - f);
      r.dgates[ag] = dc * i * (1 - g * g);
      r.dgates[ao] = gh[k] * tc * o * (1 - o);
      r.dgates_scale[ai] = dc_scale * std::abs(g * i) * (1 + i);
      r.dgates_scale[af] = dc_scale * std::abs(cp * f) * (1 + f);
      r.dgates_scale[ag] = dc_scale * std::abs(i) * (1 + g * g);
      r.dgates_scale[ao] = std::abs(gh[k] * tc * o) * (1 + o);
      r.dc_prev[k] = dc * f;
      r.dc_prev_scale[k] = dc_scale * std::abs(f);
    }
  return r;
}

Vec as_doubles(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }
std::vector<float> as_floats(const Vec& v) { return std::vector<float>(v.begin(), v.end()); }

}  // namespace

// The vectorised kernels' exp is within 2 ulp (kernels/cpu/simd.inl), as
// libm's: the same kUlps holds them.
TEST_CASE("LSTM cell on every instruction set and in the reference loops equals its equations in long double") {
  const int64_t B = 6, H = 45;  // 45 units: whole 16-, 8- and 4-float vectors and a tail
  Vec gates = random_values(size_t(B * 4 * H), 41, -6, 6);
  // Saturation far past exp's range, the ends of float's exp, tanh's switch
  // from polynomial to exp at 0.625, and tiny gates where tanh x ~ x.
  const double extremes[] = {-1000, -120, -88, -87.3, -20, -0.625, -1e-6, 0, 3e-8, 1e-4, 0.6, 0.625, 0.65, 20, 88.3,
                             90, 150, 1000};
  for (size_t e = 0; e < std::size(extremes); ++e)
    for (int q = 0; q < 4; ++q) gates[size_t(q * H) + e * 2] = extremes[e];
  gates = as_doubles(as_floats(gates));  // the values float32 holds, for both dtypes
  const Vec c_prev = as_doubles(as_floats(random_values(size_t(B * H), 42, -3, 3)));
  const Vec gh = as_doubles(as_floats(random_values(size_t(B * H), 43, -1, 1)));
  const Vec gc = as_doubles(as_floats(random_values(size_t(B * H), 44, -1, 1)));
  const CellForward want = cell_forward_formula(B, H, gates, c_prev);
  // Backward reads the saved state; every kernel gets the formula's, rounded to float.
  const Vec saved_act = as_doubles(as_floats(Vec(want.act.begin(), want.act.end())));
  const Vec saved_c = as_doubles(as_floats(Vec(want.c.begin(), want.c.end())));
  const CellBackward want_grad = cell_backward_formula(B, H, gh, gc, saved_act, c_prev, saved_c);

  for (mg::cpu::Isa isa : {mg::cpu::Isa::Generic, mg::cpu::Isa::Avx2, mg::cpu::Isa::Avx512}) {
    if (!mg::cpu::isa_supported(isa)) continue;
    const std::string name = std::string(mg::cpu::isa_name(isa)) + " cell";
    const std::vector<float> g32 = as_floats(gates), cp32 = as_floats(c_prev);
    std::vector<float> h(size_t(B * H), NAN), c(h.size(), NAN), act(g32.size(), NAN);
    mg::cpu::LstmCell fw;
    fw.B = B;
    fw.H = H;
    fw.gates = g32.data();
    fw.c_prev = cp32.data();
    fw.h = h.data();
    fw.c = c.data();
    fw.act = act.data();
    mg::cpu::kernels_for(isa).lstm_cell_forward(fw);
    check_formula(mg::from_vector(act, {B, 4 * H}), want.act, want.act_scale, kUlps, name + " activations");
    check_formula(mg::from_vector(c, {B, H}), want.c, want.c_scale, kUlps, name + " c");
    check_formula(mg::from_vector(h, {B, H}), want.h, want.h_scale, kUlps, name + " h");

    std::vector<float> act_in = as_floats(saved_act), c_in = as_floats(saved_c);
    const std::vector<float> gh32 = as_floats(gh), gc32 = as_floats(gc);
    std::vector<float> dgates(g32.size(), NAN), dc_prev(size_t(B * H), NAN);
    mg::cpu::LstmCell bw;
    bw.B = B;
    bw.H = H;
    bw.act = act_in.data();
    bw.c = c_in.data();
    bw.c_prev = cp32.data();
    bw.gh = gh32.data();
    bw.gc = gc32.data();
    bw.ggates = dgates.data();
    bw.gc_prev = dc_prev.data();
    mg::cpu::kernels_for(isa).lstm_cell_backward(bw);
    check_formula(mg::from_vector(dgates, {B, 4 * H}), want_grad.dgates, want_grad.dgates_scale, kUlps, name + " dgates");
    check_formula(mg::from_vector(dc_prev, {B, H}), want_grad.dc_prev, want_grad.dc_prev_scale, kUlps, name + " dc_prev");
  }

  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor tg = tensor_of(gates, {B, 4 * H}, dt), tcp = tensor_of(c_prev, {B, H}, dt);
    const Tensor th = mg::empty({B, H}, dt), tc = mg::empty({B, H}, dt), ta = mg::empty({B, 4 * H}, dt);
    mg::cpu::lstm_pointwise_forward_reference(tg, tcp, th, tc, ta);
    check_formula(ta, want.act, want.act_scale, kUlps, "reference activations");
    check_formula(tc, want.c, want.c_scale, kUlps, "reference c");
    check_formula(th, want.h, want.h_scale, kUlps, "reference h");
    const Tensor dgates = mg::empty({B, 4 * H}, dt), dc_prev = mg::empty({B, H}, dt);
    mg::cpu::lstm_pointwise_backward_reference(tensor_of(gh, {B, H}, dt), tensor_of(gc, {B, H}, dt),
                                               tensor_of(saved_act, {B, 4 * H}, dt), tcp,
                                               tensor_of(saved_c, {B, H}, dt), dgates, dc_prev);
    check_formula(dgates, want_grad.dgates, want_grad.dgates_scale, kUlps, "reference dgates");
    check_formula(dc_prev, want_grad.dc_prev, want_grad.dc_prev_scale, kUlps, "reference dc_prev");
  }
}

// ---- the index formulas kernels/pointwise.h shares between the CPU loops and
// the CUDA kernels, against their definitions by exhaustive search.

TEST_CASE("convolution positions: conv_output_step inverts conv_input_position, as col2im needs") {
  int64_t geometries = 0;
  for (int64_t L : {1, 2, 5, 9})
    for (int64_t K : {1, 2, 3, 5})
      for (int64_t stride : {1, 2, 3})
        for (int64_t dilation : {1, 2, 3})
          for (int64_t pad : {0, 1, 2, 4}) {
            const mg::Conv1dGeometry g{1, 1, L, K, stride, pad, pad, dilation};
            const int64_t T = g.out_length();
            if (T == 0) continue;
            ++geometries;
            for (int64_t k = 0; k < K; ++k) {
              // tensor/backend.h: cols[c*K + k, b, t] = x[b, c, t*stride - pad_left + k*dilation].
              for (int64_t t = 0; t < T; ++t)
                REQUIRE(mg::pointwise::conv_input_position(g, k, t) == t * stride - pad + k * dilation);
              // Every position in and around the row: the one step t >= 0 that reads it, or -1.
              for (int64_t pos = -pad - 2; pos < L + pad + 2; ++pos) {
                int64_t want = -1;
                for (int64_t t = 0; t <= L + 2 * pad + 2; ++t)
                  if (t * stride - pad + k * dilation == pos) want = t;
                CAPTURE(L);
                CAPTURE(K);
                CAPTURE(stride);
                CAPTURE(dilation);
                CAPTURE(pad);
                CAPTURE(k);
                CAPTURE(pos);
                REQUIRE(mg::pointwise::conv_output_step(g, k, pos) == want);
              }
            }
          }
  CHECK(geometries > 100);
}

TEST_CASE("NormGroup: instance and batch norm groups cover every element of [N, C, L] once, in its channel") {
  for (bool per_instance : {true, false})
    for (int64_t N : {1, 3})
      for (int64_t C : {1, 4})
        for (int64_t L : {1, 5}) {
          CAPTURE(per_instance);
          CAPTURE(N);
          CAPTURE(C);
          CAPTURE(L);
          std::vector<int> seen(size_t(N * C * L), 0);
          const int64_t groups = per_instance ? N * C : C;
          for (int64_t gi = 0; gi < groups; ++gi) {
            const mg::pointwise::NormGroup grp(gi, N, C, L, per_instance);
            REQUIRE(grp.count() == (per_instance ? L : N * L));
            for (int64_t e = 0; e < grp.count(); ++e) {
              const int64_t at = grp.at(e);
              REQUIRE(at >= 0);
              REQUIRE(at < N * C * L);
              REQUIRE(at / L % C == grp.c);  // element (n, c, l) sits at (n C + c) L + l
              if (per_instance) REQUIRE(at / (C * L) == gi / C);
              ++seen[size_t(at)];
            }
          }
          for (int v : seen) REQUIRE(v == 1);
        }
}
