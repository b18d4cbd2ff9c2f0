#pragma once
// Checkpoints in the safetensors format, readable by PyTorch/NumPy users:
// tensors "model.<param>" and "optim.<param>.<slot>", and in __metadata__ the
// keys "format", "app" and "musicgen" (a JSON document with the model config,
// vocabulary, optimizer config, RNG state, epoch/step: whatever the app
// needs to resume bit for bit). Writes are atomic (temp file + rename).
#include <nlohmann/json.hpp>
#include <string>

#include "models/module.h"
#include "models/optim.h"

namespace mg::nn {

struct Checkpoint {
  std::string app;
  nlohmann::json meta;
  NamedTensors model;   // names without the "model." prefix, on the CPU
  NamedTensors optim;   // names without the "optim." prefix, on the CPU
};

void save_checkpoint(const std::string& path, const std::string& app, const Module& model, const Optimizer* optimizer,
                     const nlohmann::json& meta);

// Loads and checks that the file is a musicgen checkpoint of `app`; every
// problem is an mg::Error naming the file.
Checkpoint load_checkpoint(const std::string& path, const std::string& app);

}  // namespace mg::nn
