#pragma once
// What the CUDA backend shares between the places where it picks, per shape,
// between its own kernels and an alternative by measuring (cuDNN's
// convolutions in cudnn_conv.h, the persistent LSTM recurrence in lstm.cu):
// the environment switch, and the first call's check and timing.
#include <functional>
#include <utility>

#include "tensor/tensor.h"

namespace mg::cuda {

// Medians of n interleaved timings (f, g, f, g, ...) of two functions that
// queue work on the default stream, in milliseconds.
std::pair<double, double> time_interleaved(const std::function<void()>& f, const std::function<void()>& g, int n);

// max |a - b| / max |a| over two tensors of one shape on any device
// (infinity when b holds a NaN or an infinity).
double relative_difference(const Tensor& a, const Tensor& b);

// An alternative's switch: auto (or unset) measures, `alternative` always
// uses it where it can run, `ours` never does. Anything else is an error
// naming the variable.
enum class KernelChoice { Auto, Alternative, Ours };
KernelChoice kernel_choice_from_env(const char* name, const char* alternative, const char* ours);

// The first call of a shape. `alternative` computes the result into scratch
// (false: it cannot run here) and runs first, so that it may read inputs that
// `ours`, which computes the caller's result, then overwrites. When the two
// agree (`difference` <= tolerance), `time_ours` and `time_alternative` run
// `rounds` times interleaved and the faster wins.
struct Measurement {
  bool use_alternative = false;
  double difference = 0, ms_ours = 0, ms_alternative = 0;
};
Measurement measure_alternative(const std::function<bool()>& alternative, const std::function<void()>& ours,
                                const std::function<double()>& difference, double tolerance,
                                const std::function<void()>& time_ours,
                                const std::function<void()>& time_alternative, int rounds);

// True when MUSICGEN_KERNEL_LOG is set to something other than "" or "0":
// each choice is then printed on stderr, one line per shape.
bool kernel_log_enabled();

}  // namespace mg::cuda
