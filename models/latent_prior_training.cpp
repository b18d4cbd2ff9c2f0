#include "models/latent_prior_training.h"

#include <algorithm>
#include <cmath>

#include "models/distributed.h"

namespace mg::nn {

LatentPriorTask::LatentPriorTask(const LatentPrior& prior, Tensor train, std::vector<int64_t> file_of, Tensor heldout,
                                 int64_t batch, std::function<nlohmann::json()> meta)
    : prior_(prior), train_(std::move(train)), file_of_(std::move(file_of)), heldout_(std::move(heldout)),
      batch_(batch), meta_(std::move(meta)) {}

StepOutput LatentPriorTask::step(const std::vector<int64_t>& batch, const StepPosition&) {
  std::vector<Tensor> rows;
  std::vector<int64_t> files;
  for (int64_t i : batch) {
    rows.push_back(train_.slice(0, i, i + 1));
    if (prior_.config().files > 0) files.push_back(file_of_[static_cast<size_t>(i)]);
  }
  Tensor loss = prior_.nll(concat(rows, 0), files);
  const double n = static_cast<double>(batch.size());
  return {loss, static_cast<int64_t>(batch.size()), {{"nll", loss.item() * n}, {"sequences", n}}};
}

Evaluation LatentPriorTask::evaluate() {
  if (!heldout_.defined()) return {{{"nll", NAN}}, NAN};
  double total = 0;
  const int64_t N = heldout_.size(0);
  // Each rank scores its share of the sequences (all of them on one process); the sums add over the ranks.
  const dist::RowRange part = dist::rank_rows(N, dist::world().rank(), dist::world().size());
  for (int64_t b = part.begin; b < part.end; b += batch_)
    for (double nll : prior_.marginal_nll(heldout_.slice(0, b, std::min(part.end, b + batch_)))) total += nll;
  dist::world().all_reduce_sum(&total, 1, "the held-out NLL");
  const double nll = total / static_cast<double>(N);
  return {{{"nll", nll}}, nll};
}

}  // namespace mg::nn
