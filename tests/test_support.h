#pragma once
// Helpers shared by the test suites.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <cstdint>
#include <random>

#include <doctest/doctest.h>

#include "tensor/error.h"

namespace mg::test {

// The message of the mg::Error that fn throws, or "(no error)".
template <typename F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const mg::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// ---- skipping: a test case that cannot run on this machine says so.
constexpr int kSkipExitCode = 77;  // CTest's SKIP_RETURN_CODE (tests/CMakeLists.txt)

struct SkipState {
  int started = 0, skipped = 0;
};
inline SkipState& skip_state() {
  static SkipState s;
  return s;
}

// Marks the running test case as skipped, with the reason; the caller returns.
inline void skip(const std::string& why) {
  ++skip_state().skipped;
  MESSAGE("skipped: " << why);
}

// n samples uniform in [-0.5, 0.5), the same for a seed on every standard library.
inline std::vector<float> uniform_noise(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> x(n);
  for (float& v : x) v = float(double(rng() >> 11) * 0x1.0p-53 - 0.5);
  return x;
}

// n floats uniform in [-scale, scale), from std::mt19937 seeded with `seed`.
inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// ../shared/data beside the repository, or $MUSICGEN_DATA; empty when absent.
inline std::string shared_data_dir() {
  if (const char* env = std::getenv("MUSICGEN_DATA"); env && *env) {
    return std::filesystem::is_directory(env) ? std::string(env) : std::string();
  }
  std::filesystem::path p = std::filesystem::path(MUSICGEN_SOURCE_DIR) / ".." / "shared" / "data";
  return std::filesystem::is_directory(p) ? std::filesystem::weakly_canonical(p).string() : std::string();
}

// The bytes of a file ("" when it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A fresh, empty scratch folder for one test under the build tree.
inline std::string scratch_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(MUSICGEN_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace mg::test

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <vector>

namespace mg::test {

// How a child process ended, and what it cost.
struct ChildResult {
  int exit_code = -1;   // when it exited normally
  int signal = 0;       // when a signal ended it (0 otherwise)
  double seconds = 0;   // wall time
  double peak_mb = 0;   // peak resident memory (ru_maxrss)
  std::string output;   // stdout and stderr together
  bool timed_out = false;
};

// Runs body() in a forked child (its return value is the exit status) with
// stdout and stderr captured; kills it after timeout_s. The child's peak
// memory comes from wait4(), so it counts only what the child allocated after
// the fork touched (the parent's pages are shared until written).
inline ChildResult run_child(const std::function<int()>& body, double timeout_s) {
  int pipe_fd[2];
  if (pipe(pipe_fd) != 0) return {};
  const auto start = std::chrono::steady_clock::now();
  std::fflush(nullptr);  // or the child would repeat whatever this process has buffered
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fd[1], STDOUT_FILENO);
    dup2(pipe_fd[1], STDERR_FILENO);
    close(pipe_fd[0]);
    close(pipe_fd[1]);
    const int status = body();
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(status);
  }
  close(pipe_fd[1]);
  fcntl(pipe_fd[0], F_SETFL, O_NONBLOCK);
  ChildResult r;
  int status = 0;
  rusage usage{};
  char buf[4096];
  for (;;) {
    ssize_t n;
    while ((n = read(pipe_fd[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<size_t>(n));
    const pid_t done = wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > timeout_s && !r.timed_out) {
      r.timed_out = true;
      kill(pid, SIGKILL);
    }
    usleep(2000);
  }
  ssize_t n;
  while ((n = read(pipe_fd[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<size_t>(n));
  close(pipe_fd[0]);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.peak_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

// Runs a program with arguments (no shell) in a child; see run_child.
inline ChildResult run_program(const std::vector<std::string>& argv, double timeout_s) {
  return run_child(
      [&] {
        std::vector<char*> args;
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        return 127;
      },
      timeout_s);
}

// A command run by /bin/sh with its stderr joined to its stdout: the exit
// status (-1 when a signal ended it) and everything it printed.
struct ShellRun {
  int code = -1;
  std::string output;
};

inline ShellRun run_shell(const std::string& command) {
  ShellRun r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// True in a build with AddressSanitizer, whose shadow memory and checks make
// programs several times larger and slower.
constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

}  // namespace mg::test
