// Checkpoints as untrusted input (models/checkpoint.h): the checksum catches a
// changed byte, a newer format version is named as such, metadata nested
// 200,000 levels deep is refused before it is parsed, non-finite tensors are
// never written or read, tensors must match the model exactly, and
// MetaReader's errors name the checkpoint and the field.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <cmath>
#include <fstream>
#include <iterator>

#include "io/safetensors.h"
#include "models/checkpoint.h"
#include "models/layers.h"
#include "tensor/rng.h"
#include "tests/test_support.h"

using namespace mg;
using mg::test::error_of;
using mg::nn::NamedTensors;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Rewrites a saved checkpoint's safetensors fields and writes it back (checksum untouched unless fix_checksum).
void rewrite(const std::string& path, const std::function<void(io::SafetensorsFile&)>& change, bool fix_checksum) {
  io::SafetensorsFile f = io::read_safetensors(path);
  change(f);
  if (fix_checksum) f.metadata["checksum"] = fmt::format("fnv1a64:{:016x}", io::content_checksum(f, "checksum"));
  io::write_safetensors(path, f);
}

}  // namespace

TEST_CASE("checkpoint checksum: a changed data byte is caught, the intact file loads") {
  const std::string dir = test::scratch_dir("checkpoint-checksum");
  manual_seed(1);
  nn::Linear lin(3, 2);
  const std::string path = dir + "/model.safetensors";
  nn::save_checkpoint(path, "app", lin, nullptr, {{"epoch", 1}});
  CHECK(nn::load_checkpoint(path, "app").version == nn::kCheckpointVersion);
  CHECK(io::read_safetensors(path).metadata.at("checksum").rfind("fnv1a64:", 0) == 0);

  std::string bytes = slurp(path);
  bytes[bytes.size() - 3] ^= 0x40;  // inside the last tensor's data
  const std::string bad = dir + "/flipped.safetensors";
  spit(bad, bytes);
  CHECK(error_of([&] { nn::load_checkpoint(bad, "app"); }) ==
        bad + ": checksum mismatch: the file is corrupt (changed after it was written)");

  // A change to the metadata is caught as well.
  rewrite(path, [](io::SafetensorsFile& f) { f.metadata["musicgen"] = R"({"epoch": 2})"; }, false);
  CHECK(error_of([&] { nn::load_checkpoint(path, "app"); }).find("checksum mismatch") != std::string::npos);
}

TEST_CASE("checkpoint format versions: newer ones are named, version 1 (no checksum) still loads") {
  const std::string dir = test::scratch_dir("checkpoint-version");
  nn::Linear lin(2, 2);
  const std::string path = dir + "/model.safetensors";
  nn::save_checkpoint(path, "app", lin, nullptr, {{"epoch", 1}});
  rewrite(path, [](io::SafetensorsFile& f) { f.metadata["format"] = "musicgen-checkpoint-3"; }, true);
  CHECK(error_of([&] { nn::load_checkpoint(path, "app"); }) ==
        path + ": checkpoint format version 3 is newer than this build of musicgen reads (up to 2); use a newer build");

  rewrite(path, [](io::SafetensorsFile& f) {
    f.metadata["format"] = "musicgen-checkpoint-1";
    f.metadata.erase("checksum");
  }, false);
  CHECK(nn::load_checkpoint(path, "app").version == 1);

  rewrite(path, [](io::SafetensorsFile& f) { f.metadata["format"] = "something-else"; }, true);
  CHECK(error_of([&] { nn::load_checkpoint(path, "app"); }) == path + ": unsupported checkpoint format 'something-else'");
}

TEST_CASE("checkpoint metadata nested 200,000 levels deep is refused quickly, without recursion") {
  const std::string dir = test::scratch_dir("checkpoint-deep");
  nn::Linear lin(2, 2);
  const std::string path = dir + "/model.safetensors";
  nn::save_checkpoint(path, "app", lin, nullptr, {{"epoch", 1}});
  const std::string deep = R"({"epoch": )" + std::string(200'000, '[') + std::string(200'000, ']') + "}";
  rewrite(path, [&](io::SafetensorsFile& f) { f.metadata["musicgen"] = deep; }, true);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(error_of([&] { nn::load_checkpoint(path, "app"); }) ==
        path + ": checkpoint metadata: JSON nested 200001 levels deep, more than the limit of 16");
  // A guard against a scan quadratic in the depth (1.6e11 steps for these
  // 400 KB), not a speed claim: the refusal takes 5 ms, so 5 s holds with room
  // under ASan in a parallel CTest on a loaded 2-core machine.
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 5.0);

  const std::string big = R"({"x": ")" + std::string(nn::kMaxMetadataBytes, 'a') + R"("})";
  rewrite(path, [&](io::SafetensorsFile& f) { f.metadata["musicgen"] = big; }, true);
  CHECK(error_of([&] { nn::load_checkpoint(path, "app"); }) ==
        path + ": checkpoint metadata: " + std::to_string(big.size()) + " bytes of JSON, more than the limit of 8000000");
}

TEST_CASE("no checkpoint with NaN or infinity is written, and none is read") {
  const std::string dir = test::scratch_dir("checkpoint-finite");
  nn::Linear lin(2, 2);
  const std::string path = dir + "/model.safetensors";
  nn::save_checkpoint(path, "app", lin, nullptr, {{"epoch", 1}});
  const std::string good = slurp(path);
  lin.bias.data<float>()[1] = NAN;
  CHECK(error_of([&] { nn::save_checkpoint(path, "app", lin, nullptr, {{"epoch", 2}}); }) ==
        path + ": refusing to write a checkpoint whose tensor 'model.bias' holds a non-finite value (element 1)");
  CHECK(slurp(path) == good);  // the last good checkpoint stays

  rewrite(path, [](io::SafetensorsFile& f) {
    for (io::TensorRecord& r : f.tensors) {
      if (r.name != "model.weight") continue;
      const float inf = INFINITY;
      std::memcpy(r.data.data() + 8, &inf, 4);
    }
  }, true);
  CHECK(error_of([&] { nn::load_checkpoint(path, "app"); }) ==
        path + ": tensor 'model.weight' holds a non-finite value at element 2");
}

TEST_CASE("check_model_state names the tensor that does not fit the model") {
  nn::Linear lin(3, 2);
  NamedTensors state = lin.named_parameters();
  CHECK_NOTHROW(nn::check_model_state(lin, state, "ck"));
  NamedTensors f64 = state;
  f64[0].second = f64[0].second.to(DType::F64);
  CHECK(error_of([&] { nn::check_model_state(lin, f64, "ck"); }) == "ck: tensor 'model.weight' is F64, the model expects F32");
  NamedTensors wrong = state;
  wrong[1].second = zeros({3});
  CHECK(error_of([&] { nn::check_model_state(lin, wrong, "ck"); }) ==
        "ck: tensor 'model.bias' has shape [3], the model expects [2]");
  NamedTensors missing = {state[0]};
  CHECK(error_of([&] { nn::check_model_state(lin, missing, "ck"); }) == "ck: tensor 'model.bias' is missing");
  NamedTensors extra = state;
  extra.emplace_back("other", zeros({1}));
  CHECK(error_of([&] { nn::check_model_state(lin, extra, "ck"); }) == "ck: tensor 'model.other' is not part of this model");
  NamedTensors optim = {{"weight.m", zeros({2, 3})}, {"bias.m", zeros({2}, DType::F64)}};
  CHECK(error_of([&] { nn::check_optimizer_state(state, optim, "ck"); }) ==
        "ck: optimizer tensor 'optim.bias.m' is F64 [2], its parameter is F32 [2]");
  CHECK(error_of([&] { nn::check_optimizer_state(state, {{"gamma.m", zeros({2})}}, "ck"); }) ==
        "ck: optimizer tensor 'optim.gamma.m' belongs to no parameter of this model");
}

TEST_CASE("MetaReader: types and ranges, errors naming the checkpoint and the field") {
  const nlohmann::json meta = nlohmann::json::parse(
      R"({"seq_len": 40, "big": 99999999999999999999, "neg": -1, "name": "x", "lr": 0.5, "list": [1, 2, 3],
          "model": {"hidden1": "512", "input": "lstm"}})");
  const nn::MetaReader m(meta, "run/model.safetensors");
  CHECK(m.integer("seq_len", 1, 1000) == 40);
  CHECK(m.number("lr", 0, 10) == 0.5);
  CHECK(m.string("name") == "x");
  CHECK(m.array("list", 3).size() == 3);
  auto err = [&](auto fn) { return error_of(fn); };
  CHECK(err([&] { m.integer("seq_len", 1, 10); }) ==
        "run/model.safetensors: checkpoint field 'seq_len': expected an integer in [1, 10], got 40");
  CHECK(err([&] { m.integer("big", 0, 100); }).find("field 'big': expected an integer in [0, 100], got 1") != std::string::npos);
  CHECK(err([&] { m.unsigned_integer("neg"); }) ==
        "run/model.safetensors: checkpoint field 'neg': expected a non-negative integer, got -1");
  CHECK(err([&] { m.integer("absent", 0, 1); }) == "run/model.safetensors: checkpoint field 'absent': missing");
  CHECK(err([&] { m.array("list", 2); }) ==
        "run/model.safetensors: checkpoint field 'list': 3 entries, more than the limit of 2");
  CHECK(err([&] { m.number("name", 0, 1); }) ==
        "run/model.safetensors: checkpoint field 'name': expected a finite number in [0, 1], got \"x\"");
  const nn::MetaReader model = m.object("model");
  CHECK(err([&] { model.integer("hidden1", 1, 4096); }) ==
        "run/model.safetensors: checkpoint field 'model.hidden1': expected an integer in [1, 4096], got \"512\"");
  CHECK(err([&] { model.one_of("input", {"seed", "embed"}); }) ==
        "run/model.safetensors: checkpoint field 'model.input': expected one of seed, embed, got \"lstm\"");
  CHECK(err([&] { m.object("name"); }) == "run/model.safetensors: checkpoint field 'name': expected an object, got \"x\"");
}
