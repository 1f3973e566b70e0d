#ifndef SPACEBYTE_CHECKPOINT_REFERENCE_CHECKPOINT_H_
#define SPACEBYTE_CHECKPOINT_REFERENCE_CHECKPOINT_H_

// The public PyTorch reference's `ckpt.pt`: a torch.save'd dict with `model`
// (class name), `model_config` and `state_dict` (docs/model.md#reference-checkpoints).

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "model/byte_lm.h"
#include "model/model_spec.h"

namespace spacebyte::trainer {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct ReferenceCheckpoint {
  ModelSpec spec;
  NamedTensors state_dict;
  // Everything the file holds (the golden files add inputs and outputs).
  c10::impl::GenericDict contents{c10::StringType::get(), c10::AnyType::get()};
};

// Reads and validates a reference checkpoint; options we do not implement
// (tied embeddings, grouped attention, ...) are an error naming the option.
absl::StatusOr<ReferenceCheckpoint> ReadReferenceCheckpoint(const std::string& path);

// Writes the model in the reference layout (merged, single file).
absl::Status WriteReferenceCheckpoint(const std::string& path, ByteLm& model);

// Copies tensors into the model's parameters by name; every parameter must be
// present with its shape, and no unknown name is allowed.
absl::Status LoadNamedTensors(ByteLm& model, const NamedTensors& tensors,
                              const std::string& source);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CHECKPOINT_REFERENCE_CHECKPOINT_H_
