#pragma once
// Helpers shared by the op files.
#include "autograd/ops.h"
#include "tensor/backend.h"

namespace mg::detail {

// Every input of one op must live on one device and share one dtype.
inline void check_same(const char* op, const Tensor& a, const Tensor& b) {
  MG_CHECK(a.device() == b.device(), "{}: tensors on different devices ({} and {})", op, device_name(a.device()),
           device_name(b.device()));
  MG_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch ({} and {})", op, dtype_name(a.dtype()),
           dtype_name(b.dtype()));
}

// The data of t, contiguous, without any autograd link (for kernels and saving).
inline Tensor plain(const Tensor& t) { return t.detach().contiguous(); }

// A stride-0 view of t broadcast to `shape` (no autograd record).
Tensor broadcast_view(const Tensor& t, const Shape& shape);

}  // namespace mg::detail
