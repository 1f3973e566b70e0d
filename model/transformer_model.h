#ifndef SPACEBYTE_MODEL_TRANSFORMER_MODEL_H_
#define SPACEBYTE_MODEL_TRANSFORMER_MODEL_H_

#include <torch/torch.h>

#include "model/layers.h"
#include "model/byte_lm.h"

namespace spacebyte::trainer {

// The byte-level Transformer baseline: one stack of width-D blocks over
// every byte, optionally with windowed attention.
class TransformerModel : public ByteLm {
 public:
  explicit TransformerModel(const ModelSpec& spec);

  ModelOutput Forward(const torch::Tensor& tokens) override;
  std::unique_ptr<DecodeState> StartDecoding(int64_t batch) override;
  torch::Tensor DecodeStep(DecodeState& state, const torch::Tensor& token,
                           torch::Tensor* exhausted) override;
  void SetActivationCheckpointing(bool on) override { blocks_->set_checkpointing(on); }

  BlockStack& blocks() { return blocks_; }

 private:
  torch::nn::Embedding token_embedding_;
  torch::Tensor position_encoding_;
  BlockStack blocks_;
  LogitsHead logits_;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_TRANSFORMER_MODEL_H_
