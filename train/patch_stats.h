#ifndef SPACEBYTE_TRAIN_PATCH_STATS_H_
#define SPACEBYTE_TRAIN_PATCH_STATS_H_

// How a model's patch rule cuts text, without running the model: for one
// window (targets, fed after BOS as in training) the boundaries it holds and
// how many leading targets fall inside the global context; for a stream of
// windows, bytes per patch, patches per window and the share of targets
// ignored. Evaluation, the run report and `spacebyte data patches` read it.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/model_spec.h"

namespace spacebyte::trainer {

struct WindowPatches {
  int64_t boundaries = 0;  // all of them, also those past TG
  int64_t refused = 0;     // wanted, but refused by the multilingual budget
  int64_t scored = 0;      // leading targets inside the global context
};

// `length` <= T targets; the tokens are BOS followed by targets[0, length-1).
WindowPatches ScanWindow(const uint8_t* targets, int64_t length, const ModelSpec& spec);

class PatchStats {
 public:
  // Adds the consecutive T-byte windows of `bytes` (the last may be short),
  // cut as training cuts a language's stream.
  void AddStream(const std::vector<uint8_t>& bytes, const ModelSpec& spec);
  // Adds the windows another PatchStats has counted, without scanning again.
  void Add(const PatchStats& other);

  int64_t bytes() const { return bytes_; }
  int64_t windows() const { return static_cast<int64_t>(per_window_.size()); }
  double bytes_per_patch() const;
  double ignored_fraction() const;  // of targets, past the global context
  double refused_fraction() const;  // of wanted boundaries, by the budget
  double mean_patches_per_window() const;
  int64_t patches_per_window_quantile(double q) const;  // q in [0, 1]

 private:
  int64_t bytes_ = 0, patches_ = 0, ignored_ = 0, refused_ = 0;
  std::vector<int64_t> per_window_;
};

// `spacebyte data patches`: one line per language of a split and one for
// all of them, in columns: bytes, bytes per patch, patches per window (mean
// and 99th percentile), the share of wanted boundaries the budget refused,
// and the share of targets training would ignore.
absl::Status WritePatchReport(const std::string& data_dir, const std::string& split,
                              const ModelSpec& spec, std::ostream& out);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_PATCH_STATS_H_
