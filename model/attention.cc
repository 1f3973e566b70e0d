#include "model/attention.h"

#include "kernels/attention_kernels.h"
#include "kernels/band_attention_cpu.h"
#include "model/linear_init.h"
#include "kernels/phase_timer.h"
#include "model/rope.h"
#include "parallel/tensor_parallel.h"

namespace spacebyte::trainer {

AttentionImpl::AttentionImpl(int64_t width, const ModelSpec& spec, int64_t window)
    : d_key_(spec.d_key),
      window_(window),
      rope_(spec.rope),
      layer_norm_(register_module("layer_norm", Norm(width, spec.norm))),
      qkv_linear_(register_module("QKV_linear", MakeLinear(width, 3 * width))),
      linear_(register_module("linear", MakeLinear(width, width))),
      q_layer_norm_(register_module("Q_layer_norm", Norm(spec.d_key, spec.norm))),
      k_layer_norm_(register_module("K_layer_norm", Norm(spec.d_key, spec.norm))) {}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, KvCache* cache) {
  const int64_t batch = x.size(0), length = x.size(1);
  // Tensor-parallel region (docs/model.md#tensor-parallelism-ours): identity
  // forward, gradient summed over the tp group in backward. Heads come from
  // the weight, so a shard runs its own heads.
  const torch::Tensor qkv = qkv_linear_(parallel::CopyToTensorParallel(layer_norm_(x), tp_));
  const int64_t heads = qkv.size(-1) / (3 * d_key_);
  const std::vector<torch::Tensor> parts =
      qkv.view({batch, length, 3, heads, d_key_}).unbind(2);
  // The Q/K norm scales are replicated but each rank uses them on its own
  // heads only: entering the region sums their gradient shares.
  torch::Tensor q = q_layer_norm_->Scaled(
      parts[0], parallel::CopyToTensorParallel(q_layer_norm_->scale(), tp_));
  torch::Tensor k = k_layer_norm_->Scaled(
      parts[1], parallel::CopyToTensorParallel(k_layer_norm_->scale(), tp_));
  if (rope_) {
    const int64_t offset = cache != nullptr ? cache->position : 0;
    q = ApplyRope(q, offset);
    k = ApplyRope(k, offset);
  }
  torch::Tensor out;
  if (cache == nullptr && BandAttentionCpuApplies(q)) {
    PhaseScope phase("attention kernel");
    out = BandAttentionCpu(q, k, parts[2], window_);
  } else {
    out = Attend(q.transpose(1, 2), k.transpose(1, 2), parts[2].transpose(1, 2), cache)
              .transpose(1, 2);
  }
  // Leaving the region: the partial outputs of all heads summed over tp.
  return parallel::ReduceFromTensorParallel(linear_(out.reshape({batch, length, heads * d_key_})),
                                            tp_);
}

torch::Tensor AttentionImpl::Attend(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, KvCache* cache) {
  if (cache == nullptr || !cache->k.defined()) {
    if (cache != nullptr) {
      cache->k = k;
      cache->v = v;
      cache->position = k.size(2);
    }
    PhaseScope phase("attention kernel");
    return window_ < 0 ? CausalAttention(q, k, v) : WindowedAttention(q, k, v, window_);
  }
  TORCH_CHECK(q.size(2) == 1, "incremental attention takes one new position at a time");
  torch::Tensor keys = torch::cat({cache->k, k}, 2), values = torch::cat({cache->v, v}, 2);
  if (window_ >= 0 && keys.size(2) > window_ + 1) {
    keys = keys.narrow(2, keys.size(2) - window_ - 1, window_ + 1);
    values = values.narrow(2, values.size(2) - window_ - 1, window_ + 1);
  }
  cache->k = keys;
  cache->v = values;
  cache->position += 1;
  return CausalAttention(q, keys, values);
}

}  // namespace spacebyte::trainer
