#pragma once
// Per-piece measures of symbolic music as MusPy defines them (Dong et al.
// 2020, "MusPy: a toolkit for symbolic music generation"; muspy.metrics in
// MusPy 0.5), over a piece's notes, and how generated pieces sit within the
// spread of reference excerpts.
//
// Time. MusPy counts time in integer steps, `resolution` per quarter note. A
// piece here holds times in beats (quarter notes); a note becomes the steps
//   start = round(start_beats * steps_per_beat),
//   end   = max(start + 1, round((start_beats + duration_beats) * steps_per_beat))
// (at least one step, so a note shorter than half a step is not lost). The
// default grid is 12 steps per beat, the timed representation's own grid
// (mg::io::kTimedGrid): every decoded note lands on it exactly, and
// sixteenths and triplet eighths both fit. A beat is one quarter note (MusPy's
// `resolution`). The piece's length L is the latest note end in steps.
//
// The measures, with N notes of pitches p_1..p_N:
//   pitch_range            max p_i - min p_i (0 without notes)
//   n_pitches_used         |{p_i}|
//   n_pitch_classes_used   |{p_i mod 12}|
//   pitch_class_entropy    -sum_c P(c) log2 P(c), P(c) = #{i : p_i mod 12 = c} / N
//   pitch_in_scale_rate    #{i : p_i mod 12 in S(root, mode)} / N, with S the
//                          major (0 2 4 5 7 9 11) or natural minor (0 2 3 5 7 8 10)
//                          scale moved up by root
//   scale_consistency      max over the 12 roots x {major, minor} of pitch_in_scale_rate
//   polyphony              sum_t n(t) / #{t : n(t) >= 1}, n(t) the distinct pitches
//                          sounding at step t in [0, L) (a note sounds over [start, end))
//   polyphony_rate         #{t : n(t) > threshold} / L; MusPy's default threshold is
//                          2 (more than two pitches, MuseGAN's "polyphonicity");
//                          threshold 1 counts the steps with more than one pitch
//   empty_beat_rate        1 - #(beats touched by a note) / B, B = floor(L / steps_per_beat) + 1;
//                          a note touches the beats floor(start / steps_per_beat) through
//                          floor(end / steps_per_beat), both included. So "empty" means no
//                          note sounding, not no note starting, and (as in MusPy) a note that
//                          ends exactly on a beat line also touches the beat after it.
//   groove_consistency     1 - sum_{i=1}^{T-1} d(G_i, G_{i+1}) / (S (T - 1)), with bars of S
//                          steps from time 0, T = floor(L / S) + 1 bars, G_i the bar's onset
//                          vector (S positions, 1 where a note starts) and d the Hamming
//                          distance. (As in MusPy, when L falls exactly on a bar line the
//                          count includes the empty bar that starts there.)
// Measures MusPy leaves undefined are NaN: the entropy, scale and polyphony
// measures of a piece without notes, the beat and step rates of a piece of
// length 0, groove consistency of fewer than two bars. NaN values are left out
// of percentiles and medians and never count as inside a range.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "io/timed_tokens.h"

namespace chopin {

inline constexpr int kMuspyMetrics = 9;
using MuspyValues = std::array<double, kMuspyMetrics>;

// The measures' names, in the order of MuspyValues: pitch_range,
// n_pitches_used, n_pitch_classes_used, pitch_class_entropy,
// scale_consistency, polyphony, polyphony_rate, empty_beat_rate,
// groove_consistency.
const std::array<const char*, kMuspyMetrics>& muspy_metric_names();

int pitch_range(const mg::io::TimedPiece& piece);
int n_pitches_used(const mg::io::TimedPiece& piece);
int n_pitch_classes_used(const mg::io::TimedPiece& piece);
double pitch_class_entropy(const mg::io::TimedPiece& piece);
// root 0..11 (C = 0); minor: the natural minor scale, else major.
double pitch_in_scale_rate(const mg::io::TimedPiece& piece, int root, bool minor);
double scale_consistency(const mg::io::TimedPiece& piece);
double polyphony(const mg::io::TimedPiece& piece, int steps_per_beat = mg::io::kTimedGrid);
double polyphony_rate(const mg::io::TimedPiece& piece, int steps_per_beat = mg::io::kTimedGrid, int threshold = 2);
double empty_beat_rate(const mg::io::TimedPiece& piece, int steps_per_beat = mg::io::kTimedGrid);
double groove_consistency(const mg::io::TimedPiece& piece, int steps_per_bar, int steps_per_beat = mg::io::kTimedGrid);

// The piece's most common bar length in steps, from the gaps between its bar
// lines (the shorter on a tie); 4 beats when it has fewer than two bar lines.
int bar_steps(const mg::io::TimedPiece& piece, int steps_per_beat = mg::io::kTimedGrid);

struct MuspyOptions {
  int steps_per_beat = mg::io::kTimedGrid;
  int steps_per_bar = 0;        // groove consistency's bar; 0: each piece's bar_steps()
  int polyphony_threshold = 2;  // polyphony_rate counts the steps with more pitches than this
};

// All nine measures of one piece. Grids are counted in steps and must be positive.
MuspyValues muspy_metrics(const mg::io::TimedPiece& piece, const MuspyOptions& options = {});

// `count` excerpts of `notes` consecutive notes (in the piece's onset order),
// drawn with replacement and uniformly over every such slice of every piece
// long enough to hold one; draw k is a pure function of (seed, k). An excerpt
// keeps its notes and bar lines, shifted so that time 0 is the last bar line
// at or before its first note (bar lines every 4 beats from 0 when the piece
// has none there); its end_beats is its latest note end. Empty when no piece
// holds `notes` notes or `notes` is 0.
std::vector<mg::io::TimedPiece> note_excerpts(const std::vector<mg::io::TimedPiece>& pieces, size_t notes,
                                              size_t count, uint64_t seed);

// The value below which a share p (0..1) of the values lie, interpolating
// linearly between the two nearest ranks: with x sorted and h = (n - 1) p,
//   x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])
// (numpy's default). NaN values are left out; NaN when none is left.
double linear_percentile(std::vector<double> values, double p);

// One measure: the reference's 5th and 95th percentiles, the generated
// pieces' median, and how many of the generated pieces lie in [p5, p95].
struct MetricRange {
  const char* name = "";
  double reference_p5 = 0, reference_p95 = 0, generated_median = 0;
  size_t inside = 0;     // generated pieces with p5 <= value <= p95
  size_t generated = 0;  // generated pieces, NaN values included
};

struct MuspyComparison {
  std::vector<MetricRange> rows;  // one per measure, in muspy_metric_names() order
  // A plain-text table, one row per measure:
  //   | MusPy metric | reference p5 | reference p95 | generated median | inside [p5, p95] |
  std::string table() const;
};

MuspyComparison compare_muspy_metrics(const std::vector<MuspyValues>& generated,
                                      const std::vector<MuspyValues>& reference);

}  // namespace chopin
