#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "io/builtin_corpus.h"
#include "io/midi.h"
#include "io/timed_tokens.h"
#include "tensor/error.h"
#include "tests/test_support.h"

using mg::io::MidiFile;
using mg::io::NoteEvent;
using mg::io::TimedKind;

namespace {

// A note on the grid: onset in grid points from the start, pitch, duration
// in grid points, velocity.
using GridNote = std::tuple<int64_t, int, int, int>;

// What the timed tokens of `midi` should hold, computed here from the file
// alone: released notes, onsets rounded to the nearest twelfth of a quarter,
// pitches folded into the piano's range, one note per onset and key (the
// longest, then the loudest), durations and velocities quantised.
std::vector<GridNote> expected_grid_notes(const MidiFile& midi) {
  const double grid_ticks = midi.ticks_per_quarter / 12.0;
  std::map<std::pair<int64_t, int>, double> longest;
  std::map<std::pair<int64_t, int>, int> velocity;
  for (const mg::io::MidiNote& n : midi.notes) {
    if (!n.released) continue;
    int pitch = n.pitch;
    while (pitch < 21) pitch += 12;
    while (pitch > 108) pitch -= 12;
    const auto key = std::make_pair(static_cast<int64_t>(std::llround(double(n.start_tick) / grid_ticks)), pitch);
    const double length = double(n.end_tick - n.start_tick) / grid_ticks;
    auto it = longest.find(key);
    if (it == longest.end() || length > it->second || (length == it->second && n.velocity > velocity[key])) {
      longest[key] = length;
      velocity[key] = n.velocity;
    }
  }
  // A key struck again ends its previous note.
  std::vector<GridNote> out;
  for (auto it = longest.begin(); it != longest.end(); ++it) {
    const auto [onset, pitch] = it->first;
    int duration = mg::io::timed_duration_of(it->second);
    for (auto later = std::next(it); later != longest.end(); ++later)
      if (later->first.second == pitch) {
        duration = static_cast<int>(std::min<int64_t>(duration, later->first.first - onset));
        break;
      }
    out.emplace_back(onset, pitch, duration, mg::io::timed_velocity_of(velocity[it->first]));
  }
  return out;
}

// The notes of a file written from a decoded piece, read back on the grid.
std::vector<GridNote> written_grid_notes(const MidiFile& written) {
  std::vector<GridNote> out;
  const double grid_ticks = written.ticks_per_quarter / 12.0;
  for (const mg::io::MidiNote& n : written.notes)
    out.emplace_back(std::llround(double(n.start_tick) / grid_ticks), n.pitch,
                     static_cast<int>(std::llround(double(n.end_tick - n.start_tick) / grid_ticks)), n.velocity);
  std::sort(out.begin(), out.end());
  return out;
}

struct RoundTrip {
  int64_t notes = 0, tokens = 0;
};

// file -> tokens -> piece -> MIDI bytes -> file: the notes must survive on the grid.
RoundTrip check_round_trip(const MidiFile& midi, const std::string& name) {
  CAPTURE(name);
  const mg::io::TimedEncoding enc = mg::io::midi_to_timed_tokens(midi);
  const mg::io::TimedPiece piece = mg::io::timed_tokens_to_piece(enc.tokens);
  CHECK(piece.repaired == 0);
  CHECK(static_cast<int64_t>(piece.notes.size()) == enc.notes);
  CHECK(static_cast<int64_t>(piece.bar_starts.size()) == enc.bars);
  const std::string bytes = mg::io::encode_midi(piece.notes, piece.tempos, piece.meters);
  const MidiFile back =
      mg::io::parse_midi(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name + " (written)");
  const std::vector<GridNote> want = expected_grid_notes(midi), got = written_grid_notes(back);
  CHECK(got.size() == want.size());
  size_t first_difference = 0;
  while (first_difference < std::min(got.size(), want.size()) && got[first_difference] == want[first_difference])
    ++first_difference;
  if (first_difference < std::min(got.size(), want.size())) {
    const auto& [o1, p1, d1, v1] = want[first_difference];
    const auto& [o2, p2, d2, v2] = got[first_difference];
    FAIL_CHECK("note " << first_difference << ": want onset " << o1 << " pitch " << p1 << " dur " << d1 << " vel "
                       << v1 << ", got " << o2 << " " << p2 << " " << d2 << " " << v2);
  }
  // The tempo the file carries at each bar line is the tempo the tokens name.
  for (const mg::io::TempoMark& t : piece.tempos) {
    const int64_t tick = std::llround(t.beats * back.ticks_per_quarter);
    double bpm = 0;
    for (const mg::io::TempoChange& c : back.tempo_map)
      if (c.tick <= tick) bpm = c.bpm();
    CHECK(bpm == doctest::Approx(t.bpm).epsilon(1e-3));
  }
  return {enc.notes, static_cast<int64_t>(enc.tokens.size())};
}

}  // namespace

TEST_CASE("timed vocabulary: 285 distinct tokens, each parsed back to itself") {
  const std::vector<std::string> vocab = mg::io::timed_vocabulary();
  CHECK(vocab.size() == 32 + 33 + 96 + 88 + 20 + 16);
  CHECK(std::set<std::string>(vocab.begin(), vocab.end()).size() == vocab.size());
  CHECK(std::is_sorted(vocab.begin(), vocab.end()));
  for (const std::string& t : vocab) CHECK(mg::io::timed_token_name(mg::io::parse_timed_token(t)) == t);
  CHECK(mg::io::parse_timed_token("Bar_3/4").value == 36);
  CHECK(mg::io::parse_timed_token("Bar_6/4").value == 72);
  CHECK(mg::io::parse_timed_token("Bar_7/16").value == 21);
  for (const char* bad : {"Bar_2/8", "Bar_6/8", "Bar_12/16", "Pos_96", "Pitch_20", "Pitch_109", "Dur_5", "Vel_5", "Tempo_100",
                          "C4", "Pos_", "Pos_01", "Pos_-1", "pos_3", ""})
    CHECK_MESSAGE(!mg::io::is_timed_token(bad), bad);
}

TEST_CASE("timed quantisers pick the nearest value") {
  CHECK(mg::io::timed_duration_of(12) == 12);
  CHECK(mg::io::timed_duration_of(11.4) == 12);
  CHECK(mg::io::timed_duration_of(0.2) == 1);
  CHECK(mg::io::timed_duration_of(1e6) == 192);
  CHECK(mg::io::timed_duration_of(5) == 6);  // log(6/5) < log(5/4)
  CHECK(mg::io::timed_velocity_of(1) == 4);
  CHECK(mg::io::timed_velocity_of(64) == 68);
  CHECK(mg::io::timed_velocity_of(127) == 124);
  CHECK(mg::io::timed_tempo_of(120) == 117);  // 16 * 2^(23/8) = 117.4
  CHECK(mg::io::timed_tempo_of(1) == 16);
  CHECK(mg::io::timed_tempo_of(1000) == 256);
  const std::vector<mg::io::TimedToken> allowed = {{TimedKind::Dur, 6}, {TimedKind::Dur, 24}, {TimedKind::Pos, 0}};
  CHECK(mg::io::nearest_timed_token({TimedKind::Dur, 12}, allowed).value == 6);  // ratio 2 both ways: the smaller
  CHECK(mg::io::nearest_timed_token({TimedKind::Dur, 16}, allowed).value == 24);
  CHECK(mg::io::nearest_timed_token({TimedKind::Pos, 40}, allowed).value == 0);
  CHECK(mg::io::nearest_timed_token({TimedKind::Vel, 44}, allowed).value == 44);  // no Vel allowed: unchanged
}

TEST_CASE("timed tokens of a hand-made file, token by token") {
  // 3/4 at 90 bpm: a chord on beat 1 of bar 1 (one pitch repeated), a triplet
  // eighth on beat 2; then a 2/4 bar with one note; an out-of-range note.
  MidiFile m;
  m.ticks_per_quarter = 480;
  m.tempo_map = {{0, 666667, 0.0}};
  m.time_signatures = {{0, 3, 4}, {3 * 480, 2, 4}};
  auto note = [&](int64_t start, int64_t end, int pitch, int velocity) {
    mg::io::MidiNote n;
    n.pitch = pitch;
    n.velocity = velocity;
    n.start_tick = start;
    n.end_tick = end;
    m.notes.push_back(n);
  };
  note(0, 960, 48, 50);
  note(2, 400, 60, 100);  // 2 ticks late: on the grid point 0
  note(0, 200, 60, 30);   // the shorter of two at one grid point and key is dropped
  note(480, 640, 67, 77);
  note(3 * 480 + 240, 3 * 480 + 480, 120, 90);  // C9 -> C8
  const std::vector<std::string> want = {"Bar_3/4", "Tempo_91", "Pos_0",    "Pitch_48", "Dur_24",  "Vel_52",
                                         "Pitch_60", "Dur_9",   "Vel_100",  "Pos_12",   "Pitch_67", "Dur_4",
                                         "Vel_76",   "Bar_2/4", "Pos_6",    "Pitch_108", "Dur_6",  "Vel_92"};
  const mg::io::TimedEncoding enc = mg::io::midi_to_timed_tokens(m);
  CHECK(enc.tokens == want);
  CHECK(enc.notes == 4);
  CHECK(enc.bars == 2);
  const mg::io::TimedPiece piece = mg::io::timed_tokens_to_piece(enc.tokens);
  REQUIRE(piece.notes.size() == 4);
  CHECK(piece.notes[0].pitch == 48);
  CHECK(piece.notes[0].duration_beats == doctest::Approx(2.0));
  CHECK(piece.notes[2].start_beats == doctest::Approx(1.0));
  CHECK(piece.notes[2].duration_beats == doctest::Approx(1.0 / 3));
  CHECK(piece.notes[3].start_beats == doctest::Approx(3.5));
  REQUIRE(piece.meters.size() == 2);
  CHECK(piece.meters[1].beats == doctest::Approx(3.0));
  CHECK(piece.meters[1].numerator == 2);
  REQUIRE(piece.tempos.size() == 1);
  CHECK(piece.tempos[0].bpm == 91);
  CHECK(piece.end_beats == doctest::Approx(5.0));
  check_round_trip(m, "hand-made");
}

TEST_CASE("timed decoder repairs any token sequence and counts what it repaired") {
  // Dur and Vel without a Pitch are ignored; a Pitch cut short lasts a quarter with the last velocity.
  const mg::io::TimedPiece p =
      mg::io::timed_tokens_to_piece({"Dur_12", "Vel_60", "Pitch_60", "Pitch_64", "Dur_6", "Vel_20", "Pos_3",
                                     "Pitch_67", "Vel_100", "Bar_4/4", "Pitch_72"});
  REQUIRE(p.notes.size() == 4);
  CHECK(p.notes[0].pitch == 60);
  CHECK(p.notes[0].duration_beats == doctest::Approx(1.0));
  CHECK(p.notes[1].duration_beats == doctest::Approx(0.5));
  CHECK(p.notes[1].velocity == 20);
  CHECK(p.notes[2].start_beats == doctest::Approx(0.25));
  CHECK(p.notes[2].velocity == 100);
  // The first Bar follows notes in an implicit 4/4 bar, so it starts at beat 4.
  CHECK(p.notes[3].start_beats == doctest::Approx(4.0));
  CHECK(p.notes[3].velocity == 100);
  CHECK(p.repaired > 0);

  // Random streams of valid tokens always decode into notes a MIDI file can hold.
  const std::vector<std::string> vocab = mg::io::timed_vocabulary();
  uint64_t state = 12345;
  for (int trial = 0; trial < 20; ++trial) {
    mg::io::TimedDecoder d;
    double last_now = 0;
    for (int i = 0; i < 500; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      d.push(vocab[(state >> 33) % vocab.size()]);
      CHECK(d.now_seconds() >= 0);
      last_now = d.now_beats();
    }
    CHECK(last_now >= 0);
    const mg::io::TimedPiece piece = d.finish();
    CHECK_NOTHROW(mg::io::encode_midi(piece.notes, piece.tempos, piece.meters));
  }
}

TEST_CASE("timed round trip on the built-in corpus") {
  int64_t notes = 0, tokens = 0;
  for (const MidiFile& m : mg::io::builtin_piano_corpus(7, {4, 16, 480})) {
    const RoundTrip r = check_round_trip(m, "built-in");
    notes += r.notes;
    tokens += r.tokens;
  }
  CHECK(notes > 500);
  MESSAGE("built-in corpus: " << notes << " notes, " << tokens << " timed tokens");
}

TEST_CASE("timed round trip on the 48 Chopin files") {
  const std::string data = mg::test::shared_data_dir();
  if (data.empty() || !std::filesystem::is_directory(data + "/chopin-midi")) {
    mg::test::skip("shared data folder with chopin-midi not found");
    return;
  }
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(data + "/chopin-midi"))
    if (e.path().extension() == ".mid") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  CHECK(files.size() == 48);
  int64_t notes = 0, tokens = 0;
  std::set<std::string> distinct;
  for (const std::string& f : files) {
    const MidiFile m = mg::io::read_midi(f);
    const RoundTrip r = check_round_trip(m, f);
    notes += r.notes;
    tokens += r.tokens;
    for (const std::string& t : mg::io::midi_to_timed_tokens(m).tokens) distinct.insert(t);
  }
  MESSAGE("48 files: " << notes << " notes, " << tokens << " tokens (" << double(tokens) / double(notes)
                       << " per note), " << distinct.size() << " distinct");
  CHECK(notes > 80000);
  CHECK(double(tokens) / double(notes) < 4.0);
}

TEST_CASE("midi writer: tempo map and time signatures are written where they are given") {
  const std::vector<NoteEvent> notes = {{0, 1, 60, 90}, {3, 1, 62, 90}, {5, 2, 64, 90}};
  const std::string bytes = mg::io::encode_midi(notes, {{0, 60}, {3, 120}, {5, 90}}, {{0, 3, 4}, {3, 2, 4}, {5, 6, 8}});
  const MidiFile m = mg::io::parse_midi(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "tempo map");
  REQUIRE(m.tempo_map.size() == 3);
  CHECK(m.tempo_map[1].tick == 3 * 480);
  CHECK(m.tempo_map[2].bpm() == doctest::Approx(90).epsilon(1e-6));
  REQUIRE(m.time_signatures.size() == 3);
  CHECK(m.time_signatures[1].tick == 3 * 480);
  CHECK(m.time_signatures[2].numerator == 6);
  CHECK(m.time_signatures[2].denominator == 8);
  REQUIRE(m.notes.size() == 3);
  CHECK(m.notes[1].start_sec == doctest::Approx(3.0));         // three beats at 60 bpm
  CHECK(m.notes[2].start_sec == doctest::Approx(3.0 + 1.0));   // then two at 120
  CHECK(mg::io::beats_to_seconds({{0, 60}, {3, 120}, {5, 90}}, 6) == doctest::Approx(4.0 + 60.0 / 90));
  CHECK(mg::io::beats_to_seconds({}, 2) == doctest::Approx(1.0));

  CHECK_THROWS_AS(mg::io::encode_midi(notes, {{2, 60}, {1, 120}}, {}), mg::Error);
  CHECK_THROWS_AS(mg::io::encode_midi(notes, {{0, 0}}, {}), mg::Error);
  CHECK_THROWS_AS(mg::io::encode_midi(notes, {{0, 120}}, {{0, 3, 5}}), mg::Error);
  CHECK_THROWS_AS(mg::io::encode_midi(notes, {{0, 120}}, {{-1, 3, 4}}), mg::Error);
  CHECK_THROWS_AS(mg::io::encode_midi(notes, {{0, 120}}, {{0, 0, 4}}), mg::Error);
}
