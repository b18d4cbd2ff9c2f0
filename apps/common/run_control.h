#pragma once
// How a run talks to the person or script that started it, and how it is
// stopped:
//
//  - Output mode. Normal: progress on stderr, information on stdout.
//    --quiet: only warnings and errors (stderr). --json: one JSON object per
//    line on stdout (one per epoch for training, one per written file for the
//    other commands) and nothing else there; errors stay on stderr. Both
//    modes point file descriptor 1 at /dev/null once the flags are applied, so
//    no line of human-readable text can reach a script that parses stdout;
//    JSON records go to a duplicate of the original stdout.
//
//  - Ctrl-C. A StopRequest installed around a training loop turns the first
//    SIGINT (or SIGTERM) into a request that the loop reads at each step
//    boundary: it then writes a checkpoint and says how to resume. A second
//    signal ends the process at once with status 130; the checkpoint on disk
//    is the last complete one, since checkpoints are written to a temporary
//    file and renamed into place.
#include <nlohmann/json.hpp>

namespace mg::app {

enum class OutputMode { Normal, Quiet, Json };

// Applies the mode (see above). Called once, after parsing the flags.
void set_output_mode(OutputMode mode);
OutputMode output_mode();

// One JSON object on its own line of the original stdout, in --json mode;
// nothing otherwise.
void json_record(const nlohmann::json& record);

// Status of a process ended by a second Ctrl-C (128 + SIGINT), as shells report it.
inline constexpr int kExitInterrupted = 130;

class StopRequest {
 public:
  // Installs the SIGINT and SIGTERM handlers; the destructor restores the
  // previous ones. One StopRequest at a time.
  StopRequest();
  ~StopRequest();
  StopRequest(const StopRequest&) = delete;
  StopRequest& operator=(const StopRequest&) = delete;

  // True once a first signal has arrived.
  bool requested() const;
  // The signal's name ("SIGINT"), for the message.
  const char* signal_name() const;
};

}  // namespace mg::app
