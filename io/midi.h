#pragma once
// Standard MIDI File reader and writer.
//
// The reader turns an SMF (format 0 or 1) into a flat list of notes with
// tick and second positions; everything else a piano-roll or tokenizer does
// not need (controllers, pitch bend, sysex, most meta events) is parsed only
// far enough to be skipped. Malformed input throws mg::Error naming the file
// and the byte offset; sizes are checked against the bytes actually present
// before anything is allocated, so a hostile header cannot cause a huge
// allocation, a hang or an out-of-bounds read. Parsing takes time linear in
// the file's size and memory proportional to the notes (about 64 bytes a
// note), and stops with an error at kMaxMidiEvents.
//
// The writer makes format 1 files: a tempo track and one instrument track,
// note by note (MidiWriter), so a long piece never has to be held in memory.
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <queue>
#include <string>
#include <vector>

namespace mg::io {

// One sounding note. Ticks are file ticks; seconds come from the global tempo
// map (tempo events in any track apply to all tracks, as format 1 requires).
struct MidiNote {
  int track = 0;          // index among the file's MTrk chunks
  int channel = 0;        // 0..15
  int pitch = 0;          // MIDI key number 0..127 (60 = C4)
  int velocity = 0;       // note-on velocity 1..127
  int program = 0;        // program in effect on the channel at note-on (0 if never set)
  int order = 0;          // position of the note-on among the track's note-ons
  bool released = true;   // false: no note-off came, the note was closed at the end of its track
  int64_t start_tick = 0;
  int64_t end_tick = 0;   // == start_tick for a note-on immediately released
  double start_sec = 0;
  double end_sec = 0;
};

// Tempo in effect from `tick` on.
struct TempoChange {
  int64_t tick = 0;
  int us_per_quarter = 500000;  // 500000 = 120 bpm
  double seconds = 0;           // time of `tick` from the start of the file
  double bpm() const { return 60e6 / us_per_quarter; }
};

// Time signature in effect from `tick` on (meta 0x58).
struct TimeSignature {
  int64_t tick = 0;
  int numerator = 4;
  int denominator = 4;
};

struct MidiFile {
  int format = 1;
  // Musical time: ticks per quarter note, or 0 when the division is SMPTE.
  int ticks_per_quarter = 0;
  // SMPTE time (when ticks_per_quarter == 0): frames per second (24, 25,
  // 29.97 or 30) and ticks per frame; one tick lasts 1 / (fps * ticks_per_frame) s.
  double smpte_fps = 0;
  int smpte_ticks_per_frame = 0;
  std::vector<std::string> track_names;        // one per MTrk chunk; "" if unnamed (meta 0x03)
  std::vector<TempoChange> tempo_map;          // sorted by tick; always starts at tick 0
  std::vector<TimeSignature> time_signatures;  // sorted by tick; may be empty (means 4/4)
  std::vector<MidiNote> notes;                 // sorted by start_tick, then pitch, then track, then order
  int64_t end_tick = 0;                        // tick of the last event in any track

  // Seconds from the start of the file to `tick`, following the tempo map.
  double tick_to_seconds(int64_t tick) const;
  // Quarter notes from the start to `tick` (SMPTE files count 120 bpm quarters).
  double tick_to_beats(int64_t tick) const;
};

// Largest file read_midi accepts; bigger files are refused rather than loaded.
inline constexpr size_t kMaxMidiFileBytes = size_t(64) << 20;
// Most notes plus tempo, time-signature and program-change events one file may
// hold (the 48 Chopin pieces hold 78,000 notes in all); a file with more is an
// error naming it. Other events (controllers, sysex, text) are skipped and
// not counted.
inline constexpr size_t kMaxMidiEvents = 1'000'000;

// Reads and parses a file. Errors: "<path>: <what> at offset <n>".
MidiFile read_midi(const std::string& path);

// The bytes of a file read_midi would parse, with its checks (a regular file
// of at most kMaxMidiFileBytes); errors name the path as read_midi's do.
std::vector<uint8_t> read_midi_bytes(const std::string& path);

// Parses an in-memory SMF; name_for_errors is put at the start of every error message.
MidiFile parse_midi(const uint8_t* data, size_t size, const std::string& name_for_errors);

// A note to write, in quarter notes (beats) from the start.
struct NoteEvent {
  double start_beats = 0;
  double duration_beats = 1;
  int pitch = 60;
  int velocity = 90;  // 1..127
};

// A tempo in effect from `beats` (quarter notes from the start) on.
struct TempoMark {
  double beats = 0;
  double bpm = 120;
};

// A time signature in effect from `beats` on (where a bar starts).
struct MeterMark {
  double beats = 0;
  int numerator = 4;
  int denominator = 4;  // a power of two, 1..64
};

// Writes a format 1 file note by note to a seekable stream: track 0 holds the
// tempo map and the time signatures (one tempo and 4/4 by default), track 1 a
// track name, a program change on channel 0 and the notes. Times are rounded to the nearest tick; a note keeps
// at least one tick. Memory is proportional to the notes sounding at once.
// Throws mg::Error ("MIDI writer: ...") for a pitch outside 0..127, a velocity
// outside 1..127, a negative or non-finite time or duration, an onset earlier
// than the previous note's, a tempo outside 3.6..60,000,000 bpm, or
// ticks_per_quarter outside 1..32767; and for marks that are not finite,
// negative, out of order, or a meter that a MIDI file cannot state.
class MidiWriter {
 public:
  MidiWriter(std::ostream& out, double tempo_bpm, int ticks_per_quarter = 480, int program = 0);
  // Tempo changes and time signatures at given beats; empty lists mean 120 bpm and 4/4.
  MidiWriter(std::ostream& out, const std::vector<TempoMark>& tempos, const std::vector<MeterMark>& meters,
             int ticks_per_quarter = 480, int program = 0);
  // Onsets must not decrease from one call to the next.
  void add(const NoteEvent& note);
  // Releases the notes still sounding, ends the track and fills in its length.
  void finish();

 private:
  struct Release {
    int64_t tick;
    uint64_t sequence;  // notes released at one tick go in the order they started
    int pitch;
    bool operator>(const Release& o) const { return tick != o.tick ? tick > o.tick : sequence > o.sequence; }
  };
  void event(int64_t tick, uint8_t status, int pitch, int velocity);
  void release_until(int64_t tick);

  std::ostream& out_;
  int ticks_per_quarter_;
  std::streampos length_at_;  // where the note track's length goes
  uint64_t track_bytes_ = 0;
  int64_t last_tick_ = 0;
  double last_start_ = 0;
  uint64_t sequence_ = 0;
  bool finished_ = false;
  std::priority_queue<Release, std::vector<Release>, std::greater<Release>> sounding_;
};

// Writes a format 1 file atomically with MidiWriter; the notes may come in any
// order (they are sorted by onset). Errors name the file.
void write_midi(const std::string& path, const std::vector<NoteEvent>& notes, double tempo_bpm,
                int ticks_per_quarter = 480, int program = 0);

// The bytes write_midi would write.
std::string encode_midi(const std::vector<NoteEvent>& notes, double tempo_bpm, int ticks_per_quarter = 480,
                        int program = 0);

// The same with a tempo map and time signatures.
void write_midi(const std::string& path, const std::vector<NoteEvent>& notes, const std::vector<TempoMark>& tempos,
                const std::vector<MeterMark>& meters, int ticks_per_quarter = 480, int program = 0);
std::string encode_midi(const std::vector<NoteEvent>& notes, const std::vector<TempoMark>& tempos,
                        const std::vector<MeterMark>& meters, int ticks_per_quarter = 480, int program = 0);

// Seconds from the start to `beats` under a tempo map (sorted by beats; 120
// bpm before the first mark and when the map is empty).
double beats_to_seconds(const std::vector<TempoMark>& tempos, double beats);

}  // namespace mg::io
