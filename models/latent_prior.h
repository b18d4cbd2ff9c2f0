#pragma once
// A learned prior over the jazz VAE's time-resolved latent: an LSTM reads the
// latent frames z_0 .. z_{t-1} and predicts a diagonal Gaussian over z_t, so
// that p(z) = prod_t N(z_t; mu_t, diag(sigma_t^2)) (RAVE's separately trained
// prior over its latent sequence, with an LSTM in place of its causal
// convolutions). B = batch, Z = latent channels, T = latent frames, H = hidden.
//
//   input   frames standardised per channel with the training latents' mean
//           and deviation (buffers), shifted one frame: [0, z_0, ..., z_{T-2}]
//   network layers x LSTM(H) -> Linear(H -> 2Z) -> mu_t, logvar_t (standardised units)
//   loss    -log p(z) in z's own units, per latent element (nats):
//           1/2 (log 2 pi + logvar + (z - mu)^2 / exp(logvar)) + log(deviation),
//           averaged over batch, channels and frames.
#include <nlohmann/json.hpp>

#include "models/layers.h"

namespace mg::nn {

struct LatentPriorConfig {
  int64_t latent = 16;  // Z, the VAE's latent channels
  int64_t hidden = 256;
  int64_t layers = 2;
  nlohmann::json to_json() const;
  static LatentPriorConfig from_json(const nlohmann::json& j);  // mg::Error on bad fields
};

class LatentPrior : public Module {
 public:
  explicit LatentPrior(const LatentPriorConfig& config);
  const LatentPriorConfig& config() const { return config_; }

  // Sets the per-channel standardisation from training latents [N, Z, T].
  void fit_standardisation(const Tensor& z);

  // z [B, Z, T] -> (mu, logvar) [B, Z, T] of each frame given the frames before it, in z's units.
  std::pair<Tensor, Tensor> predict(const Tensor& z) const;

  // -log p(z) per latent element in nats (a scalar), averaged over batch, channels and frames.
  Tensor nll(const Tensor& z) const;

  // Draws [B, Z, T] frame by frame from the default generator, with each
  // step's deviation times `temperature`. The first primer.size(2) frames are
  // the primer's ([B, Z, P], P <= T; undefined for none), the rest continue it.
  Tensor sample(int64_t batch, int64_t frames, double temperature, const Tensor& primer = {}) const;

 private:
  // Runs the LSTM stack over standardised inputs [B, T', Z] from `state`, returning
  // (mu, logvar) [B, T', Z] in standardised units and the new state.
  std::pair<Tensor, Tensor> step(const Tensor& input, std::vector<LstmState>& state) const;

  // Teacher forcing over z [B, Z, T]: the standardised frames zn [B, T, Z] and
  // the (mu, logvar) [B, T, Z] predicted for each from the frames before it.
  struct Forced {
    Tensor zn, mu, logvar;
  };
  Forced teacher_forced(const Tensor& z) const;

  LatentPriorConfig config_;
  std::vector<std::shared_ptr<LSTM>> lstm_;
  std::shared_ptr<Linear> head_;
  Tensor mean_, deviation_;  // buffers [Z]
};

}  // namespace mg::nn
