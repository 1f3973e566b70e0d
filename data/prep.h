#ifndef SPACEBYTE_DATA_PREP_H_
#define SPACEBYTE_DATA_PREP_H_

// `spacebyte prep`: turns text files / JSON Lines into a dataset directory:
// one shard series per (split, language), a manifest, a closing table per
// language, and a report of every bad input.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace spacebyte::data {

struct PrepOptions {
  std::vector<std::string> inputs;  // PATH[=LANG]
  std::string out;
  std::string format = "text";      // text | jsonl
  std::string separator = "file";   // file | blank | percent | line
  std::string language_from;        // regex; group 1 names the language
  int64_t shard_bytes = 64 << 20;
  int64_t threads = 2;
  double validation_fraction = 0.02;
  double test_fraction = 0.02;
  uint64_t split_seed = 0;
  std::string text_field = "text";          // JSON Lines
  std::string language_field = "language";  // JSON Lines; "" = none
  bool allow_binary = false;                // keep files that are mostly not text
};

// The table goes to `out`; progress and bad inputs to `err`.
// Writes the dataset into `out`.staging and swaps it into `out` whole
// (data/dir_swap.h); `out` must be new, empty or an earlier dataset.
absl::Status RunPrep(const PrepOptions& options, std::ostream& out, std::ostream& err);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_PREP_H_
