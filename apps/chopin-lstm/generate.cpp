// chopin-lstm generate: continue a primer one token at a time (--context
// state carries the LSTMs' state, window reruns the original's window; see
// Context in chopin.h), sampling by default (models/sampling.h; --greedy is
// the original's argmax), --count pieces as one batch, and write each as
// MIDI, a piano roll and, on request, audio.
//   seed representation:  token i starts at i * --step beats and lasts one
//                         step, at --tempo; the MIDI file is streamed token by token.
//   timed representation: the tokens say when each note starts, how long it
//                         lasts, how loud it is and the tempo; the file holds exactly that.
//                         Tokens the grammar (io/timed_grammar.h) refuses are never drawn,
//                         so every note is whole and --notes is exact.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <functional>
#include <set>

#include "apps/chopin-lstm/chopin.h"
#include "apps/chopin-lstm/music_stats.h"
#include "apps/common/report.h"
#include "apps/common/run_control.h"
#include "io/atomic_file.h"
#include "io/audio.h"
#include "io/midi.h"
#include "io/music_tokens.h"
#include "io/piano_render.h"
#include "io/plot.h"
#include "io/timed_tokens.h"

namespace chopin {

namespace {

std::vector<std::string> to_tokens(const std::vector<int64_t>& ids, const std::vector<std::string>& vocab) {
  std::vector<std::string> t;
  for (int64_t i : ids) t.push_back(vocab[static_cast<size_t>(i)]);
  return t;
}

// What a run of tokens says, in beats, with its tempo map.
mg::io::TimedPiece decode(const std::vector<int64_t>& ids, const std::vector<std::string>& vocab,
                          const std::string& repr, double step_beats, double tempo) {
  if (repr == "timed") return mg::io::timed_tokens_to_piece(to_tokens(ids, vocab));
  mg::io::TimedPiece p;
  p.notes = mg::io::tokens_to_notes(to_tokens(ids, vocab), step_beats, step_beats);
  p.tempos = {{0.0, tempo}};
  p.end_beats = static_cast<double>(ids.size()) * step_beats;
  return p;
}

// The seed representation's MIDI file, streamed token by token: token i starts at i * step beats and lasts one step.
void write_seed_piece(const std::string& path, const std::vector<int64_t>& ids, const std::vector<std::string>& vocab,
                      const GenerateOptions& o) {
  mg::io::write_file_atomic(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) mg::fail("{}: cannot open for writing", path);
    try {
      mg::io::MidiWriter writer(f, o.tempo);
      for (size_t i = 0; i < ids.size(); ++i)
        for (const mg::io::NoteEvent& n : mg::io::token_to_notes(vocab[static_cast<size_t>(ids[i])],
                                                                static_cast<double>(i) * o.step_beats, o.step_beats))
          writer.add(n);
      writer.finish();
    } catch (const mg::Error& e) {
      mg::fail("{}: {}", path, e.what());
    }
    f.flush();
    if (!f) mg::fail("{}: write failed (disk full?)", path);
  });
}

// Notes with times in seconds under the piece's tempo map (so they render at 60 bpm).
std::vector<mg::io::NoteEvent> in_seconds(const mg::io::TimedPiece& p) {
  std::vector<mg::io::NoteEvent> out = p.notes;
  for (mg::io::NoteEvent& n : out) {
    const double start = mg::io::beats_to_seconds(p.tempos, n.start_beats);
    n.duration_beats = mg::io::beats_to_seconds(p.tempos, n.start_beats + n.duration_beats) - start;
    n.start_beats = start;
  }
  return out;
}

std::string default_roll_path(const std::string& midi) {
  std::string path = midi;
  if (path.size() > 4 && path.substr(path.size() - 4) == ".mid") path.resize(path.size() - 4);
  return path + "-roll.png";
}

// Piece k of n: "-k" before the extension, k padded to n's digits so the files sort in order
// ("piece.mid" -> "piece-2.mid", or "piece-02.mid" for 10 to 99 pieces).
std::string numbered(const std::string& path, int64_t k, int64_t n) {
  const std::filesystem::path p(path);
  const std::string number = fmt::format("{:0{}}", k, std::to_string(n).size());
  return (p.parent_path() / (p.stem().string() + "-" + number + p.extension().string())).string();
}

// The files one piece goes to.
struct PieceFiles {
  std::string midi, roll, wav;  // wav empty: none
};

// --count 1: the paths as given; more: piece k's paths numbered k (from 1).
std::vector<PieceFiles> piece_files(const GenerateOptions& o) {
  std::vector<PieceFiles> files;
  for (int64_t k = 1; k <= o.count; ++k) {
    auto name = [&](const std::string& path) { return o.count == 1 || path.empty() ? path : numbered(path, k, o.count); };
    const std::string midi = name(o.out);
    files.push_back({midi, o.roll.empty() ? default_roll_path(midi) : name(o.roll), name(o.wav)});
  }
  return files;
}

// The primer of piece k (from 0): --primer's last seq_len tokens, or a
// held-out window of the checkpoint picked by seed + k.
std::vector<int64_t> pick_primer(const GenerateOptions& o, const ChopinMeta& meta,
                                 const std::vector<int64_t>& file_primer, int64_t k) {
  if (!o.primer.empty()) return file_primer;
  if (meta.primers.empty()) mg::fail("{}: the checkpoint holds no held-out primer; pass --primer FILE.mid", o.checkpoint);
  const uint64_t seed = o.common.seed + static_cast<uint64_t>(k);
  const uint64_t pick = static_cast<uint64_t>(mg::Philox::uniform(seed, ~uint64_t{0}) * double(meta.primers.size()));
  return meta.primers[std::min<size_t>(pick, meta.primers.size() - 1)];
}

// --primer's last seq_len tokens in the model's vocabulary (empty without --primer).
std::vector<int64_t> read_primer(const GenerateOptions& o, const ChopinMeta& meta) {
  if (o.primer.empty()) return {};
  const bool timed = meta.repr == "timed";
  const mg::io::MidiFile midi = mg::io::read_midi(o.primer);
  int64_t mapped = 0, skipped = 0;
  std::vector<int64_t> primer =
      to_ids_nearest(timed ? mg::io::midi_to_timed_tokens(midi).tokens : mg::io::midi_to_tokens(midi), meta.vocab,
                     meta.repr, &mapped, &skipped);
  if (mapped > 0)
    std::fprintf(stderr, "warning: primer %s: %lld token(s) not in the vocabulary were replaced by the nearest known one\n",
                 o.primer.c_str(), static_cast<long long>(mapped));
  if (skipped > 0)
    std::printf("primer: %lld token(s) of %s are not in the vocabulary and were skipped\n",
                static_cast<long long>(skipped), o.primer.c_str());
  if (static_cast<int64_t>(primer.size()) < meta.seq_len)
    mg::fail("--primer {}: {} usable tokens, the model needs {}", o.primer, primer.size(), meta.seq_len);
  primer.erase(primer.begin(), primer.end() - meta.seq_len);  // the last seq_len tokens lead into the new music
  return primer;
}

// Writes one piece's MIDI file, piano roll and (when asked) WAV, each added to `outputs`.
void write_piece(const PieceFiles& files, const std::vector<int64_t>& primer, const std::vector<int64_t>& gen,
                 const mg::io::TimedPiece& piece, const ChopinMeta& meta, const GenerateOptions& o,
                 const std::string& how, mg::io::OutputSet& outputs) {
  const double seconds = mg::io::beats_to_seconds(piece.tempos, piece.end_beats);
  if (meta.repr == "timed") mg::io::write_midi(files.midi, piece.notes, piece.tempos, piece.meters);
  else write_seed_piece(files.midi, gen, meta.vocab, o);
  outputs.add(files.midi);
  std::printf("wrote %s: %zu tokens, %zu notes, %.1f s (%s); longest run of one token: %lld\n", files.midi.c_str(),
              gen.size(), piece.notes.size(), seconds, how.c_str(), static_cast<long long>(longest_repeat(gen)));

  // Piano roll: the primer, then the start of the continuation.
  const size_t shown = std::min<size_t>(gen.size(), static_cast<size_t>(kMaxRollTokens));
  const mg::io::TimedPiece primer_piece = decode(primer, meta.vocab, meta.repr, o.step_beats, o.tempo);
  const double primer_beats = primer_piece.end_beats;
  std::vector<mg::io::PianoRollNote> roll;
  for (const auto& n : primer_piece.notes) roll.push_back({n.start_beats, n.duration_beats, n.pitch, 0});
  const std::vector<int64_t> head(gen.begin(), gen.begin() + static_cast<long>(shown));
  for (const auto& n : (shown == gen.size() ? piece : decode(head, meta.vocab, meta.repr, o.step_beats, o.tempo)).notes)
    roll.push_back({primer_beats + n.start_beats, n.duration_beats, n.pitch, 1});
  mg::io::PianoRollOptions ro;
  ro.title = shown < gen.size()
                 ? fmt::format("chopin-lstm: {}-token primer and the first {} of {} generated tokens", primer.size(),
                               shown, gen.size())
                 : fmt::format("chopin-lstm: {}-token primer and {} generated tokens ({} notes)", primer.size(),
                               gen.size(), piece.notes.size());
  ro.marker_time = primer_beats;
  ro.width = 1200;
  mg::io::piano_roll(files.roll, roll, ro);
  outputs.add(files.roll);
  std::printf("wrote %s\n", files.roll.c_str());

  if (!files.wav.empty()) {
    mg::app::check_memory("--wav", (seconds + 2) * mg::io::kPianoSampleRate * 4.0 * 3 +
                                       static_cast<double>(piece.notes.size()) * 24);
    mg::io::PianoRenderOptions po;
    po.tempo_bpm = 60;  // the notes are in seconds
    const bool fluid = !mg::io::find_gm_soundfont().empty();
    std::vector<float> audio = mg::io::render_piano(in_seconds(piece), po);
    mg::io::write_wav(files.wav, audio, mg::io::kPianoSampleRate, false);
    outputs.add(files.wav);
    std::printf("wrote %s: %.1f s at %d Hz, peak at %.0f dBFS (%s)\n", files.wav.c_str(),
                static_cast<double>(audio.size()) / mg::io::kPianoSampleRate, mg::io::kPianoSampleRate,
                mg::io::kPianoPeakDbfs, fluid ? "FluidSynth, General MIDI soundfont" : "built-in piano synth");
  }
}

// The pieces on the page of the folder they went into (OUT/report.html), beside earlier ones.
void report_pieces(const std::vector<PieceFiles>& files, const std::vector<PieceTracker>& pieces,
                   const std::vector<mg::io::TimedPiece>& decoded, const std::function<std::string(size_t)>& how) {
  try {
    const std::filesystem::path parent = std::filesystem::path(files[0].midi).parent_path();
    mg::app::RunReport report(parent.empty() ? "." : parent.string(), "chopin-lstm");
    mg::app::ReportSection& page = report.section("generate");
    if (page.command_line.empty()) page.command_line = mg::app::shell_command(mg::app::command_line());
    for (size_t k = 0; k < files.size(); ++k) {
      const mg::io::TimedPiece& piece = decoded[k];
      const std::vector<int64_t>& gen = pieces[k].ids();
      const PieceFeatures f = piece_features(piece);
      mg::app::ReportClip clip;
      clip.id = std::filesystem::path(files[k].midi).filename().string();
      clip.caption = fmt::format("{}: {}", clip.id, mg::app::shell_command(mg::app::command_line()));
      clip.midi = files[k].midi;
      if (page.contains(files[k].roll)) clip.image = files[k].roll;
      if (!files[k].wav.empty() && page.contains(files[k].wav)) clip.audio = files[k].wav;
      clip.metrics = {{"sampling", how(k)},
                      {"tokens", static_cast<int64_t>(gen.size())},
                      {"notes", static_cast<int64_t>(piece.notes.size())},
                      {"seconds", mg::io::beats_to_seconds(piece.tempos, piece.end_beats)},
                      {"longest run of one token", longest_repeat(gen)},
                      {"pitch range (semitones)", f.values[1].empty() ? 0.0 : f.values[1][0]},
                      {"notes per bar", f.values[2].empty() ? 0.0 : f.values[2][0]},
                      {"notes per onset (polyphony)", f.values[5].empty() ? 0.0 : f.values[5][0]}};
      page.clip(std::move(clip));
    }
    report.save();
  } catch (const mg::Error& e) {
    std::fprintf(stderr, "warning: report not updated: %s\n", e.what());
  }
}

}  // namespace

int run_generate(const GenerateOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  const std::vector<PieceFiles> files = piece_files(o);
  // Every output is checked before the work starts, so a bad path fails in a second, not after generating.
  std::set<std::string> names;
  for (const PieceFiles& f : files)
    for (const std::string& path : {f.midi, f.roll, f.wav}) {
      if (path.empty()) continue;
      mg::io::output_target(path);
      if (!names.insert(path).second)
        mg::app::usage_fail("{}: named twice among the outputs (--out, --roll, --wav and the piano roll's default)", path);
    }
  LoadedModel lm = load_model(o.checkpoint, device);
  const ChopinMeta& meta = lm.meta;
  const bool timed = meta.repr == "timed";

  // Seed tokens are one step each, so their count follows from a length in seconds.
  int64_t seed_tokens = o.notes;
  if (!timed && o.length_seconds > 0)
    seed_tokens = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.length_seconds * o.tempo / 60.0 / o.step_beats)));
  if (!timed && !o.wav.empty()) {
    // Rendering keeps left, right and mono channels, and up to 12 notes a token.
    const double seconds = static_cast<double>(seed_tokens) * o.step_beats * 60.0 / o.tempo;
    mg::app::check_memory("--wav with --notes " + std::to_string(seed_tokens),
                          (seconds + 2) * mg::io::kPianoSampleRate * 4.0 * 3 +
                              static_cast<double>(seed_tokens) * 12 * 24);
  }

  // Timed: stop with the Vel of note --notes, or before the token that moves time past --length-seconds.
  DecodingOptions decoding{{o.greedy, o.temperature, o.top_k, o.top_p}, o.context, meta.seq_len, seed_tokens,
                           o.common.seed};
  if (timed)
    decoding.max_tokens = o.length_seconds > 0 ? static_cast<int64_t>(400 * o.length_seconds) + 1000 : 16 * o.notes + 1000;
  // The pieces' ids, and the notes the timed decoder keeps as they come.
  mg::app::check_memory("--count with --notes or --length-seconds",
                        static_cast<double>(o.count) * static_cast<double>(decoding.max_tokens) * 16);
  const std::vector<int64_t> file_primer = read_primer(o, meta);
  std::vector<std::vector<int64_t>> primers;
  std::vector<PieceTracker> pieces;
  for (int64_t k = 0; k < o.count; ++k) {
    primers.push_back(pick_primer(o, meta, file_primer, k));
    pieces.emplace_back(meta, primers.back(), timed ? o.notes : seed_tokens, timed ? o.length_seconds : 0.0);
  }
  generate_pieces(*lm.net, primers, pieces, decoding, device);

  // Every piece is checked before any is written: a piece without its notes is an error, not an empty file.
  std::vector<mg::io::TimedPiece> decoded;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const std::vector<int64_t>& gen = pieces[k].ids();
    decoded.push_back(decode(gen, meta.vocab, meta.repr, o.step_beats, o.tempo));
    const mg::io::TimedPiece& piece = decoded.back();
    const double seconds = mg::io::beats_to_seconds(piece.tempos, piece.end_beats);
    if (piece.notes.empty())
      mg::fail("{}: not one note in {} tokens; the model needs more training", files[k].midi, gen.size());
    if (!pieces[k].complete() && o.length_seconds <= 0)
      mg::fail("{}: {} of the {} notes asked for (--notes) after {} tokens, the most tried; the model needs more "
               "training", files[k].midi, piece.notes.size(), o.notes, gen.size());
    if (!pieces[k].complete())
      std::fprintf(stderr, "warning: %s: stopped after %zu tokens with %zu notes, %.1f s\n", files[k].midi.c_str(),
                   gen.size(), piece.notes.size(), seconds);
    if (!files[k].wav.empty() && seconds > kMaxWavSeconds)
      mg::fail("--wav {}: the piece lasts {:.0f} s; audio is rendered for pieces up to {:.0f} s (lower --notes)",
               files[k].wav, seconds, kMaxWavSeconds);
  }

  // The MIDI files, their piano rolls and the WAVs are kept together or not at all.
  auto how = [&](size_t k) {  // piece k draws with seed + k
    return o.greedy || o.temperature == 0
               ? std::string("greedy")
               : fmt::format("temperature {}, top-p {}{}, seed {}", o.temperature, o.top_p,
                             o.top_k > 0 ? fmt::format(", top-k {}", o.top_k) : "", o.common.seed + k);
  };
  mg::io::OutputSet outputs;
  for (size_t k = 0; k < pieces.size(); ++k)
    write_piece(files[k], primers[k], pieces[k].ids(), decoded[k], meta, o, how(k), outputs);
  outputs.keep();
  report_pieces(files, pieces, decoded, how);
  for (size_t k = 0; k < pieces.size(); ++k) {
    const mg::io::TimedPiece& piece = decoded[k];
    mg::app::json_record({{"wrote", files[k].midi}, {"roll", files[k].roll}, {"wav", files[k].wav},
                          {"tokens", pieces[k].ids().size()}, {"notes", piece.notes.size()},
                          {"seconds", mg::io::beats_to_seconds(piece.tempos, piece.end_beats)}});
  }
  return 0;
}

}  // namespace chopin
