#ifndef SPACEBYTE_KERNELS_BAND_ATTENTION_CPU_H_
#define SPACEBYTE_KERNELS_BAND_ATTENTION_CPU_H_

// Training-time causal attention with a look-back window on the CPU, read
// straight from the [B, L, heads, d_key] layout the QKV projection produces.
//
// Query p attends keys p - window .. p (window < 0: all keys up to p). The
// sequence is cut into chunks of 64 queries; each chunk multiplies its rows
// of q against the contiguous run of key rows it may see, one BLAS call per
// (batch, head, chunk) on pointers into q, k and v. Compared with batching
// the chunks through matmul, nothing is transposed, padded or concatenated,
// forward or backward, and no score matrix wider than 64 + window exists.
// Each of LibTorch's threads takes whole (batch, head) pairs: their chunk
// products (OpenBLAS serial meanwhile) and one masked softmax, or its
// backward, over the head's blocks. On CUDA, and for decoding with a KV
// cache, the model keeps using attention_kernels.h.

#include <torch/torch.h>

namespace spacebyte::trainer {

// Whether BandAttentionCpu can take these tensors: CPU, all float or all
// double. Under CPU autocast with RMSNorm, q and k come out of their norms
// in float while v stays bfloat16; those go to SDPA, which casts.
bool BandAttentionCpuApplies(const torch::Tensor& q, const torch::Tensor& k,
                             const torch::Tensor& v);

// q, k, v: [B, L, H, d_key], the last dimension contiguous (any other
// strides, so views into a fused QKV output work). Returns [B, L, H, d_key]
// contiguous. Differentiable in q, k and v.
torch::Tensor BandAttentionCpu(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, int64_t window);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_BAND_ATTENTION_CPU_H_
