#ifndef SPACEBYTE_KERNELS_NORM_ROPE_H_
#define SPACEBYTE_KERNELS_NORM_ROPE_H_

// A norm with its scale, optionally followed by RoPE, in one pass over
// memory, forward and backward. Two uses:
// - attention's per-head Q or K norm and RoPE. As separate ops, under CUDA
//   autocast, a query went through a cast to fp32, the norm, the rotation
//   and a cast back to bf16 for the attention kernel: four reads and four
//   writes of a tensor the size of the residual stream;
// - on CUDA, a block's pre-norm over rows of the fp32 residual stream
//   (heads = 1), written straight into the bf16 the projection after it
//   takes, where the norm wrote fp32 and autocast then cast it; with the
//   residual add before it in the same pass (AddNorm).
// Each vector is read once and written once, in the dtype its consumer
// takes, and backward saves only the input and two floats per vector. The
// arithmetic is kernels/norm_rope_math.h, shared by the CPU loop and the
// CUDA kernel.

#include <string>
#include <utility>

#include <torch/torch.h>

namespace spacebyte::trainer {

// x [B, L, heads, d] with its last dimension contiguous (a view of the
// fused QKV projection will do), scale [d]; cos and sin [L, d / 2] float
// tables of the positions' angles (undefined: no rotation). `center`:
// LayerNorm; otherwise the reference's RMSNorm, which divides by the
// deviation about the mean without centring. Returns contiguous
// [B, L, heads, d] of `out_dtype`: rotate(norm(x) * scale), each pair
// (2j, 2j + 1) turned by its position's angle j. Differentiable in x and
// scale.
torch::Tensor NormRope(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& cos,
                       const torch::Tensor& sin, bool center, double eps,
                       torch::ScalarType out_dtype);

// Whether NormRope takes x: float, bf16 or fp16 [B, L, heads, d] with d even
// and the last dimension contiguous; on the CPU always then, on CUDA in a
// CUDA build for d up to 1024 once the process's check against the
// separate ops passed (reported once on stderr if not). Output dtypes: x's,
// float, or from float x bf16 or fp16. SPACEBYTE_FUSED_NORM_ROPE=0 turns it
// off everywhere.
bool NormRopeApplies(const torch::Tensor& x);

// Empty where NormRope on `device` matches the separate ops (computed in
// fp32 on the CPU) forward and in both gradients, within bf16 rounding;
// otherwise what differs. The CUDA check runs it on a small problem.
std::string NormRopeMismatch(const torch::Device& device);

// A block's residual add and the pre-norm after it in one pass: base
// [B, L, 1, d] (rows of the fp32 residual stream) plus delta (the branch's
// output, same shape, any of the three dtypes). Returns {base + delta in
// fp32, NormRope(base + delta) of `out_dtype`, not turned}. Backward adds
// the sum's own gradient to the norm's and writes the result once for base
// and once in delta's dtype: the add, its backward's cast and the gradient
// sum are not separate passes over the stream. Differentiable in base,
// delta and scale.
std::pair<torch::Tensor, torch::Tensor> AddNorm(const torch::Tensor& base,
                                                const torch::Tensor& delta,
                                                const torch::Tensor& scale, bool center,
                                                double eps, torch::ScalarType out_dtype);

// Whether AddNorm takes them: NormRopeApplies(base) with one vector per row
// (heads 1), base float and contiguous, delta of its shape on its device;
// on CUDA once the process's check against the separate ops passed.
// SPACEBYTE_FUSED_ADD_NORM=0 turns it off.
bool AddNormApplies(const torch::Tensor& base, const torch::Tensor& delta);

// As NormRopeMismatch, for AddNorm: the sum, the output and the three
// gradients against the separate ops in fp32 on the CPU.
std::string AddNormMismatch(const torch::Device& device);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_NORM_ROPE_H_
