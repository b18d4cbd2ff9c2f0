#pragma once
// Helpers for the kernels that the CUDA backend picks per shape by measuring
// (cuDNN's convolutions in cudnn_conv.h, the persistent LSTM recurrence in
// lstm.cu): time two candidates side by side, and check that they agree.
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

// True when MUSICGEN_KERNEL_LOG is set to something other than "" or "0":
// each choice is then printed on stderr, one line per shape.
bool kernel_log_enabled();

}  // namespace mg::cuda
