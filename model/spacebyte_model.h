#ifndef SPACEBYTE_MODEL_SPACEBYTE_MODEL_H_
#define SPACEBYTE_MODEL_SPACEBYTE_MODEL_H_

#include <torch/torch.h>

#include "model/layers.h"
#include "model/byte_lm.h"

namespace spacebyte::trainer {

// SpaceByte: local blocks on every byte, global blocks on patch boundaries
// (docs/model.md#the-forward-pass). Parameter names match the reference state dict.
class SpaceByteModel : public ByteLm {
 public:
  explicit SpaceByteModel(const ModelSpec& spec);

  ModelOutput Forward(const torch::Tensor& tokens) override;
  std::unique_ptr<DecodeState> StartDecoding(int64_t batch) override;
  torch::Tensor DecodeStep(DecodeState& state, const torch::Tensor& token,
                           torch::Tensor* exhausted) override;
  void SetActivationCheckpointing(bool on) override;

  BlockStack& global_blocks() { return global_blocks_; }

 private:
  // [B, L, d] local vectors -> [B, L, D] global inputs (local fills the last
  // d channels), plus the global position encodings from `offset`.
  torch::Tensor ToGlobal(const torch::Tensor& x, int64_t offset);

  torch::nn::Embedding token_embedding_;
  torch::Tensor local_position_encoding_, global_position_encoding_;
  BlockStack initial_blocks_, global_blocks_, final_blocks_;
  LogitsHead logits_;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_SPACEBYTE_MODEL_H_
