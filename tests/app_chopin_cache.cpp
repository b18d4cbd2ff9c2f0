// chopin-lstm prepare and the token cache, through the built program: a
// cache trains exactly as its MIDI folder does (the same vocabulary, losses
// and weights, bit for bit), with any number of prepare threads; a cache of
// other settings, a damaged shard or index and a foreign output folder are
// refused with one line naming the setting or the file; a file that does not
// parse is listed in the index with the reason the folder loader gives.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "models/checkpoint.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const std::string kChopin = MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm";
const std::string kTiny = " --hidden1 16 --hidden2 8 --dense 8 --batch 16 --max-steps 3 --threads 2 --epochs 2";

mg::test::ChildResult run(const std::string& args) {
  std::vector<std::string> argv{kChopin};
  std::istringstream in(args);
  for (std::string w; in >> w;) argv.push_back(w);
  return mg::test::run_program(argv, 300);
}

using mg::test::slurp;

void spit(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

std::string last_line(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
}

// log.csv without the seconds column: what must not depend on where the tokens came from.
std::string losses(const std::string& run_dir) {
  std::istringstream in(slurp(run_dir + "/log.csv"));
  std::string out;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    REQUIRE(cells.size() == 8);  // epoch,train_loss,heldout_loss,heldout_perplexity,heldout_accuracy,seconds,...
    cells.erase(cells.begin() + 5);
    for (const std::string& c : cells) out += c + ",";
    out += "\n";
  }
  return out;
}

// A folder of n MIDI files from the built-in generator.
std::string synthesized(const std::string& dir, int n, int seed) {
  const mg::test::ChildResult r =
      run(fmt::format("prepare --synthesize {} --bars 8 --seed {} --out {}", n, seed, dir));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  return dir;
}

std::string prepare(const std::string& data, const std::string& out, const std::string& more = "") {
  const mg::test::ChildResult r = run("prepare --data " + data + " --out " + out + more);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  return out;
}

// Trains on `data` into `out` and checks that it matches the run in `reference` trained on the folder.
void check_same_training(const std::string& reference, const std::string& data, const std::string& out,
                         const std::string& args) {
  const mg::test::ChildResult r = run("train --data " + data + " --out " + out + kTiny + args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(losses(out) == losses(reference));
  const mg::nn::Checkpoint a = mg::nn::load_checkpoint(reference + "/model.safetensors", "chopin-lstm");
  const mg::nn::Checkpoint b = mg::nn::load_checkpoint(out + "/model.safetensors", "chopin-lstm");
  CHECK(a.meta["vocab"] == b.meta["vocab"]);
  CHECK(a.meta["primers"] == b.meta["primers"]);
  REQUIRE(a.model.size() == b.model.size());
  for (size_t i = 0; i < a.model.size(); ++i) {
    INFO(a.model[i].first);
    CHECK(a.model[i].second.to_vector<float>() == b.model[i].second.to_vector<float>());
  }
}

nlohmann::json index_of(const std::string& cache) { return nlohmann::json::parse(slurp(cache + "/index.json")); }

}  // namespace

TEST_CASE("training from a prepared cache equals training from its MIDI folder: losses, vocabulary and weights") {
  const std::string dir = mg::test::scratch_dir("chopin-cache-train");
  const std::string midi = synthesized(dir + "/midi", 24, 7), held = synthesized(dir + "/held", 6, 1000);
  const std::string timed = prepare(midi, dir + "/timed", " --shard-tokens 3000");  // several shards
  const std::string seed = prepare(midi, dir + "/seed", " --repr seed");
  const std::string held_cache = prepare(held, dir + "/held-cache");
  CHECK(index_of(timed)["shards"].size() > 1);

  struct Case {
    std::string name, args, cache;
  };
  for (const Case& c : {Case{"embed-timed", "", timed},
                        Case{"embed-timed-min-count", " --min-count 40", timed},  // rare tokens replaced by near ones
                        Case{"seed-recipe", " --model seed --min-count 20", seed},
                        Case{"embed-seed", " --repr seed --min-count 1", seed}}) {
    INFO(c.name);
    const std::string reference = dir + "/run-folder-" + c.name;
    const mg::test::ChildResult r = run("train --data " + midi + " --out " + reference + kTiny + c.args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    check_same_training(reference, c.cache, dir + "/run-cache-" + c.name, c.args);
  }
  // eval --data reads a cache as the folder: the same held-out numbers and statistics.
  auto eval_lines = [&](const std::string& data) {
    const mg::test::ChildResult e = run("eval --checkpoint " + dir + "/run-folder-embed-timed/model.safetensors --data " +
                                        data + " --pieces 1 --notes 10 --reference-pieces 10 --window-stride 8 --threads 2");
    REQUIRE_MESSAGE(e.exit_code == 0, e.output);
    std::string kept;  // every line but those naming the data
    std::istringstream in(e.output);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("data: ", 0) != 0 && line.rfind("reference: ", 0) != 0) kept += line + "\n";
    return kept;
  };
  const std::string from_folder = eval_lines(midi);
  CHECK(from_folder.find("NLL per token after each window") != std::string::npos);
  CHECK(eval_lines(timed) == from_folder);
  // --heldout-data reads a cache too.
  const mg::test::ChildResult r =
      run("train --data " + midi + " --heldout-data " + held + " --out " + dir + "/run-folder-held" + kTiny);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  check_same_training(dir + "/run-folder-held", timed, dir + "/run-cache-held", " --heldout-data " + held_cache);
}

TEST_CASE("prepare gives byte-identical shards and index on 1 and 2 threads, and replaces a cache with fewer shards") {
  const std::string dir = mg::test::scratch_dir("chopin-cache-threads");
  const std::string midi = synthesized(dir + "/midi", 20, 3);
  const std::string one = prepare(midi, dir + "/one", " --threads 1 --shard-tokens 2500");
  const std::string two = prepare(midi, dir + "/two", " --threads 2 --shard-tokens 2500");
  const nlohmann::json index = index_of(one);
  REQUIRE(index["shards"].size() >= 2);
  CHECK(index["format"] == "chopin-lstm-token-cache");
  CHECK(index["version"] == 1);
  CHECK(index["files"].size() == 20);
  for (const auto& e : fs::directory_iterator(one)) {
    INFO(e.path().filename());
    CHECK(slurp(e.path()) == slurp(two + "/" + e.path().filename().string()));
  }
  CHECK(std::distance(fs::directory_iterator(one), fs::directory_iterator()) ==
        std::distance(fs::directory_iterator(two), fs::directory_iterator()));
  // Every file's tokens lie in one shard.
  for (const nlohmann::json& f : index["files"]) {
    const nlohmann::json& shard = index["shards"][f["shard"].get<size_t>()];
    CHECK(f["first"].get<int64_t>() + f["tokens"].get<int64_t>() <= shard["tokens"].get<int64_t>());
  }
  // Prepared again into the same folder with one shard: the old shards beyond it go.
  prepare(midi, one);
  CHECK(index_of(one)["shards"].size() == 1);
  CHECK_FALSE(fs::exists(one + "/tokens-00001.bin"));
}

TEST_CASE("a cache of other settings, a damaged shard or index, and a foreign --out are refused naming them") {
  const std::string dir = mg::test::scratch_dir("chopin-cache-refused");
  const std::string midi = synthesized(dir + "/midi", 6, 5);
  const std::string cache = prepare(midi, dir + "/cache");
  auto train_error = [&](const std::string& data, const std::string& more = "") {
    const mg::test::ChildResult r = run("train --data " + data + " --out " + dir + "/run" + kTiny + more);
    CHECK(r.exit_code == 1);
    return last_line(r.output);
  };

  CHECK(train_error(cache, " --repr seed") ==
        "chopin-lstm: error: --repr seed: --data " + cache + " is a cache of --repr timed tokens (run chopin-lstm "
        "prepare --repr seed on the MIDI folder, or use --repr timed)");

  const std::string shard = cache + "/tokens-00000.bin", index = cache + "/index.json";
  const std::string good_shard = slurp(shard), good_index = slurp(index);
  spit(shard, good_shard.substr(0, good_shard.size() - 4));
  const std::string truncated = train_error(cache);
  CHECK(truncated.find("error: " + shard + ": ") != std::string::npos);
  CHECK(truncated.find("truncated") != std::string::npos);
  std::string flipped = good_shard;
  flipped[flipped.size() / 2] ^= 1;
  spit(shard, flipped);
  CHECK(train_error(cache) == "chopin-lstm: error: " + shard + ": checksum mismatch against index.json: a damaged "
                              "shard (run chopin-lstm prepare again)");
  spit(shard, good_shard);

  spit(index, good_index.substr(0, good_index.size() / 2));
  CHECK(train_error(cache).find("error: " + index + ": not valid JSON") != std::string::npos);
  nlohmann::json j = nlohmann::json::parse(good_index);
  j["version"] = 2;
  spit(index, j.dump());
  CHECK(train_error(cache) == "chopin-lstm: error: " + index +
                                  ": cache format version 2; this chopin-lstm reads version 1 (run chopin-lstm "
                                  "prepare again)");
  j = nlohmann::json::parse(good_index);
  j["files"][1]["first"] = 1;
  spit(index, j.dump());
  CHECK(train_error(cache).find("error: " + index + ": field 'files[1].first'") != std::string::npos);
  spit(index, good_index);
  CHECK(run("train --data " + cache + " --out " + dir + "/run" + kTiny).exit_code == 0);

  // prepare writes only into a new or empty folder or a cache; a MIDI folder is neither.
  const mg::test::ChildResult foreign = run("prepare --data " + midi + " --out " + midi);
  CHECK(foreign.exit_code == 1);
  CHECK(last_line(foreign.output).find("error: --out " + midi + ": holds piece-") != std::string::npos);
  CHECK_FALSE(fs::exists(midi + "/index.json"));
}

TEST_CASE("a file that does not parse is listed in index.json as skipped, with the reason the folder loader gives") {
  const std::string dir = mg::test::scratch_dir("chopin-cache-skipped");
  const std::string midi = synthesized(dir + "/midi", 5, 9);
  spit(midi + "/broken.mid", std::string("MThd\0\0\0\x06\0\x01\0\x05", 12));
  const mg::test::ChildResult r = run("prepare --data " + midi + " --out " + dir + "/cache");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const nlohmann::json skipped = index_of(dir + "/cache")["skipped"];
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0]["path"] == "broken.mid");
  // What training on the folder says of it.
  const mg::test::ChildResult folder = run("train --data " + midi + " --out " + dir + "/run" + kTiny);
  REQUIRE_MESSAGE(folder.exit_code == 0, folder.output);
  CHECK(folder.output.find("warning: skipping broken.mid: " + skipped[0]["reason"].get<std::string>() + "\n") !=
        std::string::npos);
  CHECK(index_of(dir + "/cache")["files"].size() == 5);
}

TEST_CASE("the 48 Chopin files: the cache holds the tokens the folder gives (skipped without ../shared/data)") {
  const std::string data = mg::test::shared_data_dir();
  if (data.empty() || !fs::is_directory(data + "/chopin-midi")) return mg::test::skip("no ../shared/data/chopin-midi");
  const std::string dir = mg::test::scratch_dir("chopin-cache-48");
  const std::string cache = prepare(data + "/chopin-midi", dir + "/seed", " --repr seed");
  const nlohmann::json index = index_of(cache);
  CHECK(index["tokens"] == 63628);  // the seed representation's count on these files (README)
  CHECK(index["vocabulary"].size() == 317);
  CHECK(index["files"].size() == 48);
  const std::string args = " --model seed --max-steps 1 --epochs 1 --hidden1 8 --hidden2 8 --dense 8 --threads 2";
  const mg::test::ChildResult r = run("train --data " + data + "/chopin-midi --out " + dir + "/folder" + args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const mg::test::ChildResult c = run("train --data " + cache + " --out " + dir + "/cache-run" + args);
  REQUIRE_MESSAGE(c.exit_code == 0, c.output);
  CHECK(losses(dir + "/cache-run") == losses(dir + "/folder"));
}
