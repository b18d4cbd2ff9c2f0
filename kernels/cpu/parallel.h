#pragma once
// The CPU backend's own thread pool.
//
// Why not OpenMP: its threads spin at every barrier and split work statically,
// so when another process takes a core the whole team waits for the one
// thread that lost its CPU (training at 2 threads fell below 1 thread on a
// busy 2-core machine). Here every parallel call is a list of tasks that the
// calling thread and the workers claim one at a time from an atomic counter:
// a thread that is descheduled simply claims fewer tasks. Idle workers spin
// for a short while (back-to-back calls are common) and then sleep on a
// futex, so a busy machine gets its core back.
//
// Results never depend on the number of threads: a task computes the same
// elements with the same arithmetic whichever thread runs it.
#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace mg::cpu {

// A non-owning reference to a callable void(int64_t), cheap to pass by value.
class TaskRef {
 public:
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, TaskRef>)
  TaskRef(F& f) : obj_(static_cast<void*>(&f)), call_([](void* o, int64_t i) { (*static_cast<F*>(o))(i); }) {}
  void operator()(int64_t i) const { call_(obj_, i); }

 private:
  void* obj_;
  void (*call_)(void*, int64_t);
};

// Threads the pool uses (the caller included). Defaults to the CPUs this
// process may run on.
int num_threads();
// n >= 1 sets the count; n = 0 restores the default (all available CPUs).
void set_num_threads(int n);
// CPUs in this process's affinity mask.
int available_cpus();

// Runs task(i) for i in [0, ntasks), spread over the pool; returns when all
// are done. Nested calls from inside a task run serially on that thread.
void run_tasks(int64_t ntasks, TaskRef task);

// Splits [0, n) into chunks of at least `grain` elements (a few per thread, so
// a slow thread can be compensated) and calls f(begin, end) on each.
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  const int64_t threads = num_threads();
  if (threads == 1 || n <= grain) {
    f(int64_t{0}, n);
    return;
  }
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, 4 * threads);
  const int64_t size = (n + chunks - 1) / chunks;
  chunks = (n + size - 1) / size;
  auto body = [&](int64_t c) { f(c * size, std::min(n, (c + 1) * size)); };
  run_tasks(chunks, TaskRef(body));
}

// f(r) for every row r of `rows`, each costing about `row_cost` element
// operations: in parallel once the total is worth a thread (2^15 operations).
template <typename F>
void each_row(int64_t rows, int64_t row_cost, F&& f) {
  parallel_for(rows, std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(row_cost, 1)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r) f(r);
               });
}

// How many times run_tasks handed work to the pool since the process started
// (a benchmark reports the count per training step).
int64_t parallel_dispatches();

}  // namespace mg::cpu
