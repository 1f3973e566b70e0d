#include "train/run_spec.h"

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>

#include <torch/version.h>

#include "absl/strings/str_cat.h"
#include "data/loader.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace spacebyte::trainer {

// Every context a model config accepts, the loader accepts too.
static_assert(kMaxModelContext <= data::kMaxContext);

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("run config: ", message));
}

// A config field and the struct member that holds it. The member's
// initialiser is the default (config.proto's comment repeats it, and
// run_spec_test holds the two equal); a field set in the config replaces it,
// and ResolvedConfig writes the member back. Fields whose default depends on
// others, or whose value is translated, are resolved by hand below.
template <typename Spec>
struct Field {
  const char* name;
  std::variant<double Spec::*, int64_t Spec::*, int Spec::*, uint64_t Spec::*, bool Spec::*,
               std::string Spec::*>
      member;
};

template <typename T>
T Get(const Message& m, const FieldDescriptor* f) {
  const auto* r = m.GetReflection();
  if constexpr (std::is_same_v<T, std::string>) {
    return r->GetString(m, f);
  } else {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE: return static_cast<T>(r->GetDouble(m, f));
      case FieldDescriptor::CPPTYPE_INT32: return static_cast<T>(r->GetInt32(m, f));
      case FieldDescriptor::CPPTYPE_INT64: return static_cast<T>(r->GetInt64(m, f));
      case FieldDescriptor::CPPTYPE_UINT64: return static_cast<T>(r->GetUInt64(m, f));
      default: return static_cast<T>(r->GetBool(m, f));
    }
  }
}

template <typename T>
void Set(Message* m, const FieldDescriptor* f, const T& value) {
  const auto* r = m->GetReflection();
  if constexpr (std::is_same_v<T, std::string>) {
    r->SetString(m, f, value);
  } else {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE: return r->SetDouble(m, f, static_cast<double>(value));
      case FieldDescriptor::CPPTYPE_INT32: return r->SetInt32(m, f, static_cast<int32_t>(value));
      case FieldDescriptor::CPPTYPE_INT64: return r->SetInt64(m, f, static_cast<int64_t>(value));
      case FieldDescriptor::CPPTYPE_UINT64: return r->SetUInt64(m, f, static_cast<uint64_t>(value));
      default: return r->SetBool(m, f, static_cast<bool>(value));
    }
  }
}

// Config to struct: only fields present in the config (for a proto3 plain
// scalar, a nonzero value) replace the default.
template <typename Spec, size_t N>
void ReadFields(const Message& m, const Field<Spec> (&fields)[N], Spec* spec) {
  for (const Field<Spec>& field : fields) {
    const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(field.name);
    if (!m.GetReflection()->HasField(m, f)) continue;
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(spec->*member)>;
          spec->*member = Get<T>(m, f);
        },
        field.member);
  }
}

// Struct to config: every field, defaults written out.
template <typename Spec, size_t N>
void WriteFields(const Spec& spec, const Field<Spec> (&fields)[N], Message* m) {
  for (const Field<Spec>& field : fields) {
    const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(field.name);
    std::visit([&](auto member) { Set(m, f, spec.*member); }, field.member);
  }
}

const Field<TrainSpec> kTrainFields[] = {
    {"seed", &TrainSpec::seed},
    {"log_interval", &TrainSpec::log_interval},
    {"eval_interval", &TrainSpec::eval_interval},
    {"eval_windows", &TrainSpec::eval_windows},
    {"stop_at_step", &TrainSpec::stop_at_step},
    {"max_time", &TrainSpec::max_time},
    {"warmup_fraction", &TrainSpec::warmup_fraction},
    {"weight_decay", &TrainSpec::weight_decay},
    {"beta1", &TrainSpec::beta1},
    {"beta2", &TrainSpec::beta2},
    {"grad_clip", &TrainSpec::grad_clip},
    {"activation_checkpointing", &TrainSpec::activation_checkpointing},
    {"threads", &TrainSpec::threads},
};
const Field<DataSpec> kDataFields[] = {
    {"path", &DataSpec::path},
    {"seed", &DataSpec::seed},
    {"skip_corrupt", &DataSpec::skip_corrupt},
    {"prefetch", &DataSpec::prefetch},
};
const Field<CheckpointSpec> kCheckpointFields[] = {
    {"interval", &CheckpointSpec::interval},
    {"keep", &CheckpointSpec::keep},
    {"async", &CheckpointSpec::async},
};
const Field<ParallelSpec> kParallelFields[] = {
    {"tp", &ParallelSpec::tp},
    {"bucket_mb", &ParallelSpec::bucket_mb},
    {"backend", &ParallelSpec::backend},
    {"shard_optimizer", &ParallelSpec::shard_optimizer},
    {"collective_timeout_s", &ParallelSpec::collective_timeout_s},
};
const Field<LogSpec> kLogFields[] = {{"tensorboard", &LogSpec::tensorboard}};

absl::StatusOr<ParallelSpec> ResolveParallel(const proto::ParallelConfig& c, int world) {
  ParallelSpec p;
  if (c.tp() < 0) return Invalid(absl::StrCat("parallel.tp = ", c.tp(), " is negative"));
  ReadFields(c, kParallelFields, &p);
  if (world % p.tp != 0) {
    return Invalid(absl::StrCat("world size ", world, " is not divisible by parallel.tp = ",
                                p.tp));
  }
  p.dp = world / p.tp;
  if (!(c.bucket_mb() >= 0) || !std::isfinite(c.bucket_mb())) {
    return Invalid("parallel.bucket_mb must be a finite number >= 0");
  }
  if (!(p.collective_timeout_s >= 0) || !std::isfinite(p.collective_timeout_s)) {
    return Invalid("parallel.collective_timeout_s must be a finite number >= 0 (0: no limit)");
  }
  if (p.backend != "auto" && p.backend != "mpi" && p.backend != "nccl") {
    return Invalid(absl::StrCat("parallel.backend = '", p.backend,
                                "' is not one of auto | mpi | nccl"));
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
  // More threads than any machine has cores only starves it (100000 hung
  // for minutes and ignored SIGTERM).
  if (t.threads > 1024) {
    return Invalid(absl::StrCat("train.threads = ", t.threads, " exceeds 1024"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainSpec> ResolveTrain(const proto::TrainConfig& c, const ModelSpec& model,
                                       const ParallelSpec& p) {
  TrainSpec t;
  if (c.batch_size() <= 0 || c.batch_size() > data::kMaxGlobalBatch) {
    return Invalid(absl::StrCat("train.batch_size = ", c.batch_size(), " must be in [1, ",
                                data::kMaxGlobalBatch, "]"));
  }
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
  ReadFields(c, kTrainFields, &t);
  if (!c.device().empty() && c.device() != "cpu" && c.device() != "cuda") {
    return Invalid(absl::StrCat("train.device = '", c.device(), "' is not one of cpu | cuda"));
  }
  t.cuda = c.device() == "cuda";
  absl::StatusOr<bool> bf16 =
      ResolveBf16(c.precision(), t.cuda, "train.precision", "train.device = cuda");
  if (!bf16.ok()) return Invalid(std::string(bf16.status().message()));
  t.bf16 = *bf16;
  if (t.log_interval <= 0) return Invalid("train.log_interval must be positive");
  if (absl::Status s = CheckTrainNumbers(t); !s.ok()) return s;
  return t;
}

}  // namespace

absl::StatusOr<bool> ResolveBf16(const std::string& precision, bool cuda,
                                 const std::string& precision_name,
                                 const std::string& cuda_name) {
  if (!precision.empty() && precision != "bf16" && precision != "fp32") {
    return absl::InvalidArgumentError(
        absl::StrCat(precision_name, " = '", precision, "' is not one of bf16 | fp32"));
  }
  const bool bf16 = precision.empty() ? cuda : precision == "bf16";
  if (!bf16 || TORCH_VERSION_MAJOR >= 2) return bf16;
  // bf16 by default means CUDA was asked for: name the device, not a
  // precision the user never chose.
  if (precision.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cuda_name, " needs a CUDA LibTorch >= 2; this build has ", TORCH_VERSION,
                     " (docs/launch.md: building on a GPU node)"));
  }
  return absl::InvalidArgumentError(absl::StrCat(precision_name,
                                                 " = bf16 needs LibTorch >= 2; this build has ",
                                                 TORCH_VERSION, " (set ", precision_name,
                                                 " to fp32)"));
}

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
  ReadFields(d, kDataFields, &spec.data);
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
  if (spec.data.prefetch < 1 || spec.data.prefetch > 1024) {
    return Invalid(absl::StrCat("data.prefetch = ", spec.data.prefetch, " must be in [1, 1024]"));
  }

  ReadFields(config.checkpoint(), kCheckpointFields, &spec.checkpoint);
  if (spec.checkpoint.interval < 0 || spec.checkpoint.keep < 1) {
    return Invalid("checkpoint.interval must be >= 0 and checkpoint.keep >= 1");
  }
  ReadFields(config.log(), kLogFields, &spec.log);
  return spec;
}

proto::RunConfig ResolvedConfig(const proto::RunConfig& config, const RunSpec& s) {
  proto::RunConfig r = config;
  *r.mutable_model() = ToProto(s.model);
  proto::TrainConfig& t = *r.mutable_train();
  WriteFields(s.train, kTrainFields, &t);
  t.clear_budget_bytes();
  t.clear_budget_flops();
  t.set_steps(s.train.steps);
  t.set_micro_batch_size(s.train.micro_batch_size);
  t.set_lr(s.train.lr);
  t.set_device(s.train.cuda ? "cuda" : "cpu");
  t.set_precision(PrecisionName(s.train.bf16));
  WriteFields(s.data, kDataFields, r.mutable_data());
  r.mutable_data()->set_mixing(s.data.unimax ? "unimax" : "temperature");
  // Only under unimax, so configs of temperature runs saved before it
  // existed still match on resume.
  if (s.data.unimax) r.mutable_data()->set_unimax_max_epochs(s.data.unimax_max_epochs);
  WriteFields(s.checkpoint, kCheckpointFields, r.mutable_checkpoint());
  WriteFields(s.parallel, kParallelFields, r.mutable_parallel());
  WriteFields(s.log, kLogFields, r.mutable_log());
  return r;
}

}  // namespace spacebyte::trainer
