#include "io/midi.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>

#include "io/atomic_file.h"
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

  [[noreturn]] void fail_at(size_t offset, const std::string& what) const {
    fail("{}: {} at offset {}", name_, what, offset);
  }

  uint8_t u8(const char* what) {
    if (pos_ >= end_) fail_at(pos_, fmt::format("unexpected end of data reading {}", what));
    return data_[pos_++];
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

// Everything one MTrk chunk contributes; notes get seconds and programs once
// all tracks (and so the global tempo map) are known.
struct TrackResult {
  std::string name;
  std::vector<MidiNote> notes;
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

TrackResult parse_track(ByteReader& r, int track_index) {
  TrackResult out;
  // Open notes per (channel, pitch), oldest first: overlapping notes of one
  // pitch pair first-on with first-off.
  std::map<int, std::deque<MidiNote>> open;
  int64_t tick = 0;
  uint8_t running = 0;
  int note_count = 0;

  auto close_note = [&](int channel, int pitch) {
    auto it = open.find(channel * 128 + pitch);
    if (it == open.end() || it->second.empty()) return;  // a stray note-off is harmless
    MidiNote n = it->second.front();
    it->second.pop_front();
    n.end_tick = tick;
    out.notes.push_back(n);
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
        out.tempos.push_back({tick, us, 0.0});
      } else if (type == 0x58 && len >= 2) {
        if (d[1] > 30) r.fail_at(data_offset, fmt::format("time signature denominator 2^{}", d[1]));
        if (d[0] > 0) out.time_signatures.push_back({tick, d[0], 1 << d[1]});
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
          MidiNote n;
          n.track = track_index;
          n.channel = channel;
          n.pitch = first_data;
          n.velocity = second_data;
          n.order = note_count++;
          n.start_tick = tick;
          open[channel * 128 + first_data].push_back(n);
          break;
        }
        [[fallthrough]];  // velocity 0 means note off
      case 0x80:
        close_note(channel, first_data);
        break;
      case 0xC0:
        out.programs.push_back({tick, channel, first_data});
        break;
      default:  // poly pressure, controllers, channel pressure, pitch bend: not needed
        break;
    }
  }

  out.end_tick = tick;
  // Notes never released end with the track.
  for (auto& [key, queue] : open) {
    for (MidiNote n : queue) {
      n.end_tick = tick;
      n.released = false;
      out.notes.push_back(n);
    }
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
      tracks.push_back(parse_track(track, int(tracks.size())));
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

  for (TrackResult& t : tracks) mf.notes.insert(mf.notes.end(), t.notes.begin(), t.notes.end());
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

MidiFile read_midi(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail("{}: cannot open MIDI file", path);
  std::streamoff size = f.tellg();
  if (size < 0) fail("{}: cannot read MIDI file", path);
  if (size_t(size) > kMaxMidiFileBytes) {
    fail("{}: file of {} bytes is too large for a MIDI file (limit {} MiB)", path, size, kMaxMidiFileBytes >> 20);
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size)) fail("{}: read failed", path);
  return parse_midi(bytes.data(), bytes.size(), path);
}

// ---------------------------------------------------------------- writer

namespace {

void put_u16(std::string& s, uint32_t v) {
  s.push_back(char((v >> 8) & 0xFF));
  s.push_back(char(v & 0xFF));
}

void put_u32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(char((v >> shift) & 0xFF));
}

void put_vlq(std::string& s, uint32_t v) {
  char buf[4];
  int n = 0;
  do {
    buf[n++] = char(v & 0x7F);
    v >>= 7;
  } while (v && n < 4);
  for (int i = n - 1; i >= 0; --i) s.push_back(char(buf[i] | (i ? 0x80 : 0)));
}

void put_chunk(std::string& out, const char* id, const std::string& body) {
  out.append(id, 4);
  put_u32(out, uint32_t(body.size()));
  out += body;
}

}  // namespace

std::string encode_midi(const std::vector<NoteEvent>& notes, double tempo_bpm, int ticks_per_quarter, int program) {
  if (!(tempo_bpm > 0) || !std::isfinite(tempo_bpm)) fail("MIDI writer: tempo {} bpm is not positive", tempo_bpm);
  if (ticks_per_quarter < 1 || ticks_per_quarter > 0x7FFF) fail("MIDI writer: ticks per quarter {} outside 1..32767", ticks_per_quarter);
  if (program < 0 || program > 127) fail("MIDI writer: program {} outside 0..127", program);
  uint32_t us_per_quarter = uint32_t(std::lround(60e6 / tempo_bpm));
  if (us_per_quarter < 1 || us_per_quarter > 0xFFFFFF) fail("MIDI writer: tempo {} bpm cannot be stored", tempo_bpm);

  // Largest tick a 4-byte delta can reach from 0; keeps every delta encodable.
  constexpr double kMaxTick = double(0x0FFFFFFF);
  struct Ev {
    int64_t tick;
    bool on;
    int pitch;
    int velocity;
  };
  std::vector<Ev> events;
  events.reserve(notes.size() * 2);
  for (const NoteEvent& n : notes) {
    if (n.pitch < 0 || n.pitch > 127) fail("MIDI writer: pitch {} outside 0..127", n.pitch);
    if (n.velocity < 1 || n.velocity > 127) fail("MIDI writer: velocity {} outside 1..127", n.velocity);
    if (!(n.start_beats >= 0) || !(n.duration_beats >= 0)) {
      fail("MIDI writer: note at {} beats with duration {} (must be non-negative)", n.start_beats, n.duration_beats);
    }
    double end_beats = n.start_beats + n.duration_beats;
    if (end_beats * ticks_per_quarter > kMaxTick) fail("MIDI writer: note ending at {} beats is too late", end_beats);
    int64_t on = std::llround(n.start_beats * ticks_per_quarter);
    int64_t off = std::max(on + 1, int64_t(std::llround(end_beats * ticks_per_quarter)));
    events.push_back({on, true, n.pitch, n.velocity});
    events.push_back({off, false, n.pitch, 0});
  }
  // At one tick, releases go first so a repeated pitch is not cut by its own
  // previous note's release.
  std::stable_sort(events.begin(), events.end(), [](const Ev& a, const Ev& b) {
    if (a.tick != b.tick) return a.tick < b.tick;
    return !a.on && b.on;
  });

  std::string tempo_track;
  put_vlq(tempo_track, 0);
  tempo_track += "\xFF\x51\x03";
  tempo_track.push_back(char(us_per_quarter >> 16));
  tempo_track.push_back(char((us_per_quarter >> 8) & 0xFF));
  tempo_track.push_back(char(us_per_quarter & 0xFF));
  put_vlq(tempo_track, 0);
  tempo_track += std::string("\xFF\x58\x04\x04\x02\x18\x08", 7);  // 4/4, 24 clocks per click, 8 32nds per quarter
  put_vlq(tempo_track, 0);
  tempo_track += std::string("\xFF\x2F\x00", 3);

  std::string note_track;
  static const std::string kName = "Piano";
  put_vlq(note_track, 0);
  note_track += "\xFF\x03";
  put_vlq(note_track, uint32_t(kName.size()));
  note_track += kName;
  put_vlq(note_track, 0);
  note_track.push_back(char(0xC0));
  note_track.push_back(char(program));
  int64_t last = 0;
  for (const Ev& e : events) {
    put_vlq(note_track, uint32_t(e.tick - last));
    last = e.tick;
    note_track.push_back(char(e.on ? 0x90 : 0x80));
    note_track.push_back(char(e.pitch));
    note_track.push_back(char(e.on ? e.velocity : 64));
  }
  put_vlq(note_track, 0);
  note_track += std::string("\xFF\x2F\x00", 3);

  std::string out = "MThd";
  put_u32(out, 6);
  put_u16(out, 1);
  put_u16(out, 2);
  put_u16(out, uint32_t(ticks_per_quarter));
  put_chunk(out, "MTrk", tempo_track);
  put_chunk(out, "MTrk", note_track);
  return out;
}

void write_midi(const std::string& path, const std::vector<NoteEvent>& notes, double tempo_bpm, int ticks_per_quarter,
                int program) {
  std::string bytes;
  try {
    bytes = encode_midi(notes, tempo_bpm, ticks_per_quarter, program);
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
  write_file_atomic(path, bytes);
}

}  // namespace mg::io
