#ifndef SPACEBYTE_MODEL_BLOCK_H_
#define SPACEBYTE_MODEL_BLOCK_H_

#include <torch/torch.h>

#include "model/attention.h"
#include "model/feed_forward.h"
#include "model/kv_cache.h"
#include "model/model_spec.h"

namespace spacebyte::trainer {

// One transformer block, shared by local and global stacks:
// x += Attention(x); x += FeedForward(x).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int64_t width, const ModelSpec& spec, int64_t window);
  torch::Tensor forward(const torch::Tensor& x, KvCache* cache = nullptr);

  Attention& attention() { return attention_; }
  FeedForward& feedforward() { return feedforward_; }

 private:
  Attention attention_;
  FeedForward feedforward_;
};
TORCH_MODULE(Block);

// A stack of blocks; runs them in order, optionally recomputing activations
// in backward instead of keeping them (activation checkpointing).
class BlockStackImpl : public torch::nn::Module {
 public:
  BlockStackImpl(int64_t count, int64_t width, const ModelSpec& spec, int64_t window);
  // `caches` (one per block) enables incremental decoding.
  torch::Tensor forward(torch::Tensor x, std::vector<KvCache>* caches = nullptr);

  size_t size() const { return blocks_.size(); }
  Block& operator[](size_t i) { return blocks_[i]; }
  void set_checkpointing(bool on) { checkpointing_ = on; }

 private:
  std::vector<Block> blocks_;
  bool checkpointing_ = false;
};
TORCH_MODULE(BlockStack);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_BLOCK_H_
