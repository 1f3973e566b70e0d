#include "trainer/training_checkpoint.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "parallel/mpi_agreement.h"

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

namespace {

// The fault-injection hook described in the header.
void MaybeDieForTest(int64_t step, const parallel::ProcessGrid& grid) {
  const char* kill_step = std::getenv("SPACEBYTE_TEST_KILL_DURING_SAVE");
  if (kill_step != nullptr && std::atoll(kill_step) == step &&
      grid.world_rank() == grid.world_size() - 1) {
    std::raise(SIGKILL);
  }
}

}  // namespace

TrainingCheckpointer::TrainingCheckpointer(std::string run_dir, proto::RunConfig config,
                                           ByteLm& model, Optimizer& optimizer,
                                           const TensorParallelPlan& plan,
                                           const parallel::ProcessGrid& grid, int keep,
                                           bool async)
    : run_dir_(std::move(run_dir)),
      config_(std::move(config)),
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

std::vector<NamedSlice> TrainingCheckpointer::CollectSlices() {
  // Each tensor with the parameter whose layout it shares.
  struct Entry {
    std::string param, name;
    torch::Tensor tensor;
  };
  std::vector<Entry> entries;
  for (const auto& p : model_.named_parameters()) {
    entries.push_back({p.key(), "model/" + p.key(), p.value()});
  }
  for (auto& [name, t] : optimizer_.State()) {  // "<param>/<state>"
    entries.push_back({name.substr(0, name.rfind('/')), "optim/" + name, t});
  }

  std::vector<NamedSlice> slices;
  for (const Entry& e : entries) {
    auto it = plan_.sharded.find(e.param);
    if (it == plan_.sharded.end() || e.tensor.dim() == 0) {
      if (plan_.rank == 0) slices.push_back({e.name, e.tensor.detach(), {}, {}});
      continue;
    }
    const ShardLayout& layout = it->second;
    for (const ShardLayout::Piece& piece : layout.pieces) {
      std::vector<int64_t> origin(layout.global_shape.size(), 0);
      origin[layout.dim] = piece.global;
      slices.push_back({e.name, e.tensor.detach().narrow(layout.dim, piece.local, piece.length),
                        layout.global_shape, origin});
    }
  }
  return slices;
}

absl::Status TrainingCheckpointer::Save(const TrainingProgress& progress) {
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
  MPI_Barrier(MPI_COMM_WORLD);
  // Data-parallel replicas hold the same tensors: only dp rank 0 writes.
  write->writes = grid_.dp_rank() == 0;
  if (write->writes) {
    write->slices = CollectSlices();
    if (async_) {
      for (NamedSlice& s : write->slices) s.data = s.data.clone();
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
  // Each rank describes what it wrote (or why it failed); rank 0 commits only
  // if every rank succeeded.
  MaybeDieForTest(write.progress.step, grid_);
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
  const bool ok = parallel::AllRanksOk(error.empty());
  // 'M' + a partial manifest, or 'E' + the reason this rank failed.
  const std::vector<std::string> parts = parallel::GatherBytes(
      error.empty() ? "M" + mine.SerializeAsString() : "E" + error, 0);
  std::string outcome;
  if (grid_.world_rank() == 0) {
    if (!ok) {
      for (const std::string& p : parts) {
        if (p[0] == 'E') outcome = p.substr(1);
      }
      outcome = absl::StrCat("checkpoint ", write.tmp_dir, " not committed: ", outcome);
    } else {
      proto::CheckpointManifest manifest;
      manifest.set_format_version(1);
      manifest.set_step(write.progress.step);
      *manifest.mutable_config() = config_;
      manifest.set_dp(grid_.dp());
      manifest.set_tp(grid_.tp());
      manifest.set_loader_state(write.progress.loader_state);
      manifest.set_bytes_seen(write.progress.bytes_seen);
      for (const std::string& p : parts) {
        proto::CheckpointManifest m;
        m.ParseFromString(p.substr(1));
        for (const auto& f : m.files()) {
          const int index = manifest.files_size();
          *manifest.add_files() = f;
          for (proto::TensorSlice e : m.tensors()) {
            e.set_file(index);
            *manifest.add_tensors() = e;
          }
        }
      }
      absl::Status s = CommitCheckpoint(write.tmp_dir, write.final_dir, manifest);
      if (s.ok()) s = PruneCheckpoints(checkpoints_dir(), keep_, write.progress.step);
      if (!s.ok()) outcome = std::string(s.message());
    }
  }
  outcome = parallel::BroadcastBytes(outcome, 0);
  return outcome.empty() ? absl::OkStatus() : absl::InternalError(outcome);
}

std::string ModelConfigDifferences(const proto::ModelConfig& saved,
                                   const proto::ModelConfig& wanted) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::TextFormat;
  std::vector<std::string> diffs;
  const auto* descriptor = proto::ModelConfig::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* f = descriptor->field(i);
    std::string a, b;
    TextFormat::PrintFieldValueToString(saved, f, -1, &a);
    TextFormat::PrintFieldValueToString(wanted, f, -1, &b);
    if (a != b) diffs.push_back(absl::StrCat(f->name(), " (checkpoint ", a, ", config ", b, ")"));
  }
  return absl::StrJoin(diffs, ", ");
}

absl::StatusOr<TrainingProgress> TrainingCheckpointer::Restore(const CheckpointReader& reader) {
  const proto::CheckpointManifest& m = reader.manifest();
  const std::string diffs = ModelConfigDifferences(m.config().model(), config_.model());
  if (!diffs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        reader.dir(), " was saved from a different model: ", diffs));
  }
  torch::NoGradGuard no_grad;
  auto local = [&](const std::string& param, const torch::Tensor& full) {
    auto it = plan_.sharded.find(param);
    return it == plan_.sharded.end() || full.dim() == 0 ? full : TakeShard(full, it->second);
  };
  for (auto& p : model_.named_parameters()) {
    absl::StatusOr<torch::Tensor> full = reader.Read("model/" + p.key());
    if (!full.ok()) return full.status();
    p.value().copy_(local(p.key(), *full));
  }
  std::map<std::string, torch::Tensor> state;
  for (const auto& p : model_.named_parameters()) {
    for (const char* part : {"exp_avg", "exp_avg_sq", "step"}) {
      const std::string name = absl::StrCat(p.key(), "/", part);
      if (!reader.Has("optim/" + name)) continue;
      absl::StatusOr<torch::Tensor> full = reader.Read("optim/" + name);
      if (!full.ok()) return full.status();
      state[name] = local(p.key(), *full);
    }
  }
  optimizer_.LoadState(state);
  return TrainingProgress{m.step(), m.bytes_seen(), m.loader_state()};
}

}  // namespace spacebyte::trainer
