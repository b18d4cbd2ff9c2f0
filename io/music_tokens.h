#pragma once
// MIDI notes <-> the note/chord tokens of the original music21 notebook.
//
// A token is either one pitch with its octave in music21's spelling ("C4",
// "G#2", "B-4": sharps except E- and B-, flats written '-'), or a chord: its
// pitch classes in music21's normal order joined by dots ("5.8.10"). Rests,
// durations and velocities are not part of the vocabulary.
//
// How notes become tokens: music21 6.7's MIDI import (converter.parse, then
// instrument.partitionByInstrument), which this reproduces token for token on
// the 48-file Chopin set (63,628 tokens, 317 distinct; the notebook's own
// run reported 63,429 and 317). music21 7+ groups chords with a wider window
// and gives fewer tokens (57,875 / 396).
//  - "Part": each MIDI track is grouped on its own; notes never form a chord
//    across tracks.
//  - "Together": within a track, notes are visited in note-on order. A note
//    that is not yet in a chord collects every later note whose onset is
//    within ticks_per_quarter / 16 of its own (inclusive) AND whose release is
//    within the same distance of its own release; a note that starts inside
//    the window but ends elsewhere is left for a later group (music21 puts it
//    in another voice). The scan stops at the first note past the window.
//    (SMPTE files count a quarter as 0.5 s.)
//    Two or more notes make a chord token, even when they share one pitch
//    class (an octave C3+C4 is the chord "0"); a lone note makes a note token.
//  - Order: the groups of all tracks are merged as one piano part and
//    ordered by onset quantised to the nearest 1/4 or 1/3 of a quarter
//    note (music21's default quarterLengthDivisors (4, 3)), zero-length
//    groups first (a chord's length being its first note's release minus its
//    last note's onset, as music21 computes it), then by track, then by
//    note-on order.
//  - Notes still sounding at the end of their track are dropped, as music21
//    drops note-ons that have no note-off.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/midi.h"

namespace mg::io {

// music21's name of a MIDI pitch: 60 -> "C4", 70 -> "B-4", 0 -> "C-1".
std::string pitch_name(int midi_pitch);

// Parses a note token back to its MIDI pitch; throws mg::Error if `token` is
// not a pitch name. A '-' after E or B is a flat, so "B-1" is B-flat 1 (the
// natural B of octave -1, MIDI 11, is below any piano and cannot be read back).
int parse_pitch_name(const std::string& token);

// The normal order of a set of pitch classes exactly as music21's
// Chord.normalOrder gives it: the rotation with the smallest span, ties broken
// by Forte's rule (smallest interval from the first element to the second,
// then to the third, ...), except that for the inverted member of a set class
// music21 uses the mirror image of the Forte prime form; among equally good
// rotations of a symmetric set the one starting on the lowest pitch class.
// Input may be unsorted, repeated or outside 0..11 (taken mod 12).
std::vector<int> normal_order(const std::vector<int>& pitch_classes);

// The chord token for a set of MIDI pitches: normal order joined by dots.
std::string chord_token(const std::vector<int>& pitches);

// True for chord tokens ("5.8.10", "0"), false for note tokens ("C4").
bool is_chord_token(const std::string& token);

// The tokens of one parsed file, following the rules at the top of this header,
// in O(n log n) time for n notes and memory proportional to n.
std::vector<std::string> midi_to_tokens(const MidiFile& midi);

struct FolderTokens {
  std::vector<std::string> tokens;      // all files' tokens, file after file
  std::vector<std::string> files_read;  // file names (no folder) in the order read
  std::vector<size_t> file_starts;      // where each file's tokens start in `tokens`
  int files_skipped = 0;
};

// A file's tokens in some representation (midi_to_tokens by default).
using MidiTokenizer = std::function<std::vector<std::string>(const MidiFile&)>;

// Most tokens tokenize_midi_folder gathers (80 times the 48 Chopin files'
// 63,628); a folder with more is an error naming it.
inline constexpr size_t kMaxFolderTokens = 5'000'000;

// The *.mid / *.midi regular files (or links to one) of `folder`, not
// recursive, sorted by path: the files tokenize_midi_folder reads, in its
// order. Throws mg::Error if the folder does not exist or holds no MIDI file.
std::vector<std::filesystem::path> list_midi_files(const std::string& folder);

// Tokenizes every *.mid / *.midi file of `folder` (not recursive) with
// `tokenize` (empty: midi_to_tokens) in sorted
// file-name order. A file that cannot be read or parsed is skipped and
// reported through on_skip(file name, error message); the caller decides how
// to warn. Throws mg::Error if the folder does not exist, holds no MIDI file
// or more than kMaxFolderTokens tokens.
FolderTokens tokenize_midi_folder(const std::string& folder,
                                  const std::function<void(const std::string& file, const std::string& error)>& on_skip,
                                  const MidiTokenizer& tokenize = {});

// One token -> its notes at start_beats: one pitch, or one chord of the
// token's pitch classes in octave 4 (MIDI 60 + pc). Throws mg::Error for a
// token that is neither.
std::vector<NoteEvent> token_to_notes(const std::string& token, double start_beats, double duration_beats = 1.0,
                                      int velocity = 90);

// Tokens -> notes for the writer: token i starts at i * step_beats. A note
// token is one pitch; a chord token is all its pitch classes in octave 4
// (MIDI 60 + pc) as ONE chord at that onset. Throws mg::Error for a token
// that is neither.
std::vector<NoteEvent> tokens_to_notes(const std::vector<std::string>& tokens, double step_beats = 1.0,
                                       double duration_beats = 1.0, int velocity = 90);

// How often each token occurs.
std::map<std::string, int64_t> count_tokens(const std::vector<std::string>& tokens);

// The tokens whose total count is at least min_count, in their original order.
std::vector<std::string> filter_rare_tokens(const std::vector<std::string>& tokens, int64_t min_count);

// The distinct tokens, sorted by byte value (Python's sorted(set(tokens))).
std::vector<std::string> build_vocabulary(const std::vector<std::string>& tokens);

}  // namespace mg::io
