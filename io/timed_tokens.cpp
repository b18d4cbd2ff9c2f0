#include "io/timed_tokens.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <tuple>

#include "tensor/error.h"

namespace mg::io {

namespace {

// Nearest value of a sorted list, by distance in log when `in_log`; ties to
// the smaller. Only the two values around x can be nearest, so only they are
// measured (a duration is quantised once per note).
int nearest_of(const std::vector<int>& values, double x, bool in_log) {
  int best = values.front();
  double best_distance = INFINITY;
  const auto above = std::lower_bound(values.begin(), values.end(), x);
  const auto first = above == values.begin() ? above : above - 1;
  for (auto it = first; it != values.end() && it <= above; ++it) {
    const int v = *it;
    const double d = in_log ? std::abs(std::log(std::max(x, 1e-9) / v)) : std::abs(x - v);
    if (d < best_distance) {
      best = v;
      best_distance = d;
    }
  }
  return best;
}

bool valid_value(TimedKind kind, int v) {
  auto in = [&](const std::vector<int>& list) { return std::binary_search(list.begin(), list.end(), v); };
  switch (kind) {
    case TimedKind::Bar: return v >= 3 && v <= kTimedMaxBar && v % 3 == 0;
    case TimedKind::Tempo: return in(timed_tempos());
    case TimedKind::Pos: return v >= 0 && v < kTimedMaxBar;
    case TimedKind::Pitch: return v >= kTimedLowestPitch && v <= kTimedHighestPitch;
    case TimedKind::Dur: return in(timed_durations());
    case TimedKind::Vel: return in(timed_velocities());
  }
  return false;
}

// A bar length (a multiple of 3 grid points) as the simplest time signature over 4, 8 or 16.
std::pair<int, int> meter_of(int length) {
  if (length % 12 == 0) return {length / 12, 4};
  if (length % 6 == 0) return {length / 6, 8};
  return {length / 3, 16};
}

}  // namespace

const std::vector<int>& timed_durations() {
  // Whole, dotted and triplet values from a twelfth of a beat to four bars of 4/4,
  // spaced by ratios of 1.125 to 2.
  static const std::vector<int> v = {1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 32, 36, 48, 64, 72, 96, 128, 144, 192};
  return v;
}

const std::vector<int>& timed_tempos() {
  static const std::vector<int> v = [] {
    std::vector<int> out;
    for (int k = 0; k <= 32; ++k) out.push_back(static_cast<int>(std::lround(16.0 * std::exp2(k / 8.0))));
    return out;
  }();
  return v;
}

const std::vector<int>& timed_velocities() {
  static const std::vector<int> v = [] {
    std::vector<int> out;
    for (int b = 0; b < 16; ++b) out.push_back(8 * b + 4);
    return out;
  }();
  return v;
}

int timed_duration_of(double grid_points) { return nearest_of(timed_durations(), grid_points, true); }
int timed_tempo_of(double bpm) { return nearest_of(timed_tempos(), bpm, true); }
int timed_velocity_of(int velocity) { return 8 * std::clamp(velocity / 8, 0, 15) + 4; }

namespace {

constexpr int kMaxTimedValue = 256;  // the largest value of any kind (Tempo_256)

std::string make_timed_token_name(const TimedToken& t) {
  switch (t.kind) {
    case TimedKind::Bar: {
      const auto [n, d] = meter_of(t.value);
      return fmt::format("Bar_{}/{}", n, d);
    }
    case TimedKind::Tempo: return fmt::format("Tempo_{}", t.value);
    case TimedKind::Pos: return fmt::format("Pos_{}", t.value);
    case TimedKind::Pitch: return fmt::format("Pitch_{}", t.value);
    case TimedKind::Dur: return fmt::format("Dur_{}", t.value);
    case TimedKind::Vel: return fmt::format("Vel_{}", t.value);
  }
  return {};
}

}  // namespace

std::string timed_token_name(const TimedToken& t) {
  // Every name made once: the encoder names several tokens per note.
  static const std::vector<std::array<std::string, kMaxTimedValue + 1>> names = [] {
    std::vector<std::array<std::string, kMaxTimedValue + 1>> table(size_t(TimedKind::Vel) + 1);
    for (size_t kind = 0; kind < table.size(); ++kind)
      for (int v = 0; v <= kMaxTimedValue; ++v)
        if (valid_value(TimedKind(kind), v)) table[kind][size_t(v)] = make_timed_token_name({TimedKind(kind), v});
    return table;
  }();
  const size_t kind = size_t(t.kind);
  MG_CHECK(kind < names.size() && t.value >= 0 && t.value <= kMaxTimedValue && !names[kind][size_t(t.value)].empty(),
           "timed token: value {} out of range for its kind", t.value);
  return names[kind][size_t(t.value)];
}

TimedToken parse_timed_token(const std::string& text) {
  auto bad = [&]() -> TimedToken { fail("'{}' is not a timed token such as Bar_3/4, Pos_6, Pitch_60 or Dur_12", text); };
  const size_t underscore = text.find('_');
  if (underscore == std::string::npos || text.size() > 16) return bad();
  const std::string kind = text.substr(0, underscore), rest = text.substr(underscore + 1);
  auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > 4 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      bad();
    return std::stoi(s);
  };
  TimedToken t;
  if (kind == "Bar") {
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) return bad();
    const int n = number(rest.substr(0, slash)), d = number(rest.substr(slash + 1));
    if (d != 4 && d != 8 && d != 16) return bad();
    t = {TimedKind::Bar, n * 48 / d};
  } else if (kind == "Tempo") {
    t = {TimedKind::Tempo, number(rest)};
  } else if (kind == "Pos") {
    t = {TimedKind::Pos, number(rest)};
  } else if (kind == "Pitch") {
    t = {TimedKind::Pitch, number(rest)};
  } else if (kind == "Dur") {
    t = {TimedKind::Dur, number(rest)};
  } else if (kind == "Vel") {
    t = {TimedKind::Vel, number(rest)};
  } else {
    return bad();
  }
  // One spelling per token: the value must exist and print back as the same text.
  if (!valid_value(t.kind, t.value) || timed_token_name(t) != text) return bad();
  return t;
}

bool is_timed_token(const std::string& text) {
  try {
    parse_timed_token(text);
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::vector<std::string> timed_vocabulary() {
  std::vector<std::string> v;
  for (int l = 3; l <= kTimedMaxBar; l += 3) v.push_back(timed_token_name({TimedKind::Bar, l}));
  for (int b : timed_tempos()) v.push_back(timed_token_name({TimedKind::Tempo, b}));
  for (int k = 0; k < kTimedMaxBar; ++k) v.push_back(timed_token_name({TimedKind::Pos, k}));
  for (int p = kTimedLowestPitch; p <= kTimedHighestPitch; ++p) v.push_back(timed_token_name({TimedKind::Pitch, p}));
  for (int d : timed_durations()) v.push_back(timed_token_name({TimedKind::Dur, d}));
  for (int x : timed_velocities()) v.push_back(timed_token_name({TimedKind::Vel, x}));
  std::sort(v.begin(), v.end());
  return v;
}

TimedToken nearest_timed_token(const TimedToken& token, const std::vector<TimedToken>& allowed) {
  std::vector<int> values;
  for (const TimedToken& a : allowed)
    if (a.kind == token.kind) values.push_back(a.value);
  if (values.empty()) return token;
  std::sort(values.begin(), values.end());
  const bool in_log = token.kind == TimedKind::Dur || token.kind == TimedKind::Tempo;
  return {token.kind, nearest_of(values, token.value, in_log)};
}

TimedEncoding midi_to_timed_tokens(const MidiFile& midi) {
  const double quarter_ticks = midi.ticks_per_quarter ? double(midi.ticks_per_quarter)
                                                      : midi.smpte_fps * midi.smpte_ticks_per_frame * 0.5;
  const double grid_ticks = quarter_ticks / kTimedGrid;
  auto grid_of = [&](int64_t tick) { return static_cast<int64_t>(std::llround(double(tick) / grid_ticks)); };
  auto seconds_at = [&](int64_t grid) { return midi.tick_to_seconds(std::llround(double(grid) * grid_ticks)); };

  struct Note {
    int64_t onset;
    int pitch;
    double length;  // grid points, before quantising
    int velocity;
  };
  std::vector<Note> notes;
  notes.reserve(midi.notes.size());
  for (const MidiNote& n : midi.notes) {
    if (!n.released) continue;
    int pitch = n.pitch;
    while (pitch < kTimedLowestPitch) pitch += 12;
    while (pitch > kTimedHighestPitch) pitch -= 12;
    notes.push_back({grid_of(n.start_tick), pitch, double(n.end_tick - n.start_tick) / grid_ticks, n.velocity});
  }
  std::sort(notes.begin(), notes.end(), [](const Note& a, const Note& b) {
    return std::tie(a.onset, a.pitch, b.length, b.velocity) < std::tie(b.onset, b.pitch, a.length, a.velocity);
  });
  notes.erase(std::unique(notes.begin(), notes.end(),
                          [](const Note& a, const Note& b) { return a.onset == b.onset && a.pitch == b.pitch; }),
              notes.end());

  // Bar lines: each time signature starts a bar; a bar cut short by the next
  // one keeps its length to the nearest sixteenth; long bars are split.
  struct Meter {
    int64_t at;
    int64_t length;
  };
  std::vector<Meter> meters;
  for (const TimeSignature& ts : midi.time_signatures) {
    const int64_t length = std::max<int64_t>(3, 3 * std::llround(16.0 * ts.numerator / ts.denominator));
    meters.push_back({grid_of(ts.tick), length});
  }
  const int64_t last_onset = notes.empty() ? -1 : notes.back().onset;
  TimedEncoding out;
  out.tokens.reserve(3 * notes.size() + notes.size() / 2 + 16);  // Pitch Dur Vel per note, and the bars and onsets
  int64_t start = 0, length = 48;
  size_t next_meter = 0, next_note = 0;
  int last_tempo = 0;
  while (start <= last_onset) {
    // A meter change within a grid point of this bar line applies from it.
    while (next_meter < meters.size() && meters[next_meter].at <= start + 1) length = meters[next_meter++].length;
    int64_t bar = length;
    if (next_meter < meters.size() && meters[next_meter].at < start + bar)
      bar = std::max<int64_t>(3, 3 * std::llround(double(meters[next_meter].at - start) / 3.0));
    // A bar over 96 grid points becomes equal parts of at most 96 (in sixteenths).
    const int64_t parts = (bar + kTimedMaxBar - 1) / kTimedMaxBar;
    for (int64_t p = 0; p < parts; ++p) {
      const int64_t sixteenths = bar / 3;
      const int64_t part = 3 * (sixteenths / parts + (p < sixteenths % parts ? 1 : 0));
      out.tokens.push_back(timed_token_name({TimedKind::Bar, static_cast<int>(part)}));
      ++out.bars;
      const double seconds = seconds_at(start + part) - seconds_at(start);
      const int tempo = timed_tempo_of(seconds > 0 ? 60.0 * (double(part) / kTimedGrid) / seconds : 120.0);
      if (tempo != last_tempo) out.tokens.push_back(timed_token_name({TimedKind::Tempo, tempo}));
      last_tempo = tempo;
      int64_t onset = -1;
      for (; next_note < notes.size() && notes[next_note].onset < start + part; ++next_note) {
        const Note& n = notes[next_note];
        if (n.onset != onset) {
          out.tokens.push_back(timed_token_name({TimedKind::Pos, static_cast<int>(n.onset - start)}));
          onset = n.onset;
        }
        out.tokens.push_back(timed_token_name({TimedKind::Pitch, n.pitch}));
        out.tokens.push_back(timed_token_name({TimedKind::Dur, timed_duration_of(n.length)}));
        out.tokens.push_back(timed_token_name({TimedKind::Vel, timed_velocity_of(n.velocity)}));
        ++out.notes;
      }
      start += part;
    }
  }
  return out;
}

// ---------------------------------------------------------------- decoding

double TimedDecoder::now_beats() const { return double(onset_) / kTimedGrid; }

double TimedDecoder::now_seconds() const { return beats_to_seconds(piece_.tempos, now_beats()); }

void TimedDecoder::flush() {
  if (!pending_) return;
  if (!has_duration_) {
    note_.duration_beats = 1.0;
    ++piece_.repaired;
  }
  note_.velocity = velocity_;  // the Vel token never came: keep the last one
  ++piece_.repaired;
  piece_.notes.push_back(note_);
  pending_ = false;
}

void TimedDecoder::push(const TimedToken& t) {
  const double grid = kTimedGrid;
  switch (t.kind) {
    case TimedKind::Bar: {
      flush();
      if (in_bar_ || bar_used_) bar_start_ += bar_length_;
      in_bar_ = true;
      bar_length_ = t.value;
      onset_ = bar_start_;
      pos_since_bar_ = false;
      piece_.bar_starts.push_back(double(bar_start_) / grid);
      const auto [n, d] = meter_of(t.value);
      if (piece_.meters.empty() || piece_.meters.back().numerator * 48 / piece_.meters.back().denominator != t.value)
        piece_.meters.push_back({double(bar_start_) / grid, n, d});
      break;
    }
    case TimedKind::Tempo: {
      flush();
      // A tempo belongs to the bar line it follows, or to the onset it follows.
      double at = double(pos_since_bar_ ? onset_ : bar_start_) / grid;
      if (!piece_.tempos.empty()) at = std::max(at, piece_.tempos.back().beats);
      if (!piece_.tempos.empty() && piece_.tempos.back().beats == at) piece_.tempos.pop_back();
      piece_.tempos.push_back({at, double(t.value)});
      break;
    }
    case TimedKind::Pos:
      flush();
      onset_ = bar_start_ + t.value;
      pos_since_bar_ = true;
      bar_used_ = true;
      break;
    case TimedKind::Pitch:
      flush();
      pending_ = true;
      has_duration_ = false;
      note_ = NoteEvent{double(onset_) / grid, 1.0, t.value, velocity_};
      bar_used_ = true;
      break;
    case TimedKind::Dur:
      if (pending_ && !has_duration_) {
        note_.duration_beats = double(t.value) / grid;
        has_duration_ = true;
      } else {
        ++piece_.repaired;
      }
      break;
    case TimedKind::Vel:
      if (!pending_) {
        ++piece_.repaired;
        break;
      }
      velocity_ = t.value;
      note_.velocity = t.value;
      if (!has_duration_) ++piece_.repaired;
      piece_.notes.push_back(note_);
      pending_ = false;
      break;
  }
}

TimedPiece TimedDecoder::finish() {
  flush();
  TimedPiece piece = std::move(piece_);
  // One note per onset and key (the longer), as the encoder keeps them; and a
  // key struck again ends its previous note there, as a piano's key does (a
  // MIDI file cannot hold two overlapping notes of one key on one channel).
  std::stable_sort(piece.notes.begin(), piece.notes.end(), [](const NoteEvent& a, const NoteEvent& b) {
    if (a.start_beats != b.start_beats) return a.start_beats < b.start_beats;
    if (a.pitch != b.pitch) return a.pitch < b.pitch;
    return a.duration_beats > b.duration_beats;
  });
  piece.notes.erase(std::unique(piece.notes.begin(), piece.notes.end(),
                                [](const NoteEvent& a, const NoteEvent& b) {
                                  return a.start_beats == b.start_beats && a.pitch == b.pitch;
                                }),
                    piece.notes.end());
  std::vector<double> next_onset(128, INFINITY);
  for (size_t i = piece.notes.size(); i-- > 0;) {
    NoteEvent& n = piece.notes[i];
    double& next = next_onset[static_cast<size_t>(n.pitch)];
    n.duration_beats = std::min(n.duration_beats, next - n.start_beats);
    next = n.start_beats;
  }
  piece.end_beats = in_bar_ ? double(bar_start_ + bar_length_) / kTimedGrid : 0.0;
  for (const NoteEvent& n : piece.notes) piece.end_beats = std::max(piece.end_beats, n.start_beats + n.duration_beats);
  *this = TimedDecoder{};
  return piece;
}

TimedPiece timed_tokens_to_piece(const std::vector<std::string>& tokens) {
  TimedDecoder decoder;
  for (const std::string& t : tokens) decoder.push(t);
  return decoder.finish();
}

}  // namespace mg::io
