// The pieces of data-parallel training that one process can check: a rank's
// random draws are its rows of the whole batch's draw, the split of a batch
// among ranks, and the single-process identities (the programs under mpirun
// are tested in app_distributed.cpp).
#include <doctest/doctest.h>

#include <string>

#include "io/checksum.h"
#include "models/distributed.h"
#include "tensor/rng.h"

using namespace mg;

namespace {

std::vector<float> rows_of(const std::vector<float>& all, int64_t cols, int64_t begin, int64_t end) {
  return {all.begin() + begin * cols, all.begin() + end * cols};
}

}  // namespace

TEST_CASE("a rank's dropout and noise draws are its rows of the whole batch's draw, and the generator moves as one") {
  for (const bool normal : {false, true}) {
    auto draw = [normal](const Shape& s) { return (normal ? randn(s) : rand(s)).to_vector<float>(); };
    const int64_t rows = 10, cols = 7;
    manual_seed(31);
    default_generator().advance(5);  // a draw in the middle of a stream
    const std::vector<float> whole = draw({rows, cols, 1});
    const uint64_t after_whole = default_generator().offset;
    const std::vector<float> next_whole = draw({3, 2});
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 4}, {4, 10}, {3, 4}, {0, 10}}) {
      manual_seed(31);
      default_generator().advance(5);
      batch_rows() = {rows, begin, end};
      const std::vector<float> part = draw({end - begin, cols, 1});
      CHECK(default_generator().offset == after_whole);
      // A draw whose first dimension is not the rank's rows is every rank's, unchanged.
      const std::vector<float> next = draw({3, 2});
      batch_rows() = {};
      INFO("rows " << begin << ".." << end << (normal ? " normal" : " uniform"));
      CHECK(part == rows_of(whole, cols, begin, end));
      if (end - begin != 3) CHECK(next == next_whole);
    }
  }
}

TEST_CASE("a batch splits among ranks into contiguous parts that differ by at most one example") {
  for (int64_t rows : {1, 2, 7, 10, 256}) {
    for (int size : {1, 2, 3, 8}) {
      int64_t at = 0, smallest = rows, largest = 0;
      for (int r = 0; r < size; ++r) {
        const nn::dist::RowRange part = nn::dist::rank_rows(rows, r, size);
        CHECK(part.begin == at);
        at = part.end;
        smallest = std::min(smallest, part.end - part.begin);
        largest = std::max(largest, part.end - part.begin);
      }
      CHECK(at == rows);
      CHECK(largest - smallest <= 1);
    }
  }
}

TEST_CASE("one process: the all-reduce and the batch mean are the plain ones, and nothing is compared") {
  REQUIRE_FALSE(nn::dist::world().distributed());
  CHECK(nn::dist::world().rank() == 0);
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3, 1});
  CHECK(nn::dist::all_reduce_sum(x).to_vector<float>() == x.to_vector<float>());
  CHECK(nn::dist::batch_mean(x, {0, 2}).to_vector<float>() == mean(x, {0, 2}).to_vector<float>());
  CHECK(nn::dist::batch_count(2) == 2);
  nn::dist::require_same({{"--lr", "0.01"}}, "flags");  // nothing to compare with
  double v[2] = {1.5, -2};
  nn::dist::world().all_reduce_sum(v, 2, "values");
  CHECK(v[0] == 1.5);
  CHECK(v[1] == -2);
  CHECK(nn::dist::world().all_gather("x", "a string") == std::vector<std::string>{"x"});
}

TEST_CASE("FNV-1a 64 of the published test vectors") {
  CHECK(io::fnv1a64("", 0) == 0xcbf29ce484222325ULL);
  CHECK(io::fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
  CHECK(io::fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
}
