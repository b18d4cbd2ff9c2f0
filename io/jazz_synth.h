#pragma once
// A built-in source of short jazz-like clips, so the jazz VAE can train on a
// fresh machine with no data. Each clip is a small swing combo: ride cymbal
// ("ding, ding-da" on the swing pattern) with the hi-hat pedal on 2 and 4, a
// plucked (Karplus-Strong) walking bass that plays chord roots on the changes,
// chord tones in between and chromatic or fifth approach tones into the next
// chord, and piano comping with rootless 7th-chord voicings in the middle
// register, stabbed mostly on the swung offbeats.
//
// Per clip a seeded generator picks the tempo (120-180 BPM), swing ratio, key,
// progression (ii-V-I, I-vi-ii-V, iii-vi-ii-V, minor ii-V-i, ii-V-I-VI7),
// harmonic rhythm, comping density, instrument balance and micro-timing.
// Randomness comes from a local splitmix64 generator, not std distributions
// (whose output differs between standard libraries), so a (seed, index) pair
// gives the same samples on every platform with the same libm. Oscillators
// run as complex rotations, so a 30 s clip takes a few tens of milliseconds.
#include <cstdint>
#include <vector>

#include "io/audio.h"

namespace mg::io {

// `seconds` of mono audio at sample_rate (>= 2000 Hz), peak normalised to a
// level drawn in [0.6, 0.85] (never clipping). Deterministic in (seed, index);
// different indices give different tempo, key, progression and texture.
std::vector<float> synth_jazz_clip(uint64_t seed, int index, double seconds, int sample_rate);

// Clips for indices 0 .. count-1 of one seed, named "builtin-jazz.00000" ...
// (the shape of GTZAN's jazz folder: 30 s clips).
ClipSet builtin_jazz_set(int sample_rate, int count = 16, double seconds = 30.0, uint64_t seed = 1);

}  // namespace mg::io
