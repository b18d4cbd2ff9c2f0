// Stopping a run from outside, as a user or a supervisor does it. Ctrl-C
// (SIGINT) during training: the app stops at the next step boundary, writes a
// checkpoint, says how to resume and exits with 130; the resumed run then ends
// exactly where an uninterrupted run ends (weights, optimizer state,
// generator, log). The signal is sent once the first epoch is in the log, so
// it lands somewhere in the second epoch: mid-epoch or at its start, and
// either way the result must be the same. SIGTERM and SIGHUP stop it the same
// way with 143; a signal that arrives before the first step still leaves the
// checkpoint and the report; a second signal ends the run at once without a
// half-written file or a lock left behind; jazz-vae prior stops the same way.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/checkpoint.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

struct Finished {
  int code = -1;
  std::string output;
};

using mg::test::slurp;

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

// Waits (up to two minutes) until ready() holds.
void wait_until(const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// The status line of the section `name` of OUT/report.json (the page report.html shows).
std::string report_status(const std::string& out, const std::string& name) {
  const nlohmann::json report = nlohmann::json::parse(slurp(out + "/report.json"));
  for (const nlohmann::json& section : report.at("sections"))
    if (section.at("name") == name)
      for (const nlohmann::json& entry : section.at("config"))
        if (entry.at(0) == "status") return entry.at(1).get<std::string>();
  return "(no status)";
}

// What a run may never leave in its folder: its lock, or the temporary file of a write ("<name>.tmp.<pid>").
std::vector<std::string> leftovers(const std::string& out) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    if (name == "run.lock" || name.find(".tmp.") != std::string::npos) found.push_back(name);
  }
  return found;
}

// Starts a training run of bin that runs until signalled, waits until `ready`, and sends `sig`; returns how it
// ended. out is its --out folder; the run's output goes to out + ".txt".
Finished signal_run(const std::string& bin, const std::string& args, const std::string& out, int sig,
                    const std::function<bool()>& ready) {
  const pid_t pid = start(bin, args, out + ".txt");
  wait_until(ready);
  REQUIRE(kill(pid, sig) == 0);
  return wait_for(pid, out + ".txt");
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

TEST_CASE("SIGTERM and SIGHUP stop training like Ctrl-C, with exit status 143: checkpoint, log row and report") {
  const std::string dir = mg::test::scratch_dir("signals-143");
  const struct {
    std::string app, bin, args;
    int sig;
    const char* name;
  } runs[] = {
      {"chopin-lstm", MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm",
       " --hidden1 8 --hidden2 8 --dense 8 --batch 16 --max-steps 200 --threads 2", SIGTERM, "SIGTERM"},
      {"jazz-vae", MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae",
       " --batch 1 --clip-seconds 1 --n-fft 256 --hop 128 --channels 4,4 --threads 2", SIGHUP, "SIGHUP"},
  };
  for (const auto& r : runs) {
    CAPTURE(r.app);
    const std::string out = dir + "/" + r.app;
    const Finished f = signal_run(r.bin, "train --epochs 100000 --out " + out + r.args, out, r.sig,
                                  [&] { return csv_rows(out + "/log.csv") >= 1; });
    INFO(f.output);
    CHECK(f.code == 143);
    const std::string stopped = std::string("stopped by ") + r.name + " in epoch ";
    CHECK(f.output.find(stopped) != std::string::npos);
    CHECK(report_status(out, "train").rfind(stopped, 0) == 0);
    CHECK(fs::exists(out + "/report.html"));
    CHECK(csv_rows(out + "/log.csv") >= 1);
    CHECK(mg::nn::load_checkpoint(out + "/model.safetensors", r.app).meta.at("epoch").get<int>() >= 1);
    CHECK(leftovers(out).empty());
  }
}

TEST_CASE("jazz-vae: a signal before the first step ends still leaves the checkpoint and the report") {
  const std::string dir = mg::test::scratch_dir("signals-early");
  const std::string out = dir + "/run";
  // The default model: loading its 64 clips of 5 s and their features takes seconds after the folder is locked,
  // and a step tens of milliseconds, so a signal sent once OUT/run.lock exists arrives before the first step ends.
  const Finished f = signal_run(MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae", "train --epochs 1 --batch 2 --threads 2 "
                                "--out " + out, out, SIGTERM, [&] { return fs::exists(out + "/run.lock"); });
  INFO(f.output);
  CHECK(f.code == 143);
  const mg::nn::Checkpoint ck = mg::nn::load_checkpoint(out + "/model.safetensors", "jazz-vae");
  CHECK(ck.meta.at("epoch") == 0);
  const int64_t step = ck.meta.contains("partial") ? ck.meta.at("partial").at("step").get<int64_t>() : 0;
  CHECK(step <= 1);
  const std::string stopped = "stopped by SIGTERM in epoch 1 at step " + std::to_string(step) + " of ";
  CHECK(f.output.find(stopped) != std::string::npos);
  CHECK(f.output.find("resume with: jazz-vae train --out " + out + " --resume --epochs 1") != std::string::npos);
  CHECK(fs::exists(out + "/report.html"));
  CHECK(report_status(out, "train").rfind(stopped, 0) == 0);
  // A row for the part of the epoch that ran; none when no step did.
  CHECK(csv_rows(out + "/log.csv") == static_cast<size_t>(step));
  CHECK(leftovers(out).empty());
}

TEST_CASE("a second signal ends the run at once, leaving no half-written file and no lock") {
  const std::string dir = mg::test::scratch_dir("signals-twice");
  const std::string bin = MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae";
  auto twice = [&](const std::string& args, const std::string& out, int sig, const std::function<bool()>& ready) {
    const pid_t pid = start(bin, args + " --out " + out, out + ".txt");
    wait_until(ready);
    REQUIRE(kill(pid, sig) == 0);
    // The second once the first has been received (two sent together may arrive as one).
    wait_until([&] { return slurp(out + ".txt").find("stop requested") != std::string::npos; });
    kill(pid, sig);  // fails only when the run has already ended
    return wait_for(pid, out + ".txt");
  };
  // While the default model loads its clips (seconds, see above; the lock names its owner once it is held): the
  // run ends there, before writing anything, and takes its lock with it.
  const std::string early = dir + "/early";
  const Finished a = twice("train --epochs 1 --batch 2 --threads 2", early, SIGINT, [&] {
    const std::string lock = slurp(early + "/run.lock");
    return !lock.empty() && lock.back() == '\n';
  });
  INFO(a.output);
  CHECK(a.code == 130);
  CHECK(a.output.find("signalled again: stopping at once") != std::string::npos);
  CHECK(fs::is_empty(early));

  // During training, after the first epoch: wherever the second signal lands (in the step, or in the writes of
  // the stop), every file on disk is a complete one.
  const std::string late = dir + "/late";
  const Finished b = twice("train --epochs 100000 --eval-every 1 --batch 1 --clip-seconds 1 --n-fft 256 --hop 128 "
                           "--channels 4,4 --threads 2", late, SIGTERM, [&] { return csv_rows(late + "/log.csv") >= 1; });
  INFO(b.output);
  CHECK(b.code == 143);
  const bool cut_short = b.output.find("signalled again") != std::string::npos;
  MESSAGE((cut_short ? "the second signal ended the run" : "the run had ended before the second signal"));
  CHECK(leftovers(late).empty());
  CHECK(mg::nn::load_checkpoint(late + "/model.safetensors", "jazz-vae").meta.at("epoch").get<int>() >= 1);
  CHECK_NOTHROW(nlohmann::json::parse(slurp(late + "/report.json")));
  CHECK(csv_rows(late + "/log.csv") >= 1);
}

TEST_CASE("jazz-vae prior: a signal stops it like training, keeping the best epoch, the log and the report") {
  const std::string dir = mg::test::scratch_dir("signals-prior");
  const std::string bin = MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae";
  const std::string model = dir + "/model";
  REQUIRE(run(bin, "train --epochs 1 --clip-seconds 1 --n-fft 256 --hop 128 --channels 4,4 --threads 2 --out " + model,
                dir + "/train.txt")
              .code == 0);
  const Finished f = signal_run(bin, "prior --checkpoint " + model + "/model.safetensors --epochs 100000 --hidden 8 "
                                "--windows 2 --threads 2", model, SIGHUP,
                                [&] { return csv_rows(model + "/prior-log.csv") >= 1; });
  INFO(f.output);
  CHECK(f.code == 143);
  CHECK(f.output.find("stopped by SIGHUP in epoch ") != std::string::npos);
  CHECK(report_status(model, "prior").rfind("stopped by SIGHUP in epoch ", 0) == 0);
  const mg::nn::Checkpoint prior = mg::nn::load_checkpoint(model + "/prior.safetensors", "jazz-vae-prior");
  CHECK(prior.meta.at("epoch").get<int>() >= 1);
  CHECK(f.output.find(model + "/prior.safetensors keeps epoch " + std::to_string(prior.meta.at("epoch").get<int>()) +
                      ", the best so far") != std::string::npos);
  CHECK(csv_rows(model + "/prior-log.csv") >= 1);
  CHECK(leftovers(model).empty());
}
