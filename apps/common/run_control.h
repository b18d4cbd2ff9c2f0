#pragma once
// How a run talks to the person or script that started it (how it is
// stopped is models/stop_request.h):
//
//  - Output mode. Normal: progress on stderr, information on stdout.
//    --quiet: only warnings and errors (stderr). --json: one JSON object per
//    line on stdout (one per epoch for training, one per written file for the
//    other commands) and nothing else there; errors stay on stderr. Both
//    modes point file descriptor 1 at /dev/null once the flags are applied, so
//    no line of human-readable text can reach a script that parses stdout;
//    JSON records go to a duplicate of the original stdout.
#include <nlohmann/json.hpp>

namespace mg::app {

enum class OutputMode { Normal, Quiet, Json };

// Applies the mode (see above). Called once, after parsing the flags.
void set_output_mode(OutputMode mode);
OutputMode output_mode();

// One JSON object on its own line of the original stdout, in --json mode;
// nothing otherwise.
void json_record(const nlohmann::json& record);

}  // namespace mg::app
