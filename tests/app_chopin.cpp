// chopin-lstm as a user runs it: train, resume, generate, eval and the error
// paths, through the built binary on the built-in corpus with a tiny network.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "io/audio.h"
#include "io/midi.h"
#include "models/checkpoint.h"
#include "models/layers.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const std::string kBin = MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm";
const std::string kTiny = " --hidden1 24 --hidden2 12 --dense 12 --batch 32 --max-steps 4 --threads 2";
// The original recipe, no longer train's default.
const std::string kSeedRecipe = " --model seed";

using Run = mg::test::ShellRun;

Run run(const std::string& args) { return mg::test::run_shell(kBin + " " + args); }

using mg::test::slurp;

// The last line of the output (where the one-line error is).
std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

// Two checkpoints hold the same weights, bit for bit, and the same generator position.
void check_same_state(const mg::nn::Checkpoint& x, const mg::nn::Checkpoint& y) {
  REQUIRE(x.model.size() == y.model.size());
  for (size_t i = 0; i < x.model.size(); ++i) {
    INFO(x.model[i].first);
    CHECK(x.model[i].second.to_vector<float>() == y.model[i].second.to_vector<float>());
  }
  CHECK(x.meta["rng"] == y.meta["rng"]);
}

}  // namespace

TEST_CASE("chopin-lstm resumed training equals uninterrupted training") {
  const std::string dir = mg::test::scratch_dir("chopin-resume");
  Run a = run("train --out " + dir + "/straight --epochs 2" + kTiny + kSeedRecipe);
  REQUIRE_MESSAGE(a.code == 0, a.output);
  Run b1 = run("train --out " + dir + "/resumed --epochs 1" + kTiny + kSeedRecipe);
  REQUIRE_MESSAGE(b1.code == 0, b1.output);
  Run b2 = run("train --out " + dir + "/resumed --epochs 2 --resume" + kTiny + kSeedRecipe);
  REQUIRE_MESSAGE(b2.code == 0, b2.output);
  CHECK(b2.output.find("resuming after epoch 1") != std::string::npos);

  mg::nn::Checkpoint x = mg::nn::load_checkpoint(dir + "/straight/model.safetensors", "chopin-lstm");
  mg::nn::Checkpoint y = mg::nn::load_checkpoint(dir + "/resumed/model.safetensors", "chopin-lstm");
  check_same_state(x, y);
  CHECK(x.meta["epoch"] == 2);
  for (const char* f : {"log.csv", "curves.png", "token-histogram.png"}) CHECK(fs::exists(dir + "/straight/" + f));
}

TEST_CASE("chopin-lstm training lowers the held-out loss") {
  const std::string dir = mg::test::scratch_dir("chopin-learn");
  Run r = run("train --out " + dir + " --model embed --epochs 3 --lr 0.01" + kTiny);
  REQUIRE_MESSAGE(r.code == 0, r.output);
  std::istringstream csv(slurp(dir + "/log.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK(line.rfind("epoch,train_loss,heldout_loss", 0) == 0);
  std::vector<double> heldout;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::string cell;
    std::getline(ss, cell, ',');
    std::getline(ss, cell, ',');
    std::getline(ss, cell, ',');
    heldout.push_back(std::stod(cell));
  }
  REQUIRE(heldout.size() == 3);
  CHECK(heldout.back() < heldout.front());
}

TEST_CASE("chopin-lstm generation is deterministic for a seed and writes readable MIDI") {
  const std::string dir = mg::test::scratch_dir("chopin-generate");
  REQUIRE(run("train --out " + dir + " --epochs 1" + kTiny + kSeedRecipe).code == 0);
  const std::string ck = " --checkpoint " + dir + "/model.safetensors";
  for (const char* name : {"a", "b", "c", "greedy1", "greedy2"}) {
    const std::string n = name;
    const std::string sampling = n[0] == 'g' ? "" : " --temperature 1 --top-k 10 --top-p 0.9";
    const std::string seed = n == "c" ? " --seed 7" : " --seed 3";
    Run r = run("generate" + ck + " --notes 30 --out " + dir + "/" + n + ".mid" + sampling + seed);
    REQUIRE_MESSAGE(r.code == 0, r.output);
  }
  CHECK(slurp(dir + "/a.mid") == slurp(dir + "/b.mid"));
  CHECK(slurp(dir + "/a.mid") != slurp(dir + "/c.mid"));
  CHECK(slurp(dir + "/greedy1.mid") == slurp(dir + "/greedy2.mid"));
  CHECK(fs::exists(dir + "/a-roll.png"));
  mg::io::MidiFile m = mg::io::read_midi(dir + "/a.mid");
  // 30 tokens, one per quarter note: notes start on every whole beat 0..29,
  // and a chord token is one chord (no pitch twice at one onset, unlike the seed's bug).
  std::set<int64_t> onsets;
  std::set<std::pair<int64_t, int>> onset_pitches;
  for (const auto& note : m.notes) {
    const double beat = m.tick_to_beats(note.start_tick);
    REQUIRE(beat == doctest::Approx(std::round(beat)));
    onsets.insert(std::llround(beat));
    CHECK(onset_pitches.insert({std::llround(beat), note.pitch}).second);
  }
  CHECK(onsets.size() == 30);
  CHECK(*onsets.begin() == 0);
  CHECK(*onsets.rbegin() == 29);

  Run wav = run("generate" + ck + " --notes 8 --step 0.5 --tempo 90 --out " + dir + "/w.mid --wav " + dir + "/w.wav");
  REQUIRE_MESSAGE(wav.code == 0, wav.output);
  mg::io::MidiFile w = mg::io::read_midi(dir + "/w.mid");
  REQUIRE(!w.tempo_map.empty());
  CHECK(w.tempo_map[0].bpm() == doctest::Approx(90));
  for (const auto& note : w.notes) CHECK(w.tick_to_beats(note.start_tick) < 4.0);  // 8 tokens of half a beat
  const mg::io::Audio audio = mg::io::load_audio(dir + "/w.wav");
  CHECK(audio.sample_rate == 44100);
  CHECK(audio.samples.size() > 44100);  // 4 beats at 90 BPM plus the release tail

  // A MIDI primer: our own output re-tokenizes into the vocabulary; 30 tokens are too few for 40-token windows.
  REQUIRE(run("generate" + ck + " --notes 50 --out " + dir + "/long.mid").code == 0);
  Run primed = run("generate" + ck + " --notes 10 --primer " + dir + "/long.mid --out " + dir + "/primed.mid");
  CHECK_MESSAGE(primed.code == 0, primed.output);
  CHECK(primed.output.find("not in the vocabulary") == std::string::npos);
  Run short_primer = run("generate" + ck + " --notes 10 --primer " + dir + "/a.mid --out " + dir + "/short.mid");
  CHECK(short_primer.code != 0);
  CHECK(last_line(short_primer.output).find("--primer " + dir + "/a.mid") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/short.mid"));

  Run ev = run("eval" + ck + " --pieces 2 --notes 20");
  REQUIRE_MESSAGE(ev.code == 0, ev.output);
  CHECK(ev.output.find("held-out perplexity") != std::string::npos);
  CHECK(ev.output.find("| pitch-class histogram") != std::string::npos);

  // The original recipe is recorded as such.
  mg::nn::Checkpoint c = mg::nn::load_checkpoint(dir + "/model.safetensors", "chopin-lstm");
  CHECK(c.meta["repr"] == "seed");
  CHECK(c.meta["objective"] == "next");
  CHECK(c.meta["model"]["input"] == "seed");
}

namespace {

// A number printed after `label` in the output.
double number_after(const std::string& out, const std::string& label) {
  const size_t at = out.find(label);
  REQUIRE_MESSAGE(at != std::string::npos, label << " not in:\n" << out);
  return std::stod(out.substr(at + label.size()));
}

}  // namespace

TEST_CASE("chopin-lstm timed embed model: all-position training, pieces with rhythm, eval against a folder") {
  const std::string dir = mg::test::scratch_dir("chopin-timed");
  Run t = run("train --out " + dir + " --model embed --epochs 2 --lr 0.01" + kTiny);
  REQUIRE_MESSAGE(t.code == 0, t.output);
  CHECK(t.output.find("representation: timed") != std::string::npos);
  CHECK(t.output.find("loss at every position") != std::string::npos);
  mg::nn::Checkpoint c = mg::nn::load_checkpoint(dir + "/model.safetensors", "chopin-lstm");
  CHECK(c.meta["repr"] == "timed");
  CHECK(c.meta["objective"] == "all");
  CHECK(c.meta["stride"] == 40);
  for (const auto& token : c.meta["vocab"]) CHECK(token.get<std::string>().find('_') != std::string::npos);
  // Both held-out losses are logged, and the all-position one falls.
  std::istringstream csv(slurp(dir + "/log.csv"));
  std::string header, row1, row2;
  std::getline(csv, header);
  std::getline(csv, row1);
  std::getline(csv, row2);
  CHECK(header.find(",heldout_loss_all") != std::string::npos);
  auto last_cell = [](const std::string& row) { return std::stod(row.substr(row.rfind(',') + 1)); };
  CHECK(last_cell(row2) < last_cell(row1));

  // Sampling (the default) with a seed: the same file twice; another seed, another file.
  const std::string ck = " --checkpoint " + dir + "/model.safetensors";
  for (const char* name : {"a", "b", "c"}) {
    const std::string seed = std::string(name) == "c" ? " --seed 9" : " --seed 4";
    Run g = run("generate" + ck + " --notes 60 --out " + dir + "/" + name + ".mid" + seed);
    REQUIRE_MESSAGE(g.code == 0, g.output);
  }
  CHECK(slurp(dir + "/a.mid") == slurp(dir + "/b.mid"));
  CHECK(slurp(dir + "/a.mid") != slurp(dir + "/c.mid"));
  // The piece has rhythm: notes of several lengths, onsets off the beat, a tempo the tokens chose.
  const mg::io::MidiFile m = mg::io::read_midi(dir + "/a.mid");
  REQUIRE(m.notes.size() >= 20);
  CHECK(m.notes.size() <= 60);
  std::set<int64_t> lengths, offbeat;
  for (const auto& n : m.notes) {
    lengths.insert(n.end_tick - n.start_tick);
    if (n.start_tick % m.ticks_per_quarter != 0) offbeat.insert(n.start_tick);
    CHECK(n.start_tick % (m.ticks_per_quarter / 12) == 0);  // on the twelfth-of-a-beat grid
  }
  CHECK(lengths.size() >= 3);
  CHECK(!offbeat.empty());

  // --greedy, and a length in seconds with loudness-normalised audio.
  Run greedy = run("generate" + ck + " --notes 30 --greedy --out " + dir + "/greedy.mid");
  CHECK_MESSAGE(greedy.code == 0, greedy.output);
  CHECK(greedy.output.find("greedy") != std::string::npos);
  Run secs = run("generate" + ck + " --length-seconds 6 --out " + dir + "/six.mid --wav " + dir + "/six.wav");
  REQUIRE_MESSAGE(secs.code == 0, secs.output);
  const mg::io::MidiFile six = mg::io::read_midi(dir + "/six.mid");
  REQUIRE(!six.notes.empty());
  double last_onset = 0;
  for (const auto& n : six.notes) last_onset = std::max(last_onset, n.start_sec);
  CHECK(last_onset <= 6.0 + 1e-6);
  CHECK(last_onset > 2.0);
  const mg::io::Audio audio = mg::io::load_audio(dir + "/six.wav");
  float peak = 0;
  for (float v : audio.samples) peak = std::max(peak, std::abs(v));
  CHECK(peak == doctest::Approx(std::pow(10.0, -1.0 / 20)).epsilon(1e-3));  // -1 dBFS

  // A MIDI primer in the timed representation.
  Run primed = run("generate" + ck + " --notes 10 --primer " + dir + "/a.mid --out " + dir + "/primed.mid");
  CHECK_MESSAGE(primed.code == 0, primed.output);
  CHECK(run("generate" + ck + " --notes 10 --greedy --top-p 0.5 --out " + dir + "/x.mid").code == 2);
  CHECK(run("generate" + ck + " --notes 10 --length-seconds 5 --out " + dir + "/x.mid").code == 2);

  // eval on a folder of other music: NLLs per token and per note, and the Yang-Lerch table.
  fs::create_directories(dir + "/other");
  for (const char* name : {"a", "c", "six"}) fs::copy_file(dir + "/" + name + ".mid", dir + "/other/" + name + ".mid");
  Run ev = run("eval" + ck + " --data " + dir + "/other --pieces 3 --notes 15 --reference-pieces 10");
  REQUIRE_MESSAGE(ev.code == 0, ev.output);
  const double per_token = number_after(ev.output, "NLL per token after each window: ");
  const double all_positions = number_after(ev.output, "NLL per token over all positions: ");
  const double per_note = number_after(ev.output, "NLL per note: ");
  CHECK(per_token > 0);
  CHECK(all_positions > 0);
  // A note takes at least a Pitch, a Dur and a Vel token.
  CHECK(per_note > 2 * all_positions);
  const double mean = number_after(ev.output, "| mean                      | ");
  CHECK(mean >= 0);
  CHECK(mean <= 1);
  CHECK(ev.output.find("training data (ceiling)") != std::string::npos);
  // MusPy's metrics of the three generated pieces against the reference excerpts: a row per metric, a band
  // that is a band, and the count of (metric, piece) pairs inside it out of 9 metrics x 3 pieces.
  for (const char* metric : {"pitch_range", "n_pitches_used", "n_pitch_classes_used", "pitch_class_entropy",
                             "scale_consistency", "polyphony", "polyphony_rate", "empty_beat_rate",
                             "groove_consistency"}) {
    const std::string row = fmt::format("| {:<20} | ", metric);
    REQUIRE_MESSAGE(ev.output.find(row) != std::string::npos, metric);
    std::istringstream cells(ev.output.substr(ev.output.find(row) + row.size()));
    double p5 = 0, p95 = 0;
    char bar = 0;
    cells >> p5 >> bar >> p95;
    CHECK_MESSAGE(p5 <= p95, metric);
  }
  const double scale_p5 = number_after(ev.output, "| scale_consistency    | ");
  CHECK(scale_p5 > 0);
  CHECK(scale_p5 <= 1);
  const std::string pairs = "(metric, piece) pairs inside the reference band: ";
  REQUIRE(ev.output.find(pairs) != std::string::npos);
  const double inside = number_after(ev.output, pairs);
  CHECK(inside >= 0);
  CHECK(inside <= 27);
  CHECK(ev.output.find(pairs + fmt::format("{} of 27", static_cast<int>(inside))) != std::string::npos);
}

TEST_CASE("chopin-lstm embed: whole pieces held out by default, and eval scores those pieces") {
  const std::string dir = mg::test::scratch_dir("chopin-holdout");
  Run t = run("train --out " + dir + "/run --model embed --epochs 1 --augment none" + kTiny);
  REQUIRE_MESSAGE(t.code == 0, t.output);
  // The built-in corpus's 16 pieces: the 4th, 10th and 16th held out.
  CHECK(t.output.find("held out: 3 whole pieces: built-in piece 4, built-in piece 10, built-in piece 16\n") !=
        std::string::npos);
  const mg::nn::Checkpoint c = mg::nn::load_checkpoint(dir + "/run/model.safetensors", "chopin-lstm");
  CHECK(c.meta["holdout"] == "pieces");
  // The run ends with eval's tables for the best epoch's pieces against the held-out pieces.
  const size_t tables = t.output.find("the best epoch against the held-out music (chopin-lstm eval --checkpoint " + dir +
                                      "/run/best.safetensors)");
  REQUIRE(tables != std::string::npos);
  CHECK(t.output.find("(metric, piece) pairs inside the reference band: ", tables) != std::string::npos);
  CHECK(t.output.find("generated: 8 pieces of about 300 notes", tables) != std::string::npos);
  std::istringstream csv(slurp(dir + "/run/log.csv"));
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  REQUIRE(header.substr(header.rfind(',') + 1) == "heldout_loss_all");
  const double logged_all = std::stod(row.substr(row.rfind(',') + 1));
  // At the end of training the same windows were scored (one epoch: the best is the last).
  CHECK(number_after(t.output.substr(tables), "NLL per token over all positions: ") ==
        doctest::Approx(logged_all).epsilon(1e-4));

  // eval rebuilds the split from the checkpoint: the same pieces, every 40th window as train scored them.
  Run ev = run("eval --checkpoint " + dir + "/run/model.safetensors --window-stride 40 --pieces 2 --notes 15 "
               "--reference-pieces 10 --threads 2");
  REQUIRE_MESSAGE(ev.code == 0, ev.output);
  CHECK(ev.output.find("held out: 3 whole pieces\n") != std::string::npos);
  CHECK(number_after(ev.output, "NLL per token over all positions: ") == doctest::Approx(logged_all).epsilon(1e-4));
  CHECK(number_after(ev.output, "NLL per note: ") > 0);
  CHECK(ev.output.find("cut from the held-out pieces of the training data") != std::string::npos);
  CHECK(ev.output.find("training data (ceiling)") != std::string::npos);

  // --holdout windows is the original's split of the windows; --model seed keeps it by default.
  Run w = run("train --out " + dir + "/windows --model embed --epochs 1 --holdout windows --augment none" + kTiny);
  REQUIRE_MESSAGE(w.code == 0, w.output);
  CHECK(w.output.find("held out:") == std::string::npos);
  CHECK(w.output.find("the best epoch against the held-out music") == std::string::npos);  // windows it trained beside
  CHECK(mg::nn::load_checkpoint(dir + "/windows/model.safetensors", "chopin-lstm").meta["holdout"] == "windows");
  Run seed = run("train --out " + dir + "/seed --epochs 1" + kTiny + kSeedRecipe);
  REQUIRE_MESSAGE(seed.code == 0, seed.output);
  CHECK(mg::nn::load_checkpoint(dir + "/seed/model.safetensors", "chopin-lstm").meta["holdout"] == "windows");
  // With --heldout-data the folder is what is held out.
  Run both = run("train --out " + dir + "/both --holdout pieces --heldout-data " + dir + kTiny);
  CHECK(both.code == 2);
  CHECK(last_line(both.output) ==
        "chopin-lstm: error: --holdout: not with --heldout-data, whose folder is what is held out (see --help)");
  CHECK(!fs::exists(dir + "/both"));
}

TEST_CASE("chopin-lstm --heldout-data: held-out metrics on another folder, the best epoch kept, --patience stops") {
  const std::string dir = mg::test::scratch_dir("chopin-heldout-folder");
  // Music the second model never trains on: pieces of a first model.
  // Without augmentation: the held-out course below is the one these checks were written for.
  Run first = run("train --out " + dir + "/first --model embed --epochs 1 --augment none" + kTiny);
  REQUIRE_MESSAGE(first.code == 0, first.output);
  fs::create_directories(dir + "/held");
  for (const char* seed : {"1", "2", "3"}) {
    Run g = run("generate --checkpoint " + dir + "/first/model.safetensors --notes 80 --seed " + seed + " --out " +
                dir + "/held/" + seed + ".mid");
    REQUIRE_MESSAGE(g.code == 0, g.output);
  }
  // A learning rate high enough that the held-out NLL stops falling within the epochs given.
  Run t = run("train --out " + dir + "/run --model embed --epochs 12 --lr 0.2 --patience 2 --augment none --heldout-data " +
              dir + "/held" + kTiny);
  REQUIRE_MESSAGE(t.code == 0, t.output);
  CHECK(t.output.find("held-out data: " + dir + "/held") != std::string::npos);

  // log.csv: the epoch with the lowest held-out NLL over all positions (the last column).
  std::istringstream csv(slurp(dir + "/run/log.csv"));
  std::string line;
  std::getline(csv, line);
  int best = 0, last = 0;
  double lowest = INFINITY;
  while (std::getline(csv, line)) {
    const int epoch = std::stoi(line.substr(0, line.find(',')));
    const double loss_all = std::stod(line.substr(line.rfind(',') + 1));
    if (loss_all < lowest) {
      lowest = loss_all;
      best = epoch;
    }
    last = epoch;
  }
  REQUIRE(best > 0);
  const mg::nn::Checkpoint kept = mg::nn::load_checkpoint(dir + "/run/best.safetensors", "chopin-lstm");
  CHECK(kept.meta["epoch"] == best);
  CHECK(kept.meta["best"]["epoch"] == best);
  CHECK(kept.meta["heldout"]["loss_all"].get<double>() == doctest::Approx(lowest).epsilon(1e-5));
  const mg::nn::Checkpoint latest = mg::nn::load_checkpoint(dir + "/run/model.safetensors", "chopin-lstm");
  CHECK(latest.meta["epoch"] == last);
  CHECK(latest.meta["best"]["epoch"] == best);
  // At this learning rate the held-out NLL stops falling well before epoch 12 (the best is epoch 5 of 7 with
  // the seed's draws), and the run stops exactly `patience` epochs after its best.
  CHECK(last < 12);
  CHECK(last - best == 2);
  CHECK(t.output.find("stopping after epoch " + std::to_string(last) + ": no lower held-out score for 2 epochs") !=
        std::string::npos);
  MESSAGE("best epoch " << best << " of " << last);

  // The best model generates, and eval without --data scores it on the held-out folder.
  Run g = run("generate --checkpoint " + dir + "/run/best.safetensors --notes 20 --out " + dir + "/best.mid");
  CHECK_MESSAGE(g.code == 0, g.output);
  Run ev = run("eval --checkpoint " + dir + "/run/best.safetensors --pieces 2 --notes 15 --reference-pieces 10");
  REQUIRE_MESSAGE(ev.code == 0, ev.output);
  CHECK(ev.output.find("reference: ") != std::string::npos);
  CHECK(ev.output.find("cut from " + dir + "/held") != std::string::npos);
  CHECK(number_after(ev.output, "NLL per token over all positions: ") ==
        doctest::Approx(lowest).epsilon(0.05));

  // A folder that does not exist is a usage error naming the flag.
  Run bad = run("train --out " + dir + "/bad --model embed --epochs 1 --heldout-data " + dir + "/nowhere" + kTiny);
  CHECK(bad.code == 2);
  CHECK(last_line(bad.output).find("--heldout-data") != std::string::npos);
  CHECK(!fs::exists(dir + "/bad"));
  // A folder with nothing readable in it is a runtime error naming the flag and the folder.
  fs::create_directories(dir + "/junk");
  std::ofstream(dir + "/junk/x.mid") << "not a MIDI file";
  Run junk = run("train --out " + dir + "/junk-run --model embed --epochs 1 --heldout-data " + dir + "/junk" + kTiny);
  CHECK(junk.code == 1);
  CHECK(last_line(junk.output).find("--heldout-data " + dir + "/junk: no readable MIDI file") != std::string::npos);
  CHECK(!fs::exists(dir + "/junk-run/model.safetensors"));

  // Held-out music that is training music is refused, naming the overlap: the training folder itself, or a
  // training file's bytes under another name.
  const std::string on_held = "train --model embed --epochs 1 --min-count 1 --data " + dir + "/held" + kTiny;
  const std::string refusal = "; held-out music must be music the model does not train on";
  Run same = run(on_held + " --out " + dir + "/same --heldout-data " + dir + "/held");
  CHECK(same.code == 1);
  CHECK(last_line(same.output) == "chopin-lstm: error: --heldout-data " + dir + "/held: 3 of its files are training "
                                  "files too (" + dir + "/held/1.mid, ...)" + refusal);
  fs::create_directories(dir + "/copied");
  fs::copy_file(dir + "/held/2.mid", dir + "/copied/renamed.mid");
  Run copied = run(on_held + " --out " + dir + "/copied-run --heldout-data " + dir + "/copied");
  CHECK(copied.code == 1);
  CHECK(last_line(copied.output) == "chopin-lstm: error: --heldout-data " + dir + "/copied: 1 of its files are "
                                    "training files too (" + dir + "/copied/renamed.mid)" + refusal);
  for (const char* out : {"/same", "/copied-run"}) CHECK_FALSE(fs::exists(dir + out));
}

TEST_CASE("chopin-lstm bad input gives one line naming the culprit and writes nothing") {
  const std::string dir = mg::test::scratch_dir("chopin-errors");
  fs::create_directories(dir + "/empty");
  fs::create_directories(dir + "/junk");
  std::ofstream(dir + "/junk/a.mid") << "not a midi file";
  std::ofstream(dir + "/junk.safetensors") << "garbage";
  // A checkpoint of the other app.
  mg::nn::Linear lin(2, 2);
  mg::nn::save_checkpoint(dir + "/other.safetensors", "jazz-vae", lin, nullptr, nlohmann::json::object());

  struct Case {
    std::string args, must_name;
  } cases[] = {
      {"train --data " + dir + "/empty --out " + dir + "/o1" + kTiny, dir + "/empty"},
      {"train --data " + dir + "/junk --out " + dir + "/o2" + kTiny, dir + "/junk"},
      {"train --data " + dir + "/missing --out " + dir + "/o3" + kTiny, dir + "/missing"},
      {"train --min-count 100000 --out " + dir + "/o4" + kTiny, "--min-count"},
      {"generate --checkpoint " + dir + "/junk.safetensors --out " + dir + "/o5.mid", dir + "/junk.safetensors"},
      {"generate --checkpoint " + dir + "/other.safetensors --out " + dir + "/o6.mid", dir + "/other.safetensors"},
      {"train --epochs -1 --out " + dir + "/o7", "--epochs"},
      {"train --model lstm --out " + dir + "/o8", "--model"},
#if !defined(MUSICGEN_WITH_CUDA)
      {"train --device cuda --out " + dir + "/o9" + kTiny, "--device"},
#endif
  };
  for (const Case& c : cases) {
    Run r = run(c.args);
    INFO(c.args, "\n", r.output);
    CHECK(r.code != 0);
    CHECK(last_line(r.output).find(c.must_name) != std::string::npos);
  }
  for (const char* out : {"o1", "o2", "o3", "o4", "o7", "o8", "o9"}) CHECK_FALSE(fs::exists(dir + "/" + out));
  CHECK_FALSE(fs::exists(dir + "/o5.mid"));
  CHECK_FALSE(fs::exists(dir + "/o6.mid"));

  // One unreadable file among good ones: a warning naming it, and training goes on.
  const std::string mixed = dir + "/mixed";
  fs::create_directories(mixed);
  fs::copy_file(dir + "/junk/a.mid", mixed + "/broken.mid");
  Run gen = run("train --out " + dir + "/seeded --epochs 1" + kTiny);
  REQUIRE(gen.code == 0);
  REQUIRE(run("generate --checkpoint " + dir + "/seeded/model.safetensors --notes 300 --temperature 1.5 --out " +
              mixed + "/good.mid")
              .code == 0);
  Run r = run("train --data " + mixed + " --min-count 1 --batch 8 --max-steps 2 --epochs 1 --hidden1 8 --hidden2 8 "
              "--dense 8 --out " + dir + "/mixed-out");
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("warning: skipping broken.mid") != std::string::npos);
  CHECK(r.output.find("1 skipped") != std::string::npos);
  // One piece cannot be held out whole: the default falls back to the windows, saying so; asked for, it is an error.
  CHECK(r.output.find("holds one piece; nothing can be held out whole; holding out 20 % of the windows instead "
                      "(--holdout windows)") != std::string::npos);
  CHECK(mg::nn::load_checkpoint(dir + "/mixed-out/model.safetensors", "chopin-lstm").meta["holdout"] == "windows");
  Run asked = run("train --data " + mixed + " --holdout pieces --min-count 1 --batch 8 --max-steps 2 --epochs 1 "
                  "--hidden1 8 --hidden2 8 --dense 8 --out " + dir + "/mixed-pieces");
  CHECK(asked.code == 1);
  CHECK(last_line(asked.output).find("chopin-lstm: error: --holdout pieces: " + mixed) != std::string::npos);
  CHECK(last_line(asked.output).find("holds one piece") != std::string::npos);
}

TEST_CASE("chopin-lstm on the original 48 Chopin files") {
  const std::string data = mg::test::shared_data_dir();
  if (data.empty()) {
    mg::test::skip("../shared/data not present (set MUSICGEN_DATA)");
    return;
  }
  const std::string dir = mg::test::scratch_dir("chopin-real");
  Run r = run("train --data " + data + "/chopin-midi --out " + dir + " --epochs 1" + kTiny + kSeedRecipe);
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("48 MIDI files read") != std::string::npos);
  CHECK(r.output.find("tokens: 63628 (317 distinct)") != std::string::npos);
  CHECK(r.output.find("vocabulary 117") != std::string::npos);
  CHECK(r.output.find("windows: 47613 train, 11904 held out") != std::string::npos);
}

TEST_CASE("chopin-lstm outputs: never through a symbolic link, never into a FIFO, stale temporaries swept") {
  const std::string dir = mg::test::scratch_dir("chopin-outputs");
  REQUIRE(run("train --out " + dir + "/run --epochs 1" + kTiny).code == 0);
  const std::string ck = " --checkpoint " + dir + "/run/model.safetensors --notes 8";

  // A link to an existing file: refused before anything is written, the file it points to untouched.
  fs::create_directories(dir + "/real");
  std::ofstream(dir + "/real/piece.mid") << "old";
  fs::create_symlink("real/piece.mid", dir + "/piece.mid");
  Run linked = run("generate" + ck + " --out " + dir + "/piece.mid --roll " + dir + "/roll.png");
  CHECK(linked.code == 1);
  CHECK(last_line(linked.output) == "chopin-lstm: error: " + dir +
                                        "/piece.mid: is a symbolic link; outputs are never written through links "
                                        "(remove it or choose another path)");
  CHECK(fs::is_symlink(dir + "/piece.mid"));
  std::ifstream real(dir + "/real/piece.mid");
  CHECK(std::string(std::istreambuf_iterator<char>(real), {}) == "old");
  CHECK_FALSE(fs::exists(dir + "/roll.png"));

  // A FIFO as the WAV: refused before anything is written, the FIFO untouched.
  REQUIRE(mkfifo((dir + "/audio.wav").c_str(), 0600) == 0);
  Run fifo = run("generate" + ck + " --out " + dir + "/f.mid --wav " + dir + "/audio.wav");
  CHECK(fifo.code == 1);
  CHECK(last_line(fifo.output) == "chopin-lstm: error: " + dir + "/audio.wav: is a FIFO; outputs are written only to regular files");
  CHECK_FALSE(fs::exists(dir + "/f.mid"));
  CHECK_FALSE(fs::exists(dir + "/f-roll.png"));

  // A temporary left by a killed run (a pid that no longer exists) goes on the next write into its folder.
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  const std::string stale = dir + "/g.mid.tmp." + std::to_string(gone);
  std::ofstream(stale) << "torn";
  REQUIRE(run("generate" + ck + " --out " + dir + "/g.mid").code == 0);
  CHECK_FALSE(fs::exists(stale));
}

TEST_CASE("chopin-lstm: a primer of 100,000 notes struck together takes seconds, not minutes") {
  const std::string dir = mg::test::scratch_dir("chopin-big-primer");
  REQUIRE(run("train --out " + dir + "/run --epochs 1" + kTiny).code == 0);
  // 100,000 notes at tick 0, each released 100 ticks after the previous one (600 KB): no two form a chord.
  std::string track;
  for (int k = 0; k < 100000; ++k) track += std::string("\x00\x90", k == 0 ? 2 : 1) + char(48 + k % 24) + char(0x40);
  for (int k = 0; k < 100000; ++k) track += std::string("\x64", 1) + char(48 + k % 24) + char(0x00);
  track += std::string("\x00\xFF\x2F\x00", 4);
  auto u32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  std::ofstream(dir + "/primer.mid", std::ios::binary)
      << "MThd" + u32(6) + std::string("\x00\x00\x00\x01\x01\xE0", 6) + "MTrk" + u32(uint32_t(track.size())) + track;
  const mg::test::ChildResult r = mg::test::run_program(
      {kBin, "generate", "--checkpoint", dir + "/run/model.safetensors", "--notes", "8", "--primer",
       dir + "/primer.mid", "--out", dir + "/out.mid"},
      120);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  // A guard against the quadratic chord grouping (a minute), not a speed claim:
  // this run takes 0.15 s (ASan slows this code about 7x), so 30 s holds under
  // ASan in a parallel CTest on a loaded 2-core machine.
  CHECK(r.seconds < 30.0);
  CHECK(r.peak_mb < (mg::test::kSanitized ? 1000.0 : 500.0));
}

TEST_CASE("chopin-lstm train --augment: trains, resumes bit for bit, and refuses a changed --augment") {
  const std::string dir = mg::test::scratch_dir("chopin-augment");
  const std::string augment = " --augment velocity,transpose,tempo";
  auto first_train_loss = [&](const std::string& out) {
    std::istringstream csv(slurp(out + "/log.csv"));
    std::string header, row;
    std::getline(csv, header);
    std::getline(csv, row);
    return row.substr(0, row.find(',', row.find(',') + 1));  // "epoch,train_loss"
  };
  Run plain = run("train --out " + dir + "/plain --epochs 1 --augment none" + kTiny);
  REQUIRE_MESSAGE(plain.code == 0, plain.output);
  // The default: every augmentation for the timed representation, none for the seed's.
  Run by_default = run("train --out " + dir + "/default --epochs 1" + kTiny);
  REQUIRE_MESSAGE(by_default.code == 0, by_default.output);
  CHECK(mg::nn::load_checkpoint(dir + "/default/model.safetensors", "chopin-lstm").meta["augment"] ==
        "transpose,tempo,velocity");
  Run seed_default = run("train --out " + dir + "/seed --epochs 1 --model seed" + kTiny);
  REQUIRE_MESSAGE(seed_default.code == 0, seed_default.output);
  CHECK(mg::nn::load_checkpoint(dir + "/seed/model.safetensors", "chopin-lstm").meta["augment"] == "none");
  Run a = run("train --out " + dir + "/straight --epochs 2" + kTiny + augment);
  REQUIRE_MESSAGE(a.code == 0, a.output);
  CHECK(a.output.find("augmentation  transpose,tempo,velocity (training windows only)") != std::string::npos);
  // The augmented windows are other windows: another training loss; the held-out windows are not augmented.
  CHECK(first_train_loss(dir + "/plain") != first_train_loss(dir + "/straight"));
  mg::nn::Checkpoint x = mg::nn::load_checkpoint(dir + "/straight/model.safetensors", "chopin-lstm");
  CHECK(x.meta["augment"] == "transpose,tempo,velocity");
  CHECK(mg::nn::load_checkpoint(dir + "/plain/model.safetensors", "chopin-lstm").meta["augment"] == "none");

  // One epoch, then a resume that restates the setting in another order: the same run as two epochs straight.
  REQUIRE(run("train --out " + dir + "/resumed --epochs 1" + kTiny + augment).code == 0);
  Run refused = run("train --out " + dir + "/resumed --epochs 2 --resume --augment transpose");
  CHECK(refused.code == 2);
  CHECK(last_line(refused.output) ==
        "chopin-lstm: error: --resume: " + dir + "/resumed/model.safetensors was trained with other settings: "
        "--augment transpose,tempo,velocity -> transpose; drop these flags to continue with the checkpoint's, or "
        "train into another --out");
  CHECK(run("train --out " + dir + "/plain --epochs 2 --resume --augment tempo").code == 2);
  Run b = run("train --out " + dir + "/resumed --epochs 2 --resume --augment tempo,transpose,velocity");
  REQUIRE_MESSAGE(b.code == 0, b.output);
  mg::nn::Checkpoint y = mg::nn::load_checkpoint(dir + "/resumed/model.safetensors", "chopin-lstm");
  check_same_state(x, y);

  // Usage errors, one line each, before anything is written.
  const struct {
    std::string args, message;
  } bad[] = {
      {" --augment transpose --model seed", "--augment transpose: only with --repr timed, not --repr seed"},
      {" --augment tempo --repr seed", "--augment tempo: only with --repr timed, not --repr seed"},
      {" --augment pitch", "--augment pitch: 'pitch' is not one of transpose, tempo, velocity (or none on its own)"},
      {" --augment tempo,tempo", "--augment tempo,tempo: 'tempo' is given twice"},
  };
  for (const auto& c : bad) {
    Run r = run("train --out " + dir + "/bad --epochs 1" + kTiny + c.args);
    INFO(c.args, "\n", r.output);
    CHECK(r.code == 2);
    CHECK(last_line(r.output) == "chopin-lstm: error: " + c.message + " (see --help)");
    CHECK_FALSE(fs::exists(dir + "/bad"));
  }
}
