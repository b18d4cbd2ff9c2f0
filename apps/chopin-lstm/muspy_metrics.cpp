#include "apps/chopin-lstm/muspy_metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "tensor/rng.h"

namespace chopin {

namespace {

// A note on the step grid: sounding over [start, end).
struct StepNote {
  int64_t start = 0, end = 0;
  int pitch = 0;
};

std::vector<StepNote> on_grid(const mg::io::TimedPiece& piece, int steps_per_beat) {
  std::vector<StepNote> out;
  out.reserve(piece.notes.size());
  for (const mg::io::NoteEvent& n : piece.notes) {
    const int64_t start = std::max<int64_t>(0, std::llround(n.start_beats * steps_per_beat));
    const int64_t end = std::llround((n.start_beats + n.duration_beats) * steps_per_beat);
    out.push_back({start, std::max(start + 1, end), n.pitch});
  }
  return out;
}

int64_t length_of(const std::vector<StepNote>& notes) {
  int64_t length = 0;
  for (const StepNote& n : notes) length = std::max(length, n.end);
  return length;
}

// n(t): the distinct pitches sounding at each step of [0, L). Overlapping
// notes of one pitch are merged first, so a key counts once.
std::vector<int> pitches_sounding(std::vector<StepNote> notes) {
  std::vector<int> diff(static_cast<size_t>(length_of(notes)) + 1, 0);
  std::sort(notes.begin(), notes.end(), [](const StepNote& a, const StepNote& b) {
    return a.pitch != b.pitch ? a.pitch < b.pitch : a.start < b.start;
  });
  for (size_t i = 0; i < notes.size();) {
    const int pitch = notes[i].pitch;
    int64_t start = notes[i].start, end = notes[i].end;
    for (++i; i < notes.size() && notes[i].pitch == pitch; ++i) {
      if (notes[i].start > end) {
        ++diff[static_cast<size_t>(start)], --diff[static_cast<size_t>(end)];
        start = notes[i].start;
      }
      end = std::max(end, notes[i].end);
    }
    ++diff[static_cast<size_t>(start)], --diff[static_cast<size_t>(end)];
  }
  std::vector<int> n(diff.size() - 1);
  int running = 0;
  for (size_t t = 0; t < n.size(); ++t) n[t] = running += diff[t];
  return n;
}

}  // namespace

const std::array<const char*, kMuspyMetrics>& muspy_metric_names() {
  static const std::array<const char*, kMuspyMetrics> names = {
      "pitch_range", "n_pitches_used",  "n_pitch_classes_used", "pitch_class_entropy", "scale_consistency",
      "polyphony",   "polyphony_rate", "empty_beat_rate",      "groove_consistency"};
  return names;
}

int pitch_range(const mg::io::TimedPiece& piece) {
  if (piece.notes.empty()) return 0;
  int lowest = piece.notes[0].pitch, highest = lowest;
  for (const mg::io::NoteEvent& n : piece.notes) lowest = std::min(lowest, n.pitch), highest = std::max(highest, n.pitch);
  return highest - lowest;
}

int n_pitches_used(const mg::io::TimedPiece& piece) {
  std::set<int> used;
  for (const mg::io::NoteEvent& n : piece.notes) used.insert(n.pitch);
  return static_cast<int>(used.size());
}

int n_pitch_classes_used(const mg::io::TimedPiece& piece) {
  std::array<bool, 12> used{};
  for (const mg::io::NoteEvent& n : piece.notes) used[static_cast<size_t>(n.pitch % 12)] = true;
  return static_cast<int>(std::count(used.begin(), used.end(), true));
}

double pitch_class_entropy(const mg::io::TimedPiece& piece) {
  if (piece.notes.empty()) return NAN;
  std::array<double, 12> count{};
  for (const mg::io::NoteEvent& n : piece.notes) count[static_cast<size_t>(n.pitch % 12)] += 1;
  double h = 0;
  for (double c : count)
    if (c > 0) {
      const double p = c / static_cast<double>(piece.notes.size());
      h -= p * std::log2(p);
    }
  return h;
}

double pitch_in_scale_rate(const mg::io::TimedPiece& piece, int root, bool minor) {
  if (piece.notes.empty()) return NAN;
  // The scale on C; pitch class c is in the scale on `root` when (c - root) mod 12 is in it.
  static constexpr std::array<bool, 12> major = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1};
  static constexpr std::array<bool, 12> natural_minor = {1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0};
  const std::array<bool, 12>& scale = minor ? natural_minor : major;
  size_t in = 0;
  for (const mg::io::NoteEvent& n : piece.notes) in += scale[static_cast<size_t>(((n.pitch - root) % 12 + 12) % 12)];
  return static_cast<double>(in) / static_cast<double>(piece.notes.size());
}

double scale_consistency(const mg::io::TimedPiece& piece) {
  if (piece.notes.empty()) return NAN;
  double best = 0;
  for (bool minor : {false, true})
    for (int root = 0; root < 12; ++root) best = std::max(best, pitch_in_scale_rate(piece, root, minor));
  return best;
}

double polyphony(const mg::io::TimedPiece& piece, int steps_per_beat) {
  const std::vector<int> n = pitches_sounding(on_grid(piece, steps_per_beat));
  double sounding = 0, total = 0;
  for (int k : n) sounding += k > 0, total += k;
  return sounding > 0 ? total / sounding : NAN;
}

double polyphony_rate(const mg::io::TimedPiece& piece, int steps_per_beat, int threshold) {
  const std::vector<int> n = pitches_sounding(on_grid(piece, steps_per_beat));
  if (n.empty()) return NAN;
  const auto above = std::count_if(n.begin(), n.end(), [&](int k) { return k > threshold; });
  return static_cast<double>(above) / static_cast<double>(n.size());
}

double empty_beat_rate(const mg::io::TimedPiece& piece, int steps_per_beat) {
  const std::vector<StepNote> notes = on_grid(piece, steps_per_beat);
  const int64_t length = length_of(notes);
  if (length < 1) return NAN;
  std::vector<bool> touched(static_cast<size_t>(length / steps_per_beat + 1), false);
  for (const StepNote& n : notes)
    for (int64_t beat = n.start / steps_per_beat; beat <= n.end / steps_per_beat; ++beat)
      touched[static_cast<size_t>(beat)] = true;
  const auto count = std::count(touched.begin(), touched.end(), true);
  return 1 - static_cast<double>(count) / static_cast<double>(touched.size());
}

double groove_consistency(const mg::io::TimedPiece& piece, int steps_per_bar, int steps_per_beat) {
  const std::vector<StepNote> notes = on_grid(piece, steps_per_beat);
  const size_t S = static_cast<size_t>(steps_per_bar);
  const size_t bars = static_cast<size_t>(length_of(notes) / steps_per_bar + 1);
  if (bars < 2) return NAN;
  std::vector<bool> onset(bars * S, false);  // bar i's onset vector G_i at [i S, (i + 1) S)
  for (const StepNote& n : notes) onset[static_cast<size_t>(n.start)] = true;
  size_t differ = 0;
  for (size_t i = 0; i + S < onset.size(); ++i) differ += onset[i] != onset[i + S];
  return 1 - static_cast<double>(differ) / static_cast<double>(S * (bars - 1));
}

int bar_steps(const mg::io::TimedPiece& piece, int steps_per_beat) {
  std::map<int64_t, int> count;
  for (size_t i = 1; i < piece.bar_starts.size(); ++i)
    ++count[std::llround((piece.bar_starts[i] - piece.bar_starts[i - 1]) * steps_per_beat)];
  int64_t best = 4 * steps_per_beat;
  int most = 0;
  for (const auto& [length, n] : count)
    if (n > most && length > 0) best = length, most = n;
  return static_cast<int>(best);
}

MuspyValues muspy_metrics(const mg::io::TimedPiece& piece, const MuspyOptions& options) {
  const int bar = options.steps_per_bar > 0 ? options.steps_per_bar : bar_steps(piece, options.steps_per_beat);
  return {static_cast<double>(pitch_range(piece)),
          static_cast<double>(n_pitches_used(piece)),
          static_cast<double>(n_pitch_classes_used(piece)),
          pitch_class_entropy(piece),
          scale_consistency(piece),
          polyphony(piece, options.steps_per_beat),
          polyphony_rate(piece, options.steps_per_beat, options.polyphony_threshold),
          empty_beat_rate(piece, options.steps_per_beat),
          groove_consistency(piece, bar, options.steps_per_beat)};
}

std::vector<mg::io::TimedPiece> note_excerpts(const std::vector<mg::io::TimedPiece>& pieces, size_t notes,
                                              size_t count, uint64_t seed) {
  // first_slice[i]: how many slices the pieces before piece i hold.
  std::vector<uint64_t> first_slice = {0};
  for (const mg::io::TimedPiece& p : pieces)
    first_slice.push_back(first_slice.back() + (p.notes.size() >= notes ? p.notes.size() - notes + 1 : 0));
  const uint64_t slices = first_slice.back();
  std::vector<mg::io::TimedPiece> out;
  if (notes == 0 || slices == 0) return out;
  for (uint64_t k = 0; k < count; ++k) {
    uint32_t r[4];
    mg::Philox::block(seed, k, r);
    const uint64_t slice = ((static_cast<uint64_t>(r[0]) << 32) | r[1]) % slices;
    const size_t piece = static_cast<size_t>(
        std::upper_bound(first_slice.begin(), first_slice.end(), slice) - first_slice.begin() - 1);
    const mg::io::TimedPiece& p = pieces[piece];
    const size_t first = static_cast<size_t>(slice - first_slice[piece]);
    const double onset = p.notes[first].start_beats;
    double origin = 4 * std::floor(onset / 4);
    const auto after = std::upper_bound(p.bar_starts.begin(), p.bar_starts.end(), onset);
    if (after != p.bar_starts.begin()) origin = *(after - 1);
    mg::io::TimedPiece e;
    for (size_t i = first; i < first + notes; ++i) {
      mg::io::NoteEvent n = p.notes[i];
      n.start_beats -= origin;
      e.end_beats = std::max(e.end_beats, n.start_beats + n.duration_beats);
      e.notes.push_back(n);
    }
    for (double b : p.bar_starts)
      if (b >= origin && b - origin < e.end_beats) e.bar_starts.push_back(b - origin);
    out.push_back(std::move(e));
  }
  return out;
}

double linear_percentile(std::vector<double> values, double p) {
  std::erase_if(values, [](double v) { return std::isnan(v); });
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double h = static_cast<double>(values.size() - 1) * p;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

MuspyComparison compare_muspy_metrics(const std::vector<MuspyValues>& generated,
                                      const std::vector<MuspyValues>& reference) {
  MuspyComparison c;
  for (size_t k = 0; k < kMuspyMetrics; ++k) {
    std::vector<double> ref, gen;
    for (const MuspyValues& v : reference) ref.push_back(v[k]);
    for (const MuspyValues& v : generated) gen.push_back(v[k]);
    MetricRange row;
    row.name = muspy_metric_names()[k];
    row.reference_p5 = linear_percentile(ref, 0.05);
    row.reference_p95 = linear_percentile(ref, 0.95);
    row.generated_median = linear_percentile(gen, 0.5);
    row.generated = gen.size();
    // A NaN value, or a NaN bound, compares false: never inside.
    for (double v : gen) row.inside += v >= row.reference_p5 && v <= row.reference_p95;
    c.rows.push_back(row);
  }
  return c;
}

std::string MuspyComparison::table() const {
  std::string s = "| MusPy metric         | reference p5 | reference p95 | generated median | inside [p5, p95] |\n"
                  "|----------------------|--------------|---------------|------------------|------------------|\n";
  for (const MetricRange& r : rows)
    s += fmt::format("| {:<20} | {:12.3f} | {:13.3f} | {:16.3f} | {:>16} |\n", r.name, r.reference_p5,
                     r.reference_p95, r.generated_median, fmt::format("{}/{}", r.inside, r.generated));
  return s;
}

}  // namespace chopin
