// main() of every test program. CTest runs one test case per process; a case
// that cannot run here (no GPU, no shared data) calls test::skip(), and when
// every case a process ran was skipped it exits with kSkipExitCode, which
// tests/CMakeLists.txt tells CTest to report as "Skipped" rather than "Passed".
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "test_support.h"

namespace {

// Counts the test cases that start, beside doctest's own reporting.
struct CaseCounter : doctest::IReporter {
  explicit CaseCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { ++mg::test::skip_state().started; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("case-counter", 1, CaseCounter);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (context.shouldExit()) return status;
  const auto& s = mg::test::skip_state();
  if (status == 0 && s.started > 0 && s.skipped == s.started) return mg::test::kSkipExitCode;
  return status;
}
