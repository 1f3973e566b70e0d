#include "kernels/kernel_check.h"

#include <cstdlib>
#include <cstring>
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

std::string FirstMismatch(const std::vector<Compared>& results) {
  for (const Compared& r : results) {
    const torch::Tensor got = r.got.to(torch::kCPU, torch::kFloat);
    const torch::Tensor want = r.want.to(torch::kCPU, torch::kFloat);
    if (got.sizes() != want.sizes()) return std::string(r.name) + " has another shape";
    const double worst = (got - want).abs().max().item<double>();
    const double bound = 0.02 + 0.02 * want.abs().max().item<double>();
    if (!(worst <= bound)) {
      return std::string(r.name) + " differs by " + std::to_string(worst) + " > " +
             std::to_string(bound);
    }
  }
  return "";
}

bool SwitchedOff(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::strcmp(value, "0") == 0;
}

}  // namespace spacebyte::trainer
