// libFuzzer target: chopin-lstm's command-line parsing and checks. Whatever
// the arguments, parsing returns (a command, or an exit status) and never
// throws or touches a file.
#include "apps/chopin-lstm/chopin.h"
#include "tests/fuzz/fuzz_cli.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> args = mg::fuzz::arguments("chopin-lstm", data, size);
  const std::vector<const char*> argv = mg::fuzz::argv_of(args);
  chopin::Command command;
  const int status = chopin::parse_command_line(static_cast<int>(argv.size()), argv.data(), command);
  if (status != -1 && status != 0 && status != mg::app::kExitUsage) __builtin_trap();
  return 0;
}
