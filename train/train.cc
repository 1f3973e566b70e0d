#include "train/train.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "data/loader.h"
#include "data/manifest.h"
#include "data/prefetch_loader.h"
#include "parallel/collective_watch.h"
#include "parallel/world_group.h"
#include "google/protobuf/text_format.h"
#include "kernels/matmul_peak.h"
#include "train/batch_upload.h"
#include "train/evaluator.h"
#include "train/lr_schedule.h"
#include "train/metrics_writer.h"
#include "train/run_dir_lock.h"
#include "train/stop_signals.h"
#include "train/training_checkpoint.h"
#include "train/training_session.h"

namespace spacebyte::trainer {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

std::string DefaultRunDir(const std::string& config) {
  return (fs::path("runs") / fs::path(config).stem()).string();
}

absl::Status WriteResolvedConfig(const std::string& run_dir, const proto::RunConfig& config) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  std::ofstream out(fs::path(run_dir) / "config.textproto");
  out << text;
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", run_dir, "/config.textproto"));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<data::PrefetchLoader>> OpenLoader(const TrainingSession& s,
                                                                 const std::string& state) {
  data::LoaderOptions o;
  o.data_dir = s.spec.data.path;
  o.context = s.spec.model.context_size;
  o.global_batch = s.spec.train.batch_size;
  o.dp_size = s.grid->dp();
  o.dp_rank = s.grid->dp_rank();
  o.seed = s.spec.data.seed;
  o.weights = s.spec.data.weights;
  o.alpha = s.spec.data.alpha;
  o.unimax = s.spec.data.unimax;
  o.unimax_max_epochs = s.spec.data.unimax_max_epochs;
  // The whole schedule's bytes, so the shares are the same on resume.
  o.budget_bytes = static_cast<double>(s.spec.train.steps) *
                   static_cast<double>(s.spec.train.batch_size) *
                   static_cast<double>(s.spec.model.context_size);
  o.skip_corrupt = s.spec.data.skip_corrupt;
  o.prefetch = s.spec.data.prefetch;
  absl::StatusOr<std::unique_ptr<data::Loader>> loader = data::Loader::Open(o);
  if (!loader.ok()) return loader.status();
  if (!state.empty()) {
    if (absl::Status st = (*loader)->RestoreState(state); !st.ok()) return st;
  }
  return std::make_unique<data::PrefetchLoader>(std::move(*loader));
}

class Trainer {
 public:
  Trainer(TrainingSession& s, const std::string& run_dir) : s_(s), run_dir_(run_dir) {}

  absl::Status Train(bool insist_on_resume);
  // The stop signal some rank caught (the lowest such number), or 0.
  int stop_signal() const { return stop_signal_; }

 private:
  absl::Status RunSteps(bool insist_on_resume);
  absl::Status Resume(bool insist);
  absl::Status Evaluate(const std::string& split, int64_t step);
  absl::Status Save();
  bool ShouldStop(int64_t step, Clock::time_point start);
  absl::Status Agree(const absl::Status& mine) const { return s_.grid->world().Agree(mine); }

  // A NaN or Inf loss or gradient norm (the same on every rank: both are
  // global) has already reached the weights. Stop before a save could
  // replace a good checkpoint with them, or pruning remove the last one.
  absl::Status NonFinite(int64_t step, const StepResult& r) const {
    return parallel::Agreed(absl::AbortedError(absl::StrCat(
        "step ", step, ": loss ", r.loss, ", gradient norm ", r.grad_norm,
        "; stopped without saving (",
        saved_step_ > 0 ? absl::StrCat("the last checkpoint, step ", saved_step_, ", is kept")
                        : std::string("no checkpoint was saved"),
        "). Lower train.lr, lengthen the warm-up or set train.grad_clip")));
  }

  TrainingSession& s_;
  std::string run_dir_;
  std::unique_ptr<TrainingCheckpointer> checkpointer_;
  std::unique_ptr<MetricsWriter> log_;
  TrainingProgress progress_;
  int64_t saved_step_ = -1;  // step of the newest checkpoint on disk
  int stop_signal_ = 0;
  std::map<std::string, std::unique_ptr<Evaluator>> evaluators_;
};

// Rank 0 finds and verifies the newest complete checkpoint and reports what
// it skipped; the other ranks open the directory it names without reading
// every file a second time.
absl::Status Trainer::Resume(bool insist) {
  const parallel::CollectivePhase phase(
      "resuming: rank 0 checks the newest checkpoint's files, then every rank reads it");
  const std::string checkpoints = checkpointer_->checkpoints_dir();
  std::string chosen;
  if (s_.logging_rank() && fs::exists(checkpoints)) {
    std::vector<std::string> skipped;
    absl::StatusOr<CheckpointReader> latest = FindLatestCheckpoint(checkpoints, &skipped);
    ReportSkippedCheckpoints(skipped);
    if (latest.ok()) chosen = latest->dir();
  }
  chosen = s_.grid->world().Broadcast(chosen, 0);
  if (chosen.empty()) {
    if (insist) {
      return absl::NotFoundError(absl::StrCat("--resume: no complete checkpoint in ", checkpoints));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<CheckpointReader> reader = OpenStepDir(chosen, /*verify=*/false);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<TrainingProgress> restored = checkpointer_->Restore(*reader);
  if (!restored.ok()) return restored.status();
  progress_ = *restored;
  saved_step_ = progress_.step;
  if (s_.logging_rank()) {
    std::cout << "resumed from " << chosen << " at step " << progress_.step << std::endl;
  }
  return absl::OkStatus();
}

absl::Status Trainer::Evaluate(const std::string& split, int64_t step) {
  auto it = evaluators_.find(split);
  if (it == evaluators_.end()) {
    absl::StatusOr<std::unique_ptr<Evaluator>> v = Evaluator::Open(
        s_.spec.data.path, split, s_.spec.model, s_.spec.train.eval_windows);
    // Agreed before Evaluate's collectives: a shard that fails on one rank
    // left the others waiting in them.
    const absl::Status opened = Agree(v.status());
    // The training split opened, so NotFound is an empty split (a corpus
    // prepared with --validation_fraction 0): its evaluations are skipped.
    // Failing instead would stop the run before its final save, every time.
    if (absl::IsNotFound(opened)) {
      log_->Message(absl::StrCat(opened.message(), ": its evaluations are skipped"));
      v = std::unique_ptr<Evaluator>();
    } else if (!opened.ok()) {
      return opened;
    }
    it = evaluators_.emplace(split, std::move(*v)).first;
  }
  if (it->second == nullptr || it->second->windows() == 0) return absl::OkStatus();
  log_->Eval(it->second->Evaluate(*s_.model, step, *s_.dp, s_.spec.train.micro_batch_size,
                                  s_.spec.train.bf16));
  return log_->status();
}

// Saves unless this step's checkpoint already exists (an interval save that
// was also the last step, or a resumed run that had nothing left to do):
// saving it again would replace a complete checkpoint for no reason.
absl::Status Trainer::Save() {
  if (progress_.step == saved_step_) return absl::OkStatus();
  saved_step_ = progress_.step;
  return checkpointer_->Save(progress_);
}

bool Trainer::ShouldStop(int64_t step, Clock::time_point start) {
  const TrainSpec& t = s_.spec.train;
  // A signal reaches the ranks at different moments; all of them stop at
  // the first step boundary where any has it.
  constexpr int kNone = 1 << 30;
  const int mine = PendingStopSignal();
  if (const int first = s_.grid->world().Min(mine == 0 ? kNone : mine); first != kNone) {
    stop_signal_ = first;
    return true;
  }
  if (t.stop_at_step > 0 && step >= t.stop_at_step) return true;
  if (t.max_time <= 0) return false;
  // Rank clocks differ: everyone stops when any rank's time is up.
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return !s_.grid->world().AllOk(elapsed < t.max_time);
}

// Every early return of RunSteps is agreed by all ranks, so the collective
// commit here is safe: a save still in flight holds a good step's state
// (it was copied before the failure) and must not be lost with the run.
absl::Status Trainer::Train(bool insist_on_resume) {
  const absl::Status status = RunSteps(insist_on_resume);
  if (status.ok() || checkpointer_ == nullptr) return status;
  if (absl::Status committed = checkpointer_->Finish(); !committed.ok()) {
    return parallel::Agreed(
        absl::Status(status.code(), absl::StrCat(status.message(), "; ", committed.message())));
  }
  return status;
}

absl::Status Trainer::RunSteps(bool insist_on_resume) {
  const TrainSpec& t = s_.spec.train;
  absl::StatusOr<proto::DatasetManifest> dataset = data::ReadManifest(s_.spec.data.path, true);
  if (absl::Status st = Agree(dataset.status()); !st.ok()) return st;
  checkpointer_ = std::make_unique<TrainingCheckpointer>(
      run_dir_, s_.config, *s_.model, *s_.optimizer, s_.plan, *s_.grid, s_.spec.checkpoint.keep,
      s_.spec.checkpoint.async, data::DatasetFingerprint(*dataset));
  if (absl::Status st = Agree(Resume(insist_on_resume)); !st.ok()) return st;
  absl::StatusOr<std::unique_ptr<data::PrefetchLoader>> loader =
      OpenLoader(s_, progress_.loader_state);
  if (absl::Status st = Agree(loader.status()); !st.ok()) return st;
  log_ = std::make_unique<MetricsWriter>(
      (fs::path(run_dir_) / "metrics.jsonl").string(), s_.logging_rank(), progress_.step,
      s_.spec.log.tensorboard ? (fs::path(run_dir_) / "tensorboard").string() : "");
  if (absl::Status st = Agree(log_->status()); !st.ok()) return st;

  const double peak = MfuPeakGflops(s_.device, t.bf16) * 1e9 * s_.grid->world_size();
  const double flops_per_byte = TrainingFlopsPerByte(s_.spec.model);
  const int64_t bytes_per_step = t.batch_size * s_.spec.model.context_size;
  const auto start = Clock::now();
  auto window_start = start;
  Clock::duration window_paused{};  // evaluations and saves: not training
  int64_t window_steps = 0;
  double window_ignored = 0;
  int64_t step = progress_.step;
  while (step < t.steps && !ShouldStop(step, start)) {
    absl::StatusOr<data::Batch> batch = (*loader)->Next();
    if (absl::Status st = Agree(batch.status()); !st.ok()) return st;
    const double lr = LearningRateAt(step, t.steps, t.lr, t.warmup_fraction);
    const StepResult r = s_.step->Take(UploadBatch(*batch, s_.device), lr);
    ++step;
    if (!std::isfinite(r.loss) || !std::isfinite(r.grad_norm)) return NonFinite(step, r);
    progress_ = {step, progress_.bytes_seen + bytes_per_step, batch->state_after};
    ++window_steps;
    window_ignored += r.ignored_fraction;
    if (step % t.log_interval == 0 || step == t.steps) {
      const auto now = Clock::now();
      const double seconds =
          std::chrono::duration<double>(now - window_start - window_paused).count();
      TrainMetrics m;
      m.step = step;
      m.steps = t.steps;
      m.loss = r.loss;
      m.lr = lr;
      m.grad_norm = r.grad_norm;
      m.bytes_per_s = window_steps * bytes_per_step / seconds;
      m.flops_per_s = m.bytes_per_s * flops_per_byte;
      m.mfu = m.flops_per_s / peak;
      m.ignored_fraction = window_ignored / window_steps;
      m.bytes_seen = progress_.bytes_seen;
      m.elapsed_s = std::chrono::duration<double>(now - start).count();
      log_->Train(m);
      if (absl::Status st = Agree(log_->status()); !st.ok()) return st;
      window_start = now;
      window_paused = {};
      window_steps = 0;
      window_ignored = 0;
    }
    const auto paused = Clock::now();
    if (t.eval_interval > 0 && step % t.eval_interval == 0 && step < t.steps) {
      if (absl::Status st = Agree(Evaluate("validation", step)); !st.ok()) return st;
    }
    const int64_t interval = s_.spec.checkpoint.interval;
    if (interval > 0 && step % interval == 0 && step < t.steps) {
      if (absl::Status st = Save(); !st.ok()) return st;
    }
    window_paused += Clock::now() - paused;
  }
  // The final evaluations come before the final save, so a run whose last
  // checkpoint is committed has logged them, and rerunning it adds nothing.
  if (step >= t.steps && step > saved_step_) {
    for (const char* split : {"validation", "test"}) {
      if (absl::Status st = Agree(Evaluate(split, step)); !st.ok()) return st;
    }
  }
  if (absl::Status st = Save(); !st.ok()) return st;
  if (absl::Status st = checkpointer_->Finish(); !st.ok()) return st;
  if (step < t.steps) {
    log_->Message(absl::StrCat(
        "stopped at step ", step, " of ", t.steps,
        stop_signal_ != 0 ? absl::StrCat(" by signal ", stop_signal_, " (", strsignal(stop_signal_),
                                         "), checkpoint saved")
                          : "",
        "; resume with the same command"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Train(const TrainOptions& options, const parallel::MpiEnv& env,
                   bool* preempted) {
  absl::StatusOr<std::unique_ptr<TrainingSession>> session =
      StartSession(options.config, options.overrides, env);
  if (!session.ok()) return session.status();
  TrainingSession& s = **session;
  if (s.spec.data.path.empty()) {  // the config is agreed, so every rank sees this
    return parallel::Agreed(absl::InvalidArgumentError("run config: data.path is not set"));
  }
  const std::string run_dir = options.run_dir.empty() ? DefaultRunDir(options.config)
                                                      : options.run_dir;
  absl::Status prepared = absl::OkStatus();
  std::optional<RunDirLock> lock;  // held until training ends
  if (s.logging_rank()) {
    std::error_code ec;
    const fs::path checkpoints = fs::path(run_dir) / "checkpoints";
    fs::create_directories(checkpoints, ec);
    absl::StatusOr<RunDirLock> locked = RunDirLock::Acquire(run_dir);
    if (ec) {
      prepared = absl::InternalError(
          absl::StrCat("cannot create ", checkpoints.string(), ": ", ec.message()));
    } else if (!locked.ok()) {
      prepared = locked.status();
    } else {
      lock.emplace(*std::move(locked));
      prepared = WriteResolvedConfig(run_dir, s.config);
    }
  }
  if (absl::Status st = s.grid->world().Agree(prepared); !st.ok()) return st;
  Trainer trainer(s, run_dir);
  absl::Status status = trainer.Train(options.resume);
  *preempted = trainer.stop_signal() != 0;
  return status;
}

}  // namespace spacebyte::trainer
