#include "apps/chopin-lstm/music_stats.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include "io/music_tokens.h"

namespace chopin {

MusicStats music_stats(const std::vector<std::string>& tokens) {
  MusicStats s;
  if (tokens.empty()) return s;
  std::vector<mg::io::NoteEvent> notes = mg::io::tokens_to_notes(tokens);
  std::array<double, 12> pc{};
  s.lowest = 127;
  s.highest = 0;
  for (const auto& n : notes) {
    pc[static_cast<size_t>(n.pitch % 12)] += 1;
    s.lowest = std::min(s.lowest, n.pitch);
    s.highest = std::max(s.highest, n.pitch);
  }
  const double total = static_cast<double>(notes.size());
  for (size_t i = 0; i < 12; ++i) {
    s.pitch_classes[i] = total > 0 ? pc[i] / total : 0;
    if (s.pitch_classes[i] > 0) s.pitch_class_entropy -= s.pitch_classes[i] * std::log2(s.pitch_classes[i]);
  }
  s.notes_per_step = total / static_cast<double>(tokens.size());
  int chords = 0, repeats = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    chords += mg::io::is_chord_token(tokens[i]);
    repeats += i > 0 && tokens[i] == tokens[i - 1];
  }
  s.chord_share = chords / static_cast<double>(tokens.size());
  s.repetition = tokens.size() > 1 ? repeats / static_cast<double>(tokens.size() - 1) : 0;
  s.distinct = static_cast<int>(std::set<std::string>(tokens.begin(), tokens.end()).size());
  return s;
}

void print_stats_table(const MusicStats& a, const char* a_name, const MusicStats& b, const char* b_name) {
  std::printf("| %-28s | %10s | %10s |\n|------------------------------|------------|------------|\n", "statistic",
              a_name, b_name);
  auto row = [](const char* name, double x, double y, const char* fmt) {
    char bx[32], by[32];
    std::snprintf(bx, sizeof bx, fmt, x);
    std::snprintf(by, sizeof by, fmt, y);
    std::printf("| %-28s | %10s | %10s |\n", name, bx, by);
  };
  row("pitch-class entropy (bits)", a.pitch_class_entropy, b.pitch_class_entropy, "%.3f");
  row("lowest pitch (MIDI)", a.lowest, b.lowest, "%.0f");
  row("highest pitch (MIDI)", a.highest, b.highest, "%.0f");
  row("notes per step (polyphony)", a.notes_per_step, b.notes_per_step, "%.3f");
  row("chord share", a.chord_share, b.chord_share, "%.3f");
  row("repetition rate", a.repetition, b.repetition, "%.3f");
  row("distinct tokens", a.distinct, b.distinct, "%.0f");
  static const char* names[12] = {"C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B"};
  for (int i = 0; i < 12; ++i)
    row((std::string("share of pitch class ") + names[i]).c_str(), a.pitch_classes[static_cast<size_t>(i)], b.pitch_classes[static_cast<size_t>(i)],
        "%.3f");
}

}  // namespace chopin
