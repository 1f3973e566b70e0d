#ifndef SPACEBYTE_MODEL_BYTE_LM_H_
#define SPACEBYTE_MODEL_BYTE_LM_H_

// The interface the trainer, evaluator and sampler see: a byte-level language
// model, SpaceByte or the plain Transformer baseline.

#include <memory>

#include <torch/torch.h>

#include "model/model_spec.h"

namespace spacebyte::trainer {

struct ModelOutput {
  torch::Tensor logits;   // [B, T, 256]
  torch::Tensor ignored;  // [B, T] bool: targets the model cannot predict (global overflow)
  torch::Tensor global_ts, global_T;  // SpaceByte only
};

// State of incremental decoding, opaque to callers.
struct DecodeState {
  virtual ~DecodeState() = default;
};

class ByteLm : public torch::nn::Module {
 public:
  explicit ByteLm(const ModelSpec& spec) : spec_(spec) {}
  const ModelSpec& spec() const { return spec_; }

  // tokens [B, T] int64 (T <= context_size).
  virtual ModelOutput Forward(const torch::Tensor& tokens) = 0;

  // Incremental decoding, one byte per call on every row: returns the logits
  // [B, 256] for the next byte after `token` [B], reusing cached keys and
  // values. Rows whose global context is exhausted get `exhausted` set.
  virtual std::unique_ptr<DecodeState> StartDecoding(int64_t batch) = 0;
  virtual torch::Tensor DecodeStep(DecodeState& state, const torch::Tensor& token,
                                   torch::Tensor* exhausted) = 0;

  // Recompute blocks in backward instead of keeping their activations.
  virtual void SetActivationCheckpointing(bool on) = 0;

 private:
  ModelSpec spec_;
};

std::shared_ptr<ByteLm> MakeModel(const ModelSpec& spec);

struct LossOutput {
  torch::Tensor loss;        // scalar: mean over samples of per-sample mean CE
  torch::Tensor per_sample;  // [B]
  // Share of real targets past the global context: a double scalar on the
  // logits' device, so a training step reads nothing back per micro-batch
  // (each read stalls a GPU's launch queue).
  torch::Tensor ignored_fraction;
};

// The batch loss (docs/model.md#loss-and-bits-per-byte); `targets` may hold
// -1 (ignored), and `ignored` marks further targets to drop.
LossOutput ComputeLoss(const ModelOutput& out, const torch::Tensor& targets);

// tokens = BOS followed by targets[:, :-1].
torch::Tensor TokensFromTargets(const torch::Tensor& targets);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_BYTE_LM_H_
