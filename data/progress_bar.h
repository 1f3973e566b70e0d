#ifndef SPACEBYTE_DATA_PROGRESS_BAR_H_
#define SPACEBYTE_DATA_PROGRESS_BAR_H_

// A one-line progress bar redrawn in place on stderr, only when stderr is a
// terminal (logs and pipes stay clean).

#include <chrono>
#include <cstdint>
#include <string>

namespace spacebyte::data {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total);
  ~ProgressBar();
  void Update(int64_t done, int64_t bytes);

 private:
  void Draw(int64_t done, int64_t bytes);

  std::string label_;
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_PROGRESS_BAR_H_
