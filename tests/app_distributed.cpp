// Both programs under mpirun (models/distributed.h): N ranks train the model
// of one, a checkpoint resumes at another rank count, a killed rank ends the
// job, ranks started differently are refused, and rank 0 alone writes. Skips
// when this build has no MPI or mpirun is not installed.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "models/checkpoint.h"
#include "models/distributed.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const std::string kChopin = MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm";
const std::string kJazz = MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae";
const std::string kJazzTiny = " --clip-seconds 0.5 --n-fft 256 --hop 128 --channels 4,4 --threads 1";
const std::string kChopinTiny = " --hidden1 32 --hidden2 16 --dense 16 --batch 16 --max-steps 6 --threads 1";

std::string mpirun_path() {
  for (const char* p : {"/usr/bin/mpirun", "/usr/local/bin/mpirun"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

// Skips the case unless ranks can run.
bool ranks_available() {
  if (!mg::nn::dist::built_with_mpi()) {
    mg::test::skip("this build has no MPI (libopenmpi-dev was not found)");
    return false;
  }
  if (mpirun_path().empty()) {
    mg::test::skip("mpirun is not installed (openmpi-bin)");
    return false;
  }
  return true;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::vector<std::string> mpirun_args(int ranks) {
  std::vector<std::string> argv = {mpirun_path(), "--oversubscribe", "-np", std::to_string(ranks)};
  if (geteuid() == 0) argv.insert(argv.begin() + 1, "--allow-run-as-root");
  return argv;
}

// `ranks` processes of bin with args (0: bin alone, without mpirun).
mg::test::ChildResult run_ranks(int ranks, const std::string& bin, const std::string& args, double timeout = 300) {
  std::vector<std::string> argv = ranks > 0 ? mpirun_args(ranks) : std::vector<std::string>{};
  argv.push_back(bin);
  for (const std::string& w : words(args)) argv.push_back(w);
  return mg::test::run_program(argv, timeout);
}

// The numeric columns of log.csv, row by row.
std::vector<std::map<std::string, double>> log_rows(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  std::vector<std::string> names;
  for (std::stringstream ss(line); std::getline(ss, line, ',');) names.push_back(line);
  std::vector<std::map<std::string, double>> rows;
  for (std::string row; std::getline(f, row);) {
    std::map<std::string, double> r;
    std::stringstream ss(row);
    for (const std::string& name : names) {
      std::string cell;
      std::getline(ss, cell, ',');
      r[name] = cell.empty() ? NAN : std::strtod(cell.c_str(), nullptr);
    }
    rows.push_back(r);
  }
  return rows;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(1e-30, std::max(std::abs(a), std::abs(b))); }

// Every loss column of two logs agrees within tol (relative); the time columns are not compared.
void check_same_losses(const std::string& a, const std::string& b, const std::vector<std::string>& columns, double tol) {
  const auto ra = log_rows(a), rb = log_rows(b);
  REQUIRE(ra.size() == rb.size());
  REQUIRE(!ra.empty());
  for (size_t i = 0; i < ra.size(); ++i)
    for (const std::string& c : columns) {
      INFO("row " << i + 1 << ", column " << c << ": " << ra[i].at(c) << " and " << rb[i].at(c));
      CHECK(std::isfinite(ra[i].at(c)));
      CHECK(rel(ra[i].at(c), rb[i].at(c)) <= tol);
    }
}

// The largest relative difference between two checkpoints' weights.
double weight_difference(const std::string& a, const std::string& b, const std::string& app) {
  const mg::nn::Checkpoint ca = mg::nn::load_checkpoint(a, app), cb = mg::nn::load_checkpoint(b, app);
  double worst = 0;
  REQUIRE(ca.model.size() == cb.model.size());
  for (size_t i = 0; i < ca.model.size(); ++i) {
    REQUIRE(ca.model[i].first == cb.model[i].first);
    const std::vector<double> x = ca.model[i].second.to_vector<double>(), y = cb.model[i].second.to_vector<double>();
    double scale = 1e-3;
    for (double v : x) scale = std::max(scale, std::abs(v));
    for (size_t k = 0; k < x.size(); ++k) worst = std::max(worst, std::abs(x[k] - y[k]) / scale);
  }
  return worst;
}

}  // namespace

TEST_CASE("jazz-vae: 2 ranks train the model of 1 (batch norm and free bits over the whole batch), rank 0 alone writes") {
  if (!ranks_available()) return;
  const std::string dir = mg::test::scratch_dir("dist_jazz");
  const std::string args = "train --epochs 2 --batch 10" + kJazzTiny + " --out ";
  const auto one = run_ranks(0, kJazz, args + dir + "/one");
  REQUIRE_MESSAGE(one.exit_code == 0, one.output);
  const auto two = run_ranks(2, kJazz, args + dir + "/two");
  REQUIRE_MESSAGE(two.exit_code == 0, two.output);
  check_same_losses(dir + "/one/log.csv", dir + "/two/log.csv",
                    {"train_loss", "train_recon", "train_kl", "heldout_recon", "heldout_kl"}, 1e-5);
  CHECK(weight_difference(dir + "/one/model.safetensors", dir + "/two/model.safetensors", "jazz-vae") < 1e-4);
  // One writer: the same files as one process, no temporary or lock left, and one progress stream.
  std::vector<std::string> a, b;
  for (const auto& e : fs::directory_iterator(dir + "/one")) a.push_back(e.path().filename().string());
  for (const auto& e : fs::directory_iterator(dir + "/two")) b.push_back(e.path().filename().string());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  CHECK(a == b);
  size_t configs = 0;
  for (size_t at = 0; (at = two.output.find("\n  seed ", at)) != std::string::npos; ++at) ++configs;
  CHECK(configs == 1);
}

TEST_CASE("chopin-lstm: 2 ranks train the model of 1 (dropout masks by global row), held-out split among the ranks") {
  if (!ranks_available()) return;
  const std::string dir = mg::test::scratch_dir("dist_chopin");
  for (const std::string model : {"seed", "embed"}) {
    const std::string args = "train --model " + model + " --epochs 2 --dropout 0.2" + kChopinTiny + " --out ";
    const auto one = run_ranks(0, kChopin, args + dir + "/one-" + model);
    REQUIRE_MESSAGE(one.exit_code == 0, one.output);
    const auto two = run_ranks(2, kChopin, args + dir + "/two-" + model);
    REQUIRE_MESSAGE(two.exit_code == 0, two.output);
    INFO("model " << model);
    check_same_losses(dir + "/one-" + model + "/log.csv", dir + "/two-" + model + "/log.csv",
                      {"train_loss", "heldout_loss", "heldout_accuracy", "heldout_loss_all"}, 1e-5);
    CHECK(weight_difference(dir + "/one-" + model + "/model.safetensors", dir + "/two-" + model + "/model.safetensors",
                            "chopin-lstm") < 1e-4);
  }
}

TEST_CASE("jazz-vae prior: 2 ranks train the prior of 1") {
  if (!ranks_available()) return;
  const std::string dir = mg::test::scratch_dir("dist_prior");
  const auto vae = run_ranks(0, kJazz, "train --epochs 1" + kJazzTiny + " --out " + dir + "/vae");
  REQUIRE_MESSAGE(vae.exit_code == 0, vae.output);
  const std::string ck = dir + "/vae/model.safetensors";
  const auto one = run_ranks(0, kJazz, "prior --checkpoint " + ck + " --epochs 2 --batch 8 --threads 1 --out " + dir + "/one.safetensors");
  REQUIRE_MESSAGE(one.exit_code == 0, one.output);
  const auto two = run_ranks(2, kJazz, "prior --checkpoint " + ck + " --epochs 2 --batch 8 --threads 1 --out " + dir + "/two.safetensors");
  REQUIRE_MESSAGE(two.exit_code == 0, two.output);
  CHECK(weight_difference(dir + "/one.safetensors", dir + "/two.safetensors", "jazz-vae-prior") < 1e-4);
}

TEST_CASE("a checkpoint resumes at another rank count: 2 ranks then 1, 1 then 2, as a run never stopped") {
  if (!ranks_available()) return;
  const std::string dir = mg::test::scratch_dir("dist_resume");
  // A constant learning rate: the cosine schedule spans each command's --epochs.
  const std::string args = " --batch 10 --lr-schedule constant" + kJazzTiny + " --out ";
  const auto whole = run_ranks(0, kJazz, "train --epochs 3" + args + dir + "/whole");
  REQUIRE_MESSAGE(whole.exit_code == 0, whole.output);
  for (const auto& [first, then] : {std::pair{2, 0}, std::pair{0, 2}}) {
    const std::string out = dir + "/from" + std::to_string(first) + "to" + std::to_string(then);
    const auto a = run_ranks(first, kJazz, "train --epochs 1" + args + out);
    REQUIRE_MESSAGE(a.exit_code == 0, a.output);
    const auto b = run_ranks(then, kJazz, "train --resume --epochs 3" + args + out);
    REQUIRE_MESSAGE(b.exit_code == 0, b.output);
    INFO(out);
    check_same_losses(dir + "/whole/log.csv", out + "/log.csv", {"train_loss", "heldout_recon", "heldout_kl"}, 1e-5);
  }
}

TEST_CASE("ranks started with different flags are refused naming the flag, and --batch must split among the ranks") {
  if (!ranks_available()) return;
  const std::string dir = mg::test::scratch_dir("dist_mismatch");
  std::vector<std::string> argv = mpirun_args(1);
  for (const std::string& w : words(kJazz + " train --epochs 1 --lr 0.001" + kJazzTiny + " --out " + dir + "/a"))
    argv.push_back(w);
  argv.push_back(":");
  argv.insert(argv.end(), {"-np", "1"});
  for (const std::string& w : words(kJazz + " train --epochs 1 --lr 0.002" + kJazzTiny + " --out " + dir + "/a"))
    argv.push_back(w);
  const auto r = mg::test::run_program(argv, 120);
  CHECK(r.exit_code != 0);
  CHECK_MESSAGE(r.output.find("--lr is 0.001 on rank 0 but 0.002 on rank 1") != std::string::npos, r.output);
  CHECK_FALSE(fs::exists(dir + "/a/model.safetensors"));

  const auto odd = run_ranks(2, kJazz, "train --epochs 1 --batch 7" + kJazzTiny + " --out " + dir + "/b", 120);
  CHECK(odd.exit_code == 2);  // a usage error
  CHECK_MESSAGE(odd.output.find("--batch 7 does not split evenly among the 2 ranks") != std::string::npos, odd.output);

  const auto gen = run_ranks(2, kJazz, "encode --checkpoint " + dir + "/none.safetensors x.wav", 120);
  CHECK(gen.exit_code != 0);
  CHECK_MESSAGE(gen.output.find("runs as one process; start it without mpirun") != std::string::npos, gen.output);
}

TEST_CASE("a rank killed with SIGKILL ends the job within 60 s naming the rank, and the last checkpoint resumes") {
  if (!ranks_available()) return;
  const std::string dir = mg::test::scratch_dir("dist_kill");
  const std::string out = dir + "/run";
  mg::test::ChildResult r;
  std::thread job([&] { r = run_ranks(2, kJazz, "train --epochs 400 --batch 10" + kJazzTiny + " --out " + out, 240); });
  // Rank 1, once a checkpoint exists: found by its launcher's environment and its command line.
  pid_t victim = 0;
  for (int i = 0; i < 1200 && victim == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!fs::exists(out + "/model.safetensors")) continue;
    for (const auto& e : fs::directory_iterator("/proc")) {
      const std::string pid = e.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream cmd(e.path() / "cmdline"), env(e.path() / "environ");
      const std::string c((std::istreambuf_iterator<char>(cmd)), {}), v((std::istreambuf_iterator<char>(env)), {});
      if (c.find(out) != std::string::npos && c.rfind(kJazz, 0) == 0 &&
          v.find(std::string("OMPI_COMM_WORLD_RANK=1") + '\0') != std::string::npos)
        victim = std::stoi(pid);
    }
  }
  if (victim == 0) {
    job.detach();
    FAIL("rank 1 of the job was not found (or it wrote no checkpoint)");
  }
  const auto killed_at = std::chrono::steady_clock::now();
  kill(victim, SIGKILL);
  job.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  CHECK_FALSE(r.timed_out);
  CHECK(seconds < 60);
  CHECK(r.exit_code != 0);
  CHECK_MESSAGE(r.output.find("rank 1") != std::string::npos, r.output);
  // The last complete checkpoint is whole, and the job resumes from it on one process.
  const mg::nn::Checkpoint ck = mg::nn::load_checkpoint(out + "/model.safetensors", "jazz-vae");
  const int done = ck.meta.at("epoch").get<int>();
  const auto resumed = run_ranks(0, kJazz, "train --resume --epochs " + std::to_string(done + 1) + " --batch 10" +
                                               kJazzTiny + " --out " + out);
  CHECK_MESSAGE(resumed.exit_code == 0, resumed.output);
}
