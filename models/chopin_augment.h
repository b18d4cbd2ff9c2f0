#pragma once
// Training-data augmentation of timed token windows (io/timed_tokens.h), for
// chopin-lstm train --augment. Each training example (a window and the
// token(s) it predicts, augmented as one) gets its own draws:
//   transpose: every Pitch_p becomes Pitch_{p+s}, s uniform in -5..+6
//              semitones; a draw that would take a pitch of the example out of
//              the piano (21..108) or out of the vocabulary is drawn again, at
//              most kTransposeDraws times, after which s = 0.
//   tempo:     every Tempo_b becomes the vocabulary's Tempo nearest (in log,
//              ties to the slower) to b x f, f uniform in [0.95, 1.05]. The
//              tempo bins are 2^(1/8) apart, so only a stretch beyond about
//              +-4.4 % moves a token, by one bin (roughly one draw in seven).
//   velocity:  every Vel_v moves k bins (k uniform in -1..+1, clamped to the
//              16 bins), to the vocabulary's Vel nearest to that bin (ties to
//              the softer).
// Bars, positions and durations are untouched: every note keeps its onset
// and duration.
//
// Draws are a pure function of (seed, epoch, example index in the training
// set), never of a running generator, so a resumed run repeats them bit for
// bit and they would not depend on how examples are split across ranks:
//   key     = seed ^ kAugmentKeySalt
//   counter = epoch << 44 | example << 8 | slot    (epoch < 2^20, example < 2^36)
//   slot    = try (0..kTransposeDraws-1) for transposition, 16 tempo, 17 velocity
// and a draw is Philox::uniform(key, counter). Each kind has its own slots, so
// turning one on does not change the others' draws.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "io/timed_tokens.h"

namespace mg::nn {

inline constexpr uint64_t kAugmentKeySalt = 0x6175676d656e7421ULL;  // "augment!"
inline constexpr int kTransposeDraws = 8;  // tries, in counter slots 0..7 (the tempo's is 16)
inline constexpr int kTransposeLowest = -5, kTransposeHighest = 6;
inline constexpr double kTempoStretchLowest = 0.95, kTempoStretchHighest = 1.05;
inline constexpr int kVelocityBinShift = 1;  // k in -1..+1 bins

struct AugmentOptions {
  bool transpose = false, tempo = false, velocity = false;
  bool any() const { return transpose || tempo || velocity; }
  // "none", or the kinds on, comma-separated, in the order transpose,tempo,velocity.
  std::string name() const;
  // "none" or a comma-separated list of transpose, tempo and velocity, each
  // at most once, in any order; throws mg::Error saying what is wrong.
  static AugmentOptions parse(const std::string& text);
};

// One example's draws.
struct Augmentation {
  int semitones = 0;
  double tempo_factor = 1.0;
  int velocity_bins = 0;
};

class TimedAugmenter {
 public:
  TimedAugmenter() = default;  // augments nothing
  // vocab: the model's timed tokens (id -> token); throws mg::Error for one that is not a timed token.
  TimedAugmenter(const std::vector<std::string>& vocab, AugmentOptions options, uint64_t seed);
  bool enabled() const { return options_.any(); }
  // The draws for training example `example` (its ids) in epoch `epoch` (from 1).
  Augmentation draw(std::span<const int64_t> ids, int epoch, int64_t example) const;
  // Rewrites the ids in place; the transposition must keep every pitch in the vocabulary.
  void apply(const Augmentation& a, std::span<int64_t> ids) const;
  void augment(std::span<int64_t> ids, int epoch, int64_t example) const { apply(draw(ids, epoch, example), ids); }

 private:
  double uniform(int epoch, int64_t example, int slot) const;
  int64_t id_of(const io::TimedToken& token) const;  // -1: not in the vocabulary
  bool transposable(std::span<const int64_t> ids, int semitones) const;

  AugmentOptions options_;
  uint64_t key_ = 0;
  std::vector<io::TimedToken> tokens_;                    // by id
  std::map<std::pair<io::TimedKind, int>, int64_t> ids_;  // (kind, value) -> id, ascending value within a kind
};

}  // namespace mg::nn
