#include "data/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace spacebyte::data {

ProgressBar::ProgressBar(std::string label, int64_t total)
    : label_(std::move(label)),
      total_(total),
      enabled_(::isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fputc('\n', stderr);
}

void ProgressBar::Update(int64_t done, int64_t bytes) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  Draw(done, bytes);
}

void ProgressBar::Draw(int64_t done, int64_t bytes) {
  constexpr int kWidth = 30;
  const double fraction = total_ > 0 ? static_cast<double>(done) / total_ : 1.0;
  const int filled = static_cast<int>(fraction * kWidth);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "\r%s [%.*s%*s] %lld/%lld files, %.1f MB, %.1f MB/s", label_.c_str(),
               filled, "==============================", kWidth - filled, "",
               static_cast<long long>(done), static_cast<long long>(total_), bytes / 1e6,
               seconds > 0 ? bytes / 1e6 / seconds : 0.0);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace spacebyte::data
