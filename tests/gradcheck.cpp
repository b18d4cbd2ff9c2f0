// Float64 gradcheck of every op in the op table: autograd's gradients against
// central differences on seeded random inputs, all variants of each op.
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
