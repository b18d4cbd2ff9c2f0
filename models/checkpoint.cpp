#include "models/checkpoint.h"

#include <cstring>

#include "io/safetensors.h"

namespace mg::nn {

namespace {

constexpr const char* kFormat = "musicgen-checkpoint-1";

io::TensorRecord to_record(const std::string& name, const Tensor& t) {
  io::TensorRecord r;
  r.name = name;
  r.dtype = t.dtype() == DType::F32 ? "F32" : t.dtype() == DType::F64 ? "F64" : "I64";
  r.shape = t.shape();
  Tensor c = t.detach().to(Device::CPU).contiguous();
  r.data.resize(static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
  if (!r.data.empty()) std::memcpy(r.data.data(), c.data_ptr(), r.data.size());
  return r;
}

Tensor from_record(const io::TensorRecord& r, const std::string& path) {
  DType dt;
  if (r.dtype == "F32") dt = DType::F32;
  else if (r.dtype == "F64") dt = DType::F64;
  else if (r.dtype == "I64") dt = DType::I64;
  else fail("{}: tensor '{}' has dtype {}, which musicgen does not use", path, r.name, r.dtype);
  Tensor t = empty(r.shape, dt);
  if (!r.data.empty()) std::memcpy(t.data_ptr(), r.data.data(), r.data.size());
  return t;
}

}  // namespace

void save_checkpoint(const std::string& path, const std::string& app, const Module& model, const Optimizer* optimizer,
                     const nlohmann::json& meta) {
  io::SafetensorsFile f;
  for (auto& [name, t] : model.named_parameters()) f.tensors.push_back(to_record("model." + name, t));
  for (auto& [name, t] : model.named_buffers()) f.tensors.push_back(to_record("model." + name, t));
  nlohmann::json m = meta;
  if (optimizer) {
    for (auto& [name, t] : optimizer->named_state()) f.tensors.push_back(to_record("optim." + name, t));
    m["optimizer"] = optimizer->config();
  }
  f.metadata["format"] = kFormat;
  f.metadata["app"] = app;
  f.metadata["musicgen"] = m.dump();
  io::write_safetensors(path, f);
}

Checkpoint load_checkpoint(const std::string& path, const std::string& app) {
  io::SafetensorsFile f = io::read_safetensors(path);
  auto fmt_it = f.metadata.find("format");
  auto app_it = f.metadata.find("app");
  auto meta_it = f.metadata.find("musicgen");
  if (fmt_it == f.metadata.end() || app_it == f.metadata.end() || meta_it == f.metadata.end())
    fail("{}: not a musicgen checkpoint (no musicgen metadata)", path);
  if (fmt_it->second != kFormat) fail("{}: unsupported checkpoint format '{}'", path, fmt_it->second);
  if (app_it->second != app) fail("{}: this is a {} checkpoint, not a {} one", path, app_it->second, app);
  Checkpoint ck;
  ck.app = app_it->second;
  try {
    ck.meta = nlohmann::json::parse(meta_it->second);
  } catch (const nlohmann::json::exception&) {
    fail("{}: corrupt checkpoint metadata (not valid JSON)", path);
  }
  if (!ck.meta.is_object()) fail("{}: corrupt checkpoint metadata (not a JSON object)", path);
  for (const io::TensorRecord& r : f.tensors) {
    if (r.name.rfind("model.", 0) == 0) ck.model.emplace_back(r.name.substr(6), from_record(r, path));
    else if (r.name.rfind("optim.", 0) == 0) ck.optim.emplace_back(r.name.substr(6), from_record(r, path));
  }
  return ck;
}

}  // namespace mg::nn
