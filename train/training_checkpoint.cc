#include "train/training_checkpoint.h"

#include <filesystem>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "parallel/collective_watch.h"
#include "parallel/world_group.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "checkpoint/save_fault.h"

namespace spacebyte::trainer {
namespace fs = std::filesystem;

// A save whose file is being written (maybe on a background thread).
struct TrainingCheckpointer::PendingWrite {
  TrainingProgress progress;
  std::string tmp_dir, final_dir;
  std::vector<NamedSlice> slices;  // owned copies when asynchronous
  absl::StatusOr<proto::CheckpointFile> file = absl::UnknownError("not written");
  std::vector<proto::TensorSlice> entries;
  std::thread thread;
  bool writes = false;  // whether this rank writes a file at all

  void Write(int rank) {
    if (!writes) return;
    const std::string path = (fs::path(tmp_dir) / absl::StrFormat("rank_%05d.bin", rank)).string();
    file = WriteTensorFile(path, rank, slices, &entries);
    slices.clear();
  }
};

TrainingCheckpointer::TrainingCheckpointer(std::string run_dir, proto::RunConfig config,
                                           ByteLm& model, Optimizer& optimizer,
                                           const TensorParallelPlan& plan,
                                           const parallel::ProcessGrid& grid, int keep,
                                           bool async, std::string dataset_fingerprint)
    : run_dir_(std::move(run_dir)),
      config_(std::move(config)),
      dataset_fingerprint_(std::move(dataset_fingerprint)),
      model_(model),
      optimizer_(optimizer),
      plan_(plan),
      grid_(grid),
      keep_(keep),
      async_(async) {}

TrainingCheckpointer::~TrainingCheckpointer() {
  if (pending_ && pending_->thread.joinable()) pending_->thread.join();
}

std::string TrainingCheckpointer::checkpoints_dir() const {
  return (fs::path(run_dir_) / "checkpoints").string();
}

// The weights and AdamW moments this rank owns (every element unsharded; its
// dp slice of each bucket with a sharded optimizer), each stored at its place
// in the full tensor. Tensors replicated over tp are written by tp rank 0.
std::vector<NamedSlice> TrainingCheckpointer::CollectSlices() {
  std::map<std::string, std::vector<int64_t>> local_shape;
  for (const auto& p : model_.named_parameters()) local_shape[p.key()] = p.value().sizes().vec();
  std::vector<NamedSlice> slices;
  for (const Optimizer::Piece& piece : optimizer_.Owned()) {
    auto it = plan_.sharded.find(piece.param);
    const parallel::ShardLayout* layout = it == plan_.sharded.end() ? nullptr : &it->second;
    if (layout == nullptr && plan_.rank != 0) continue;
    const std::vector<int64_t>& shape = local_shape.at(piece.param);
    const std::vector<int64_t> global = layout ? layout->global_shape : shape;
    const int64_t n = piece.weight.numel();
    for (const parallel::FlatBox& box :
         parallel::FlatRangeBoxes(shape, piece.offset, piece.offset + n, layout)) {
      int64_t count = 1;
      for (int64_t e : box.extent) count *= e;
      const int64_t at = box.flat_begin - piece.offset;
      for (auto [name, flat] : {std::pair{"model/" + piece.param, &piece.weight},
                                std::pair{"optim/" + piece.param + "/exp_avg", &piece.exp_avg},
                                std::pair{"optim/" + piece.param + "/exp_avg_sq",
                                          &piece.exp_avg_sq}}) {
        slices.push_back({name, flat->narrow(0, at, count).view(box.extent), global, box.start});
      }
    }
  }
  // One step count for every parameter, kept per parameter in the file so
  // the format does not depend on how the optimizer counts.
  if (plan_.rank == 0 && grid_.dp_rank() == 0) {
    const torch::Tensor steps = torch::tensor(optimizer_.steps(), torch::kLong);
    for (const auto& [param, shape] : local_shape) {
      slices.push_back({"optim/" + param + "/step", steps, {}, {}});
    }
  }
  return slices;
}

absl::Status TrainingCheckpointer::Save(const TrainingProgress& progress) {
  const parallel::CollectivePhase phase("saving a checkpoint");
  if (absl::Status s = Finish(); !s.ok()) return s;
  auto write = std::make_unique<PendingWrite>();
  write->progress = progress;
  write->final_dir = (fs::path(checkpoints_dir()) / StepDirName(progress.step)).string();
  write->tmp_dir = write->final_dir + ".tmp";
  if (grid_.world_rank() == 0) {
    std::error_code ec;
    fs::remove_all(write->tmp_dir, ec);
    fs::create_directories(write->tmp_dir, ec);
  }
  grid_.world().Barrier();
  // Data-parallel replicas hold the same tensors: only dp rank 0 writes,
  // unless the optimizer is sharded and every rank holds its own slice.
  write->writes = optimizer_.sharded() || grid_.dp_rank() == 0;
  if (write->writes) {
    write->slices = CollectSlices();
    // Training goes on changing the tensors while the thread writes, so it
    // writes a copy, made on the host: on a GPU a copy there would hold the
    // weights and both moments (5.2 GB at the 1e19 shapes) near the peak.
    if (async_) {
      for (NamedSlice& s : write->slices) {
        s.data = s.data.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
      }
    }
  }
  if (async_) {
    PendingWrite* w = write.get();
    const int rank = grid_.world_rank();
    write->thread = std::thread([w, rank] { w->Write(rank); });
    pending_ = std::move(write);
    return absl::OkStatus();
  }
  write->Write(grid_.world_rank());
  return Commit(*write);
}

absl::Status TrainingCheckpointer::Finish() {
  if (!pending_) return absl::OkStatus();
  std::unique_ptr<PendingWrite> write = std::move(pending_);
  if (write->thread.joinable()) write->thread.join();
  return Commit(*write);
}

absl::Status TrainingCheckpointer::Commit(PendingWrite& write) {
  const parallel::CollectivePhase phase(
      "committing a checkpoint: each rank's file written, then rank 0 checks and prunes");
  // Each rank describes what it wrote (or why it failed); rank 0 commits only
  // if every rank succeeded.
  MaybeDieAt("files", write.progress.step, grid_.world_rank(), grid_.world_size());
  proto::CheckpointManifest mine;
  std::string error;
  if (write.writes) {
    if (write.file.ok()) {
      *mine.add_files() = *write.file;
      for (auto& e : write.entries) *mine.add_tensors() = e;
    } else {
      error = std::string(write.file.status().message());
    }
  }
  const bool ok = grid_.world().AllOk(error.empty());
  // 'M' + a partial manifest, or 'E' + the reason this rank failed.
  const std::vector<std::string> parts = grid_.world().Gather(
      error.empty() ? "M" + mine.SerializeAsString() : "E" + error, 0);
  std::string outcome;
  if (grid_.world_rank() == 0) {
    if (!ok) {
      for (const std::string& p : parts) {
        if (p[0] == 'E') outcome = p.substr(1);
      }
      outcome = absl::StrCat("checkpoint ", write.tmp_dir, " not committed: ", outcome);
    } else {
      ManifestBuilder manifest(write.progress.step, config_, grid_.dp(), grid_.tp());
      manifest.SetProgress(write.progress.loader_state, write.progress.bytes_seen,
                           dataset_fingerprint_);
      for (const std::string& p : parts) {
        proto::CheckpointManifest part;
        part.ParseFromString(p.substr(1));
        for (const proto::CheckpointFile& f : part.files()) manifest.AddFile(f, part.tensors());
      }
      absl::Status s = CommitCheckpoint(write.tmp_dir, write.final_dir, manifest.manifest());
      if (s.ok()) {
        verified_steps_.insert(write.progress.step);
        s = PruneCheckpoints(checkpoints_dir(), keep_, write.progress.step, &verified_steps_);
      }
      if (!s.ok()) outcome = std::string(s.message());
    }
  }
  outcome = grid_.world().Broadcast(outcome, 0);
  return outcome.empty() ? absl::OkStatus() : parallel::Agreed(absl::InternalError(outcome));
}

namespace {

// Config fields a resumed run may change (docs/reliability.md lists them):
// the layout and the hardware, logging and evaluation, how checkpoints are
// kept, and the schedule's length. Everything else would make the resumed
// run a different run from the one its checkpoint continues.
constexpr const char* kMayChangeOnResume[] = {
    "parallel",           "train.steps",         "train.stop_at_step",
    "train.max_time",     "train.log_interval",  "train.eval_interval",
    "train.eval_windows", "train.micro_batch_size", "train.activation_checkpointing",
    "train.device",       "train.precision",     "train.threads",
    "data.path",          "data.prefetch",       "data.skip_corrupt",
    "checkpoint",         "log"};

bool MayChange(const std::string& path) {
  for (const char* allowed : kMayChangeOnResume) {
    if (path == allowed) return true;
  }
  return false;
}

// A field's value in text format; a repeated one as "[a, b, ...]".
std::string FieldText(const google::protobuf::Message& m,
                      const google::protobuf::FieldDescriptor* f) {
  using google::protobuf::TextFormat;
  std::string text;
  if (!f->is_repeated()) {
    TextFormat::PrintFieldValueToString(m, f, -1, &text);
    return text;
  }
  std::vector<std::string> items(m.GetReflection()->FieldSize(m, f));
  for (size_t i = 0; i < items.size(); ++i) {
    TextFormat::PrintFieldValueToString(m, f, static_cast<int>(i), &items[i]);
  }
  return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
}

void Differences(const google::protobuf::Message& saved, const google::protobuf::Message& wanted,
                 const std::string& prefix, std::vector<std::string>* diffs) {
  using google::protobuf::FieldDescriptor;
  const auto* descriptor = saved.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* f = descriptor->field(i);
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (MayChange(path)) continue;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      const auto* r = saved.GetReflection();
      Differences(r->GetMessage(saved, f), r->GetMessage(wanted, f), path, diffs);
      continue;
    }
    const std::string a = FieldText(saved, f), b = FieldText(wanted, f);
    if (a != b) diffs->push_back(absl::StrCat(path, " (checkpoint ", a, ", config ", b, ")"));
  }
}

}  // namespace

std::string ConfigDifferences(const proto::RunConfig& saved, const proto::RunConfig& wanted) {
  std::vector<std::string> diffs;
  Differences(saved, wanted, "", &diffs);
  return absl::StrJoin(diffs, ", ");
}

// The shape of the whole tensor behind `param`, of which this rank may hold
// a tensor-parallel shard.
std::vector<int64_t> TrainingCheckpointer::GlobalShape(const std::string& param,
                                                       const torch::Tensor& local) const {
  auto it = plan_.sharded.find(param);
  if (it == plan_.sharded.end() || local.dim() == 0) return local.sizes().vec();
  return it->second.global_shape;
}

absl::StatusOr<torch::Tensor> TrainingCheckpointer::ReadLocal(const CheckpointReader& reader,
                                                              const std::string& name,
                                                              const std::string& param,
                                                              const torch::Tensor& like) const {
  absl::StatusOr<torch::Tensor> full = reader.Read(name);
  if (!full.ok()) return full.status();
  const std::vector<int64_t> want = GlobalShape(param, like);
  if (full->sizes().vec() != want || full->scalar_type() != like.scalar_type()) {
    return absl::DataLossError(absl::StrCat(
        reader.dir(), ": ", name, " is ", c10::toString(full->scalar_type()),
        c10::str(full->sizes()), ", the model needs ", c10::toString(like.scalar_type()),
        c10::str(torch::IntArrayRef(want))));
  }
  auto it = plan_.sharded.find(param);
  return it == plan_.sharded.end() || full->dim() == 0 ? *full : parallel::TakeShard(*full, it->second);
}

absl::StatusOr<TrainingProgress> TrainingCheckpointer::Restore(const CheckpointReader& reader) {
  const proto::CheckpointManifest& m = reader.manifest();
  const std::string diffs = ConfigDifferences(m.config(), config_);
  if (!diffs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        reader.dir(), " was saved with a different config: ", diffs,
        "; resume with the config it was saved with, or start a new run directory"));
  }
  if (!m.dataset_fingerprint().empty() && m.dataset_fingerprint() != dataset_fingerprint_) {
    return absl::InvalidArgumentError(absl::StrCat(
        reader.dir(), " was saved while training on another dataset (fingerprint ",
        m.dataset_fingerprint(), ", ", config_.data().path(), " now has ", dataset_fingerprint_,
        "): its loader position would point at other bytes; train on the dataset it was saved "
        "with, or start a new run directory"));
  }
  torch::NoGradGuard no_grad;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> weights;  // (parameter, value)
  for (auto& p : model_.named_parameters()) {
    absl::StatusOr<torch::Tensor> value = ReadLocal(reader, "model/" + p.key(), p.key(), p.value());
    if (!value.ok()) return value.status();
    weights.emplace_back(p.value(), *value);
  }
  std::map<std::string, torch::Tensor> moments;
  std::optional<int64_t> steps;  // one count for all parameters
  const torch::Tensor step_like = torch::zeros({}, torch::kLong);
  for (const auto& p : model_.named_parameters()) {
    const std::string prefix = absl::StrCat("optim/", p.key(), "/");
    const int parts = reader.Has(prefix + "exp_avg") + reader.Has(prefix + "exp_avg_sq") +
                      reader.Has(prefix + "step");
    if (parts == 0) continue;  // saved before this parameter's first step
    if (parts != 3) {
      return absl::DataLossError(absl::StrCat(reader.dir(), ": the optimizer state of ",
                                              p.key(), " is incomplete"));
    }
    for (const char* part : {"exp_avg", "exp_avg_sq"}) {
      absl::StatusOr<torch::Tensor> value = ReadLocal(reader, prefix + part, p.key(), p.value());
      if (!value.ok()) return value.status();
      moments[absl::StrCat(p.key(), "/", part)] = *value;
    }
    absl::StatusOr<torch::Tensor> step = ReadLocal(reader, prefix + "step", p.key(), step_like);
    if (!step.ok()) return step.status();
    const int64_t count = step->item<int64_t>();
    if (count < 0 || (steps && *steps != count)) {
      return absl::DataLossError(absl::StrCat(
          reader.dir(), ": the optimizer step count of ", p.key(), " is ", count,
          (steps ? absl::StrCat(", another parameter's is ", *steps) : std::string()),
          "; this optimizer keeps one non-negative count for all parameters"));
    }
    steps = count;
  }
  // Nothing is changed until everything has been read and checked.
  for (auto& [param, value] : weights) param.copy_(value);
  optimizer_.LoadState(moments, steps.value_or(0));
  // Rank 0, which alone prunes, verified it before resuming.
  verified_steps_.insert(m.step());
  return TrainingProgress{m.step(), m.bytes_seen(), m.loader_state()};
}

}  // namespace spacebyte::trainer
