#pragma once
// A learned prior over the jazz VAE's time-resolved latent: an LSTM reads the
// latent frames z_0 .. z_{t-1} and predicts a diagonal Gaussian over z_t, so
// that p(z) = prod_t N(z_t; mu_t, diag(sigma_t^2)) (RAVE's separately trained
// prior over its latent sequence, with an LSTM in place of its causal
// convolutions). B = batch, Z = latent channels, T = latent frames, H = hidden.
//
//   units   u = (z - mean) / deviation, per channel, with the training
//           latents' mean and deviation (buffers)
//   input   the frames in those units, shifted one frame: [0, u_0, ..., u_{T-2}],
//           and with F training files (files > 0) the one-hot code of the
//           file the sequence comes from beside every frame
//   network layers x LSTM(H) -> Linear(H -> 2Z) -> mu_t, logvar_t (in u)
//   files   p(z) = 1/F sum_f p(z | f): a mixture of one sequence model per
//           training file that share every weight. Sampling draws f first, so
//           a sample is told from its first frame which file's character
//           (instruments, register, loudness) to keep, instead of inferring
//           it from its own noisy frames.
//   loss    -log p(z) in z's own units, per latent element (nats):
//           1/2 (log 2 pi + logvar + (u - mu)^2 / exp(logvar)) + log(deviation),
//           averaged over batch, channels and frames.
#include <nlohmann/json.hpp>

#include "models/layers.h"

namespace mg::nn {

struct LatentPriorConfig {
  int64_t latent = 16;  // Z, the VAE's latent channels
  int64_t hidden = 256;
  int64_t layers = 2;
  int64_t files = 0;  // F, conditioned on the training file (0: unconditioned)
  nlohmann::json to_json() const;
  static LatentPriorConfig from_json(const nlohmann::json& j);  // mg::Error on bad fields

  // Elements in the prior's parameters and buffers, from the configuration alone.
  int64_t state_count() const;
};

class LatentPrior : public Module {
 public:
  explicit LatentPrior(const LatentPriorConfig& config);
  const LatentPriorConfig& config() const { return config_; }

  // Sets the per-channel units from training latents [N, Z, T].
  void fit_standardisation(const Tensor& z);

  // z [B, Z, T] -> (mu, logvar) [B, Z, T] of each frame given the frames before it, in z's units;
  // files as for nll.
  std::pair<Tensor, Tensor> predict(const Tensor& z, const std::vector<int64_t>& files = {}) const;

  // -log p(z | f) per latent element in nats (a scalar), averaged over batch, channels and frames,
  // for sequences z [B, Z, T] of training files f [B] (each in [0, files); empty when files = 0).
  Tensor nll(const Tensor& z, const std::vector<int64_t>& files = {}) const;

  // -log p(z) per latent element of each sequence in z [B, Z, T] (no gradient): with files > 0 the
  // mixture's, -1/(Z T) log(1/F sum_f exp(-Z T nll(z | f))), so unseen sequences can be scored.
  std::vector<double> marginal_nll(const Tensor& z) const;

  // The training file whose sequence model gives z [B, Z, T] the highest likelihood, per sequence.
  std::vector<int64_t> likeliest_files(const Tensor& z) const;

  // Draws [B, Z, T] frame by frame from the default generator, with each
  // step's deviation times `temperature`. The first primer.size(2) frames are
  // the primer's ([B, Z, P], P <= T; undefined for none), the rest continue it.
  // With files > 0 each sequence's file is `files[b]` when given (size B), else
  // the likeliest for the primer when there is one, else drawn uniformly.
  Tensor sample(int64_t batch, int64_t frames, double temperature, const Tensor& primer = {},
                std::vector<int64_t> files = {}) const;

 private:
  // Runs the LSTM stack over inputs [B, T', Z] in prior units from `state`, with the one-hot
  // file codes `code` [B, F] (undefined when files = 0) beside every frame, returning
  // (mu, logvar) [B, T', Z] in prior units and the new state.
  std::pair<Tensor, Tensor> step(const Tensor& input, const Tensor& code, std::vector<LstmState>& state) const;

  // The one-hot codes [B, F] of files (checked against F); undefined when files = 0.
  Tensor file_code(const std::vector<int64_t>& files, int64_t batch) const;

  // -log p(z | f) per latent element of each sequence, [B] (mean over frames and channels).
  Tensor sequence_nll(const Tensor& z, const std::vector<int64_t>& files) const;

  // sequence_nll of z [B, Z, T] under each of the F files, [B][F] (batches of up to 256 runs).
  std::vector<std::vector<double>> per_file_nll(const Tensor& z) const;

  // z [B, Z, T] -> u [B, T, Z], and back.
  Tensor to_units(const Tensor& z) const;
  Tensor from_units(const Tensor& u) const;

  // Teacher forcing over z [B, Z, T]: the frames in prior units zn [B, T, Z] and
  // the (mu, logvar) [B, T, Z] predicted for each from the frames before it.
  struct Forced {
    Tensor zn, mu, logvar;
  };
  Forced teacher_forced(const Tensor& z, const std::vector<int64_t>& files) const;

  LatentPriorConfig config_;
  std::vector<std::shared_ptr<LSTM>> lstm_;
  std::shared_ptr<Linear> head_;
  Tensor mean_, deviation_;  // buffers [Z]
};

}  // namespace mg::nn
