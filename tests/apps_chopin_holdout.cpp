// chopin-lstm train --holdout pieces: which pieces are held out, and that
// none of their tokens is left in the training stream while every window of
// each stream is used.
#include <doctest/doctest.h>

#include <numeric>
#include <string>
#include <vector>

#include "apps/chopin-lstm/corpus.h"
#include "tensor/error.h"

namespace {

// A corpus of pieces with the given lengths; token t of piece p is 1000 p + t,
// so every token names its piece.
chopin::Corpus corpus_of(const std::vector<int64_t>& lengths) {
  chopin::Corpus c;
  c.source = "test corpus";
  for (size_t p = 0; p < lengths.size(); ++p) {
    for (int64_t t = 0; t < lengths[p]; ++t) c.ids.push_back(1000 * static_cast<int64_t>(p) + t);
    c.piece_ends.push_back(static_cast<int64_t>(c.ids.size()));
    c.files.push_back("piece" + std::to_string(p) + ".mid");
  }
  return c;
}

int64_t piece_of(int64_t id) { return id / 1000; }

}  // namespace

TEST_CASE("held-out pieces: every sixth from the fourth, the last one of a short corpus, none of one piece") {
  CHECK(chopin::heldout_piece_numbers(48) == std::vector<size_t>{3, 9, 15, 21, 27, 33, 39, 45});
  CHECK(chopin::heldout_piece_numbers(16) == std::vector<size_t>{3, 9, 15});
  CHECK(chopin::heldout_piece_numbers(10) == std::vector<size_t>{3, 9});
  CHECK(chopin::heldout_piece_numbers(9) == std::vector<size_t>{3});
  CHECK(chopin::heldout_piece_numbers(4) == std::vector<size_t>{3});
  CHECK(chopin::heldout_piece_numbers(3) == std::vector<size_t>{2});
  CHECK(chopin::heldout_piece_numbers(2) == std::vector<size_t>{1});
  CHECK(chopin::heldout_piece_numbers(1).empty());
  CHECK(chopin::heldout_piece_numbers(0).empty());
}

TEST_CASE("hold_out_pieces: the held-out pieces leave the training stream whole, every window of each stream is used") {
  const std::vector<int64_t> lengths = {50, 61, 70, 83, 90, 57, 66, 75, 52, 64};  // pieces 3 and 9 held out
  chopin::Corpus c = corpus_of(lengths);
  const int64_t total = c.piece_ends.back();
  const int64_t seq_len = 8;
  chopin::Split split = chopin::split_windows(total, seq_len, 42);
  const chopin::PieceHoldout held = chopin::hold_out_pieces(c, seq_len, split);

  REQUIRE(held.pieces.size() == 2);
  CHECK(held.names == std::vector<std::string>{"piece3.mid", "piece9.mid"});
  CHECK(static_cast<int64_t>(held.pieces[0].size()) == lengths[3]);
  CHECK(static_cast<int64_t>(held.pieces[1].size()) == lengths[9]);
  CHECK(static_cast<int64_t>(held.ids.size()) == lengths[3] + lengths[9]);
  for (size_t i = 0; i < held.ids.size(); ++i) {
    const int64_t expected_piece = i < static_cast<size_t>(lengths[3]) ? 3 : 9;
    CHECK(piece_of(held.ids[i]) == expected_piece);
  }
  // The training stream: the other pieces, in order and whole.
  std::vector<int64_t> expected;
  for (size_t p = 0; p < lengths.size(); ++p)
    if (p != 3 && p != 9)
      for (int64_t t = 0; t < lengths[p]; ++t) expected.push_back(1000 * static_cast<int64_t>(p) + t);
  CHECK(c.ids == expected);
  CHECK(static_cast<int64_t>(c.ids.size()) + static_cast<int64_t>(held.ids.size()) == total);
  // Every window of each stream, in order: [0, size - seq_len).
  REQUIRE(static_cast<int64_t>(split.train.size()) == static_cast<int64_t>(c.ids.size()) - seq_len);
  REQUIRE(static_cast<int64_t>(split.heldout.size()) == static_cast<int64_t>(held.ids.size()) - seq_len);
  for (size_t i = 0; i < split.train.size(); ++i) CHECK(split.train[i] == static_cast<int64_t>(i));
  for (size_t i = 0; i < split.heldout.size(); ++i) CHECK(split.heldout[i] == static_cast<int64_t>(i));
}

TEST_CASE("hold_out_pieces refuses one piece, and held-out or training music shorter than a window") {
  {
    chopin::Corpus one = corpus_of({500});
    chopin::Split split;
    CHECK_THROWS_WITH_AS(chopin::hold_out_pieces(one, 8, split),
                         doctest::Contains("--holdout pieces: test corpus holds one piece"), mg::Error);
  }
  {
    chopin::Corpus short_held = corpus_of({400, 400, 400, 8});  // piece 3, held out, is one window long: no next token
    chopin::Split split;
    CHECK_THROWS_WITH_AS(chopin::hold_out_pieces(short_held, 8, split),
                         doctest::Contains("--holdout pieces: 8 held-out and 1200 training tokens in test corpus; each needs more than one window of 8 (use --holdout windows"), mg::Error);
  }
  {
    chopin::Corpus short_train = corpus_of({4, 3, 500});  // piece 2 held out, 7 training tokens
    chopin::Split split;
    CHECK_THROWS_WITH_AS(chopin::hold_out_pieces(short_train, 8, split),
                         doctest::Contains("500 held-out and 7 training tokens"), mg::Error);
  }
}
