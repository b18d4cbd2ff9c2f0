#include "apps/common/train_record.h"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "apps/common/cli.h"

namespace mg::app {

double epoch_mean(const nn::EpochEnd& e, const std::string& name, const std::string& count) {
  return e.sums.count(count) ? e.sums.at(name) / e.sums.at(count) : NAN;
}

double heldout_metric(const nn::EpochEnd& e, const std::string& name) {
  return e.evaluation ? e.evaluation->metrics.at(name) : NAN;
}

void ProgressCallback::on_train_begin(const nn::RunStart& start) {
  epochs_ = start.epochs;
  const int64_t remaining = std::max<int64_t>(0, (start.epochs - start.epochs_done) * start.steps_per_epoch - start.step);
  estimate_.emplace(remaining);
}

void ProgressCallback::on_epoch_begin(int epoch, int64_t steps) {
  progress_.emplace(fmt::format("epoch {}/{}", epoch, epochs_), steps, unit_);
}

void ProgressCallback::on_step_end(const nn::StepEnd& step) {
  if (estimate_) estimate_->step();
  if (progress_ && step.applied) progress_->update(step.at.step, step.loss, step.examples);
}

void ProgressCallback::finish() {
  if (progress_) progress_->finish();
  progress_.reset();
}

RunRecord::RunRecord(std::string log_path, RunReport& report, ReportSection& page, EpochRecord record,
                     int resumed_epochs)
    : log_(std::move(log_path), record.csv_columns),
      report_(report),
      page_(page),
      table_(page.table("Epochs", record.table_columns)),
      record_(std::move(record)) {
  if (resumed_epochs > 0) log_.resume(resumed_epochs);
  table_.drop_rows_after(resumed_epochs);
}

void RunRecord::on_train_begin(const nn::RunStart& start) {
  epochs_ = start.epochs;
  page_.set("status", start.epochs_done >= start.epochs
                          ? fmt::format("nothing to do: already trained for {} epochs", start.epochs_done)
                          : fmt::format("training: from epoch {} of {}", start.epochs_done + 1, start.epochs));
  report_.save();
}

void RunRecord::add_row(const nn::EpochEnd& end, double epoch) {
  std::vector<double> row = record_.csv_row(end);
  row.front() = epoch;
  log_.append(row);
  std::vector<ReportValue> cells = record_.table_row(end);
  cells.front() = ReportValue(epoch);
  table_.add(std::move(cells));
}

void RunRecord::on_epoch_end(const nn::EpochEnd& end) {
  if (record_.summary) {
    const std::string line = record_.summary(end);
    if (!line.empty()) std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  if (end.evaluation) {
    add_row(end, end.epoch);
    if (record_.pictures) record_.pictures(end, log_);
  }
  page_.set("status", fmt::format("training: epoch {} of {} done", end.epoch, epochs_));
  report_.save();
}

void RunRecord::on_stop(const nn::EpochEnd& partial, const nn::RunEnd& end) {
  std::fprintf(stderr, "%s\n", end.message.c_str());
  if (partial.steps > 0 && partial.steps_per_epoch > 0)
    add_row(partial, partial.epoch - 1 + static_cast<double>(partial.steps) / static_cast<double>(partial.steps_per_epoch));
  page_.set("status", end.message);
  report_.save();
}

void RunRecord::on_fail(const std::string& what) {
  page_.set("status", "failed: " + what);
  try {
    report_.save();
  } catch (const std::exception&) {
    // The failure itself is what the user hears about; a page that cannot be written adds nothing.
  }
}

void RunRecord::on_train_end(const nn::RunEnd& end) {
  if (!end.message.empty()) std::printf("%s\n", end.message.c_str());
  if (record_.at_end) record_.at_end(end, log_);
  page_.set("status", end.patience ? end.message : fmt::format("finished: {} epochs", end.epochs_done));
  report_.save();
}

void resume_from(nn::Trainer& trainer, const nn::Checkpoint& ck, const nn::TrainingState& state,
                 const std::string& path) {
  trainer.resume(ck, state, path);
  if (state.step > 0)
    std::printf("resuming in epoch %d at step %lld of %s\n", state.epoch + 1, static_cast<long long>(state.step),
                path.c_str());
  else
    std::printf("resuming after epoch %d of %s\n", state.epoch, path.c_str());
}

ReportSection& run_section(RunReport& report, const std::string& name, bool resumed,
                           const std::vector<std::pair<std::string, std::string>>& config) {
  ReportSection& page = resumed ? report.section(name) : report.start(name, command_line());
  for (const auto& [key, value] : config) page.set(key, value);
  return page;
}

nn::RunEnd fit_recorded(nn::Trainer& trainer, const std::string& unit, std::string log_path, RunReport& report,
                        ReportSection& page, EpochRecord record, int resumed_epochs) {
  RunRecord recorder(std::move(log_path), report, page, std::move(record), resumed_epochs);
  ProgressCallback progress(unit);
  trainer.add_callback(progress);
  trainer.add_callback(recorder);
  return trainer.fit();
}

}  // namespace mg::app
