#include "data/prefetch_loader.h"

#include <algorithm>
#include <exception>

#include "absl/strings/str_cat.h"

namespace spacebyte::data {

PrefetchLoader::PrefetchLoader(std::unique_ptr<Loader> loader)
    : loader_(std::move(loader)), state_(loader_->SaveState()) {
  thread_ = std::thread([this] { Run(); });
}

PrefetchLoader::~PrefetchLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PrefetchLoader::Run() {
  const size_t depth = std::max(1, loader_->options().prefetch);
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || queue_.size() < depth; });
      if (stop_) return;
    }
    absl::StatusOr<Batch> batch = NextOrError();
    const bool failed = !batch.ok();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(batch));
    }
    cv_.notify_all();
    if (failed) return;  // the error is handed out; nothing follows it
  }
}

absl::StatusOr<Batch> PrefetchLoader::NextOrError() {
  try {
    return loader_->Next();
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(absl::StrCat("reading a batch: ", e.what()));
  }
}

absl::StatusOr<Batch> PrefetchLoader::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty(); });
  if (!queue_.front().ok()) return queue_.front().status();  // later calls fail too
  absl::StatusOr<Batch> batch = std::move(queue_.front());
  queue_.pop_front();
  state_ = batch->state_after;
  lock.unlock();
  cv_.notify_all();
  return batch;
}

}  // namespace spacebyte::data
