// jazz-vae end to end through its built binary: training on tiny configs,
// generate / interpolate / encode / eval, exact resume, loader and checkpoint
// errors, and a short run on the shared rendered-jazz folder when present.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#define STBI_ONLY_PNG
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/audio.h"
#include "io/safetensors.h"
#include "models/checkpoint.h"
#include "models/layers.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const std::string kBinary = MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae";
// A model small enough for a test: 1 s clips, 129 bins, two stages of 8 channels.
const std::string kTiny = " --clip-seconds 1 --n-fft 256 --hop 128 --channels 8,8 --threads 2";

using Run = mg::test::ShellRun;

Run run(const std::string& args) { return mg::test::run_shell(kBinary + " " + args); }

// A jazz-like test signal: a few partials with a slow swell, different per seed.
std::vector<float> tone(double seconds, int seed) {
  const int rate = 22050;
  std::vector<float> x(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = static_cast<double>(i) / rate;
    double v = 0;
    for (int k = 1; k <= 3; ++k) v += std::sin(2 * M_PI * (110.0 * (seed + 1) * k) * t) / k;
    x[i] = static_cast<float>(0.3 * v * (0.6 + 0.4 * std::sin(2 * M_PI * 0.5 * t)));
  }
  return x;
}

std::vector<std::string> csv_column(const std::string& path, const std::string& name) {
  std::ifstream f(path);
  std::string line, cell;
  std::getline(f, line);
  std::stringstream head(line);
  size_t k = 0, col = 0;
  bool found = false;
  while (std::getline(head, cell, ','))
    if (cell == name) col = k, found = true;
    else ++k;
  REQUIRE(found);
  std::vector<std::string> out;
  while (std::getline(f, line)) {
    std::stringstream row(line);
    for (size_t i = 0; std::getline(row, cell, ','); ++i)
      if (i == col) out.push_back(cell);
  }
  return out;
}

void check_wav(const std::string& path, size_t samples = 0) {
  INFO(path);
  REQUIRE(fs::exists(path));
  mg::io::Audio a = mg::io::load_audio(path);
  CHECK(a.sample_rate == 22050);
  CHECK(mg::io::rms(a.samples) > 0.01);
  CHECK(mg::io::count_clipped(a.samples) == 0);
  if (samples > 0) CHECK(a.samples.size() == samples);
}

// A PNG of at least the given size whose pixels take many values (a drawn picture, not a blank one).
void check_png(const std::string& path, int min_width, int min_height, size_t min_colours = 20) {
  INFO(path);
  int w = 0, h = 0, n = 0;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &n, 3);
  REQUIRE(px != nullptr);
  CHECK(w >= min_width);
  CHECK(h >= min_height);
  std::set<uint32_t> colours;
  for (size_t i = 0; i < static_cast<size_t>(w) * h; ++i)
    colours.insert(uint32_t(px[3 * i]) << 16 | uint32_t(px[3 * i + 1]) << 8 | px[3 * i + 2]);
  stbi_image_free(px);
  CHECK(colours.size() >= min_colours);
}

}  // namespace

TEST_CASE("jazz-vae overfits one short clip to a spectral convergence of 0.1") {
  const std::string dir = mg::test::scratch_dir("jazz-overfit");
  fs::create_directories(dir + "/data");
  mg::io::write_wav(dir + "/data/one.wav", tone(1.0, 1), 22050, true);
  // Two stages of 64 channels: the tiny 8-channel decoder cannot represent 129 bins well enough to overfit.
  // One file: nothing is held out, so the log's scores are of this clip.
  Run r = run("train --data " + dir + "/data --out " + dir + "/run --epochs 60 --lr 3e-3 --beta 0.01 --clip-seconds 1 "
              "--n-fft 256 --hop 128 --channels 64,64 --latent 16 --threads 2");
  INFO(r.output);
  REQUIRE(r.code == 0);
  std::vector<std::string> recon = csv_column(dir + "/run/log.csv", "train_recon");
  REQUIRE(recon.size() == 60);
  CHECK(std::stod(recon.back()) < 0.1 * std::stod(recon.front()));
  const std::vector<std::string> sc = csv_column(dir + "/run/log.csv", "spectral_convergence");
  const std::vector<std::string> onset = csv_column(dir + "/run/log.csv", "onset_correlation");
  CHECK(std::stod(sc.front()) > 3 * std::stod(sc.back()));
  CHECK(std::stod(sc.back()) <= 0.1);
  CHECK(std::stod(onset.back()) >= 0.9);
  CHECK(std::stoi(csv_column(dir + "/run/log.csv", "active_units").back()) >= 1);
}

TEST_CASE("jazz-vae train, generate, interpolate, encode and eval on the built-in clips") {
  const std::string dir = mg::test::scratch_dir("jazz-e2e");
  const std::string ck = dir + "/run/model.safetensors";
  Run t = run("train --out " + dir + "/run --epochs 2" + kTiny);
  INFO(t.output);
  REQUIRE(t.code == 0);
  CHECK(t.output.find("built-in") != std::string::npos);
  for (const char* f : {"model.safetensors", "log.csv", "training.gif", "latent-map.png", "reconstruction.png",
                        "curves.png", "epochs/epoch-001.png", "epochs/epoch-002.png"})
    CHECK_MESSAGE(fs::exists(dir + "/run/" + f), f);
  for (const char* f : {"latent-map.png", "reconstruction.png", "curves.png", "epochs/epoch-002.png"}) check_png(dir + "/run/" + f, 600, 400);
  CHECK(fs::file_size(dir + "/run/training.gif") > 10000);

  CHECK(t.output.find("latent time-resolved, 128 channels x 44 frames") != std::string::npos);
  CHECK(t.output.find("|STFT|^0.3") != std::string::npos);  // the time latent's power-law features
  CHECK(t.output.find("0 block(s) per stage") != std::string::npos);  // the time latent's default
  Run g = run("generate --checkpoint " + ck + " --count 2 --griffin-lim-iters 8 --out " + dir + "/gen");
  INFO(g.output);
  REQUIRE(g.code == 0);
  for (const char* f : {"sample-01.wav", "sample-02.wav"}) check_wav(dir + "/gen/" + f, 22050);
  check_png(dir + "/gen/samples.png", 600, 250, 4);  // waveform outlines on white, one row for two samples
  CHECK(g.output.find("from N(0, I)") != std::string::npos);
  // A grid needs the seed's 2-D global latent.
  Run grid = run("generate --checkpoint " + ck + " --count 0 --grid 2 --out " + dir + "/grid");
  CHECK(grid.code == 1);
  CHECK(grid.output.find("--grid: needs a global 2-D latent space") != std::string::npos);

  mg::io::write_wav(dir + "/a.wav", tone(1.5, 0), 22050, true);
  mg::io::write_wav(dir + "/b.wav", tone(1.5, 2), 22050, true);
  Run ip = run("interpolate --checkpoint " + ck + " " + dir + "/a.wav " + dir + "/b.wav --steps 3 --griffin-lim-iters 8 --out " +
               dir + "/interp");
  INFO(ip.output);
  REQUIRE(ip.code == 0);
  for (const char* f : {"step-01.wav", "step-03.wav"}) check_wav(dir + "/interp/" + f, 22050);
  check_wav(dir + "/interp/interpolation.wav", 3 * 22050);

  Run e = run("encode --checkpoint " + ck + " " + dir + "/a.wav " + dir + "/b.wav");
  INFO(e.output);
  REQUIRE(e.code == 0);
  CHECK(e.output.find("a.wav frame 0  mu [") != std::string::npos);
  CHECK(e.output.find("a.wav frame 43  mu [") != std::string::npos);
  CHECK(e.output.find("sigma [") != std::string::npos);

  Run v = run("eval --checkpoint " + ck);
  INFO(v.output);
  REQUIRE(v.code == 0);
  CHECK(v.output.find("spectral convergence") != std::string::npos);
  CHECK(v.output.find("after Griffin-Lim (64 iterations)") != std::string::npos);
  CHECK(v.output.find("training clips (the floor):") != std::string::npos);
  CHECK(v.output.find("training clips decoded (z = mu):") != std::string::npos);
  CHECK(v.output.find("held-out clips decoded (z = mu):") != std::string::npos);
  CHECK(v.output.find("samples from N(0, I):") != std::string::npos);
}

TEST_CASE("jazz-vae with the seed's global 2-D latent: grid, interpolation and latent map") {
  const std::string dir = mg::test::scratch_dir("jazz-global");
  const std::string ck = dir + "/run/model.safetensors";
  Run t = run("train --out " + dir + "/run --epochs 1 --latent-mode global --latent 2" + kTiny);
  INFO(t.output);
  REQUIRE(t.code == 0);
  CHECK(t.output.find("latent global, 2 dimensions") != std::string::npos);
  CHECK(t.output.find("1 block(s) per stage") != std::string::npos);  // the original's ResNet blocks
  Run g = run("generate --checkpoint " + ck + " --count 1 --grid 2 --griffin-lim-iters 4 --out " + dir + "/gen");
  INFO(g.output);
  REQUIRE(g.code == 0);
  for (const char* f : {"sample-01.wav", "grid-1-1.wav", "grid-2-2.wav"}) check_wav(dir + "/gen/" + f);
  // The latent map: every training clip's mean as a point of the 2-D plane, drawn by train.
  check_png(dir + "/run/latent-map.png", 200, 200);
  // Interpolation between two clips through the 2-D latent: each step a clip, and the steps joined.
  mg::io::write_wav(dir + "/a.wav", tone(1.0, 0), 22050, true);
  mg::io::write_wav(dir + "/b.wav", tone(1.0, 2), 22050, true);
  Run ip = run("interpolate --checkpoint " + ck + " " + dir + "/a.wav " + dir + "/b.wav --steps 3 --griffin-lim-iters 4 "
               "--out " + dir + "/interp");
  INFO(ip.output);
  REQUIRE(ip.code == 0);
  for (const char* f : {"step-01.wav", "step-02.wav", "step-03.wav"}) check_wav(dir + "/interp/" + f, 22050);
  check_wav(dir + "/interp/interpolation.wav", 3 * 22050);
  Run p = run("prior --checkpoint " + ck + " --epochs 1");
  CHECK(p.code == 1);
  CHECK(p.output.find("a learned prior needs a time-resolved latent") != std::string::npos);
}

// Bytes of a file.
std::string bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST_CASE("jazz-vae prior: the loss falls, generation uses it, a primer is continued, the same seed gives the same bytes") {
  const std::string dir = mg::test::scratch_dir("jazz-prior");
  const std::string ck = dir + "/run/model.safetensors";
  Run t = run("train --out " + dir + "/run --epochs 2" + kTiny);
  REQUIRE(t.code == 0);
  Run p = run("prior --checkpoint " + ck + " --epochs 30 --hidden 32 --windows 4 --threads 2");
  INFO(p.output);
  REQUIRE(p.code == 0);
  // 4 windows of each training file (every built-in file spans more than 4 distinct starts).
  const size_t files_at = t.output.find("train: ");
  REQUIRE(files_at != std::string::npos);
  const int train_files = std::stoi(t.output.substr(files_at + 7));
  CHECK(p.output.find("prior: " + std::to_string(4 * train_files) + " training sequences (4 windows per training file") !=
        std::string::npos);
  CHECK(p.output.find("conditioned on their " + std::to_string(train_files) + " files") != std::string::npos);
  REQUIRE(fs::exists(dir + "/run/prior.safetensors"));
  const std::vector<std::string> nll = csv_column(dir + "/run/prior-log.csv", "train_nll");
  REQUIRE(nll.size() == 30);
  CHECK(std::stod(nll.back()) < std::stod(nll.front()) - 0.1);
  CHECK(fs::file_size(dir + "/run/prior-curves.png") > 1000);

  // The prior file is found beside the checkpoint and used by default.
  const std::string gen = "generate --checkpoint " + ck + " --count 2 --griffin-lim-iters 4 --seed 7 --out ";
  Run a = run(gen + dir + "/a");
  INFO(a.output);
  REQUIRE(a.code == 0);
  CHECK(a.output.find("from the learned prior") != std::string::npos);
  REQUIRE(run(gen + dir + "/b").code == 0);
  for (const char* f : {"sample-01.wav", "sample-02.wav", "samples.png"}) {
    INFO(f);
    CHECK(bytes_of(dir + "/a/" + f) == bytes_of(dir + "/b/" + f));
  }
  CHECK(bytes_of(dir + "/a/sample-01.wav") != bytes_of(dir + "/a/sample-02.wav"));
  REQUIRE(run("generate --checkpoint " + ck + " --count 2 --griffin-lim-iters 4 --seed 8 --out " + dir + "/c").code == 0);
  CHECK(bytes_of(dir + "/a/sample-01.wav") != bytes_of(dir + "/c/sample-01.wav"));
  // --prior normal ignores the file.
  Run n = run(gen + dir + "/n --prior normal");
  REQUIRE(n.code == 0);
  CHECK(n.output.find("from N(0, I)") != std::string::npos);

  // A primer: its first latent frames are kept, so the continuation starts like it.
  mg::io::write_wav(dir + "/primer.wav", tone(1.5, 1), 22050, true);
  Run pr = run("generate --checkpoint " + ck + " --count 1 --griffin-lim-iters 4 --primer " + dir +
               "/primer.wav --primer-frames 6 --out " + dir + "/primed");
  INFO(pr.output);
  REQUIRE(pr.code == 0);
  CHECK(pr.output.find("primer: the first 6 of 44 latent frames") != std::string::npos);
  check_wav(dir + "/primed/sample-01.wav");
  Run too_many = run("generate --checkpoint " + ck + " --count 1 --primer " + dir + "/primer.wav --primer-frames 45 --out " +
                     dir + "/x");
  CHECK(too_many.code == 1);
  CHECK(too_many.output.find("--primer-frames") != std::string::npos);

  Run v = run("eval --checkpoint " + ck + " --samples 4 --griffin-lim-iters 2");
  INFO(v.output);
  REQUIRE(v.code == 0);
  CHECK(v.output.find("samples from the learned prior:") != std::string::npos);

  // --like: every sample drawn as from one training file; an unknown name lists the prior's files.
  Run unknown = run(gen + dir + "/u --like nosuch.wav");
  CHECK(unknown.code == 1);
  const size_t list = unknown.output.find("training files of " + dir + "/run/prior.safetensors (");
  REQUIRE(list != std::string::npos);
  const size_t first = unknown.output.find('(', list) + 1;
  const std::string name = unknown.output.substr(first, unknown.output.find_first_of(",)", first) - first);
  CAPTURE(name);
  Run like = run(gen + dir + "/like --like " + name);
  REQUIRE(like.code == 0);
  CHECK(like.output.find("each as from " + name) != std::string::npos);
  check_wav(dir + "/like/sample-02.wav");
  CHECK_FALSE(fs::exists(dir + "/u"));

  // An unconditioned prior (--condition none) trains, and generation and eval read it.
  Run none = run("prior --checkpoint " + ck + " --epochs 2 --hidden 8 --windows 2 --condition none --out " + dir +
                 "/none/prior.safetensors");
  INFO(none.output);
  REQUIRE(none.code == 0);
  CHECK(none.output.find(", unconditioned") != std::string::npos);
  const std::string none_prior = " --prior-checkpoint " + dir + "/none/prior.safetensors";
  CHECK(run("generate --checkpoint " + ck + " --count 1 --griffin-lim-iters 2 --out " + dir + "/gn" + none_prior).code ==
        0);
  CHECK(run("eval --checkpoint " + ck + " --samples 2 --griffin-lim-iters 2" + none_prior).code == 0);
  Run like_none = run("generate --checkpoint " + ck + " --count 1 --like " + name + " --out " + dir + "/ln" + none_prior);
  CHECK(like_none.code == 1);
  CHECK(like_none.output.find("--like: the learned prior") != std::string::npos);

  // A model checkpoint is not a prior file.
  Run wrong = run("generate --checkpoint " + ck + " --count 1 --prior-checkpoint " + ck + " --out " + dir + "/w");
  CHECK(wrong.code == 1);
  CHECK(wrong.output.find(ck) != std::string::npos);
}

TEST_CASE("jazz-vae resume continues exactly") {
  const std::string dir = mg::test::scratch_dir("jazz-resume");
  fs::create_directories(dir + "/data");
  for (int i = 0; i < 3; ++i) mg::io::write_wav(dir + "/data/c" + std::to_string(i) + ".wav", tone(2.0, i), 22050, true);
  // A constant rate: a resume to more --epochs re-plans a cosine decay over the new total, so only an
  // interrupted run (same --epochs, app_interrupt.cpp) continues a cosine schedule exactly.
  const std::string common = " --data " + dir + "/data --batch 2 --beta-warmup 1 --lr-schedule constant" + kTiny;
  REQUIRE(run("train --epochs 2 --out " + dir + "/straight" + common).code == 0);
  REQUIRE(run("train --epochs 1 --out " + dir + "/resumed" + common).code == 0);
  Run r = run("train --epochs 2 --resume --out " + dir + "/resumed" + common);
  INFO(r.output);
  REQUIRE(r.code == 0);
  mg::io::SafetensorsFile a = mg::io::read_safetensors(dir + "/straight/model.safetensors");
  mg::io::SafetensorsFile b = mg::io::read_safetensors(dir + "/resumed/model.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    INFO(a.tensors[i].name);
    CHECK(a.tensors[i].name == b.tensors[i].name);
    CHECK(a.tensors[i].data == b.tensors[i].data);
  }
  CHECK(csv_column(dir + "/resumed/log.csv", "train_loss") == csv_column(dir + "/straight/log.csv", "train_loss"));
}

TEST_CASE("jazz-vae --eval-every logs the evaluated epochs only, and --augment crop changes what is trained on") {
  const std::string dir = mg::test::scratch_dir("jazz-eval-every");
  fs::create_directories(dir + "/data");
  for (int i = 0; i < 3; ++i) mg::io::write_wav(dir + "/data/c" + std::to_string(i) + ".wav", tone(3.0, i), 22050, true);
  const std::string common = " --data " + dir + "/data --batch 2" + kTiny;
  Run r = run("train --epochs 5 --eval-every 2 --out " + dir + "/every" + common);
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(csv_column(dir + "/every/log.csv", "epoch") == std::vector<std::string>{"2", "4", "5"});
  const mg::nn::Checkpoint ck = mg::nn::load_checkpoint(dir + "/every/model.safetensors", "jazz-vae");
  CHECK(ck.meta["epoch"] == 5);
  CHECK(ck.meta["train"]["augment"] == "crop");  // the default of the time-resolved conv model
  for (const char* e : {"001", "003"}) CHECK(!fs::exists(dir + "/every/epochs/epoch-" + e + ".png"));
  for (const char* e : {"002", "004", "005"}) CHECK(fs::exists(dir + "/every/epochs/epoch-" + e + ".png"));
  check_png(dir + "/every/curves.png", 200, 100);
  CHECK(fs::file_size(dir + "/every/training.gif") > 0);

  // The same seed with the fixed clips: the first step sees other frames, so the epoch's loss differs.
  Run fixed = run("train --epochs 1 --augment none --out " + dir + "/fixed" + common);
  Run cropped = run("train --epochs 1 --out " + dir + "/cropped" + common);
  REQUIRE(fixed.code == 0);
  REQUIRE(cropped.code == 0);
  CHECK(csv_column(dir + "/fixed/log.csv", "train_loss") != csv_column(dir + "/cropped/log.csv", "train_loss"));
  // Cropping is a spectrogram-frame augmentation: not for the waveform model.
  Run bad = run("train --model seed --augment crop --epochs 1 --out " + dir + "/bad" + common);
  CHECK(bad.code == 2);
  CHECK(bad.output.find("--augment") != std::string::npos);
}

TEST_CASE("jazz-vae skips unreadable files and fails on a folder without audio") {
  const std::string dir = mg::test::scratch_dir("jazz-loader");
  fs::create_directories(dir + "/mixed");
  mg::io::write_wav(dir + "/mixed/good1.wav", tone(1.0, 0), 22050, true);
  mg::io::write_wav(dir + "/mixed/good2.wav", tone(1.0, 1), 22050, true);
  mg::io::write_wav(dir + "/mixed/broken.wav", tone(1.0, 2), 22050, true);
  fs::resize_file(dir + "/mixed/broken.wav", 2000);  // header promises more than is there
  Run ok = run("train --data " + dir + "/mixed --out " + dir + "/run --epochs 1" + kTiny);
  INFO(ok.output);
  CHECK(ok.code == 0);
  CHECK(ok.output.find("warning: skipping " + dir + "/mixed/broken.wav") != std::string::npos);

  fs::create_directories(dir + "/bad");
  fs::copy_file(dir + "/mixed/broken.wav", dir + "/bad/broken.wav");
  std::ofstream(dir + "/bad/notes.txt") << "not audio";
  Run bad = run("train --data " + dir + "/bad --out " + dir + "/run2 --epochs 1" + kTiny);
  INFO(bad.output);
  CHECK(bad.code != 0);
  CHECK(bad.output.find(dir + "/bad: no usable audio") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/run2/model.safetensors"));

  fs::create_directories(dir + "/empty");
  CHECK(run("train --data " + dir + "/empty --out " + dir + "/run3" + kTiny).code != 0);
}

TEST_CASE("jazz-vae rejects bad flags and foreign or corrupt checkpoints") {
  const std::string dir = mg::test::scratch_dir("jazz-errors");
  Run fft = run("train --out " + dir + "/run --n-fft 1000");
  CHECK(fft.code != 0);
  CHECK(fft.output.find("--n-fft") != std::string::npos);
  Run ch = run("train --out " + dir + "/run --channels 8,x");
  CHECK(ch.code != 0);
  CHECK(ch.output.find("--channels") != std::string::npos);
  CHECK(run("interpolate --checkpoint x a.wav b.wav --out " + dir + " --steps -1").code != 0);

  mg::nn::Linear lin(2, 2);
  mg::nn::save_checkpoint(dir + "/chopin.safetensors", "chopin-lstm", lin, nullptr, {{"epoch", 1}});
  Run other = run("generate --checkpoint " + dir + "/chopin.safetensors --out " + dir + "/gen");
  CHECK(other.code != 0);
  CHECK(other.output.find("chopin-lstm checkpoint") != std::string::npos);

  std::ofstream(dir + "/corrupt.safetensors") << "this is not a checkpoint";
  Run corrupt = run("eval --checkpoint " + dir + "/corrupt.safetensors");
  CHECK(corrupt.code != 0);
  CHECK(corrupt.output.find(dir + "/corrupt.safetensors") != std::string::npos);
}

TEST_CASE("jazz-vae trains on the shared rendered jazz clips") {
  const std::string data = mg::test::shared_data_dir();
  if (data.empty() || !fs::is_directory(data + "/jazz-rendered")) {
    mg::test::skip("../shared/data/jazz-rendered not found (set MUSICGEN_DATA)");
    return;
  }
  const std::string dir = mg::test::scratch_dir("jazz-rendered");
  Run r = run("train --data " + data + "/jazz-rendered --out " + dir + " --epochs 1 --clip-seconds 3 --n-fft 256 "
              "--hop 128 --channels 8,8 --threads 2");
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("16 files") != std::string::npos);
  // The held-out metrics of the epoch are numbers in their ranges: spectral convergence ||S - S'|| / ||S||
  // between 0 and a little over 1 for an untrained model, a log-spectral distance of some dB, a positive
  // reconstruction error and every latent channel counted.
  const double sc = std::stod(csv_column(dir + "/log.csv", "spectral_convergence").back());
  const double lsd = std::stod(csv_column(dir + "/log.csv", "log_spectral_distance").back());
  const double recon = std::stod(csv_column(dir + "/log.csv", "heldout_recon").back());
  CHECK(sc > 0.05);
  CHECK(sc < 1.5);
  CHECK(lsd > 0.5);
  CHECK(lsd < 40);
  CHECK(recon > 0);
  CHECK(std::isfinite(recon));
  CHECK(std::stoi(csv_column(dir + "/log.csv", "active_units").back()) >= 1);
}

TEST_CASE("jazz-vae stops at the first non-finite step, keeping the last good checkpoint and log") {
  const std::string dir = mg::test::scratch_dir("jazz-nonfinite");
  // A learning rate of 10 without clipping overflows at the second step: nothing may be written.
  Run fresh = run("train --out " + dir + "/fresh --epochs 2 --lr 10 --clip-grad 0" + kTiny);
  CHECK(fresh.code == 1);
  CHECK(fresh.output.find("jazz-vae: error: epoch 1, step 2: the loss is") != std::string::npos);
  CHECK(fresh.output.find("no checkpoint was written") != std::string::npos);
  // The report says why; no checkpoint and no log row exist.
  CHECK_FALSE(fs::exists(dir + "/fresh/model.safetensors"));
  CHECK_FALSE(fs::exists(dir + "/fresh/log.csv"));
  std::ifstream report(dir + "/fresh/report.json");
  CHECK(std::string(std::istreambuf_iterator<char>(report), {}).find("no checkpoint was written") != std::string::npos);

  // One good epoch, then the same run resumed with that learning rate (set in the checkpoint).
  const std::string out = dir + "/resumed", ck = out + "/model.safetensors";
  REQUIRE(run("train --out " + out + " --epochs 1 --clip-grad 0" + kTiny).code == 0);
  mg::io::SafetensorsFile f = mg::io::read_safetensors(ck);
  nlohmann::json meta = nlohmann::json::parse(f.metadata.at("musicgen"));
  meta["train"]["lr"] = 10.0;
  meta["optimizer"]["lr"] = 10.0;  // the optimizer's state: what a resumed run continues with
  f.metadata["musicgen"] = meta.dump();
  f.metadata["checksum"] = fmt::format("fnv1a64:{:016x}", mg::io::content_checksum(f, "checksum"));
  mg::io::write_safetensors(ck, f);
  std::ifstream before_file(ck, std::ios::binary);
  std::stringstream before;
  before << before_file.rdbuf();
  const std::vector<std::string> log_before = csv_column(out + "/log.csv", "epoch");
  Run r = run("train --out " + out + " --epochs 3 --resume" + kTiny);
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK(r.output.find("jazz-vae: error: epoch 2, step ") != std::string::npos);
  CHECK(r.output.find(": the loss is") != std::string::npos);
  CHECK(r.output.find(ck + " keeps epoch 1") != std::string::npos);
  std::ifstream after_file(ck, std::ios::binary);
  std::stringstream after;
  after << after_file.rdbuf();
  CHECK(after.str() == before.str());
  CHECK(csv_column(out + "/log.csv", "epoch") == log_before);

  // --skip-nonfinite: the bad steps are skipped and counted; every weight stays finite.
  Run skip = run("train --out " + dir + "/skip --epochs 2 --lr 10 --clip-grad 0 --skip-nonfinite" + kTiny);
  INFO(skip.output);
  REQUIRE(skip.code == 0);
  CHECK(skip.output.find("step skipped (--skip-nonfinite)") != std::string::npos);
  const std::vector<std::string> skipped = csv_column(dir + "/skip/log.csv", "skipped_steps");
  REQUIRE(skipped.size() == 2);
  CHECK(std::stoi(skipped[0]) > 0);
  CHECK_NOTHROW(mg::nn::load_checkpoint(dir + "/skip/model.safetensors", "jazz-vae"));
}

TEST_CASE("jazz-vae generate decodes in batches and writes every sample") {
  const std::string dir = mg::test::scratch_dir("jazz-batches");
  REQUIRE(run("train --out " + dir + "/run --epochs 1" + kTiny).code == 0);
  Run g = run("generate --checkpoint " + dir + "/run/model.safetensors --count 20 --griffin-lim-iters 2 --out " + dir +
              "/gen");
  INFO(g.output);
  REQUIRE(g.code == 0);
  for (int i = 1; i <= 20; ++i) CHECK(fs::exists(fmt::format("{}/gen/sample-{:02}.wav", dir, i)));
  CHECK(fs::exists(dir + "/gen/samples.png"));
  // Different latent points in different batches give different clips.
  CHECK(mg::io::load_audio(dir + "/gen/sample-01.wav").samples != mg::io::load_audio(dir + "/gen/sample-20.wav").samples);
}

TEST_CASE("jazz-vae eval --data scores every clip of every file of the folder, and without it the checkpoint's held-out clips") {
  const std::string dir = mg::test::scratch_dir("jazz-eval-data");
  // Five 2-s files cut into 1-s clips: ten clips, split by file.
  fs::create_directories(dir + "/data");
  for (int i = 0; i < 5; ++i) mg::io::write_wav(dir + "/data/t" + std::to_string(i) + ".wav", tone(2.0, i), 22050, true);
  Run t = run("train --data " + dir + "/data --epochs 1 --out " + dir + "/run" + kTiny);
  INFO(t.output);
  REQUIRE(t.code == 0);
  const size_t split_at = t.output.find("; held-out: ");
  REQUIRE(split_at != std::string::npos);
  const std::string held_out = t.output.substr(split_at, t.output.find('\n', split_at) - split_at);  // "; held-out: 1 files (2 clips)"
  const std::string held_clips = held_out.substr(held_out.find('(') + 1, held_out.find(" clips") - held_out.find('(') - 1);

  // Another folder: 2.5 s, 1 s and 3.2 s give 2 + 1 + 3 clips of 1 s, all of them scored, no 80/20 split.
  fs::create_directories(dir + "/other");
  const double seconds[] = {2.5, 1.0, 3.2};
  for (int i = 0; i < 3; ++i) mg::io::write_wav(dir + "/other/o" + std::to_string(i) + ".wav", tone(seconds[i], i + 5), 22050, true);
  const std::string ck = dir + "/run/model.safetensors";
  // More samples than the median pairwise distance keeps (256), decoded 16 at a time, with progress.
  Run folder = run("eval --checkpoint " + ck + " --data " + dir + "/other --samples 300 --griffin-lim-iters 1");
  INFO(folder.output);
  REQUIRE(folder.code == 0);
  CHECK(folder.output.find("data: " + dir + "/other: 3 files, 6 clips; every clip is scored\n") != std::string::npos);
  CHECK(folder.output.find("\nthe folder's clips: 6\n") != std::string::npos);
  CHECK(folder.output.find("samples from N(0, I) step 19/19") != std::string::npos);
  CHECK(folder.output.find("(300 clips; median pairwise log-mel distance") != std::string::npos);

  // Without --data: the held-out clips of the checkpoint's own split.
  Run own = run("eval --checkpoint " + ck + " --samples 2 --griffin-lim-iters 1");
  INFO(own.output);
  REQUIRE(own.code == 0);
  CHECK(own.output.find("\nheld-out clips: " + held_clips + "\n") != std::string::npos);
  CHECK(held_clips != "10");
}
