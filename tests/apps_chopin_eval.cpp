// chopin-lstm's measures of generated music: the Yang-Lerch features and
// overlaps, and the longest run of one token.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "apps/chopin-lstm/chopin.h"
#include "apps/chopin-lstm/music_stats.h"

namespace {

// Deterministic standard normal draws (Box-Muller over an LCG).
std::vector<double> normals(int n, double mean, uint64_t seed) {
  std::vector<double> out;
  uint64_t s = seed;
  auto uniform = [&] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (static_cast<double>(s >> 11) + 0.5) / 9007199254740992.0;
  };
  for (int i = 0; i < n; ++i)
    out.push_back(mean + std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform()));
  return out;
}

// A bar of 4/4 from `at`: a chord of `pitches` on beat 1, then single notes on the other beats.
void add_bar(mg::io::TimedPiece& p, double at, const std::vector<int>& pitches, double length) {
  p.bar_starts.push_back(at);
  for (int q : pitches) p.notes.push_back({at, length, q, 80});
  for (int beat = 1; beat < 4; ++beat) p.notes.push_back({at + beat, length, pitches.back() + 2 * beat, 80});
  p.end_beats = at + 4;
}

}  // namespace

TEST_CASE("kernel density overlap: 1 for one sample, near 0 for far apart, falling as they part") {
  const std::vector<double> a = normals(400, 0, 1);
  CHECK(chopin::kde_overlap(a, a) == doctest::Approx(1.0).epsilon(0.01));
  CHECK(chopin::kde_overlap(a, normals(400, 0, 2)) > 0.85);
  double previous = 1.1;
  for (double shift : {0.5, 1.0, 2.0, 4.0}) {
    const double o = chopin::kde_overlap(a, normals(400, shift, 3));
    CAPTURE(shift);
    CHECK(o < previous);
    previous = o;
  }
  // Two unit normals d apart overlap by 2 Phi(-d / 2): 0.046 at d = 4.
  CHECK(previous == doctest::Approx(0.046).epsilon(0.6));
  CHECK(chopin::kde_overlap(a, normals(400, 12, 4)) < 1e-3);
  CHECK(chopin::kde_overlap({}, a) == 0);
}

TEST_CASE("Yang-Lerch features of a hand-made piece") {
  mg::io::TimedPiece p;
  add_bar(p, 0, {48, 52, 55}, 1.0);  // C E G, then 57 59 61
  add_bar(p, 4, {48, 52, 55}, 0.5);
  const chopin::PieceFeatures f = chopin::piece_features(p);
  REQUIRE(f.values[0].size() == 12);
  CHECK(f.values[0][0] == doctest::Approx(2.0 / 12));  // two Cs of twelve notes
  CHECK(f.values[0][4] == doctest::Approx(2.0 / 12));
  CHECK(f.values[0][9] == doctest::Approx(2.0 / 12));  // A (57)
  CHECK(f.values[1][0] == 61 - 48);
  CHECK(f.values[2][0] == doctest::Approx(6.0));  // notes per bar
  // Onsets every beat: seven gaps of 12 grid points, all in one bin.
  const std::vector<int>& d = mg::io::timed_durations();
  const size_t quarter = static_cast<size_t>(std::find(d.begin(), d.end(), 12) - d.begin());
  CHECK(f.values[3][quarter] == doctest::Approx(1.0));
  const size_t eighth = static_cast<size_t>(std::find(d.begin(), d.end(), 6) - d.begin());
  CHECK(f.values[4][quarter] == doctest::Approx(0.5));
  CHECK(f.values[4][eighth] == doctest::Approx(0.5));
  CHECK(f.values[5][0] == doctest::Approx(12.0 / 8));  // polyphony: 12 notes over 8 onsets
}

TEST_CASE("Yang-Lerch overlap: pieces like the reference score high, a stuck piece scores low") {
  // Reference: bars whose chord root and note lengths vary from piece to piece.
  auto piece = [](int root, double length, int bars) {
    mg::io::TimedPiece p;
    for (int b = 0; b < bars; ++b) add_bar(p, 4.0 * b, {root + (b % 3), root + 4, root + 7 + (b % 2)}, length);
    return p;
  };
  std::vector<chopin::PieceFeatures> reference, alike, stuck;
  for (int i = 0; i < 24; ++i) reference.push_back(chopin::piece_features(piece(40 + i % 12, 0.5 + (i % 4) * 0.25, 4)));
  for (int i = 0; i < 8; ++i) alike.push_back(chopin::piece_features(piece(41 + i % 12, 0.5 + ((i + 1) % 4) * 0.25, 4)));
  for (int i = 0; i < 8; ++i) {
    mg::io::TimedPiece p;
    for (int k = 0; k < 24; ++k) p.notes.push_back({k * 0.25, 0.25, 100, 80});  // one key, sixteenths
    p.end_beats = 6;
    stuck.push_back(chopin::piece_features(p));
  }
  const auto a = chopin::yang_lerch_overlap(alike, reference), s = chopin::yang_lerch_overlap(stuck, reference);
  double mean_alike = 0, mean_stuck = 0;
  for (int k = 0; k < chopin::kYangLerchFeatures; ++k) {
    mean_alike += a[static_cast<size_t>(k)] / chopin::kYangLerchFeatures;
    mean_stuck += s[static_cast<size_t>(k)] / chopin::kYangLerchFeatures;
  }
  CHECK(mean_alike > 0.5);
  CHECK(mean_stuck < 0.2);
}

TEST_CASE("longest run of one token") {
  CHECK(chopin::longest_repeat({}) == 0);
  CHECK(chopin::longest_repeat({3}) == 1);
  CHECK(chopin::longest_repeat({1, 1, 2, 2, 2, 1}) == 3);
  CHECK(chopin::longest_repeat({5, 5, 5, 5}) == 4);
}
