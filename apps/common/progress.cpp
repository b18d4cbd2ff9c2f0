#include "apps/common/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

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
      last_print_(start_) {}

std::string Progress::line(int64_t step, double loss, const std::string& extra) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(samples_) / elapsed : 0.0;
  const double eta = step + 1 > 0 ? elapsed / static_cast<double>(step + 1) * static_cast<double>(total_ - step - 1) : 0;
  return fmt::format("{} step {}/{} loss {:.4f} {:.1f} {}/s ETA {}{}{}", label_, step + 1, total_, loss, rate, unit_,
                     format_duration(eta), extra.empty() ? "" : " ", extra);
}

void Progress::update(int64_t step, double loss, int64_t samples, const std::string& extra) {
  samples_ += samples;
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
  if (tty_ && drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
  if (!summary.empty()) std::fprintf(stderr, "%s\n", summary.c_str());
  std::fflush(stderr);
}

}  // namespace mg::app
