// Same seed, same result: the losses of the first epochs of the seed recipe,
// the embed network, the jazz VAE's default and its learned prior, and the
// bytes of a generated piece and clip, pinned to the exact values this code
// gave when they were recorded. A change to the training loop, the data
// order, the generator's stream or the sampling that moves any of them by
// one bit fails here.
//
// The programs run with MUSICGEN_ISA=generic and one thread, so the numbers
// are those of the portable kernels (the build compiles with
// -ffp-contract=off) and do not depend on this CPU's vector width. A change
// to a kernel's arithmetic moves them too; record them again with
// MUSICGEN_PIN_RECORD=1, which prints the values in this file's syntax
// instead of checking them, and say why in the change.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/builtin_corpus.h"
#include "io/midi.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const std::string kChopin = MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm";
const std::string kJazz = MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae";

bool recording() {
  const char* r = std::getenv("MUSICGEN_PIN_RECORD");
  return r && std::string(r) == "1";
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Runs a program on the portable kernels with one thread; returns its output (stdout and stderr).
std::string run_pinned(const std::string& bin, const std::string& args) {
  setenv("MUSICGEN_ISA", "generic", 1);
  std::vector<std::string> argv = words(args + " --threads 1");
  argv.insert(argv.begin(), bin);
  const mg::test::ChildResult r = mg::test::run_program(argv, 600);
  unsetenv("MUSICGEN_ISA");
  INFO(args, "\n", r.output);
  REQUIRE(r.exit_code == 0);
  return r.output;
}

// The --json log rows of a run, in order: each row's named columns.
std::vector<std::map<std::string, double>> log_rows(const std::string& output, const std::vector<std::string>& columns) {
  std::vector<std::map<std::string, double>> rows;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{') continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("log")) continue;
    std::map<std::string, double> row;
    for (const std::string& c : columns) row[c] = j.at(c).get<double>();
    rows.push_back(row);
  }
  return rows;
}

// ---- SHA-256 (FIPS 180-4), for the bytes of generated files.
std::string sha256(const std::string& bytes) {
  static constexpr std::array<uint32_t, 64> k = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  std::array<uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::string m = bytes;
  const uint64_t bits = static_cast<uint64_t>(bytes.size()) * 8;
  m += static_cast<char>(0x80);
  while (m.size() % 64 != 56) m += '\0';
  for (int i = 7; i >= 0; --i) m += static_cast<char>(bits >> (8 * i));
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  for (size_t block = 0; block < m.size(); block += 64) {
    std::array<uint32_t, 64> w{};
    for (int t = 0; t < 16; ++t)
      for (int b = 0; b < 4; ++b) w[t] = (w[t] << 8) | static_cast<uint8_t>(m[block + 4 * t + b]);
    for (int t = 16; t < 64; ++t) {
      const uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    std::array<uint32_t, 8> v = h;
    for (int t = 0; t < 64; ++t) {
      const uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
      const uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
      const uint32_t t1 = v[7] + s1 + ch + k[t] + w[t];
      const uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
      const uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      const uint32_t t2 = s0 + maj;
      for (int i = 7; i > 0; --i) v[i] = v[i - 1];
      v[4] += t1;
      v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; ++i) h[i] += v[i];
  }
  std::string hex;
  for (uint32_t x : h) hex += fmt::format("{:08x}", x);
  return hex;
}

std::string file_sha256(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f, path);
  return sha256({std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()});
}

// Checks (or, recording, prints) every pinned column of every row.
void check_rows(const std::string& name, const std::vector<std::map<std::string, double>>& rows,
                const std::vector<std::vector<double>>& pinned, const std::vector<std::string>& columns) {
  if (recording()) {
    std::string text = fmt::format("// {}: {}\n{{", name, fmt::join(columns, ", "));
    for (const auto& row : rows) {
      text += "{";
      for (const std::string& c : columns) text += fmt::format("{:a}, ", row.at(c));
      text += "},\n";
    }
    text += "}";
    MESSAGE(text);
    return;
  }
  REQUIRE(rows.size() == pinned.size());
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < columns.size(); ++c) {
      INFO(name, " epoch ", r + 1, " ", columns[c], ": ", fmt::format("{:.17g}", rows[r].at(columns[c])),
           " against the pinned ", fmt::format("{:.17g}", pinned[r][c]));
      CHECK(rows[r].at(columns[c]) == pinned[r][c]);
    }
}

void check_hash(const std::string& name, const std::string& path, const std::string& pinned) {
  const std::string got = file_sha256(path);
  if (recording()) {
    MESSAGE(name << ": \"" << got << "\"");
    return;
  }
  INFO(name, ": ", path);
  CHECK(got == pinned);
}

}  // namespace

TEST_CASE("sha256 of known strings (FIPS 180-4 examples)") {
  CHECK(sha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("chopin-lstm: the seed recipe's and the embed network's first epochs, and a generated piece, are pinned") {
  const std::string dir = mg::test::scratch_dir("pinned-chopin");
  // A small held-out folder (two pieces the built-in corpus composes from another seed), so that the seed
  // recipe's held-out evaluation takes a moment instead of half a minute.
  fs::create_directories(dir + "/held");
  mg::io::BuiltinCorpusOptions two;
  two.pieces = 2;
  two.bars_per_piece = 8;
  const std::vector<mg::io::MidiFile> pieces = mg::io::builtin_piano_corpus(7, two);
  for (size_t i = 0; i < pieces.size(); ++i)
    mg::io::write_midi(fmt::format("{}/held/piece{}.mid", dir, i), mg::io::midi_to_note_events(pieces[i]), 120);

  const std::vector<std::string> columns = {"train_loss", "heldout_loss", "heldout_loss_all", "heldout_accuracy"};
  const std::string seed = run_pinned(kChopin, "train --model seed --epochs 2 --max-steps 2 --json --out " + dir +
                                                   "/seed --heldout-data " + dir + "/held");
  check_rows("seed recipe", log_rows(seed, columns),
             {{0x1.5571858p+2, 0x1.00a228p+2, 0x1.c6f80ep+1, 0x1.0b21642c8590bp-5},
              {0x1.f4926ap+1, 0x1.1aaccap+3, 0x1.6e2b98p+2, 0x1.90b21642c8591p-4}},
             columns);

  const std::string embed = run_pinned(kChopin, "train --model embed --hidden1 128 --hidden2 64 --dense 64 --batch 32 "
                                                "--epochs 3 --max-steps 20 --json --out " + dir + "/embed");
  check_rows("embed network", log_rows(embed, columns),
             {{0x1.b5015db333333p+1, 0x1.98bd7fd260512p+1, 0x1.9eb8eb5dc83cdp+1, 0x1.20f353a4c0a23p-3},
              {0x1.962f96999999ap+1, 0x1.6998f3a9d2605p+1, 0x1.72efa9353a4c1p+1, 0x1.86562d9faee42p-3},
              {0x1.3d7c75ccccccdp+1, 0x1.d8067e9d26051p+0, 0x1.e8bb5cac5b3f6p+0, 0x1.cfd7720f353a5p-2}},
             columns);

  run_pinned(kChopin, "generate --checkpoint " + dir + "/embed/model.safetensors --notes 40 --seed 7 --out " + dir +
                          "/piece.mid");
  check_hash("generated piece", dir + "/piece.mid", "7182cf9637577443168b68437be1ca8eb768355eb24f7badcd8a8ad14789baeb");
}

TEST_CASE("jazz-vae: the default model's first epochs, its learned prior, and generated clips are pinned") {
  const std::string dir = mg::test::scratch_dir("pinned-jazz");
  const std::vector<std::string> columns = {"train_loss", "train_recon", "train_kl", "heldout_recon", "heldout_kl",
                                            "spectral_convergence", "log_spectral_distance"};
  const std::string train = run_pinned(kJazz, "train --epochs 3 --json --out " + dir + "/run");
  check_rows("jazz default", log_rows(train, columns),
             {{0x1.9d8a6d6276276p+18, 0x1.38b58ec4ec4ecp+17, 0x1.7df637ec4ec4fp+13, 0x1.90ac1bp+16,
               0x1.806ebcaaaaaabp+13, 0x1.65d9408f47315p-1, 0x1.069a4ffb032e7p+3},
              {0x1.2029db89d89d9p+18, 0x1.ab0f144ec4ec5p+16, 0x1.474fdf9d89d8ap+13, 0x1.59a06e5555555p+16,
               0x1.64238dp+13, 0x1.40f078cb5dbddp-1, 0x1.e97298c5569p+2},
              {0x1.ff015c13b13b1p+17, 0x1.7bb847p+16, 0x1.3bbec8c4ec4ecp+13, 0x1.51c435p+16,
               0x1.61b8d5aaaaaabp+13, 0x1.390cb98288259p-1, 0x1.e44a410b83fcp+2}},
             columns);

  const std::vector<std::string> prior_columns = {"train_nll", "heldout_nll"};
  const std::string prior =
      run_pinned(kJazz, "prior --checkpoint " + dir + "/run/model.safetensors --epochs 3 --windows 4 --json");
  check_rows("learned prior", log_rows(prior, prior_columns),
             {{0x1.7b7a4c4ec4ec5p+0, 0x1.7ffe1fe148b38p+0},
              {0x1.70bd3389d89d9p+0, 0x1.7899b1e447715p+0},
              {0x1.69a6527627627p+0, 0x1.72b5b4a3b5b7fp+0}},
             prior_columns);

  run_pinned(kJazz, "generate --checkpoint " + dir + "/run/model.safetensors --count 1 --griffin-lim-iters 4 --seed 7 "
                    "--out " + dir + "/learned");
  run_pinned(kJazz, "generate --checkpoint " + dir + "/run/model.safetensors --count 1 --griffin-lim-iters 4 --seed 7 "
                    "--prior normal --out " + dir + "/normal");
  check_hash("clip from the learned prior", dir + "/learned/sample-01.wav",
             "99c52bed78360cb898bec384d2a4d9b453c8a3a690220b1ce3e0101657fe75d8");
  check_hash("clip from N(0, I)", dir + "/normal/sample-01.wav",
             "0e0300529945d0c49bcb4fccbff46ff10e075dbe68546ce79ffcdd2708b9827b");
}
