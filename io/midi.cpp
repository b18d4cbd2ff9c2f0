#include "io/midi.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "tensor/error.h"

namespace mg::io {

namespace {

// Bounds-checked reader over one byte range; every failure names the file and
// the absolute byte offset.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t begin, size_t end, const std::string& name)
      : data_(data), pos_(begin), end_(end), name_(name) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return end_ - pos_; }
  bool at_end() const { return pos_ >= end_; }

  [[noreturn]] [[gnu::noinline]] void fail_at(size_t offset, const std::string& what) const {
    fail("{}: {} at offset {}", name_, what, offset);
  }

  // The error path out of line, so that reading a byte inlines to a compare and a load.
  uint8_t u8(const char* what) {
    if (pos_ >= end_) [[unlikely]] fail_end(what);
    return data_[pos_++];
  }
  [[noreturn]] [[gnu::noinline]] void fail_end(const char* what) const {
    fail_at(pos_, fmt::format("unexpected end of data reading {}", what));
  }
  uint32_t u16(const char* what) {
    uint32_t hi = u8(what);
    return (hi << 8) | u8(what);
  }
  uint32_t u32(const char* what) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | u8(what);
    return v;
  }
  // Variable-length quantity: 7 bits per byte, high bit = more follows; the
  // SMF spec allows at most 4 bytes (values below 2^28).
  uint32_t vlq(const char* what) {
    size_t start = pos_;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      uint8_t b = u8(what);
      v = (v << 7) | (b & 0x7F);
      if (!(b & 0x80)) return v;
    }
    fail_at(start, fmt::format("variable-length quantity longer than 4 bytes in {}", what));
  }
  void skip(size_t n, const char* what) {
    if (n > remaining()) {
      fail_at(pos_, fmt::format("{} of {} bytes runs past the end of its chunk ({} bytes left)", what, n, remaining()));
    }
    pos_ += n;
  }
  const uint8_t* here() const { return data_ + pos_; }

 private:
  const uint8_t* data_;
  size_t pos_;
  size_t end_;
  const std::string& name_;
};

struct ProgramChange {
  int64_t tick;
  int channel;
  int program;
};

// Everything one MTrk chunk contributes besides its notes; notes get seconds
// and programs once all tracks (and so the global tempo map) are known.
struct TrackResult {
  std::string name;
  std::vector<TempoChange> tempos;
  std::vector<TimeSignature> time_signatures;
  std::vector<ProgramChange> programs;
  int64_t end_tick = 0;
};

// Data bytes that follow a channel-message status byte (high nibble).
int channel_data_bytes(uint8_t status) {
  switch (status & 0xF0) {
    case 0xC0:  // program change
    case 0xD0:  // channel pressure
      return 1;
    default:  // note off/on, poly pressure, control change, pitch bend
      return 2;
  }
}

// The notes struck and not yet released, per key (channel * 128 + pitch),
// oldest first: overlapping notes of one pitch pair first-on with first-off.
// Each key's queue is a list linked through one pool of nodes, so that a note
// costs no allocation of its own (a std::map of std::deques allocated for
// every key a file strikes took a tenth of the parse).
class OpenNotes {
 public:
  OpenNotes() : head_(kKeys, -1), tail_(kKeys, -1) {}
  void push(int key, const MidiNote& n) {
    int32_t node = free_;
    if (node >= 0) {
      free_ = nodes_[size_t(node)].next;
      nodes_[size_t(node)] = {n, -1};
    } else {
      node = int32_t(nodes_.size());
      nodes_.push_back({n, -1});
    }
    (tail_[size_t(key)] >= 0 ? nodes_[size_t(tail_[size_t(key)])].next : head_[size_t(key)]) = node;
    tail_[size_t(key)] = node;
    ++open_;
  }
  // The oldest open note of key, removed; false when there is none.
  bool pop(int key, MidiNote& n) {
    const int32_t node = head_[size_t(key)];
    if (node < 0) return false;
    n = nodes_[size_t(node)].note;
    head_[size_t(key)] = nodes_[size_t(node)].next;
    if (head_[size_t(key)] < 0) tail_[size_t(key)] = -1;
    nodes_[size_t(node)].next = free_;
    free_ = node;
    --open_;
    return true;
  }
  size_t size() const { return open_; }
  static constexpr int kKeys = 16 * 128;

 private:
  struct Node {
    MidiNote note;
    int32_t next;
  };
  std::vector<Node> nodes_;
  std::vector<int32_t> head_, tail_;
  int32_t free_ = -1;
  size_t open_ = 0;
};

// Parses one track, appending its notes to `notes`. `events` counts the
// stored events (notes, tempo, time signatures, programs) of the whole file
// against kMaxMidiEvents.
TrackResult parse_track(ByteReader& r, int track_index, std::vector<MidiNote>& notes, size_t& events) {
  TrackResult out;
  OpenNotes open;
  int64_t tick = 0;
  uint8_t running = 0;
  int note_count = 0;
  auto count_event = [&](size_t offset) {
    if (++events > kMaxMidiEvents)
      r.fail_at(offset, fmt::format("more than {} notes and timed events (the limit for one file)", kMaxMidiEvents));
  };

  auto close_note = [&](int channel, int pitch) {
    MidiNote n;
    if (!open.pop(channel * 128 + pitch, n)) return;  // a stray note-off is harmless
    n.end_tick = tick;
    notes.push_back(n);
  };

  while (!r.at_end()) {
    tick += r.vlq("delta time");
    size_t status_offset = r.pos();
    uint8_t status = r.u8("event status");

    if (status == 0xFF) {  // meta event
      running = 0;
      uint8_t type = r.u8("meta event type");
      uint32_t len = r.vlq("meta event length");
      size_t data_offset = r.pos();
      const uint8_t* d = r.here();
      r.skip(len, "meta event");
      if (type == 0x2F) break;  // end of track: anything after it in the chunk is padding
      if (type == 0x03 && out.name.empty()) {
        out.name.assign(reinterpret_cast<const char*>(d), len);
      } else if (type == 0x51) {
        if (len != 3) r.fail_at(data_offset, fmt::format("tempo event of length {} (expected 3)", len));
        int us = (d[0] << 16) | (d[1] << 8) | d[2];
        if (us == 0) r.fail_at(data_offset, "tempo of 0 microseconds per quarter");
        count_event(status_offset);
        out.tempos.push_back({tick, us, 0.0});
      } else if (type == 0x58 && len >= 2) {
        if (d[1] > 30) r.fail_at(data_offset, fmt::format("time signature denominator 2^{}", d[1]));
        if (d[0] > 0) {
          count_event(status_offset);
          out.time_signatures.push_back({tick, d[0], 1 << d[1]});
        }
      }
      continue;
    }
    if (status == 0xF0 || status == 0xF7) {  // sysex, or sysex continuation / escape
      running = 0;
      uint32_t len = r.vlq("sysex length");
      r.skip(len, "sysex event");
      continue;
    }
    if (status > 0xF0) r.fail_at(status_offset, fmt::format("status byte 0x{:02X} is not allowed in a MIDI file", status));

    uint8_t first_data;
    if (status & 0x80) {
      running = status;
      first_data = r.u8("channel message data");
    } else {
      if (running == 0) r.fail_at(status_offset, fmt::format("data byte 0x{:02X} without a running status", status));
      first_data = status;
      status = running;
    }
    uint8_t second_data = channel_data_bytes(status) == 2 ? r.u8("channel message data") : 0;
    if ((first_data | second_data) & 0x80) r.fail_at(status_offset, "channel message data byte above 127");

    int channel = status & 0x0F;
    switch (status & 0xF0) {
      case 0x90:
        if (second_data > 0) {
          count_event(status_offset);
          MidiNote n;
          n.track = track_index;
          n.channel = channel;
          n.pitch = first_data;
          n.velocity = second_data;
          n.order = note_count++;
          n.start_tick = tick;
          open.push(channel * 128 + first_data, n);
          break;
        }
        [[fallthrough]];  // velocity 0 means note off
      case 0x80:
        close_note(channel, first_data);
        break;
      case 0xC0:
        count_event(status_offset);
        out.programs.push_back({tick, channel, first_data});
        break;
      default:  // poly pressure, controllers, channel pressure, pitch bend: not needed
        break;
    }
  }

  out.end_tick = tick;
  // Notes never released end with the track.
  MidiNote n;
  for (int key = 0; key < OpenNotes::kKeys && open.size() > 0; ++key)
    while (open.pop(key, n)) {
      n.end_tick = tick;
      n.released = false;
      notes.push_back(n);
    }
  return out;
}

}  // namespace

double MidiFile::tick_to_seconds(int64_t tick) const {
  if (ticks_per_quarter == 0) return double(tick) / (smpte_fps * smpte_ticks_per_frame);
  auto after = std::upper_bound(tempo_map.begin(), tempo_map.end(), tick,
                                [](int64_t t, const TempoChange& c) { return t < c.tick; });
  if (after == tempo_map.begin()) return double(tick) * 0.5 / ticks_per_quarter;  // before any tempo: 120 bpm
  const TempoChange& c = *(after - 1);
  return c.seconds + double(tick - c.tick) * c.us_per_quarter * 1e-6 / ticks_per_quarter;
}

double MidiFile::tick_to_beats(int64_t tick) const {
  if (ticks_per_quarter == 0) return tick_to_seconds(tick) * 2.0;
  return double(tick) / ticks_per_quarter;
}

MidiFile parse_midi(const uint8_t* data, size_t size, const std::string& name) {
  ByteReader file(data, 0, size, name);
  if (size < 14 || std::memcmp(data, "MThd", 4) != 0) {
    file.fail_at(0, "not a MIDI file (no MThd header)");
  }
  file.skip(4, "header");
  uint32_t header_len = file.u32("header length");
  if (header_len < 6 || header_len > file.remaining()) {
    file.fail_at(4, fmt::format("bad header length {}", header_len));
  }
  size_t header_end = file.pos() + header_len;

  MidiFile mf;
  mf.format = int(file.u16("format"));
  uint32_t declared_tracks = file.u16("track count");
  uint32_t division = file.u16("division");
  if (mf.format == 2) file.fail_at(8, "format 2 (independent sequences) is not supported");
  if (mf.format > 2) file.fail_at(8, fmt::format("unknown format {}", mf.format));
  if (declared_tracks == 0) file.fail_at(10, "header declares no tracks");
  // Every track chunk needs at least its 8-byte header: a larger count cannot be true.
  size_t room = (size - header_end) / 8;
  if (declared_tracks > room) {
    file.fail_at(10, fmt::format("header declares {} tracks but the file has room for at most {}", declared_tracks, room));
  }
  if (division & 0x8000) {
    int fps = 256 - int(division >> 8);
    if (fps != 24 && fps != 25 && fps != 29 && fps != 30) file.fail_at(12, fmt::format("SMPTE division with {} frames per second", fps));
    mf.smpte_fps = fps == 29 ? 29.97 : fps;
    mf.smpte_ticks_per_frame = int(division & 0xFF);
    if (mf.smpte_ticks_per_frame == 0) file.fail_at(12, "SMPTE division with 0 ticks per frame");
  } else {
    if (division == 0) file.fail_at(12, "division of 0 ticks per quarter note");
    mf.ticks_per_quarter = int(division);
  }

  std::vector<TrackResult> tracks;
  size_t events = 0;
  size_t pos = header_end;
  while (pos < size) {
    if (size - pos < 8) {
      // A few stray bytes after the last track are padding some writers add.
      if (tracks.size() >= declared_tracks) break;
      file.fail_at(pos, "truncated chunk header");
    }
    ByteReader chunk_header(data, pos, size, name);
    char id[4];
    for (char& c : id) c = char(chunk_header.u8("chunk id"));
    uint32_t len = chunk_header.u32("chunk length");
    size_t body = pos + 8;
    if (len > size - body) {
      file.fail_at(pos, fmt::format("chunk length {} runs past the end of the file ({} bytes left)", len, size - body));
    }
    if (std::memcmp(id, "MTrk", 4) == 0) {
      ByteReader track(data, body, body + len, name);
      tracks.push_back(parse_track(track, int(tracks.size()), mf.notes, events));
    }
    pos = body + len;  // unknown chunk types are skipped whole
  }
  if (tracks.size() < declared_tracks) {
    file.fail_at(size, fmt::format("header declares {} tracks but only {} were found", declared_tracks, tracks.size()));
  }

  // Merge per-track results. Tempo events apply globally; at equal ticks the
  // later track wins, as a sequencer playing all tracks together would do.
  for (const TrackResult& t : tracks) {
    mf.track_names.push_back(t.name);
    mf.tempo_map.insert(mf.tempo_map.end(), t.tempos.begin(), t.tempos.end());
    mf.time_signatures.insert(mf.time_signatures.end(), t.time_signatures.begin(), t.time_signatures.end());
    mf.end_tick = std::max(mf.end_tick, t.end_tick);
  }
  std::stable_sort(mf.tempo_map.begin(), mf.tempo_map.end(), [](auto& a, auto& b) { return a.tick < b.tick; });
  std::vector<TempoChange> tempo;
  for (const TempoChange& t : mf.tempo_map) {
    if (!tempo.empty() && tempo.back().tick == t.tick) tempo.back() = t;
    else tempo.push_back(t);
  }
  if (tempo.empty() || tempo.front().tick != 0) tempo.insert(tempo.begin(), TempoChange{});
  for (size_t i = 1; i < tempo.size(); ++i) {
    const TempoChange& prev = tempo[i - 1];
    double seconds_per_tick = mf.ticks_per_quarter ? prev.us_per_quarter * 1e-6 / mf.ticks_per_quarter : 0;
    tempo[i].seconds = prev.seconds + double(tempo[i].tick - prev.tick) * seconds_per_tick;
  }
  mf.tempo_map = std::move(tempo);
  std::stable_sort(mf.time_signatures.begin(), mf.time_signatures.end(), [](auto& a, auto& b) { return a.tick < b.tick; });

  // Program changes also act across tracks: a note plays with the last one
  // sent on its channel at or before its start.
  std::vector<ProgramChange> programs;
  for (const TrackResult& t : tracks) programs.insert(programs.end(), t.programs.begin(), t.programs.end());
  std::stable_sort(programs.begin(), programs.end(), [](auto& a, auto& b) { return a.tick < b.tick; });

  std::sort(mf.notes.begin(), mf.notes.end(), [](const MidiNote& a, const MidiNote& b) {
    if (a.start_tick != b.start_tick) return a.start_tick < b.start_tick;
    if (a.pitch != b.pitch) return a.pitch < b.pitch;
    if (a.track != b.track) return a.track < b.track;
    return a.order < b.order;
  });
  size_t next_program = 0;
  int channel_program[16] = {};
  for (MidiNote& n : mf.notes) {
    while (next_program < programs.size() && programs[next_program].tick <= n.start_tick) {
      channel_program[programs[next_program].channel] = programs[next_program].program;
      ++next_program;
    }
    n.program = channel_program[n.channel];
    n.start_sec = mf.tick_to_seconds(n.start_tick);
    n.end_sec = mf.tick_to_seconds(n.end_tick);
  }
  return mf;
}

std::vector<uint8_t> read_midi_bytes(const std::string& path) {
  const uint64_t size = input_file_size(path, "MIDI file");
  if (size > kMaxMidiFileBytes) {
    fail("{}: file of {} bytes is too large for a MIDI file (limit {} MiB)", path, size, kMaxMidiFileBytes >> 20);
  }
  // read(2) rather than a stream: a corpus is many small files, and a stream's set-up costs as much as the read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open MIDI file", path);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (done != bytes.size()) fail("{}: read failed", path);
  return bytes;
}

MidiFile read_midi(const std::string& path) {
  const std::vector<uint8_t> bytes = read_midi_bytes(path);
  return parse_midi(bytes.data(), bytes.size(), path);
}

// ---------------------------------------------------------------- writer

namespace {

void put_u16(std::ostream& s, uint32_t v) {
  s.put(char((v >> 8) & 0xFF));
  s.put(char(v & 0xFF));
}

void put_u32(std::ostream& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.put(char((v >> shift) & 0xFF));
}

// Writes a variable-length quantity; returns its size in bytes.
int put_vlq(std::ostream& s, uint32_t v) {
  char buf[4];
  int n = 0;
  do {
    buf[n++] = char(v & 0x7F);
    v >>= 7;
  } while (v && n < 4);
  for (int i = n - 1; i >= 0; --i) s.put(char(buf[i] | (i ? 0x80 : 0)));
  return n;
}

// Largest delta time a 4-byte variable-length quantity holds.
constexpr int64_t kMaxDelta = 0x0FFFFFFF;
// Latest time in beats a note may end at: far beyond any piece, and far from int64 overflow in ticks.
constexpr double kMaxBeats = 1e12;

}  // namespace

MidiWriter::MidiWriter(std::ostream& out, double tempo_bpm, int ticks_per_quarter, int program)
    : MidiWriter(out, std::vector<TempoMark>{{0.0, tempo_bpm}}, std::vector<MeterMark>{}, ticks_per_quarter, program) {}

namespace {

// A tempo as microseconds per quarter note, the unit a MIDI file stores.
uint32_t tempo_microseconds(double bpm) {
  if (!(bpm > 0) || !std::isfinite(bpm)) fail("MIDI writer: tempo {} bpm is not positive", bpm);
  const double us = std::round(60e6 / bpm);
  if (us < 1 || us > 0xFFFFFF) fail("MIDI writer: tempo {} bpm cannot be stored", bpm);
  return uint32_t(us);
}

// Track 0: the tempo map and time signatures in time order (a meter before a
// tempo at one tick), then the end of the track.
std::string conductor_track(const std::vector<TempoMark>& tempos, const std::vector<MeterMark>& meters,
                            int ticks_per_quarter) {
  struct Mark {
    int64_t tick;
    int kind;  // 0 meter, 1 tempo: the order at one tick
    std::string bytes;
  };
  std::vector<Mark> marks;
  auto tick_of = [&](double beats, const char* what) {
    if (!(beats >= 0) || !(beats <= kMaxBeats)) fail("MIDI writer: {} at {} beats", what, beats);
    return int64_t(std::llround(beats * ticks_per_quarter));
  };
  double last = 0;
  for (const TempoMark& t : tempos.empty() ? std::vector<TempoMark>{{0.0, 120.0}} : tempos) {
    if (t.beats < last) fail("MIDI writer: tempo change at {} beats after one at {}", t.beats, last);
    last = t.beats;
    const uint32_t us = tempo_microseconds(t.bpm);
    marks.push_back({tick_of(t.beats, "tempo change"), 1,
                     std::string{'\xFF', '\x51', '\x03', char(us >> 16), char((us >> 8) & 0xFF), char(us & 0xFF)}});
  }
  last = 0;
  for (const MeterMark& m : meters.empty() ? std::vector<MeterMark>{{0.0, 4, 4}} : meters) {
    if (m.beats < last) fail("MIDI writer: time signature at {} beats after one at {}", m.beats, last);
    last = m.beats;
    int log2_denominator = 0;
    while (log2_denominator < 6 && (1 << log2_denominator) < m.denominator) ++log2_denominator;
    if (m.numerator < 1 || m.numerator > 255 || (1 << log2_denominator) != m.denominator)
      fail("MIDI writer: time signature {}/{} (numerator 1..255, denominator a power of two up to 64)", m.numerator,
           m.denominator);
    // 24 MIDI clocks per metronome click, 8 32nd notes per quarter.
    marks.push_back({tick_of(m.beats, "time signature"), 0,
                     std::string{'\xFF', '\x58', '\x04', char(m.numerator), char(log2_denominator), '\x18', '\x08'}});
  }
  std::stable_sort(marks.begin(), marks.end(),
                   [](const Mark& a, const Mark& b) { return a.tick != b.tick ? a.tick < b.tick : a.kind < b.kind; });
  std::ostringstream track;
  int64_t at = 0;
  for (const Mark& m : marks) {
    if (m.tick - at > kMaxDelta) fail("MIDI writer: a gap of {} ticks between events is longer than a MIDI file can hold", m.tick - at);
    put_vlq(track, uint32_t(m.tick - at));
    at = m.tick;
    track << m.bytes;
  }
  track.write("\x00\xFF\x2F\x00", 4);
  return track.str();
}

}  // namespace

MidiWriter::MidiWriter(std::ostream& out, const std::vector<TempoMark>& tempos, const std::vector<MeterMark>& meters,
                       int ticks_per_quarter, int program)
    : out_(out), ticks_per_quarter_(ticks_per_quarter) {
  if (ticks_per_quarter < 1 || ticks_per_quarter > 0x7FFF) fail("MIDI writer: ticks per quarter {} outside 1..32767", ticks_per_quarter);
  if (program < 0 || program > 127) fail("MIDI writer: program {} outside 0..127", program);
  const std::string conductor = conductor_track(tempos, meters, ticks_per_quarter);

  out_.write("MThd", 4);
  put_u32(out_, 6);
  put_u16(out_, 1);
  put_u16(out_, 2);
  put_u16(out_, uint32_t(ticks_per_quarter));

  out_.write("MTrk", 4);
  put_u32(out_, uint32_t(conductor.size()));
  out_.write(conductor.data(), std::streamsize(conductor.size()));

  // Track 1: its length is filled in by finish().
  out_.write("MTrk", 4);
  length_at_ = out_.tellp();
  put_u32(out_, 0);
  static const std::string kName = "Piano";
  out_.write("\x00\xFF\x03", 3);
  out_.put(char(kName.size()));
  out_.write(kName.data(), std::streamsize(kName.size()));
  out_.write("\x00\xC0", 2);
  out_.put(char(program));
  track_bytes_ = 4 + kName.size() + 3;
}

void MidiWriter::event(int64_t tick, uint8_t status, int pitch, int velocity) {
  if (tick - last_tick_ > kMaxDelta)
    fail("MIDI writer: a gap of {} ticks between events is longer than a MIDI file can hold", tick - last_tick_);
  track_bytes_ += put_vlq(out_, uint32_t(tick - last_tick_)) + 3;
  last_tick_ = tick;
  out_.put(char(status));
  out_.put(char(pitch));
  out_.put(char(velocity));
}

void MidiWriter::release_until(int64_t tick) {
  while (!sounding_.empty() && sounding_.top().tick <= tick) {
    event(sounding_.top().tick, 0x80, sounding_.top().pitch, 64);
    sounding_.pop();
  }
}

void MidiWriter::add(const NoteEvent& n) {
  MG_CHECK(!finished_, "MIDI writer: add() after finish()");
  if (n.pitch < 0 || n.pitch > 127) fail("MIDI writer: pitch {} outside 0..127", n.pitch);
  if (n.velocity < 1 || n.velocity > 127) fail("MIDI writer: velocity {} outside 1..127", n.velocity);
  const double end_beats = n.start_beats + n.duration_beats;
  if (!(n.start_beats >= 0) || !(n.duration_beats >= 0) || !(end_beats <= kMaxBeats))
    fail("MIDI writer: note at {} beats with duration {} (must be non-negative and end before {:g} beats)",
         n.start_beats, n.duration_beats, kMaxBeats);
  if (n.start_beats < last_start_)
    fail("MIDI writer: note at {} beats after one at {} (onsets must not decrease)", n.start_beats, last_start_);
  last_start_ = n.start_beats;
  // At one tick, releases go first so a repeated pitch is not cut by its own previous note's release.
  const int64_t on = std::llround(n.start_beats * ticks_per_quarter_);
  const int64_t off = std::max(on + 1, int64_t(std::llround(end_beats * ticks_per_quarter_)));
  release_until(on);
  event(on, 0x90, n.pitch, n.velocity);
  sounding_.push({off, sequence_++, n.pitch});
}

void MidiWriter::finish() {
  if (finished_) return;
  release_until(INT64_MAX);
  out_.write("\x00\xFF\x2F\x00", 4);
  track_bytes_ += 4;
  if (track_bytes_ > 0xFFFFFFFFu) fail("MIDI writer: the note track exceeds the 4 GiB a MIDI chunk can hold");
  const std::streampos end = out_.tellp();
  out_.seekp(length_at_);
  put_u32(out_, uint32_t(track_bytes_));
  out_.seekp(end);
  finished_ = true;
}

namespace {

void encode_sorted(std::ostream& out, std::vector<NoteEvent> notes, const std::vector<TempoMark>& tempos,
                   const std::vector<MeterMark>& meters, int ticks_per_quarter, int program) {
  // Sorting needs comparable onsets; the writer reports the note itself.
  for (const NoteEvent& n : notes)
    if (!std::isfinite(n.start_beats)) fail("MIDI writer: note at {} beats", n.start_beats);
  std::stable_sort(notes.begin(), notes.end(),
                   [](const NoteEvent& a, const NoteEvent& b) { return a.start_beats < b.start_beats; });
  MidiWriter writer(out, tempos, meters, ticks_per_quarter, program);
  for (const NoteEvent& n : notes) writer.add(n);
  writer.finish();
}

}  // namespace

std::string encode_midi(const std::vector<NoteEvent>& notes, const std::vector<TempoMark>& tempos,
                        const std::vector<MeterMark>& meters, int ticks_per_quarter, int program) {
  std::ostringstream out;
  encode_sorted(out, notes, tempos, meters, ticks_per_quarter, program);
  return out.str();
}

std::string encode_midi(const std::vector<NoteEvent>& notes, double tempo_bpm, int ticks_per_quarter, int program) {
  return encode_midi(notes, {{0.0, tempo_bpm}}, {}, ticks_per_quarter, program);
}

void write_midi(const std::string& path, const std::vector<NoteEvent>& notes, const std::vector<TempoMark>& tempos,
                const std::vector<MeterMark>& meters, int ticks_per_quarter, int program) {
  write_file_atomic(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) fail("{}: cannot open for writing", path);
    try {
      encode_sorted(f, notes, tempos, meters, ticks_per_quarter, program);
    } catch (const Error& e) {
      fail("{}: {}", path, e.what());
    }
    f.flush();
    if (!f) fail("{}: write failed (disk full?)", path);
  });
}

void write_midi(const std::string& path, const std::vector<NoteEvent>& notes, double tempo_bpm, int ticks_per_quarter,
                int program) {
  write_midi(path, notes, {{0.0, tempo_bpm}}, {}, ticks_per_quarter, program);
}

double beats_to_seconds(const std::vector<TempoMark>& tempos, double beats) {
  double seconds = 0, at = 0, bpm = 120;
  for (const TempoMark& t : tempos) {
    if (t.beats >= beats) break;
    seconds += (t.beats - at) * 60.0 / bpm;
    at = t.beats;
    bpm = t.bpm;
  }
  return seconds + (beats - at) * 60.0 / bpm;
}

}  // namespace mg::io
