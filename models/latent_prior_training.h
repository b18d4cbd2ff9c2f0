#pragma once
// The learned prior (models/latent_prior.h) as the trainer (models/trainer.h)
// sees it: batches of latent sequences [B, Z, T], each with the place of its
// training file among the prior's files, the mean -log p per latent element
// as the loss, and the held-out sequences' -log p under the mixture over the
// training files as the score.
#include <cstdint>
#include <functional>
#include <vector>

#include "models/latent_prior.h"
#include "models/trainer.h"

namespace mg::nn {

class LatentPriorTask : public TrainingTask {
 public:
  // train [N, Z, T] with file_of[i] the file of sequence i (read when the prior
  // is conditioned on files); heldout [M, Z, T], or undefined when there is
  // none, scored `batch` sequences at a time; meta: the app's checkpoint metadata.
  LatentPriorTask(const LatentPrior& prior, Tensor train, std::vector<int64_t> file_of, Tensor heldout, int64_t batch,
                  std::function<nlohmann::json()> meta);
  int64_t examples() const override { return train_.size(0); }
  // sums: "nll" times the sequences of the step, and "sequences".
  StepOutput step(const std::vector<int64_t>& batch, const StepPosition& at) override;
  // metrics: nll, the held-out sequences' mean -log p per latent element (NaN without any); it is the score.
  Evaluation evaluate() override;
  nlohmann::json checkpoint_meta() const override { return meta_(); }

 private:
  const LatentPrior& prior_;
  Tensor train_;
  std::vector<int64_t> file_of_;
  Tensor heldout_;
  int64_t batch_;
  std::function<nlohmann::json()> meta_;
};

}  // namespace mg::nn
