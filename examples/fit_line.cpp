// Fit y = 3 x + 2 from noisy samples with autograd and plain SGD: the whole
// loop of a training framework in a few lines (forward, loss, backward, step).
#include <cmath>
#include <cstdio>

#include "autograd/ops.h"
#include "tensor/rng.h"

int main() {
  mg::manual_seed(0);
  const mg::Tensor x = mg::randn({256, 1});
  const mg::Tensor y = mg::add(mg::mul(x, 3.0), mg::add(mg::mul(mg::randn({256, 1}), 0.1), 2.0));  // 3x + 2 + noise
  mg::Tensor w = mg::zeros({1, 1}).requires_grad_(), b = mg::zeros({1}).requires_grad_();
  for (int step = 0; step < 200; ++step) {
    mg::Tensor loss = mg::mse(mg::linear(x, w, b), y);  // mean (x wᵀ + b - y)²
    w.zero_grad();
    b.zero_grad();
    loss.backward();
    mg::NoGradGuard no_grad;  // the update itself is not part of the graph
    mg::copy_(w, mg::sub(w, mg::mul(w.grad(), 0.1)));
    mg::copy_(b, mg::sub(b, mg::mul(b.grad(), 0.1)));
  }
  const double wv = w.item(), bv = b.item();
  std::printf("w = %.3f (true 3), b = %.3f (true 2)\n", wv, bv);
  return std::abs(wv - 3.0) < 0.05 && std::abs(bv - 2.0) < 0.05 ? 0 : 1;
}
