#ifndef SPACEBYTE_KERNELS_ATTENTION_KERNELS_H_
#define SPACEBYTE_KERNELS_ATTENTION_KERNELS_H_

// Scaled dot-product attention on q, k, v [B, heads, L, d_key], causal.
// Queries may be the last rows of a longer key sequence (incremental decoding):
// query i sits at key position (Lk - Lq + i).

#include <torch/torch.h>

namespace spacebyte::trainer {

// Full causal attention.
torch::Tensor CausalAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v);

// Query at position p attends keys at positions p - window .. p (window + 1
// keys, the reference's CPU rule). Costs O(L * window): the sequence is cut
// into chunks of at most `window` rows and each chunk attends to itself and
// the chunks that cover the `window` positions before it, so no L x L score
// matrix is ever formed. Chunks have at least `min_chunk_rows` rows (0: 64 on
// the CPU, 256 on CUDA; see ChunkRows).
torch::Tensor WindowedAttention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, int64_t window,
                                int64_t min_chunk_rows = 0);

// The same rule through a dense L x L mask: the slow, obviously correct
// version that tests compare against.
torch::Tensor MaskedAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, int64_t window);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_ATTENTION_KERNELS_H_
