// chopin-lstm generate: continue a 40-token primer one token at a time, as
// the original did, with optional sampling controls; write MIDI (one chord
// per chord token), a piano roll and, on request, audio.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "apps/chopin-lstm/chopin.h"
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
  const int64_t T = static_cast<int64_t>(window.size());
  for (int64_t i = 0; i < n; ++i) {
    mg::Tensor logits = net.forward(net.encode_input(window, 1, T, device));
    const int64_t next = pick(logits.to_vector<float>(), sampler, rng);
    out.push_back(next);
    window.erase(window.begin());  // slide: drop the oldest, append the newest
    window.push_back(next);
  }
  return out;
}

int run_generate(const GenerateOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  if (o.notes < 1) mg::fail("--notes must be at least 1, got {}", o.notes);
  if (o.temperature < 0) mg::fail("--temperature must be >= 0, got {}", o.temperature);
  if (o.top_p <= 0 || o.top_p > 1) mg::fail("--top-p must be in (0, 1], got {}", o.top_p);
  if (o.step_beats <= 0) mg::fail("--step must be positive, got {}", o.step_beats);
  if (o.tempo <= 0) mg::fail("--tempo must be positive, got {}", o.tempo);
  LoadedModel lm = load_model(o.checkpoint, device);

  std::vector<int64_t> primer;
  if (!o.primer.empty()) {
    int64_t skipped = 0;
    primer = to_ids(mg::io::midi_to_tokens(mg::io::read_midi(o.primer)), lm.vocab, &skipped);
    if (skipped > 0)
      std::printf("primer: %lld token(s) of %s are not in the vocabulary and were skipped\n",
                  static_cast<long long>(skipped), o.primer.c_str());
    if (static_cast<int64_t>(primer.size()) < lm.seq_len)
      mg::fail("--primer {}: {} usable tokens, the model needs {}", o.primer, primer.size(), lm.seq_len);
    primer.erase(primer.begin(), primer.end() - lm.seq_len);  // the last seq_len tokens lead into the new music
  } else {
    const auto& primers = lm.meta.at("primers");
    if (primers.empty()) mg::fail("{}: the checkpoint holds no held-out primer; pass --primer FILE.mid", o.checkpoint);
    std::mt19937_64 rng(o.common.seed);
    primer = primers.at(static_cast<size_t>(rng() % primers.size())).get<std::vector<int64_t>>();
  }

  Sampler s{o.temperature, o.top_k, o.top_p, o.common.seed};
  std::vector<int64_t> gen = generate_tokens(*lm.net, primer, o.notes, s, device);
  std::vector<std::string> tokens = to_tokens(gen, lm.vocab);
  std::vector<mg::io::NoteEvent> notes = mg::io::tokens_to_notes(tokens, o.step_beats, o.step_beats);
  mg::io::write_midi(o.out, notes, o.tempo);
  std::printf("wrote %s: %lld tokens, %zu notes (%s)\n", o.out.c_str(), static_cast<long long>(o.notes), notes.size(),
              o.temperature > 0 ? fmt::format("temperature {}", o.temperature).c_str() : "greedy");

  // Piano roll: the primer, then the generated continuation.
  std::vector<mg::io::PianoRollNote> roll;
  const double primer_beats = static_cast<double>(primer.size()) * o.step_beats;
  for (const auto& n : mg::io::tokens_to_notes(to_tokens(primer, lm.vocab), o.step_beats, o.step_beats))
    roll.push_back({n.start_beats, n.duration_beats, n.pitch, 0});
  for (const auto& n : notes) roll.push_back({primer_beats + n.start_beats, n.duration_beats, n.pitch, 1});
  mg::io::PianoRollOptions ro;
  ro.title = fmt::format("chopin-lstm: {}-token primer and {} generated tokens", primer.size(), o.notes);
  ro.marker_time = primer_beats;
  ro.width = 1200;
  std::string roll_path = o.roll;
  if (roll_path.empty()) {
    roll_path = o.out;
    if (roll_path.size() > 4 && roll_path.substr(roll_path.size() - 4) == ".mid") roll_path.resize(roll_path.size() - 4);
    roll_path += "-roll.png";
  }
  mg::io::piano_roll(roll_path, roll, ro);
  std::printf("wrote %s\n", roll_path.c_str());

  if (!o.wav.empty()) {
    mg::io::PianoRenderOptions po;
    po.tempo_bpm = o.tempo;
    const bool fluid = !mg::io::find_gm_soundfont().empty();
    std::vector<float> audio = mg::io::render_piano(notes, po);
    mg::io::write_wav(o.wav, audio, mg::io::kPianoSampleRate, false);
    std::printf("wrote %s: %.1f s at %d Hz (%s)\n", o.wav.c_str(),
                static_cast<double>(audio.size()) / mg::io::kPianoSampleRate, mg::io::kPianoSampleRate,
                fluid ? "FluidSynth, General MIDI soundfont" : "built-in piano synth");
  }
  return 0;
}

}  // namespace chopin
