#pragma once
// Objective measures of generated music against a reference set (Yang &
// Lerch 2018, "On the evaluation of generative models in music").
//
// Each piece gives six features:
//   pitch-class histogram  12 shares of notes per pitch class C..B
//   pitch range            highest minus lowest MIDI pitch
//   notes per bar          mean notes starting in a bar
//   inter-onset intervals  histogram of the gaps between successive distinct
//                          onsets over the timed duration values (20 bins,
//                          nearest in log)
//   note lengths           histogram of durations over the same bins
//   polyphony              mean notes starting at an onset
// For a feature, the distance between two pieces is the Euclidean distance
// of their values. With R the reference pieces and G the generated ones:
//   intra = { d(r_i, r_j) : i < j }, inter = { d(g, r) : g in G, r in R };
// each set becomes a density by a Gaussian kernel estimate (Silverman's
// bandwidth 0.9 min(sd, IQR / 1.34) n^(-1/5)) and
//   overlap = integral of min(p_intra(x), p_inter(x)) dx,
// 1 when the generated pieces sit among the reference pieces as those sit
// among themselves, 0 when they are nothing alike.
#include <array>
#include <string>
#include <vector>

#include "io/timed_tokens.h"

namespace chopin {

inline constexpr int kYangLerchFeatures = 6;

struct PieceFeatures {
  std::array<std::vector<double>, kYangLerchFeatures> values;
};

const std::array<const char*, kYangLerchFeatures>& feature_names();

// The features of a decoded piece (notes in beats, bar starts).
PieceFeatures piece_features(const mg::io::TimedPiece& piece);

// Overlap of the inter-set distance density with the reference's intra-set density, per feature.
std::array<double, kYangLerchFeatures> yang_lerch_overlap(const std::vector<PieceFeatures>& generated,
                                                          const std::vector<PieceFeatures>& reference);

// Overlap area of two samples' Gaussian kernel densities.
double kde_overlap(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace chopin
