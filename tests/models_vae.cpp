// The jazz VAE: shapes through encoder/decoder, and a short run overfits one clip.
#include <doctest/doctest.h>

#include "models/jazz_vae.h"
#include "models/optim.h"
#include "tensor/rng.h"

using namespace mg;

TEST_CASE("conv vae shapes round trip an odd length") {
  manual_seed(1);
  nn::ConvVaeConfig c;
  c.in_channels = 5;
  c.length = 37;
  c.channels = {4, 6};
  c.latent = 3;
  nn::ConvVAE m(c);
  Tensor x = randn({2, 5, 37});
  nn::VaeOutput out = m.forward(x, zeros({2, 3}));
  CHECK(out.recon.shape() == Shape{2, 5, 37});
  CHECK(out.mu.shape() == Shape{2, 3});
  CHECK(out.logvar.shape() == Shape{2, 3});
}

TEST_CASE("conv vae overfits one clip") {
  manual_seed(2);
  nn::ConvVaeConfig c;
  c.in_channels = 8;
  c.length = 32;
  c.channels = {8, 8};
  c.latent = 2;
  nn::ConvVAE m(c);
  // A smooth target the decoder can reach: sines of different frequency per channel.
  std::vector<float> v(8 * 32);
  for (int ch = 0; ch < 8; ++ch)
    for (int t = 0; t < 32; ++t) v[static_cast<size_t>(ch * 32 + t)] = std::sin(0.2f * (ch + 1) * t);
  Tensor x = from_vector(v, {1, 8, 32});
  nn::Adam opt(m.named_parameters(), 3e-3);
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    nn::VaeOutput out = m.forward(x, randn({1, 2}));
    Tensor recon = sum(mul(sub(out.recon, x), sub(out.recon, x)));
    Tensor loss = add(recon, mul(mean(kl_normal(out.mu, out.logvar)), 0.01));
    if (step == 0) first = recon.item();
    last = recon.item();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  INFO("first ", first, " last ", last);
  CHECK(last < 0.1 * first);
}
