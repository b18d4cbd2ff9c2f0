// A user-defined op with a hand-written backward, checked against central
// differences: swish(x) = x σ(x), whose derivative is σ(x) (1 + x (1 - σ(x))).
// The forward is composed from existing ops under NoGradGuard; record() then
// attaches the backward closure, which saves exactly x and σ(x).
#include <cstdio>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "tensor/rng.h"

mg::Tensor swish(const mg::Tensor& x) {
  mg::Tensor s, y;
  {
    mg::NoGradGuard no_grad;
    s = mg::sigmoid(x);
    y = mg::mul(x, s);
  }
  if (mg::needs_grad({x})) {
    mg::record("swish", {y}, {x}, [xs = x.detach(), s](const mg::TensorList& g) {
      // d swish / dx = σ + x σ (1 - σ) = σ (1 + x (1 - σ))
      mg::Tensor d = mg::mul(s, mg::add(mg::mul(xs, mg::affine(s, -1.0, 1.0)), 1.0));
      return mg::TensorList{mg::mul(g[0], d)};
    });
  }
  return y;
}

int main() {
  mg::manual_seed(2);
  mg::Tensor x = mg::randn({4, 5}, mg::DType::F64).requires_grad_();
  // A composite of the custom op and built-in ones: the check covers both.
  auto f = [](const mg::TensorList& in) { return mg::sum(mg::mul(swish(in[0]), mg::tanh(in[0]))); };
  const mg::GradcheckResult r = mg::gradcheck(f, {x});
  std::printf("gradcheck of swish: %s, %lld elements, max abs error %.2e\n", r.ok ? "ok" : r.message.c_str(),
              static_cast<long long>(r.elements_checked), r.max_abs_error);
  return r.ok && r.elements_checked == 20 ? 0 : 1;
}
