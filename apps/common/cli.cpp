#include "apps/common/cli.h"

#include <cstdio>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace mg::app {

void add_common_options(CLI::App* cmd, CommonOptions& o, bool with_training) {
  if (with_training) {
    cmd->add_option("--data", o.data, "Folder of training files (default: the built-in set)");
    cmd->add_option("--epochs", o.epochs, "Training epochs")->check(CLI::Range(1, 1000000));
    cmd->add_option("--batch", o.batch, "Batch size")->check(CLI::Range(1, 1000000));
  }
  cmd->add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--seed", o.seed, "Random seed (same seed, same result on the CPU)");
  cmd->add_option("--threads", o.threads, "CPU threads (0 = all cores)")->check(CLI::Range(0, 1024));
}

Device setup_device(const CommonOptions& o) {
  set_cpu_threads(o.threads);
  if (o.device == "cpu") return Device::CPU;
  if (o.device != "cuda") fail("--device: expected cpu or cuda, got '{}'", o.device);
#if defined(MUSICGEN_WITH_CUDA)
  if (!cuda_available()) fail("--device cuda: no CUDA GPU is available on this machine");
  return Device::CUDA;
#else
  fail("--device cuda: this build has no CUDA backend (nvcc was not found when it was configured)");
#endif
}

int guarded_main(const std::string& prog, const std::function<int()>& body) {
  // Line-buffered stdout keeps results and the progress lines on stderr in order in logs.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    return body();
  } catch (const mg::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog.c_str(), e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", prog.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog.c_str(), e.what());
  }
  return 1;
}

int parse_cli(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error; CLI11's messages already name the flag.
    std::fprintf(stderr, "%s: error: %s (see --help)\n", app.get_name().c_str(), e.what());
    return e.get_exit_code() != 0 ? e.get_exit_code() : 2;
  }
  return -1;
}

}  // namespace mg::app
