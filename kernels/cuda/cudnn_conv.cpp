// cuDNN for the convolution products, chosen per shape (see cudnn_conv.h).
// B = batch, C = input channels, L = length, Cout = output channels,
// K = kernel, T = output length; as NCHW with H = 1: x [B, C, 1, L],
// w [Cout, C, 1, K], y [B, Cout, 1, T].
#include "kernels/cuda/cudnn_conv.h"

#include <algorithm>
#include <climits>
#include <cstdio>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/measure.h"

#if defined(MUSICGEN_WITH_CUDNN)
#include <cudnn.h>
#include <dlfcn.h>
#endif

namespace mg::cuda {

namespace {

const char* product_name(ConvProduct p) {
  switch (p) {
    case ConvProduct::Forward: return "forward";
    case ConvProduct::BackwardData: return "backward data";
    case ConvProduct::BackwardFilter: return "backward filter";
  }
  return "?";
}

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

}  // namespace

#if defined(MUSICGEN_WITH_CUDNN)

// The entry points used, looked up in libcudnn.so.9 by name.
#define MG_CUDNN_FUNCTIONS(X)                       \
  X(cudnnGetVersion)                                \
  X(cudnnGetErrorString)                            \
  X(cudnnCreate)                                    \
  X(cudnnCreateTensorDescriptor)                    \
  X(cudnnSetTensor4dDescriptor)                     \
  X(cudnnDestroyTensorDescriptor)                   \
  X(cudnnCreateFilterDescriptor)                    \
  X(cudnnSetFilter4dDescriptor)                     \
  X(cudnnDestroyFilterDescriptor)                   \
  X(cudnnCreateConvolutionDescriptor)               \
  X(cudnnSetConvolution2dDescriptor)                \
  X(cudnnSetConvolutionMathType)                    \
  X(cudnnDestroyConvolutionDescriptor)              \
  X(cudnnGetConvolution2dForwardOutputDim)          \
  X(cudnnFindConvolutionForwardAlgorithm)           \
  X(cudnnGetConvolutionForwardWorkspaceSize)        \
  X(cudnnConvolutionForward)                        \
  X(cudnnFindConvolutionBackwardDataAlgorithm)      \
  X(cudnnGetConvolutionBackwardDataWorkspaceSize)   \
  X(cudnnConvolutionBackwardData)                   \
  X(cudnnFindConvolutionBackwardFilterAlgorithm)    \
  X(cudnnGetConvolutionBackwardFilterWorkspaceSize) \
  X(cudnnConvolutionBackwardFilter)

struct CudnnConv::Api {
  void* lib = nullptr;
  cudnnHandle_t handle = nullptr;
  size_t version = 0;
#define MG_CUDNN_POINTER(name) decltype(&::name) name = nullptr;
  MG_CUDNN_FUNCTIONS(MG_CUDNN_POINTER)
#undef MG_CUDNN_POINTER
};

// Workspace above this is not worth it for layers this size.
constexpr size_t kMaxWorkspace = size_t{256} << 20;

struct CudnnConv::Plan {
  std::string name;  // the shape, for messages
  ConvProduct product{};
  DType dtype{};
  bool chosen = false;    // measured (auto), forced (on), or not expressible in cuDNN
  bool use_cudnn = false;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;
  size_t workspace = 0;
  Api* api = nullptr;

  ~Plan() {
    if (!api) return;
    if (x) api->cudnnDestroyTensorDescriptor(x);
    if (y) api->cudnnDestroyTensorDescriptor(y);
    if (w) api->cudnnDestroyFilterDescriptor(w);
    if (conv) api->cudnnDestroyConvolutionDescriptor(conv);
  }
};

CudnnConv::CudnnConv()
    : mode_(kernel_choice_from_env("MUSICGEN_CUDNN", "on", "off")), log_(kernel_log_enabled()) {}

// Like the backend that owns it, never destroyed: the library stays loaded
// and the handle open until the process ends.
CudnnConv::~CudnnConv() = default;

bool CudnnConv::load_library() {
  if (tried_library_) return api_ != nullptr;
  tried_library_ = true;
  if (mode_ == KernelChoice::Ours) {
    unavailable_ = "off (MUSICGEN_CUDNN=off)";
    return false;
  }
  auto give_up = [&](std::string why) {
    unavailable_ = std::move(why);
    api_.reset();
    if (mode_ == KernelChoice::Alternative) fail("MUSICGEN_CUDNN=on: {}", unavailable_);
    if (log_) std::fprintf(stderr, "cudnn: not in use: %s\n", unavailable_.c_str());
    return false;
  };
  void* lib = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return give_up(fmt::format("cannot load libcudnn.so.9 ({})", dlerror()));
  api_ = std::make_unique<Api>();
  api_->lib = lib;
#define MG_CUDNN_LOOKUP(name)                                          \
  api_->name = reinterpret_cast<decltype(&::name)>(dlsym(lib, #name)); \
  if (!api_->name) return give_up("libcudnn.so.9 has no " #name);
  MG_CUDNN_FUNCTIONS(MG_CUDNN_LOOKUP)
#undef MG_CUDNN_LOOKUP
  api_->version = api_->cudnnGetVersion();
  if (api_->version < 90000 || api_->version >= 100000)
    return give_up(fmt::format("libcudnn.so.9 reports version {}, expected 9.x", api_->version));
  return true;
}

bool CudnnConv::load() {
  if (!load_library()) return false;
  if (!tried_handle_) {
    tried_handle_ = true;
    const cudnnStatus_t st = api_->cudnnCreate(&api_->handle);  // on the default stream, like every kernel here
    if (st != CUDNN_STATUS_SUCCESS) {
      unavailable_ = fmt::format("cudnnCreate: {}", api_->cudnnGetErrorString(st));
      if (mode_ == KernelChoice::Alternative) fail("MUSICGEN_CUDNN=on: {}", unavailable_);
      if (log_) std::fprintf(stderr, "cudnn: not in use: %s\n", unavailable_.c_str());
    }
  }
  return api_->handle != nullptr;
}

std::string CudnnConv::set_descriptors(Plan& p, const Conv1dGeometry& g, int64_t out_channels, DType dtype,
                                       int (&dims)[4]) {
  Api& a = *api_;
  p.api = api_.get();
  const cudnnDataType_t dt = dtype == DType::F32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
  const int B = static_cast<int>(g.batch), C = static_cast<int>(g.channels), L = static_cast<int>(g.length);
  const int Co = static_cast<int>(out_channels), To = static_cast<int>(g.out_length());
  const int K = static_cast<int>(g.kernel);
  cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
  auto ok = [&](cudnnStatus_t s) {
    st = s;
    return s == CUDNN_STATUS_SUCCESS;
  };
  if (!ok(a.cudnnCreateTensorDescriptor(&p.x)) || !ok(a.cudnnCreateTensorDescriptor(&p.y)) ||
      !ok(a.cudnnCreateFilterDescriptor(&p.w)) || !ok(a.cudnnCreateConvolutionDescriptor(&p.conv)) ||
      !ok(a.cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, dt, B, C, 1, L)) ||
      !ok(a.cudnnSetFilter4dDescriptor(p.w, dt, CUDNN_TENSOR_NCHW, Co, C, 1, K)) ||
      !ok(a.cudnnSetConvolution2dDescriptor(p.conv, 0, static_cast<int>(g.pad_left), 1, static_cast<int>(g.stride),
                                            1, static_cast<int>(g.dilation), CUDNN_CROSS_CORRELATION, dt)) ||
      // Plain FMA arithmetic: TF32 tensor cores would move float32 results by ~1e-3.
      !ok(a.cudnnSetConvolutionMathType(p.conv, CUDNN_FMA_MATH)))
    return fmt::format("descriptor: {}", a.cudnnGetErrorString(st));
  if (!ok(a.cudnnGetConvolution2dForwardOutputDim(p.conv, p.x, p.w, &dims[0], &dims[1], &dims[2], &dims[3])))
    return fmt::format("output size: {}", a.cudnnGetErrorString(st));
  // y as we lay it out; the check that cuDNN agrees is the caller's.
  if (!ok(a.cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, dt, B, Co, 1, std::max(To, 1))))
    return fmt::format("descriptor: {}", a.cudnnGetErrorString(st));
  return "";
}

std::optional<int64_t> CudnnConv::output_length(const Conv1dGeometry& g, int64_t out_channels, DType dtype) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!load_library()) return std::nullopt;
  Plan p;
  int dims[4] = {};
  const std::string err = set_descriptors(p, g, out_channels, dtype, dims);
  MG_CHECK(err.empty(), "cuDNN: {}", err);
  return dims[3];
}

std::string CudnnConv::describe() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!load()) return unavailable_;
  const size_t v = api_->version;
  return fmt::format("cuDNN {}.{}.{} ({})", v / 10000, v % 10000 / 100, v % 100,
                     mode_ == KernelChoice::Alternative ? "on" : "auto");
}

CudnnConv::Plan* CudnnConv::plan_for(ConvProduct product, const Conv1dGeometry& g, const Tensor& w_shape,
                                     DType dtype) {
  const int64_t Cout = w_shape.size(0), T = g.out_length();
  const std::string key =
      fmt::format("{} {} [{}, {}, {}] -> [{}, {}] k{} s{} p{}/{} d{}", product_name(product), dtype_name(dtype),
                  g.batch, g.channels, g.length, Cout, T, g.kernel, g.stride, g.pad_left, g.pad_right, g.dilation);
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second.get();
  auto plan = std::make_unique<Plan>();
  plan->name = key;
  plan->product = product;
  plan->dtype = dtype;
  Plan* p = plan.get();
  plans_.emplace(key, std::move(plan));

  // Shapes cuDNN's API cannot express go to our kernels quietly; cuDNN
  // failing on one it can express is an error when MUSICGEN_CUDNN=on.
  auto unsupported = [&](const std::string& why, bool failure = false) {
    if (failure && mode_ == KernelChoice::Alternative) fail("MUSICGEN_CUDNN=on: {}: {}", key, why);
    if (log_) std::fprintf(stderr, "cudnn: %s: ours (%s)\n", key.c_str(), why.c_str());
    p->chosen = true;
    return p;
  };
  if (g.pad_left != g.pad_right) return unsupported("asymmetric padding");
  if (dtype != DType::F32 && dtype != DType::F64) return unsupported("dtype");
  for (int64_t v : {g.batch, g.channels, g.length, Cout, T, g.kernel, g.stride, g.pad_left, g.dilation})
    if (!fits_int(v)) return unsupported("sizes beyond int");
  if (!fits_int(g.batch * g.channels * g.length) || !fits_int(g.batch * Cout * T)) return unsupported("too large");

  int dims[4] = {};
  const std::string err = set_descriptors(*p, g, Cout, dtype, dims);
  if (!err.empty()) return unsupported(err, true);
  if (dims[0] != g.batch || dims[1] != Cout || dims[2] != 1 || dims[3] != T)
    return unsupported("cuDNN computes another output length", true);

  Api& a = *api_;
  cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
  auto ok = [&](cudnnStatus_t s) {
    st = s;
    return s == CUDNN_STATUS_SUCCESS;
  };
  // cuDNN times every algorithm it has for this shape (with its own buffers);
  // take the fastest deterministic one that succeeded within the workspace cap.
  bool found = false;
  auto pick = [&](const auto* perf, int n) {
    for (int i = 0; i < n && !found; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].determinism != CUDNN_DETERMINISTIC ||
          perf[i].memory > kMaxWorkspace)
        continue;
      p->algo = static_cast<int>(perf[i].algo);
      found = true;
    }
  };
  int n = 0;
  if (product == ConvProduct::Forward) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    if (ok(a.cudnnFindConvolutionForwardAlgorithm(a.handle, p->x, p->w, p->conv, p->y,
                                                  CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf)))
      pick(perf, n);
    if (found)
      ok(a.cudnnGetConvolutionForwardWorkspaceSize(a.handle, p->x, p->w, p->conv, p->y,
                                                   static_cast<cudnnConvolutionFwdAlgo_t>(p->algo), &p->workspace));
  } else if (product == ConvProduct::BackwardData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    if (ok(a.cudnnFindConvolutionBackwardDataAlgorithm(a.handle, p->w, p->y, p->conv, p->x,
                                                       CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf)))
      pick(perf, n);
    if (found)
      ok(a.cudnnGetConvolutionBackwardDataWorkspaceSize(a.handle, p->w, p->y, p->conv, p->x,
                                                        static_cast<cudnnConvolutionBwdDataAlgo_t>(p->algo),
                                                        &p->workspace));
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    if (ok(a.cudnnFindConvolutionBackwardFilterAlgorithm(a.handle, p->x, p->y, p->conv, p->w,
                                                         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf)))
      pick(perf, n);
    if (found)
      ok(a.cudnnGetConvolutionBackwardFilterWorkspaceSize(a.handle, p->x, p->y, p->conv, p->w,
                                                          static_cast<cudnnConvolutionBwdFilterAlgo_t>(p->algo),
                                                          &p->workspace));
  }
  cudaGetLastError();  // a failed search leaves nothing behind for the next kernel's check
  if (st != CUDNN_STATUS_SUCCESS)
    return unsupported(fmt::format("algorithm search: {}", a.cudnnGetErrorString(st)),
                       CUDNN_STATUS_CATEGORY(st) != CUDNN_STATUS_NOT_SUPPORTED);
  if (!found) return unsupported("no deterministic algorithm within the workspace cap");
  return p;
}

// out = product(a, b) (+ bias), through cuDNN with the plan's algorithm.
// False, with a message, when cuDNN reports an error.
bool CudnnConv::execute(const Plan& p, const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) {
  Api& api = *api_;
  CudaBackend& be = backend();
  void* ws = p.workspace ? be.allocate(p.workspace) : nullptr;
  const double one64 = 1, zero64 = 0;
  const float one32 = 1, zero32 = 0;
  const void* one = p.dtype == DType::F64 ? static_cast<const void*>(&one64) : static_cast<const void*>(&one32);
  const void* zero = p.dtype == DType::F64 ? static_cast<const void*>(&zero64) : static_cast<const void*>(&zero32);
  cudnnStatus_t st;
  switch (p.product) {
    case ConvProduct::Forward:  // a = x, b = w
      st = api.cudnnConvolutionForward(api.handle, one, p.x, a.data_ptr(), p.w, b.data_ptr(), p.conv,
                                       static_cast<cudnnConvolutionFwdAlgo_t>(p.algo), ws, p.workspace, zero, p.y,
                                       out.data_ptr());
      break;
    case ConvProduct::BackwardData:  // a = gy, b = w
      st = api.cudnnConvolutionBackwardData(api.handle, one, p.w, b.data_ptr(), p.y, a.data_ptr(), p.conv,
                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algo), ws, p.workspace, zero,
                                            p.x, out.data_ptr());
      break;
    default:  // BackwardFilter: a = x, b = gy
      st = api.cudnnConvolutionBackwardFilter(api.handle, one, p.x, a.data_ptr(), p.y, b.data_ptr(), p.conv,
                                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algo), ws, p.workspace,
                                              zero, p.w, out.data_ptr());
      break;
  }
  if (ws) be.deallocate(ws, p.workspace);  // later work on the default stream is ordered after this one
  if (st != CUDNN_STATUS_SUCCESS) {
    std::fprintf(stderr, "cudnn: %s: %s; using musicgen's kernels for this shape\n", p.name.c_str(),
                 api.cudnnGetErrorString(st));
    return false;
  }
  if (p.product == ConvProduct::Forward && bias.defined())
    be.binary(BinaryOp::Add, out, make_view(bias, out.shape(), {0, bias.strides()[0], 0}, bias.offset()), out);
  return true;
}

void CudnnConv::choose(Plan& p, const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out,
                       const std::function<void()>& ours) {
  p.chosen = true;
  if (mode_ == KernelChoice::Alternative) {
    p.use_cudnn = true;
    if (log_) std::fprintf(stderr, "cudnn: %s: cuDNN algo %d (MUSICGEN_CUDNN=on)\n", p.name.c_str(), p.algo);
    return;
  }
  // cuDNN's result into a second buffer, ours into out, then compared.
  constexpr double kTolerance32 = 1e-4, kTolerance64 = 1e-10;
  const double tol = p.dtype == DType::F64 ? kTolerance64 : kTolerance32;
  Tensor theirs = empty(out.shape(), out.dtype(), out.device());
  const Measurement m = measure_alternative(
      [&] { return execute(p, a, b, bias, theirs); }, ours, [&] { return relative_difference(out, theirs); }, tol,
      ours, [&] { execute(p, a, b, bias, theirs); }, 5);
  p.use_cudnn = m.use_alternative;
  if (!(m.difference <= tol))
    std::fprintf(stderr, "cudnn: %s: cuDNN algo %d differs from musicgen's kernels by %.3g (relative); using ours\n",
                 p.name.c_str(), p.algo, m.difference);
  else if (log_)
    std::fprintf(stderr, "cudnn: %s: ours %.4f ms, cuDNN algo %d %.4f ms (workspace %zu B, diff %.2g) -> %s\n",
                 p.name.c_str(), m.ms_ours, p.algo, m.ms_alternative, p.workspace, m.difference,
                 p.use_cudnn ? "cuDNN" : "ours");
}

void CudnnConv::run(ConvProduct product, const Conv1dGeometry& g, const Tensor& w_shape, const Tensor& a,
                    const Tensor& b, const Tensor& bias, const Tensor& out, const std::function<void()>& ours) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!load()) {
    lock.unlock();
    ours();
    return;
  }
  Plan* p = plan_for(product, g, w_shape, out.dtype());
  if (!p->chosen) {
    choose(*p, a, b, bias, out, ours);
    if (mode_ != KernelChoice::Alternative) return;  // measuring left our result in out
  }
  if (p->use_cudnn && execute(*p, a, b, bias, out)) return;
  if (p->use_cudnn && mode_ == KernelChoice::Alternative)
    fail("MUSICGEN_CUDNN=on: cuDNN failed on {}", p->name);
  p->use_cudnn = false;
  lock.unlock();
  ours();
}

#else  // built without cuDNN's headers

struct CudnnConv::Api {};
struct CudnnConv::Plan {};

CudnnConv::CudnnConv() : mode_(kernel_choice_from_env("MUSICGEN_CUDNN", "on", "off")) {
  if (mode_ == KernelChoice::Alternative) fail("MUSICGEN_CUDNN=on: this musicgen was built without cuDNN's headers");
}
CudnnConv::~CudnnConv() = default;
bool CudnnConv::load() { return false; }
std::string CudnnConv::describe() { return "not built (no cudnn.h at configure time)"; }
std::optional<int64_t> CudnnConv::output_length(const Conv1dGeometry&, int64_t, DType) { return std::nullopt; }
void CudnnConv::run(ConvProduct, const Conv1dGeometry&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                    const Tensor&, const std::function<void()>& ours) {
  ours();
}

#endif

}  // namespace mg::cuda
