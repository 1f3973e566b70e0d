#include "train/batch_upload.h"

#include "model/model_spec.h"

namespace spacebyte::trainer {

// Here the loader's bytes become the model's tokens: the document separator
// the loader writes must be the BOS the model reads. (data/ cannot see the
// model, and the model links no data code, so each layer names it.)
static_assert(data::kBos == kBos, "data::kBos and the model's kBos differ");

torch::Tensor UploadBatch(const data::Batch& batch, const torch::Device& device) {
  const torch::Tensor bytes = torch::from_blob(const_cast<uint8_t*>(batch.targets.data()),
                                               {batch.rows, batch.context}, torch::kUInt8);
  if (!device.is_cuda()) return bytes.to(device, torch::kLong);
  torch::Tensor pinned =
      torch::empty(bytes.sizes(), torch::TensorOptions(torch::kUInt8).pinned_memory(true));
  pinned.copy_(bytes);
  return pinned.to(device, /*non_blocking=*/true).to(torch::kLong);
}

}  // namespace spacebyte::trainer
