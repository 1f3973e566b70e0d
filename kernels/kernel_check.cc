#include "kernels/kernel_check.h"

#include <iostream>
#include <map>
#include <mutex>
#include <utility>

namespace spacebyte::trainer {

bool PassesCheckOnce(const std::string& kernel, const torch::Device& device,
                     const std::function<std::string()>& check, const std::string& fallback) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, int>, bool> checked;
  std::lock_guard<std::mutex> lock(mutex);
  const std::pair<std::string, int> key(kernel, device.index());
  const auto found = checked.find(key);
  if (found != checked.end()) return found->second;
  std::string failure;
  try {
    failure = check();
  } catch (const std::exception& e) {
    failure = e.what();
    failure = failure.substr(0, failure.find('\n'));
  }
  if (!failure.empty()) {
    std::cerr << "spacebyte: " << kernel << " failed its check on " << device.str() << " ("
              << failure << "); using " << fallback << "\n";
  }
  return checked[key] = failure.empty();
}

}  // namespace spacebyte::trainer
