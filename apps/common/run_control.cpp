#include "apps/common/run_control.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "io/utf8.h"
#include "tensor/error.h"

namespace mg::app {

namespace {

OutputMode g_mode = OutputMode::Normal;
int g_json_fd = -1;  // the original stdout, in --json mode

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
  // NaN and infinity are not JSON: nlohmann writes them as null. Names need not be UTF-8 (io/utf8.h).
  nlohmann::json valid = record;
  io::make_valid_utf8(valid);
  const std::string line = valid.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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

}  // namespace mg::app
