#pragma once
// The grammar of the timed token stream (io/timed_tokens.h), exactly as
// midi_to_timed_tokens writes it:
//
//   stream := bar*
//   bar    := Bar_L [Tempo_b] onset*      Tempo: always in the first bar, later only when it changes
//   onset  := Pos_k note+                 k rises within the bar, 0 <= k < L
//   note   := Pitch_p Dur_d Vel_v         p rises within the onset (lowest pitch first)
//
// so after a Bar come a Tempo, a Pos or the next Bar; after a Tempo a Pos or a
// Bar; after a Pos a Pitch; after a Pitch its Dur; after a Dur its Vel; after
// a Vel the next Pitch of the onset, a later Pos, or a Bar.
//
// A generator asks allows() of every token it could draw and advance()s over
// the one it takes, so everything it writes decodes to whole notes. A window
// cut from inside a stream (a primer) starts from mid_stream(): what came
// before it is unknown, so every token is allowed until the window's own
// tokens say otherwise (the bar's length once a Bar is seen, the last Pos and
// Pitch once seen).
#include "io/timed_tokens.h"

namespace mg::io {

class TimedGrammar {
 public:
  // At the start of a stream: a Bar comes first, and the first bar names its tempo.
  static TimedGrammar at_start();
  // Inside a stream, with nothing known of what came before.
  static TimedGrammar mid_stream();

  // Whether `token` may come next.
  bool allows(const TimedToken& token) const;
  // Moves past `token`, allowed or not (a primer's tokens, mapped into a
  // model's vocabulary, need not follow the grammar exactly).
  void advance(const TimedToken& token);
  // Inside a note: after its Pitch, before its Vel.
  bool inside_note() const { return last_ == Last::Pitch || last_ == Last::Dur; }

 private:
  enum class Last { Nothing, Unknown, Bar, Tempo, Pos, Pitch, Dur, Vel };
  static constexpr int kUnknown = -1;
  Last last_ = Last::Nothing;
  int bar_length_ = kUnknown;  // grid points
  int pos_ = kUnknown;         // the bar's last Pos (kUnknown: none yet, or unknown)
  int pitch_ = kUnknown;       // the onset's last Pitch
  int tempo_ = kUnknown;       // the tempo in force; 0 at the start of a stream (none yet)
};

}  // namespace mg::io
