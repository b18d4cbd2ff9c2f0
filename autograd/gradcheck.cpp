#include "autograd/gradcheck.h"

#include <cmath>

#include "autograd/ops.h"
#include "tensor/rng.h"

namespace mg {

GradcheckResult gradcheck(const std::function<Tensor(const TensorList&)>& f, const TensorList& inputs,
                          const GradcheckOptions& opt) {
  for (const Tensor& t : inputs)
    MG_CHECK(!t.requires_grad() || (t.dtype() == DType::F64 && t.device() == Device::CPU && t.is_contiguous() &&
                                     t.is_leaf()),
             "gradcheck: checked inputs must be contiguous float64 CPU leaves");
  GradcheckResult res;
  Generator saved = default_generator();

  // Fixed projection weights for the output, drawn once.
  Tensor w;
  {
    NoGradGuard ng;
    Tensor probe = f(inputs);
    default_generator() = Generator{opt.seed, 0};
    w = randn(probe.shape(), DType::F64);
  }
  auto loss = [&]() {
    Tensor out = f(inputs);
    return sum(mul(out.to(DType::F64), w));
  };

  for (const Tensor& t : inputs)
    if (t.requires_grad()) t.impl()->grad.reset();
  loss().backward();

  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    Tensor g = x.grad();
    std::vector<double> analytic = g.defined() ? g.to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    double* data = x.data<double>();
    NoGradGuard ng;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double orig = data[i];
      data[i] = orig + opt.step;
      const double lp = loss().item();
      data[i] = orig - opt.step;
      const double lm = loss().item();
      data[i] = orig;
      const double numeric = (lp - lm) / (2.0 * opt.step);
      const double err = std::abs(numeric - analytic[static_cast<size_t>(i)]);
      res.max_abs_error = std::max(res.max_abs_error, err);
      ++res.elements_checked;
      if (err > opt.atol + opt.rtol * std::abs(numeric) && res.ok) {
        res.ok = false;
        res.message = fmt::format("input {} element {}: analytic {:.10g} vs numeric {:.10g}", k, i,
                                  analytic[static_cast<size_t>(i)], numeric);
      }
    }
  }
  default_generator() = saved;
  return res;
}

}  // namespace mg
