// Training-data augmentation of timed windows (models/chopin_augment.h): what
// an augmented window decodes to, which draws are allowed, that the draws are
// keyed by (seed, epoch, example), and that only training windows change.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "io/builtin_corpus.h"
#include "io/timed_tokens.h"
#include "models/chopin_augment.h"
#include "models/chopin_training.h"
#include "tensor/rng.h"

using namespace mg;

namespace {

struct TimedStream {
  std::vector<std::string> vocab;
  std::vector<int64_t> ids;
};

// The built-in corpus as one timed token stream over its own vocabulary.
TimedStream builtin_stream() {
  TimedStream s;
  std::vector<std::string> tokens;
  for (const io::MidiFile& m : io::builtin_piano_corpus(42)) {
    const std::vector<std::string> t = io::midi_to_timed_tokens(m).tokens;
    tokens.insert(tokens.end(), t.begin(), t.end());
  }
  s.vocab = tokens;
  std::sort(s.vocab.begin(), s.vocab.end());
  s.vocab.erase(std::unique(s.vocab.begin(), s.vocab.end()), s.vocab.end());
  for (const std::string& t : tokens)
    s.ids.push_back(std::lower_bound(s.vocab.begin(), s.vocab.end(), t) - s.vocab.begin());
  return s;
}

std::vector<int64_t> ids_of(const std::vector<std::string>& vocab, const std::vector<std::string>& tokens) {
  std::vector<int64_t> ids;
  for (const std::string& t : tokens) {
    const auto it = std::find(vocab.begin(), vocab.end(), t);
    REQUIRE_MESSAGE(it != vocab.end(), t);
    ids.push_back(it - vocab.begin());
  }
  return ids;
}

std::vector<std::string> names_of(const std::vector<std::string>& vocab, const std::vector<int64_t>& ids) {
  std::vector<std::string> out;
  for (const int64_t id : ids) out.push_back(vocab[static_cast<size_t>(id)]);
  return out;
}

std::vector<int64_t> row(const std::vector<int64_t>& ids, int64_t start, int64_t length) {
  return {ids.begin() + start, ids.begin() + start + length};
}

const nn::AugmentOptions kAll = nn::AugmentOptions::parse("transpose,tempo,velocity");

}  // namespace

TEST_CASE("--augment's syntax: none, or transpose, tempo and velocity in any order, written in one order") {
  CHECK(nn::AugmentOptions::parse("none").name() == "none");
  CHECK_FALSE(nn::AugmentOptions::parse("none").any());
  CHECK(nn::AugmentOptions::parse("velocity,transpose").name() == "transpose,velocity");
  CHECK(nn::AugmentOptions::parse("tempo").name() == "tempo");
  CHECK(kAll.name() == "transpose,tempo,velocity");
  for (const char* bad : {"", "pitch", "transpose,", ",tempo", "tempo,tempo", "none,tempo", "Transpose"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(nn::AugmentOptions::parse(bad), Error);
  }
}

TEST_CASE("an augmentation rewrites Pitch, Tempo and Vel tokens as specified and nothing else") {
  const std::vector<std::string> vocab = io::timed_vocabulary();
  const nn::TimedAugmenter aug(vocab, kAll, 1);
  std::vector<int64_t> ids = ids_of(vocab, {"Bar_4/4", "Tempo_99", "Pos_0", "Pitch_60", "Dur_12", "Vel_68", "Pos_6",
                                            "Pitch_21", "Dur_6", "Vel_4", "Bar_3/4", "Tempo_16", "Pos_0", "Pitch_100",
                                            "Dur_192", "Vel_124"});
  // 99 bpm x 1.05 = 103.95: 108 is nearer in log than 99; 16 x 1.05 = 16.8: 17. Then back: 108 x 0.95 = 102.6
  // is nearer 99, 17 x 0.95 = 16.15 nearer 16.
  aug.apply({.semitones = 2, .tempo_factor = 1.05, .velocity_bins = -1}, ids);
  CHECK(names_of(vocab, ids) == std::vector<std::string>{"Bar_4/4", "Tempo_108", "Pos_0", "Pitch_62", "Dur_12",
                                                         "Vel_60", "Pos_6", "Pitch_23", "Dur_6", "Vel_4", "Bar_3/4",
                                                         "Tempo_17", "Pos_0", "Pitch_102", "Dur_192", "Vel_116"});
  aug.apply({.semitones = -2, .tempo_factor = 0.95, .velocity_bins = 1}, ids);
  CHECK(names_of(vocab, ids) == std::vector<std::string>{"Bar_4/4", "Tempo_99", "Pos_0", "Pitch_60", "Dur_12",
                                                         "Vel_68", "Pos_6", "Pitch_21", "Dur_6", "Vel_12", "Bar_3/4",
                                                         "Tempo_16", "Pos_0", "Pitch_100", "Dur_192", "Vel_124"});
  // A velocity bin the vocabulary lacks: the nearest one it holds, the softer of two as near.
  std::vector<std::string> fewer = vocab;
  fewer.erase(std::find(fewer.begin(), fewer.end(), "Vel_76"));
  fewer.erase(std::find(fewer.begin(), fewer.end(), "Vel_108"));
  const nn::TimedAugmenter sparse(fewer, kAll, 1);
  std::vector<int64_t> v = ids_of(fewer, {"Vel_84", "Vel_68", "Vel_100", "Vel_116"});
  sparse.apply({.velocity_bins = -1}, v);
  CHECK(names_of(fewer, v) == std::vector<std::string>{"Vel_68", "Vel_60", "Vel_92", "Vel_100"});
  v = ids_of(fewer, {"Vel_68", "Vel_92"});
  sparse.apply({.velocity_bins = 1}, v);
  CHECK(names_of(fewer, v) == std::vector<std::string>{"Vel_68", "Vel_100"});
}

TEST_CASE("an augmented training window decodes to the same notes transposed, at the same onsets and durations") {
  const TimedStream s = builtin_stream();
  const nn::TimedAugmenter aug(s.vocab, kAll, 42);
  std::vector<io::TimedToken> tempos, velocities;
  for (const std::string& t : s.vocab) {
    if (t.rfind("Tempo_", 0) == 0) tempos.push_back(io::parse_timed_token(t));
    if (t.rfind("Vel_", 0) == 0) velocities.push_back(io::parse_timed_token(t));
  }
  const int64_t T = 64;
  int transposed = 0, tempo_moved = 0, louder = 0, softer = 0;
  for (int64_t example = 0, start = 0; start + T + 1 <= static_cast<int64_t>(s.ids.size()); ++example, start += 37) {
    CAPTURE(example);
    const std::vector<int64_t> original = row(s.ids, start, T + 1);
    std::vector<int64_t> ids = original;
    const nn::Augmentation a = aug.draw(ids, 3, example);
    aug.augment(ids, 3, example);
    const io::TimedPiece before = io::timed_tokens_to_piece(names_of(s.vocab, original));
    const io::TimedPiece after = io::timed_tokens_to_piece(names_of(s.vocab, ids));
    REQUIRE(before.notes.size() == after.notes.size());
    for (size_t n = 0; n < before.notes.size(); ++n) {
      const io::NoteEvent &x = before.notes[n], &y = after.notes[n];
      CHECK(y.pitch == x.pitch + a.semitones);
      CHECK(y.start_beats == x.start_beats);
      CHECK(y.duration_beats == x.duration_beats);
      if ((x.velocity - 4) % 8 == 0) {  // else a note cut before its Vel, with the decoder's default velocity
        const int moved = 8 * std::clamp((x.velocity - 4) / 8 + a.velocity_bins, 0, 15) + 4;
        CHECK(y.velocity == io::nearest_timed_token({io::TimedKind::Vel, moved}, velocities).value);
      } else {
        CHECK(y.velocity == x.velocity);
      }
      CHECK(y.pitch >= io::kTimedLowestPitch);
      CHECK(y.pitch <= io::kTimedHighestPitch);
    }
    REQUIRE(before.tempos.size() == after.tempos.size());
    for (size_t k = 0; k < before.tempos.size(); ++k) {
      CHECK(after.tempos[k].beats == before.tempos[k].beats);
      const io::TimedToken want =
          io::nearest_timed_token({io::TimedKind::Tempo, static_cast<int>(std::lround(before.tempos[k].bpm))}, tempos);
      const double stretched = before.tempos[k].bpm * a.tempo_factor;
      // The nearest in log to the stretched tempo: no vocabulary tempo is nearer than the one written.
      for (const io::TimedToken& t : tempos)
        CHECK(std::abs(std::log(after.tempos[k].bpm / stretched)) <= std::abs(std::log(t.value / stretched)));
      tempo_moved += after.tempos[k].bpm != want.value;
    }
    CHECK(before.bar_starts == after.bar_starts);
    transposed += a.semitones != 0 && !before.notes.empty();
    louder += a.velocity_bins > 0;
    softer += a.velocity_bins < 0;
  }
  // The test saw every kind of change.
  CHECK(transposed > 20);
  CHECK(tempo_moved > 0);
  CHECK(louder > 5);
  CHECK(softer > 5);
}

TEST_CASE("augment transpose: stays on the piano and in the vocabulary, and covers -5..+6 semitones") {
  std::vector<std::string> vocab = io::timed_vocabulary();
  vocab.erase(std::find(vocab.begin(), vocab.end(), "Pitch_62"));  // 60 + 2 is not in the vocabulary
  const nn::TimedAugmenter aug(vocab, nn::AugmentOptions::parse("transpose"), 7);
  const std::vector<int64_t> free = ids_of(vocab, {"Pos_0", "Pitch_60", "Dur_12", "Vel_68"});
  const std::vector<int64_t> high = ids_of(vocab, {"Pos_0", "Pitch_104", "Dur_12", "Vel_68", "Pitch_28"});
  const std::vector<int64_t> both_ends = ids_of(vocab, {"Pitch_21", "Pitch_108"});
  std::set<int> seen;
  for (int64_t example = 0; example < 2000; ++example) {
    const int s = aug.draw(free, 1, example).semitones;
    seen.insert(s);
    CHECK(s != 2);
    const int h = aug.draw(high, 1, example).semitones;
    CHECK(h >= -5);  // 28 - 5 = 23 >= 21
    CHECK(h <= 4);   // 104 + 4 = 108
    CHECK(aug.draw(both_ends, 1, example).semitones == 0);
    std::vector<int64_t> moved = high;
    aug.augment(moved, 1, example);
    CHECK(names_of(vocab, moved)[1] == io::timed_token_name({io::TimedKind::Pitch, 104 + h}));
  }
  CHECK(seen == std::set<int>{-5, -4, -3, -2, -1, 0, 1, 3, 4, 5, 6});
}

TEST_CASE("augmentation draws are keyed by (seed, epoch, example), not by a running generator") {
  const TimedStream s = builtin_stream();
  const nn::TimedAugmenter a(s.vocab, kAll, 42), b(s.vocab, kAll, 42), other_seed(s.vocab, kAll, 43);
  const int64_t T = 40;
  auto same = [](const nn::Augmentation& x, const nn::Augmentation& y) {
    return x.semitones == y.semitones && x.tempo_factor == y.tempo_factor && x.velocity_bins == y.velocity_bins;
  };
  int same_epoch_2 = 0, same_seed_43 = 0, examples = 0;
  for (int64_t example = 300; example >= 0; --example, ++examples) {  // any order of the examples
    const std::vector<int64_t> ids = row(s.ids, example * 11, T + 1);
    manual_seed(static_cast<uint64_t>(example));  // the process-wide generator plays no part
    CHECK(same(a.draw(ids, 1, example), b.draw(ids, 1, example)));
    CHECK(same(a.draw(ids, 5, example), a.draw(ids, 5, example)));
    same_epoch_2 += same(a.draw(ids, 1, example), a.draw(ids, 2, example));
    same_seed_43 += same(a.draw(ids, 1, example), other_seed.draw(ids, 1, example));
    // The documented key and counter.
    const double u = Philox::uniform(42 ^ nn::kAugmentKeySalt, uint64_t{1} << 44 | static_cast<uint64_t>(example) << 8 | 17);
    CHECK(a.draw(ids, 1, example).velocity_bins == -1 + static_cast<int>(u * 3));
  }
  CHECK(same_epoch_2 < examples / 10);
  CHECK(same_seed_43 < examples / 10);
}

TEST_CASE("ChopinTask augments the training windows only, each window and its targets as one") {
  const TimedStream s = builtin_stream();
  const int64_t T = 24;
  nn::ChopinConfig c;
  c.input = "embed";
  c.vocab = static_cast<int64_t>(s.vocab.size());
  c.hidden1 = 16;
  c.hidden2 = 8;
  c.dense = 8;
  c.embed_dim = 8;
  c.dropout = 0;
  manual_seed(3);
  const nn::ChopinLSTM net(c);
  std::vector<int64_t> starts;
  for (int64_t st = 0; st + T + 1 <= static_cast<int64_t>(s.ids.size()) && starts.size() < 96; st += T) starts.push_back(st);
  const std::vector<int64_t> train(starts.begin(), starts.begin() + 64), heldout(starts.begin() + 64, starts.end());
  const nn::TimedAugmenter aug(s.vocab, kAll, 42);
  auto task = [&](bool augmented) {
    return nn::ChopinTask(net, {&s.ids, train, &s.ids, heldout, T, augmented ? aug : nn::TimedAugmenter()}, true, 16,
                          Device::CPU, [] { return nlohmann::json::object(); });
  };
  nn::ChopinTask plain = task(false), augmented = task(true);
  const std::vector<int64_t> batch = {5, 0, 63, 17};
  for (const bool all_positions : {true, false}) {
    CAPTURE(all_positions);
    // The step's loss is the loss of the rows augmented by hand with (epoch, index in the training windows).
    std::vector<int64_t> starts_b;
    for (const int64_t i : batch) starts_b.push_back(train[static_cast<size_t>(i)]);
    std::vector<int64_t> rows = nn::window_rows(s.ids, starts_b, T);
    const std::vector<int64_t> unchanged = rows;
    for (size_t b = 0; b < batch.size(); ++b)
      aug.augment(std::span(rows).subspan(b * (T + 1), T + 1), 2, batch[b]);
    CHECK(rows != unchanged);
    nn::ChopinTask t_aug(net, {&s.ids, train, &s.ids, heldout, T, aug}, all_positions, 16, Device::CPU,
                         [] { return nlohmann::json::object(); });
    nn::ChopinTask t_plain(net, {&s.ids, train, &s.ids, heldout, T, {}}, all_positions, 16, Device::CPU,
                           [] { return nlohmann::json::object(); });
    auto loss_of = [&](const std::vector<int64_t>& r) {
      auto [x, y] = nn::rows_batch(net, r, T, Device::CPU, all_positions);
      const int64_t B = static_cast<int64_t>(batch.size());
      return all_positions ? cross_entropy(net.forward_all(x).reshape({B * T, c.vocab}), y).item()
                           : cross_entropy(net.forward(x), y).item();
    };
    const double stepped = t_aug.step(batch, {.epoch = 2, .step = 0}).loss.item();
    CHECK(stepped == loss_of(rows));
    CHECK(stepped != loss_of(unchanged));
    CHECK(t_plain.step(batch, {.epoch = 2, .step = 0}).loss.item() == loss_of(unchanged));
    // Another epoch, other draws.
    CHECK(t_aug.step(batch, {.epoch = 3, .step = 0}).loss.item() != stepped);
  }
  // Held-out evaluation never augments: the same metrics bit for bit.
  const nn::Evaluation e_plain = plain.evaluate(), e_aug = augmented.evaluate();
  CHECK(e_plain.metrics == e_aug.metrics);
  CHECK(e_plain.score == e_aug.score);
}
