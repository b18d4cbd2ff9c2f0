#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "io/midi.h"
#include "tensor/error.h"
#include "tests/test_support.h"

using mg::io::MidiFile;
using mg::io::NoteEvent;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes u32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

Bytes chunk(const char* id, const Bytes& body) {
  Bytes out(id, id + 4);
  append(out, u32(uint32_t(body.size())));
  append(out, body);
  return out;
}

// MThd with format, track count and the two division bytes, followed by tracks.
Bytes smf(int format, int ntracks, uint8_t div_hi, uint8_t div_lo, const std::vector<Bytes>& tracks) {
  Bytes out = chunk("MThd", {0, uint8_t(format), uint8_t(ntracks >> 8), uint8_t(ntracks), div_hi, div_lo});
  for (const Bytes& t : tracks) append(out, chunk("MTrk", t));
  return out;
}

const Bytes kEndOfTrack = {0x00, 0xFF, 0x2F, 0x00};

MidiFile parse(const Bytes& b, const std::string& name = "test.mid") { return mg::io::parse_midi(b.data(), b.size(), name); }

// A small valid two-track file used by the malformed and fuzz tests.
Bytes valid_file() {
  Bytes tempo = {0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, 0x00, 0xFF, 0x03, 0x03, 'a', 'b', 'c'};
  append(tempo, kEndOfTrack);
  Bytes notes = {0x00, 0xC0, 0x05, 0x00, 0x90, 0x3C, 0x50, 0x00, 0x40, 0x50, 0x83, 0x60, 0x80, 0x3C, 0x40,
                 0x00, 0x40, 0x00, 0x00, 0xF0, 0x03, 0x7E, 0x7F, 0xF7, 0x10, 0xE0, 0x00, 0x40};
  append(notes, kEndOfTrack);
  return smf(1, 2, 0x01, 0xE0, {tempo, notes});
}

}  // namespace

TEST_CASE("midi round trip through writer and reader") {
  std::vector<NoteEvent> notes = {
      {0.0, 1.0, 60, 90}, {0.0, 1.0, 64, 80}, {0.0, 1.0, 67, 70},  // a chord
      {1.0, 0.5, 72, 100}, {1.5, 0.25, 71, 60}, {1.75, 2.0, 69, 127},
      {2.0, 1.0, 60, 50}, {2.5, 1.0, 60, 40},  // overlapping notes of one pitch
      {4.0, 1.0 / 3, 48, 1},
  };
  std::string path = mg::test::scratch_dir("midi_round_trip") + "/out.mid";
  mg::io::write_midi(path, notes, 90.0);
  MidiFile mf = mg::io::read_midi(path);
  CHECK(mf.format == 1);
  CHECK(mf.ticks_per_quarter == 480);
  REQUIRE(mf.tempo_map.size() == 1);
  CHECK(mf.tempo_map[0].bpm() == doctest::Approx(90.0).epsilon(1e-6));
  CHECK(mf.track_names == std::vector<std::string>{"", "Piano"});
  REQUIRE(mf.notes.size() == notes.size());

  auto key = [](const NoteEvent& n) { return std::make_tuple(n.start_beats, n.pitch, n.duration_beats); };
  std::sort(notes.begin(), notes.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
  for (size_t i = 0; i < notes.size(); ++i) {
    const mg::io::MidiNote& got = mf.notes[i];
    CAPTURE(i);
    CHECK(got.pitch == notes[i].pitch);
    CHECK(got.velocity == notes[i].velocity);
    CHECK(got.track == 1);
    CHECK(got.program == 0);
    CHECK(mf.tick_to_beats(got.start_tick) == doctest::Approx(notes[i].start_beats).epsilon(1e-3));
    CHECK(mf.tick_to_beats(got.end_tick - got.start_tick) == doctest::Approx(notes[i].duration_beats).epsilon(1e-3));
    CHECK(got.start_sec == doctest::Approx(notes[i].start_beats * 60.0 / 90.0));
  }
}

TEST_CASE("midi writer refuses impossible notes") {
  CHECK_THROWS_AS(mg::io::encode_midi({{0, 1, 128, 90}}, 120), mg::Error);
  CHECK_THROWS_AS(mg::io::encode_midi({{0, 1, 60, 0}}, 120), mg::Error);
  CHECK_THROWS_AS(mg::io::encode_midi({{-1, 1, 60, 90}}, 120), mg::Error);
  CHECK_THROWS_AS(mg::io::encode_midi({{0, 1, 60, 90}}, 0), mg::Error);
  CHECK_THROWS_AS(mg::io::encode_midi({{0, 1, 60, 90}}, 120, 0), mg::Error);
}

TEST_CASE("midi running status and note-on velocity 0") {
  // tpq 96: on C4; +96 on D4 (running status); +96 C4 vel 0 (running); D4 vel 0.
  Bytes track = {0x00, 0x90, 0x3C, 0x40, 0x60, 0x3E, 0x41, 0x60, 0x3C, 0x00, 0x00, 0x3E, 0x00};
  append(track, kEndOfTrack);
  MidiFile mf = parse(smf(0, 1, 0x00, 0x60, {track}));
  REQUIRE(mf.notes.size() == 2);
  CHECK(mf.notes[0].pitch == 60);
  CHECK(mf.notes[0].start_tick == 0);
  CHECK(mf.notes[0].end_tick == 192);
  CHECK(mf.notes[0].velocity == 0x40);
  CHECK(mf.notes[1].pitch == 62);
  CHECK(mf.notes[1].start_tick == 96);
  CHECK(mf.notes[1].end_tick == 192);
  CHECK(mf.notes[1].velocity == 0x41);
  CHECK(mf.notes[1].start_sec == doctest::Approx(0.5));  // default 120 bpm
}

TEST_CASE("midi tempo change in the tempo track applies to later notes of other tracks") {
  // tpq 480; 120 bpm at 0, 240 bpm from tick 960. Track 1: note at tick 1440.
  Bytes tempo = {0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,   // 500000 us
                 0x87, 0x40, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90};  // +960: 250000 us
  append(tempo, kEndOfTrack);
  Bytes notes = {0x8B, 0x20, 0x90, 0x45, 0x64, 0x83, 0x60, 0x80, 0x45, 0x00};  // +1440 on A4, +480 off
  append(notes, kEndOfTrack);
  MidiFile mf = parse(smf(1, 2, 0x01, 0xE0, {tempo, notes}));
  REQUIRE(mf.tempo_map.size() == 2);
  CHECK(mf.tempo_map[1].tick == 960);
  CHECK(mf.tempo_map[1].bpm() == doctest::Approx(240.0));
  REQUIRE(mf.notes.size() == 1);
  CHECK(mf.notes[0].track == 1);
  CHECK(mf.notes[0].start_sec == doctest::Approx(1.25));  // 960 ticks at 0.5 s/q + 480 ticks at 0.25 s/q
  CHECK(mf.notes[0].end_sec == doctest::Approx(1.5));
}

TEST_CASE("midi SMPTE division gives seconds from frames") {
  // -25 fps, 40 ticks per frame = 1000 ticks per second; note from tick 500 to 1500.
  Bytes track = {0x83, 0x74, 0x90, 0x3C, 0x40, 0x87, 0x68, 0x80, 0x3C, 0x00};
  append(track, kEndOfTrack);
  MidiFile mf = parse(smf(0, 1, 0xE7, 0x28, {track}));
  CHECK(mf.ticks_per_quarter == 0);
  CHECK(mf.smpte_fps == 25);
  CHECK(mf.smpte_ticks_per_frame == 40);
  REQUIRE(mf.notes.size() == 1);
  CHECK(mf.notes[0].start_sec == doctest::Approx(0.5));
  CHECK(mf.notes[0].end_sec == doctest::Approx(1.5));
}

TEST_CASE("midi overlapping notes pair first-in first-out, and open notes end with the track") {
  // Two C4 on, then two offs; an E4 never released; a track name; a program change.
  Bytes track = {0x00, 0xFF, 0x03, 0x02, 'R', 'H', 0x00, 0xC1, 0x07,
                 0x00, 0x91, 0x3C, 0x10, 0x0A, 0x3C, 0x20, 0x0A, 0x81, 0x3C, 0x00, 0x0A, 0x3C, 0x00,
                 0x00, 0x91, 0x40, 0x30, 0x14, 0xB1, 0x07, 0x64};  // E4 on, +20 a controller, then end
  append(track, kEndOfTrack);
  MidiFile mf = parse(smf(0, 1, 0x00, 0x60, {track}));
  CHECK(mf.track_names == std::vector<std::string>{"RH"});
  REQUIRE(mf.notes.size() == 3);
  CHECK(mf.notes[0].pitch == 60);
  CHECK(mf.notes[0].velocity == 0x10);
  CHECK(mf.notes[0].end_tick == 20);  // first on with first off
  CHECK(mf.notes[1].velocity == 0x20);
  CHECK(mf.notes[1].start_tick == 10);
  CHECK(mf.notes[1].end_tick == 30);
  CHECK(mf.notes[2].pitch == 64);
  CHECK(mf.notes[2].released == false);
  CHECK(mf.notes[2].end_tick == 50);
  for (const auto& n : mf.notes) {
    CHECK(n.channel == 1);
    CHECK(n.program == 7);
  }
}

TEST_CASE("midi unknown chunks are skipped and format 2 is refused") {
  Bytes track = {0x00, 0x90, 0x3C, 0x40, 0x10, 0x80, 0x3C, 0x00};
  append(track, kEndOfTrack);
  Bytes with_unknown = chunk("MThd", {0, 0, 0, 1, 0x00, 0x60});
  append(with_unknown, chunk("XFIH", {1, 2, 3, 4, 5}));
  append(with_unknown, chunk("MTrk", track));
  CHECK(parse(with_unknown).notes.size() == 1);

  Bytes format2 = smf(2, 1, 0x00, 0x60, {track});
  try {
    parse(format2, "seq.mid");
    FAIL("format 2 was accepted");
  } catch (const mg::Error& e) {
    CHECK(std::string(e.what()).find("seq.mid") != std::string::npos);
    CHECK(std::string(e.what()).find("format 2") != std::string::npos);
  }
}

TEST_CASE("midi malformed files throw errors naming the file and offset") {
  Bytes good = valid_file();
  REQUIRE_NOTHROW(parse(good));

  struct Case {
    const char* what;
    Bytes bytes;
  };
  auto with_track = [](Bytes body) {
    append(body, kEndOfTrack);
    return smf(0, 1, 0x00, 0x60, {body});
  };
  Bytes bad_magic = good;
  bad_magic[0] = 'X';
  Bytes truncated_header(good.begin(), good.begin() + 10);
  Bytes length_past_eof = good;
  length_past_eof[14 + 4] = 0x7F;  // first MTrk length byte
  Bytes truncated_chunk(good.begin(), good.end() - 5);
  Bytes absurd_tracks = good;
  absurd_tracks[10] = 0xEA;
  absurd_tracks[11] = 0x60;  // 60000 tracks
  std::vector<Case> cases = {
      {"bad magic", bad_magic},
      {"truncated header", truncated_header},
      {"chunk length past end of file", length_past_eof},
      {"truncated chunk", truncated_chunk},
      {"absurd track count", absurd_tracks},
      {"5-byte variable-length quantity", with_track({0x81, 0x81, 0x81, 0x81, 0x01, 0x90, 0x3C, 0x40})},
      {"data byte without running status", with_track({0x00, 0x3C, 0x40})},
      {"sysex length past chunk", with_track({0x00, 0xF0, 0x8F, 0x7F, 0x01})},
      {"meta length past chunk", with_track({0x00, 0xFF, 0x01, 0x40, 'x'})},
      {"truncated channel message", smf(0, 1, 0x00, 0x60, {{0x00, 0x90, 0x3C}})},
      {"data byte above 127", with_track({0x00, 0x90, 0x3C, 0x80})},
      {"system common byte", with_track({0x00, 0xF2, 0x00, 0x00})},
      {"bad tempo length", with_track({0x00, 0xFF, 0x51, 0x02, 0x07, 0xA1})},
      {"zero division", smf(0, 1, 0x00, 0x00, {kEndOfTrack})},
      {"missing tracks", smf(1, 3, 0x00, 0x60, {kEndOfTrack, kEndOfTrack})},
      {"empty file", {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    try {
      parse(c.bytes, "broken.mid");
      FAIL("no error for: " << c.what);
    } catch (const mg::Error& e) {
      std::string msg = e.what();
      CAPTURE(msg);
      CHECK(msg.find("broken.mid") != std::string::npos);
      CHECK(msg.find("offset") != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
    }
  }
}

TEST_CASE("midi reader survives truncation and random corruption") {
  Bytes good = valid_file();
  size_t parsed = 0, refused = 0;
  auto attempt = [&](const Bytes& b) {
    try {
      MidiFile mf = parse(b, "fuzz.mid");
      ++parsed;
      for (const auto& n : mf.notes) {
        CHECK(n.end_tick >= n.start_tick);
        CHECK(n.pitch >= 0);
        CHECK(n.pitch <= 127);
      }
    } catch (const mg::Error&) {
      ++refused;
    }
  };
  for (size_t len = 0; len <= good.size(); ++len) attempt(Bytes(good.begin(), good.begin() + long(len)));
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 5000; ++trial) {
    Bytes b = good;
    int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = uint8_t(rng());
    attempt(b);
  }
  CHECK(parsed > 0);
  CHECK(refused > 0);
  CHECK(parsed + refused == good.size() + 1 + 5000);
}

TEST_CASE("read_midi names a missing file") {
  try {
    mg::io::read_midi("/nonexistent/folder/x.mid");
    FAIL("no error");
  } catch (const mg::Error& e) {
    CHECK(std::string(e.what()).find("/nonexistent/folder/x.mid") != std::string::npos);
  }
}
