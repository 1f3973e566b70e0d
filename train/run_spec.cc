#include "train/run_spec.h"

#include <cmath>
#include <limits>

#include <torch/version.h>

#include "absl/strings/str_cat.h"

namespace spacebyte::trainer {
namespace {

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("run config: ", message));
}

absl::StatusOr<ParallelSpec> ResolveParallel(const proto::ParallelConfig& c, int world) {
  ParallelSpec p;
  if (c.tp() < 0) return Invalid(absl::StrCat("parallel.tp = ", c.tp(), " is negative"));
  p.tp = c.tp() > 0 ? c.tp() : 1;
  if (world % p.tp != 0) {
    return Invalid(absl::StrCat("world size ", world, " is not divisible by parallel.tp = ",
                                p.tp));
  }
  p.dp = world / p.tp;
  if (!(c.bucket_mb() >= 0) || !std::isfinite(c.bucket_mb())) {
    return Invalid("parallel.bucket_mb must be a finite number >= 0");
  }
  if (c.bucket_mb() > 0) p.bucket_mb = c.bucket_mb();
  if (!c.backend().empty() && c.backend() != "auto") {
    if (c.backend() != "mpi" && c.backend() != "nccl") {
      return Invalid(absl::StrCat("parallel.backend = '", c.backend(),
                                  "' is not one of auto | mpi | nccl"));
    }
    p.backend = c.backend();
  }
  return p;
}

// NaN fails every comparison, so each range is written to reject it.
absl::Status CheckTrainNumbers(const TrainSpec& t) {
  auto in = [](double v, double lo, double hi) { return v >= lo && v <= hi; };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const struct {
    const char* name;
    double value, lo, hi;
    const char* range;
  } kChecks[] = {
      {"train.lr", t.lr, std::numeric_limits<double>::min(), 1e6, "in (0, 1e6]"},
      {"train.beta1", t.beta1, 0, std::nextafter(1.0, 0.0), "in [0, 1)"},
      {"train.beta2", t.beta2, 0, std::nextafter(1.0, 0.0), "in [0, 1)"},
      {"train.weight_decay", t.weight_decay, 0, 1e6, "finite and >= 0"},
      {"train.grad_clip", t.grad_clip, 0, 1e30, "finite and >= 0 (0 = no clipping)"},
      {"train.warmup_fraction", t.warmup_fraction, 0, 1, "in [0, 1]"},
      {"train.max_time", t.max_time, 0, kInf, "a number >= 0"},
  };
  for (const auto& c : kChecks) {
    if (!in(c.value, c.lo, c.hi)) {
      return Invalid(absl::StrCat(c.name, " = ", c.value, " must be ", c.range));
    }
  }
  if (t.stop_at_step < 0 || t.eval_interval < 0 || t.eval_windows < 0 || t.threads < 0) {
    return Invalid(
        "train.stop_at_step, eval_interval, eval_windows and threads must not be negative");
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainSpec> ResolveTrain(const proto::TrainConfig& c, const ModelSpec& model,
                                       const ParallelSpec& p) {
  TrainSpec t;
  if (c.batch_size() <= 0) return Invalid("train.batch_size must be positive");
  t.batch_size = c.batch_size();
  if (t.batch_size % p.dp != 0) {
    return Invalid(absl::StrCat("train.batch_size = ", t.batch_size,
                                " is not divisible by the data-parallel size ", p.dp));
  }
  const int64_t per_rank = t.batch_size / p.dp;
  t.micro_batch_size = c.has_micro_batch_size() ? c.micro_batch_size() : per_rank;
  if (t.micro_batch_size <= 0 || per_rank % t.micro_batch_size != 0) {
    return Invalid(absl::StrCat("train.micro_batch_size = ", t.micro_batch_size,
                                " must divide the per-rank batch ", per_rank,
                                " (train.batch_size / dp)"));
  }
  t.accumulation = per_rank / t.micro_batch_size;
  const double bytes_per_step = static_cast<double>(t.batch_size) * model.context_size;
  const int budgets = (c.steps() > 0) + c.has_budget_bytes() + c.has_budget_flops();
  if (budgets != 1) {
    return Invalid("give exactly one of train.steps, train.budget_bytes, train.budget_flops");
  }
  if (c.steps() > 0) t.steps = c.steps();
  if ((c.has_budget_bytes() && !(c.budget_bytes() > 0 && c.budget_bytes() < 1e21)) ||
      (c.has_budget_flops() && !(c.budget_flops() > 0 && c.budget_flops() < 1e30))) {
    return Invalid("train.budget_bytes and train.budget_flops must be positive and finite");
  }
  if (c.has_budget_bytes()) t.steps = std::ceil(c.budget_bytes() / bytes_per_step);
  if (c.has_budget_flops()) {
    t.steps = std::ceil(c.budget_flops() / (TrainingFlopsPerByte(model) * bytes_per_step));
  }
  if (t.steps <= 0) return Invalid("the training budget gives no steps");
  t.lr = c.has_lr() ? c.lr() : 0.005 * std::sqrt(static_cast<double>(t.batch_size));
  t.warmup_fraction = c.has_warmup_fraction() ? c.warmup_fraction() : 0.01;
  t.weight_decay = c.has_weight_decay() ? c.weight_decay() : 0.01;
  t.beta1 = c.has_beta1() ? c.beta1() : 0.9;
  t.beta2 = c.has_beta2() ? c.beta2() : 0.98;
  t.grad_clip = c.has_grad_clip() ? c.grad_clip() : 1.0;
  t.seed = c.seed();
  t.log_interval = c.has_log_interval() ? c.log_interval() : 10;
  t.eval_interval = c.has_eval_interval() ? c.eval_interval() : 0;
  t.eval_windows = c.has_eval_windows() ? c.eval_windows() : 0;
  t.stop_at_step = c.stop_at_step();
  t.max_time = c.max_time();
  t.activation_checkpointing = c.activation_checkpointing();
  if (!c.device().empty() && c.device() != "cpu" && c.device() != "cuda") {
    return Invalid(absl::StrCat("train.device = '", c.device(), "' is not one of cpu | cuda"));
  }
  t.cuda = c.device() == "cuda";
  if (!c.precision().empty() && c.precision() != "bf16" && c.precision() != "fp32") {
    return Invalid(absl::StrCat("train.precision = '", c.precision(), "' is not one of bf16 | fp32"));
  }
  t.bf16 = c.precision().empty() ? t.cuda : c.precision() == "bf16";
  if (t.bf16 && TORCH_VERSION_MAJOR < 2) {
    return Invalid(absl::StrCat("train.precision = bf16 needs LibTorch >= 2; this build has ",
                                TORCH_VERSION, (t.cuda ? "" : " (set train.precision: \"fp32\")")));
  }
  t.threads = c.threads();
  if (t.log_interval <= 0) return Invalid("train.log_interval must be positive");
  if (absl::Status s = CheckTrainNumbers(t); !s.ok()) return s;
  return t;
}

}  // namespace

absl::StatusOr<RunSpec> ResolveRunConfig(const proto::RunConfig& config, int world_size) {
  RunSpec spec;
  absl::StatusOr<ModelSpec> model = ResolveModelConfig(config.model());
  if (!model.ok()) return model.status();
  spec.model = *model;
  absl::StatusOr<ParallelSpec> parallel = ResolveParallel(config.parallel(), world_size);
  if (!parallel.ok()) return parallel.status();
  spec.parallel = *parallel;
  absl::StatusOr<TrainSpec> train = ResolveTrain(config.train(), spec.model, spec.parallel);
  if (!train.ok()) return train.status();
  spec.train = *train;
  // One rule: NCCL moves CUDA tensors, MPI CPU ones.
  const std::string wanted = spec.train.cuda ? "nccl" : "mpi";
  if (spec.parallel.backend == "auto") spec.parallel.backend = wanted;
  if (spec.parallel.backend != wanted) {
    return Invalid(absl::StrCat("parallel.backend = ", spec.parallel.backend, " cannot move ",
                                spec.train.cuda ? "cuda" : "cpu", " tensors; use ", wanted,
                                " or auto"));
  }

  const proto::DataConfig& d = config.data();
  spec.data.path = d.path();
  spec.data.seed = d.seed();
  for (const proto::LanguageWeight& w : d.weights()) {
    if (!(w.weight() >= 0) || !std::isfinite(w.weight())) {
      return Invalid(absl::StrCat("data.weights for '", w.language(), "' must be finite and >= 0"));
    }
    spec.data.weights[w.language()] = w.weight();
  }
  if (d.has_alpha()) {
    if (!(d.alpha() >= 0 && d.alpha() <= 100)) {
      return Invalid(absl::StrCat("data.alpha = ", d.alpha(), " must be in [0, 100]"));
    }
    spec.data.alpha = d.alpha();
  }
  if (d.mixing() != "" && d.mixing() != "temperature" && d.mixing() != "unimax") {
    return Invalid(absl::StrCat("data.mixing = '", d.mixing(), "' is not one of temperature | unimax"));
  }
  spec.data.unimax = d.mixing() == "unimax";
  if (d.has_unimax_max_epochs()) spec.data.unimax_max_epochs = d.unimax_max_epochs();
  if (!(spec.data.unimax_max_epochs > 0) || !std::isfinite(spec.data.unimax_max_epochs)) {
    return Invalid(absl::StrCat("data.unimax_max_epochs must be positive, got ",
                                spec.data.unimax_max_epochs));
  }
  if (spec.data.unimax && (d.has_alpha() || d.weights_size() > 0)) {
    return Invalid("data.mixing = unimax sets the language weights itself; drop data.weights and data.alpha");
  }
  spec.data.skip_corrupt = d.skip_corrupt();
  if (d.has_prefetch()) spec.data.prefetch = d.prefetch();
  if (spec.data.prefetch < 1 || spec.data.prefetch > 1024) {
    return Invalid(absl::StrCat("data.prefetch = ", spec.data.prefetch, " must be in [1, 1024]"));
  }

  const proto::CheckpointConfig& c = config.checkpoint();
  spec.checkpoint.interval = c.has_interval() ? c.interval() : 1000;
  spec.checkpoint.keep = c.has_keep() ? c.keep() : 3;
  spec.checkpoint.async = c.async();
  if (spec.checkpoint.interval < 0 || spec.checkpoint.keep < 1) {
    return Invalid("checkpoint.interval must be >= 0 and checkpoint.keep >= 1");
  }
  if (config.log().has_tensorboard()) spec.log.tensorboard = config.log().tensorboard();
  return spec;
}

proto::RunConfig ResolvedConfig(const proto::RunConfig& config, const RunSpec& s) {
  proto::RunConfig r = config;
  *r.mutable_model() = ToProto(s.model);
  proto::TrainConfig& t = *r.mutable_train();
  t.clear_budget_bytes();
  t.clear_budget_flops();
  t.set_steps(s.train.steps);
  t.set_micro_batch_size(s.train.micro_batch_size);
  t.set_lr(s.train.lr);
  t.set_warmup_fraction(s.train.warmup_fraction);
  t.set_weight_decay(s.train.weight_decay);
  t.set_beta1(s.train.beta1);
  t.set_beta2(s.train.beta2);
  t.set_grad_clip(s.train.grad_clip);
  t.set_log_interval(s.train.log_interval);
  t.set_eval_interval(s.train.eval_interval);
  t.set_eval_windows(s.train.eval_windows);
  t.set_device(s.train.cuda ? "cuda" : "cpu");
  t.set_precision(s.train.bf16 ? "bf16" : "fp32");
  r.mutable_parallel()->set_backend(s.parallel.backend);
  r.mutable_parallel()->set_tp(s.parallel.tp);
  r.mutable_parallel()->set_bucket_mb(s.parallel.bucket_mb);
  r.mutable_checkpoint()->set_keep(s.checkpoint.keep);
  r.mutable_checkpoint()->set_interval(s.checkpoint.interval);
  r.mutable_log()->set_tensorboard(s.log.tensorboard);
  r.mutable_data()->set_mixing(s.data.unimax ? "unimax" : "temperature");
  if (s.data.unimax) r.mutable_data()->set_unimax_max_epochs(s.data.unimax_max_epochs);
  return r;
}

}  // namespace spacebyte::trainer
