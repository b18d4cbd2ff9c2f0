#include "io/timed_grammar.h"

namespace mg::io {

TimedGrammar TimedGrammar::at_start() {
  TimedGrammar g;
  g.tempo_ = 0;
  return g;
}

TimedGrammar TimedGrammar::mid_stream() {
  TimedGrammar g;
  g.last_ = Last::Unknown;
  return g;
}

bool TimedGrammar::allows(const TimedToken& t) const {
  const bool pos_fits = (pos_ == kUnknown || t.value > pos_) && (bar_length_ == kUnknown || t.value < bar_length_);
  switch (last_) {
    case Last::Nothing: return t.kind == TimedKind::Bar;
    case Last::Unknown: return true;
    case Last::Bar:
      if (tempo_ == 0) return t.kind == TimedKind::Tempo;  // the stream's first bar
      return (t.kind == TimedKind::Tempo && t.value != tempo_) || (t.kind == TimedKind::Pos && pos_fits) ||
             t.kind == TimedKind::Bar;
    case Last::Tempo: return (t.kind == TimedKind::Pos && pos_fits) || t.kind == TimedKind::Bar;
    case Last::Pos: return t.kind == TimedKind::Pitch;
    case Last::Pitch: return t.kind == TimedKind::Dur;
    case Last::Dur: return t.kind == TimedKind::Vel;
    case Last::Vel:
      return (t.kind == TimedKind::Pitch && (pitch_ == kUnknown || t.value > pitch_)) ||
             (t.kind == TimedKind::Pos && pos_fits) || t.kind == TimedKind::Bar;
  }
  return false;
}

void TimedGrammar::advance(const TimedToken& t) {
  switch (t.kind) {
    case TimedKind::Bar:
      last_ = Last::Bar;
      bar_length_ = t.value;
      pos_ = pitch_ = kUnknown;
      break;
    case TimedKind::Tempo:
      last_ = Last::Tempo;
      tempo_ = t.value;
      break;
    case TimedKind::Pos:
      last_ = Last::Pos;
      pos_ = t.value;
      pitch_ = kUnknown;
      break;
    case TimedKind::Pitch:
      last_ = Last::Pitch;
      pitch_ = t.value;
      break;
    case TimedKind::Dur: last_ = Last::Dur; break;
    case TimedKind::Vel: last_ = Last::Vel; break;
  }
}

}  // namespace mg::io
