#include "models/chopin_training.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "models/distributed.h"

namespace mg::nn {

std::vector<int64_t> window_rows(const std::vector<int64_t>& ids, const std::vector<int64_t>& starts, int64_t seq_len) {
  std::vector<int64_t> rows;
  rows.reserve(starts.size() * static_cast<size_t>(seq_len + 1));
  for (const int64_t s : starts) rows.insert(rows.end(), ids.begin() + s, ids.begin() + s + seq_len + 1);
  return rows;
}

std::pair<Tensor, Tensor> rows_batch(const ChopinLSTM& net, const std::vector<int64_t>& rows, int64_t seq_len,
                                     Device device, bool all_positions) {
  const int64_t B = static_cast<int64_t>(rows.size()) / (seq_len + 1);
  std::vector<int64_t> x, y;
  x.reserve(static_cast<size_t>(B * seq_len));
  for (auto row = rows.begin(); row != rows.end(); row += seq_len + 1) {
    x.insert(x.end(), row, row + seq_len);
    if (all_positions) y.insert(y.end(), row + 1, row + seq_len + 1);
    else y.push_back(row[seq_len]);
  }
  const int64_t n = static_cast<int64_t>(y.size());
  return {net.encode_input(x, B, seq_len, device), from_vector(y, {n}, device)};
}

std::pair<Tensor, Tensor> window_batch(const ChopinLSTM& net, const std::vector<int64_t>& ids,
                                       const std::vector<int64_t>& starts, int64_t seq_len, Device device,
                                       bool all_positions) {
  return rows_batch(net, window_rows(ids, starts, seq_len), seq_len, device, all_positions);
}

WindowMetrics evaluate_windows(const ChopinLSTM& net, const std::vector<int64_t>& ids,
                               const std::vector<int64_t>& starts, int64_t seq_len, int64_t batch, Device device) {
  NoGradGuard no_grad;
  WindowMetrics m;
  const int64_t V = net.config().vocab;
  for (size_t b = 0; b < starts.size(); b += static_cast<size_t>(batch)) {
    const size_t e = std::min(starts.size(), b + static_cast<size_t>(batch));
    const int64_t B = static_cast<int64_t>(e - b);
    const std::vector<int64_t> some(starts.begin() + static_cast<long>(b), starts.begin() + static_cast<long>(e));
    auto [x, y] = window_batch(net, ids, some, seq_len, device, true);
    Tensor all = net.forward_all(x);                                           // [B, T, V]
    m.nll_sum_all += cross_entropy(all.reshape({B * seq_len, V}), y).item() * static_cast<double>(B * seq_len);
    Tensor logits = all.select(1, seq_len - 1).contiguous();                  // [B, V]: after the window
    std::vector<int64_t> truth_all = y.to_vector<int64_t>(), truth;
    for (int64_t i = 0; i < B; ++i) truth.push_back(truth_all[static_cast<size_t>((i + 1) * seq_len - 1)]);
    m.nll_sum += cross_entropy(logits, from_vector(truth, {B}, device)).item() * static_cast<double>(B);
    std::vector<int64_t> pred = argmax_rows(logits).to_vector<int64_t>();
    for (size_t i = 0; i < pred.size(); ++i) m.correct += pred[i] == truth[i];
  }
  m.windows = static_cast<int64_t>(starts.size());
  m.finish(seq_len);
  return m;
}

void WindowMetrics::finish(int64_t seq_len) {
  if (windows <= 0) return;
  const double n = static_cast<double>(windows);
  loss = nll_sum / n;
  perplexity = std::exp(loss);
  accuracy = correct / n;
  loss_all = nll_sum_all / (n * static_cast<double>(seq_len));
}

ChopinTask::ChopinTask(const ChopinLSTM& net, ChopinData data, bool all_positions, int64_t eval_batch, Device device,
                       std::function<nlohmann::json()> meta)
    : net_(net),
      data_(std::move(data)),
      all_positions_(all_positions),
      eval_batch_(eval_batch),
      device_(device),
      meta_(std::move(meta)) {}

StepOutput ChopinTask::step(const std::vector<int64_t>& batch, const StepPosition& at) {
  std::vector<int64_t> starts;
  starts.reserve(batch.size());
  for (const int64_t i : batch) starts.push_back(data_.train_starts[static_cast<size_t>(i)]);
  std::vector<int64_t> rows = window_rows(*data_.train_ids, starts, data_.seq_len);
  if (data_.augment.enabled())
    for (size_t b = 0; b < batch.size(); ++b)
      data_.augment.augment(std::span(rows).subspan(b * static_cast<size_t>(data_.seq_len + 1),
                                                    static_cast<size_t>(data_.seq_len + 1)),
                            at.epoch, batch[b]);
  auto [x, y] = rows_batch(net_, rows, data_.seq_len, device_, all_positions_);
  const int64_t B = static_cast<int64_t>(starts.size());
  Tensor loss = all_positions_
                    ? cross_entropy(net_.forward_all(x).reshape({B * data_.seq_len, net_.config().vocab}), y)
                    : cross_entropy(net_.forward(x), y);
  const double n = static_cast<double>(B);
  return {loss, B, {{"loss", loss.item() * n}, {"windows", n}}};
}

Evaluation ChopinTask::evaluate() {
  // Each rank scores its share of the windows (one process: all of them); the sums add over the ranks.
  const dist::Communicator& comm = dist::world();
  const dist::RowRange part =
      dist::rank_rows(static_cast<int64_t>(data_.heldout_starts.size()), comm.rank(), comm.size());
  const std::vector<int64_t> mine(data_.heldout_starts.begin() + part.begin, data_.heldout_starts.begin() + part.end);
  WindowMetrics h = evaluate_windows(net_, *data_.heldout_ids, mine, data_.seq_len, eval_batch_, device_);
  double sums[4] = {h.nll_sum, h.correct, h.nll_sum_all, static_cast<double>(h.windows)};
  comm.all_reduce_sum(sums, 4, "the held-out sums");
  std::tie(h.nll_sum, h.correct, h.nll_sum_all) = std::make_tuple(sums[0], sums[1], sums[2]);
  h.windows = static_cast<int64_t>(sums[3]);
  h.finish(data_.seq_len);
  return {{{"loss", h.loss}, {"perplexity", h.perplexity}, {"accuracy", h.accuracy}, {"loss_all", h.loss_all}},
          all_positions_ ? h.loss_all : h.loss};
}

}  // namespace mg::nn
