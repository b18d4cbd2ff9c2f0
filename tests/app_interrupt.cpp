// Ctrl-C during training, as a user does it: the app stops at the next step
// boundary, writes a checkpoint, says how to resume and exits with 130; the
// resumed run then ends exactly where an uninterrupted run ends (weights,
// optimizer state, generator, log). The signal is sent once the first epoch
// is in the log, so it lands somewhere in the second epoch: mid-epoch or at
// its start, and either way the result must be the same.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "models/checkpoint.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

struct Finished {
  int code = -1;
  std::string output;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> split_args(const std::string& args) {
  std::istringstream in(args);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Starts bin with args, output to `log`; returns the pid.
pid_t start(const std::string& bin, const std::string& args, const std::string& log) {
  std::vector<std::string> argv = split_args(args);
  argv.insert(argv.begin(), bin);
  std::fflush(stdout);  // or the child would write the parent's buffered output again
  std::fflush(stderr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    if (!f || dup2(STDOUT_FILENO, STDERR_FILENO) < 0) _exit(97);
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execv(bin.c_str(), cargv.data());
    _exit(96);
  }
  return pid;
}

Finished wait_for(pid_t pid, const std::string& log) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  Finished f;
  f.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  f.output = slurp(log);
  return f;
}

Finished run(const std::string& bin, const std::string& args, const std::string& log) {
  return wait_for(start(bin, args, log), log);
}

size_t csv_rows(const std::string& path) {
  std::ifstream f(path);
  size_t n = 0;
  for (std::string line; std::getline(f, line);) n += !line.empty();
  return n == 0 ? 0 : n - 1;  // minus the header
}

// Every column of log.csv except the wall-clock seconds.
std::vector<std::string> log_without_seconds(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> rows;
  std::string header;
  std::getline(f, header);
  std::vector<std::string> names = split_args([&] {
    std::string h = header;
    for (char& c : h) c = c == ',' ? ' ' : c;
    return h;
  }());
  for (std::string line; std::getline(f, line);) {
    std::stringstream ss(line);
    std::string cell, kept;
    for (size_t k = 0; std::getline(ss, cell, ','); ++k)
      if (k >= names.size() || names[k] != "seconds") kept += cell + ",";
    rows.push_back(kept);
  }
  return rows;
}

// Trains `args` straight through, and again interrupted by SIGINT in its
// second epoch and resumed; the two must end identical.
void check_interrupt_and_resume(const std::string& app, const std::string& bin, const std::string& args, int epochs,
                                int delay_ms) {
  const std::string dir = mg::test::scratch_dir(app + "-interrupt");
  const std::string straight = dir + "/straight", stopped = dir + "/stopped";
  const std::string tail = " --epochs " + std::to_string(epochs) + args;

  Finished a = run(bin, "train --out " + straight + tail, dir + "/straight.txt");
  REQUIRE_MESSAGE(a.code == 0, a.output);

  const pid_t pid = start(bin, "train --out " + stopped + tail, dir + "/stopped.txt");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (csv_rows(stopped + "/log.csv") < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Past the pictures and the report of epoch 1, into the steps of epoch 2.
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  REQUIRE(kill(pid, SIGINT) == 0);
  Finished b = wait_for(pid, dir + "/stopped.txt");
  INFO(b.output);
  const size_t at = b.output.find("stopped by SIGINT");
  if (at != std::string::npos) MESSAGE(b.output.substr(at, b.output.find(';', at) - at));
  REQUIRE(b.code == 130);
  CHECK(b.output.find("stopped by SIGINT in epoch") != std::string::npos);
  const std::string how = app + " train --out " + stopped + " --resume --epochs " + std::to_string(epochs);
  CHECK(b.output.find("resume with: " + how) != std::string::npos);
  REQUIRE(csv_rows(stopped + "/log.csv") < static_cast<size_t>(epochs));
  // The checkpoint on disk is complete and loads.
  const mg::nn::Checkpoint mid = mg::nn::load_checkpoint(stopped + "/model.safetensors", app);
  CHECK(mid.meta.at("epoch").get<int>() < epochs);

  Finished c = run(bin, "train --out " + stopped + " --resume" + tail, dir + "/resumed.txt");
  REQUIRE_MESSAGE(c.code == 0, c.output);
  CHECK(c.output.find("resuming") != std::string::npos);

  const mg::nn::Checkpoint x = mg::nn::load_checkpoint(straight + "/model.safetensors", app);
  const mg::nn::Checkpoint y = mg::nn::load_checkpoint(stopped + "/model.safetensors", app);
  REQUIRE(x.model.size() == y.model.size());
  for (size_t i = 0; i < x.model.size(); ++i) {
    INFO(x.model[i].first);
    CHECK(x.model[i].second.to_vector<float>() == y.model[i].second.to_vector<float>());
  }
  REQUIRE(x.optim.size() == y.optim.size());
  for (size_t i = 0; i < x.optim.size(); ++i) CHECK(x.optim[i].second.to_vector<float>() == y.optim[i].second.to_vector<float>());
  CHECK(x.meta.at("rng") == y.meta.at("rng"));
  CHECK_FALSE(y.meta.contains("partial"));
  CHECK(log_without_seconds(straight + "/log.csv") == log_without_seconds(stopped + "/log.csv"));
  CHECK(fs::exists(stopped + "/report.html"));
}

}  // namespace

TEST_CASE("chopin-lstm: Ctrl-C stops at a step, checkpoints, and the resumed run equals an uninterrupted one") {
  check_interrupt_and_resume("chopin-lstm", MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm",
                             " --model seed --hidden1 24 --hidden2 12 --dense 12 --batch 32 --max-steps 300 --threads 2", 3, 400);
}

TEST_CASE("jazz-vae: Ctrl-C stops at a step, checkpoints, and the resumed run equals an uninterrupted one") {
  check_interrupt_and_resume("jazz-vae", MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae",
                             " --batch 1 --clip-seconds 2 --n-fft 256 --hop 128 --channels 8,8 --threads 2", 5, 300);
}
