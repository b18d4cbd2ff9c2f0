// The life of a run's output folder, through both built programs: one run per
// folder (a lock naming its owner's PID, which a dead owner's file does not
// keep), names that are not UTF-8 reaching JSON and HTML as valid text, an
// output folder that cannot be written found before the first step, and a
// --resume that refuses changed settings but accepts the flags that may change.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "io/audio.h"
#include "io/utf8.h"
#include "models/checkpoint.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const std::string kChopin = MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm";
const std::string kJazz = MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae";
const std::string kTiny = " --hidden1 8 --hidden2 8 --dense 8 --batch 16 --max-steps 2 --threads 2";
const std::string kJazzTiny = " --clip-seconds 0.5 --n-fft 256 --hop 128 --channels 4,4 --threads 2";

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Runs bin with the words of args, and further arguments that may hold spaces or any byte.
mg::test::ChildResult run(const std::string& bin, const std::string& args, std::vector<std::string> more = {}) {
  std::vector<std::string> argv = words(args);
  argv.insert(argv.begin(), bin);
  argv.insert(argv.end(), more.begin(), more.end());
  return mg::test::run_program(argv, 300);
}

using mg::test::slurp;

std::string last_line(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
}

// Every path under dir with its kind, size and bytes: what a refused run must leave as it was.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    files[e.path().string()] = e.is_regular_file() ? slurp(e.path()) : std::string("(not a file)");
  return files;
}

// A PID that belonged to a process which has ended.
pid_t dead_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

// A tone of a few partials, different per seed.
std::vector<float> tone(double seconds, int seed) {
  std::vector<float> x(static_cast<size_t>(seconds * 22050));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * 110.0 * (seed + 1) * static_cast<double>(i) / 22050));
  return x;
}

// The config entry `key` of the report.json section `name`.
std::string report_entry(const nlohmann::json& report, const std::string& name, const std::string& key) {
  for (const nlohmann::json& section : report.at("sections"))
    if (section.at("name") == name)
      for (const nlohmann::json& entry : section.at("config"))
        if (entry.at(0) == key) return entry.at(1).get<std::string>();
  return "(none)";
}

}  // namespace

TEST_CASE("one run per folder: a second run fails at once naming the folder and the other's PID, and a dead run's lock blocks nobody") {
  const std::string dir = mg::test::scratch_dir("lifecycle-lock");
  const std::string out = dir + "/run";
  fs::create_directories(out);
  auto busy = [&](const std::string& app, pid_t pid) {
    return app + ": error: --out " + out + ": another run (PID " + std::to_string(pid) +
           ") is writing into this folder; wait for it to end or choose another folder";
  };

  // The lock as a run holds it: flock on OUT/run.lock, which names the holder.
  const int fd = open((out + "/run.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
  const std::string me = std::to_string(getpid()) + "\n";
  REQUIRE(write(fd, me.data(), me.size()) == static_cast<ssize_t>(me.size()));
  const auto before = snapshot(out);
  for (const auto& [bin, app, args] : {std::tuple{kChopin, "chopin-lstm", "train --epochs 1" + kTiny},
                                       std::tuple{kJazz, "jazz-vae", "train --epochs 1" + kJazzTiny}}) {
    const mg::test::ChildResult r = run(bin, args + " --out " + out);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(last_line(r.output) == busy(app, getpid()));
    CHECK(snapshot(out) == before);
  }
  // Unlocked, the file still names this process: it blocks nobody, and the run that takes it removes it.
  close(fd);
  const mg::test::ChildResult after = run(kChopin, "train --epochs 1 --out " + out + kTiny);
  CHECK_MESSAGE(after.exit_code == 0, after.output);
  CHECK(fs::exists(out + "/model.safetensors"));
  CHECK_FALSE(fs::exists(out + "/run.lock"));
  // A lock file a killed run left, naming a process that no longer exists.
  const std::string other = dir + "/killed";
  fs::create_directories(other);
  std::ofstream(other + "/run.lock") << dead_pid() << "\n";
  const mg::test::ChildResult stale = run(kJazz, "train --epochs 1 --out " + other + kJazzTiny);
  CHECK_MESSAGE(stale.exit_code == 0, stale.output);
  CHECK_FALSE(fs::exists(other + "/run.lock"));

  // Two real runs: a long one, and a second started on its folder while it trains.
  const std::string shared = dir + "/shared";
  std::fflush(nullptr);
  const pid_t first = fork();
  REQUIRE(first >= 0);
  if (first == 0) {
    const int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    std::vector<std::string> argv = words("train --epochs 100000 --out " + shared + kJazzTiny);
    argv.insert(argv.begin(), kJazz);
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execv(kJazz.c_str(), cargv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (slurp(shared + "/run.lock") != std::to_string(first) + "\n" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const mg::test::ChildResult second = run(kChopin, "train --epochs 1 --out " + shared + kTiny);
  INFO(second.output);
  CHECK(second.exit_code == 1);
  CHECK(last_line(second.output) ==
        "chopin-lstm: error: --out " + shared + ": another run (PID " + std::to_string(first) +
            ") is writing into this folder; wait for it to end or choose another folder");
  CHECK_FALSE(fs::exists(shared + "/best.safetensors"));  // a file only chopin-lstm writes
  REQUIRE(kill(first, SIGTERM) == 0);
  int status = 0;
  REQUIRE(waitpid(first, &status, 0) == first);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 143);
  CHECK_FALSE(fs::exists(shared + "/run.lock"));
}

TEST_CASE("names that are not UTF-8: training reads them, and its JSON and HTML hold them escaped as valid UTF-8") {
  const std::string dir = mg::test::scratch_dir("lifecycle-utf8");
  // MIDI files named with bytes that are not UTF-8 (0xE9: Latin-1 e-acute; 0xFF: never in UTF-8), in a folder so
  // named, and an unreadable one among them whose name the report lists.
  REQUIRE(run(kChopin, "train --epochs 1 --out " + dir + "/pieces" + kTiny).exit_code == 0);
  const std::string midi = dir + "/midi\xff";
  fs::create_directories(midi);
  int seed = 0;
  for (const std::string name : {"caf\xe9.mid", "\xff.mid", "plain.mid"}) {
    const std::string made = dir + "/piece" + std::to_string(++seed) + ".mid";
    const mg::test::ChildResult g = run(kChopin, "generate --checkpoint " + dir + "/pieces/model.safetensors --notes 300 "
                                        "--seed " + std::to_string(seed) + " --out " + made);
    REQUIRE_MESSAGE(g.exit_code == 0, g.output);
    fs::rename(made, midi + "/" + name);
  }
  std::ofstream(midi + "/bro\xffken.mid") << "not a MIDI file";
  const std::string out = dir + "/chopin";
  const mg::test::ChildResult t = run(kChopin, "train --min-count 1 --epochs 1 --out " + out + kTiny, {"--data", midi});
  INFO(t.output);
  REQUIRE(t.exit_code == 0);
  const std::string escaped = dir + "/midi\\xFF";
  CHECK(mg::io::valid_utf8(midi) == escaped);
  const nlohmann::json report = nlohmann::json::parse(slurp(out + "/report.json"));  // throws on invalid UTF-8
  CHECK(report_entry(report, "train", "data").rfind(escaped + " (3 MIDI files read, 1 skipped)", 0) == 0);
  const std::string html = slurp(out + "/report.html");
  CHECK(mg::io::is_valid_utf8(html));
  CHECK(html.find(escaped + "/bro\\xFFken.mid") != std::string::npos);
  CHECK(mg::nn::load_checkpoint(out + "/model.safetensors", "chopin-lstm").meta.at("data") == escaped);
  // --resume reads the folder back from the checkpoint's escaped name.
  const mg::test::ChildResult resumed = run(kChopin, "train --resume --epochs 2 --out " + out);
  CHECK_MESSAGE(resumed.exit_code == 0, resumed.output);
  CHECK(mg::nn::load_checkpoint(out + "/model.safetensors", "chopin-lstm").meta.at("epoch") == 2);

  // jazz-vae: WAV files so named; the checkpoint's split lists them, escaped.
  const std::string wav = dir + "/wav\xfe";
  fs::create_directories(wav);
  seed = 0;
  for (const std::string name : {"caf\xe9.wav", "\xff.wav", "plain.wav"})
    mg::io::write_wav(wav + "/" + name, tone(1.0, seed++), 22050, true);
  const std::string jout = dir + "/jazz";
  const mg::test::ChildResult j = run(kJazz, "train --epochs 1 --out " + jout + kJazzTiny, {"--data", wav});
  INFO(j.output);
  REQUIRE(j.exit_code == 0);
  const nlohmann::json meta = mg::nn::load_checkpoint(jout + "/model.safetensors", "jazz-vae").meta;
  CHECK(meta.at("data") == dir + "/wav\\xFE");
  std::vector<std::string> names = meta.at("split").at("train").get<std::vector<std::string>>();
  for (const std::string& n : meta.at("split").at("test").get<std::vector<std::string>>()) names.push_back(n);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"\\xFF.wav", "caf\\xE9.wav", "plain.wav"});
  CHECK_NOTHROW(nlohmann::json::parse(slurp(jout + "/report.json")));
  CHECK(mg::io::is_valid_utf8(slurp(jout + "/report.html")));
}

TEST_CASE("an output folder that cannot be written is an error before the first step, for train and prior") {
  const std::string dir = mg::test::scratch_dir("lifecycle-unwritable");
  REQUIRE(run(kJazz, "train --epochs 1 --out " + dir + "/jazz" + kJazzTiny).exit_code == 0);
  // The tests may run as root, whom permission bits do not stop. procfs refuses a new file to every user, so a
  // folder there is one that exists and cannot be written.
  const struct {
    std::string bin, args, message;
  } cases[] = {
      {kChopin, "train --epochs 1 --out /proc/self" + kTiny,
       "chopin-lstm: error: --out /proc/self: cannot write into the folder: "},
      {kJazz, "train --epochs 1 --out /proc/self" + kJazzTiny,
       "jazz-vae: error: --out /proc/self: cannot write into the folder: "},
      {kJazz, "prior --epochs 1 --hidden 8 --windows 2 --threads 2 --checkpoint " + dir +
                  "/jazz/model.safetensors --out /proc/self/prior.safetensors",
       "jazz-vae: error: the folder of --out /proc/self: cannot write into the folder: "},
  };
  for (const auto& c : cases) {
    const mg::test::ChildResult r = run(c.bin, c.args);
    INFO(c.args, "\n-> ", r.output);
    CHECK(r.exit_code == 1);
    // The error is all there is: no data line, no configuration, no progress came before it.
    CHECK(r.output.rfind(c.message, 0) == 0);
    CHECK(r.output.find('\n') == r.output.size() - 1);
  }
  CHECK_FALSE(fs::exists(dir + "/jazz/prior-log.csv"));
}

TEST_CASE("--resume refuses a changed setting, listing each flag old -> new, and accepts the flags that may change") {
  const std::string dir = mg::test::scratch_dir("lifecycle-resume");
  auto refused = [](const std::string& app, const std::string& ck, const std::string& changes) {
    return app + ": error: --resume: " + ck + " was trained with other settings: " + changes +
           "; drop these flags to continue with the checkpoint's, or train into another --out";
  };
  const struct {
    std::string bin, app, first, changed, changes, allowed;
  } cases[] = {
      {kChopin, "chopin-lstm", kTiny, " --lr 0.5 --hidden1 9 --batch 17",
       "--lr 0.01 -> 0.5, --hidden1 8 -> 9, --batch 16 -> 17",
       // Settings restated with the checkpoint's values are no change.
       " --threads 1 --skip-nonfinite --quiet --hidden1 8 --batch 16 --lr 0.01"},
      {kJazz, "jazz-vae", kJazzTiny, " --lr 0.5 --latent 9 --beta 0.2 --channels 4,8",
       "--channels 4,4 -> 4,8, --latent 128 -> 9, --beta 0.03 -> 0.2, --lr 0.001 -> 0.5",
       " --threads 1 --skip-nonfinite --eval-every 2 --json --channels 4,4"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.app);
    const std::string out = dir + "/" + c.app, ck = out + "/model.safetensors";
    REQUIRE(run(c.bin, "train --epochs 1 --out " + out + c.first).exit_code == 0);
    const auto before = snapshot(out);
    const mg::test::ChildResult r = run(c.bin, "train --resume --epochs 2 --out " + out + c.changed);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(last_line(r.output) == refused(c.app, ck, c.changes));
    CHECK(snapshot(out) == before);
    const mg::test::ChildResult ok = run(c.bin, "train --resume --epochs 2 --out " + out + c.allowed);
    INFO(ok.output);
    CHECK(ok.exit_code == 0);
    CHECK(mg::nn::load_checkpoint(ck, c.app).meta.at("epoch") == 2);
  }
}
