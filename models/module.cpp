#include "models/module.h"

#include <map>

namespace mg::nn {

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

Tensor& Module::register_parameter(const std::string& name, Tensor& slot, Tensor value) {
  slot = value.detach();
  slot.requires_grad_(true);
  params_.emplace_back(name, &slot);
  return slot;
}

Tensor& Module::register_buffer(const std::string& name, Tensor& slot, Tensor value) {
  slot = value.detach();
  buffers_.emplace_back(name, &slot);
  return slot;
}

void Module::collect(const std::string& prefix, bool params, NamedTensors& out) const {
  for (const auto& [name, slot] : params ? params_ : buffers_) out.emplace_back(prefix + name, *slot);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", params, out);
}

void Module::collect_slots(const std::string& prefix, bool params,
                           std::vector<std::pair<std::string, Tensor*>>& out) {
  for (auto& [name, slot] : params ? params_ : buffers_) out.emplace_back(prefix + name, slot);
  for (auto& [name, child] : children_) child->collect_slots(prefix + name + ".", params, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::to(Device device) {
  convert([&](const Tensor& t) { return t.to(device); });
}

void Module::to(DType dtype) {
  convert([&](const Tensor& t) { return t.to(dtype); });
}

void Module::convert(const std::function<Tensor(const Tensor&)>& f) {
  for (bool params : {true, false}) {
    std::vector<std::pair<std::string, Tensor*>> slots;
    collect_slots("", params, slots);
    for (auto& [name, slot] : slots) {
      Tensor converted = f(slot->detach());
      if (params) converted.requires_grad_(true);  // parameters stay leaves
      *slot = converted;
    }
  }
}

void Module::load_state(const NamedTensors& state, const std::string& what) {
  std::map<std::string, Tensor> by_name(state.begin(), state.end());
  for (bool params : {true, false}) {
    std::vector<std::pair<std::string, Tensor*>> slots;
    collect_slots("", params, slots);
    for (auto& [name, slot] : slots) {
      auto it = by_name.find(name);
      if (it == by_name.end()) fail("{}: missing tensor '{}'", what, name);
      if (it->second.shape() != slot->shape())
        fail("{}: tensor '{}' has shape {}, the model expects {}", what, name, shape_str(it->second.shape()),
             shape_str(slot->shape()));
      copy_(*slot, it->second.to(slot->dtype() == it->second.dtype() ? it->second.dtype() : slot->dtype()));
    }
  }
}

}  // namespace mg::nn
