#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "io/builtin_corpus.h"
#include "io/midi.h"
#include "io/music_tokens.h"
#include "io/piano_render.h"
#include "tensor/error.h"
#include "tests/test_support.h"

using mg::io::NoteEvent;

namespace {

std::string joined(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += '.';
    s += std::to_string(v[i]);
  }
  return s;
}

}  // namespace

TEST_CASE("pitch names use music21 spelling") {
  CHECK(mg::io::pitch_name(60) == "C4");
  CHECK(mg::io::pitch_name(70) == "B-4");
  CHECK(mg::io::pitch_name(32) == "G#1");
  CHECK(mg::io::pitch_name(44) == "G#2");
  CHECK(mg::io::pitch_name(75) == "E-5");
  CHECK(mg::io::pitch_name(61) == "C#4");
  CHECK(mg::io::pitch_name(66) == "F#4");
  CHECK(mg::io::pitch_name(21) == "A0");
  CHECK(mg::io::pitch_name(0) == "C-1");
  CHECK(mg::io::pitch_name(127) == "G9");
  for (int p = 12; p < 128; ++p) {
    CAPTURE(p);
    CHECK(mg::io::parse_pitch_name(mg::io::pitch_name(p)) == p);
  }
  CHECK(mg::io::parse_pitch_name("C-1") == 0);
  CHECK_THROWS_AS(mg::io::parse_pitch_name("H4"), mg::Error);
  CHECK_THROWS_AS(mg::io::parse_pitch_name("C"), mg::Error);
  CHECK_THROWS_AS(mg::io::parse_pitch_name("C4x"), mg::Error);
}

TEST_CASE("normal order matches music21 on known chords") {
  // Expected strings are music21's Chord.normalOrder for these pitch-class sets.
  struct Case {
    std::vector<int> pcs;
    const char* expected;
  };
  std::vector<Case> cases = {
      {{0, 4, 7}, "0.4.7"},        // C major
      {{9, 0, 4}, "9.0.4"},        // A minor
      {{7, 11, 2, 5}, "11.2.5.7"}, // G7
      {{5, 8, 10}, "5.8.10"},
      {{3, 7}, "3.7"},
      {{0, 3, 4, 8}, "8.0.3.4"},      // inverted 4-19: mirror of the prime form, not Forte's normal order
      {{0, 2, 3, 4, 8}, "8.0.2.3.4"},
      {{0, 1, 5, 6, 8}, "5.6.8.0.1"}, // 5-20, where Forte's and Rahn's rules differ
      {{0, 1, 3, 7, 8}, "0.1.3.7.8"},
      {{0, 4, 8}, "0.4.8"},           // symmetric: lowest start
      {{2, 6, 10}, "2.6.10"},
      {{0, 3, 6, 9}, "0.3.6.9"},
      {{0, 6}, "0.6"},
      {{11, 1}, "11.1"},
      {{0, 12, 24}, "0"},             // octaves: one pitch class
      {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, "0.1.2.3.4.5.6.7.8.9.10.11"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.expected);
    CHECK(joined(mg::io::normal_order(c.pcs)) == c.expected);
  }
  CHECK(mg::io::normal_order({}).empty());
  CHECK(mg::io::chord_token({65, 68, 70}) == "5.8.10");
  CHECK(mg::io::chord_token({48, 60}) == "0");
}

TEST_CASE("tokenizing a hand-made file: notes, a chord, an octave, two hands") {
  // Right hand: C4, then E4+G4+C5 together, then an octave A3+A4, then D5.
  // Left hand: C3 under the first note, then a lone G2.
  std::vector<NoteEvent> right = {{0, 1, 60, 80}, {1, 1, 64, 80}, {1, 1, 67, 80}, {1, 1, 72, 80},
                                  {2, 1, 57, 80}, {2, 1, 69, 80}, {3, 1, 74, 80}};
  std::string dir = mg::test::scratch_dir("tokens_hand_made");
  mg::io::write_midi(dir + "/right.mid", right, 120);
  mg::io::MidiFile mf = mg::io::read_midi(dir + "/right.mid");
  CHECK(mg::io::midi_to_tokens(mf) == std::vector<std::string>{"C4", "0.4.7", "9", "D5"});

  // Two tracks: notes starting together in different tracks stay separate tokens,
  // the first track first at equal onsets.
  mg::io::MidiFile two = mf;
  mg::io::MidiNote bass;
  bass.track = 2;
  bass.pitch = 48;
  bass.start_tick = 0;
  bass.end_tick = 480;
  two.track_names.push_back("left");
  two.notes.push_back(bass);
  bass.pitch = 43;
  bass.order = 1;
  bass.start_tick = 1440;
  bass.end_tick = 1920;
  two.notes.push_back(bass);
  CHECK(mg::io::midi_to_tokens(two) == std::vector<std::string>{"C4", "C3", "0.4.7", "9", "D5", "G2"});

  // Onsets 1/16 of a quarter apart still make one chord; a note that starts
  // together but ends elsewhere does not join it.
  std::vector<NoteEvent> near = {{0, 1, 60, 80}, {1.0 / 16, 1, 64, 80}, {0, 3, 67, 80}};
  mg::io::write_midi(dir + "/near.mid", near, 120);
  CHECK(mg::io::midi_to_tokens(mg::io::read_midi(dir + "/near.mid")) == std::vector<std::string>{"0.4", "G4"});
}

TEST_CASE("tokens to notes makes one chord, not stacked chords") {
  std::vector<NoteEvent> notes = mg::io::tokens_to_notes({"C4", "5.8.10", "B-3"}, 1.0, 0.5, 70);
  REQUIRE(notes.size() == 5);
  CHECK(notes[0].pitch == 60);
  CHECK(notes[0].start_beats == 0.0);
  std::vector<int> chord_pitches;
  for (size_t i = 1; i < 4; ++i) {
    CHECK(notes[i].start_beats == 1.0);
    CHECK(notes[i].duration_beats == 0.5);
    CHECK(notes[i].velocity == 70);
    chord_pitches.push_back(notes[i].pitch);
  }
  CHECK(chord_pitches == std::vector<int>{65, 68, 70});
  CHECK(notes[4].pitch == 58);
  CHECK(notes[4].start_beats == 2.0);
  CHECK_THROWS_AS(mg::io::tokens_to_notes({"5.x"}), mg::Error);
  CHECK_THROWS_AS(mg::io::tokens_to_notes({"12"}), mg::Error);

  // Written and read back, the chord is three notes at one onset.
  std::string path = mg::test::scratch_dir("tokens_to_notes") + "/gen.mid";
  mg::io::write_midi(path, notes, 120);
  CHECK(mg::io::midi_to_tokens(mg::io::read_midi(path)) == std::vector<std::string>{"C4", "5.8.10", "B-3"});
}

TEST_CASE("rare-token filter keeps exactly the tokens with count >= min_count") {
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) tokens.push_back("C4");
  for (int i = 0; i < 3; ++i) tokens.push_back("0.4.7");
  tokens.push_back("E-5");
  tokens.push_back("E-5");
  tokens.push_back("G#2");
  auto counts = mg::io::count_tokens(tokens);
  CHECK(counts["C4"] == 5);
  CHECK(counts["G#2"] == 1);
  std::vector<std::string> kept = mg::io::filter_rare_tokens(tokens, 3);
  CHECK(kept.size() == 8);
  CHECK(mg::io::build_vocabulary(kept) == std::vector<std::string>{"0.4.7", "C4"});
  CHECK(mg::io::filter_rare_tokens(tokens, 6).empty());
  CHECK(mg::io::filter_rare_tokens(tokens, 1) == tokens);
  CHECK(mg::io::build_vocabulary(tokens) == std::vector<std::string>{"0.4.7", "C4", "E-5", "G#2"});
}

// How fast the corpus is made and tokenized: bench/bench_midi.cpp.
TEST_CASE("builtin corpus is deterministic and large enough for a min_count of 100") {
  std::vector<mg::io::MidiFile> corpus = mg::io::builtin_piano_corpus(42);
  std::vector<std::string> tokens;
  for (const auto& piece : corpus) {
    auto t = mg::io::midi_to_tokens(piece);
    tokens.insert(tokens.end(), t.begin(), t.end());
  }
  CHECK(corpus.size() == 16);
  CHECK(tokens.size() >= 15000);
  CHECK(tokens.size() <= 30000);
  auto counts = mg::io::count_tokens(tokens);
  CHECK(counts.size() >= 30);
  CHECK(counts.size() <= 60);
  size_t frequent = 0;
  for (const auto& [token, count] : counts) frequent += count >= 100;
  CHECK(frequent * 3 >= counts.size() * 2);  // most tokens survive the filter
  CHECK(mg::io::filter_rare_tokens(tokens, 100).size() * 10 >= tokens.size() * 9);
  bool has_chord = false;
  for (const auto& [token, count] : counts) has_chord |= mg::io::is_chord_token(token);
  CHECK(has_chord);

  // Same seed, same pieces; another seed, other pieces.
  std::vector<mg::io::MidiFile> again = mg::io::builtin_piano_corpus(42);
  std::vector<mg::io::MidiFile> other = mg::io::builtin_piano_corpus(43);
  REQUIRE(again.size() == corpus.size());
  bool all_same = true, any_differs = false;
  for (size_t i = 0; i < corpus.size(); ++i) {
    all_same &= mg::io::midi_to_tokens(again[i]) == mg::io::midi_to_tokens(corpus[i]);
    any_differs |= mg::io::midi_to_tokens(other[i]) != mg::io::midi_to_tokens(corpus[i]);
  }
  CHECK(all_same);
  CHECK(any_differs);

  // A piece survives the writer and reader with the same tokens.
  std::string path = mg::test::scratch_dir("builtin_corpus") + "/piece0.mid";
  mg::io::write_midi(path, mg::io::midi_to_note_events(corpus[0]), corpus[0].tempo_map[0].bpm());
  mg::io::MidiFile back = mg::io::read_midi(path);
  CHECK(back.notes.size() == corpus[0].notes.size());
}

TEST_CASE("piano render makes audible, bounded audio of the right length") {
  std::vector<NoteEvent> notes = {{0, 1, 60, 100}, {1, 1, 64, 100}, {2, 2, 67, 100}};
  for (auto engine : {mg::io::PianoEngine::Builtin, mg::io::PianoEngine::Auto}) {
    mg::io::PianoRenderOptions o;
    o.engine = engine;
    std::vector<float> audio = mg::io::render_piano(notes, o);
    CHECK(audio.size() == size_t(3.0 * mg::io::kPianoSampleRate));  // 4 beats at 120 bpm + 1 s tail
    double energy_first = 0;
    float peak = 0;
    for (size_t i = 0; i < audio.size(); ++i) {
      REQUIRE(std::isfinite(audio[i]));
      peak = std::max(peak, std::abs(audio[i]));
      if (i < 22050) energy_first += double(audio[i]) * audio[i];
    }
    CHECK(peak == doctest::Approx(std::pow(10.0, -1.0 / 20)).epsilon(1e-5));  // -1 dBFS
    CHECK(energy_first > 1.0);
  }
  if (mg::io::find_gm_soundfont().empty()) MESSAGE("no GM soundfont installed: Auto used the built-in synth");
  mg::io::PianoRenderOptions missing;
  missing.engine = mg::io::PianoEngine::FluidSynth;
  missing.soundfont = "/nonexistent.sf2";
  CHECK_THROWS_AS(mg::io::render_piano(notes, missing), mg::Error);
}

TEST_CASE("chopin folder tokenizes like the music21 notebook") {
  std::string data = mg::test::shared_data_dir();
  if (data.empty() || !std::filesystem::is_directory(data + "/chopin-midi")) {
    mg::test::skip("shared data folder with chopin-midi not found (set MUSICGEN_DATA)");
    return;
  }
  std::vector<std::string> skipped;
  mg::io::FolderTokens res = mg::io::tokenize_midi_folder(
      data + "/chopin-midi", [&](const std::string& file, const std::string& error) { skipped.push_back(file + ": " + error); });
  CHECK(skipped.empty());
  CHECK(res.files_read.size() == 48);
  CHECK(res.files_skipped == 0);
  // music21 6.7.1 gives exactly these counts (and the same token sequence);
  // the notebook reported 63,429 tokens and 317 distinct with its music21.
  CHECK(res.tokens.size() == 63628);
  CHECK(mg::io::build_vocabulary(res.tokens).size() == 317);
  // The correct rare-token filter (count >= 100) keeps far fewer than the notebook's 228.
  std::vector<std::string> kept = mg::io::filter_rare_tokens(res.tokens, 100);
  CHECK(kept.size() == 59557);
  CHECK(mg::io::build_vocabulary(kept).size() == 117);
}

TEST_CASE("tokenizing a folder reports unreadable files and refuses an empty folder") {
  std::string dir = mg::test::scratch_dir("tokens_folder");
  mg::io::write_midi(dir + "/a.mid", {{0, 1, 60, 90}, {1, 1, 62, 90}}, 120);
  mg::io::write_file_atomic(dir + "/b.mid", std::string("not a midi file"));
  mg::io::write_file_atomic(dir + "/notes.txt", std::string("ignored"));
  std::vector<std::string> skipped;
  auto res = mg::io::tokenize_midi_folder(dir, [&](const std::string& file, const std::string& error) {
    skipped.push_back(file);
    CHECK(error.find("b.mid") != std::string::npos);
  });
  CHECK(res.tokens == std::vector<std::string>{"C4", "D4"});
  CHECK(res.files_read == std::vector<std::string>{"a.mid"});
  CHECK(skipped == std::vector<std::string>{"b.mid"});
  CHECK(res.files_skipped == 1);

  std::string empty = mg::test::scratch_dir("tokens_empty_folder");
  CHECK_THROWS_AS(mg::io::tokenize_midi_folder(empty, nullptr), mg::Error);
  CHECK_THROWS_AS(mg::io::tokenize_midi_folder(empty + "/missing", nullptr), mg::Error);
}
