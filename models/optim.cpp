#include "models/optim.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "tensor/backend.h"

namespace mg::nn {

void Optimizer::step() {
  ++step_;
  if (slots_.size() < params_.size()) slots_.resize(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    update(i, p, g.contiguous());
  }
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_) p.zero_grad();
}

Tensor Optimizer::slot(size_t i, const std::string& name) {
  for (auto& [n, t] : slots_[i])
    if (n == name) return t;
  slots_[i].emplace_back(name, zeros_like(params_[i].second.detach()));
  return slots_[i].back().second;
}

nlohmann::json Optimizer::config() const { return {{"type", type()}, {"lr", lr_}, {"steps", step_}}; }

NamedTensors Optimizer::named_state() const {
  NamedTensors out;
  for (size_t i = 0; i < slots_.size(); ++i)
    for (auto& [n, t] : slots_[i]) out.emplace_back(params_[i].first + "." + n, t);
  return out;
}

void Optimizer::load_state(const NamedTensors& state, int64_t steps, const std::string& what) {
  std::map<std::string, Tensor> by_name(state.begin(), state.end());
  slots_.assign(params_.size(), {});
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string prefix = params_[i].first + ".";
    for (auto& [name, t] : by_name) {
      if (name.rfind(prefix, 0) != 0 || name.find('.', prefix.size()) != std::string::npos) continue;
      const Tensor& p = params_[i].second;
      if (t.shape() != p.shape())
        fail("{}: optimizer state '{}' has shape {}, parameter has {}", what, name, shape_str(t.shape()),
             shape_str(p.shape()));
      slots_[i].emplace_back(name.substr(prefix.size()), t.detach().to(p.dtype()).to(p.device()).clone());
    }
  }
  step_ = steps;
}

SGD::SGD(NamedTensors params, double lr, double momentum, double weight_decay, bool nesterov)
    : Optimizer(std::move(params)), momentum_(momentum), weight_decay_(weight_decay), nesterov_(nesterov) {
  lr_ = lr;
}

nlohmann::json SGD::config() const {
  nlohmann::json j = Optimizer::config();
  j["momentum"] = momentum_;
  j["weight_decay"] = weight_decay_;
  j["nesterov"] = nesterov_;
  return j;
}

void SGD::update(size_t i, const Tensor& param, const Tensor& grad) {
  Tensor buf = momentum_ != 0.0 ? slot(i, "momentum") : Tensor();
  backend_of(param).sgd_step(param.detach(), grad, buf, lr_, momentum_, weight_decay_, nesterov_);
}

Adam::Adam(NamedTensors params, double lr, double beta1, double beta2, double eps, double weight_decay)
    : Optimizer(std::move(params)) {
  lr_ = lr;
  args_.beta1 = beta1;
  args_.beta2 = beta2;
  args_.eps = eps;
  args_.weight_decay = weight_decay;
}

nlohmann::json Adam::config() const {
  nlohmann::json j = Optimizer::config();
  j["beta1"] = args_.beta1;
  j["beta2"] = args_.beta2;
  j["eps"] = args_.eps;
  j["weight_decay"] = args_.weight_decay;
  return j;
}

void Adam::update(size_t i, const Tensor& param, const Tensor& grad) {
  AdamArgs a = args_;
  a.lr = lr_;
  a.step = step_;
  Tensor m = slot(i, "m"), v = slot(i, "v");
  backend_of(param).adam_step(param.detach(), grad, m, v, a);
}

Adamax::Adamax(NamedTensors params, double lr, double beta1, double beta2, double eps, double weight_decay)
    : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay) {}

void Adamax::update(size_t i, const Tensor& param, const Tensor& grad) {
  AdamArgs a = args_;
  a.lr = lr_;
  a.step = step_;
  Tensor m = slot(i, "m"), u = slot(i, "u");
  backend_of(param).adamax_step(param.detach(), grad, m, u, a);
}

double grad_norm(const std::vector<Tensor>& params) {
  NoGradGuard ng;
  double total = 0.0;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) total += sum(mul(g, g)).item();
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  NoGradGuard ng;
  const double norm = grad_norm(params);
  if (norm > max_norm && norm > 0.0) {
    const double scale = max_norm / (norm + 1e-6);
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (g.defined()) p.impl()->grad = mul(g, scale).impl_ptr();
    }
  }
  return norm;
}

double cosine_learning_rate(double base, int64_t step, int64_t total) {
  if (total <= 0 || step >= total) return 0.0;
  const double pi = std::acos(-1.0);
  return base * 0.5 * (1.0 + std::cos(pi * static_cast<double>(std::max<int64_t>(step, 0)) / static_cast<double>(total)));
}

}  // namespace mg::nn
