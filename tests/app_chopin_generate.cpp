// chopin-lstm generate as a user runs it: --notes is exact in either
// --context, --count writes numbered pieces that are each the piece of its
// seed, and a model that makes no note is an error, not an empty file.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/midi.h"
#include "io/timed_tokens.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const std::string kBin = MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm";
const std::string kTiny = " --hidden1 24 --hidden2 12 --dense 12 --batch 32 --max-steps 4 --threads 1";

using Run = mg::test::ShellRun;

Run run(const std::string& args) { return mg::test::run_shell(kBin + " " + args); }

using mg::test::slurp;

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

}  // namespace

TEST_CASE("chopin-lstm generate: exact --notes in both contexts, --count pieces by their seeds") {
  const std::string dir = mg::test::scratch_dir("chopin-generate-context");
  Run t = run("train --out " + dir + " --model embed --epochs 1" + kTiny);
  REQUIRE_MESSAGE(t.code == 0, t.output);
  const std::string gen = "generate --checkpoint " + dir + "/model.safetensors --threads 1";

  for (const char* context : {"state", "window"})
    for (const char* notes : {"1", "37"}) {
      const std::string out = dir + "/" + context + notes + ".mid";
      Run g = run(gen + " --context " + context + " --notes " + notes + " --out " + out);
      INFO(g.output);
      REQUIRE(g.code == 0);
      CHECK(mg::io::read_midi(out).notes.size() == std::stoul(notes));
      CHECK(g.output.find(" " + std::string(notes) + " notes,") != std::string::npos);
    }

  // Three pieces as one batch: numbered files, each the piece its seed makes alone.
  Run batch = run(gen + " --notes 20 --count 3 --seed 5 --out " + dir + "/piece.mid");
  REQUIRE_MESSAGE(batch.code == 0, batch.output);
  CHECK_FALSE(fs::exists(dir + "/piece.mid"));
  for (const char* k : {"1", "2", "3"}) {
    CHECK(fs::exists(dir + "/piece-" + k + ".mid"));
    CHECK(fs::exists(dir + "/piece-" + k + "-roll.png"));
  }
  Run alone = run(gen + " --notes 20 --seed 6 --out " + dir + "/alone.mid");
  REQUIRE_MESSAGE(alone.code == 0, alone.output);
  CHECK(slurp(dir + "/piece-2.mid") == slurp(dir + "/alone.mid"));
  CHECK(slurp(dir + "/piece-1.mid") != slurp(dir + "/piece-2.mid"));
  Run one = run(gen + " --notes 20 --count 1 --seed 6 --out " + dir + "/one.mid");
  REQUIRE_MESSAGE(one.code == 0, one.output);
  CHECK(slurp(dir + "/one.mid") == slurp(dir + "/alone.mid"));

  Run bad_context = run(gen + " --context both --out " + dir + "/x.mid");
  CHECK(bad_context.code == 2);
  CHECK(last_line(bad_context.output).find("--context") != std::string::npos);
  Run bad_count = run(gen + " --count 0 --out " + dir + "/x.mid");
  CHECK(bad_count.code == 2);
  CHECK(last_line(bad_count.output).find("--count") != std::string::npos);
  // The default piano roll of y.mid is y-roll.png.
  Run twice = run(gen + " --out " + dir + "/y.mid --wav " + dir + "/y-roll.png");
  CHECK(twice.code == 2);
  CHECK(last_line(twice.output).find(dir + "/y-roll.png") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/x.mid"));
  CHECK_FALSE(fs::exists(dir + "/y.mid"));
}

TEST_CASE("chopin-lstm generate: a model that makes no note is an error naming the piece") {
  // Music that is nearly all empty bars: a note in the first bar and in the last of 300.
  const std::string dir = mg::test::scratch_dir("chopin-generate-empty");
  fs::create_directories(dir + "/data");
  mg::io::write_midi(dir + "/data/rests.mid", {{0, 1, 60, 80}, {1200, 1, 62, 80}}, {{0, 120}}, {{0, 4, 4}});
  Run t = run("train --data " + dir + "/data --out " + dir + "/run --model embed --seq-len 8 --batch 8 --epochs 30 "
              "--hidden1 16 --hidden2 8 --dense 8 --threads 1 --holdout windows --patience 0");
  REQUIRE_MESSAGE(t.code == 0, t.output);
  const std::string gen = "generate --checkpoint " + dir + "/run/model.safetensors --greedy --threads 1";
  for (const std::string length : {" --notes 3", " --length-seconds 30"}) {
    Run g = run(gen + length + " --out " + dir + "/empty.mid --wav " + dir + "/empty.wav");
    INFO(length, "\n", g.output);
    CHECK(g.code == 1);
    const std::string message = last_line(g.output);
    CHECK(message.find(dir + "/empty.mid") != std::string::npos);
    CHECK(message.find("more training") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/empty.mid"));
    CHECK_FALSE(fs::exists(dir + "/empty-roll.png"));
    CHECK_FALSE(fs::exists(dir + "/empty.wav"));
  }
}
