#include "models/checkpoint.h"

#include <cmath>
#include <cstring>
#include <map>

#include "io/json_limits.h"
#include "io/utf8.h"

namespace mg::nn {

namespace {

constexpr const char* kFormatPrefix = "musicgen-checkpoint-";
constexpr const char* kChecksumKey = "checksum";

std::string safetensors_dtype(DType d) { return d == DType::F32 ? "F32" : d == DType::F64 ? "F64" : "I64"; }

io::TensorRecord to_record(const std::string& name, const Tensor& t) {
  io::TensorRecord r;
  r.name = name;
  r.dtype = safetensors_dtype(t.dtype());
  r.shape = t.shape();
  Tensor c = t.detach().to(Device::CPU).contiguous();
  r.data.resize(static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
  if (!r.data.empty()) std::memcpy(r.data.data(), c.data_ptr(), r.data.size());
  return r;
}

// Index of the first NaN or infinity in a float tensor's bytes, or -1.
template <typename T>
int64_t first_non_finite(const std::vector<uint8_t>& bytes) {
  const size_t n = bytes.size() / sizeof(T);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    if (!std::isfinite(v)) return static_cast<int64_t>(i);
  }
  return -1;
}

int64_t first_non_finite(const io::TensorRecord& r) {
  if (r.dtype == "F32") return first_non_finite<float>(r.data);
  if (r.dtype == "F64") return first_non_finite<double>(r.data);
  return -1;
}

Tensor from_record(const io::TensorRecord& r, const std::string& path) {
  DType dt;
  if (r.dtype == "F32") dt = DType::F32;
  else if (r.dtype == "F64") dt = DType::F64;
  else if (r.dtype == "I64") dt = DType::I64;
  else fail("{}: tensor '{}' has dtype {}, which musicgen does not use", path, r.name, r.dtype);
  if (const int64_t bad = first_non_finite(r); bad >= 0)
    fail("{}: tensor '{}' holds a non-finite value at element {}", path, r.name, bad);
  Tensor t = empty(r.shape, dt);
  if (!r.data.empty()) std::memcpy(t.data_ptr(), r.data.data(), r.data.size());
  return t;
}

std::string checksum_text(uint64_t sum) { return fmt::format("fnv1a64:{:016x}", sum); }

// "musicgen-checkpoint-2" -> 2; 0 when the text is not of that form.
int format_version(const std::string& format) {
  if (format.rfind(kFormatPrefix, 0) != 0) return 0;
  const std::string digits = format.substr(std::strlen(kFormatPrefix));
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoi(digits);
}

// A value from a file, short enough for a one-line message.
std::string shortened(std::string s) { return s.size() > 40 ? s.substr(0, 37) + "..." : s; }

std::string short_json(const nlohmann::json& j) {
  return shortened(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
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
  for (const io::TensorRecord& r : f.tensors)
    if (const int64_t bad = first_non_finite(r); bad >= 0)
      fail("{}: refusing to write a checkpoint whose tensor '{}' holds a non-finite value (element {})", path, r.name,
           bad);
  f.metadata["format"] = kFormatPrefix + std::to_string(kCheckpointVersion);
  f.metadata["app"] = app;
  io::make_valid_utf8(m);  // names of files and folders may hold any bytes (io/utf8.h)
  f.metadata["musicgen"] = m.dump();
  f.metadata[kChecksumKey] = checksum_text(io::content_checksum(f, kChecksumKey));
  io::write_safetensors(path, f);
}

Checkpoint load_checkpoint(const std::string& path, const std::string& app) {
  return decode_checkpoint(io::read_safetensors(path), path, app);
}

Checkpoint decode_checkpoint(const io::SafetensorsFile& f, const std::string& path, const std::string& app) {
  auto fmt_it = f.metadata.find("format");
  auto app_it = f.metadata.find("app");
  auto meta_it = f.metadata.find("musicgen");
  if (fmt_it == f.metadata.end() || app_it == f.metadata.end() || meta_it == f.metadata.end())
    fail("{}: not a musicgen checkpoint (no musicgen metadata)", path);
  Checkpoint ck;
  ck.version = format_version(fmt_it->second);
  if (ck.version < 1) fail("{}: unsupported checkpoint format '{}'", path, shortened(fmt_it->second));
  if (ck.version > kCheckpointVersion)
    fail("{}: checkpoint format version {} is newer than this build of musicgen reads (up to {}); use a newer build",
         path, ck.version, kCheckpointVersion);
  if (app_it->second != app) fail("{}: this is a {} checkpoint, not a {} one", path, shortened(app_it->second), app);
  if (ck.version >= 2) {
    auto sum_it = f.metadata.find(kChecksumKey);
    if (sum_it == f.metadata.end()) fail("{}: checkpoint has no checksum", path);
    if (sum_it->second != checksum_text(io::content_checksum(f, kChecksumKey)))
      fail("{}: checksum mismatch: the file is corrupt (changed after it was written)", path);
    ck.checksum = sum_it->second;
  }
  ck.app = app_it->second;
  io::check_json_limits(meta_it->second, {kMaxMetadataBytes, kMaxMetadataDepth}, path + ": checkpoint metadata");
  ck.meta = nlohmann::json::parse(meta_it->second, nullptr, /*allow_exceptions=*/false);
  if (ck.meta.is_discarded()) fail("{}: corrupt checkpoint metadata (not valid JSON)", path);
  if (!ck.meta.is_object()) fail("{}: corrupt checkpoint metadata (not a JSON object)", path);
  for (const io::TensorRecord& r : f.tensors) {
    if (r.name.rfind("model.", 0) == 0) ck.model.emplace_back(r.name.substr(6), from_record(r, path));
    else if (r.name.rfind("optim.", 0) == 0) ck.optim.emplace_back(r.name.substr(6), from_record(r, path));
  }
  return ck;
}

void check_model_state(const Module& model, const NamedTensors& state, const std::string& path) {
  const NamedTensors params = model.named_parameters(), buffers = model.named_buffers();
  std::map<std::string, const Tensor*> expected;
  for (const NamedTensors* list : {&params, &buffers})
    for (const auto& [name, t] : *list) expected[name] = &t;
  std::map<std::string, const Tensor*> found;
  for (const auto& [name, t] : state) {
    auto it = expected.find(name);
    if (it == expected.end()) fail("{}: tensor 'model.{}' is not part of this model", path, name);
    if (!found.emplace(name, &t).second) fail("{}: tensor 'model.{}' appears twice", path, name);
    const Tensor& want = *it->second;
    if (t.dtype() != want.dtype())
      fail("{}: tensor 'model.{}' is {}, the model expects {}", path, name, safetensors_dtype(t.dtype()),
           safetensors_dtype(want.dtype()));
    if (t.shape() != want.shape())
      fail("{}: tensor 'model.{}' has shape {}, the model expects {}", path, name, shape_str(t.shape()),
           shape_str(want.shape()));
  }
  for (const auto& [name, t] : expected)
    if (!found.count(name)) fail("{}: tensor 'model.{}' is missing", path, name);
}

void restore_for_inference(Module& model, const Checkpoint& ck, const std::string& path, Device device) {
  check_model_state(model, ck.model, path);
  model.load_state(ck.model, path);
  model.to(device);
  model.eval();
}

void check_optimizer_state(const NamedTensors& params, const NamedTensors& state, const std::string& path) {
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : params) by_name[name] = &t;
  for (const auto& [name, t] : state) {
    const size_t dot = name.rfind('.');
    auto it = dot == std::string::npos ? by_name.end() : by_name.find(name.substr(0, dot));
    if (it == by_name.end()) fail("{}: optimizer tensor 'optim.{}' belongs to no parameter of this model", path, name);
    const Tensor& p = *it->second;
    if (t.dtype() != p.dtype() || t.shape() != p.shape())
      fail("{}: optimizer tensor 'optim.{}' is {} {}, its parameter is {} {}", path, name, safetensors_dtype(t.dtype()),
           shape_str(t.shape()), safetensors_dtype(p.dtype()), shape_str(p.shape()));
  }
}

MetaReader::MetaReader(const nlohmann::json& object, std::string checkpoint, std::string prefix)
    : object_(object), checkpoint_(std::move(checkpoint)), prefix_(std::move(prefix)) {
  if (!object_.is_object()) fail("{}: checkpoint field '{}': expected an object", checkpoint_, prefix_);
}

void MetaReader::fail_field(const std::string& key, const std::string& what) const {
  fail("{}: checkpoint field '{}': {}", checkpoint_, field(key), what);
}

const nlohmann::json& MetaReader::at(const std::string& key) const {
  auto it = object_.find(key);
  if (it == object_.end()) fail_field(key, "missing");
  return *it;
}

bool MetaReader::has(const std::string& key) const { return object_.contains(key); }

int64_t MetaReader::integer(const std::string& key, int64_t lo, int64_t hi) const {
  const nlohmann::json& v = at(key);
  bool ok = false;
  if (v.is_number_unsigned())
    ok = hi >= 0 && v.get<uint64_t>() <= static_cast<uint64_t>(hi) && static_cast<int64_t>(v.get<uint64_t>()) >= lo;
  else if (v.is_number_integer())
    ok = v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  if (!ok) fail_field(key, fmt::format("expected an integer in [{}, {}], got {}", lo, hi, short_json(v)));
  return v.get<int64_t>();
}

uint64_t MetaReader::unsigned_integer(const std::string& key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_number_unsigned()) fail_field(key, fmt::format("expected a non-negative integer, got {}", short_json(v)));
  return v.get<uint64_t>();
}

double MetaReader::number(const std::string& key, double lo, double hi) const {
  const nlohmann::json& v = at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo || v.get<double>() > hi)
    fail_field(key, fmt::format("expected a finite number in [{}, {}], got {}", lo, hi, short_json(v)));
  return v.get<double>();
}

std::string MetaReader::string(const std::string& key, size_t max_length) const {
  const nlohmann::json& v = at(key);
  if (!v.is_string()) fail_field(key, fmt::format("expected a string, got {}", short_json(v)));
  if (v.get_ref<const std::string&>().size() > max_length)
    fail_field(key, fmt::format("a string longer than {} bytes", max_length));
  return v.get<std::string>();
}

std::string MetaReader::one_of(const std::string& key, std::initializer_list<const char*> choices) const {
  const std::string s = string(key, 64);
  std::string list;
  for (const char* c : choices) {
    if (s == c) return s;
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  fail_field(key, fmt::format("expected one of {}, got {}", list, short_json(at(key))));
}

const nlohmann::json& MetaReader::array(const std::string& key, size_t max_size) const {
  const nlohmann::json& v = at(key);
  if (!v.is_array()) fail_field(key, fmt::format("expected an array, got {}", short_json(v)));
  if (v.size() > max_size) fail_field(key, fmt::format("{} entries, more than the limit of {}", v.size(), max_size));
  return v;
}

std::vector<std::string> MetaReader::keys(size_t max_keys) const {
  if (object_.size() > max_keys)
    fail("{}: checkpoint field '{}': {} entries, more than the limit of {}", checkpoint_,
         prefix_.empty() ? std::string("(top level)") : prefix_.substr(0, prefix_.size() - 1), object_.size(), max_keys);
  std::vector<std::string> out;
  for (const auto& [k, v] : object_.items()) out.push_back(k);
  return out;
}

MetaReader MetaReader::object(const std::string& key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_object()) fail_field(key, fmt::format("expected an object, got {}", short_json(v)));
  return MetaReader(v, checkpoint_, field(key) + ".");
}

}  // namespace mg::nn
