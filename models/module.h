#pragma once
// Module: named parameters and buffers, submodules, train/eval mode.
//
// A layer keeps its tensors as plain members and registers their addresses,
// so `weight` reads naturally in forward() while named_parameters() can still
// walk the tree ("encoder.block1.conv1.weight"). Modules are therefore not
// copyable or movable; hold them by shared_ptr.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.h"

namespace mg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;  // non-trainable state (running statistics)
  int64_t num_parameters() const;

  // Moves every parameter and buffer to a device (parameters stay leaves).
  void to(Device device);
  // Converts every parameter and buffer to a float dtype (float64 runs the
  // reference kernels: a check on float32 results).
  void to(DType dtype);
  // Copies values by name; every parameter and buffer must be present with
  // the same shape. `what` names the source in error messages.
  void load_state(const NamedTensors& state, const std::string& what);

 protected:
  Tensor& register_parameter(const std::string& name, Tensor& slot, Tensor value);
  Tensor& register_buffer(const std::string& name, Tensor& slot, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  // Replaces every parameter and buffer by f(it).
  void convert(const std::function<Tensor(const Tensor&)>& f);
  void collect(const std::string& prefix, bool params, NamedTensors& out) const;
  void collect_slots(const std::string& prefix, bool params, std::vector<std::pair<std::string, Tensor*>>& out);
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor*>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace mg::nn
