#pragma once
// Conventions shared by chopin-lstm and jazz-vae: the common flags, validators
// that state their limits in --help, device selection, memory estimates, and
// the top-level error handler that turns every error into one line on stderr.
//
// Exit statuses: 0 success; 1 a runtime error (a file that cannot be read or
// written, data that does not fit, a machine without the memory or the GPU
// asked for); 2 a usage error (a flag missing, malformed or out of range).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"

namespace mg::app {

inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

// A command line that cannot run whatever the files hold: exit status 2.
struct UsageError : mg::Error {
  using mg::Error::Error;
};

template <typename... Args>
[[noreturn]] void usage_fail(fmt::format_string<Args...> f, Args&&... args) {
  throw UsageError(fmt::format(f, std::forward<Args>(args)...));
}

// Limits of the common flags.
inline constexpr int kMaxEpochs = 1'000'000;
inline constexpr int kMaxThreads = 1024;

struct CommonOptions {
  std::string data;          // empty: the app's built-in data
  std::string out;
  int epochs = 0;
  int batch = 0;
  std::string device = "cpu";
  uint64_t seed = 42;
  int threads = 0;           // 0: every CPU this process may use
  std::string precision = "fp32";  // matrix products: fp32 or bf16 (tensor/backend.h MatmulPrecision)
  bool quiet = false;        // --quiet: warnings and errors only
  bool json = false;         // --json: JSON records on stdout (apps/common/run_control.h)
};

// Adds --data/--epochs/--batch (when with_training; batch limited to
// max_batch), --device, --seed, --threads, --precision, --quiet and --json to
// a subcommand.
void add_common_options(CLI::App* cmd, CommonOptions& o, bool with_training = true, int max_batch = 4096);

// Validators for numeric flags. Each parses the text itself (so an integer
// too large for 64 bits, "nan" or "inf" is refused rather than clamped or
// accepted), checks the closed range [lo, hi], and shows the range in --help.
CLI::Validator integer_in(int64_t lo, int64_t hi);
CLI::Validator any_unsigned();  // [0, 2^64 - 1]
CLI::Validator number_in(double lo, double hi);
// A finite number in (0, hi].
CLI::Validator positive_up_to(double hi);

// "cpu" or "cuda"; a missing GPU or a CPU-only build is a one-line error
// naming --device. Also applies --threads, --precision (an error naming the
// missing instructions on a CPU without AVX512_BF16), --quiet and --json.
Device setup_device(const CommonOptions& o);

// What runs the numbers, for a run's configuration: "cpu (avx512 kernels, bf16
// products), 2 threads".
std::string compute_summary(Device device);

// Bytes of memory this process can still use: MemAvailable of /proc/meminfo,
// or the physical memory when that cannot be read.
double available_memory_bytes();

// Refuses work whose estimated memory exceeds what is available, before
// anything is allocated: "<what>: needs about 12.3 GB of memory, more than the
// 8.1 GB available". `what` names the flags that set the size.
void check_memory(const std::string& what, double bytes);

// "12.3 GB", "512 MB", "64 kB"
std::string format_bytes(double bytes);

// Runs body() and maps errors to exit codes: a UsageError prints
// "<prog>: error: <message>" and returns 2; mg::Error and other exceptions
// print the same and return 1.
// Under mpirun (models/distributed.h) it starts MPI for the command when
// `distributed` (training), and refuses the command otherwise.
int guarded_main(const std::string& prog, const std::function<int()>& body, bool distributed = false);

// Under mpirun: refuses ranks started with different flags or data, naming
// the first difference (`data` describes the data as this rank read it: its
// size and a hash). One process: nothing.
void require_same_run(const std::string& data);

// Parses argv with CLI11 and then calls check() for what CLI11 cannot check
// (flags that depend on each other). A flag given an empty value (--like "")
// is a usage error: no flag means "nothing" by an empty text. Returns -1 to continue, else the exit
// status: 0 after --help, 2 after a usage error (its one-line message printed
// as "<app name>: error: ...").
int parse_cli(CLI::App& app, int argc, const char* const* argv, const std::function<void()>& check = {});

// The command line parse_cli last parsed, program name first (for the run report).
const std::vector<std::string>& command_line();

// Whether the command line parse_cli last parsed gave this flag ("--lr").
bool flag_given(const std::string& flag);

// A setting a --resume may not change: its flag, the checkpoint's value and
// the command line's, as text.
struct ResumedSetting {
  std::string flag, checkpoint, now;
};
// The settings that shape the model, the data or the optimizer are the
// checkpoint's on --resume; a flag among them given with another value than
// the checkpoint's is a usage error listing every such flag, old -> new.
// Flags not given take the checkpoint's values; --epochs, --threads,
// --device, --precision, --quiet, --json and --skip-nonfinite may change.
void refuse_changed_settings(const std::string& checkpoint, const std::vector<ResumedSetting>& settings);

}  // namespace mg::app
