#include "apps/common/run_control.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>

#include "tensor/error.h"

namespace mg::app {

namespace {

OutputMode g_mode = OutputMode::Normal;
int g_json_fd = -1;  // the original stdout, in --json mode

std::atomic<int> g_signal{0};  // the first signal received, 0 while none
struct sigaction g_old_int, g_old_term;
bool g_installed = false;

void on_signal(int sig) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, sig)) {
    // The second signal: stop now. Only async-signal-safe calls here.
    static const char msg[] = "\ninterrupted again: stopping at once; the last complete checkpoint is kept\n";
    const ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(kExitInterrupted);
  }
  static const char msg[] =
      "\ninterrupt: stopping after this step and writing a checkpoint (Ctrl-C again to stop at once)\n";
  const ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

}  // namespace

void set_output_mode(OutputMode mode) {
  if (mode == g_mode) return;
  if (g_mode != OutputMode::Normal) fail("output mode: set once");
  std::fflush(stdout);
  if (mode == OutputMode::Json) {
    g_json_fd = dup(STDOUT_FILENO);
    if (g_json_fd < 0) fail("--json: cannot duplicate standard output");
  }
  const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0 || dup2(null_fd, STDOUT_FILENO) < 0) fail("--quiet/--json: cannot redirect standard output");
  close(null_fd);
  g_mode = mode;
}

OutputMode output_mode() { return g_mode; }

void json_record(const nlohmann::json& record) {
  if (g_mode != OutputMode::Json) return;
  // NaN and infinity are not JSON: nlohmann writes them as null.
  const std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = write(g_json_fd, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("--json: cannot write to standard output");
    }
    done += static_cast<size_t>(n);
  }
}

StopRequest::StopRequest() {
  if (g_installed) fail("StopRequest: one at a time");
  g_signal = 0;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
  g_installed = true;
}

StopRequest::~StopRequest() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_installed = false;
}

bool StopRequest::requested() const { return g_signal.load() != 0; }

const char* StopRequest::signal_name() const { return g_signal.load() == SIGTERM ? "SIGTERM" : "SIGINT"; }

}  // namespace mg::app
