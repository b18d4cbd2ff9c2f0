#include "io/piano_render.h"

#include <fluidsynth.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "tensor/error.h"

namespace mg::io {

namespace {

struct TimedEvent {
  size_t frame;
  bool on;
  int pitch;
  int velocity;
};

size_t to_frame(double beats, double tempo_bpm) {
  return size_t(std::llround(std::max(0.0, beats) * 60.0 / tempo_bpm * kPianoSampleRate));
}

size_t end_frame(const std::vector<NoteEvent>& notes, double tempo_bpm, double tail_seconds) {
  size_t last = 0;
  for (const NoteEvent& n : notes) last = std::max(last, to_frame(n.start_beats + n.duration_beats, tempo_bpm));
  return last + size_t(std::max(0.0, tail_seconds) * kPianoSampleRate);
}

// Scales the audio so its peak sits at kPianoPeakDbfs: every rendering is
// about as loud as any other (a quiet piece is raised, a loud one lowered)
// and 16-bit PCM never clips. Silence stays silence.
void normalise(std::vector<float>& x) {
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::abs(v));
  if (peak > 0) {
    const float g = static_cast<float>(std::pow(10.0, kPianoPeakDbfs / 20.0)) / peak;
    for (float& v : x) v *= g;
  }
}

void check_options(const std::vector<NoteEvent>& notes, double tempo_bpm) {
  if (!(tempo_bpm > 0) || !std::isfinite(tempo_bpm)) fail("piano render: tempo {} bpm is not positive", tempo_bpm);
  for (const NoteEvent& n : notes) {
    if (n.pitch < 0 || n.pitch > 127) fail("piano render: pitch {} outside 0..127", n.pitch);
  }
}

std::vector<float> render_fluidsynth(const std::vector<NoteEvent>& notes, const PianoRenderOptions& o,
                                     const std::string& soundfont) {
  // Library messages would go to stderr; failures are reported as mg::Error instead.
  for (int level : {FLUID_PANIC, FLUID_ERR, FLUID_WARN, FLUID_INFO, FLUID_DBG}) fluid_set_log_function(level, nullptr, nullptr);
  std::unique_ptr<fluid_settings_t, decltype(&delete_fluid_settings)> settings(new_fluid_settings(), delete_fluid_settings);
  if (!settings) fail("piano render: FluidSynth could not start");
  fluid_settings_setnum(settings.get(), "synth.sample-rate", kPianoSampleRate);
  fluid_settings_setint(settings.get(), "synth.reverb.active", 1);
  fluid_settings_setint(settings.get(), "synth.chorus.active", 0);
  std::unique_ptr<fluid_synth_t, decltype(&delete_fluid_synth)> synth(new_fluid_synth(settings.get()), delete_fluid_synth);
  if (!synth) fail("piano render: FluidSynth could not start");
  if (fluid_synth_sfload(synth.get(), soundfont.c_str(), 1) == FLUID_FAILED) {
    fail("{}: FluidSynth cannot load this soundfont", soundfont);
  }
  fluid_synth_program_change(synth.get(), 0, o.program);

  std::vector<TimedEvent> events;
  for (const NoteEvent& n : notes) {
    int velocity = std::clamp(n.velocity, 1, 127);
    events.push_back({to_frame(n.start_beats, o.tempo_bpm), true, n.pitch, velocity});
    events.push_back({to_frame(n.start_beats + n.duration_beats, o.tempo_bpm), false, n.pitch, 0});
  }
  // Releases before onsets at one frame, so a repeated key is struck again.
  std::stable_sort(events.begin(), events.end(), [](const TimedEvent& a, const TimedEvent& b) {
    return a.frame != b.frame ? a.frame < b.frame : (!a.on && b.on);
  });

  size_t total = end_frame(notes, o.tempo_bpm, o.tail_seconds);
  std::vector<float> left(total), right(total);
  size_t pos = 0, next = 0;
  while (pos < total) {
    while (next < events.size() && events[next].frame <= pos) {
      const TimedEvent& e = events[next++];
      if (e.on) fluid_synth_noteon(synth.get(), 0, e.pitch, e.velocity);
      else fluid_synth_noteoff(synth.get(), 0, e.pitch);
    }
    size_t until = next < events.size() ? std::min(total, std::max(events[next].frame, pos + 1)) : total;
    // FluidSynth renders in blocks; stepping to the next event keeps note timing sample-exact.
    while (pos < until) {
      int len = int(std::min<size_t>(until - pos, 4096));
      fluid_synth_write_float(synth.get(), len, left.data() + pos, 0, 1, right.data() + pos, 0, 1);
      pos += size_t(len);
    }
  }
  std::vector<float> mono(total);
  for (size_t i = 0; i < total; ++i) mono[i] = 0.5f * (left[i] + right[i]);
  normalise(mono);
  return mono;
}

}  // namespace

std::string find_gm_soundfont() {
  for (const char* path : {"/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) return path;
  }
  return "";
}

std::vector<float> render_piano_builtin(const std::vector<NoteEvent>& notes, double tempo_bpm, double tail_seconds) {
  check_options(notes, tempo_bpm);
  std::vector<float> out(end_frame(notes, tempo_bpm, tail_seconds), 0.0f);
  constexpr double kTwoPi = 6.283185307179586;
  constexpr double kAttack = 0.005, kRelease = 0.25;  // seconds
  for (const NoteEvent& n : notes) {
    double freq = 440.0 * std::pow(2.0, (n.pitch - 69) / 12.0);
    double amp = 0.25 * std::clamp(n.velocity, 1, 127) / 127.0;
    double held = std::max(0.0, n.duration_beats) * 60.0 / tempo_bpm;
    size_t start = to_frame(n.start_beats, tempo_bpm);
    size_t length = size_t((held + kRelease) * kPianoSampleRate);
    // Higher notes and higher harmonics die away faster, as on a real piano.
    double base_decay = 1.2 + freq / 600.0;
    for (size_t i = 0; i < length && start + i < out.size(); ++i) {
      double t = double(i) / kPianoSampleRate;
      double env = std::min(1.0, t / kAttack);
      if (t > held) env *= std::max(0.0, 1.0 - (t - held) / kRelease);
      double s = 0;
      for (int h = 1; h <= 6; ++h) {
        if (freq * h > kPianoSampleRate / 2) break;
        s += std::exp(-base_decay * h * t) / (h * h) * std::sin(kTwoPi * freq * h * t);
      }
      out[start + i] += float(amp * env * s);
    }
  }
  normalise(out);
  return out;
}

std::vector<float> render_piano(const std::vector<NoteEvent>& notes, const PianoRenderOptions& options) {
  check_options(notes, options.tempo_bpm);
  if (options.engine == PianoEngine::Builtin) return render_piano_builtin(notes, options.tempo_bpm, options.tail_seconds);
  std::string soundfont = options.soundfont.empty() ? find_gm_soundfont() : options.soundfont;
  if (soundfont.empty()) {
    if (options.engine == PianoEngine::FluidSynth) fail("piano render: no General MIDI soundfont found in /usr/share/sounds/sf2");
    return render_piano_builtin(notes, options.tempo_bpm, options.tail_seconds);
  }
  return render_fluidsynth(notes, options, soundfont);
}

}  // namespace mg::io
