#include "models/chopin_augment.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tensor/error.h"
#include "tensor/rng.h"

namespace mg::nn {

std::string AugmentOptions::name() const {
  std::string out;
  for (const auto& [on, kind] : {std::pair{transpose, "transpose"}, {tempo, "tempo"}, {velocity, "velocity"}})
    if (on) {
      if (!out.empty()) out += ',';
      out += kind;
    }
  return out.empty() ? "none" : out;
}

AugmentOptions AugmentOptions::parse(const std::string& text) {
  AugmentOptions o;
  if (text == "none") return o;
  std::istringstream in(text);
  for (std::string kind; std::getline(in, kind, ',');) {
    bool* on = kind == "transpose" ? &o.transpose : kind == "tempo" ? &o.tempo : kind == "velocity" ? &o.velocity : nullptr;
    if (!on) throw Error(fmt::format("'{}' is not one of transpose, tempo, velocity (or none on its own)", kind));
    if (*on) throw Error(fmt::format("'{}' is given twice", kind));
    *on = true;
  }
  if (!o.any() || text.back() == ',') throw Error("expected none or a comma-separated list of transpose, tempo, velocity");
  return o;
}

TimedAugmenter::TimedAugmenter(const std::vector<std::string>& vocab, AugmentOptions options, uint64_t seed)
    : options_(options), key_(seed ^ kAugmentKeySalt) {
  for (size_t id = 0; id < vocab.size(); ++id) {
    const io::TimedToken t = io::parse_timed_token(vocab[id]);
    tokens_.push_back(t);
    ids_[{t.kind, t.value}] = static_cast<int64_t>(id);
  }
}

double TimedAugmenter::uniform(int epoch, int64_t example, int slot) const {
  const uint64_t counter =
      static_cast<uint64_t>(epoch) << 44 | static_cast<uint64_t>(example) << 8 | static_cast<uint64_t>(slot);
  return Philox::uniform(key_, counter);
}

int64_t TimedAugmenter::id_of(const io::TimedToken& token) const {
  const auto it = ids_.find({token.kind, token.value});
  return it == ids_.end() ? -1 : it->second;
}

bool TimedAugmenter::transposable(std::span<const int64_t> ids, int semitones) const {
  for (const int64_t id : ids) {
    const io::TimedToken& t = tokens_[static_cast<size_t>(id)];
    if (t.kind != io::TimedKind::Pitch) continue;
    const int p = t.value + semitones;
    if (p < io::kTimedLowestPitch || p > io::kTimedHighestPitch || id_of({io::TimedKind::Pitch, p}) < 0) return false;
  }
  return true;
}

Augmentation TimedAugmenter::draw(std::span<const int64_t> ids, int epoch, int64_t example) const {
  MG_CHECK(epoch >= 1 && epoch < (1 << 20) && example >= 0 && example < (int64_t{1} << 36),
           "augmentation: epoch {} or example {} out of the counter's range", epoch, example);
  Augmentation a;
  if (options_.transpose) {
    constexpr int kChoices = kTransposeHighest - kTransposeLowest + 1;
    for (int attempt = 0; attempt < kTransposeDraws; ++attempt) {
      const int s = kTransposeLowest + static_cast<int>(uniform(epoch, example, attempt) * kChoices);
      if (transposable(ids, s)) {
        a.semitones = s;
        break;
      }
    }
  }
  if (options_.tempo)
    a.tempo_factor = kTempoStretchLowest + (kTempoStretchHighest - kTempoStretchLowest) * uniform(epoch, example, 16);
  if (options_.velocity)
    a.velocity_bins = -kVelocityBinShift + static_cast<int>(uniform(epoch, example, 17) * (2 * kVelocityBinShift + 1));
  return a;
}

void TimedAugmenter::apply(const Augmentation& a, std::span<int64_t> ids) const {
  const std::vector<int>& velocities = io::timed_velocities();
  for (int64_t& id : ids) {
    const io::TimedToken t = tokens_[static_cast<size_t>(id)];
    io::TimedToken to = t;
    if (t.kind == io::TimedKind::Pitch && a.semitones != 0) {
      to.value = t.value + a.semitones;
    } else if (t.kind == io::TimedKind::Tempo && a.tempo_factor != 1.0) {
      // The vocabulary's tempo nearest in log to the stretched one, ties to the slower (as
      // io::nearest_timed_token, which takes whole bpm only).
      const double target = t.value * a.tempo_factor;
      double best = INFINITY;
      for (const auto& [key, v_id] : ids_)
        if (key.first == io::TimedKind::Tempo && std::abs(std::log(target / key.second)) < best) {
          best = std::abs(std::log(target / key.second));
          to.value = key.second;
        }
    } else if (t.kind == io::TimedKind::Vel && a.velocity_bins != 0) {
      const int bin = static_cast<int>(std::lower_bound(velocities.begin(), velocities.end(), t.value) - velocities.begin());
      const int moved = velocities[static_cast<size_t>(std::clamp(bin + a.velocity_bins, 0, int(velocities.size()) - 1))];
      to = io::nearest_timed_token({io::TimedKind::Vel, moved}, tokens_);  // ties to the softer
    }
    if (to.value == t.value) continue;
    id = id_of(to);
    MG_CHECK(id >= 0, "augmentation: {} is not in the vocabulary", io::timed_token_name(to));
  }
}

}  // namespace mg::nn
