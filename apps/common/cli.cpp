#include "apps/common/cli.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>

#include "apps/common/run_control.h"
#include "models/distributed.h"
#include "tensor/backend.h"

namespace mg::app {

void add_common_options(CLI::App* cmd, CommonOptions& o, bool with_training, int max_batch) {
  if (with_training) {
    cmd->add_option("--data", o.data, "Folder of training files (default: the built-in set)");
    cmd->add_option("--epochs", o.epochs, "Training epochs")->check(integer_in(1, kMaxEpochs));
    cmd->add_option("--batch", o.batch, "Batch size")->check(integer_in(1, max_batch));
  }
  cmd->add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--seed", o.seed, "Random seed (same seed, same result on the CPU)")
      ->check(any_unsigned());
  cmd->add_option("--threads", o.threads, "CPU threads (0 = all cores)")->check(integer_in(0, kMaxThreads));
  cmd->add_option("--precision", o.precision,
                  "Matrix products: fp32, or bf16 operands with float32 sums (twice the speed on a CPU with "
                  "AVX512_BF16); weights, optimizer state, the loss and the LSTM cell stay float32")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  auto* quiet = cmd->add_flag("--quiet", o.quiet, "Print only warnings and errors");
  cmd->add_flag("--json", o.json, "Print one JSON object per epoch (train) or per written file, and nothing else, on stdout")
      ->excludes(quiet);
}

CLI::Validator integer_in(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        int64_t v = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, v);
        if (ec != std::errc() || ptr != end || v < lo || v > hi)
          return fmt::format("expected an integer in [{}, {}], got '{}'", lo, hi, text);
        return "";
      },
      fmt::format("in [{}, {}]", lo, hi));
}

CLI::Validator any_unsigned() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        uint64_t v = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, v);
        if (ec != std::errc() || ptr != end) return fmt::format("expected an integer in [0, 2^64 - 1], got '{}'", text);
        return "";
      },
      "in [0, 2^64 - 1]");
}

namespace {

// CLI11 messages on one line, as every error is.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

// The whole text as a finite double, or NaN.
double parse_finite(const std::string& text) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return NAN;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(v) ? v : NAN;
}

}  // namespace

CLI::Validator number_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        const double v = parse_finite(text);
        if (!(v >= lo && v <= hi)) return fmt::format("expected a finite number in [{}, {}], got '{}'", lo, hi, text);
        return "";
      },
      fmt::format("in [{}, {}]", lo, hi));
}

CLI::Validator positive_up_to(double hi) {
  return CLI::Validator(
      [hi](std::string& text) -> std::string {
        const double v = parse_finite(text);
        if (!(v > 0 && v <= hi)) return fmt::format("expected a finite number in (0, {}], got '{}'", hi, text);
        return "";
      },
      fmt::format("in (0, {}]", hi));
}

Device setup_device(const CommonOptions& o) {
  const nn::dist::Communicator& ranks = nn::dist::world();
  if (ranks.distributed() && o.batch > 0 && o.batch % ranks.size() != 0)
    usage_fail("--batch {} does not split evenly among the {} ranks; choose a multiple of {}", o.batch, ranks.size(),
               ranks.size());
  set_cpu_threads(o.threads);
  set_output_mode(o.json ? OutputMode::Json : o.quiet ? OutputMode::Quiet : OutputMode::Normal);
  if (o.precision != "fp32" && o.precision != "bf16") usage_fail("--precision: expected fp32 or bf16, got '{}'", o.precision);
  if (o.precision == "bf16") {
    if (o.device == "cuda") usage_fail("--precision bf16: the CUDA backend computes in fp32; use it with --device cpu");
    const std::string why = cpu_bf16_unsupported();
    if (!why.empty()) fail("--precision bf16: {}", why);
    set_matmul_precision(MatmulPrecision::Bf16);
  }
  if (o.device == "cpu") return Device::CPU;
  if (o.device != "cuda") usage_fail("--device: expected cpu or cuda, got '{}'", o.device);
#if defined(MUSICGEN_WITH_CUDA)
  if (!cuda_available()) fail("--device cuda: no CUDA GPU is available on this machine");
  // Under mpirun each rank takes the GPU of its rank on this host.
  if (nn::dist::world().distributed()) select_cuda_device(nn::dist::world().local_rank());
  return Device::CUDA;
#else
  fail("--device cuda: this build has no CUDA backend (nvcc was not found when it was configured)");
#endif
}

std::string compute_summary(Device device) {
  const std::string threads = fmt::format("{} CPU thread{}", cpu_threads(), cpu_threads() == 1 ? "" : "s");
  if (device != Device::CPU) return fmt::format("{}, {}", device_name(device), threads);
  return fmt::format("cpu ({} kernels, {} products), {}", cpu_isa(),
                     matmul_precision() == MatmulPrecision::Bf16 ? "bf16" : "fp32", threads);
}

double available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kb = 0;
  while (meminfo >> key >> kb) {
    if (key == "MemAvailable:") return kb * 1024.0;
    meminfo.ignore(64, '\n');
  }
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e9) return fmt::format("{:.1f} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.0f} MB", bytes / 1e6);
  return fmt::format("{:.0f} kB", bytes / 1e3);
}

void check_memory(const std::string& what, double bytes) {
  const double available = available_memory_bytes();
  if (bytes > available)
    fail("{}: needs about {} of memory, more than the {} available", what, format_bytes(bytes),
         format_bytes(available));
}

int guarded_main(const std::string& prog, const std::function<int()>& body, bool distributed) {
  // Line-buffered stdout keeps results and the progress lines on stderr in order in logs.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Under mpirun a rank's own errors name it (rank 0's are the run's).
  auto who = [&prog] {
    const nn::dist::Communicator& c = nn::dist::world();
    return c.root() ? prog : fmt::format("{} (rank {} of {})", prog, c.rank(), c.size());
  };
  try {
    if (!distributed && nn::dist::launched_by_mpirun())
      usage_fail("this command runs as one process; start it without mpirun (train and prior run under mpirun)");
    nn::dist::Session session;  // MPI when mpirun started this process, for the whole command
    const int status = body();
    session.finish();
    return status;
  } catch (const nn::dist::ReportedByRankZero&) {
    // Every rank found the same error; rank 0 has printed it.
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\n", who().c_str(), e.what());
    return kExitUsage;
  } catch (const mg::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", who().c_str(), e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", who().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", who().c_str(), e.what());
  }
  return kExitRuntime;
}

void require_same_run(const std::string& data) {
  if (!nn::dist::world().distributed()) return;
  // The command line as (flag, its value) pairs, then the data as this rank read it.
  std::vector<std::pair<std::string, std::string>> items;
  const std::vector<std::string>& args = command_line();
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].rfind("--", 0) == 0) {
      const bool valued = i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0;
      items.emplace_back(args[i], valued ? args[i + 1] : "(given)");
      if (valued) ++i;
    } else {
      items.emplace_back(fmt::format("argument {}", i), args[i]);
    }
  }
  items.emplace_back("the data", data);
  nn::dist::require_same(items, "flags or data");
}

namespace {

// CLI11 says only "A subcommand is required" for a misspelt one; this names it.
void check_subcommand(CLI::App& app, int argc, const char* const* argv) {
  if (argc < 2 || argv[1][0] == '-') return;
  std::string names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == argv[1]) return;
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  usage_fail("unknown subcommand '{}' (one of: {})", argv[1], names);
}

}  // namespace

namespace {

// Every option that takes a value and whose text does not state its default
// (flags whose default depends on --model do, in words) shows its bound
// variable's value before parsing, "=42", in --help, in every subcommand.
void show_defaults(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (opt->get_expected_min() > 0 && opt->get_default_str().empty() &&
        opt->get_description().find("default") == std::string::npos)
      opt->capture_default_str();
  }
  for (CLI::App* sub : app.get_subcommands({})) show_defaults(*sub);
}

}  // namespace

static std::vector<std::string>& command_line_storage() {
  static std::vector<std::string> argv;
  return argv;
}

static std::set<std::string>& given_flags() {
  static std::set<std::string> flags;
  return flags;
}

const std::vector<std::string>& command_line() { return command_line_storage(); }

bool flag_given(const std::string& flag) { return given_flags().count(flag) > 0; }

void refuse_changed_settings(const std::string& checkpoint, const std::vector<ResumedSetting>& settings) {
  std::string changed;
  for (const ResumedSetting& s : settings)
    if (flag_given(s.flag) && s.now != s.checkpoint)
      changed += fmt::format("{}{} {} -> {}", changed.empty() ? "" : ", ", s.flag, s.checkpoint, s.now);
  if (!changed.empty())
    usage_fail("--resume: {} was trained with other settings: {}; drop these flags to continue with the "
               "checkpoint's, or train into another --out",
               checkpoint, changed);
}

namespace {

// Every option given on the command line, in the parsed subcommand and above it; an empty value is refused.
void collect_given(const CLI::App& app) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0) continue;
    const std::string name = opt->get_name();
    given_flags().insert(name);
    if (opt->get_expected_min() > 0)
      for (const std::string& value : opt->results())
        if (value.empty()) usage_fail("{}: an empty value; give one, or leave the flag out", name);
  }
  for (const CLI::App* sub : app.get_subcommands()) collect_given(*sub);
}

}  // namespace

int parse_cli(CLI::App& app, int argc, const char* const* argv, const std::function<void()>& check) {
  show_defaults(app);
  command_line_storage().assign(argv, argv + argc);
  try {
    check_subcommand(app, argc, argv);
    given_flags().clear();
    app.parse(argc, argv);
    collect_given(app);
    if (check) check();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error; CLI11's messages already name the flag.
    std::fprintf(stderr, "%s: error: %s (see --help)\n", app.get_name().c_str(), one_line(e.what()).c_str());
    return kExitUsage;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s (see --help)\n", app.get_name().c_str(), e.what());
    return kExitUsage;
  }
  return -1;
}

}  // namespace mg::app
