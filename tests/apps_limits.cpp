// The apps' limits as code: the parameter counts the checkpoint checks and
// memory estimates rely on equal those of the real networks, the estimates
// grow with the sizes they estimate, and command-line parsing answers every
// out-of-range, NaN or infinite value with usage status 2 (in-process, the
// way the fuzz targets call it).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "apps/chopin-lstm/chopin.h"
#include "apps/jazz-vae/jazz.h"

namespace {

// Parses "app words..." with stderr silenced; returns the status (-1: would run).
template <typename Command, typename Parse>
int parse(Parse parse_fn, const std::string& line, Command& command) {
  std::vector<std::string> words{"app"};
  for (size_t pos = 0; pos <= line.size();) {
    const size_t space = line.find(' ', pos);
    words.push_back(line.substr(pos, space == std::string::npos ? std::string::npos : space - pos));
    if (space == std::string::npos) break;
    pos = space + 1;
  }
  std::vector<const char*> argv;
  for (const std::string& w : words) argv.push_back(w.c_str());
  // The one-line messages go to /dev/null for the duration.
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  const int null = open("/dev/null", O_WRONLY);
  dup2(null, STDERR_FILENO);
  close(null);
  const int status = parse_fn(static_cast<int>(argv.size()), argv.data(), command);
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  return status;
}

int chopin_status(const std::string& line) {
  chopin::Command c;
  return parse(chopin::parse_command_line, line, c);
}

int jazz_status(const std::string& line) {
  jazz::Command c;
  return parse(jazz::parse_command_line, line, c);
}

}  // namespace

TEST_CASE("jazz data estimates: the clips and their features") {
  jazz::FeatureConfig f;
  CHECK(jazz::dataset_bytes(f, 64) == doctest::Approx(4.0 * 64 * (f.clip_samples() + f.channels() * f.length())));
  const mg::nn::ConvVaeConfig v;
  CHECK(jazz::decode_bytes(v, f, 32) > jazz::decode_bytes(v, f, 16));
}

TEST_CASE("chopin-lstm command lines: ranges, NaN and infinity are usage errors") {
  CHECK(chopin_status("train --epochs 2") == -1);
  CHECK(chopin_status("generate --checkpoint c --out o.mid --temperature 1 --top-p 0.9") == -1);
  CHECK(chopin_status("--help") == 0);
  for (const char* bad :
       {"train --lr nan", "train --lr inf", "train --lr 0", "train --lr 11", "train --dropout nan", "train --dropout -0.1",
        "train --dropout 1", "train --hidden1 0", "train --hidden1 4097", "train --batch 65537", "train --seq-len 1001",
        "train --epochs 1000001", "train --epochs 1.5", "train --threads 2000", "train --seed -1",
        "train --model lstm", "generate --checkpoint c --out o.mid --notes 1000001",
        "generate --checkpoint c --out o.mid --notes 99999999999999999999", "generate --checkpoint c --out o.mid --notes 0",
        "generate --checkpoint c --out o.mid --temperature nan", "generate --checkpoint c --out o.mid --temperature -1",
        "generate --checkpoint c --out o.mid --top-p nan", "generate --checkpoint c --out o.mid --top-p 0",
        "generate --checkpoint c --out o.mid --top-p 1.5", "generate --checkpoint c --out o.mid --step inf",
        "generate --checkpoint c --out o.mid --step 0", "generate --checkpoint c --out o.mid --tempo nan",
        "generate --checkpoint c --out o.mid --tempo 1e9", "generate --checkpoint c --out o.mid --wav o.mid",
        "generate --checkpoint c --out o.mid --wav w.wav --notes 100000", "generate --out o.mid",
        "eval --checkpoint c --pieces 0", "eval --checkpoint c --notes 100001", "eval --checkpoint c --temperature inf",
        "train --unknown-flag", "sing"}) {
    CAPTURE(bad);
    CHECK(chopin_status(bad) == mg::app::kExitUsage);
  }
}

TEST_CASE("jazz-vae command lines: ranges, NaN and infinity are usage errors") {
  CHECK(jazz_status("train --out r --clip-seconds 1 --n-fft 256 --hop 128 --channels 8,8") == -1);
  CHECK(jazz_status("generate --checkpoint c --out d --count 4 --grid 3") == -1);
  CHECK(jazz_status("train --out r --latent-mode global --latent 2 --free-bits 0.5 --blocks 2") == -1);
  CHECK(jazz_status("prior --checkpoint c --epochs 5 --hidden 64") == -1);
  CHECK(jazz_status("generate --checkpoint c --out d --prior learned --primer a.wav --primer-frames 4") == -1);
  CHECK(jazz_status("train --out r --compress log --log-weight 0.5 --lr-schedule constant") == -1);
  CHECK(jazz_status("train --out r --model seed --latent-mode time") == -1);  // waveforms are not compressed
  CHECK(jazz_status("prior --checkpoint c --windows 0") == -1);
  CHECK(jazz_status("eval --checkpoint c --temperature 0.5") == -1);
  CHECK(jazz_status("--help") == 0);
  for (const char* bad :
       {"train --out r --clip-seconds nan", "train --out r --clip-seconds 100000", "train --out r --clip-seconds 0",
        "train --out r --clip-seconds inf", "train --out r --beta nan", "train --out r --beta -1", "train --out r --lr nan",
        "train --out r --clip-grad inf", "train --out r --n-fft 1000", "train --out r --n-fft 32768",
        "train --out r --hop 0", "train --out r --n-fft 256 --hop 512", "train --out r --channels 8,x",
        "train --out r --channels 2000", "train --out r --channels 1,1,1,1,1,1,1,1,1", "train --out r --latent 0",
        "train --out r --latent 1000", "train --out r --batch 0", "train --out r --clip-seconds 0.01",
        "generate --checkpoint c --out d --grid 100000", "generate --checkpoint c --out d --count 100000",
        "generate --checkpoint c --out d --count 0 --grid 0", "generate --checkpoint c --out d --grid-range nan",
        "generate --checkpoint c --out d --griffin-lim-iters 2000000000", "generate --checkpoint c --out d --griffin-lim-iters 0",
        "interpolate --checkpoint c a.wav b.wav --out d --steps 1", "interpolate --checkpoint c a.wav b.wav --out d --steps 1001",
        "eval --checkpoint c --batch 0", "encode --checkpoint c", "train",
        "train --out r --latent-mode sometimes", "train --out r --blocks 9", "train --out r --free-bits -1",
        "train --out r --free-bits nan", "train --out r --spectral-weight inf", "train --out r --log-floor 0",
        "train --out r --model seed --spectral-weight 1", "prior --checkpoint c --epochs 0",
        "prior --checkpoint c --hidden 5000", "prior --checkpoint c --layers 9", "prior --checkpoint c --lr nan",
        "generate --checkpoint c --out d --prior uniform", "generate --checkpoint c --out d --temperature 0",
        "generate --checkpoint c --out d --primer a.wav --prior normal", "generate --checkpoint c --out d --primer-frames 0",
        "eval --checkpoint c --samples 1", "eval --checkpoint c --samples 100000",
        "train --out r --power 0", "train --out r --power 1.5", "train --out r --compress log --power 0.5",
        "train --out r --compress cube", "train --out r --model seed --compress power", "train --out r --log-weight nan",
        "train --out r --log-weight -1", "train --out r --model seed --log-weight 1", "train --out r --lr-schedule step",
        "prior --checkpoint c --windows -1", "prior --checkpoint c --windows 5000",
        "prior --checkpoint c --condition song", "generate --checkpoint c --out d --like a.wav --prior normal",
        "eval --checkpoint c --temperature nan"}) {
    CAPTURE(bad);
    CHECK(jazz_status(bad) == mg::app::kExitUsage);
  }
}
