#pragma once
// A small piano corpus the program composes itself, so training works on a
// machine with no MIDI files. Pieces are in C, G and F major in turn, 4/4: a right
// hand melody (track 0) that walks the scale and lands on chord tones on the
// strong beats, over a left hand (track 1) that plays the piece's chord
// progression as block chords, Alberti-style arpeggios or bass-and-chord.
// The same seed gives the same pieces on every machine (own RNG, no
// std::*_distribution).
//
// Default size: 16 pieces, about 20,000 music21-style tokens with about 40
// distinct tokens, nearly all occurring 100 times or more.
#include <cstdint>
#include <vector>

#include "io/midi.h"

namespace mg::io {

struct BuiltinCorpusOptions {
  int pieces = 16;
  int bars_per_piece = 108;
  int ticks_per_quarter = 480;
  int first_key = 0;  // piece k is in key (first_key + k) mod 3 of C, G, F
};

// The pieces as parsed MIDI files would look (format 1, two named tracks,
// notes with ticks and seconds); midi_to_tokens() and midi_to_note_events()
// accept them directly.
std::vector<MidiFile> builtin_piano_corpus(uint64_t seed, const BuiltinCorpusOptions& options = {});

// Notes of a parsed file in beats, ready for write_midi().
std::vector<NoteEvent> midi_to_note_events(const MidiFile& midi);

}  // namespace mg::io
