// Float64 gradcheck of every op in the op table: autograd's gradients against
// central differences on seeded random inputs, all variants of each op.
#include <cmath>

#include "autograd/gradcheck.h"
#include "op_registry.h"

namespace {

struct GradcheckSuite {
  static void run(const mg::test::OpCase& c) {
    uint64_t seed = 1;
    for (const auto& v : c.variants) {
      mg::TensorList inputs = mg::test::make_inputs(v, seed++, mg::DType::F64, mg::Device::CPU);
      mg::GradcheckResult r = mg::gradcheck(v.fn, inputs);
      INFO(c.op, " [", v.label, "]: ", r.message);
      CHECK(r.elements_checked > 0);
      CHECK(r.ok);
    }
  }
};

const int registered = mg::test::register_op_suite<GradcheckSuite>("gradcheck", __FILE__);

}  // namespace

TEST_CASE("gradcheck detects a wrong backward") {
  // x^2 with a backward of g x instead of 2 g x: the check must fail, and the
  // same op with the right backward must pass.
  auto square_with = [](double factor) {
    return [factor](const mg::TensorList& in) {
      mg::Tensor x = in[0], y;
      {
        mg::NoGradGuard ng;
        y = mg::mul(x, x);
      }
      if (mg::needs_grad({x}))
        mg::record("square", {y}, {x}, [factor, xs = x.detach()](const mg::TensorList& g) {
          return mg::TensorList{mg::mul(mg::mul(g[0], xs), factor)};
        });
      return y;
    };
  };
  mg::test::OpVariant v{"square", {{3, 4}}, mg::test::Init::Normal, {}};
  mg::TensorList in = mg::test::make_inputs(v, 3, mg::DType::F64, mg::Device::CPU);
  CHECK_FALSE(mg::gradcheck(square_with(1.0), in).ok);
  CHECK(mg::gradcheck(square_with(2.0), in).ok);
}

namespace {

// Multi-resolution spectral convergence written out in double, independently
// of the fused kernel: (1/B) Σ_b (1/R) Σ_r ||E_r - R_r|| / ||R_r|| with the
// power pooled over g frames and over g bins.
double spectral_convergence_by_hand(const std::vector<double>& e, const std::vector<double>& r, int64_t B, int64_t C,
                                    int64_t L, int64_t g, double tiny) {
  auto pooled = [&](const std::vector<double>& x, int64_t b, int64_t c, int64_t l, int64_t dc, int64_t dl) {
    double s = tiny;
    for (int64_t q = 0; q < g; ++q) {
      const double v = x[static_cast<size_t>((b * C + c + q * dc) * L + l + q * dl)];
      s += v * v;
    }
    return std::sqrt(s);
  };
  const bool frames = L >= g, bins = C >= g;
  double total = 0;
  for (int64_t b = 0; b < B; ++b) {
    double d = tiny, n = tiny;
    for (int64_t i = 0; i < C * L; ++i) {
      d += std::pow(e[static_cast<size_t>(b * C * L + i)] - r[static_cast<size_t>(b * C * L + i)], 2);
      n += std::pow(r[static_cast<size_t>(b * C * L + i)], 2);
    }
    double sc = std::sqrt(d) / std::sqrt(n);
    if (frames) {
      double df = tiny, nf = tiny;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < L / g; ++j) {
          df += std::pow(pooled(e, b, c, j * g, 0, 1) - pooled(r, b, c, j * g, 0, 1), 2);
          nf += std::pow(pooled(r, b, c, j * g, 0, 1), 2);
        }
      sc += std::sqrt(df) / std::sqrt(nf);
    }
    if (bins) {
      double db = tiny, nb = tiny;
      for (int64_t i = 0; i < C / g; ++i)
        for (int64_t l = 0; l < L; ++l) {
          db += std::pow(pooled(e, b, i * g, l, 1, 0) - pooled(r, b, i * g, l, 1, 0), 2);
          nb += std::pow(pooled(r, b, i * g, l, 1, 0), 2);
        }
      sc += std::sqrt(db) / std::sqrt(nb);
    }
    total += sc / (1.0 + frames + bins);
  }
  return total / static_cast<double>(B);
}

}  // namespace

TEST_CASE("fused spectral convergence: the formula by hand, and its gradient by central differences") {
  // Lengths that pool evenly, that leave a remainder, and that are too short to pool.
  struct Shape3 {
    int64_t B, C, L;
  };
  for (const Shape3 s : {Shape3{2, 9, 10}, Shape3{3, 8, 3}, Shape3{1, 2, 13}}) {
    CAPTURE(s.C);
    CAPTURE(s.L);
    mg::test::OpVariant v{"spectral", {{s.B, s.C, s.L}, {s.B, s.C, s.L}}, mg::test::Init::Positive, {}};
    mg::TensorList in = mg::test::make_inputs(v, 17, mg::DType::F64, mg::Device::CPU);
    const mg::Tensor ref = in[1].detach();
    const double tiny = 1e-8;
    auto f = [&](const mg::TensorList& x) { return mg::spectral_convergence(x[0], ref, 4, tiny); };
    const double want = spectral_convergence_by_hand(in[0].to_vector<double>(), ref.to_vector<double>(), s.B, s.C,
                                                     s.L, 4, tiny);
    CHECK(f(in).item() == doctest::Approx(want).epsilon(1e-12));
    const mg::GradcheckResult r = mg::gradcheck(f, {in[0]});
    INFO(r.message);
    CHECK(r.elements_checked == s.B * s.C * s.L);
    CHECK(r.ok);
    // float32 agrees with float64 to float32's precision.
    const double f32 = mg::spectral_convergence(in[0].to(mg::DType::F32), ref.to(mg::DType::F32), 4, tiny).item();
    CHECK(f32 == doctest::Approx(want).epsilon(1e-5));
  }
}

TEST_CASE("fused feature magnitudes: the map by hand, and its gradient by central differences") {
  const int64_t B = 2, C = 5, L = 7;
  mg::test::OpVariant v{"magnitudes", {{B, C, L}}, mg::test::Init::AwayFromZero, {}};
  mg::TensorList in = mg::test::make_inputs(v, 23, mg::DType::F64, mg::Device::CPU);
  const std::vector<double> shift_values = {0.3, -0.2, 0.05, 0.4, -0.6};
  const mg::Tensor shift = mg::from_vector(shift_values, {C, 1});
  const std::vector<double> x = in[0].to_vector<double>();
  for (double power : {0.0, 0.5}) {
    CAPTURE(power);
    // A ceiling some elements exceed (their gradient is zero), and a floor.
    const double scale = 1.7, ceiling = 1.1, floor = 1e-3;
    auto f = [&](const mg::TensorList& t) { return mg::feature_magnitudes(t[0], shift, scale, ceiling, floor, power); };
    const std::vector<double> got = f(in).to_vector<double>();
    int clipped = 0;
    for (int64_t i = 0; i < B * C * L; ++i) {
      const double pre = x[static_cast<size_t>(i)] * scale + shift_values[static_cast<size_t>((i / L) % C)];
      const double u = std::min(pre, ceiling);
      clipped += pre >= ceiling;
      const double want = power > 0 ? std::pow(std::max(u, 0.0), 1.0 / power) : std::exp(u) - floor;
      CHECK(got[static_cast<size_t>(i)] == doctest::Approx(want).epsilon(1e-14));
    }
    CHECK(clipped > 0);
    // Central differences step 1e-6 away from the kinks: no pre-activation within 1e-4 of the ceiling or 0.
    const mg::GradcheckResult r = mg::gradcheck(f, {in[0]});
    INFO(r.message);
    CHECK(r.elements_checked == B * C * L);
    CHECK(r.ok);
  }
}
