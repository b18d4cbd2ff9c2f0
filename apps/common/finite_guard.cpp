#include "apps/common/finite_guard.h"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "tensor/error.h"

namespace mg::app {

FiniteGuard::FiniteGuard(const nn::Module& model, bool skip_nonfinite, std::string checkpoint)
    : buffers_(model.named_buffers()), skip_(skip_nonfinite), checkpoint_(std::move(checkpoint)) {}

void FiniteGuard::begin_step() {
  if (!skip_) return;
  saved_.clear();
  for (const auto& [name, t] : buffers_) saved_.push_back(t.clone());
}

bool FiniteGuard::accept(int epoch, int64_t step, double loss, double grad_norm, int last_good_epoch) {
  if (std::isfinite(loss) && std::isfinite(grad_norm)) return true;
  const std::string what = fmt::format("epoch {}, step {}: the loss is {} and the gradient norm {}", epoch, step + 1,
                                       loss, grad_norm);
  if (skip_) {
    for (size_t i = 0; i < saved_.size(); ++i) copy_(buffers_[i].second, saved_[i]);
    ++skipped_;
    std::fprintf(stderr, "warning: %s; step skipped (--skip-nonfinite)\n", what.c_str());
    return false;
  }
  const std::string kept = last_good_epoch > 0 ? fmt::format("{} keeps epoch {}", checkpoint_, last_good_epoch)
                                               : std::string("no checkpoint was written");
  fail("{}; training stopped ({}); lower --lr, or pass --skip-nonfinite to skip such steps", what, kept);
}

int64_t FiniteGuard::take_skipped() {
  const int64_t n = skipped_;
  skipped_ = 0;
  return n;
}

}  // namespace mg::app
