// apps/common/ordered_map.h: results committed in the order of i whatever
// order the threads finish in, and an exception from either side rethrown.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "apps/common/ordered_map.h"

using mg::app::map_in_order;

TEST_CASE("map_in_order commits every result in order, on 1 and 3 threads") {
  for (int threads : {1, 3}) {
    CAPTURE(threads);
    std::vector<std::string> got;
    map_in_order(
        50, threads, 4,
        [](size_t i) {
          // Later items finish first, so the order is the map's doing.
          std::this_thread::sleep_for(std::chrono::microseconds(50 * (i % 5 == 0 ? 20 : 1)));
          return std::to_string(i * i);
        },
        [&](std::string&& s) { got.push_back(std::move(s)); });
    REQUIRE(got.size() == 50);
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == std::to_string(i * i));
  }
}

TEST_CASE("map_in_order rethrows an exception from a worker or from commit, after committing only what came before") {
  for (int threads : {1, 3}) {
    CAPTURE(threads);
    std::vector<size_t> got;
    std::atomic<size_t> made{0};
    auto make = [&](size_t i) {
      if (i == 7) throw std::runtime_error("item 7");
      ++made;
      return i;
    };
    try {
      map_in_order(1000, threads, 6, make, [&](size_t&& i) { got.push_back(i); });
      FAIL("no exception");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()) == "item 7");
    }
    CHECK(got.size() <= 7);
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == i);
    CHECK(made <= 7 + 6 - 1);  // the workers stopped: none took an item `ahead` past the last commit

    got.clear();
    auto commit = [&](size_t&& i) {
      if (i == 3) throw std::runtime_error("commit 3");
      got.push_back(i);
    };
    CHECK_THROWS_WITH(map_in_order(1000, threads, 6, [](size_t i) { return i; }, commit), "commit 3");
    CHECK(got == std::vector<size_t>{0, 1, 2});
  }
}
