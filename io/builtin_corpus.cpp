#include "io/builtin_corpus.h"

#include <algorithm>
#include <cstdlib>

#include "tensor/error.h"

namespace mg::io {

namespace {

// SplitMix64: tiny, fully specified, identical everywhere.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int below(int n) { return int(next() % uint64_t(n)); }
};

constexpr int kMajorScale[7] = {0, 2, 4, 5, 7, 9, 11};
constexpr int kKeys[3] = {0, 7, 5};  // C, G, F major

// Four-bar progressions as scale degrees (0 = I, 1 = ii, 3 = IV, 4 = V, 5 = vi).
constexpr int kProgressions[4][4] = {{0, 3, 4, 0}, {0, 5, 3, 4}, {1, 4, 0, 0}, {0, 4, 5, 3}};

enum class LeftHand { Block, Alberti, BassChord };

class PieceBuilder {
 public:
  PieceBuilder(int tonic, int tpq) : tonic_(tonic), tpq_(tpq) {}

  // MIDI pitch of scale step `step` (0 = tonic) counted from `base_octave_c`.
  int scale_pitch(int base_octave_c, int step) const {
    int octave = step >= 0 ? step / 7 : -((-step + 6) / 7);
    int degree = step - octave * 7;
    return base_octave_c + tonic_ + 12 * octave + kMajorScale[degree];
  }

  void add(int track, int pitch, int64_t start, int64_t length, int velocity) {
    MidiNote n;
    n.track = track;
    n.pitch = pitch;
    n.velocity = velocity;
    n.start_tick = start;
    n.end_tick = start + length;
    notes_.push_back(n);
  }

  void left_hand_bar(int64_t bar, int degree, LeftHand style) {
    int q = tpq_, e = tpq_ / 2;
    int root = scale_pitch(48, degree), third = scale_pitch(48, degree + 2), fifth = scale_pitch(48, degree + 4);
    int64_t t0 = bar * 4 * q;
    switch (style) {
      case LeftHand::Block:
        for (int half = 0; half < 2; ++half)
          for (int p : {root, third, fifth}) add(1, p, t0 + half * 2 * q, 2 * q, 60);
        break;
      case LeftHand::Alberti: {
        const int tones[4] = {root, fifth, third, fifth};
        for (int i = 0; i < 8; ++i) add(1, tones[i % 4], t0 + i * e, e, 55);
        break;
      }
      case LeftHand::BassChord:
        add(1, root - 12, t0, q, 65);
        for (int beat = 1; beat < 4; ++beat)
          for (int p : {third, fifth, root + 12}) add(1, p, t0 + beat * q, q, 50);
        break;
    }
  }

  // Melody in scale steps above the tonic of octave 4, kept within 0..9.
  void melody_bar(Rng& rng, int64_t bar, int degree, int& step) {
    int q = tpq_, e = tpq_ / 2;
    int64_t t = bar * 4 * q;
    for (int beat = 0; beat < 4; ++beat) {
      // Strong beats move to the nearest chord tone; other notes step by one.
      if (beat % 2 == 0) {
        int best = step, best_distance = 100;
        for (int s = 0; s <= 9; ++s) {
          bool chord_tone = ((s - degree) % 7 + 7) % 7 % 2 == 0 && ((s - degree) % 7 + 7) % 7 <= 4;
          int distance = std::abs(s - step) * 2 + (rng.below(3) == 0 ? 1 : 0);
          if (chord_tone && distance < best_distance) {
            best = s;
            best_distance = distance;
          }
        }
        step = best;
      } else {
        step = std::clamp(step + (rng.below(2) ? 1 : -1), 0, 9);
      }
      if (rng.below(3) == 0) {  // quarter note
        add(0, scale_pitch(60, step), t + beat * q, q, 80);
      } else {  // two eighths, the second a neighbour
        add(0, scale_pitch(60, step), t + beat * q, e, 80);
        int next = std::clamp(step + (rng.below(2) ? 1 : -1), 0, 9);
        add(0, scale_pitch(60, next), t + beat * q + e, e, 75);
        step = next;
      }
    }
  }

  std::vector<MidiNote> take() { return std::move(notes_); }

 private:
  int tonic_;
  int tpq_;
  std::vector<MidiNote> notes_;
};

}  // namespace

std::vector<MidiFile> builtin_piano_corpus(uint64_t seed, const BuiltinCorpusOptions& options) {
  if (options.pieces < 1 || options.bars_per_piece < 1 || options.ticks_per_quarter < 2 ||
      options.ticks_per_quarter % 2 != 0 || options.first_key < 0) {
    fail("builtin corpus: needs pieces >= 1, bars >= 1, an even ticks_per_quarter and first_key >= 0");
  }
  Rng rng{seed};
  std::vector<MidiFile> corpus;
  for (int piece = 0; piece < options.pieces; ++piece) {
    PieceBuilder builder(kKeys[(piece + options.first_key) % 3], options.ticks_per_quarter);  // keys in turn keep counts balanced
    int step = 2 + rng.below(4);
    int progression = rng.below(4);
    LeftHand style = LeftHand(rng.below(3));
    for (int bar = 0; bar < options.bars_per_piece; ++bar) {
      // Each 8-bar phrase may change progression and accompaniment; the last bar rests on I.
      if (bar % 8 == 0 && bar > 0) {
        if (rng.below(2)) progression = rng.below(4);
        style = LeftHand(rng.below(3));
      }
      int degree = bar == options.bars_per_piece - 1 ? 0 : kProgressions[progression][bar % 4];
      builder.melody_bar(rng, bar, degree, step);
      builder.left_hand_bar(bar, degree, style);
    }

    MidiFile mf;
    mf.format = 1;
    mf.ticks_per_quarter = options.ticks_per_quarter;
    mf.track_names = {"Right hand", "Left hand"};
    int bpm = 96 + 8 * rng.below(4);
    mf.tempo_map = {TempoChange{0, 60000000 / bpm, 0.0}};
    mf.time_signatures = {TimeSignature{0, 4, 4}};
    mf.notes = builder.take();
    std::vector<int> next_order(2, 0);
    for (MidiNote& n : mf.notes) n.order = next_order[n.track]++;
    std::sort(mf.notes.begin(), mf.notes.end(), [](const MidiNote& a, const MidiNote& b) {
      if (a.start_tick != b.start_tick) return a.start_tick < b.start_tick;
      if (a.pitch != b.pitch) return a.pitch < b.pitch;
      if (a.track != b.track) return a.track < b.track;
      return a.order < b.order;
    });
    for (MidiNote& n : mf.notes) {
      n.channel = n.track;
      n.start_sec = mf.tick_to_seconds(n.start_tick);
      n.end_sec = mf.tick_to_seconds(n.end_tick);
      mf.end_tick = std::max(mf.end_tick, n.end_tick);
    }
    corpus.push_back(std::move(mf));
  }
  return corpus;
}

std::vector<NoteEvent> midi_to_note_events(const MidiFile& midi) {
  std::vector<NoteEvent> events;
  events.reserve(midi.notes.size());
  for (const MidiNote& n : midi.notes) {
    double start = midi.tick_to_beats(n.start_tick);
    events.push_back({start, midi.tick_to_beats(n.end_tick) - start, n.pitch, n.velocity});
  }
  return events;
}

}  // namespace mg::io
