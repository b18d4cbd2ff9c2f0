#pragma once
// Registers one doctest case per op-table entry at start-up, so that
// `ctest -N` lists "gradcheck <op>" (and "cuda parity <op>") for every op
// without a hand-written TEST_CASE per op.
#include <doctest/doctest.h>

#include <array>
#include <deque>
#include <string>
#include <utility>

#include "op_table.h"

namespace mg::test {

constexpr size_t kMaxOps = 96;

// doctest stores plain function pointers, so each table row gets its own
// instantiation run_row<Suite, I> that forwards to Suite::run(I).
template <typename Suite, size_t I>
void run_row() {
  Suite::run(op_table()[I]);
}

template <typename Suite, size_t... Is>
constexpr std::array<void (*)(), sizeof...(Is)> make_runners(std::index_sequence<Is...>) {
  return {&run_row<Suite, Is>...};
}

template <typename Suite>
int register_op_suite(const char* prefix, const char* file) {
  static constexpr auto runners = make_runners<Suite>(std::make_index_sequence<kMaxOps>{});
  static std::deque<std::string> names;  // doctest keeps the char pointers
  const auto& table = op_table();
  if (table.size() > kMaxOps) throw std::runtime_error("op table larger than kMaxOps");
  for (size_t i = 0; i < table.size(); ++i) {
    names.push_back(std::string(prefix) + " " + table[i].op);
    doctest::detail::regTest(doctest::detail::TestCase(runners[i], file, static_cast<unsigned>(i + 1),
                                                       doctest_detail_test_suite_ns::getCurrentTestSuite()) *
                             names.back().c_str());
  }
  return 0;
}

}  // namespace mg::test
