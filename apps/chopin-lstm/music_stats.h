#pragma once
// Simple statistics of a token sequence, to compare generated music with the
// training music: what pitches, how wide, how dense, how repetitive.
#include <array>
#include <string>
#include <vector>

namespace chopin {

struct MusicStats {
  std::array<double, 12> pitch_classes{};  // share of notes per pitch class C..B
  double pitch_class_entropy = 0;          // bits; 3.58 = all twelve equally often
  int lowest = 0, highest = 0;             // MIDI pitches (chords sit in octave 4)
  double notes_per_step = 0;               // polyphony: notes sounding per token
  double chord_share = 0;                  // tokens that are chords
  double repetition = 0;                   // tokens equal to the one before
  int distinct = 0;                        // distinct tokens used
};

MusicStats music_stats(const std::vector<std::string>& tokens);
// A side-by-side table of two statistics sets.
void print_stats_table(const MusicStats& a, const char* a_name, const MusicStats& b, const char* b_name);

}  // namespace chopin
