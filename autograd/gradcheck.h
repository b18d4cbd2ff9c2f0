#pragma once
// Numerical gradient check: compares autograd's gradients with central
// differences (f(x + h) - f(x - h)) / 2h, element by element, in float64.
//
// A non-scalar output is reduced to a scalar with fixed random weights,
// L = Σ f(x) ⊙ w, so every output element's gradient path is exercised.
#include <functional>
#include <string>

#include "autograd/graph.h"

namespace mg {

struct GradcheckOptions {
  double step = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
  uint64_t seed = 1234;  // for the output weights w
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  int64_t elements_checked = 0;
  std::string message;  // first mismatch, if any
};

// inputs: float64 CPU leaves; those with requires_grad are checked.
GradcheckResult gradcheck(const std::function<Tensor(const TensorList&)>& f, const TensorList& inputs,
                          const GradcheckOptions& opt = {});

}  // namespace mg
