// chopin-lstm generate: continue a 40-token primer one token at a time, as
// the original did, with optional sampling controls; write MIDI (one chord
// per chord token), a piano roll and, on request, audio.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <numeric>
#include <random>

#include "apps/chopin-lstm/chopin.h"
#include "apps/common/progress.h"
#include "io/atomic_file.h"
#include "io/audio.h"
#include "io/midi.h"
#include "io/music_tokens.h"
#include "io/piano_render.h"
#include "io/plot.h"

namespace chopin {

namespace {

// Picks the next id from logits: argmax when temperature is 0 (the original's
// greedy decoding), else a draw from softmax(logits / T) restricted to the
// top-k ids and to the smallest set whose probability reaches top-p.
int64_t pick(const std::vector<float>& logits, const Sampler& s, std::mt19937_64& rng) {
  const size_t V = logits.size();
  if (s.temperature <= 0.0) return std::max_element(logits.begin(), logits.end()) - logits.begin();
  std::vector<size_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  size_t keep = s.top_k > 0 ? std::min<size_t>(V, static_cast<size_t>(s.top_k)) : V;
  std::vector<double> p(keep);
  const double mx = logits[order[0]];
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += p[i] = std::exp((logits[order[i]] - mx) / s.temperature);
  if (s.top_p < 1.0) {
    double cum = 0;
    size_t n = 0;
    while (n < keep && cum < s.top_p * total) cum += p[n++];
    keep = std::max<size_t>(n, 1);
    total = cum;
  }
  double u = std::uniform_real_distribution<double>(0.0, total)(rng);
  for (size_t i = 0; i < keep; ++i) {
    if ((u -= p[i]) <= 0) return static_cast<int64_t>(order[i]);
  }
  return static_cast<int64_t>(order[keep - 1]);
}

std::vector<std::string> to_tokens(const std::vector<int64_t>& ids, const std::vector<std::string>& vocab) {
  std::vector<std::string> t;
  for (int64_t i : ids) t.push_back(vocab[static_cast<size_t>(i)]);
  return t;
}

}  // namespace

std::vector<int64_t> generate_tokens(const mg::nn::ChopinLSTM& net, std::vector<int64_t> window, int64_t n,
                                     const Sampler& sampler, mg::Device device) {
  mg::NoGradGuard no_grad;
  std::mt19937_64 rng(sampler.seed);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  const int64_t T = static_cast<int64_t>(window.size());
  // Long pieces show progress; short ones stay quiet.
  std::optional<mg::app::Progress> progress;
  if (n >= 10000) progress.emplace("generating", n, "tokens");
  for (int64_t i = 0; i < n; ++i) {
    mg::Tensor logits = net.forward(net.encode_input(window, 1, T, device));
    const int64_t next = pick(logits.to_vector<float>(), sampler, rng);
    out.push_back(next);
    window.erase(window.begin());  // slide: drop the oldest, append the newest
    window.push_back(next);
    if (progress) progress->update(i, 0.0, 1);
  }
  if (progress) progress->finish();
  return out;
}

namespace {

// The piece's MIDI file, streamed token by token: token i starts at i * step beats and lasts one step.
void write_piece(const std::string& path, const std::vector<int64_t>& ids, const std::vector<std::string>& vocab,
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
  if (!o.wav.empty()) {
    // Rendering keeps left, right and mono channels, and up to 12 notes a token.
    const double seconds = static_cast<double>(o.notes) * o.step_beats * 60.0 / o.tempo;
    mg::app::check_memory("--wav with --notes " + std::to_string(o.notes),
                          (seconds + 2) * mg::io::kPianoSampleRate * 4.0 * 3 + static_cast<double>(o.notes) * 12 * 24);
  }
  LoadedModel lm = load_model(o.checkpoint, device);
  const ChopinMeta& meta = lm.meta;

  std::vector<int64_t> primer;
  if (!o.primer.empty()) {
    int64_t skipped = 0;
    primer = to_ids(mg::io::midi_to_tokens(mg::io::read_midi(o.primer)), meta.vocab, &skipped);
    if (skipped > 0)
      std::printf("primer: %lld token(s) of %s are not in the vocabulary and were skipped\n",
                  static_cast<long long>(skipped), o.primer.c_str());
    if (static_cast<int64_t>(primer.size()) < meta.seq_len)
      mg::fail("--primer {}: {} usable tokens, the model needs {}", o.primer, primer.size(), meta.seq_len);
    primer.erase(primer.begin(), primer.end() - meta.seq_len);  // the last seq_len tokens lead into the new music
  } else {
    if (meta.primers.empty())
      mg::fail("{}: the checkpoint holds no held-out primer; pass --primer FILE.mid", o.checkpoint);
    std::mt19937_64 rng(o.common.seed);
    primer = meta.primers[static_cast<size_t>(rng() % meta.primers.size())];
  }

  Sampler s{o.temperature, o.top_k, o.top_p, o.common.seed};
  const std::vector<int64_t> gen = generate_tokens(*lm.net, primer, o.notes, s, device);

  // The MIDI file, its piano roll and the WAV are kept together or not at all.
  mg::io::OutputSet outputs;
  write_piece(o.out, gen, meta.vocab, o);
  outputs.add(o.out);
  std::printf("wrote %s: %lld tokens (%s)\n", o.out.c_str(), static_cast<long long>(o.notes),
              o.temperature > 0 ? fmt::format("temperature {}", o.temperature).c_str() : "greedy");

  // Piano roll: the primer, then the start of the continuation.
  const size_t shown = std::min<size_t>(gen.size(), static_cast<size_t>(kMaxRollTokens));
  std::vector<mg::io::PianoRollNote> roll;
  const double primer_beats = static_cast<double>(primer.size()) * o.step_beats;
  for (const auto& n : mg::io::tokens_to_notes(to_tokens(primer, meta.vocab), o.step_beats, o.step_beats))
    roll.push_back({n.start_beats, n.duration_beats, n.pitch, 0});
  const std::vector<int64_t> head(gen.begin(), gen.begin() + static_cast<long>(shown));
  for (const auto& n : mg::io::tokens_to_notes(to_tokens(head, meta.vocab), o.step_beats, o.step_beats))
    roll.push_back({primer_beats + n.start_beats, n.duration_beats, n.pitch, 1});
  mg::io::PianoRollOptions ro;
  ro.title = shown < gen.size()
                 ? fmt::format("chopin-lstm: {}-token primer and the first {} of {} generated tokens", primer.size(),
                               shown, o.notes)
                 : fmt::format("chopin-lstm: {}-token primer and {} generated tokens", primer.size(), o.notes);
  ro.marker_time = primer_beats;
  ro.width = 1200;
  mg::io::piano_roll(roll_path, roll, ro);
  outputs.add(roll_path);
  std::printf("wrote %s\n", roll_path.c_str());

  if (!o.wav.empty()) {
    mg::io::PianoRenderOptions po;
    po.tempo_bpm = o.tempo;
    const bool fluid = !mg::io::find_gm_soundfont().empty();
    std::vector<float> audio = mg::io::render_piano(mg::io::tokens_to_notes(to_tokens(gen, meta.vocab), o.step_beats,
                                                                            o.step_beats),
                                                    po);
    mg::io::write_wav(o.wav, audio, mg::io::kPianoSampleRate, false);
    outputs.add(o.wav);
    std::printf("wrote %s: %.1f s at %d Hz (%s)\n", o.wav.c_str(),
                static_cast<double>(audio.size()) / mg::io::kPianoSampleRate, mg::io::kPianoSampleRate,
                fluid ? "FluidSynth, General MIDI soundfont" : "built-in piano synth");
  }
  outputs.keep();
  return 0;
}

}  // namespace chopin
