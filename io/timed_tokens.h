#pragma once
// The timed token representation: a REMI-like stream (Huang & Yang 2020) that
// keeps what the original note/chord tokens drop: when each note starts, how
// long it lasts, how loud it is, the bar it sits in and the tempo.
//
//   Bar_3/4 Tempo_99 Pos_0 Pitch_48 Dur_36 Vel_52 Pitch_67 Dur_12 Vel_76 Pos_12 Pitch_69 Dur_6 Vel_68 ...
//
// Time is counted in twelfths of a quarter note (the grid: sixteenths and
// triplet eighths fall on it exactly).
//  - Bar_n/d starts a bar n/d long (a length of 3..96 twelfths, named by its
//    simplest time signature over 4, 8 or 16: 6/8 is written Bar_3/4).
//  - Tempo_b follows a Bar whose mean tempo (quarter notes per minute over the
//    bar) falls in another bin than the previous bar's: 33 bins, 8 per octave
//    from 16 to 256 bpm.
//  - Pos_k: the notes that follow start k twelfths after the bar line (0..95);
//    one per distinct onset.
//  - Pitch_p Dur_d Vel_v for each note of that onset, lowest pitch first:
//    its MIDI pitch (21..108, the piano's keys; others are moved by octaves
//    into that range), its duration as the nearest of 20 log-spaced values
//    from 1 to 192 twelfths, and its velocity as one of 16 bins of width 8
//    (written as the bin's middle, 4..124).
//
// Bars follow the file's time signatures (4/4 when it has none); a bar longer
// than 96 twelfths is cut into bars of at most 96. A file's tokens hold every
// note that was released (as the seed tokens do), once per onset and pitch
// (the longer of two notes that fall on one grid point and key, then the louder);
// Decoding ends a note where its key is struck again.
#include <cstdint>
#include <string>
#include <vector>

#include "io/midi.h"

namespace mg::io {

inline constexpr int kTimedGrid = 12;           // grid points per quarter note
inline constexpr int kTimedMaxBar = 96;         // longest bar, in grid points
inline constexpr int kTimedLowestPitch = 21;    // A0
inline constexpr int kTimedHighestPitch = 108;  // C8

// The values the tokens can carry.
const std::vector<int>& timed_durations();   // grid points, ascending
const std::vector<int>& timed_tempos();      // bpm, ascending
const std::vector<int>& timed_velocities();  // written velocities, ascending

enum class TimedKind { Bar, Tempo, Pos, Pitch, Dur, Vel };

// One token as (kind, value): Bar: its length in grid points; Tempo: bpm;
// Pos: grid points after the bar line; Pitch: MIDI pitch; Dur: grid points;
// Vel: the written velocity.
struct TimedToken {
  TimedKind kind = TimedKind::Pos;
  int value = 0;
};

// The token's text ("Pitch_60"); the value must be one the representation has.
std::string timed_token_name(const TimedToken& token);
// Parses a token; throws mg::Error for text that is not exactly one of the
// vocabulary's tokens (so "Bar_2/8", whose name is "Bar_1/4", is refused).
TimedToken parse_timed_token(const std::string& text);
bool is_timed_token(const std::string& text);

// Every token the representation can produce, sorted by byte value (285 tokens).
std::vector<std::string> timed_vocabulary();

// The nearest value of a kind that `allowed` holds: linear distance for
// positions, pitches, bar lengths and velocities, ratio for durations and
// tempos; ties go to the smaller value. `allowed` must hold at least one
// token of that kind, else the token is returned unchanged.
TimedToken nearest_timed_token(const TimedToken& token, const std::vector<TimedToken>& allowed);

// Quantisers, shared by the encoder and the tests that check it.
int timed_duration_of(double grid_points);  // nearest duration value (in log)
int timed_tempo_of(double bpm);             // nearest tempo value (in log)
int timed_velocity_of(int velocity);        // the bin's written velocity

struct TimedEncoding {
  std::vector<std::string> tokens;
  int64_t notes = 0;  // the notes the tokens hold
  int64_t bars = 0;
};

// The tokens of one parsed file (see the top of this header), in O(n log n)
// for n notes.
TimedEncoding midi_to_timed_tokens(const MidiFile& midi);

// What a token stream says, in beats (quarter notes) from its first bar line.
struct TimedPiece {
  std::vector<NoteEvent> notes;    // sorted by onset, then pitch; one per onset and key, cut where the key is struck again
  std::vector<TempoMark> tempos;   // a mark wherever a Tempo token stands (120 bpm before any)
  std::vector<MeterMark> meters;   // one per change of bar length (4/4 before any Bar)
  std::vector<double> bar_starts;  // where each Bar token starts its bar
  double end_beats = 0;            // the end of the last bar, or of the last note if later
  // Tokens that were out of place and ignored (a Dur or Vel with no note
  // before it) or note fields that were missing and filled in (a note
  // without Dur lasts a quarter note, one without Vel keeps the last velocity).
  int64_t repaired = 0;
};

// Turns tokens into notes one at a time, so a generator can stop at a time or
// a note count. Any sequence of valid tokens decodes; nothing is lost from a
// well-formed one. Before the first Bar a 4/4 bar starting at 0 is assumed.
class TimedDecoder {
 public:
  void push(const TimedToken& token);
  void push(const std::string& token) { push(parse_timed_token(token)); }
  // Where the stream stands: the onset the next note would have, in beats.
  double now_beats() const;
  // The same in seconds under the tempo marks pushed so far.
  double now_seconds() const;
  // Notes completed so far (a Pitch counts once its note is complete or cut short).
  int64_t notes() const { return static_cast<int64_t>(piece_.notes.size()) + (pending_ ? 1 : 0); }
  int64_t bars() const { return static_cast<int64_t>(piece_.bar_starts.size()); }
  // Finishes a pending note and returns the piece.
  TimedPiece finish();

 private:
  void flush();
  TimedPiece piece_;
  int64_t bar_start_ = 0, bar_length_ = 48, onset_ = 0;  // grid points
  bool in_bar_ = false;       // a Bar token has been seen
  bool bar_used_ = false;     // something happened in the implicit bar before the first Bar
  bool pos_since_bar_ = false;  // a Pos token since the last Bar
  int velocity_ = 64;
  bool pending_ = false;
  NoteEvent note_;
  bool has_duration_ = false;
};

TimedPiece timed_tokens_to_piece(const std::vector<std::string>& tokens);

}  // namespace mg::io
