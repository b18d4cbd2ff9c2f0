// Each model describes itself once: the parameter count and the training
// memory a configuration asks for, answered from the configuration alone
// (what the apps check against the machine before building anything), must
// match the network that configuration builds.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "models/chopin_lstm.h"
#include "models/jazz_vae.h"
#include "models/latent_prior.h"

TEST_CASE("ChopinConfig::parameter_count equals the network's parameter count") {
  for (const char* input : {"seed", "embed"})
    for (int64_t vocab : {2, 31, 228})
      for (int64_t hidden : {1, 8, 24}) {
        mg::nn::ChopinConfig c;
        c.input = input;
        c.vocab = vocab;
        c.hidden1 = hidden;
        c.hidden2 = hidden + 3;
        c.dense = 5;
        c.embed_dim = 7;
        CAPTURE(input);
        CAPTURE(vocab);
        CAPTURE(hidden);
        CHECK(c.parameter_count() == mg::nn::ChopinLSTM(c).num_parameters());
      }
  mg::nn::ChopinConfig original;  // the notebook's network, 228-token vocabulary
  original.vocab = 228;
  CHECK(original.parameter_count() == 1964516);
}

TEST_CASE("ConvVaeConfig and LatentPriorConfig state_count equal the network's parameters and buffers") {
  for (const char* kind : {"conv", "seed"})
    for (const char* mode : {"global", "time"})
      for (int64_t blocks : {0, 1, 2})
        for (const std::vector<int64_t>& channels : std::vector<std::vector<int64_t>>{{4}, {4, 6}, {3, 5, 7, 2}})
          for (int64_t latent : {1, 2, 5}) {
            mg::nn::ConvVaeConfig c;
            c.kind = kind;
            c.latent_mode = mode;
            c.blocks = blocks;
            c.in_channels = std::string(kind) == "conv" ? 33 : 1;
            c.length = 37;
            c.channels = channels;
            c.latent = latent;
            const mg::nn::ConvVAE vae(c);
            int64_t buffers = 0;
            for (const auto& [name, t] : vae.named_buffers()) buffers += t.numel();
            CAPTURE(kind);
            CAPTURE(mode);
            CAPTURE(blocks);
            CAPTURE(channels.size());
            CHECK(c.state_count() == vae.num_parameters() + buffers);
          }
  for (int64_t layers : {1, 2})
    for (int64_t hidden : {3, 16})
      for (int64_t files : {0, 3}) {
        mg::nn::LatentPriorConfig c;
        c.latent = 5;
        c.hidden = hidden;
        c.layers = layers;
        c.files = files;
        const mg::nn::LatentPrior prior(c);
        int64_t buffers = 0;
        for (const auto& [name, t] : prior.named_buffers()) buffers += t.numel();
        CHECK(c.state_count() == prior.num_parameters() + buffers);
      }
}

TEST_CASE("memory estimates grow with the sizes they estimate") {
  mg::nn::ChopinConfig c;
  c.vocab = 100;
  CHECK(c.training_bytes(512, 40) > c.training_bytes(256, 40));
  CHECK(c.training_bytes(256, 80) > c.training_bytes(256, 40));
  c.hidden1 = c.hidden2 = c.dense = 4096;
  // The largest network with the largest batch and window is beyond any machine: it must be refused.
  CHECK(c.training_bytes(65536, 1000) > 1e13);
  mg::nn::ConvVaeConfig v;
  CHECK(v.training_bytes(20) > v.training_bytes(10));
}

