#pragma once
// The Chopin network as the trainer (models/trainer.h) sees it: batches of
// token windows, the cross-entropy loss, and held-out metrics.
//
// Window s of a token stream ids is ids[s, s + T) (T = seq_len); with
// --objective next its target is the one token after it, ids[s + T]; with
// --objective all the target of position t is ids[s + t + 1], every position
// predicting its next token (the loss then averages over B x T predictions).
// Either way a window and its targets lie in ids[s, s + T + 1), the window's
// row, which augmentation (models/chopin_augment.h) rewrites as one.
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "models/chopin_augment.h"
#include "models/chopin_lstm.h"
#include "models/trainer.h"

namespace mg::nn {

// The rows of the windows starting at `starts`: B x (T + 1) ids.
std::vector<int64_t> window_rows(const std::vector<int64_t>& ids, const std::vector<int64_t>& starts, int64_t seq_len);
// Rows -> (model input [B, T], targets): [B] the last token of each row, or
// with all_positions [B * T] the token after each position.
std::pair<Tensor, Tensor> rows_batch(const ChopinLSTM& net, const std::vector<int64_t>& rows, int64_t seq_len,
                                     Device device, bool all_positions);
// rows_batch of window_rows.
std::pair<Tensor, Tensor> window_batch(const ChopinLSTM& net, const std::vector<int64_t>& ids,
                                       const std::vector<int64_t>& starts, int64_t seq_len, Device device,
                                       bool all_positions);

// Held-out metrics of windows, the same for every model and objective:
// loss = mean cross-entropy of the token after each window (the seed's task),
// with its perplexity e^loss and top-1 accuracy; loss_all = mean
// cross-entropy over every position of the windows (position t predicting
// token t + 1); nll_sum_all = the sum behind loss_all.
struct WindowMetrics {
  double loss = 0, perplexity = 0, accuracy = 0, loss_all = 0, nll_sum_all = 0;
  int64_t windows = 0;
  // The sums behind them: NLL of the token after each window, windows predicted right.
  double nll_sum = 0, correct = 0;
  // The means from the sums (nll_sum, correct, nll_sum_all, windows), which add
  // over parts of the windows (ranks under mpirun).
  void finish(int64_t seq_len);
};
// In batches of `batch` windows, without gradients.
WindowMetrics evaluate_windows(const ChopinLSTM& net, const std::vector<int64_t>& ids,
                               const std::vector<int64_t>& starts, int64_t seq_len, int64_t batch, Device device);

// The training windows and the held-out ones, each with its token stream.
struct ChopinData {
  const std::vector<int64_t>* train_ids = nullptr;
  std::vector<int64_t> train_starts;
  const std::vector<int64_t>* heldout_ids = nullptr;
  std::vector<int64_t> heldout_starts;
  int64_t seq_len = 40;
  TimedAugmenter augment;  // applied to the training rows only, keyed by (epoch, index in train_starts)
};

class ChopinTask : public TrainingTask {
 public:
  // all_positions: --objective all; meta: the app's checkpoint metadata.
  ChopinTask(const ChopinLSTM& net, ChopinData data, bool all_positions, int64_t eval_batch, Device device,
             std::function<nlohmann::json()> meta);
  int64_t examples() const override { return static_cast<int64_t>(data_.train_starts.size()); }
  // sums: "loss", the batch's cross-entropy summed over its windows (the mean
  // over B x T predictions times B with --objective all), and "windows", B.
  StepOutput step(const std::vector<int64_t>& batch, const StepPosition& at) override;
  // metrics: loss, perplexity, accuracy, loss_all; the score is loss_all for
  // --objective all, loss (after the window) for --objective next.
  Evaluation evaluate() override;
  nlohmann::json checkpoint_meta() const override { return meta_(); }

 private:
  const ChopinLSTM& net_;
  ChopinData data_;
  bool all_positions_;
  int64_t eval_batch_;
  Device device_;
  std::function<nlohmann::json()> meta_;
};

}  // namespace mg::nn
