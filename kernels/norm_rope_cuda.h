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

// The residual add a block's pre-norm can take in the same pass (heads 1,
// x's rows contiguous): the kernel normalises x + delta (delta [rows, d]
// contiguous, of delta_type), having written that sum, in x's dtype, to
// `sum`. Null delta: no add.
struct ResidualAdd {
  const void* delta = nullptr;
  DType delta_type = DType::kFloat;
  void* sum = nullptr;
};

// Its backward: the sum's own gradient (float, null if none) is added to the
// input gradient, which is written a second time into grad_delta, in
// delta_type. Null grad_delta: no residual.
struct ResidualGrad {
  const float* grad_sum = nullptr;
  void* grad_delta = nullptr;
  DType delta_type = DType::kFloat;
};

// Each returns null, or cudaGetErrorString of what failed. `stream` is a
// cudaStream_t. Dtype pairs: x's and out's (grad_out's) alike, or one of
// them float.
// out [batch, length, heads, d] contiguous; mean and rstd one per vector.
const char* LaunchForward(const void* x, DType x_type, const float* scale, const float* cos,
                          const float* sin, bool center, float eps, const Shape& shape, void* out,
                          DType out_type, float* mean, float* rstd, const ResidualAdd& add,
                          void* stream);
// grad_in like x but contiguous; dscale [d], zeroed by the caller, is added to.
const char* LaunchBackward(const void* grad_out, DType grad_type, const void* x, DType x_type,
                           const float* scale, const float* cos, const float* sin, bool center,
                           const float* mean, const float* rstd, const Shape& shape,
                           void* grad_in, float* dscale, const ResidualGrad& residual,
                           void* stream);

}  // namespace spacebyte::trainer::norm_rope

#endif  // SPACEBYTE_KERNELS_NORM_ROPE_CUDA_H_
