#ifndef SPACEBYTE_KERNELS_FLASH_WINDOW_ATTENTION_H_
#define SPACEBYTE_KERNELS_FLASH_WINDOW_ATTENTION_H_

// Windowed causal attention through FlashAttention-2's sliding window, which
// LibTorch's CUDA build carries (at::_flash_attention_forward with
// window_size_left): O(L * window) work, no mask, no copies of K and V, and
// only the output and the log-sum-exp kept for backward. The op is private
// to ATen, so each process checks it once against the dense-mask rule
// (forward and gradients, on a small problem) before using it.

#include <optional>
#include <string>

#include <torch/torch.h>

namespace spacebyte::trainer {

// Query at position p attends keys p - window .. p, as WindowedAttention,
// but on q, k, v laid out [B, L, heads, d_key] (the projection's own
// layout). Empty where the kernel does not apply: not a CUDA build with
// LibTorch >= 2.11, not CUDA tensors, neither half-precision inputs nor CUDA
// autocast (fp32 evaluation keeps the exact path), d_key not a multiple of 8
// up to 256, SPACEBYTE_FLASH_WINDOW=0 in the environment, or the process's
// check failed (reported once on stderr).
std::optional<torch::Tensor> FlashWindowedAttention(const torch::Tensor& q, const torch::Tensor& k,
                                                    const torch::Tensor& v, int64_t window);

// Empty where the kernel matches the dense-mask rule (MaskedAttention in fp32
// on the same inputs) forward and in the three gradients against
// `grad_out`, within bf16 rounding (2% of the largest value plus 0.02);
// otherwise what differs. q, k, v: [B, L, heads, d_key] half-precision CUDA
// leaves that require grad. The process's check runs it on a small problem.
std::string FlashWindowMismatch(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, const torch::Tensor& grad_out,
                                int64_t window);

// Whether local blocks on `device` with heads `head_width` wide take the
// kernel in half precision: CUDA, a width FlashAttention takes, not turned
// off, and the once-per-process check at that width passed.
bool FlashWindowedAttentionWorks(const torch::Device& device, int64_t head_width);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_FLASH_WINDOW_ATTENTION_H_
