#pragma once
// Optimizers with PyTorch/Keras semantics. Each keeps per-parameter state
// tensors (moments) on the parameter's device and updates parameters in
// place with one fused backend kernel per tensor.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/module.h"
#include "tensor/backend.h"

namespace mg::nn {

class Optimizer {
 public:
  explicit Optimizer(NamedTensors params) : params_(std::move(params)) {}
  virtual ~Optimizer() = default;
  virtual std::string type() const = 0;
  // Applies one update from the parameters' .grad (parameters without one are skipped).
  void step();
  void zero_grad();
  int64_t steps_taken() const { return step_; }
  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr) { lr_ = lr; }
  // Hyper-parameters and step count, for checkpoints.
  virtual nlohmann::json config() const;
  // State tensors named "<param>.<slot>", for checkpoints; restore with load_state.
  NamedTensors named_state() const;
  void load_state(const NamedTensors& state, int64_t steps, const std::string& what);

 protected:
  virtual void update(size_t i, const Tensor& param, const Tensor& grad) = 0;
  // Slot tensors for parameter i, created (zeros) on first use.
  Tensor slot(size_t i, const std::string& name);
  NamedTensors params_;
  std::vector<std::vector<std::pair<std::string, Tensor>>> slots_;
  int64_t step_ = 0;
  double lr_ = 1e-3;
};

class SGD : public Optimizer {
 public:
  SGD(NamedTensors params, double lr, double momentum = 0.0, double weight_decay = 0.0, bool nesterov = false);
  std::string type() const override { return "sgd"; }
  nlohmann::json config() const override;

 protected:
  void update(size_t i, const Tensor& param, const Tensor& grad) override;

 private:
  double momentum_, weight_decay_;
  bool nesterov_;
};

// Adam (Kingma & Ba) as PyTorch's torch.optim.Adam: bias correction, eps added
// to sqrt(v̂) (Keras adds it to sqrt(v)), and weight decay as L2 added to the
// gradient (not AdamW's decoupled decay).
class Adam : public Optimizer {
 public:
  Adam(NamedTensors params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       double weight_decay = 0.0);
  std::string type() const override { return "adam"; }
  nlohmann::json config() const override;

 protected:
  void update(size_t i, const Tensor& param, const Tensor& grad) override;
  AdamArgs args_;
};

// Adamax (the infinity-norm Adam variant) with Keras semantics:
// u = max(β2 u, |g|); p -= lr / (1 - β1^t) · m / (u + eps); Keras' eps is 1e-7.
// Weight decay is Keras' too: decoupled, p -= lr wd p, the moments untouched.
class Adamax : public Adam {
 public:
  Adamax(NamedTensors params, double lr = 0.002, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-7,
         double weight_decay = 0.0);
  std::string type() const override { return "adamax"; }

 protected:
  void update(size_t i, const Tensor& param, const Tensor& grad) override;
};

// The joint L2 norm of all gradients (parameters without one count 0); NaN or
// infinity when any gradient holds one.
double grad_norm(const std::vector<Tensor>& params);

// Scales all gradients so that their joint L2 norm is at most max_norm.
// Returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// Cosine decay (Loshchilov & Hutter 2017, without restarts): the learning rate
// for optimizer step `step` (0-based) of `total`, falling from `base` at step 0
// to 0 after the last: base * (1 + cos(pi * step / total)) / 2; 0 from step
// `total` on.
double cosine_learning_rate(double base, int64_t step, int64_t total);

}  // namespace mg::nn
