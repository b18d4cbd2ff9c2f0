#pragma once
// chopin-lstm's training pictures: the token histogram of the corpus and the
// curves of each epoch's loss and accuracy.
#include <cstdint>
#include <string>

#include "apps/chopin-lstm/corpus.h"
#include "apps/common/csv_log.h"

namespace chopin {

// The note-frequency histogram of the original notebook, with the rare-token threshold.
void draw_histogram(const Corpus& c, int64_t min_count, const std::string& path);

// Loss above, accuracy below: one picture, each curve on a scale where it moves (log.csv's columns).
void draw_curves(const mg::app::CsvLog& log, const std::string& path);

}  // namespace chopin
