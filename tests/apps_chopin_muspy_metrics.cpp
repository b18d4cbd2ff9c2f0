// chopin-lstm's MusPy measures on hand-made pieces whose values are worked
// out in the comments, the reference excerpts, and the percentile summary.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "apps/chopin-lstm/muspy_metrics.h"

namespace {

using mg::io::NoteEvent;
using mg::io::TimedPiece;

TimedPiece piece_of(std::vector<NoteEvent> notes, std::vector<double> bars = {}) {
  TimedPiece p;
  p.notes = std::move(notes);
  p.bar_starts = std::move(bars);
  for (const NoteEvent& n : p.notes) p.end_beats = std::max(p.end_beats, n.start_beats + n.duration_beats);
  return p;
}

// Notes of `length` beats on the given onsets, all on one key.
std::vector<NoteEvent> onsets(const std::vector<double>& at, double length, int pitch = 60) {
  std::vector<NoteEvent> out;
  for (double t : at) out.push_back({t, length, pitch, 80});
  return out;
}

// C4 D4 E4 F4 G4 A4 B4 C5 as quarter notes on beats 0..7.
TimedPiece c_major_scale() {
  std::vector<NoteEvent> notes;
  double t = 0;
  for (int p : {60, 62, 64, 65, 67, 69, 71, 72}) notes.push_back({t++, 1.0, p, 80});
  return piece_of(notes);
}

}  // namespace

TEST_CASE("MusPy pitch measures of a C major scale") {
  const TimedPiece p = c_major_scale();
  CHECK(chopin::pitch_range(p) == 12);          // 72 - 60
  CHECK(chopin::n_pitches_used(p) == 8);
  CHECK(chopin::n_pitch_classes_used(p) == 7);  // C twice
  // P(C) = 2/8, the six others 1/8: -(1/4 log2 1/4) - 6 (1/8 log2 1/8) = 1/2 + 9/4.
  CHECK(chopin::pitch_class_entropy(p) == doctest::Approx(2.75));
  CHECK(chopin::scale_consistency(p) == doctest::Approx(1.0));
  CHECK(chopin::pitch_in_scale_rate(p, 0, false) == doctest::Approx(1.0));  // C major
  CHECK(chopin::pitch_in_scale_rate(p, 9, true) == doctest::Approx(1.0));   // A minor: the same seven keys
  // C# major is C# D# F F# G# A# C: of the notes, the two Cs and F.
  CHECK(chopin::pitch_in_scale_rate(p, 1, false) == doctest::Approx(3.0 / 8));
  // D minor is D E F G A Bb C: all but B. D major is D E F# G A B C#: D E G A B.
  CHECK(chopin::pitch_in_scale_rate(p, 2, true) == doctest::Approx(7.0 / 8));
  CHECK(chopin::pitch_in_scale_rate(p, 2, false) == doctest::Approx(5.0 / 8));
  // One key at a time over all 8 beats.
  CHECK(chopin::polyphony(p) == doctest::Approx(1.0));
  CHECK(chopin::polyphony_rate(p) == 0.0);
  CHECK(chopin::polyphony_rate(p, 12, 0) == doctest::Approx(1.0));
}

TEST_CASE("MusPy pitch measures of a chromatic run") {
  std::vector<NoteEvent> notes;
  for (int i = 0; i < 12; ++i) notes.push_back({0.5 * i, 0.5, 60 + i, 80});
  const TimedPiece p = piece_of(notes);
  CHECK(chopin::pitch_range(p) == 11);
  CHECK(chopin::n_pitch_classes_used(p) == 12);
  CHECK(chopin::pitch_class_entropy(p) == doctest::Approx(3.584962500721156));  // log2(12)
  CHECK(chopin::scale_consistency(p) == doctest::Approx(7.0 / 12));             // any scale holds 7 of the 12
}

TEST_CASE("MusPy polyphony of chords, on two grids") {
  // Beat 0: C4 E4 G4, with a second C4 over its first half (one key: counted once);
  // beat 1: C5; beat 2: nothing; beat 3: D4 F4. All notes last to the next beat.
  std::vector<NoteEvent> notes = {{0, 1, 60, 80}, {0, 0.5, 60, 80}, {0, 1, 64, 80}, {0, 1, 67, 80},
                                  {1, 1, 72, 80}, {3, 1, 62, 80},   {3, 1, 65, 80}};
  const TimedPiece p = piece_of(notes);
  for (int steps : {12, 4}) {
    CAPTURE(steps);
    // Sounding per beat: 3, 1, 0, 2. Mean over the 3 sounding beats: (3 + 1 + 2) / 3.
    CHECK(chopin::polyphony(p, steps) == doctest::Approx(2.0));
    // More than two keys on 1 beat of 4; more than one on 2 of 4.
    CHECK(chopin::polyphony_rate(p, steps) == doctest::Approx(0.25));
    CHECK(chopin::polyphony_rate(p, steps, 1) == doctest::Approx(0.5));
  }
  // Beats 0..4 (L = 4 beats, so floor(4) + 1 = 5 counted): the C5 ending on
  // beat line 2 touches beat 2, so no beat is empty although beat 2 is silent.
  CHECK(chopin::empty_beat_rate(p) == 0.0);
}

TEST_CASE("MusPy empty-beat rate of a piece with silent bars") {
  // Short notes on beats 0 1 2 3 (bar 1), bars 2 and 3 silent, notes on beats 12 and 15 (bar 4).
  // L = 15.5 beats: beats 0..15 counted (16), touched 0 1 2 3 12 15: 10 of 16 empty.
  std::vector<NoteEvent> staccato = onsets({0, 1, 2, 3, 12, 15}, 0.5);
  CHECK(chopin::empty_beat_rate(piece_of(staccato)) == doctest::Approx(10.0 / 16));
  CHECK(chopin::empty_beat_rate(piece_of(staccato), 4) == doctest::Approx(10.0 / 16));
  // Full quarter notes in bar 1 and a short note on beat 12: L = 12.5, beats 0..12 counted (13);
  // the note ending on beat line 4 touches beat 4, so 0..4 and 12 are touched: 7 of 13 empty.
  std::vector<NoteEvent> legato = onsets({0, 1, 2, 3}, 1.0);
  legato.push_back({12, 0.5, 60, 80});
  CHECK(chopin::empty_beat_rate(piece_of(legato)) == doctest::Approx(7.0 / 13));
}

TEST_CASE("MusPy groove consistency of neighbouring bars") {
  const int bar = 48;  // 4/4 at 12 steps per beat
  // Bars 1 and 2 both start notes on beats 1, 2 and 3.5 (a chord on the first); the last
  // note ends at beat 7, inside bar 2, so there are two bars and they match.
  std::vector<NoteEvent> same = onsets({0, 1, 2.5, 4, 5, 6.5}, 0.5);
  same.push_back({0, 0.5, 64, 80});
  CHECK(chopin::groove_consistency(piece_of(same), bar) == doctest::Approx(1.0));
  // Bar 1 starts notes at steps 0 12 24 36, bar 2 at 0 18 36: they differ at 12, 24 and 18.
  const std::vector<double> a = {0, 1, 2, 3}, b = {0, 1.5, 3};
  std::vector<double> ab = a;
  for (double t : b) ab.push_back(4 + t);
  CHECK(chopin::groove_consistency(piece_of(onsets(ab, 0.5)), bar) == doctest::Approx(1 - 3.0 / 48));
  // Bars a a b: distances 0 and 3 over 2 pairs of 48 positions.
  std::vector<double> aab = {0, 1, 2, 3, 4, 5, 6, 7};
  for (double t : b) aab.push_back(8 + t);
  CHECK(chopin::groove_consistency(piece_of(onsets(aab, 0.5)), bar) == doctest::Approx(1 - 3.0 / 96));
  // Bars a a of quarter notes end exactly on the bar line at beat 8: the empty bar that starts
  // there is counted too (a a then nothing), its distance from bar 2 is bar 2's 4 onsets.
  CHECK(chopin::groove_consistency(piece_of(onsets({0, 1, 2, 3, 4, 5, 6, 7}, 1.0)), bar) ==
        doctest::Approx(1 - 4.0 / 96));
  // One bar has no neighbour.
  CHECK(std::isnan(chopin::groove_consistency(piece_of(onsets(a, 0.5)), bar)));
  // The same rhythm as 3/4 bars (36 steps): bars 1 and 2 start notes at 0 and 12; in 4/4 bars
  // the onsets 0 1 3 4 give 0 12 36 / 0 in two bars: differing at 12 and 36.
  const TimedPiece three_four = piece_of(onsets({0, 1, 3, 4}, 0.5), {0, 3});
  CHECK(chopin::groove_consistency(three_four, 36) == doctest::Approx(1.0));
  CHECK(chopin::groove_consistency(three_four, 48) == doctest::Approx(1 - 2.0 / 48));
}

TEST_CASE("bar length: the most common gap between bar lines") {
  CHECK(chopin::bar_steps(piece_of({})) == 48);                            // no bar lines: 4/4
  CHECK(chopin::bar_steps(piece_of({}, {0})) == 48);                       // one: still no gap
  CHECK(chopin::bar_steps(piece_of({}, {0, 4, 7, 10, 13})) == 36);         // gaps 4 3 3 3
  CHECK(chopin::bar_steps(piece_of({}, {0, 3, 7})) == 36);                 // a tie: the shorter
  CHECK(chopin::bar_steps(piece_of({}, {0, 1.5, 3, 4.5}), 4) == 6);        // 3/8 on a 4-step grid
  // muspy_metrics takes each piece's own bar: the 3/4 piece above scores 1 without being told.
  const chopin::MuspyValues v = chopin::muspy_metrics(piece_of(onsets({0, 1, 3, 4}, 0.5), {0, 3}));
  CHECK(v[8] == doctest::Approx(1.0));
}

TEST_CASE("all MusPy measures at once, and a piece without notes") {
  const chopin::MuspyValues v = chopin::muspy_metrics(c_major_scale());
  CHECK(std::string(chopin::muspy_metric_names()[3]) == "pitch_class_entropy");
  // pitch_range n_pitches n_classes entropy scale polyphony rate empty_beat groove
  // The scale: 8 quarter notes, L = 8 beats, beats 0..8 all touched; bars 1 and 2 start a
  // note on every beat (positions 0 12 24 36 in both), the empty bar 3 differs in 4.
  const std::vector<double> expected = {12, 8, 7, 2.75, 1, 1, 0, 0, 1 - 4.0 / 96};
  for (size_t k = 0; k < expected.size(); ++k) {
    CAPTURE(chopin::muspy_metric_names()[k]);
    CHECK(v[k] == doctest::Approx(expected[k]));
  }
  const chopin::MuspyValues none = chopin::muspy_metrics(TimedPiece{});
  CHECK(none[0] == 0);
  CHECK(none[1] == 0);
  CHECK(none[2] == 0);
  for (size_t k = 3; k < none.size(); ++k) {
    CAPTURE(chopin::muspy_metric_names()[k]);
    CHECK(std::isnan(none[k]));
  }
}

TEST_CASE("reference excerpts: consecutive notes from a bar line, the same for the same seed") {
  // Piece A: keys 60..69 on beats 0..9, bar lines every 4 beats. Piece B: 3 notes, too short.
  // Piece C: keys 80..85 on beats 0.5 1.5 .. 5.5, no bar lines (bars of 4 beats from 0 assumed).
  std::vector<NoteEvent> a, b, c;
  for (int i = 0; i < 10; ++i) a.push_back({static_cast<double>(i), 1.0, 60 + i, 80});
  for (int i = 0; i < 3; ++i) b.push_back({static_cast<double>(i), 1.0, 40 + i, 80});
  for (int i = 0; i < 6; ++i) c.push_back({0.5 + i, 1.0, 80 + i, 80});
  const std::vector<TimedPiece> pieces = {piece_of(a, {0, 4, 8}), piece_of(b, {0}), piece_of(c)};

  const auto first = chopin::note_excerpts(pieces, 4, 200, 7);
  REQUIRE(first.size() == 200);
  std::set<int> starts;  // the first key of each excerpt: one per slice
  for (const TimedPiece& e : first) {
    REQUIRE(e.notes.size() == 4);
    const int key = e.notes[0].pitch;
    starts.insert(key);
    for (size_t i = 1; i < 4; ++i) CHECK(e.notes[i].pitch == key + static_cast<int>(i));
    // The first note's onset in its piece, and the bar line at or before it.
    const double onset = key < 80 ? key - 60 : key - 80 + 0.5;
    const double origin = 4 * std::floor(onset / 4);
    CAPTURE(key);
    CHECK(e.notes[0].start_beats == doctest::Approx(onset - origin));
    CHECK(e.notes[3].start_beats == doctest::Approx(onset - origin + 3));
    CHECK(e.end_beats == doctest::Approx(onset - origin + 4));
    if (key < 80) {
      // A's bar lines from the origin up to the excerpt's end.
      std::vector<double> bars;
      for (double line : {0.0, 4.0, 8.0})
        if (line >= origin && line < onset + 4) bars.push_back(line - origin);
      CHECK(e.bar_starts == bars);
    } else {
      CHECK(e.bar_starts.empty());
    }
  }
  // Every slice of A (7) and of C (3) is drawn at some point; none of B.
  CHECK(starts == std::set<int>{60, 61, 62, 63, 64, 65, 66, 80, 81, 82});

  const auto again = chopin::note_excerpts(pieces, 4, 200, 7);
  const auto other = chopin::note_excerpts(pieces, 4, 200, 8);
  bool same = true, differs = false;
  for (size_t k = 0; k < first.size(); ++k) {
    same = same && again[k].notes[0].pitch == first[k].notes[0].pitch;
    differs = differs || other[k].notes[0].pitch != first[k].notes[0].pitch;
  }
  CHECK(same);
  CHECK(differs);

  CHECK(chopin::note_excerpts(pieces, 11, 5, 7).empty());
  CHECK(chopin::note_excerpts(pieces, 0, 5, 7).empty());
  CHECK(chopin::note_excerpts(pieces, 4, 0, 7).empty());
}

TEST_CASE("percentiles by linear interpolation between ranks") {
  const std::vector<double> ten = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
  CHECK(chopin::linear_percentile(ten, 0.05) == doctest::Approx(0.5));  // h = 10 * 0.05 = 0.5
  CHECK(chopin::linear_percentile(ten, 0.95) == doctest::Approx(9.5));
  CHECK(chopin::linear_percentile({10, 0, 5, 3}, 0.5) == doctest::Approx(4.0));  // (3 + 5) / 2
  CHECK(chopin::linear_percentile({4, 1, 3, 2}, 0.25) == doctest::Approx(1.75));  // h = 0.75
  CHECK(chopin::linear_percentile({NAN, 3, 1}, 0.5) == doctest::Approx(2.0));
  CHECK(std::isnan(chopin::linear_percentile({NAN}, 0.5)));
  CHECK(std::isnan(chopin::linear_percentile({}, 0.5)));
}

TEST_CASE("the summary: reference p5 and p95, generated median, pieces inside") {
  // Reference: 11 excerpts scoring 0, 1, ..., 10 on every measure: p5 = 0.5, p95 = 9.5.
  std::vector<chopin::MuspyValues> reference(11);
  for (size_t i = 0; i < reference.size(); ++i) reference[i].fill(static_cast<double>(i));
  // Generated: 4 pieces scoring 0 3 5 10 on every measure, except that measure 1 gets the
  // bounds and just outside them (0.5 9.5 9.6 0.4), and measure 8 has no value for piece 3.
  std::vector<chopin::MuspyValues> generated(4);
  const double values[] = {0, 3, 5, 10}, bounds[] = {0.5, 9.5, 9.6, 0.4};
  for (size_t g = 0; g < 4; ++g) {
    generated[g].fill(values[g]);
    generated[g][1] = bounds[g];
  }
  generated[2][8] = NAN;

  const chopin::MuspyComparison c = chopin::compare_muspy_metrics(generated, reference);
  REQUIRE(c.rows.size() == chopin::kMuspyMetrics);
  for (const chopin::MetricRange& r : c.rows) {
    CAPTURE(r.name);
    CHECK(r.reference_p5 == doctest::Approx(0.5));
    CHECK(r.reference_p95 == doctest::Approx(9.5));
    CHECK(r.generated == 4);
  }
  CHECK(std::string(c.rows[0].name) == "pitch_range");
  CHECK(c.rows[0].generated_median == doctest::Approx(4.0));  // (3 + 5) / 2
  CHECK(c.rows[0].inside == 2);                               // 3 and 5
  CHECK(c.rows[1].generated_median == doctest::Approx(5.0));  // (0.5 + 9.5) / 2
  CHECK(c.rows[1].inside == 2);                               // the bounds themselves
  CHECK(c.rows[8].generated_median == doctest::Approx(3.0));  // of 0 3 10
  CHECK(c.rows[8].inside == 1);                               // 3; no value is not inside

  const std::string table = c.table();
  CHECK(std::count(table.begin(), table.end(), '\n') == 2 + chopin::kMuspyMetrics);
  CHECK(table.find("| pitch_range          |        0.500 |         9.500 |            4.000 |              2/4 |") !=
        std::string::npos);
  CHECK(table.find("groove_consistency") != std::string::npos);
}
