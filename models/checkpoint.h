#pragma once
// Checkpoints in the safetensors format, readable by PyTorch/NumPy users:
// tensors "model.<param>" and "optim.<param>.<slot>", and in __metadata__ the
// keys "format" ("musicgen-checkpoint-<version>"), "app", "musicgen" (a JSON
// document with the model config, vocabulary, optimizer config, RNG state,
// epoch/step: whatever the app needs to resume bit for bit) and, from version
// 2 on, "checksum": io::content_checksum over every other metadata entry and
// every tensor, verified on load. Writes are atomic (io/atomic_file.h).
//
// Nothing in a checkpoint is trusted: the metadata JSON is size- and
// depth-limited before it is parsed, tensors must hold finite values, and the
// apps read every field through MetaReader, whose errors name the checkpoint
// and the field.
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/module.h"
#include "models/optim.h"

namespace mg::nn {

// Version 2 added the checksum; version 1 files (without one) are still read.
inline constexpr int kCheckpointVersion = 2;
// The "musicgen" metadata document: musicgen writes a few hundred kilobytes, 3 levels deep.
inline constexpr size_t kMaxMetadataBytes = 8'000'000;
inline constexpr int kMaxMetadataDepth = 16;

struct Checkpoint {
  std::string app;
  int version = 0;
  nlohmann::json meta;
  std::string checksum;  // "fnv1a64:..." over the whole file: its identity (empty for version 1)
  NamedTensors model;   // names without the "model." prefix, on the CPU
  NamedTensors optim;   // names without the "optim." prefix, on the CPU
};

// Refuses (mg::Error naming path and the tensor) to write a tensor holding
// NaN or infinity, so a diverged run can never replace a good checkpoint.
// Strings in meta that are not valid UTF-8 (file names) are escaped as
// io/utf8.h describes.
void save_checkpoint(const std::string& path, const std::string& app, const Module& model, const Optimizer* optimizer,
                     const nlohmann::json& meta);

// Loads and checks that the file is a musicgen checkpoint of `app`: format
// version, checksum, metadata limits, finite tensors. Every problem is an
// mg::Error naming the file.
Checkpoint load_checkpoint(const std::string& path, const std::string& app);

// The same checks on a file already read (path names it in messages).
Checkpoint decode_checkpoint(const io::SafetensorsFile& file, const std::string& path, const std::string& app);

// Checks a checkpoint's model tensors against the model they are about to be
// loaded into: every parameter and buffer present, no others, equal shapes
// and dtypes. Errors name the checkpoint and the tensor.
void check_model_state(const Module& model, const NamedTensors& state, const std::string& path);

// How generate, eval and encode load a trained network: check_model_state,
// then the checkpoint's tensors into `model` (built from the checkpoint's
// metadata), moved to `device`, in eval mode.
void restore_for_inference(Module& model, const Checkpoint& ck, const std::string& path, Device device);

// Checks optimizer state tensors ("<param>.<slot>") against the parameters
// they belong to: known parameter, equal shape and dtype.
void check_optimizer_state(const NamedTensors& params, const NamedTensors& state, const std::string& path);

// Typed, range-checked reads of checkpoint metadata. Every error is one line:
// "<checkpoint>: checkpoint field '<model.hidden1>': expected ..., got ...".
class MetaReader {
 public:
  MetaReader(const nlohmann::json& object, std::string checkpoint, std::string prefix = "");

  bool has(const std::string& key) const;
  int64_t integer(const std::string& key, int64_t lo, int64_t hi) const;
  uint64_t unsigned_integer(const std::string& key) const;
  double number(const std::string& key, double lo, double hi) const;  // finite, in [lo, hi]
  std::string string(const std::string& key, size_t max_length = 4096) const;
  std::string one_of(const std::string& key, std::initializer_list<const char*> choices) const;
  const nlohmann::json& array(const std::string& key, size_t max_size) const;
  MetaReader object(const std::string& key) const;
  // The keys of this object; an error when it has more than max_keys.
  std::vector<std::string> keys(size_t max_keys) const;

  // The dotted name of a field ("model.hidden1"), and an error about it.
  std::string field(const std::string& key) const { return prefix_ + key; }
  [[noreturn]] void fail_field(const std::string& key, const std::string& what) const;
  const std::string& checkpoint() const { return checkpoint_; }

 private:
  const nlohmann::json& at(const std::string& key) const;
  const nlohmann::json& object_;
  std::string checkpoint_, prefix_;
};

}  // namespace mg::nn
