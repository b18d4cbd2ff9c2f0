// The CUDA backend against the CPU reference.
//  - "cuda parity <op>": every op-table row, every variant, forward output and
//    every input gradient, from the same inputs on both devices, in float32
//    and float64.
//  - "cuda ...": direct kernel checks (GEMM layouts, random streams,
//    optimizer steps, the caching allocator, errors) and the ops again at
//    sizes that take more than one pass of a thread block.
// Without a GPU (or in a build without CUDA) every case says so and passes
// without asserting; only the error-message case still checks something.
#include <cmath>
#include <string>

#include "kernels/cpu/cpu_backend.h"
#include "op_registry.h"
#include "test_support.h"
#include "tensor/backend.h"
#if defined(MUSICGEN_WITH_CUDA)
#include "kernels/cuda/cuda_memory.h"
#include "kernels/cuda/cudnn_conv.h"
#endif

namespace {

using namespace mg;

bool skip_without_gpu() {
  if (cuda_available()) return false;
  test::skip("no CUDA GPU");
  return true;
}

// max |got - ref| <= tol (1 + max |ref|): relative to the reference's scale,
// so that one bound fits outputs near 0 and near 100. NaN never passes.
void check_close(const Tensor& got, const Tensor& ref, double tol, const std::string& what) {
  REQUIRE(got.shape() == ref.shape());
  const std::vector<double> a = got.to(Device::CPU).to(DType::F64).to_vector<double>();
  const std::vector<double> b = ref.to(Device::CPU).to(DType::F64).to_vector<double>();
  double scale = 0.0, diff = 0.0;
  bool finite = true;
  for (size_t i = 0; i < a.size(); ++i) {
    finite = finite && std::isfinite(a[i]) == std::isfinite(b[i]);
    scale = std::max(scale, std::abs(b[i]));
    diff = std::max(diff, std::abs(a[i] - b[i]));
  }
  INFO(what, ": max abs diff ", diff, " against scale ", scale);
  CHECK(finite);
  CHECK(diff <= tol * (1.0 + scale));
}

// Float32 results differ from the CPU's by rounding only (a few ulp from the
// math library, another summation order inside cuBLAS): far below 1e-4 of
// the scale at these sizes, while a wrong index or a missed element moves a
// value by O(1). Float64 runs the same code paths with the noise 1e9 times
// smaller, which separates "rounding" from "wrong" more sharply still.
double tolerance(DType dtype) { return dtype == DType::F32 ? 1e-4 : 1e-10; }

// Fixed output weights for the backward pass: sum(out * w) gives every
// output element its own gradient, the same on both devices.
Tensor output_weights(const Shape& shape, DType dtype) {
  Generator saved = default_generator();
  default_generator() = Generator{4242, 0};
  Tensor w = randn(shape, dtype);
  default_generator() = saved;
  return w;
}

struct Run {
  Tensor out;
  TensorList grads;
};

// Forward and backward of a variant on leaves that live on one device.
Run run_variant(const test::OpVariant& v, const TensorList& leaves) {
  Tensor out = v.fn(leaves);
  sum(mul(out, output_weights(out.shape(), out.dtype()).to(out.device()))).backward();
  Run r{out.detach(), {}};
  for (const Tensor& t : leaves) r.grads.push_back(t.grad());
  return r;
}

// The variant on the CPU, then on CUDA from copies of the same leaves.
void check_variant(const std::string& op, const test::OpVariant& v, DType dtype) {
  const std::string what = op + " [" + v.label + "] " + std::string(dtype_name(dtype));
  const TensorList cpu_leaves = test::make_inputs(v, 77, dtype, Device::CPU);
  TensorList gpu_leaves;
  for (const Tensor& t : cpu_leaves) {
    Tensor g = t.detach().to(Device::CUDA);
    g.requires_grad_(true);
    gpu_leaves.push_back(g);
  }
  const Run cpu = run_variant(v, cpu_leaves), gpu = run_variant(v, gpu_leaves);
  CHECK(gpu.out.device() == Device::CUDA);
  check_close(gpu.out, cpu.out, tolerance(dtype), what + " forward");
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    INFO(what, " input ", i);
    REQUIRE(cpu.grads[i].defined() == gpu.grads[i].defined());
    if (cpu.grads[i].defined())
      check_close(gpu.grads[i], cpu.grads[i], tolerance(dtype), what + " grad of input " + std::to_string(i));
  }
}

struct ParitySuite {
  static void run(const test::OpCase& c) {
    if (skip_without_gpu()) return;
    for (const auto& v : c.variants)
      for (DType dtype : {DType::F32, DType::F64}) check_variant(c.op, v, dtype);
  }
};

const int registered = test::register_op_suite<ParitySuite>("cuda parity", __FILE__);

GemmArgs gemm_layout(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t pad) {
  GemmArgs g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = 0.7;
  g.beta = 0.3;
  g.lda = (ta ? m : k) + pad;  // padded rows: ld larger than the row length
  g.ldb = (tb ? k : n) + pad;
  g.ldc = n + pad;
  return g;
}

}  // namespace

TEST_CASE("cuda gemm matches the reference in every transpose pair with batching and broadcast operands") {
  if (skip_without_gpu()) return;
  manual_seed(3);
  const int64_t m = 37, n = 53, k = 29, batch = 3, pad = 2;
  for (DType dtype : {DType::F32, DType::F64})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (int shared : {-1, 0, 1}) {  // -1: nothing shared; 0: A shared by the batch; 1: B shared
          GemmArgs g = gemm_layout(ta, tb, m, n, k, pad);
          g.dtype = dtype;
          g.batch = batch;
          const int64_t a_items = shared == 0 ? 1 : batch, b_items = shared == 1 ? 1 : batch;
          Tensor a = randn({a_items, ta ? k : m, g.lda}, dtype);
          Tensor b = randn({b_items, tb ? n : k, g.ldb}, dtype);
          Tensor c = randn({batch, m, g.ldc}, dtype);
          g.stride_a = shared == 0 ? 0 : a.size(1) * a.size(2);
          g.stride_b = shared == 1 ? 0 : b.size(1) * b.size(2);
          g.stride_c = m * g.ldc;
          Tensor ref = c.clone();
          g.a = a.data_ptr();
          g.b = b.data_ptr();
          g.c = ref.data_ptr();
          cpu::gemm_reference(g);
          Tensor ad = a.to(Device::CUDA), bd = b.to(Device::CUDA), cd = c.to(Device::CUDA);
          g.a = ad.data_ptr();
          g.b = bd.data_ptr();
          g.c = cd.data_ptr();
          backend_for(Device::CUDA).gemm(g);
          // The padding columns of C are compared too: they must be left alone.
          check_close(cd, ref, dtype == DType::F32 ? 1e-5 : 1e-12,
                      fmt::format("gemm {} ta={} tb={} shared={}", dtype_name(dtype), ta, tb, shared));
        }
}

TEST_CASE("cuda gemm with k = 0 scales C by beta") {
  if (skip_without_gpu()) return;
  GemmArgs g = gemm_layout(false, false, 4, 5, 0, 0);
  Tensor c = randn({4, 5}), ref = c.clone();
  Tensor cd = c.to(Device::CUDA);
  g.c = ref.data_ptr();
  cpu::gemm_reference(g);
  g.c = cd.data_ptr();
  backend_for(Device::CUDA).gemm(g);
  check_close(cd, ref, 1e-7, "gemm k = 0");
}

TEST_CASE("cuda random streams are bit-identical to the CPU's for a seed and offset") {
  if (skip_without_gpu()) return;
  const Shape shape{1 << 16};
  for (DType dtype : {DType::F32, DType::F64})
    for (int kind = 0; kind < 3; ++kind) {  // U[0, 1), U[-0.3, 0.7), N(0, 1)
      auto draw = [&](Device device) {
        default_generator() = Generator{11, 12345};
        if (kind == 0) return rand(shape, dtype, device);
        if (kind == 1) return uniform(shape, -0.3, 0.7, dtype, device);
        return randn(shape, dtype, device);
      };
      const std::vector<double> x = draw(Device::CPU).to(DType::F64).to_vector<double>();
      const std::vector<double> y = draw(Device::CUDA).to(DType::F64).to(Device::CPU).to_vector<double>();
      INFO(dtype_name(dtype), " kind ", kind);
      REQUIRE(x.size() == y.size());
      if (kind == 2 && dtype == DType::F64) {
        // Box-Muller's log and cos come from glibc on one side and CUDA's
        // math library (within 1-2 ulp) on the other: equal after rounding
        // to float32, not always in the last bit of a double.
        double worst = 0.0;
        for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]) / (1.0 + std::abs(x[i])));
        CHECK(worst <= 1e-14);
      } else {
        size_t mismatches = 0;
        for (size_t i = 0; i < x.size(); ++i) mismatches += x[i] != y[i];
        CHECK(mismatches == 0);
      }
    }
  manual_seed(0x5eed);
}

TEST_CASE("cuda optimizer steps match the CPU") {
  if (skip_without_gpu()) return;
  manual_seed(5);
  for (DType dtype : {DType::F32, DType::F64})
    for (int kind = 0; kind < 5; ++kind) {  // adam, adamax, sgd nesterov, sgd momentum, sgd without buffer
      const int64_t n = 1000;
      Tensor p = randn({n}, dtype), m = rand({n}, dtype), v = rand({n}, dtype);
      Tensor pd = p.to(Device::CUDA), md = m.to(Device::CUDA), vd = v.to(Device::CUDA);
      AdamArgs a;
      a.lr = 0.01;
      a.weight_decay = 0.01;
      for (int64_t step = 1; step <= 3; ++step) {
        a.step = step;
        Tensor g = randn({n}, dtype), gd = g.to(Device::CUDA);
        for (Backend* b : {&backend_for(Device::CPU), &backend_for(Device::CUDA)}) {
          const bool gpu = b->device() == Device::CUDA;
          const Tensor &pp = gpu ? pd : p, &mm = gpu ? md : m, &vv = gpu ? vd : v, &gg = gpu ? gd : g;
          if (kind == 0) b->adam_step(pp, gg, mm, vv, a);
          if (kind == 1) b->adamax_step(pp, gg, mm, vv, a);
          if (kind == 2) b->sgd_step(pp, gg, mm, 0.1, 0.9, 0.01, true);
          if (kind == 3) b->sgd_step(pp, gg, mm, 0.1, 0.9, 0.0, false);
          if (kind == 4) b->sgd_step(pp, gg, Tensor(), 0.1, 0.0, 0.01, false);
        }
      }
      const std::string what = fmt::format("optimizer {} {}", kind, dtype_name(dtype));
      const double tol = dtype == DType::F32 ? 1e-6 : 1e-13;
      check_close(pd, p, tol, what + " parameters");
      check_close(md, m, tol, what + " first state");
      check_close(vd, v, tol, what + " second state");
    }
}

TEST_CASE("cuda ops agree with the CPU at sizes beyond one thread block") {
  if (skip_without_gpu()) return;
  // Rows longer than a block (softmax, norms, sums) and outputs that take the
  // thread-per-output reduction: the op table's shapes fit in one pass.
  const std::vector<test::OpVariant> cases = {
      {"sum rows", {{40, 700}}, test::Init::Normal, [](const TensorList& in) { return sum(in[0], {1}); }},
      {"sum columns", {{300, 200}}, test::Init::Normal, [](const TensorList& in) { return sum(in[0], {0}, true); }},
      {"sum outer and inner", {{4, 150, 33}}, test::Init::Normal,
       [](const TensorList& in) { return sum(in[0], {0, 2}, true); }},
      {"sum transposed", {{300, 200}}, test::Init::Normal,
       [](const TensorList& in) { return sum(in[0].transpose(0, 1), {1}); }},
      {"softmax", {{6, 1500}}, test::Init::Normal, [](const TensorList& in) { return softmax(in[0], -1); }},
      {"log_softmax", {{6, 1500}}, test::Init::Normal, [](const TensorList& in) { return log_softmax(in[0], -1); }},
      {"cross_entropy", {{5, 600}}, test::Init::Normal,
       [](const TensorList& in) { return cross_entropy(in[0], test::targets_like(in[0], {0, 599, 17, 300, 599})); }},
      {"batch_norm1d", {{8, 3, 90}, {3}, {3}}, test::Init::Normal,
       [](const TensorList& in) {
         return batch_norm1d(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5);
       }},
      {"instance_norm1d", {{2, 3, 700}, {3}, {3}}, test::Init::Normal,
       [](const TensorList& in) { return instance_norm1d(in[0], in[1], in[2], 1e-5); }},
      {"conv1d", {{2, 8, 300}, {16, 8, 5}, {16}}, test::Init::Normal,
       [](const TensorList& in) { return conv1d(in[0], in[1], in[2], Conv1dOptions::same(300, 5, 2)); }},
      {"conv_transpose1d", {{2, 8, 150}, {8, 4, 4}, {4}}, test::Init::Normal,
       [](const TensorList& in) { return conv_transpose1d(in[0], in[1], in[2], 2, 1); }},
      // The jazz VAE's shapes with equal padding on both sides, which cuDNN
      // may take (kernels/cuda/cudnn_conv.h): a block's k3 convolution, the
      // latent's k1 head, a decoder block's k3 and upsampling k4 s2 transposes.
      {"conv1d block k3", {{3, 128, 54}, {128, 128, 3}, {128}}, test::Init::Normal,
       [](const TensorList& in) { return conv1d(in[0], in[1], in[2], Conv1dOptions::symmetric(1)); }},
      {"conv1d head k1", {{3, 256, 27}, {16, 256, 1}, {16}}, test::Init::Normal,
       [](const TensorList& in) { return conv1d(in[0], in[1], in[2], Conv1dOptions::symmetric(0)); }},
      {"conv_transpose1d block k3", {{3, 128, 54}, {128, 128, 3}, {128}}, test::Init::Normal,
       [](const TensorList& in) { return conv_transpose1d(in[0], in[1], in[2], 1, 1); }},
      {"conv_transpose1d up k4 s2", {{3, 256, 27}, {256, 128, 4}, {128}}, test::Init::Normal,
       [](const TensorList& in) { return conv_transpose1d(in[0], in[1], in[2], 2, 1); }},
      {"embedding rows", {{50, 64}}, test::Init::Normal,
       [](const TensorList& in) {
         std::vector<int64_t> ids;
         for (int64_t i = 0; i < 400; ++i) ids.push_back((i * 7) % 50);
         return index_select(in[0], test::targets_like(in[0], ids));
       }},
      {"lstm_recurrence", {{6, 4, 64}, {64, 16}, {4, 16}, {4, 16}}, test::Init::Normal,
       [](const TensorList& in) {
         auto [hs, c] = lstm_recurrence(in[0], in[1], in[2], in[3]);
         return add(sum(hs, {0}), c);
       }},
      // The seed network's two layers at batch 256 (fewer steps): the shapes
      // the persistent recurrence is tiled for (kernels/cuda/lstm_persistent.h).
      {"lstm_recurrence seed layer 1", {{3, 256, 2048}, {2048, 512}, {256, 512}, {256, 512}}, test::Init::Normal,
       [](const TensorList& in) {
         auto [hs, c] = lstm_recurrence(in[0], in[1], in[2], in[3]);
         return add(sum(hs, {0}), c);
       }},
      {"lstm_recurrence seed layer 2", {{3, 256, 1024}, {1024, 256}, {256, 256}, {256, 256}}, test::Init::Normal,
       [](const TensorList& in) {
         auto [hs, c] = lstm_recurrence(in[0], in[1], in[2], in[3]);
         return add(sum(hs, {0}), c);
       }},
  };
  for (const auto& v : cases)
    for (DType dtype : {DType::F32, DType::F64}) check_variant("large", v, dtype);
}

TEST_CASE("cuda strided copies convert dtypes and keep int64 exact") {
  if (skip_without_gpu()) return;
  manual_seed(9);
  Tensor x = randn({3, 4, 5, 6}, DType::F64);
  auto view_of = [](const Tensor& t) { return t.permute({2, 0, 3, 1}).slice(2, 1, 6, 2); };
  // One kernel: a strided float64 view on the device into a contiguous float32 tensor.
  Tensor on_gpu = empty(view_of(x).shape(), DType::F32, Device::CUDA);
  copy_(on_gpu, view_of(x.to(Device::CUDA)));
  check_close(on_gpu, view_of(x).contiguous().to(DType::F32), 0.0, "strided narrowing copy");
  Tensor back = x.to(DType::F32).to(Device::CUDA).to(DType::F64);  // F32 -> F64 on the device
  check_close(back, x.to(DType::F32).to(DType::F64), 0.0, "widening copy");
  std::vector<int64_t> ids{0, -5, int64_t{1} << 40, 7};
  Tensor i64 = from_vector(ids, {2, 2}, Device::CUDA).transpose(0, 1).contiguous();
  CHECK(i64.to_vector<int64_t>() == std::vector<int64_t>{0, int64_t{1} << 40, -5, 7});
}

TEST_CASE("cuda caching allocator reuses freed blocks") {
  if (skip_without_gpu()) return;
  void* first = nullptr;
  {
    Tensor t = empty({1000}, DType::F32, Device::CUDA);
    first = t.data_ptr();
  }
  Tensor again = empty({1000}, DType::F32, Device::CUDA);
  CHECK(again.data_ptr() == first);
#if defined(MUSICGEN_WITH_CUDA)
  // A "training step" allocating the same sizes: after the first, no cudaMalloc.
  auto step = [] {
    Tensor a = randn({257, 129}, DType::F32, Device::CUDA), b = randn({129, 300}, DType::F32, Device::CUDA);
    Tensor big = zeros({3 << 20}, DType::F32, Device::CUDA);
    return sum(matmul(a, b)).item() + sum(big).item();
  };
  step();
  const size_t mallocs = cuda::memory_stats().device_mallocs;
  for (int i = 0; i < 3; ++i) step();
  CHECK(cuda::memory_stats().device_mallocs == mallocs);
  cuda::empty_cache();
  CHECK(cuda::memory_stats().cached_bytes == 0);
#endif
}

TEST_CASE("cuda rejects out-of-range targets and indices with an error") {
  if (skip_without_gpu()) return;
  Tensor logits = randn({2, 5}, DType::F32, Device::CUDA);
  for (int64_t bad : {5, -1})
    CHECK_THROWS_AS(cross_entropy(logits, from_vector(std::vector<int64_t>{0, bad}, {2}, Device::CUDA)), mg::Error);
  CHECK_THROWS_AS(index_select(logits, from_vector(std::vector<int64_t>{2}, {1}, Device::CUDA)), mg::Error);
  // The device is still usable afterwards: nothing was launched with a bad index.
  CHECK(std::isfinite(sum(logits).item()));
}

TEST_CASE("cuda device errors are one-line mg::Error messages") {
  if (cuda_available()) {
    Tensor a = zeros({2, 2}), b = zeros({2, 2}, DType::F32, Device::CUDA);
    CHECK_THROWS_AS(add(a, b), mg::Error);
    return;
  }
  std::string message;
  try {
    zeros({2}, DType::F32, Device::CUDA);
  } catch (const mg::Error& e) {
    message = e.what();
  }
  INFO("message: ", message);
  CHECK(message.rfind("--device cuda: ", 0) == 0);
  CHECK(message.find('\n') == std::string::npos);
}

#if defined(MUSICGEN_WITH_CUDA)
TEST_CASE("cuDNN is told the convolution geometry of tensor/backend.h") {
  // The descriptors are host-side: this needs libcudnn.so.9, not a GPU. The
  // 1-D convolution goes to cuDNN as height 1, padded pad_left on both sides
  // (cudnn_conv.h sends only evenly padded shapes); cuDNN's output length must
  // be ours for every such geometry, or its results would be misplaced.
  const char* mode = std::getenv("MUSICGEN_CUDNN");
  if (mode && std::string(mode) == "off") return test::skip("MUSICGEN_CUDNN=off");
  cuda::CudnnConv conv;
  int checked = 0;
  for (int64_t length : {1, 2, 7, 27, 54, 216, 300})
    for (int64_t kernel : {1, 2, 3, 4, 5})
      for (int64_t stride : {1, 2, 3})
        for (int64_t pad : {0, 1, 2})
          for (int64_t dilation : {1, 2}) {
            const Conv1dGeometry g{2, 3, length, kernel, stride, pad, pad, dilation};
            if (g.out_length() < 1) continue;
            const std::optional<int64_t> n = conv.output_length(g, 5, DType::F32);
            if (!n) return test::skip("libcudnn.so.9 cannot be loaded");
            INFO("L ", length, " K ", kernel, " stride ", stride, " pad ", pad, " dilation ", dilation);
            CHECK(*n == g.out_length());
            ++checked;
          }
  CHECK(checked > 300);
  // float64 is described the same way.
  CHECK(conv.output_length(Conv1dGeometry{4, 128, 54, 3, 1, 1, 1, 1}, 128, DType::F64) == std::optional<int64_t>(54));
}
#endif
