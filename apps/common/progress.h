#pragma once
// A progress line for long loops: epoch, step, loss, rate and ETA. On a
// terminal it redraws one line in place; otherwise (logs, CI) it prints a
// plain line at most every `quiet_seconds` and at the end.
#include <chrono>
#include <cstdint>
#include <string>

namespace mg::app {

class Progress {
 public:
  // total_steps: steps in this run (for the ETA); unit: what a sample is ("samples", "clips").
  Progress(std::string label, int64_t total_steps, std::string unit = "samples", double quiet_seconds = 10.0);
  // After each step: global step index (0-based, within this run), current loss, samples in the step.
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
};

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace mg::app
