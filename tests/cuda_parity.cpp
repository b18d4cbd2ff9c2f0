// The CUDA backend against the CPU reference: every op-table row forward and
// backward in float32 (one "cuda parity <op>" test per op), plus direct kernel
// checks. Without a GPU every case says so and passes without asserting.
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "op_registry.h"
#include "tensor/backend.h"

namespace {

using namespace mg;

bool have_gpu() {
  if (cuda_available()) return true;
  MESSAGE("skipped: no CUDA GPU (or a build without CUDA)");
  return false;
}

// max |a - b| <= tol (1 + max |ref|): relative to the reference's scale.
void check_close(const Tensor& got, const Tensor& ref, double tol, const std::string& what) {
  REQUIRE(got.shape() == ref.shape());
  std::vector<double> a = got.to(Device::CPU).to_vector<double>(), b = ref.to_vector<double>();
  double scale = 0, diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(b[i]));
    diff = std::max(diff, std::abs(a[i] - b[i]));
  }
  INFO(what, ": max abs diff ", diff, " against scale ", scale);
  CHECK(diff <= tol * (1.0 + scale));
}

// Forward output and input gradients of a variant on one device.
struct Result {
  Tensor out;
  TensorList grads;
};

Result evaluate(const test::OpVariant& v, Device device) {
  TensorList in = test::make_inputs(v, 77, DType::F32, device);
  Tensor out = v.fn(in);
  Generator saved = default_generator();
  default_generator() = Generator{4242, 0};
  Tensor w = randn(out.shape(), DType::F32, device);  // the same weights on both devices
  default_generator() = saved;
  sum(mul(out, w)).backward();
  Result r{out.detach(), {}};
  for (const Tensor& t : in) r.grads.push_back(t.grad());
  return r;
}

struct ParitySuite {
  static void run(const test::OpCase& c) {
    if (!have_gpu()) return;
    // float32 on both sides; GEMM and convolutions sum long products in a
    // different order on the GPU, hence the looser bound than elementwise ops.
    const double tol = (c.op == "matmul" || c.op.find("conv") != std::string::npos || c.op == "lstm_cell") ? 1e-4 : 2e-5;
    for (const auto& v : c.variants) {
      Result cpu = evaluate(v, Device::CPU), gpu = evaluate(v, Device::CUDA);
      CHECK(gpu.out.device() == Device::CUDA);
      check_close(gpu.out, cpu.out, tol, c.op + " [" + v.label + "] forward");
      for (size_t i = 0; i < cpu.grads.size(); ++i) {
        if (!cpu.grads[i].defined()) continue;
        REQUIRE(gpu.grads[i].defined());
        check_close(gpu.grads[i], cpu.grads[i], tol, c.op + " [" + v.label + "] grad " + std::to_string(i));
      }
    }
  }
};

const int registered = test::register_op_suite<ParitySuite>("cuda parity", __FILE__);

}  // namespace

TEST_CASE("cuda gemm matches the reference in every transpose combination") {
  if (!have_gpu()) return;
  manual_seed(3);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t m = 37, n = 53, k = 29, batch = 3;
      Tensor a = ta ? randn({batch, k, m}) : randn({batch, m, k});
      Tensor b = tb ? randn({n, k}) : randn({k, n});  // shared across the batch (stride 0)
      Tensor c = randn({batch, m, n});
      GemmArgs g;
      g.trans_a = ta;
      g.trans_b = tb;
      g.m = m;
      g.n = n;
      g.k = k;
      g.alpha = 0.7;
      g.beta = 0.3;
      g.lda = ta ? m : k;
      g.stride_a = m * k;
      g.ldb = tb ? k : n;
      g.stride_b = 0;
      g.ldc = n;
      g.stride_c = m * n;
      g.batch = batch;
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
      check_close(cd, ref, 1e-5, "gemm");
    }
}

TEST_CASE("cuda random streams equal the CPU's for a seed") {
  if (!have_gpu()) return;
  for (bool normal : {false, true}) {
    manual_seed(11);
    Tensor a = normal ? randn({1000}) : rand({1000});
    manual_seed(11);
    Tensor b = normal ? randn({1000}, DType::F32, Device::CUDA) : rand({1000}, DType::F32, Device::CUDA);
    std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
    if (normal) {
      // Box-Muller's log/cos may differ in the last ulp between libm and CUDA's math library.
      for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == doctest::Approx(x[i]).epsilon(1e-6));
    } else {
      CHECK(x == y);
    }
  }
}

TEST_CASE("cuda optimizer steps match the CPU") {
  if (!have_gpu()) return;
  manual_seed(5);
  Tensor p = randn({257}), g = randn({257}), m = rand({257}), v = rand({257});
  for (int kind = 0; kind < 3; ++kind) {
    Tensor pc = p.clone(), mc = m.clone(), vc = v.clone();
    Tensor pd = p.to(Device::CUDA), md = m.to(Device::CUDA), vd = v.to(Device::CUDA), gd = g.to(Device::CUDA);
    AdamArgs a;
    a.lr = 0.01;
    a.step = 3;
    a.weight_decay = 0.01;
    for (auto* b : {&backend_for(Device::CPU), &backend_for(Device::CUDA)}) {
      const bool gpu = b->device() == Device::CUDA;
      Tensor pp = gpu ? pd : pc, mm = gpu ? md : mc, vv = gpu ? vd : vc, gg = gpu ? gd : g;
      if (kind == 0) b->adam_step(pp, gg, mm, vv, a);
      if (kind == 1) b->adamax_step(pp, gg, mm, vv, a);
      if (kind == 2) b->sgd_step(pp, gg, mm, 0.1, 0.9, 0.01, true);
    }
    check_close(pd, pc, 1e-6, "parameters");
    check_close(md, mc, 1e-6, "first moment");
  }
}

TEST_CASE("cuda caching allocator reuses freed blocks") {
  if (!have_gpu()) return;
  void* first = nullptr;
  {
    Tensor t = empty({1000}, DType::F32, Device::CUDA);
    first = t.data_ptr();
  }
  Tensor again = empty({1000}, DType::F32, Device::CUDA);
  CHECK(again.data_ptr() == first);
}

TEST_CASE("cuda device errors are one-line mg::Error messages") {
  if (cuda_available()) {
    Tensor a = zeros({2, 2}), b = zeros({2, 2}, DType::F32, Device::CUDA);
    CHECK_THROWS_AS(add(a, b), mg::Error);
  } else {
    CHECK_THROWS_AS(zeros({2}, DType::F32, Device::CUDA), mg::Error);
  }
}
