#ifndef SPACEBYTE_TRAIN_BATCH_UPLOAD_H_
#define SPACEBYTE_TRAIN_BATCH_UPLOAD_H_

// A loader batch as the int64 targets tensor the train step takes, on the
// run's device.

#include <torch/torch.h>

#include "data/loader.h"

namespace spacebyte::trainer {

// On CUDA the bytes go through pinned (page-locked) host memory and upload
// with non_blocking, so the copy is a DMA queued on the current stream
// instead of a synchronous pageable copy; they widen to int64 on the GPU,
// which moves an eighth of the bytes. LibTorch's caching host allocator holds
// each pinned block until its copy has completed. On CPU it is one widening
// copy.
torch::Tensor UploadBatch(const data::Batch& batch, const torch::Device& device);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TRAIN_BATCH_UPLOAD_H_
