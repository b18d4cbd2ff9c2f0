#pragma once
// map_in_order: a parallel map whose results are taken in order, as the two
// prepare commands use it (each file parsed or decoded on its own, the cache
// written on one thread in file-name order, so it is byte for byte the same
// for any number of threads).
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace mg::app {

// Calls make(i) for every i < n on `threads` threads, and commit(result)
// with each result on this thread in the order of i. At most `ahead` results
// wait for their turn, so memory does not grow with n. An exception from
// either side stops the workers (once their current make() returns) and is
// rethrown here. threads <= 1: everything on this thread.
template <class Make, class Commit>
void map_in_order(size_t n, int threads, size_t ahead, Make&& make, Commit&& commit) {
  using Result = std::invoke_result_t<Make&, size_t>;
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) commit(make(i));
    return;
  }
  ahead = std::max<size_t>(ahead, 1);
  std::mutex mutex;
  std::condition_variable made, room;
  std::vector<std::optional<Result>> slots(ahead);  // result i waits in slot i % ahead
  size_t next = 0, committed = 0;
  bool stop = false;
  std::exception_ptr failure;
  auto work = [&] {
    std::unique_lock lock(mutex);
    for (;;) {
      room.wait(lock, [&] { return stop || next >= n || next < committed + ahead; });
      if (stop || next >= n) return;
      const size_t i = next++;
      lock.unlock();
      std::optional<Result> result;
      try {
        result.emplace(make(i));
      } catch (...) {
        lock.lock();
        if (!failure) failure = std::current_exception();
        stop = true;
        made.notify_all();
        room.notify_all();
        return;
      }
      lock.lock();
      slots[i % ahead] = std::move(result);
      made.notify_all();
    }
  };
  auto stop_workers = [&] {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    room.notify_all();
  };
  std::vector<std::jthread> workers;
  try {
    for (int t = 0; t < threads; ++t) workers.emplace_back(work);
    for (size_t i = 0; i < n; ++i) {
      std::optional<Result> result;
      {
        std::unique_lock lock(mutex);
        made.wait(lock, [&] { return stop || slots[i % ahead].has_value(); });
        if (!slots[i % ahead]) break;  // a worker failed
        result.swap(slots[i % ahead]);
        committed = i + 1;
      }
      room.notify_all();
      commit(std::move(*result));
    }
  } catch (...) {
    stop_workers();
    throw;  // the workers are joined as `workers` goes
  }
  stop_workers();
  workers.clear();  // joins them
  if (failure) std::rethrow_exception(failure);
}

}  // namespace mg::app
