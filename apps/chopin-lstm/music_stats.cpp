#include "apps/chopin-lstm/music_stats.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace chopin {

namespace {

size_t duration_bin(double beats) {
  const std::vector<int>& values = mg::io::timed_durations();
  const int nearest = mg::io::timed_duration_of(beats * mg::io::kTimedGrid);
  return static_cast<size_t>(std::lower_bound(values.begin(), values.end(), nearest) - values.begin());
}

std::vector<double> normalised(std::vector<double> h) {
  double total = 0;
  for (double v : h) total += v;
  if (total > 0)
    for (double& v : h) v /= total;
  return h;
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

double bandwidth(std::vector<double> x) {
  const double n = static_cast<double>(x.size());
  double mean = 0, var = 0;
  for (double v : x) mean += v / n;
  for (double v : x) var += (v - mean) * (v - mean) / std::max(1.0, n - 1);
  std::sort(x.begin(), x.end());
  const double iqr = x[static_cast<size_t>(0.75 * (n - 1))] - x[static_cast<size_t>(0.25 * (n - 1))];
  double spread = std::sqrt(var);
  if (iqr > 0) spread = std::min(spread, iqr / 1.34);
  const double h = 0.9 * spread * std::pow(n, -0.2);
  return h > 0 ? h : 1e-3;  // every distance equal: a narrow bump
}

}  // namespace

const std::array<const char*, kYangLerchFeatures>& feature_names() {
  static const std::array<const char*, kYangLerchFeatures> names = {
      "pitch-class histogram", "pitch range", "notes per bar", "inter-onset intervals", "note lengths", "polyphony"};
  return names;
}

PieceFeatures piece_features(const mg::io::TimedPiece& piece) {
  PieceFeatures f;
  std::vector<double> pcs(12, 0.0), iois(mg::io::timed_durations().size(), 0.0), lengths(iois.size(), 0.0);
  int lowest = 127, highest = 0;
  std::map<double, int> per_onset;
  for (const mg::io::NoteEvent& n : piece.notes) {
    pcs[static_cast<size_t>(n.pitch % 12)] += 1;
    lowest = std::min(lowest, n.pitch);
    highest = std::max(highest, n.pitch);
    lengths[duration_bin(n.duration_beats)] += 1;
    ++per_onset[n.start_beats];
  }
  double previous = -1;
  for (const auto& [onset, count] : per_onset) {
    if (previous >= 0) iois[duration_bin(onset - previous)] += 1;
    previous = onset;
  }
  // Bars: the piece's bar lines, or 4/4 from 0 when it has none.
  std::vector<double> bars = piece.bar_starts;
  if (bars.empty())
    for (double b = 0; b < std::max(piece.end_beats, 4.0); b += 4) bars.push_back(b);
  const double notes = static_cast<double>(piece.notes.size());
  f.values[0] = normalised(pcs);
  f.values[1] = {notes > 0 ? static_cast<double>(highest - lowest) : 0.0};
  f.values[2] = {notes / static_cast<double>(bars.size())};
  f.values[3] = normalised(iois);
  f.values[4] = normalised(lengths);
  f.values[5] = {per_onset.empty() ? 0.0 : notes / static_cast<double>(per_onset.size())};
  return f;
}

double kde_overlap(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) return 0;
  const double ha = bandwidth(a), hb = bandwidth(b);
  double lo = INFINITY, hi = -INFINITY;
  for (double v : a) lo = std::min(lo, v - 4 * ha), hi = std::max(hi, v + 4 * ha);
  for (double v : b) lo = std::min(lo, v - 4 * hb), hi = std::max(hi, v + 4 * hb);
  auto density = [](const std::vector<double>& x, double h, double at) {
    double s = 0;
    for (double v : x) s += std::exp(-0.5 * (at - v) * (at - v) / (h * h));
    return s / (static_cast<double>(x.size()) * h * std::sqrt(2 * M_PI));
  };
  // The midpoint rule over the span of both densities.
  const int steps = 2000;
  const double dx = (hi - lo) / steps;
  double area = 0;
  for (int i = 0; i < steps; ++i) {
    const double x = lo + (i + 0.5) * dx;
    area += std::min(density(a, ha, x), density(b, hb, x)) * dx;
  }
  return std::min(area, 1.0);
}

std::array<double, kYangLerchFeatures> yang_lerch_overlap(const std::vector<PieceFeatures>& generated,
                                                          const std::vector<PieceFeatures>& reference) {
  std::array<double, kYangLerchFeatures> out{};
  for (int k = 0; k < kYangLerchFeatures; ++k) {
    std::vector<double> intra, inter;
    for (size_t i = 0; i < reference.size(); ++i)
      for (size_t j = i + 1; j < reference.size(); ++j)
        intra.push_back(distance(reference[i].values[k], reference[j].values[k]));
    for (const PieceFeatures& g : generated)
      for (const PieceFeatures& r : reference) inter.push_back(distance(g.values[k], r.values[k]));
    out[static_cast<size_t>(k)] = kde_overlap(intra, inter);
  }
  return out;
}

}  // namespace chopin
