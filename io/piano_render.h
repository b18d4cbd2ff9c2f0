#pragma once
// Notes -> 44.1 kHz mono float audio, offline (no audio driver, no files).
// With Debian's General MIDI soundfont (fluid-soundfont-gm) installed, the
// notes are played by libfluidsynth; otherwise a small built-in additive
// piano (decaying harmonics, attack/release envelope) stands in, so audio
// can always be made.
#include <string>
#include <vector>

#include "io/midi.h"

namespace mg::io {

inline constexpr int kPianoSampleRate = 44100;
// Every rendering is scaled so that its peak sample is at -1 dBFS (0.891).
inline constexpr double kPianoPeakDbfs = -1.0;

enum class PianoEngine { Auto, FluidSynth, Builtin };

struct PianoRenderOptions {
  double tempo_bpm = 120;      // converts NoteEvent beats to seconds
  double tail_seconds = 1.0;   // silence after the last release, for the decay
  int program = 0;             // General MIDI program (FluidSynth only); 0 = acoustic grand
  PianoEngine engine = PianoEngine::Auto;
  // Empty: /usr/share/sounds/sf2/FluidR3_GM.sf2, then default-GM.sf2.
  std::string soundfont;
};

// The soundfont Auto would use, or "" when none is installed.
std::string find_gm_soundfont();

// Renders the notes; the result is peak-normalised to kPianoPeakDbfs, so
// pieces are equally loud and can be written as 16-bit PCM without clipping. Throws
// mg::Error when FluidSynth is requested explicitly and cannot load the
// soundfont (the message names it).
std::vector<float> render_piano(const std::vector<NoteEvent>& notes, const PianoRenderOptions& options = {});

// The built-in additive synth alone (what Auto falls back to).
std::vector<float> render_piano_builtin(const std::vector<NoteEvent>& notes, double tempo_bpm, double tail_seconds);

}  // namespace mg::io
