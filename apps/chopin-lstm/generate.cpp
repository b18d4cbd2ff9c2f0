// chopin-lstm generate: continue a primer one token at a time, sampling by
// default (models/sampling.h; --greedy is the original's argmax), and write
// MIDI, a piano roll and, on request, audio.
//   seed representation:  token i starts at i * --step beats and lasts one
//                         step, at --tempo; the MIDI file is streamed token by token.
//   timed representation: the tokens say when each note starts, how long it
//                         lasts, how loud it is and the tempo; the file holds exactly that.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <optional>

#include "apps/chopin-lstm/chopin.h"
#include "apps/chopin-lstm/music_stats.h"
#include "apps/common/report.h"
#include "apps/common/run_control.h"
#include "apps/common/progress.h"
#include "io/atomic_file.h"
#include "io/audio.h"
#include "io/midi.h"
#include "io/music_tokens.h"
#include "io/piano_render.h"
#include "io/plot.h"
#include "io/timed_tokens.h"

namespace chopin {

std::vector<int64_t> generate_tokens(const mg::nn::ChopinLSTM& net, std::vector<int64_t> window, int64_t max_tokens,
                                     const mg::nn::SamplingOptions& sampling, uint64_t seed, mg::Device device,
                                     const std::function<bool(int64_t)>& stop) {
  mg::NoGradGuard no_grad;
  mg::Generator generator{seed, 0};
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(std::min<int64_t>(max_tokens, 1 << 20)));
  const int64_t T = static_cast<int64_t>(window.size());
  // Long pieces show progress; short ones stay quiet.
  std::optional<mg::app::Progress> progress;
  if (max_tokens >= 10000) progress.emplace("generating", max_tokens, "tokens");
  for (int64_t i = 0; i < max_tokens; ++i) {
    mg::Tensor logits = net.forward(net.encode_input(window, 1, T, device));
    const int64_t next = mg::nn::sample_token(logits.to_vector<float>(), sampling, generator);
    if (stop && stop(next)) break;
    out.push_back(next);
    window.erase(window.begin());  // slide: drop the oldest, append the newest
    window.push_back(next);
    if (progress) progress->update(i, 0.0, 1);
  }
  if (progress) progress->finish();
  return out;
}

int64_t longest_repeat(const std::vector<int64_t>& ids) {
  int64_t longest = 0, run = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    run = i > 0 && ids[i] == ids[i - 1] ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  return longest;
}

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

}  // namespace

int run_generate(const GenerateOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  const std::string roll_path = o.roll.empty() ? default_roll_path(o.out) : o.roll;
  // Every output is checked before the work starts, so a bad path fails in a second, not after generating.
  for (const std::string& path : {o.out, roll_path, o.wav})
    if (!path.empty()) mg::io::output_target(path);
  if (roll_path == o.wav) mg::app::usage_fail("--roll {} and --wav name the same file", roll_path);
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

  std::vector<int64_t> primer;
  if (!o.primer.empty()) {
    const mg::io::MidiFile midi = mg::io::read_midi(o.primer);
    int64_t mapped = 0, skipped = 0;
    primer = to_ids_nearest(timed ? mg::io::midi_to_timed_tokens(midi).tokens : mg::io::midi_to_tokens(midi),
                            meta.vocab, meta.repr, &mapped, &skipped);
    if (mapped > 0)
      std::fprintf(stderr, "warning: primer %s: %lld token(s) not in the vocabulary were replaced by the nearest known one\n",
                   o.primer.c_str(), static_cast<long long>(mapped));
    if (skipped > 0)
      std::printf("primer: %lld token(s) of %s are not in the vocabulary and were skipped\n",
                  static_cast<long long>(skipped), o.primer.c_str());
    if (static_cast<int64_t>(primer.size()) < meta.seq_len)
      mg::fail("--primer {}: {} usable tokens, the model needs {}", o.primer, primer.size(), meta.seq_len);
    primer.erase(primer.begin(), primer.end() - meta.seq_len);  // the last seq_len tokens lead into the new music
  } else {
    if (meta.primers.empty())
      mg::fail("{}: the checkpoint holds no held-out primer; pass --primer FILE.mid", o.checkpoint);
    const uint64_t pick = static_cast<uint64_t>(mg::Philox::uniform(o.common.seed, ~uint64_t{0}) * double(meta.primers.size()));
    primer = meta.primers[std::min<size_t>(pick, meta.primers.size() - 1)];
  }

  mg::nn::SamplingOptions sampling{o.greedy, o.temperature, o.top_k, o.top_p};
  std::vector<int64_t> gen;
  bool capped = false;
  if (timed) {
    // Stop before the token that would start note --notes + 1, or move time past --length-seconds.
    mg::io::TimedDecoder decoder;
    const int64_t max_tokens = o.length_seconds > 0 ? static_cast<int64_t>(400 * o.length_seconds) + 1000
                                                    : 16 * o.notes + 1000;
    auto stop = [&](int64_t id) {
      decoder.push(meta.vocab[static_cast<size_t>(id)]);
      return o.length_seconds > 0 ? decoder.now_seconds() > o.length_seconds : decoder.notes() > o.notes;
    };
    gen = generate_tokens(*lm.net, primer, max_tokens, sampling, o.common.seed, device, stop);
    capped = static_cast<int64_t>(gen.size()) == max_tokens;
  } else {
    gen = generate_tokens(*lm.net, primer, seed_tokens, sampling, o.common.seed, device);
  }
  const mg::io::TimedPiece piece = decode(gen, meta.vocab, meta.repr, o.step_beats, o.tempo);
  const double seconds = mg::io::beats_to_seconds(piece.tempos, piece.end_beats);
  if (capped)
    std::fprintf(stderr, "warning: stopped after %zu tokens with %zu notes, %.1f s\n", gen.size(), piece.notes.size(),
                 seconds);
  if (!o.wav.empty() && seconds > kMaxWavSeconds)
    mg::fail("--wav {}: the piece lasts {:.0f} s; audio is rendered for pieces up to {:.0f} s (lower --notes)", o.wav,
             seconds, kMaxWavSeconds);

  // The MIDI file, its piano roll and the WAV are kept together or not at all.
  mg::io::OutputSet outputs;
  if (timed) mg::io::write_midi(o.out, piece.notes, piece.tempos, piece.meters);
  else write_seed_piece(o.out, gen, meta.vocab, o);
  outputs.add(o.out);
  const std::string how = o.greedy || o.temperature == 0
                              ? std::string("greedy")
                              : fmt::format("temperature {}, top-p {}{}, seed {}", o.temperature, o.top_p,
                                            o.top_k > 0 ? fmt::format(", top-k {}", o.top_k) : "", o.common.seed);
  std::printf("wrote %s: %zu tokens, %zu notes, %.1f s (%s); longest run of one token: %lld\n", o.out.c_str(),
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
  mg::io::piano_roll(roll_path, roll, ro);
  outputs.add(roll_path);
  std::printf("wrote %s\n", roll_path.c_str());

  if (!o.wav.empty()) {
    mg::app::check_memory("--wav", (seconds + 2) * mg::io::kPianoSampleRate * 4.0 * 3 +
                                       static_cast<double>(piece.notes.size()) * 24);
    mg::io::PianoRenderOptions po;
    po.tempo_bpm = 60;  // the notes are in seconds
    const bool fluid = !mg::io::find_gm_soundfont().empty();
    std::vector<float> audio = mg::io::render_piano(in_seconds(piece), po);
    mg::io::write_wav(o.wav, audio, mg::io::kPianoSampleRate, false);
    outputs.add(o.wav);
    std::printf("wrote %s: %.1f s at %d Hz, peak at %.0f dBFS (%s)\n", o.wav.c_str(),
                static_cast<double>(audio.size()) / mg::io::kPianoSampleRate, mg::io::kPianoSampleRate,
                mg::io::kPianoPeakDbfs, fluid ? "FluidSynth, General MIDI soundfont" : "built-in piano synth");
  }
  outputs.keep();

  // The piece on the page of the folder it went into (OUT/report.html), beside earlier ones.
  try {
    const std::filesystem::path parent = std::filesystem::path(o.out).parent_path();
    mg::app::RunReport report(parent.empty() ? "." : parent.string(), "chopin-lstm");
    mg::app::ReportSection& page = report.section("generate");
    if (page.command_line.empty()) page.command_line = mg::app::shell_command(mg::app::command_line());
    const PieceFeatures f = piece_features(piece);
    mg::app::ReportClip clip;
    clip.id = std::filesystem::path(o.out).filename().string();
    clip.caption = fmt::format("{}: {}", clip.id, mg::app::shell_command(mg::app::command_line()));
    clip.midi = o.out;
    if (page.contains(roll_path)) clip.image = roll_path;
    if (!o.wav.empty() && page.contains(o.wav)) clip.audio = o.wav;
    clip.metrics = {{"sampling", how},
                    {"tokens", static_cast<int64_t>(gen.size())},
                    {"notes", static_cast<int64_t>(piece.notes.size())},
                    {"seconds", seconds},
                    {"longest run of one token", longest_repeat(gen)},
                    {"pitch range (semitones)", f.values[1].empty() ? 0.0 : f.values[1][0]},
                    {"notes per bar", f.values[2].empty() ? 0.0 : f.values[2][0]},
                    {"notes per onset (polyphony)", f.values[5].empty() ? 0.0 : f.values[5][0]}};
    page.clip(std::move(clip));
    report.save();
  } catch (const mg::Error& e) {
    std::fprintf(stderr, "warning: report not updated: %s\n", e.what());
  }
  mg::app::json_record({{"wrote", o.out}, {"roll", roll_path}, {"wav", o.wav}, {"tokens", gen.size()},
                        {"notes", piece.notes.size()}, {"seconds", seconds}});
  return 0;
}

}  // namespace chopin
