#pragma once
// Conventions shared by chopin-lstm and jazz-vae: the common flags, device
// selection, and the top-level error handler that turns every mg::Error into
// one line on stderr and a non-zero exit.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "tensor/dtype.h"

namespace mg::app {

struct CommonOptions {
  std::string data;          // empty: the app's built-in data
  std::string out;
  int epochs = 0;
  int batch = 0;
  std::string device = "cpu";
  uint64_t seed = 42;
  int threads = 0;           // 0: every CPU this process may use
};

// Adds --data/--out/--epochs/--batch/--device/--seed/--threads to a subcommand.
// `with_data` false leaves out --data/--epochs/--batch (e.g. for generate).
void add_common_options(CLI::App* cmd, CommonOptions& o, bool with_training = true);

// "cpu" or "cuda"; a missing GPU or a CPU-only build is a one-line error
// naming --device. Also applies --threads.
Device setup_device(const CommonOptions& o);

// Runs body() and maps errors to exit codes: mg::Error and other exceptions
// print "<prog>: error: <message>" and return 1.
int guarded_main(const std::string& prog, const std::function<int()>& body);

// Parses argv with CLI11; returns -1 to continue, else the exit code (help or a bad flag).
int parse_cli(CLI::App& app, int argc, char** argv);

}  // namespace mg::app
