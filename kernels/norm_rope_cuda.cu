// CUDA kernels of kernels/norm_rope.h: one warp per head vector, each lane
// holding P adjacent pairs' worth (pair j = p * 32 + lane, d = 64 P), so a
// warp reads and writes each vector in one coalesced sweep and the sums
// over a vector are warp shuffles. The per-pair arithmetic is
// kernels/norm_rope_math.h, which the CPU tests check.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/norm_rope_cuda.h"
#include "kernels/norm_rope_math.h"

namespace spacebyte::trainer::norm_rope {
namespace {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;
constexpr int kThreads = kWarp * kWarpsPerBlock;
// Backward adds each block's share of the scale's gradient atomically:
// a few thousand blocks keep those adds few, and still fill the card.
constexpr int64_t kMaxBackwardBlocks = 2048;

__device__ __forceinline__ float WarpSum(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float ToFloat(float v) { return v; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T FromFloat(float v);
template <>
__device__ __forceinline__ float FromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16(v);
}
template <>
__device__ __forceinline__ __half FromFloat<__half>(float v) {
  return __float2half(v);
}

__device__ __forceinline__ int64_t Position(const Shape& s, int64_t n) {
  return (n / s.heads) % s.length;
}
__device__ __forceinline__ int64_t Offset(const Shape& s, int64_t n) {
  return (n / (s.heads * s.length)) * s.stride_batch + Position(s, n) * s.stride_length +
         (n % s.heads) * s.stride_heads;
}

// The turn of pair j at `position`: (1, 0) without a table.
__device__ __forceinline__ void Turn(const float* cos, const float* sin, int64_t position, int d,
                                     int j, float& c, float& s) {
  c = cos != nullptr ? cos[position * (d / 2) + j] : 1.0f;
  s = sin != nullptr ? sin[position * (d / 2) + j] : 0.0f;
}

template <typename In, typename Out, int P>
__global__ void __launch_bounds__(kThreads)
    ForwardKernel(const In* __restrict__ x, const float* __restrict__ scale,
                  const float* __restrict__ cos, const float* __restrict__ sin, bool center,
                  float eps, Shape shape, Out* __restrict__ out, float* __restrict__ mean,
                  float* __restrict__ rstd) {
  constexpr int kD = 64 * P;
  const int lane = threadIdx.x % kWarp;
  const int64_t vectors = shape.batch * shape.length * shape.heads;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
       n < vectors; n += stride) {
    const In* src = x + Offset(shape, n);
    float a[P], b[P], sum = 0;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int j = p * kWarp + lane;
      a[p] = ToFloat(src[2 * j]);
      b[p] = ToFloat(src[2 * j + 1]);
      sum += a[p] + b[p];
    }
    const float m = WarpSum(sum) / kD;
    float squares = 0;
#pragma unroll
    for (int p = 0; p < P; ++p) squares += (a[p] - m) * (a[p] - m) + (b[p] - m) * (b[p] - m);
    const float r = Rstd(WarpSum(squares), kD, eps);
    if (lane == 0) {
      mean[n] = m;
      rstd[n] = r;
    }
    const int64_t position = Position(shape, n);
    Out* dst = out + n * kD;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int j = p * kWarp + lane;
      float c, s;
      Turn(cos, sin, position, kD, j, c, s);
      ForwardPair(a[p], b[p], scale[2 * j], scale[2 * j + 1], c, s, center, m, r);
      dst[2 * j] = FromFloat<Out>(a[p]);
      dst[2 * j + 1] = FromFloat<Out>(b[p]);
    }
  }
}

template <typename In, typename Grad, int P>
__global__ void __launch_bounds__(kThreads)
    BackwardKernel(const Grad* __restrict__ grad_out, const In* __restrict__ x,
                   const float* __restrict__ scale, const float* __restrict__ cos,
                   const float* __restrict__ sin, bool center, const float* __restrict__ mean,
                   const float* __restrict__ rstd, Shape shape, In* __restrict__ grad_in,
                   float* __restrict__ dscale) {
  constexpr int kD = 64 * P;
  __shared__ float block_share[kWarpsPerBlock][kD];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t vectors = shape.batch * shape.length * shape.heads;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  float share_a[P] = {}, share_b[P] = {};
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + warp; n < vectors;
       n += stride) {
    const In* src = x + Offset(shape, n);
    const Grad* g = grad_out + n * kD;
    const float m = mean[n], r = rstd[n];
    const int64_t position = Position(shape, n);
    float xa[P], xb[P], ga[P], gb[P];
    Sums sums;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int j = p * kWarp + lane;
      xa[p] = ToFloat(src[2 * j]);
      xb[p] = ToFloat(src[2 * j + 1]);
      ga[p] = ToFloat(g[2 * j]);
      gb[p] = ToFloat(g[2 * j + 1]);
      float c, s;
      Turn(cos, sin, position, kD, j, c, s);
      BackwardPair(ga[p], gb[p], xa[p], xb[p], scale[2 * j], scale[2 * j + 1], c, s, center, m, r,
                   share_a[p], share_b[p], sums);
    }
    sums.g = WarpSum(sums.g);
    sums.g_centred = WarpSum(sums.g_centred);
    sums.g_x = WarpSum(sums.g_x);
    In* dst = grad_in + n * kD;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int j = p * kWarp + lane;
      dst[2 * j] = FromFloat<In>(InputGradient(ga[p], xa[p], kD, center, m, r, sums));
      dst[2 * j + 1] = FromFloat<In>(InputGradient(gb[p], xb[p], kD, center, m, r, sums));
    }
  }
  // The block's share of the scale's gradient, then one atomic add per value.
#pragma unroll
  for (int p = 0; p < P; ++p) {
    const int j = p * kWarp + lane;
    block_share[warp][2 * j] = share_a[p];
    block_share[warp][2 * j + 1] = share_b[p];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kD; i += kThreads) {
    float total = 0;
    for (int w = 0; w < kWarpsPerBlock; ++w) total += block_share[w][i];
    atomicAdd(&dscale[i], total);
  }
}

template <typename T>
struct Tag {
  using type = T;
};

// Calls f(Tag<In>, Tag<Other>) for the dtypes given; Other is In or float.
template <typename F>
const char* WithTypes(DType in, DType other, F&& f) {
  auto with_in = [&](auto in_tag) -> const char* {
    using In = typename decltype(in_tag)::type;
    if (other == DType::kFloat) return f(in_tag, Tag<float>{});
    if (other != in) return "unsupported dtype pair";
    return f(in_tag, Tag<In>{});
  };
  switch (in) {
    case DType::kFloat: return with_in(Tag<float>{});
    case DType::kBFloat16: return with_in(Tag<__nv_bfloat16>{});
    case DType::kHalf: return with_in(Tag<__half>{});
  }
  return "unsupported dtype";
}

const char* LastError() {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? nullptr : cudaGetErrorString(error);
}

int64_t Blocks(const Shape& shape, int64_t cap) {
  const int64_t vectors = shape.batch * shape.length * shape.heads;
  const int64_t blocks = (vectors + kWarpsPerBlock - 1) / kWarpsPerBlock;
  return blocks < cap ? (blocks > 0 ? blocks : 1) : cap;
}

}  // namespace

const char* LaunchForward(const void* x, DType x_type, const float* scale, const float* cos,
                          const float* sin, bool center, float eps, const Shape& shape, void* out,
                          DType out_type, float* mean, float* rstd, void* stream) {
  if (!CudaSupportsWidth(shape.d)) return "unsupported head width";
  const dim3 grid(static_cast<unsigned>(Blocks(shape, int64_t{1} << 30)));
  auto s = static_cast<cudaStream_t>(stream);
  return WithTypes(x_type, out_type, [&](auto in_tag, auto out_tag) -> const char* {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    const auto* in = static_cast<const In*>(x);
    auto* dst = static_cast<Out*>(out);
    if (shape.d == 64) {
      ForwardKernel<In, Out, 1><<<grid, kThreads, 0, s>>>(in, scale, cos, sin, center, eps, shape,
                                                          dst, mean, rstd);
    } else {
      ForwardKernel<In, Out, 2><<<grid, kThreads, 0, s>>>(in, scale, cos, sin, center, eps, shape,
                                                          dst, mean, rstd);
    }
    return LastError();
  });
}

const char* LaunchBackward(const void* grad_out, DType grad_type, const void* x, DType x_type,
                           const float* scale, const float* cos, const float* sin, bool center,
                           const float* mean, const float* rstd, const Shape& shape,
                           void* grad_in, float* dscale, void* stream) {
  if (!CudaSupportsWidth(shape.d)) return "unsupported head width";
  const dim3 grid(static_cast<unsigned>(Blocks(shape, kMaxBackwardBlocks)));
  auto s = static_cast<cudaStream_t>(stream);
  return WithTypes(x_type, grad_type, [&](auto in_tag, auto grad_tag) -> const char* {
    using In = typename decltype(in_tag)::type;
    using Grad = typename decltype(grad_tag)::type;
    const auto* g = static_cast<const Grad*>(grad_out);
    const auto* in = static_cast<const In*>(x);
    auto* dst = static_cast<In*>(grad_in);
    if (shape.d == 64) {
      BackwardKernel<In, Grad, 1><<<grid, kThreads, 0, s>>>(g, in, scale, cos, sin, center, mean,
                                                            rstd, shape, dst, dscale);
    } else {
      BackwardKernel<In, Grad, 2><<<grid, kThreads, 0, s>>>(g, in, scale, cos, sin, center, mean,
                                                            rstd, shape, dst, dscale);
    }
    return LastError();
  });
}

}  // namespace spacebyte::trainer::norm_rope
