#include "checkpoint/model_checkpoint.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "checkpoint/checkpoint_io.h"
#include "checkpoint/reference_checkpoint.h"

namespace spacebyte::trainer {
namespace fs = std::filesystem;

absl::StatusOr<LoadedModel> LoadModelCheckpoint(const std::string& path) {
  absl::StatusOr<CheckpointReader> reader = CheckpointReader::Open(path);
  if (!reader.ok()) return reader.status();
  LoadedModel loaded;
  loaded.config = reader->manifest().config();
  loaded.step = reader->manifest().step();
  loaded.dir = reader->dir();
  absl::StatusOr<ModelSpec> spec = ResolveModelConfig(loaded.config.model());
  if (!spec.ok()) {
    return absl::DataLossError(absl::StrCat(reader->dir(), ": ", spec.status().message()));
  }
  loaded.model = MakeModel(*spec);
  NamedTensors tensors;
  for (const auto& p : loaded.model->named_parameters()) {
    absl::StatusOr<torch::Tensor> t = reader->Read(kModelPrefix + p.key());
    if (!t.ok()) return t.status();
    tensors.emplace_back(p.key(), *t);
  }
  if (absl::Status s = LoadNamedTensors(*loaded.model, tensors, reader->dir()); !s.ok()) {
    return s;
  }
  return loaded;
}

absl::Status SaveModelCheckpoint(const std::string& run_dir, const proto::RunConfig& config,
                                 ByteLm& model, int64_t step) {
  const fs::path checkpoints = fs::path(run_dir) / "checkpoints";
  const std::string final_dir = (checkpoints / StepDirName(step)).string();
  const std::string tmp_dir = final_dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", tmp_dir, ": ", ec.message()));

  std::vector<NamedSlice> slices;
  for (const auto& p : model.named_parameters()) {
    slices.push_back({kModelPrefix + p.key(), p.value(), {}, {}});
  }
  std::vector<proto::TensorSlice> entries;
  absl::StatusOr<proto::CheckpointFile> file = WriteTensorFile(
      (fs::path(tmp_dir) / "rank_00000.bin").string(), 0, slices, &entries);
  if (!file.ok()) return file.status();
  ManifestBuilder manifest(step, config, /*dp=*/1, /*tp=*/1);
  manifest.AddFile(*file, entries);
  return CommitCheckpoint(tmp_dir, final_dir, manifest.manifest());
}

}  // namespace spacebyte::trainer
