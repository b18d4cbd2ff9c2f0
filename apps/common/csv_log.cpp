#include "apps/common/csv_log.h"

#include <filesystem>

#include "apps/common/run_control.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "io/atomic_file.h"
#include "tensor/error.h"

namespace mg::app {

CsvLog::CsvLog(std::string path, std::vector<std::string> columns)
    : path_(std::move(path)), columns_(std::move(columns)) {}

void CsvLog::resume(int max_epoch) {
  std::ifstream f(path_);
  if (!f) return;
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::vector<double> row;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      try {
        row.push_back(std::stod(cell));
      } catch (const std::exception&) {
        fail("{}: unreadable row '{}'", path_, line);
      }
    }
    if (row.size() != columns_.size()) fail("{}: row has {} columns, expected {}", path_, row.size(), columns_.size());
    if (row[0] <= max_epoch) rows_.push_back(row);
  }
}

void CsvLog::append(const std::vector<double>& row) {
  MG_CHECK(row.size() == columns_.size(), "{}: {} values for {} columns", path_, row.size(), columns_.size());
  rows_.push_back(row);
  write();
  // In --json mode the same row goes to stdout as {"log": "log.csv", "epoch": 3, ...}.
  nlohmann::json record = {{"log", std::filesystem::path(path_).filename().string()}};
  for (size_t k = 0; k < columns_.size(); ++k) record[columns_[k]] = row[k];
  json_record(record);
}

std::vector<double> CsvLog::column(const std::string& name) const {
  size_t k = 0;
  while (k < columns_.size() && columns_[k] != name) ++k;
  MG_CHECK(k < columns_.size(), "{}: no column '{}'", path_, name);
  std::vector<double> out;
  for (const auto& r : rows_) out.push_back(r[k]);
  return out;
}

void CsvLog::write() const {
  std::string s;
  for (size_t i = 0; i < columns_.size(); ++i) s += (i ? "," : "") + columns_[i];
  s += "\n";
  for (const auto& r : rows_) {
    for (size_t i = 0; i < r.size(); ++i) s += (i ? "," : "") + fmt::format("{:.6g}", r[i]);
    s += "\n";
  }
  io::write_file_atomic(path_, s);
}

}  // namespace mg::app
