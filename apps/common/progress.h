#pragma once
// A progress line for long loops: epoch, step, loss, rate and ETA. On a
// terminal it redraws one line in place; otherwise (logs, CI) it prints a
// plain line at most every `quiet_seconds` and at the end. Under --quiet it
// prints nothing, under --json only on a terminal (run_control.h).
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mg::app {

class Progress {
 public:
  // total_steps: steps in this run (for the ETA); unit: what a sample is ("samples", "clips").
  Progress(std::string label, int64_t total_steps, std::string unit = "samples", double quiet_seconds = 10.0);
  // After each step: global step index (0-based, within this run), current loss (NaN: none shown), samples in the step.
  void update(int64_t step, double loss, int64_t samples, const std::string& extra = "");
  // Ends the line (terminal) and prints `summary` on its own line if non-empty.
  void finish(const std::string& summary = "");

 private:
  std::string line(int64_t step, double loss, const std::string& extra) const;
  std::string label_, unit_;
  int64_t total_;
  double quiet_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  int64_t samples_ = 0;
  bool drawn_ = false;
  bool silent_;
};

// The time a whole training run will take, estimated from its first steps:
// after `first_steps` steps (or 10 seconds, whichever comes first) it prints
// once "estimated time for the whole run: ..." to stderr. Held-out evaluation
// and checkpoints between epochs are not in the estimate, and it says so.
class RunEstimate {
 public:
  RunEstimate(int64_t total_steps, int64_t first_steps = 5);
  // After each training step.
  void step();

 private:
  int64_t total_, first_, done_ = 0;
  bool printed_ = false;
  std::chrono::steady_clock::time_point start_;
};

// The resolved configuration as one block on stdout before the first step:
// "configuration:" and one "  key  value" line per entry, keys aligned.
void print_config(const std::vector<std::pair<std::string, std::string>>& entries);

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace mg::app
