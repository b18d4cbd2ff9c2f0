#pragma once
// MIDI inputs built in memory, shared by the scale tests (tests/io_midi_scale.cpp)
// and the MIDI benchmark (bench/bench_midi.cpp): Standard MIDI bytes of
// chords and filler, and the adversarial case for chord grouping.
#include <cstdint>
#include <string>
#include <vector>

#include "io/midi.h"

namespace mg::test {

// Standard MIDI bytes: a format 1 header and track chunks.
inline std::string smf(const std::vector<std::string>& tracks, int division = 480) {
  auto u32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  std::string out = "MThd" + u32(6) + std::string{0, 1, char(tracks.size() >> 8), char(tracks.size())} +
                    std::string{char(division >> 8), char(division & 0xFF)};
  for (const std::string& t : tracks) out += "MTrk" + u32(uint32_t(t.size())) + t;
  return out;
}

// A track of `chords` three-note chords, a quarter apart, in running status (6 bytes a note).
inline std::string chord_track(int64_t chords) {
  std::string t("\x00\x90", 2);
  bool first = true;
  for (int64_t c = 0; c < chords; ++c) {
    const char root = char(48 + c % 24);
    for (int k = 0; k < 3; ++k) {
      if (!(first && k == 0)) t += char(0x00);
      first = false;
      t += char(root + 4 * k);
      t += char(0x50);
    }
    for (int k = 0; k < 3; ++k) {
      t += k == 0 ? std::string("\x83\x60", 2) : std::string(1, '\0');  // 480 ticks later, then together
      t += char(root + 4 * k);
      t += char(0x00);  // note-on velocity 0: release
    }
  }
  return t + std::string("\x00\xFF\x2F\x00", 4);
}

// A track of pitch-bend events in running status, 3 bytes each: filler the reader parses and skips.
inline std::string bend_track(size_t bytes) {
  std::string t("\x00\xE0\x00\x40", 4);
  t.reserve(bytes + 8);
  while (t.size() + 3 < bytes) t += std::string("\x01\x10\x40", 3);
  return t + std::string("\x00\xFF\x2F\x00", 4);
}

// n notes that all start at tick 0, each released 100 ticks after the
// previous one: no two form a chord, and a direct scan compares every pair.
inline io::MidiFile notes_struck_together(int n) {
  io::MidiFile mf;
  mf.ticks_per_quarter = 480;
  mf.track_names = {""};
  for (int k = 0; k < n; ++k) {
    io::MidiNote note;
    note.pitch = 21 + k % 88;
    note.order = k;
    note.end_tick = 100 * int64_t(k + 1);
    mf.notes.push_back(note);
  }
  return mf;
}

}  // namespace mg::test
