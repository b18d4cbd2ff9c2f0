// chopin-lstm's generation (apps/chopin-lstm/decoding.cpp) on untrained,
// randomly initialised networks: the two contexts agree while the piece fits
// in the window, the timed grammar leaves only whole notes, note counts are
// exact, and a piece of a batch is the piece made alone.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "apps/chopin-lstm/chopin.h"
#include "io/builtin_corpus.h"
#include "io/music_tokens.h"
#include "io/timed_grammar.h"
#include "io/timed_tokens.h"
#include "tensor/rng.h"

namespace {

constexpr int64_t kWindow = 40;

// A checkpoint's metadata as generation reads it: the representation and its vocabulary.
chopin::ChopinMeta meta_for(const std::string& repr, const std::string& input) {
  chopin::ChopinMeta meta;
  meta.repr = repr;
  meta.seq_len = kWindow;
  if (repr == "timed") {
    meta.vocab = mg::io::timed_vocabulary();
  } else {
    for (int pitch = 48; pitch < 84; ++pitch) meta.vocab.push_back(mg::io::pitch_name(pitch));
    std::sort(meta.vocab.begin(), meta.vocab.end());
  }
  meta.net.input = input;
  meta.net.vocab = static_cast<int64_t>(meta.vocab.size());
  meta.net.hidden1 = 32;
  meta.net.hidden2 = 24;
  meta.net.dense = 16;
  meta.net.embed_dim = 8;
  return meta;
}

std::shared_ptr<mg::nn::ChopinLSTM> untrained(const chopin::ChopinMeta& meta, uint64_t seed) {
  mg::manual_seed(seed);
  auto net = std::make_shared<mg::nn::ChopinLSTM>(meta.net);
  net->eval();
  return net;
}

// The ids of the first tokens of a real piece in the timed representation,
// from `from` on (a window from inside the stream).
std::vector<int64_t> timed_primer(const chopin::ChopinMeta& meta, size_t from, size_t length) {
  const std::vector<std::string> tokens =
      mg::io::midi_to_timed_tokens(mg::io::builtin_piano_corpus(3).front()).tokens;
  REQUIRE(tokens.size() >= from + length);
  int64_t mapped = 0, skipped = 0;
  const std::vector<std::string> window(tokens.begin() + static_cast<long>(from),
                                        tokens.begin() + static_cast<long>(from + length));
  return chopin::to_ids_nearest(window, meta.vocab, meta.repr, &mapped, &skipped);
}

std::vector<int64_t> seed_primer(const chopin::ChopinMeta& meta, size_t length, size_t offset = 0) {
  std::vector<int64_t> ids;
  for (size_t i = offset; i < offset + length; ++i) ids.push_back(static_cast<int64_t>((i * 5 + 2) % meta.vocab.size()));
  return ids;
}

// The pieces generated from `primers` as one batch.
std::vector<std::vector<int64_t>> generate(const mg::nn::ChopinLSTM& net, const chopin::ChopinMeta& meta,
                                           const std::vector<std::vector<int64_t>>& primers,
                                           const chopin::DecodingOptions& options, int64_t notes, double seconds = 0) {
  std::vector<chopin::PieceTracker> pieces;
  for (const auto& p : primers) pieces.emplace_back(meta, p, notes, seconds);
  chopin::generate_pieces(net, primers, pieces, options, mg::Device::CPU);
  std::vector<std::vector<int64_t>> ids;
  for (const auto& p : pieces) ids.push_back(p.ids());
  return ids;
}

std::vector<std::string> tokens_of(const std::vector<int64_t>& ids, const chopin::ChopinMeta& meta) {
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(meta.vocab[static_cast<size_t>(id)]);
  return out;
}

const mg::nn::SamplingOptions kGreedy{true, 1.0, 0, 1.0};
const mg::nn::SamplingOptions kSampled{false, 1.0, 0, 0.95};

}  // namespace

TEST_CASE("generate: state and window contexts make the same piece while it fits in the window") {
  for (const std::string repr : {"seed", "timed"})
    for (const std::string input : {"seed", "embed"})
      for (const auto& sampling : {kGreedy, kSampled}) {
        INFO(repr, " tokens, ", input, " input, ", (sampling.greedy ? "greedy" : "sampled"));
        const chopin::ChopinMeta meta = meta_for(repr, input);
        const auto net = untrained(meta, 5);
        const std::vector<int64_t> primer = meta.repr == "timed" ? timed_primer(meta, 0, 8) : seed_primer(meta, 8);
        // Primer and piece together fill the window exactly.
        chopin::DecodingOptions options{sampling, chopin::Context::State, kWindow, kWindow - 8, 7};
        const std::vector<int64_t> state = generate(*net, meta, {primer}, options, 1000)[0];
        options.context = chopin::Context::Window;
        const std::vector<int64_t> window = generate(*net, meta, {primer}, options, 1000)[0];
        // (A timed primer that ends inside a note leaves fewer tokens to the piece: those that finish it.)
        CHECK(state.size() + (meta.repr == "timed" ? 2 : 0) >= static_cast<size_t>(kWindow - 8));
        CHECK(state == window);
      }
}

TEST_CASE("generate: an untrained timed model writes whole notes, exactly as many as asked") {
  for (const std::string input : {"seed", "embed"}) {
    const chopin::ChopinMeta meta = meta_for("timed", input);
    const auto net = untrained(meta, 9);
    // Primers that end after a Bar, a Tempo, a Pos, a Pitch, a Dur and a Vel of the piece.
    const std::vector<std::string> text = tokens_of(timed_primer(meta, 0, 60), meta);
    std::vector<std::vector<int64_t>> primers;
    for (const char* kind : {"Bar", "Tempo", "Pos", "Pitch", "Dur", "Vel"})
      for (size_t end = text.size(); end > 0; --end)
        if (text[end - 1].rfind(kind, 0) == 0) {
          const size_t from = end > 30 ? end - 30 : 0;
          primers.push_back(timed_primer(meta, from, end - from));
          break;
        }
    REQUIRE(primers.size() == 6);
    // (Greedy decoding of an untrained model may well never strike a note: the app's error for that is tested
    // in app_chopin_generate.cpp.)
    for (const auto& sampling : {kSampled, mg::nn::SamplingOptions{false, 3.0, 0, 1.0}})
      for (int64_t notes : {1, 7, 60}) {
        INFO(input, " input, temperature ", sampling.temperature, ", ", notes, " notes");
        const chopin::DecodingOptions options{sampling, chopin::Context::State, kWindow, 16 * notes + 1000, 3};
        for (size_t b = 0; b < primers.size(); ++b) {
          CAPTURE(b);
          const std::vector<std::string> piece = tokens_of(generate(*net, meta, {primers[b]}, options, notes)[0], meta);
          const mg::io::TimedPiece decoded = mg::io::timed_tokens_to_piece(piece);
          CHECK(decoded.notes.size() == static_cast<size_t>(notes));
          CHECK(decoded.repaired == 0);
          // Every token is the grammar's, after the primer. A primer that ends inside a note
          // (after its Pitch or Dur) is finished by tokens outside the piece: the piece is then
          // checked on its own.
          mg::io::TimedGrammar grammar = mg::io::TimedGrammar::mid_stream();
          const bool primer_ends_inside_note = b == 3 || b == 4;
          if (!primer_ends_inside_note)
            for (const std::string& t : tokens_of(primers[b], meta)) grammar.advance(mg::io::parse_timed_token(t));
          for (const std::string& t : piece) {
            const mg::io::TimedToken token = mg::io::parse_timed_token(t);
            REQUIRE_MESSAGE(grammar.allows(token), t);
            grammar.advance(token);
          }
          CHECK(piece.back().rfind("Vel_", 0) == 0);
        }
      }
  }
}

TEST_CASE("generate: --length-seconds stops before the first onset past it") {
  const chopin::ChopinMeta meta = meta_for("timed", "embed");
  const auto net = untrained(meta, 4);
  const chopin::DecodingOptions options{kSampled, chopin::Context::State, kWindow, 400 * 3 + 1000, 1};
  for (double seconds : {0.5, 3.0}) {
    CAPTURE(seconds);
    const std::vector<int64_t> ids = generate(*net, meta, {timed_primer(meta, 0, 20)}, options, 0, seconds)[0];
    const mg::io::TimedPiece piece = mg::io::timed_tokens_to_piece(tokens_of(ids, meta));
    for (const mg::io::NoteEvent& n : piece.notes)
      CHECK(mg::io::beats_to_seconds(piece.tempos, n.start_beats) <= seconds + 1e-9);
  }
}

TEST_CASE("generate: a piece of a batch is the piece made alone with its seed") {
  for (const std::string repr : {"seed", "timed"}) {
    INFO(repr);
    const chopin::ChopinMeta meta = meta_for(repr, "embed");
    const auto net = untrained(meta, 8);
    std::vector<std::vector<int64_t>> primers;
    for (size_t k = 0; k < 3; ++k)
      primers.push_back(meta.repr == "timed" ? timed_primer(meta, 10 * k, kWindow) : seed_primer(meta, kWindow, 3 * k));
    for (chopin::Context context : {chopin::Context::State, chopin::Context::Window}) {
      chopin::DecodingOptions options{kSampled, context, kWindow, 16 * 20 + 1000, 100};
      const std::vector<std::vector<int64_t>> batch = generate(*net, meta, primers, options, 20);
      for (size_t k = 0; k < primers.size(); ++k) {
        options.seed = 100 + k;
        CHECK(batch[k] == generate(*net, meta, {primers[k]}, options, 20)[0]);
        options.seed = 100;
      }
      CHECK(batch[0] != batch[1]);
    }
  }
}
