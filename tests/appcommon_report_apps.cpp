// The pages the two apps write, as a person opens them: a tiny run of each
// (train, then generate and eval into the same folder) and its report.html
// in headless Chromium. Every picture must decode, every player must have a
// readable WAV of non-zero duration, and the page must log nothing.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "browser_check.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

void must_run(const std::vector<std::string>& argv) {
  const mg::test::ChildResult r = mg::test::run_program(argv, 300);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
}

// Runs the check and returns the verdict line.
std::string verdict(const std::string& chromium, const fs::path& dir) {
  const mg::test::ChildResult r = mg::test::check_report_in_chromium(chromium, dir);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(r.output.find(":CONSOLE") == std::string::npos, r.output);
  const size_t at = r.output.find("REPORT-CHECK");
  REQUIRE_MESSAGE(at != std::string::npos, r.output);
  const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
  MESSAGE(line);
  return line;
}

int count_after(const std::string& line, const std::string& key) {
  const size_t at = line.find(key + "=");
  return at == std::string::npos ? -1 : std::stoi(line.substr(at + key.size() + 1));
}

}  // namespace

TEST_CASE("chopin-lstm's page after train, generate and eval shows every picture and plays the piece in Chromium") {
  const std::string chromium = mg::test::chromium_or_skip();
  if (chromium.empty()) return;
  const std::string bin = MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm";
  const fs::path dir = mg::test::scratch_dir("report-chopin");
  const std::string out = dir.string();
  must_run({bin, "train", "--out", out, "--epochs", "2", "--hidden1", "24", "--hidden2", "12", "--dense", "12",
            "--batch", "32", "--max-steps", "4", "--threads", "2"});
  must_run({bin, "generate", "--checkpoint", out + "/model.safetensors", "--notes", "40", "--out", out + "/piece.mid",
            "--wav", out + "/piece.wav"});
  must_run({bin, "eval", "--checkpoint", out + "/model.safetensors", "--pieces", "3", "--notes", "30"});
  const std::string line = verdict(chromium, dir);
  CHECK(line.find("REPORT-CHECK OK") == 0);
  CHECK(count_after(line, "images") >= 3);  // curves, token histogram, the piece's piano roll
  CHECK(count_after(line, "audio") == 1);   // the piece
}

TEST_CASE("jazz-vae's page after train, generate, interpolate and eval shows every picture and plays every clip in Chromium") {
  const std::string chromium = mg::test::chromium_or_skip();
  if (chromium.empty()) return;
  const std::string bin = MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae";
  const fs::path dir = mg::test::scratch_dir("report-jazz");
  const std::string out = dir.string();
  const std::vector<std::string> tiny = {"--clip-seconds", "1", "--n-fft", "256", "--hop", "128", "--channels", "8,8",
                                         "--threads", "2"};
  std::vector<std::string> train = {bin, "train", "--out", out, "--epochs", "2"};
  train.insert(train.end(), tiny.begin(), tiny.end());
  must_run(train);
  must_run({bin, "generate", "--checkpoint", out + "/model.safetensors", "--count", "2", "--prior", "normal", "--out",
            out + "/samples"});
  must_run({bin, "interpolate", "--checkpoint", out + "/model.safetensors", out + "/samples/sample-01.wav",
            out + "/samples/sample-02.wav", "--steps", "3", "--out", out + "/between"});
  must_run({bin, "eval", "--checkpoint", out + "/model.safetensors", "--samples", "2"});
  const std::string line = verdict(chromium, dir);
  CHECK(line.find("REPORT-CHECK OK") == 0);
  // curves, reconstruction, latent map, training GIF, samples, interpolation
  CHECK(count_after(line, "images") >= 6);
  // two samples; the whole interpolation and its three steps
  CHECK(count_after(line, "audio") == 6);
}
