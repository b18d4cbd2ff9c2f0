#pragma once
// What the apps add to the trainer (models/trainer.h) as callbacks:
//
//  - ProgressCallback: the progress line of each epoch (epoch, step, loss,
//    rate, ETA) and, after the first steps, the estimate of the whole run
//    (apps/common/progress.h).
//  - RunRecord: the record of the run in OUT. log.csv gets a row per
//    evaluated epoch; report.html shows the configuration and the run's status
//    from before the first step ("training"), and after each epoch the epoch
//    table and the pictures. A stop (a signal) adds the row of the part of the
//    epoch that ran, its epoch column the fraction of epochs done (2.25: a
//    quarter into the third), so a resumed run, which keeps the rows up to
//    its checkpoint's whole epochs, drops it again; and the status says where
//    the run stopped and how to resume it. A failure says what failed.
//  - fit_recorded: both around a trainer's fit(), the last thing each app's
//    training does; resume_from and run_section, what comes before it.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/csv_log.h"
#include "apps/common/progress.h"
#include "apps/common/report.h"
#include "models/trainer.h"

namespace mg::app {

class ProgressCallback : public nn::TrainerCallback {
 public:
  // unit: what an example is ("samples", "clips").
  explicit ProgressCallback(std::string unit = "samples") : unit_(std::move(unit)) {}
  void on_train_begin(const nn::RunStart& start) override;
  void on_epoch_begin(int epoch, int64_t steps) override;
  void on_step_end(const nn::StepEnd& step) override;
  void on_epoch_end(const nn::EpochEnd&) override { finish(); }
  void on_stop(const nn::EpochEnd&, const nn::RunEnd&) override { finish(); }
  void on_fail(const std::string&) override { finish(); }

 private:
  void finish();
  std::string unit_;
  int epochs_ = 0;
  std::optional<Progress> progress_;
  std::optional<RunEstimate> estimate_;
};

// How an app records its epochs.
struct EpochRecord {
  std::vector<std::string> csv_columns;  // log.csv's header, "epoch" first
  std::function<std::vector<double>(const nn::EpochEnd&)> csv_row;
  std::vector<std::string> table_columns;  // the report's epoch table, "epoch" first
  std::function<std::vector<ReportValue>(const nn::EpochEnd&)> table_row;
  // The line printed after each epoch (empty: none).
  std::function<std::string(const nn::EpochEnd&)> summary;
  // Draws the pictures of an evaluated epoch and adds them to the page (may be empty).
  std::function<void(const nn::EpochEnd&, const CsvLog&)> pictures;
  // What the app writes once the run has ended without a stop (may be empty).
  std::function<void(const nn::RunEnd&, const CsvLog&)> at_end;
};

// A row's values: the mean of the epoch's sum `name` over its sum `count` (the
// steps applied, the clips seen), NaN when no step was applied; and a held-out
// metric, NaN when the epoch was not evaluated.
double epoch_mean(const nn::EpochEnd& e, const std::string& name, const std::string& count);
double heldout_metric(const nn::EpochEnd& e, const std::string& name);

class RunRecord : public nn::TrainerCallback {
 public:
  // log_path: the CSV log; page: this run's section of report (the page of OUT);
  // resumed_epochs: the whole epochs of the checkpoint a resumed run continues
  // (rows after them are dropped), 0 for a new run.
  RunRecord(std::string log_path, RunReport& report, ReportSection& page, EpochRecord record, int resumed_epochs);
  const CsvLog& log() const { return log_; }

  void on_train_begin(const nn::RunStart& start) override;
  void on_epoch_end(const nn::EpochEnd& end) override;
  void on_stop(const nn::EpochEnd& partial, const nn::RunEnd& end) override;
  void on_fail(const std::string& what) override;
  void on_train_end(const nn::RunEnd& end) override;

 private:
  void add_row(const nn::EpochEnd& end, double epoch);
  CsvLog log_;
  RunReport& report_;
  ReportSection& page_;
  ReportTable& table_;
  EpochRecord record_;
  int epochs_ = 0;
};

// Continues `trainer` from the checkpoint at `path` and says where: "resuming
// in epoch 3 at step 12 of OUT/model.safetensors" or "resuming after epoch 2 of ...".
void resume_from(nn::Trainer& trainer, const nn::Checkpoint& ck, const nn::TrainingState& state,
                 const std::string& path);

// The section `name` of the page, with the run's configuration: a new one
// (with this command line) for a new run, the same one continued on --resume.
ReportSection& run_section(RunReport& report, const std::string& name, bool resumed,
                           const std::vector<std::pair<std::string, std::string>>& config);

// The end of every app's training: fit() with the progress line (an example
// counted as `unit`) and the record of the run (RunRecord's arguments). The
// two callbacks live for this call only: a trainer is fitted once, through it.
nn::RunEnd fit_recorded(nn::Trainer& trainer, const std::string& unit, std::string log_path, RunReport& report,
                        ReportSection& page, EpochRecord record, int resumed_epochs);

}  // namespace mg::app
