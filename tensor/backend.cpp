#include "tensor/backend.h"

namespace mg {

Backend& backend_for(Device device) {
  if (device == Device::CPU) return cpu_backend();
#if defined(MUSICGEN_WITH_CUDA)
  return cuda_backend();
#else
  fail("--device cuda: this musicgen was built without CUDA (nvcc was not found at configure time)");
#endif
}

#if !defined(MUSICGEN_WITH_CUDA)
bool cuda_available() { return false; }
#endif

}  // namespace mg
