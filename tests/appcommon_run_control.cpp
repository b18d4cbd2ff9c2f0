// apps/common/run_control.h: --quiet and --json keep stdout for what they
// promise. Each case runs in a forked child, since the output mode is
// process-wide. (Signals: tests/models_trainer.cpp.)
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/common/csv_log.h"
#include "apps/common/progress.h"
#include "apps/common/run_control.h"
#include "test_support.h"

using mg::app::OutputMode;

namespace {

struct ChildResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out;  // everything the child wrote to stdout
};

// Runs body in a child whose stdout is a pipe; the child exits with body's value.
template <typename F>
ChildResult in_child(F body) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[1]);
    int rc = 99;
    try {
      rc = body();
    } catch (...) {
      rc = 98;
    }
    std::fflush(stdout);
    _exit(rc);
  }
  close(fds[1]);
  ChildResult r;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n') out.push_back(s.substr(start, i - start)), start = i + 1;
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

}  // namespace

TEST_CASE("normal mode: information reaches stdout, JSON records do not") {
  ChildResult r = in_child([] {
    std::printf("hello\n");
    mg::app::json_record({{"epoch", 1}});
    return 0;
  });
  CHECK(r.status == 0);
  CHECK(r.out == "hello\n");
}

TEST_CASE("--json: stdout holds only the JSON records, one per line, a CSV log row among them") {
  const std::string dir = mg::test::scratch_dir("run_control_json");
  ChildResult r = in_child([&] {
    std::printf("before the mode is set\n");
    mg::app::set_output_mode(OutputMode::Json);
    std::printf("human text after the mode is set\n");
    mg::app::json_record({{"epoch", 1}, {"loss", 2.5}});
    mg::app::CsvLog log(dir + "/log.csv", {"epoch", "train_loss"});
    log.append({2.0, 1.25});
    mg::app::json_record({{"loss", std::nan("")}});
    std::printf("more human text\n");
    return 0;
  });
  CHECK(r.status == 0);
  const std::vector<std::string> lines = lines_of(r.out);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "before the mode is set");
  const auto a = nlohmann::json::parse(lines[1]);
  CHECK(a.at("epoch") == 1);
  CHECK(a.at("loss") == 2.5);
  const auto b = nlohmann::json::parse(lines[2]);
  CHECK(b.at("log") == "log.csv");
  CHECK(b.at("epoch") == 2.0);
  CHECK(b.at("train_loss") == 1.25);
  // NaN is not JSON: it is written as null, and the line still parses.
  CHECK(nlohmann::json::parse(lines[3]).at("loss").is_null());
}

TEST_CASE("--quiet: nothing on stdout") {
  ChildResult r = in_child([] {
    mg::app::set_output_mode(OutputMode::Quiet);
    std::printf("information\n");
    mg::app::json_record({{"epoch", 1}});
    mg::app::print_config({{"epochs", "3"}});
    return 0;
  });
  CHECK(r.status == 0);
  CHECK(r.out.empty());
}

TEST_CASE("print_config aligns the keys under one heading") {
  ChildResult r = in_child([] {
    mg::app::print_config({{"epochs", "3"}, {"batch size", "256"}});
    return 0;
  });
  CHECK(r.out == "configuration:\n  epochs      3\n  batch size  256\n");
}
