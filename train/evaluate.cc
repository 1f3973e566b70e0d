#include "train/evaluate.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "train/validation.h"

namespace spacebyte::trainer {

void EvalAccumulator::Add(const torch::Tensor& per_sample_loss, double ignored_fraction) {
  const int64_t n = per_sample_loss.size(0);
  loss_sum_ += per_sample_loss.to(torch::kDouble).sum().item<double>();
  ignored_sum_ += ignored_fraction * static_cast<double>(n);
  windows_ += n;
}

EvalResult EvalAccumulator::Result() const {
  EvalResult r;
  r.windows = windows_;
  if (windows_ == 0) return r;
  r.loss = loss_sum_ / static_cast<double>(windows_);
  r.bits_per_byte = r.loss / std::log(2.0);
  r.ignored_fraction = ignored_sum_ / static_cast<double>(windows_);
  return r;
}

absl::StatusOr<EvalResult> EvaluateBytesFile(ByteLm& model, const std::string& path,
                                             int64_t max_windows, int64_t batch_size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const int64_t context = model.spec().context_size;
  int64_t windows = static_cast<int64_t>(bytes.size()) / context;
  if (windows == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " has ", bytes.size(), " bytes, fewer than one window of ", context));
  }
  if (max_windows > 0) windows = std::min(windows, max_windows);
  const torch::Tensor all =
      torch::from_blob(const_cast<char*>(bytes.data()), {windows, context}, torch::kUInt8)
          .to(model.parameters().front().device(), torch::kLong);
  torch::NoGradGuard no_grad;
  model.eval();
  EvalAccumulator acc;
  for (int64_t start = 0; start < windows; start += batch_size) {
    const torch::Tensor targets = all.narrow(0, start, std::min(batch_size, windows - start));
    const LossOutput loss = ComputeLoss(model.Forward(TokensFromTargets(targets)), targets);
    acc.Add(loss.per_sample, loss.ignored_fraction.item<double>());
  }
  return acc.Result();
}

std::string ToJson(const EvalResult& r) {
  nlohmann::json j = {{"loss", r.loss},
                      {"bits_per_byte", r.bits_per_byte},
                      {"ignored_fraction", r.ignored_fraction},
                      {"windows", r.windows}};
  return j.dump();
}

absl::StatusOr<std::string> EvaluateSplitJson(ByteLm& model, const std::string& data_dir,
                                              const std::string& split,
                                              int64_t max_windows_per_language,
                                              int64_t batch_size, parallel::Collectives& dp) {
  absl::StatusOr<std::unique_ptr<Validator>> validator =
      Validator::Open(data_dir, split, model.spec(), max_windows_per_language);
  if (!validator.ok()) return validator.status();
  if ((*validator)->windows() == 0) {
    return absl::NotFoundError(absl::StrCat(data_dir, " has no ", split, " data"));
  }
  return EvalJson((*validator)->Evaluate(model, /*step=*/0, dp, batch_size));
}

}  // namespace spacebyte::trainer
