// jazz-vae prepare and the decoded-audio cache, through the built binary:
// training from a cache gives the folder's losses, the cache is the same for
// any number of threads, skipped files are listed, and a cache at another
// sample rate or a damaged one is a one-line error naming the file.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/audio.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const std::string kBinary = MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae";
// A model small enough for a test: 0.5 s clips, 129 bins, two stages of 4 channels.
const std::string kTiny = " --clip-seconds 0.5 --n-fft 256 --hop 128 --channels 4,4 --epochs 1 --threads 2";

using Run = mg::test::ShellRun;

Run run(const std::string& args) { return mg::test::run_shell(kBinary + " " + args); }

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A few partials with a slow swell, different per seed, at `rate` Hz.
std::vector<float> tone(double seconds, int seed, int rate) {
  std::vector<float> x(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = static_cast<double>(i) / rate;
    double v = 0;
    for (int k = 1; k <= 3; ++k) v += std::sin(2 * M_PI * (110.0 * (seed + 1) * k) * t) / k;
    x[i] = static_cast<float>(0.3 * v * (0.6 + 0.4 * std::sin(2 * M_PI * 0.5 * t)));
  }
  return x;
}

using mg::test::slurp;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

nlohmann::json read_index(const std::string& cache) { return nlohmann::json::parse(slurp(cache + "/index.json")); }

// Every file of a folder, name -> bytes.
std::map<std::string, std::string> folder_bytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = slurp(e.path());
  return out;
}

// log.csv without its `seconds` column (wall time), one string per row.
std::vector<std::string> log_rows_without_time(const std::string& path) {
  std::ifstream f(path);
  std::string line, cell;
  std::getline(f, line);
  std::vector<std::string> header;
  for (std::stringstream head(line); std::getline(head, cell, ',');) header.push_back(cell);
  std::vector<std::string> rows;
  while (std::getline(f, line)) {
    std::string row;
    std::stringstream cells(line);
    for (size_t i = 0; std::getline(cells, cell, ','); ++i)
      if (i >= header.size() || header[i] != "seconds") row += cell + ",";
    rows.push_back(row);
  }
  return rows;
}

// Four tones at three sample rates (two need resampling), a truncated WAV and a text file.
std::string write_audio_folder(const std::string& dir) {
  const std::string data = dir + "/data";
  fs::create_directories(data);
  mg::io::write_wav(data + "/a.wav", tone(2.0, 0, 22050), 22050, true);
  mg::io::write_wav(data + "/b.wav", tone(1.5, 1, 44100), 44100, true);
  mg::io::write_wav(data + "/c.wav", tone(2.0, 2, 16000), 16000, true);
  mg::io::write_wav(data + "/e.wav", tone(1.2, 3, 22050), 22050, true);
  mg::io::write_wav(data + "/broken.wav", tone(1.0, 4, 22050), 22050, true);
  fs::resize_file(data + "/broken.wav", 2000);  // the header promises more than is there
  std::ofstream(data + "/notes.txt") << "not audio";
  return data;
}

}  // namespace

TEST_CASE("jazz-vae prepare: train from the cache logs what train from the folder does, 1 and 2 threads write the "
          "same bytes, the skipped file is listed") {
  const std::string dir = mg::test::scratch_dir("jazz-prepare");
  const std::string data = write_audio_folder(dir);
  // Shards smaller than two files: each file gets a shard of its own.
  Run one = run("prepare --data " + data + " --out " + dir + "/cache1 --threads 1 --shard-samples 50000");
  INFO(one.output);
  REQUIRE(one.code == 0);
  CHECK(one.output.find("warning: skipping " + data + "/broken.wav: truncated") != std::string::npos);
  Run two = run("prepare --data " + data + " --out " + dir + "/cache2 --threads 2 --shard-samples 50000");
  INFO(two.output);
  REQUIRE(two.code == 0);
  CHECK(folder_bytes(dir + "/cache1") == folder_bytes(dir + "/cache2"));

  const nlohmann::json index = read_index(dir + "/cache1");
  CHECK(index["format"] == "musicgen-audio-cache");
  CHECK(index["version"] == 1);
  CHECK(index["sample_rate"] == 22050);
  CHECK(index["source"] == fs::canonical(data).string());
  REQUIRE(index["files"].size() == 4);
  REQUIRE(index["skipped"].size() == 1);
  CHECK(index["skipped"][0]["name"] == "broken.wav");
  CHECK(index["skipped"][0]["reason"].get<std::string>().starts_with("truncated"));
  // Each file's samples are exactly what the loader decodes, at offsets within one shard.
  const std::vector<std::string> names = {"a.wav", "b.wav", "c.wav", "e.wav"};
  for (size_t i = 0; i < names.size(); ++i) {
    const nlohmann::json& file = index["files"][i];
    INFO(names[i]);
    CHECK(file["name"] == names[i]);
    CHECK(file["bytes"] == fs::file_size(data + "/" + names[i]));
    const std::vector<float> expected = mg::io::load_audio(data + "/" + names[i], 22050).samples;
    REQUIRE(file["samples"] == expected.size());
    const nlohmann::json& shard = index["shards"][file["shard"].get<size_t>()];
    CHECK(file["offset"].get<int64_t>() + file["samples"].get<int64_t>() <= shard["samples"].get<int64_t>());
    const std::string bytes = slurp(dir + "/cache1/" + shard["file"].get<std::string>());
    REQUIRE(bytes.size() == 4 * shard["samples"].get<size_t>());
    CHECK(std::memcmp(bytes.data() + 4 * file["offset"].get<size_t>(), expected.data(), 4 * expected.size()) == 0);
  }
  CHECK(index["shards"].size() >= 2);

  Run folder = run("train --data " + data + " --out " + dir + "/from-folder" + kTiny);
  INFO(folder.output);
  REQUIRE(folder.code == 0);
  Run cached = run("train --data " + dir + "/cache1 --out " + dir + "/from-cache" + kTiny);
  INFO(cached.output);
  REQUIRE(cached.code == 0);
  CHECK(cached.output.find("decoded-audio cache of " + fs::canonical(data).string()) != std::string::npos);
  CHECK(cached.output.find("warning: skipping " + fs::canonical(data).string() + "/broken.wav: truncated") !=
        std::string::npos);
  const std::vector<std::string> rows = log_rows_without_time(dir + "/from-folder/log.csv");
  REQUIRE(rows.size() == 1);
  CHECK(log_rows_without_time(dir + "/from-cache/log.csv") == rows);
  // The log rounds to 6 digits; the weights are the same to the bit.
  const mg::io::SafetensorsFile a = mg::io::read_safetensors(dir + "/from-folder/model.safetensors");
  const mg::io::SafetensorsFile b = mg::io::read_safetensors(dir + "/from-cache/model.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    INFO(a.tensors[i].name);
    CHECK(a.tensors[i].name == b.tensors[i].name);
    CHECK(a.tensors[i].data == b.tensors[i].data);
  }

  // The checkpoint names the cache as its data: prior and eval read it again from there.
  const std::string ck = dir + "/from-cache/model.safetensors";
  Run prior = run("prior --checkpoint " + ck + " --epochs 1 --windows 2 --hidden 8 --threads 2");
  INFO(prior.output);
  CHECK(prior.code == 0);
  Run eval = run("eval --checkpoint " + ck + " --samples 2 --griffin-lim-iters 1 --threads 2");
  INFO(eval.output);
  CHECK(eval.code == 0);
  CHECK(eval.output.find("decoded-audio cache of") != std::string::npos);
}

TEST_CASE("jazz-vae prepare: the sample rate is --model's or --sample-rate's, and a cache at another rate is "
          "refused, naming both rates and how to prepare one") {
  const std::string dir = mg::test::scratch_dir("jazz-prepare-rate");
  const std::string data = dir + "/data";
  fs::create_directories(data);
  mg::io::write_wav(data + "/a.wav", tone(1.0, 0, 22050), 22050, true);
  mg::io::write_wav(data + "/b.wav", tone(1.0, 1, 22050), 22050, true);
  REQUIRE(run("prepare --data " + data + " --out " + dir + "/seed --model seed").code == 0);
  CHECK(read_index(dir + "/seed")["sample_rate"] == 3000);
  CHECK(read_index(dir + "/seed")["files"][0]["samples"] == 3000);
  REQUIRE(run("prepare --data " + data + " --out " + dir + "/16k --sample-rate 16000").code == 0);
  CHECK(read_index(dir + "/16k")["sample_rate"] == 16000);
  CHECK(run("prepare --data " + data + " --out " + dir + "/both --model seed --sample-rate 16000").code == 2);

  Run r = run("train --data " + dir + "/seed --out " + dir + "/run" + kTiny);
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK(count(r.output, "jazz-vae: error:") == 1);
  CHECK(r.output.find(dir + "/seed: a decoded-audio cache at 3000 Hz, but --model conv reads audio at 22050 Hz") !=
        std::string::npos);
  CHECK(r.output.find("jazz-vae prepare --data " + fs::canonical(data).string() + " --out NEW_CACHE --sample-rate 22050") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/run/model.safetensors"));
}

TEST_CASE("jazz-vae: a damaged decoded-audio cache is a one-line error naming the file, exit status 1") {
  const std::string dir = mg::test::scratch_dir("jazz-prepare-damaged");
  const std::string data = dir + "/data";
  fs::create_directories(data);
  mg::io::write_wav(data + "/a.wav", tone(1.0, 0, 22050), 22050, true);
  mg::io::write_wav(data + "/b.wav", tone(1.0, 1, 22050), 22050, true);
  const std::string good = dir + "/good";
  REQUIRE(run("prepare --data " + data + " --out " + good).code == 0);
  const std::string shard = slurp(good + "/audio-00000.f32"), index = slurp(good + "/index.json");

  struct Damage {
    std::string what, file, message;
    std::function<void(const std::string& cache)> apply;
  };
  const std::vector<Damage> damages = {
      {"a truncated shard", "audio-00000.f32", "a truncated or replaced shard",
       [&](const std::string& c) { fs::resize_file(c + "/audio-00000.f32", shard.size() / 2); }},
      {"a missing shard", "audio-00000.f32", "cannot read the cache shard",
       [&](const std::string& c) { fs::remove(c + "/audio-00000.f32"); }},
      {"a changed sample", "audio-00000.f32", "checksum mismatch",
       [&](const std::string& c) {
         std::string s = shard;
         s[s.size() / 2] ^= 0x10;
         write_bytes(c + "/audio-00000.f32", s);
       }},
      {"an index cut short", "index.json", "not valid JSON",
       [&](const std::string& c) { write_bytes(c + "/index.json", index.substr(0, index.size() / 2)); }},
      {"another format version", "index.json", "decoded-audio cache version 2",
       [&](const std::string& c) {
         nlohmann::json j = nlohmann::json::parse(index);
         j["version"] = 2;
         write_bytes(c + "/index.json", j.dump());
       }},
      {"a file beyond its shard", "index.json", "field 'files[1].offset'",
       [&](const std::string& c) {
         nlohmann::json j = nlohmann::json::parse(index);
         j["files"][1]["offset"] = 5;
         write_bytes(c + "/index.json", j.dump());
       }},
      {"every file skipped", "", "no usable audio clip",
       [&](const std::string& c) {
         nlohmann::json j = nlohmann::json::parse(index);
         j["files"] = nlohmann::json::array();
         j["shards"] = nlohmann::json::array();
         j["skipped"] = {{{"name", "a.wav"}, {"reason", "truncated"}}};
         write_bytes(c + "/index.json", j.dump());
       }},
  };
  for (size_t k = 0; k < damages.size(); ++k) {
    const Damage& d = damages[k];
    INFO(d.what);
    const std::string cache = dir + "/damaged" + std::to_string(k);
    fs::copy(good, cache);
    d.apply(cache);
    Run r = run("train --data " + cache + " --out " + dir + "/run" + std::to_string(k) + kTiny);
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK(count(r.output, "jazz-vae: error:") == 1);
    CHECK(r.output.find("jazz-vae: error: " + (d.file.empty() ? cache : cache + "/" + d.file)) != std::string::npos);
    CHECK(r.output.find(d.message) != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/run" + std::to_string(k) + "/model.safetensors"));
  }
}

TEST_CASE("jazz-vae prepare writes only into a new, empty or cache folder, replaces a cache whole, and fails on a "
          "folder with nothing to decode") {
  const std::string dir = mg::test::scratch_dir("jazz-prepare-out");
  const std::string data = write_audio_folder(dir);

  Run into_data = run("prepare --data " + data + " --out " + data);
  INFO(into_data.output);
  CHECK(into_data.code == 1);
  CHECK(into_data.output.find("--out " + data + ": holds ") != std::string::npos);
  CHECK_FALSE(fs::exists(data + "/index.json"));

  fs::create_directories(dir + "/foreign");
  std::ofstream(dir + "/foreign/index.json") << R"({"format": "something else"})";
  CHECK(run("prepare --data " + data + " --out " + dir + "/foreign").code == 1);

  fs::create_directories(dir + "/cache");  // empty: fine
  REQUIRE(run("prepare --data " + data + " --out " + dir + "/cache --shard-samples 30000").code == 0);
  const size_t small_shards = read_index(dir + "/cache")["shards"].size();
  CHECK(small_shards >= 4);
  // Replaced by a cache of one shard: the older shards go.
  Run again = run("prepare --data " + data + " --out " + dir + "/cache --quiet");
  INFO(again.output);
  REQUIRE(again.code == 0);
  CHECK(read_index(dir + "/cache")["shards"].size() == 1);
  for (const fs::directory_entry& e : fs::directory_iterator(dir + "/cache"))
    CHECK((e.path().filename() == "index.json" || e.path().filename() == "audio-00000.f32"));

  fs::create_directories(dir + "/nothing");
  fs::copy_file(data + "/broken.wav", dir + "/nothing/broken.wav");
  Run nothing = run("prepare --data " + dir + "/nothing --out " + dir + "/empty-cache");
  INFO(nothing.output);
  CHECK(nothing.code == 1);
  CHECK(nothing.output.find("no usable audio clip") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/empty-cache"));
}

TEST_CASE("jazz-vae prepare on the shared GTZAN clip and rendered jazz folder") {
  const std::string shared = mg::test::shared_data_dir();
  if (shared.empty() || !fs::exists(shared + "/gtzan-jazz/jazz.00000.wav")) {
    mg::test::skip("../shared/data/gtzan-jazz not found (set MUSICGEN_DATA)");
    return;
  }
  const std::string dir = mg::test::scratch_dir("jazz-prepare-gtzan");
  if (fs::is_directory(shared + "/jazz-rendered")) {
    Run r = run("prepare --data " + shared + "/jazz-rendered --out " + dir + "/rendered --threads 2");
    INFO(r.output);
    REQUIRE(r.code == 0);
    const nlohmann::json index = read_index(dir + "/rendered");
    CHECK(index["files"].size() == 16);
    CHECK(index["skipped"].empty());
    for (const nlohmann::json& file : index["files"]) CHECK(file["samples"] == 661500);  // 30.000 s
  }
  for (const auto& [model, samples] : {std::pair{"conv", 661794}, std::pair{"seed", 90040}}) {
    Run r = run("prepare --data " + shared + "/gtzan-jazz --out " + dir + "/" + model + " --model " + model);
    INFO(r.output);
    REQUIRE(r.code == 0);
    const nlohmann::json index = read_index(dir + "/" + model);
    REQUIRE(index["files"].size() >= 1);
    CHECK(index["files"][0]["name"] == "jazz.00000.wav");
    CHECK(index["files"][0]["samples"] == samples);
    CHECK(index["files"][0]["bytes"] == fs::file_size(shared + "/gtzan-jazz/jazz.00000.wav"));
  }
}
