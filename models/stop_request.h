#pragma once
// Stopping a run from outside, as a person (Ctrl-C) or a supervisor (SIGTERM,
// a closed terminal's SIGHUP) does it. While a StopRequest is alive, the
// first SIGINT, SIGTERM or SIGHUP becomes a request that the trainer
// (models/trainer.h) reads at its next step boundary: it then writes a
// checkpoint at that step, the log row and the report of what was done, and
// the program ends as shells report a process a signal ended, 128 + the
// signal's number: 130 for SIGINT, 143 for SIGTERM. SIGHUP ends it like
// SIGTERM, with 143, the status supervisors read as "asked to stop". A second
// signal ends the process at once with that status, after removing the
// temporary file of a write in progress and the run's lock file
// (io/atomic_file.h abandon_writes): the checkpoint and every other file on
// disk is then the last complete one, never a half-written one.
//
// StopRequests nest: the outermost installs the handlers and restores the
// previous ones when it goes, so an app can catch a signal that arrives while
// it loads its data and the trainer still holds its own while it runs.
#include <csignal>

namespace mg::nn {

class StopRequest {
 public:
  StopRequest();
  ~StopRequest();
  StopRequest(const StopRequest&) = delete;
  StopRequest& operator=(const StopRequest&) = delete;

  // The first signal received while a StopRequest was alive (0: none).
  static int signal();
  static bool requested() { return signal() != 0; }
  // Records `sig` as if it had arrived (a test, or a reason of the program's own).
  static void request(int sig);
  // Forgets a request (before another run in the same process).
  static void clear();
  // Handles signals without the message on stderr (a rank other than 0 under
  // mpirun, whose signal is the same as rank 0's, which says it).
  static void silence();
};

// "SIGINT", "SIGTERM", "SIGHUP".
const char* signal_name(int sig);
// The exit status of a program a signal stopped: 128 + sig, SIGHUP's that of SIGTERM (143).
inline int stopped_exit_status(int sig) { return 128 + (sig == SIGHUP ? SIGTERM : sig); }

}  // namespace mg::nn
