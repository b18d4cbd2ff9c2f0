#include "models/stop_request.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

#include "io/atomic_file.h"

namespace mg::nn {

namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

std::atomic<int> g_signal{0};  // the first signal received, 0 while none
std::atomic<bool> g_silent{false};
int g_depth = 0;               // StopRequests alive
struct sigaction g_previous[3];

// Only async-signal-safe calls here: write, unlink, _exit.
void on_signal(int sig) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, sig)) {
    static const char msg[] = "\nsignalled again: stopping at once; the last complete checkpoint is kept\n";
    const ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    io::abandon_writes();
    _exit(stopped_exit_status(sig));
  }
  static const char msg[] =
      "\nstop requested: finishing this step, then writing a checkpoint (signal again to stop at once)\n";
  if (g_silent.load()) return;
  const ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

}  // namespace

StopRequest::StopRequest() {
  if (g_depth++ > 0) return;
  g_signal = 0;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &g_previous[i]);
}

StopRequest::~StopRequest() {
  if (--g_depth > 0) return;
  for (size_t i = 0; i < 3; ++i) sigaction(kSignals[i], &g_previous[i], nullptr);
}

int StopRequest::signal() { return g_signal.load(); }

void StopRequest::request(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
}

void StopRequest::clear() { g_signal = 0; }

void StopRequest::silence() { g_silent.store(true); }

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
  }
}

}  // namespace mg::nn
