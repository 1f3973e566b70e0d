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

// The head widths the kernels take (a warp holds one vector, 64 values per
// sweep).
inline bool CudaSupportsWidth(int64_t d) { return d == 64 || d == 128; }

// Each returns null, or cudaGetErrorString of what failed. `stream` is a
// cudaStream_t.
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
