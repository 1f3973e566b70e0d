// Compares the training losses of two runs' metrics.jsonl files, step by step.
//
//   compare_losses A/metrics.jsonl B/metrics.jsonl TOLERANCE
//
// Training lines are those without "split". Exits 0 when both files log the
// same steps and every |loss_a - loss_b| <= TOLERANCE; otherwise prints the
// first difference and exits 1.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace {

// step -> loss of the training lines; false (with a message) on a bad file.
bool ReadLosses(const char* path, std::map<long long, double>* losses) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "compare_losses: cannot open %s\n", path);
    return false;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("step")) {
      std::fprintf(stderr, "compare_losses: %s:%d is not a metrics line\n", path, number);
      return false;
    }
    if (j.contains("split") || !j.contains("loss") || !j["loss"].is_number()) continue;
    (*losses)[j["step"].get<long long>()] = j["loss"].get<double>();
  }
  if (losses->empty()) {
    std::fprintf(stderr, "compare_losses: %s has no training lines\n", path);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: compare_losses A.jsonl B.jsonl TOLERANCE\n");
    return 2;
  }
  const double tolerance = std::atof(argv[3]);
  std::map<long long, double> a, b;
  if (!ReadLosses(argv[1], &a) || !ReadLosses(argv[2], &b)) return 1;
  if (a.size() != b.size()) {
    std::fprintf(stderr, "compare_losses: %zu logged steps vs %zu\n", a.size(), b.size());
    return 1;
  }
  double worst = 0;
  for (const auto& [step, loss] : a) {
    auto other = b.find(step);
    if (other == b.end()) {
      std::fprintf(stderr, "compare_losses: step %lld only in %s\n", step, argv[1]);
      return 1;
    }
    const double diff = std::fabs(loss - other->second);
    if (!(diff <= tolerance)) {
      std::fprintf(stderr, "compare_losses: step %lld loss %.9g vs %.9g (diff %.3g > %.3g)\n",
                   step, loss, other->second, diff, tolerance);
      return 1;
    }
    if (diff > worst) worst = diff;
  }
  std::printf("compare_losses: %zu steps agree, largest difference %.3g (tolerance %.3g)\n",
              a.size(), worst, tolerance);
  return 0;
}
