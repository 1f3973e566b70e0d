#ifndef SPACEBYTE_KERNELS_NORM_ROPE_CUDA_H_
#define SPACEBYTE_KERNELS_NORM_ROPE_CUDA_H_

// The CUDA kernels behind kernels/norm_rope.h, with plain pointers so that
// nvcc never sees LibTorch's headers. Built only with SPACEBYTE_CUDA.

#include <cstdint>

namespace spacebyte::trainer::norm_rope {

enum class DType { kFloat, kBFloat16, kHalf };

// x [batch, length, heads, d] at the given strides (elements; the last one
// is 1). cos, sin: [length, d / 2] or null.
struct Shape {
  int64_t batch, length, heads, d;
  int64_t stride_batch, stride_length, stride_heads;
};

// The widths the kernels take: even, up to 1024 (a warp holds one vector in
// registers, 64 values per sweep, up to 16 sweeps).
inline bool CudaSupportsWidth(int64_t d) { return d > 0 && d % 2 == 0 && d <= 1024; }

// Each returns null, or cudaGetErrorString of what failed. `stream` is a
// cudaStream_t. Dtype pairs: x's and out's (grad_out's) alike, or one of
// them float.
// out [batch, length, heads, d] contiguous; mean and rstd one per vector.
const char* LaunchForward(const void* x, DType x_type, const float* scale, const float* cos,
                          const float* sin, bool center, float eps, const Shape& shape, void* out,
                          DType out_type, float* mean, float* rstd, void* stream);
// grad_in like x but contiguous; dscale [d], zeroed by the caller, is added to.
const char* LaunchBackward(const void* grad_out, DType grad_type, const void* x, DType x_type,
                           const float* scale, const float* cos, const float* sin, bool center,
                           const float* mean, const float* rstd, const Shape& shape,
                           void* grad_in, float* dscale, void* stream);

}  // namespace spacebyte::trainer::norm_rope

#endif  // SPACEBYTE_KERNELS_NORM_ROPE_CUDA_H_
