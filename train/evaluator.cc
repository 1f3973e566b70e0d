#include "train/evaluator.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "absl/strings/str_cat.h"
#include "data/eval_stream.h"
#include "data/file_read.h"
#include "kernels/autocast.h"
#include "train/patch_stats.h"
#include "train/run_spec.h"

namespace spacebyte::trainer {

absl::StatusOr<std::unique_ptr<Evaluator>> Evaluator::Open(const std::string& data_dir,
                                                           const std::string& split,
                                                           const ModelSpec& spec,
                                                           int64_t windows_per_language) {
  const int64_t context = spec.context_size;
  auto v = std::make_unique<Evaluator>();
  v->split_ = split;
  absl::Status read = data::ForEachLanguage(
      data_dir, split, [&](const std::string& language, const std::vector<uint8_t>& bytes) {
        v->AddLanguage(language, bytes, spec, windows_per_language);
      });
  if (!read.ok()) return read;
  if (v->rows_.empty()) {
    v->targets_ = torch::zeros({0, context}, torch::kLong);
  } else {
    v->targets_ = torch::stack(v->rows_);
  }
  v->rows_.clear();
  v->language_ = torch::tensor(v->row_language_, torch::kLong);
  v->scored_ = torch::tensor(v->row_scored_, torch::kLong);
  return v;
}

void Evaluator::AddLanguage(const std::string& name, const std::vector<uint8_t>& bytes,
                            const ModelSpec& spec, int64_t windows_per_language) {
  PatchStats training_view;
  training_view.AddStream(bytes, spec);
  const int64_t index = static_cast<int64_t>(languages_.size());
  languages_.push_back({name, static_cast<int64_t>(bytes.size()),
                        training_view.ignored_fraction(), training_view.bytes_per_patch(),
                        training_view.refused_fraction()});
  const int64_t n = static_cast<int64_t>(bytes.size()), context = spec.context_size;
  int64_t offset = 0;
  for (int64_t count = 0; offset < n && (windows_per_language <= 0 || count < windows_per_language);
       ++count) {
    const int64_t length = std::min(context, n - offset);
    // At least min(length, TG) targets: the window always moves on.
    const int64_t scored = ScanWindow(bytes.data() + offset, length, spec).scored;
    torch::Tensor row = torch::full({context}, -1, torch::kLong);
    row.narrow(0, 0, scored)
        .copy_(torch::from_blob(const_cast<uint8_t*>(bytes.data() + offset), {scored},
                                torch::kUInt8));
    rows_.push_back(row);
    row_language_.push_back(index);
    row_scored_.push_back(scored);
    offset += scored;
  }
}

EvalResult Evaluator::Evaluate(ByteLm& model, int64_t step, parallel::Collectives& dp,
                                int64_t batch_size, bool bf16) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int64_t n = windows(), languages = static_cast<int64_t>(languages_.size());
  // Batches, sums and the dp all-reduce live on the model's device.
  const torch::Device device = model.parameters().front().device();
  // The weights' bf16 copies are cast once, for the whole evaluation.
  const Autocast autocast(device.type(), bf16);
  const torch::Tensor targets_here = targets_.to(device), language_here = language_.to(device);
  const torch::Tensor scored_here = scored_.to(device, torch::kDouble);
  // Per language: summed losses (nats) and scored bytes.
  torch::Tensor sums = torch::zeros({2, std::max<int64_t>(languages, 1)},
                                    torch::TensorOptions(torch::kDouble).device(device));
  // Every rank runs the same number of batches (the tp group needs it), some
  // of them possibly empty of windows of its own.
  const int64_t per_rank = (n + dp.size() - 1) / dp.size();
  const int64_t first = std::min(n, dp.rank() * per_rank);
  const int64_t mine = std::min(per_rank, n - first);
  for (int64_t start = 0; start < mine; start += batch_size) {
    const int64_t rows = std::min(batch_size, mine - start);
    const torch::Tensor targets = targets_here.narrow(0, first + start, rows);
    const LossOutput loss =
        ComputeLoss(model.Forward(TokensFromTargets(targets.clamp_min(0))), targets);
    const torch::Tensor lang = language_here.narrow(0, first + start, rows);
    const torch::Tensor scored = scored_here.narrow(0, first + start, rows);
    // per_sample is each window's mean over exactly its scored targets.
    sums[0].index_add_(0, lang, loss.per_sample.to(torch::kDouble) * scored);
    sums[1].index_add_(0, lang, scored);
  }
  // Ranks with fewer batches still join the tp group's collectives.
  const int64_t batches = (per_rank + batch_size - 1) / batch_size;
  for (int64_t b = (mine + batch_size - 1) / batch_size; b < batches; ++b) {
    model.Forward(TokensFromTargets(targets_here.narrow(0, 0, 1).clamp_min(0)));
  }
  dp.AllReduceSum(sums);
  sums = sums.cpu();
  model.train();

  EvalResult m;
  m.step = step;
  m.split = split_;
  m.windows = n;
  m.precision = PrecisionName(bf16);
  double loss = 0, scored = 0, total = 0, ignored = 0;
  for (int64_t l = 0; l < languages; ++l) {
    const Language& language = languages_[l];
    const double language_scored = sums[1][l].item<double>();
    loss += sums[0][l].item<double>();
    scored += language_scored;
    total += static_cast<double>(language.bytes);
    ignored += language.ignored_fraction * static_cast<double>(language.bytes);
    if (language_scored > 0) {
      m.bits_per_byte_by_language[language.name] =
          sums[0][l].item<double>() / language_scored / std::log(2.0);
    }
    m.ignored_fraction_by_language[language.name] = language.ignored_fraction;
    if (std::isfinite(language.bytes_per_patch)) {  // a transformer has no patches
      m.bytes_per_patch_by_language[language.name] = language.bytes_per_patch;
      m.refused_fraction_by_language[language.name] = language.refused_fraction;
    }
  }
  m.loss = scored > 0 ? loss / scored : 0.0;
  m.coverage = total > 0 ? scored / total : 0.0;
  m.ignored_fraction = total > 0 ? ignored / total : 0.0;
  return m;
}

absl::StatusOr<EvalResult> EvaluateBytesFile(ByteLm& model, const std::string& path,
                                             int64_t max_windows, int64_t batch_size,
                                             bool bf16) {
  const int64_t context = model.spec().context_size;
  const torch::Device device = model.parameters().front().device();
  torch::NoGradGuard no_grad;
  const Autocast autocast(device.type(), bf16);
  model.eval();
  // Read a batch at a time: the file may be larger than memory, and with
  // --max_windows only its first windows are read at all.
  double loss_sum = 0, ignored_sum = 0;
  int64_t windows = 0;
  const bool all = max_windows <= 0;
  while (all || windows < max_windows) {
    const int64_t want = std::min({batch_size, all ? batch_size : max_windows - windows,
                                   std::numeric_limits<int64_t>::max() / context});
    absl::StatusOr<std::string> piece = data::ReadFileRange(
        path, static_cast<uint64_t>(windows * context), static_cast<uint64_t>(want * context));
    if (!piece.ok()) return piece.status();
    const int64_t rows = static_cast<int64_t>(piece->size()) / context;
    if (rows == 0) {
      if (windows > 0) break;
      return absl::InvalidArgumentError(absl::StrCat(
          path, " has ", piece->size(), " bytes, fewer than one window of ", context));
    }
    const torch::Tensor targets =
        torch::from_blob(piece->data(), {rows, context}, torch::kUInt8).to(device, torch::kLong);
    const LossOutput loss = ComputeLoss(model.Forward(TokensFromTargets(targets)), targets);
    loss_sum += loss.per_sample.to(torch::kDouble).sum().item<double>();
    ignored_sum += loss.ignored_fraction.item<double>() * static_cast<double>(rows);
    windows += rows;
    if (rows < want) break;
  }
  EvalResult r;
  r.windows = windows;
  r.precision = PrecisionName(bf16);
  r.loss = loss_sum / static_cast<double>(windows);
  r.ignored_fraction = ignored_sum / static_cast<double>(windows);
  return r;
}

}  // namespace spacebyte::trainer
