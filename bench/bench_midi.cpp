// MIDI reading and tokenizing throughput: the built-in piano corpus made and
// tokenized (chopin-lstm's data when no folder is given), 100,000 notes
// struck together (the adversarial case for chord grouping: the direct scan
// compares every pair and took a minute), and a 60 MB file of a million notes
// parsed from memory and tokenized. Each result is checked before it is
// timed; the table gives the median of the timed runs.
//   bench_midi [--repeats N]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "io/builtin_corpus.h"
#include "io/midi.h"
#include "io/music_tokens.h"
#include "tests/midi_fixtures.h"

using namespace mg;

namespace {

size_t corpus_tokens() {
  size_t n = 0;
  for (const io::MidiFile& piece : io::builtin_piano_corpus(42)) n += io::midi_to_tokens(piece).size();
  return n;
}

struct Parsed {
  size_t notes, tokens;
};
Parsed parse_and_tokenize(const std::string& bytes) {
  const io::MidiFile mf = io::parse_midi(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "big.mid");
  return {mf.notes.size(), io::midi_to_tokens(mf).size()};
}

bool verified(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "bench_midi: %s: wrong result, not timed\n", what);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 7;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_midi [--repeats N]\n");
      return 2;
    }
  }
  bench::Table table{{"case", "size", "median ms", "rate"}, {}};
  bool all_verified = true;

  const size_t tokens = corpus_tokens();
  if (verified(tokens >= 15000 && tokens <= 30000, "built-in corpus")) {
    const double s = bench::median_seconds([] { corpus_tokens(); }, repeats, 1, 20.0);
    table.rows.push_back({"built-in corpus, made and tokenized", fmt::format("{} tokens", tokens),
                          fmt::format("{:.1f}", s * 1e3), fmt::format("{:.2f} M tokens/s", double(tokens) / s / 1e6)});
  } else {
    all_verified = false;
  }

  const int struck = 100000;
  const io::MidiFile together = test::notes_struck_together(struck);
  if (verified(io::midi_to_tokens(together).size() == size_t(struck), "notes struck together")) {
    const double s = bench::median_seconds([&] { io::midi_to_tokens(together); }, repeats, 1, 20.0);
    table.rows.push_back({"chord grouping, notes struck together", fmt::format("{} notes", struck),
                          fmt::format("{:.1f}", s * 1e3), fmt::format("{:.2f} M notes/s", struck / s / 1e6)});
  } else {
    all_verified = false;
  }

  const int64_t chords = int64_t(io::kMaxMidiEvents / 3) - 10;
  const std::string notes = test::chord_track(chords);
  const std::string bytes = test::smf({notes, test::bend_track(60'000'000 - notes.size())});
  const Parsed parsed = parse_and_tokenize(bytes);
  if (verified(parsed.notes == size_t(3 * chords) && parsed.tokens == size_t(chords), "60 MB file")) {
    const double s = bench::median_seconds([&] { parse_and_tokenize(bytes); }, repeats, 1, 30.0);
    table.rows.push_back({"60 MB file, parsed and tokenized", fmt::format("{} notes", parsed.notes),
                          fmt::format("{:.1f}", s * 1e3),
                          fmt::format("{:.0f} MB/s, {:.2f} M notes/s", double(bytes.size()) / s / 1e6,
                                      double(parsed.notes) / s / 1e6)});
  } else {
    all_verified = false;
  }

  table.print();
  return all_verified ? 0 : 1;
}
