#include "io/jazz_synth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <numbers>

#include <fmt/format.h>

#include "tensor/error.h"

namespace mg::io {
namespace {

// splitmix64: tiny, fast, and defined bit for bit, so clips are the same on
// every platform (std distributions are not).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  double range(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return int(uniform() * n); }
  bool chance(double p) { return uniform() < p; }
  double noise() { return 2.0 * uniform() - 1.0; }

 private:
  uint64_t state_;
};

enum class Quality { major7, minor7, dominant7, half_diminished };

struct Chord {
  int root;  // semitones above the key
  Quality quality;
};

using Progression = std::array<Chord, 4>;

// One chord per bar (or per half bar), in a major or minor key.
constexpr std::array<Progression, 5> kProgressions{{
    {{{2, Quality::minor7}, {7, Quality::dominant7}, {0, Quality::major7}, {0, Quality::major7}}},            // ii-V-I
    {{{0, Quality::major7}, {9, Quality::minor7}, {2, Quality::minor7}, {7, Quality::dominant7}}},            // I-vi-ii-V
    {{{4, Quality::minor7}, {9, Quality::dominant7}, {2, Quality::minor7}, {7, Quality::dominant7}}},         // iii-VI-ii-V
    {{{2, Quality::half_diminished}, {7, Quality::dominant7}, {0, Quality::minor7}, {0, Quality::minor7}}},  // minor ii-V-i
    {{{2, Quality::minor7}, {7, Quality::dominant7}, {0, Quality::major7}, {9, Quality::dominant7}}},         // ii-V-I-VI7
}};

// Root, third, fifth, seventh above the root: what the bass outlines.
std::array<int, 4> chord_tones(Quality q) {
  switch (q) {
    case Quality::major7: return {0, 4, 7, 11};
    case Quality::minor7: return {0, 3, 7, 10};
    case Quality::dominant7: return {0, 4, 7, 10};
    case Quality::half_diminished: return {0, 3, 6, 10};
  }
  return {0, 4, 7, 10};
}

// Rootless piano voicings (the bass has the root): 3rd, 5th or 13th, 7th, 9th or 11th.
std::array<int, 4> rootless_voicing(Quality q) {
  switch (q) {
    case Quality::major7: return {4, 7, 11, 14};
    case Quality::minor7: return {3, 7, 10, 14};
    case Quality::dominant7: return {4, 9, 10, 14};
    case Quality::half_diminished: return {3, 6, 10, 17};
  }
  return {4, 9, 10, 14};
}

int pitch_class(int p) { return ((p % 12) + 12) % 12; }

// The MIDI pitch of class pc nearest to `target` within [lo, hi] (hi - lo >= 12).
int place_near(int pc, int target, int lo, int hi) {
  int best = lo + pitch_class(pc - lo);
  for (int p = best; p <= hi; p += 12) {
    if (std::abs(p - target) < std::abs(best - target)) best = p;
  }
  return best;
}

double midi_hz(int pitch) { return 440.0 * std::pow(2.0, (pitch - 69) / 12.0); }

// Everything that makes one clip differ from another.
struct Style {
  double bpm, swing;  // swing: where the offbeat eighth falls, as a fraction of the beat
  int key;
  const Progression* progression;
  int beats_per_chord;
  double comp_on_beat, comp_off_beat;  // chance of a piano stab on each beat / swung offbeat
  int comp_center;                     // MIDI pitch the voicings gather around
  double ride_decay, ride_ping_hz, piano_decay, bass_decay;
  double bass_level, piano_level, ride_level, hat_level;
  double jitter;  // timing looseness in seconds
  double peak;    // final peak level

  explicit Style(Random& r)
      : bpm(r.range(120, 180)), swing(r.range(0.58, 0.70)), key(r.below(12)),
        progression(&kProgressions[r.below(int(kProgressions.size()))]), beats_per_chord(r.chance(0.3) ? 2 : 4),
        comp_on_beat(r.range(0.05, 0.3)), comp_off_beat(r.range(0.25, 0.6)), comp_center(56 + r.below(6)),
        ride_decay(r.range(0.25, 0.6)), ride_ping_hz(r.range(450, 700)), piano_decay(r.range(0.4, 0.9)),
        bass_decay(r.range(0.6, 1.2)), bass_level(r.range(0.4, 0.6)), piano_level(r.range(0.1, 0.2)),
        ride_level(r.range(0.08, 0.15)), hat_level(r.range(0.06, 0.12)), jitter(r.range(0.002, 0.008)),
        peak(r.range(0.6, 0.85)) {}
};

// Adds `length` samples of a signal starting at time `start` (seconds),
// clipped to the buffer; the generator receives the sample index within the event.
template <typename Generator>
void add_event(std::vector<float>& out, int rate, double start, double seconds, Generator&& sample) {
  auto s0 = static_cast<int64_t>(std::llround(std::max(0.0, start) * rate));
  auto n = static_cast<int64_t>(seconds * rate);
  n = std::min<int64_t>(n, int64_t(out.size()) - s0);
  for (int64_t i = 0; i < n; ++i) out[size_t(s0 + i)] += float(sample(i));
}

// A bank of decaying sine partials run by complex rotation (no sin() per sample).
struct Partial {
  std::complex<double> phase, step;
  double amp, decay_per_sample;
};

Partial make_partial(double hz, double amp, double decay_s, int rate) {
  double w = 2.0 * std::numbers::pi * hz / rate;
  return {{0.0, 1.0}, std::polar(1.0, w), amp, std::exp(-1.0 / (decay_s * rate))};
}

double step_partials(std::vector<Partial>& partials) {
  double v = 0.0;
  for (Partial& p : partials) {
    v += p.amp * p.phase.real();
    p.phase *= p.step;
    p.amp *= p.decay_per_sample;
  }
  return v;
}

// One-pole high-pass; keeps the hiss of a cymbal and drops its rumble.
struct HighPass {
  double a, x1 = 0.0, y1 = 0.0;
  HighPass(double hz, int rate) : a(std::exp(-2.0 * std::numbers::pi * hz / rate)) {}
  double operator()(double x) {
    y1 = a * (y1 + x - x1);
    x1 = x;
    return y1;
  }
};

// Ride: high-passed noise plus a few inharmonic "ping" partials, decaying.
void add_ride(std::vector<float>& out, int rate, double start, double gain, const Style& s, Random& r) {
  HighPass hp(std::min(4000.0, 0.3 * rate), rate);
  std::vector<Partial> ping;
  for (auto [ratio, amp] : {std::pair{1.0, 0.25}, {2.76, 0.2}, {5.40, 0.15}, {8.93, 0.1}}) {
    double hz = s.ride_ping_hz * ratio;
    if (hz < 0.45 * rate) ping.push_back(make_partial(hz, amp, 0.7 * s.ride_decay, rate));
  }
  double env = 1.0, fall = std::exp(-1.0 / (s.ride_decay * rate));
  add_event(out, rate, start, std::min(2.0, 5.0 * s.ride_decay), [&](int64_t) {
    double v = gain * env * (0.6 * hp(r.noise()) + step_partials(ping));
    env *= fall;
    return v;
  });
}

// Hi-hat pedal "chick": a short burst of bright noise.
void add_hat(std::vector<float>& out, int rate, double start, double gain, Random& r) {
  HighPass hp(std::min(6000.0, 0.35 * rate), rate);
  double env = 1.0, fall = std::exp(-1.0 / (0.03 * rate));
  add_event(out, rate, start, 0.15, [&](int64_t) {
    double v = gain * env * hp(r.noise());
    env *= fall;
    return v;
  });
}

// Karplus-Strong plucked string: a delay line of one period filled with
// smoothed noise, fed back through a two-point average (which darkens the
// tone as it decays) with a loss that gives about the same decay time at any
// pitch. The note is damped over 40 ms at its end, like a bassist lifting a finger.
void add_bass(std::vector<float>& out, int rate, double start, double seconds, int pitch, double gain,
              const Style& s, Random& r) {
  double hz = midi_hz(pitch);
  auto period = static_cast<size_t>(std::max<long>(2, std::lround(rate / hz)));
  std::vector<double> line(period);
  for (double& v : line) v = r.noise();
  for (int pass = 0; pass < 2; ++pass) {  // a soft pluck: fewer high harmonics at the start
    double prev = line.back();
    for (double& v : line) prev = v = 0.5 * (v + prev);
  }
  double mean = 0.0;
  for (double v : line) mean += v;
  mean /= double(period);
  for (double& v : line) v -= mean;  // no DC thump

  double loss = std::exp(-1.0 / (s.bass_decay * hz));
  auto held = static_cast<int64_t>(seconds * rate);
  double damp = 1.0, damp_fall = std::exp(-1.0 / (0.04 * rate));
  size_t i = 0;
  add_event(out, rate, start, seconds + 0.2, [&](int64_t n) {
    double y = line[i];
    size_t j = i + 1 == period ? 0 : i + 1;
    line[i] = loss * 0.5 * (line[i] + line[j]);
    i = j;
    if (n >= held) damp *= damp_fall;
    return gain * damp * y;
  });
}

// Piano-like tone: slightly inharmonic partials, the higher ones dying faster.
void add_piano(std::vector<float>& out, int rate, double start, double seconds, int pitch, double gain,
               const Style& s) {
  double hz = midi_hz(pitch);
  std::vector<Partial> partials;
  for (int h = 1; h <= 8; ++h) {
    double f = h * hz * std::sqrt(1.0 + 3e-4 * h * h);
    if (f >= 0.45 * rate) break;
    partials.push_back(make_partial(f, 1.0 / std::pow(h, 1.2), s.piano_decay / (1.0 + 0.5 * (h - 1)), rate));
  }
  auto attack = static_cast<int64_t>(0.002 * rate) + 1, held = static_cast<int64_t>(seconds * rate);
  double release = 1.0, release_fall = std::exp(-1.0 / (0.05 * rate));
  add_event(out, rate, start, seconds + 0.3, [&](int64_t n) {
    if (n >= held) release *= release_fall;
    double a = n < attack ? double(n) / attack : 1.0;
    return gain * a * release * step_partials(partials);
  });
}

}  // namespace

std::vector<float> synth_jazz_clip(uint64_t seed, int index, double seconds, int sample_rate) {
  if (!(seconds > 0.0 && seconds <= 3600.0)) fail("synth_jazz_clip: length must be in (0, 3600] s, got {}", seconds);
  if (sample_rate < 2000 || sample_rate > 192000) {
    fail("synth_jazz_clip: sample rate must be in [2000, 192000] Hz, got {}", sample_rate);
  }
  Random rng(Random(Random(seed).next() ^ uint64_t(index)).next());
  const Style s(rng);
  const int rate = sample_rate;
  std::vector<float> out(static_cast<size_t>(std::llround(seconds * rate)), 0.0f);

  const double beat = 60.0 / s.bpm;
  const int beats = int(seconds / beat) + 2;
  auto at = [&](int b, bool offbeat) { return (b + (offbeat ? s.swing : 0.0)) * beat + rng.range(-s.jitter, s.jitter); };
  auto chord_at = [&](int b) { return (*s.progression)[size_t(b / s.beats_per_chord) % 4]; };

  // Drums: ride on every beat with the swung skip note on 2 and 4
  // ("ding, ding-da, ding, ding-da"), hi-hat pedal on 2 and 4.
  for (int b = 0; b < beats; ++b) {
    bool backbeat = b % 2 == 1;
    add_ride(out, rate, at(b, false), s.ride_level * rng.range(0.8, 1.0) * (backbeat ? 1.0 : 0.85), s, rng);
    if (backbeat || rng.chance(0.1)) add_ride(out, rate, at(b, true), s.ride_level * rng.range(0.45, 0.65), s, rng);
    if (backbeat) add_hat(out, rate, at(b, false), s.hat_level * rng.range(0.8, 1.0), rng);
  }

  // Walking bass: the root when the chord changes, chord tones or scale steps
  // in between, and on the last beat of a chord an approach tone into the
  // next root (a semitone below or above, or its fifth).
  int bass = place_near(s.key + chord_at(0).root, 36, 28, 50);
  for (int b = 0; b < beats; ++b) {
    const Chord chord = chord_at(b), next = chord_at(b + s.beats_per_chord - b % s.beats_per_chord);
    const int pos = b % s.beats_per_chord, root = s.key + chord.root, next_root = s.key + next.root;
    int pc;
    if (pos == 0) {
      pc = root;
    } else if (pos == s.beats_per_chord - 1) {
      double u = rng.uniform();
      pc = u < 0.45 ? next_root - 1 : u < 0.8 ? next_root + 1 : next_root + 7;
    } else if (rng.chance(0.25)) {
      pc = bass + (rng.chance(0.5) ? 2 : -2);
    } else {
      pc = root + chord_tones(chord.quality)[size_t(1 + rng.below(3))];
    }
    bass = place_near(pc, bass, 28, 50);
    add_bass(out, rate, at(b, false), beat * rng.range(0.85, 0.98), bass, s.bass_level * rng.range(0.85, 1.0), s, rng);
  }

  // Comping: short stabs, mostly on the swung offbeats; an offbeat stab at the
  // end of a chord often anticipates the next chord.
  for (int b = 0; b < beats; ++b) {
    for (bool offbeat : {false, true}) {
      if (!rng.chance(offbeat ? s.comp_off_beat : s.comp_on_beat)) continue;
      bool anticipate = offbeat && b % s.beats_per_chord == s.beats_per_chord - 1 && rng.chance(0.5);
      const Chord chord = chord_at(anticipate ? b + 1 : b);
      const std::array<int, 4> voicing = rootless_voicing(chord.quality);
      double start = at(b, offbeat), length = beat * rng.range(0.3, 0.8);
      int note = place_near(s.key + chord.root + voicing[0], s.comp_center, 50, 64);
      for (size_t v = 0; v < voicing.size(); ++v) {
        if (v > 0) note += pitch_class(voicing[v] - voicing[v - 1] - 1) + 1;  // next chord tone above
        double roll = 0.004 * double(v) * rng.uniform();  // hands never strike exactly together
        add_piano(out, rate, start + roll, length, note, s.piano_level * rng.range(0.7, 1.0), s);
      }
    }
  }

  float top = peak(out);
  if (top > 0.0f) {
    float scale = float(s.peak) / top;
    for (float& v : out) v *= scale;
  }
  return out;
}

ClipSet builtin_jazz_set(int sample_rate, int count, double seconds, uint64_t seed) {
  if (count <= 0) fail("builtin_jazz_set: count must be positive, got {}", count);
  ClipSet set;
  for (int i = 0; i < count; ++i) {
    set.names.push_back(fmt::format("builtin-jazz.{:05}", i));
    set.clips.push_back(synth_jazz_clip(seed, i, seconds, sample_rate));
  }
  return set;
}

}  // namespace mg::io
