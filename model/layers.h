#ifndef SPACEBYTE_MODEL_LAYERS_H_
#define SPACEBYTE_MODEL_LAYERS_H_

// The layers both models are built of, in one place, in the order a block
// uses them (docs/model.md#a-block): the KV cache of incremental decoding,
// linear and embedding initialisation, RoPE, the norms, attention,
// feed-forward, the block and its stack (with activation checkpointing),
// and the logits head. Written as if on one process; a global block's
// attention and feed-forward name their tensor-parallel collectives where
// they compute (model/tensor_parallel_plan.h splits them).

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "model/model_spec.h"
#include "parallel/collectives.h"

namespace spacebyte::trainer {

// Keys and values one attention layer has already computed during
// incremental decoding, [B, heads, kept, d_key]. `position` counts every
// position seen; windowed layers keep only the keys still inside the window.
struct KvCache {
  torch::Tensor k, v;
  int64_t position = 0;
};

// A bias-free linear layer initialised as the reference's "simple" scheme:
// weight ~ N(0, 1 / d_in).
torch::nn::Linear MakeLinear(int64_t in, int64_t out);

// Token embedding table initialised N(0, 1), as the reference does.
torch::nn::Embedding MakeEmbedding(int64_t width);

// Rotary position embedding on x [B, L, heads, d_key]: consecutive pairs
// (2j, 2j+1) rotate by angle (offset + t) * 10000^(-2j / d_key).
torch::Tensor ApplyRope(const torch::Tensor& x, int64_t offset = 0);

// The same in two parts, so that Q and K share one table: RopeRotation is
// cos + i sin of those angles as complex floats [L, 1, d_key / 2], formed in
// fp32 on `device`; ApplyRope turns each pair by it.
torch::Tensor RopeRotation(int64_t length, int64_t d_key, int64_t offset,
                           const torch::Device& device);
torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& rotation);

// The residual stream as a sum not yet taken: base + delta, or base alone
// where delta is undefined. A block's branches return their output still
// to be added, so that the pre-norm after each can add it in the same pass
// over the stream (NormImpl::AddBeforeProduct).
struct Residual {
  torch::Tensor base, delta;
  torch::Tensor Sum() const { return delta.defined() ? base + delta : base; }
};

// Whether blocks' pre-norms, and the residual adds before them, take the
// fused kernels of kernels/norm_rope.h on the CPU as well as on CUDA. Off
// by default: on the CPU torch's LayerNorm is about twice as fast as the
// fused loop (layers_benchmark's BM_PreNormForwardBackward). Tests turn it
// on to run the CUDA path's wiring (pending adds, dtypes, gradients) on a
// machine without a GPU.
void SetFusedPreNormsOnCpu(bool on);

// Normalisation over the last dimension with a learned scale and no bias:
// LayerNorm, or the reference's RMSNorm (which, unlike the textbook one,
// divides by the standard deviation about the mean).
class NormImpl : public torch::nn::Module {
 public:
  NormImpl(int64_t width, NormKind kind);
  torch::Tensor forward(const torch::Tensor& x) { return Scaled(x, scale_); }
  // forward(x) [B, L, width] as the matrix product after it takes it: on
  // CUDA in one pass over memory where kernels/norm_rope.h applies, and
  // under autocast straight into bf16, so that neither the fp32 output nor
  // its cast is written. `fp32_grad`: in fp32 all the same, for a product
  // split over tensor-parallel ranks, whose gradient sum stays in fp32.
  torch::Tensor BeforeProduct(const torch::Tensor& x, bool fp32_grad);
  // {r.Sum(), BeforeProduct(r.Sum())}; on CUDA the add is made in the
  // norm's pass where kernels/norm_rope.h's AddNorm applies.
  std::pair<torch::Tensor, torch::Tensor> AddBeforeProduct(const Residual& r, bool fp32_grad);
  // With the scale as given: the parameter passed through an op, such as a
  // tensor-parallel region's entry.
  torch::Tensor Scaled(const torch::Tensor& x, const torch::Tensor& scale);
  const torch::Tensor& scale() const { return scale_; }

 private:
  NormKind kind_;
  torch::Tensor scale_;
};
TORCH_MODULE(Norm);

// Pre-norm multi-head attention (docs/model.md#a-block): fused QKV
// projection, per-head Q and K norms, optional RoPE, causal (optionally
// windowed) attention.
class AttentionImpl : public torch::nn::Module {
 public:
  // window < 0: full causal attention.
  AttentionImpl(int64_t width, const ModelSpec& spec, int64_t window);

  // With a cache, x holds the positions after those already cached.
  torch::Tensor forward(const torch::Tensor& x, KvCache* cache = nullptr) {
    return Forward({x, {}}, cache).delta;
  }
  // The stream r.Sum() and, as its delta, this layer's output on it.
  Residual Forward(const Residual& r, KvCache* cache);

  // Splits the heads over `tp` (the weights must already be this rank's
  // shards: model/tensor_parallel_plan.cc); null: not split.
  void ShardOver(parallel::Collectives* tp) { tp_ = tp; }

 private:
  torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, KvCache* cache);

  int64_t d_key_, window_;
  bool rope_;
  NormKind norm_;
  Norm layer_norm_;
  torch::nn::Linear qkv_linear_, linear_;
  Norm q_layer_norm_, k_layer_norm_;
  parallel::Collectives* tp_ = nullptr;
};
TORCH_MODULE(Attention);

// Pre-norm feed-forward: Norm -> linear w->4w -> ReLU or tanh-GELU -> linear 4w->w.
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t width, const ModelSpec& spec);
  torch::Tensor forward(const torch::Tensor& x) { return Forward({x, {}}).delta; }
  // The stream r.Sum() and, as its delta, this layer's output on it.
  Residual Forward(const Residual& r);

  // Splits the hidden features over `tp` (the weights must already be this
  // rank's shards); null: not split.
  void ShardOver(parallel::Collectives* tp) { tp_ = tp; }

 private:
  Nonlinear nonlinear_;
  Norm layer_norm_;
  torch::nn::Linear linear_1_, linear_2_;
  parallel::Collectives* tp_ = nullptr;
};
TORCH_MODULE(FeedForward);

// One transformer block, shared by local and global stacks:
// x += Attention(x); x += FeedForward(x).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int64_t width, const ModelSpec& spec, int64_t window);
  torch::Tensor forward(const torch::Tensor& x, KvCache* cache = nullptr) {
    return Forward({x, {}}, cache).Sum();
  }
  // The same on a stream whose last add is pending, returning the
  // feed-forward's add pending for the next block's pre-norm to make.
  Residual Forward(const Residual& r, KvCache* cache) {
    return feedforward_->Forward(attention_->Forward(r, cache));
  }

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

// Final Norm and the linear map to the 256 byte logits.
class LogitsHeadImpl : public torch::nn::Module {
 public:
  LogitsHeadImpl(int64_t width, NormKind norm);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Norm layer_norm_;
  torch::nn::Linear logits_linear_;
};
TORCH_MODULE(LogitsHead);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_LAYERS_H_
