#pragma once
// A per-epoch CSV log, rewritten atomically after every row so a crash never
// leaves half a line. On resume, the rows up to the checkpoint's epoch are
// kept and the rest dropped, so the log matches the model again. In --json
// mode each new row is also printed as one JSON object (run_control.h).
#include <string>
#include <vector>

namespace mg::app {

class CsvLog {
 public:
  CsvLog(std::string path, std::vector<std::string> columns);
  // Keeps existing rows whose first column (the epoch) is <= max_epoch.
  void resume(int max_epoch);
  void append(const std::vector<double>& row);
  // Column values over all rows (for plotting curves).
  std::vector<double> column(const std::string& name) const;
  size_t rows() const { return rows_.size(); }

 private:
  void write() const;
  std::string path_;
  std::vector<std::string> columns_;
  std::vector<std::vector<double>> rows_;
};

}  // namespace mg::app
