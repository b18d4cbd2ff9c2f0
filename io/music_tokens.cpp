#include "io/music_tokens.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory_resource>
#include <set>
#include <tuple>

#include "tensor/error.h"

namespace mg::io {

namespace {

// music21's default spelling of the twelve pitch classes.
constexpr const char* kPitchClassNames[12] = {"C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B"};

int mask_of(const std::vector<int>& pcs) {
  int mask = 0;
  for (int pc : pcs) mask |= 1 << (((pc % 12) + 12) % 12);
  return mask;
}

std::vector<int> pcs_of(int mask) {
  std::vector<int> pcs;
  for (int pc = 0; pc < 12; ++pc)
    if (mask >> pc & 1) pcs.push_back(pc);
  return pcs;
}

// Forte's comparison key of one rotation (intervals above its first element):
// span first, then the intervals to the 2nd, 3rd, ... element.
std::vector<int> forte_key(const std::vector<int>& rel) {
  std::vector<int> key{rel.back()};
  if (rel.size() > 2) key.insert(key.end(), rel.begin() + 1, rel.end() - 1);
  return key;
}

// The best rotation of a set by Forte's rule, transposed to start on 0.
std::vector<int> forte_best_rotation(int mask) {
  std::vector<int> pcs = pcs_of(mask);
  size_t n = pcs.size();
  std::vector<int> best, best_key;
  for (size_t r = 0; r < n; ++r) {
    std::vector<int> rel(n);
    for (size_t k = 0; k < n; ++k) rel[k] = (pcs[(r + k) % n] - pcs[r] + 12) % 12;
    std::vector<int> key = forte_key(rel);
    if (best.empty() || key < best_key) {
      best = rel;
      best_key = key;
    }
  }
  return best;
}

std::vector<int> transposed(const std::vector<int>& form, int t) {
  std::vector<int> out(form.size());
  for (size_t i = 0; i < form.size(); ++i) out[i] = (form[i] + t) % 12;
  return out;
}

// music21's grouping of one track's notes into notes and chords (see the
// header), in O(n log n). `notes` are sorted by onset, then note-on order.
// Calls emit(group) with each group: its first note, then the notes it
// gathered in index order.
//
// The notes whose onset lies within the current note's window are kept in a
// set ordered by release tick, so a group is one range query. A note can
// join at most two groups (two group leaders in one onset window release more
// than a window apart, or the first would have gathered the second), so all
// the queries together visit O(n) notes.
template <typename Emit>
void group_track(const std::vector<const MidiNote*>& notes, double quarter_ticks, Emit&& emit) {
  // 16 |a - b| <= quarter_ticks, for integer ticks.
  const int64_t w = static_cast<int64_t>(std::floor(quarter_ticks / 16.0));
  const size_t n = notes.size();
  std::vector<bool> gathered(n, false);
  // (release tick, index) of notes i+1 .. next-1; its nodes come from a pool
  // (a malloc and a free per note otherwise).
  std::pmr::unsynchronized_pool_resource nodes;
  std::pmr::set<std::pair<int64_t, size_t>> window(&nodes);
  std::vector<const MidiNote*> group;
  std::vector<size_t> members;
  size_t next = 0;  // first note past the window
  for (size_t i = 0; i < n; ++i) {
    window.erase({notes[i]->end_tick, i});
    next = std::max(next, i + 1);
    while (next < n && notes[next]->start_tick - notes[i]->start_tick <= w) {
      window.insert({notes[next]->end_tick, next});
      ++next;
    }
    if (gathered[i]) continue;
    // As in music21, members are not checked against `gathered`: a note can join two chords.
    members.clear();
    for (auto it = window.lower_bound({notes[i]->end_tick - w, 0}); it != window.end() && it->first <= notes[i]->end_tick + w; ++it)
      members.push_back(it->second);
    std::sort(members.begin(), members.end());
    group.assign(1, notes[i]);
    for (size_t j : members) {
      group.push_back(notes[j]);
      gathered[j] = true;
    }
    emit(group);
  }
}

// music21's quantisation of an offset (quarter notes) to the nearest 1/4 or
// 1/3: the smaller error wins (rounded to 7 decimals), then the smaller value.
// Returned in twelfths of a quarter so that equal offsets compare equal
// (music21 snaps them to exact fractions).
int64_t quantize_offset_twelfths(double q) {
  int64_t best = 0;
  double best_err = INFINITY;
  for (int div : {4, 3}) {
    double unit = 1.0 / div;
    double mult = std::floor(q / unit);
    if (q > unit * mult + unit / 2) mult += 1;
    double err = std::round(std::abs(q - unit * mult) * 1e7) / 1e7;
    int64_t twelfths = int64_t(mult) * (12 / div);
    if (err < best_err || (err == best_err && twelfths < best)) {
      best = twelfths;
      best_err = err;
    }
  }
  return best;
}

}  // namespace

std::string pitch_name(int midi_pitch) {
  int pc = ((midi_pitch % 12) + 12) % 12;
  int octave = (midi_pitch - pc) / 12 - 1;
  return std::string(kPitchClassNames[pc]) + std::to_string(octave);
}

int parse_pitch_name(const std::string& token) {
  auto bad = [&]() -> int { fail("'{}' is not a pitch name such as C4, G#2 or B-4", token); };
  if (token.size() < 2) return bad();
  static const int kLetter[7] = {9, 11, 0, 2, 4, 5, 7};  // A B C D E F G
  char letter = token[0];
  if (letter < 'A' || letter > 'G') return bad();
  int pc = kLetter[letter - 'A'];
  size_t pos = 1;
  // music21 spells MIDI pitches with one '#' or, on E and B only, one '-'
  // (flat); on other letters a '-' can only start a negative octave.
  if (token[pos] == '#') {
    ++pc;
    ++pos;
  } else if ((letter == 'E' || letter == 'B') && token[pos] == '-' && token.size() > 2) {
    --pc;
    ++pos;
  }
  bool negative = pos < token.size() && token[pos] == '-';
  if (negative) ++pos;
  if (pos >= token.size() || token.size() - pos > 2) return bad();
  int octave = 0;
  for (size_t i = pos; i < token.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(token[i]))) return bad();
    octave = octave * 10 + (token[i] - '0');
  }
  if (negative) octave = -octave;
  int pitch = (octave + 1) * 12 + pc;
  if (pitch < 0 || pitch > 127) fail("pitch '{}' is outside the MIDI range", token);
  return pitch;
}

std::vector<int> normal_order(const std::vector<int>& pitch_classes) {
  int mask = mask_of(pitch_classes);
  if (mask == 0) return {};
  int inverted = 0;
  for (int pc = 0; pc < 12; ++pc)
    if (mask >> pc & 1) inverted |= 1 << ((12 - pc) % 12);
  // Forte prime form: the better of the set's and its inversion's best rotations.
  std::vector<int> a = forte_best_rotation(mask), b = forte_best_rotation(inverted);
  std::vector<int> prime = forte_key(b) < forte_key(a) ? b : a;
  bool is_transposition = false;
  for (int t = 0; t < 12 && !is_transposition; ++t) is_transposition = mask_of(transposed(prime, t)) == mask;
  std::vector<int> form = prime;
  if (!is_transposition) {
    // music21's table entry for the inverted member: the prime form's mirror image.
    size_t n = prime.size();
    for (size_t k = 0; k < n; ++k) form[k] = prime[n - 1] - prime[n - 1 - k];
  }
  for (int t : pcs_of(mask)) {
    std::vector<int> candidate = transposed(form, t);
    if (mask_of(candidate) == mask) return candidate;
  }
  fail("normal_order: no rotation found (internal error)");
}

namespace {

// The token of every note and every chord, made once: a chord's token depends
// on its set of pitch classes alone (normal_order reads only that), and a
// corpus asks for the same few hundred sets again and again.
const std::string& pitch_token(int pitch) {
  static const std::array<std::string, 128> table = [] {
    std::array<std::string, 128> t;
    for (int p = 0; p < 128; ++p) t[size_t(p)] = pitch_name(p);
    return t;
  }();
  return table[size_t(pitch)];
}

const std::string& chord_token_of_mask(int mask) {
  static const std::array<std::string, 4096> table = [] {
    std::array<std::string, 4096> t;
    for (int m = 1; m < 4096; ++m)
      for (int pc : normal_order(pcs_of(m))) {
        if (!t[size_t(m)].empty()) t[size_t(m)] += '.';
        t[size_t(m)] += std::to_string(pc);
      }
    return t;
  }();
  return table[size_t(mask)];
}

}  // namespace

std::string chord_token(const std::vector<int>& pitches) { return chord_token_of_mask(mask_of(pitches)); }

bool is_chord_token(const std::string& token) {
  return !token.empty() && std::isdigit(static_cast<unsigned char>(token[0]));
}

std::vector<std::string> midi_to_tokens(const MidiFile& midi) {
  double quarter_ticks = midi.ticks_per_quarter ? double(midi.ticks_per_quarter)
                                                : midi.smpte_fps * midi.smpte_ticks_per_frame * 0.5;
  size_t track_count = midi.track_names.size();
  std::vector<std::vector<const MidiNote*>> by_track(track_count);
  for (const MidiNote& n : midi.notes) {
    if (n.released && size_t(n.track) < track_count) by_track[n.track].push_back(&n);
  }

  struct Placed {
    int64_t offset;
    bool not_grace;
    int track;
    int order;
    bool chord;
    int value;  // a note's pitch, or a chord's pitch classes as a mask
  };
  std::vector<Placed> placed;
  for (size_t t = 0; t < track_count; ++t) {
    auto& notes = by_track[t];
    std::sort(notes.begin(), notes.end(), [](const MidiNote* a, const MidiNote* b) {
      return a->start_tick != b->start_tick ? a->start_tick < b->start_tick : a->order < b->order;
    });
    group_track(notes, quarter_ticks, [&](const std::vector<const MidiNote*>& g) {
      int value = g[0]->pitch;
      if (g.size() > 1) {
        value = 0;
        for (const MidiNote* n : g) value |= 1 << (((n->pitch % 12) + 12) % 12);
      }
      // music21 makes a zero-length group a grace note, which sorts first at its
      // offset; a chord's length is taken as its first note's release minus its
      // last note's onset.
      const bool grace = g.front()->end_tick == g.back()->start_tick;
      placed.push_back({quantize_offset_twelfths(double(g[0]->start_tick) / quarter_ticks), !grace, int(t), g[0]->order,
                        g.size() > 1, value});
    });
    std::vector<const MidiNote*>().swap(notes);
  }
  std::stable_sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
    return std::tie(a.offset, a.not_grace, a.track, a.order) < std::tie(b.offset, b.not_grace, b.track, b.order);
  });
  std::vector<std::string> tokens;
  tokens.reserve(placed.size());
  for (const Placed& p : placed)
    tokens.push_back(p.chord                              ? chord_token_of_mask(p.value)
                     : p.value >= 0 && p.value < 128 ? pitch_token(p.value)
                                                     : pitch_name(p.value));
  return tokens;
}

std::vector<std::filesystem::path> list_midi_files(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) fail("{}: MIDI folder not found", folder);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if ((ext == ".mid" || ext == ".midi") && entry.is_regular_file(ec)) files.push_back(entry.path());
  }
  if (ec) fail("{}: cannot list folder: {}", folder, ec.message());
  if (files.empty()) fail("{}: no .mid or .midi files in this folder", folder);
  std::sort(files.begin(), files.end());
  return files;
}

FolderTokens tokenize_midi_folder(const std::string& folder,
                                  const std::function<void(const std::string&, const std::string&)>& on_skip,
                                  const MidiTokenizer& tokenize) {
  FolderTokens out;
  for (const std::filesystem::path& path : list_midi_files(folder)) {
    std::vector<std::string> tokens;
    try {
      const MidiFile midi = read_midi(path.string());
      tokens = tokenize ? tokenize(midi) : midi_to_tokens(midi);
    } catch (const Error& e) {
      ++out.files_skipped;
      if (on_skip) on_skip(path.filename().string(), e.what());
      continue;
    }
    if (out.tokens.size() + tokens.size() > kMaxFolderTokens)
      fail("{}: more than {} tokens in the folder's MIDI files (the limit); use fewer files", folder,
           kMaxFolderTokens);
    out.file_starts.push_back(out.tokens.size());
    out.tokens.insert(out.tokens.end(), std::make_move_iterator(tokens.begin()), std::make_move_iterator(tokens.end()));
    out.files_read.push_back(path.filename().string());
  }
  return out;
}

std::vector<NoteEvent> token_to_notes(const std::string& token, double start_beats, double duration_beats,
                                      int velocity) {
  if (!is_chord_token(token)) return {{start_beats, duration_beats, parse_pitch_name(token), velocity}};
  // All pitch classes of the chord, once each, at one onset.
  std::vector<NoteEvent> notes;
  size_t pos = 0;
  while (pos <= token.size()) {
    size_t dot = token.find('.', pos);
    std::string part = token.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    char* end = nullptr;
    long pc = std::strtol(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || pc < 0 || pc > 11 || notes.size() >= 12)
      fail("'{}' is not a chord token such as 5.8.10", token);
    notes.push_back({start_beats, duration_beats, 60 + int(pc), velocity});
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return notes;
}

std::vector<NoteEvent> tokens_to_notes(const std::vector<std::string>& tokens, double step_beats,
                                       double duration_beats, int velocity) {
  std::vector<NoteEvent> notes;
  for (size_t i = 0; i < tokens.size(); ++i) {
    for (const NoteEvent& n : token_to_notes(tokens[i], double(i) * step_beats, duration_beats, velocity))
      notes.push_back(n);
  }
  return notes;
}

std::map<std::string, int64_t> count_tokens(const std::vector<std::string>& tokens) {
  std::map<std::string, int64_t> counts;
  for (const std::string& t : tokens) ++counts[t];
  return counts;
}

std::vector<std::string> filter_rare_tokens(const std::vector<std::string>& tokens, int64_t min_count) {
  std::map<std::string, int64_t> counts = count_tokens(tokens);
  std::vector<std::string> kept;
  for (const std::string& t : tokens)
    if (counts[t] >= min_count) kept.push_back(t);
  return kept;
}

std::vector<std::string> build_vocabulary(const std::vector<std::string>& tokens) {
  std::vector<std::string> vocab = tokens;
  std::sort(vocab.begin(), vocab.end());
  vocab.erase(std::unique(vocab.begin(), vocab.end()), vocab.end());
  return vocab;
}

}  // namespace mg::io
