#include "apps/common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "apps/common/run_control.h"

namespace mg::app {

std::string format_duration(double s) {
  if (s < 0 || s != s) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

Progress::Progress(std::string label, int64_t total_steps, std::string unit, double quiet_seconds)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total_steps),
      quiet_(quiet_seconds),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_),
      silent_(output_mode() == OutputMode::Quiet || (output_mode() == OutputMode::Json && !tty_)) {}

std::string Progress::line(int64_t step, double loss, const std::string& extra) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(samples_) / elapsed : 0.0;
  const double eta = step + 1 > 0 ? elapsed / static_cast<double>(step + 1) * static_cast<double>(total_ - step - 1) : 0;
  const std::string loss_text = std::isnan(loss) ? "" : fmt::format(" loss {:.4f}", loss);
  return fmt::format("{} step {}/{}{} {:.1f} {}/s ETA {}{}{}", label_, step + 1, total_, loss_text, rate, unit_,
                     format_duration(eta), extra.empty() ? "" : " ", extra);
}

void Progress::update(int64_t step, double loss, int64_t samples, const std::string& extra) {
  samples_ += samples;
  if (silent_) return;
  auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  const bool last = step + 1 >= total_;
  if (tty_) {
    if (since < 0.1 && !last) return;
    std::fprintf(stderr, "\r\033[K%s", line(step, loss, extra).c_str());
    drawn_ = true;
  } else {
    if (since < quiet_ && !last) return;
    std::fprintf(stderr, "%s\n", line(step, loss, extra).c_str());
  }
  std::fflush(stderr);
  last_print_ = now;
}

void Progress::finish(const std::string& summary) {
  if (silent_) return;
  if (tty_ && drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
  if (!summary.empty()) std::fprintf(stderr, "%s\n", summary.c_str());
  std::fflush(stderr);
}

RunEstimate::RunEstimate(int64_t total_steps, int64_t first_steps)
    : total_(total_steps), first_(std::max<int64_t>(1, first_steps)), start_(std::chrono::steady_clock::now()) {}

void RunEstimate::step() {
  ++done_;
  if (printed_ || output_mode() != OutputMode::Normal) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (done_ < std::min(first_, total_) && elapsed < 10.0) return;
  printed_ = true;
  const double whole = elapsed / static_cast<double>(done_) * static_cast<double>(total_);
  std::fprintf(stderr, "estimated time for the whole run: %s for %lld steps (from the first %lld; held-out evaluation "
               "and checkpoints not included)\n",
               format_duration(whole).c_str(), static_cast<long long>(total_), static_cast<long long>(done_));
  std::fflush(stderr);
}

void print_config(const std::vector<std::pair<std::string, std::string>>& entries) {
  size_t width = 0;
  for (const auto& [k, v] : entries) width = std::max(width, k.size());
  std::printf("configuration:\n");
  for (const auto& [k, v] : entries) std::printf("  %-*s  %s\n", static_cast<int>(width), k.c_str(), v.c_str());
  std::fflush(stdout);
}

}  // namespace mg::app
