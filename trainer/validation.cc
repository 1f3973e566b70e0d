#include "trainer/validation.h"

#include <cmath>

#include "data/eval_stream.h"

namespace spacebyte::trainer {

absl::StatusOr<std::unique_ptr<Validator>> Validator::Open(const std::string& data_dir,
                                                           const std::string& split,
                                                           int64_t context,
                                                           int64_t windows_per_language) {
  absl::StatusOr<std::unique_ptr<data::EvalStream>> stream =
      data::EvalStream::Open(data_dir, split, context);
  if (!stream.ok()) return stream.status();
  auto v = std::make_unique<Validator>();
  v->split_ = split;
  v->languages_ = (*stream)->languages();
  std::vector<int64_t> per_language(v->languages_.size(), 0);
  std::vector<torch::Tensor> rows;
  std::vector<int64_t> languages;
  data::EvalWindow w;
  while (true) {
    absl::StatusOr<bool> more = (*stream)->Next(&w);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (per_language[w.language]++ >= windows_per_language || w.length == 0) continue;
    torch::Tensor row = torch::tensor(std::vector<int64_t>(w.targets.begin(), w.targets.end()));
    row.narrow(0, w.length, context - w.length).fill_(-1);
    rows.push_back(row);
    languages.push_back(w.language);
  }
  if (rows.empty()) {
    v->targets_ = torch::zeros({0, context}, torch::kLong);
    v->language_ = torch::zeros({0}, torch::kLong);
  } else {
    v->targets_ = torch::stack(rows);
    v->language_ = torch::tensor(languages);
  }
  return v;
}

EvalMetrics Validator::Evaluate(ByteLm& model, int64_t step, parallel::Collectives& dp,
                                int64_t batch_size) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int64_t n = windows(), languages = static_cast<int64_t>(languages_.size());
  // Batches, sums and the dp all-reduce live on the model's device.
  const torch::Device device = model.parameters().front().device();
  const torch::Tensor targets_here = targets_.to(device), language_here = language_.to(device);
  // Per language: summed window losses, window counts, ignored fractions.
  torch::Tensor sums = torch::zeros({3, std::max<int64_t>(languages, 1)},
                                    torch::TensorOptions(torch::kDouble).device(device));
  // Every rank runs the same number of batches (the tp group needs it), some
  // of them possibly empty of windows of its own.
  const int64_t per_rank = (n + dp.size() - 1) / dp.size();
  const int64_t first = std::min(n, dp.rank() * per_rank);
  const int64_t mine = std::min(per_rank, n - first);
  for (int64_t start = 0; start < mine; start += batch_size) {
    const int64_t rows = std::min(batch_size, mine - start);
    const torch::Tensor targets = targets_here.narrow(0, first + start, rows);
    const torch::Tensor tokens = TokensFromTargets(targets.clamp_min(0));
    const LossOutput loss = ComputeLoss(model.Forward(tokens), targets);
    const torch::Tensor lang = language_here.narrow(0, first + start, rows);
    sums[0].index_add_(0, lang, loss.per_sample.to(torch::kDouble));
    sums[1].index_add_(0, lang, torch::ones({rows}, sums.options()));
    sums[2][0] += loss.ignored_fraction * static_cast<double>(rows);
  }
  // Ranks with fewer batches still join the tp group's collectives.
  const int64_t batches = (per_rank + batch_size - 1) / batch_size;
  for (int64_t b = (mine + batch_size - 1) / batch_size; b < batches; ++b) {
    model.Forward(TokensFromTargets(targets_here.narrow(0, 0, 1).clamp_min(0)));
  }
  dp.AllReduceSum(sums);
  sums = sums.cpu();
  model.train();

  EvalMetrics m;
  m.step = step;
  m.split = split_;
  m.windows = n;
  m.loss = n > 0 ? sums[0].sum().item<double>() / n : 0.0;
  m.ignored_fraction = n > 0 ? sums[2].sum().item<double>() / n : 0.0;
  for (int64_t l = 0; l < languages; ++l) {
    const double count = sums[1][l].item<double>();
    if (count > 0) {
      m.bits_per_byte_by_language[languages_[l]] =
          sums[0][l].item<double>() / count / std::log(2.0);
    }
  }
  return m;
}

}  // namespace spacebyte::trainer
