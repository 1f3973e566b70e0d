// CUDA kernels of kernels/norm_rope.h: one warp per vector (a head's, or a
// whole row of the residual stream), each lane holding up to P pairs
// (pair j = p * 32 + lane, for j < d / 2 and d up to 64 P), so a warp reads
// and writes each vector in coalesced sweeps and the sums over a vector are
// warp shuffles. The per-pair arithmetic is kernels/norm_rope_math.h, which
// the CPU tests check.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <type_traits>

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

// The residual's values, whose dtype is a runtime argument: the branch is
// the same across a launch, and these kernels wait on memory, not on it.
__device__ __forceinline__ float Load(const void* p, DType type, int64_t i) {
  switch (type) {
    case DType::kBFloat16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::kHalf: return __half2float(static_cast<const __half*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}
__device__ __forceinline__ void Store(void* p, DType type, int64_t i, float v) {
  switch (type) {
    case DType::kBFloat16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v); break;
    case DType::kHalf: static_cast<__half*>(p)[i] = __float2half(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
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
                  float* __restrict__ rstd, ResidualAdd add) {
  const int d = static_cast<int>(shape.d), half = d / 2;
  const int lane = threadIdx.x % kWarp;
  const int64_t vectors = shape.batch * shape.length * shape.heads;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
       n < vectors; n += stride) {
    const In* src = x + Offset(shape, n);
    float a[P] = {}, b[P] = {}, sum = 0;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int j = p * kWarp + lane;
      if (j < half) {
        a[p] = ToFloat(src[2 * j]);
        b[p] = ToFloat(src[2 * j + 1]);
        if (add.delta != nullptr) {
          // The sum as stored (x's dtype) is what gets normalised.
          const In sa = FromFloat<In>(a[p] + Load(add.delta, add.delta_type, n * d + 2 * j));
          const In sb = FromFloat<In>(b[p] + Load(add.delta, add.delta_type, n * d + 2 * j + 1));
          static_cast<In*>(add.sum)[n * d + 2 * j] = sa;
          static_cast<In*>(add.sum)[n * d + 2 * j + 1] = sb;
          a[p] = ToFloat(sa);
          b[p] = ToFloat(sb);
        }
        sum += a[p] + b[p];
      }
    }
    const float m = WarpSum(sum) / d;
    float squares = 0;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      if (p * kWarp + lane < half) squares += (a[p] - m) * (a[p] - m) + (b[p] - m) * (b[p] - m);
    }
    const float r = Rstd(WarpSum(squares), d, eps);
    if (lane == 0) {
      mean[n] = m;
      rstd[n] = r;
    }
    const int64_t position = Position(shape, n);
    Out* dst = out + n * d;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int j = p * kWarp + lane;
      if (j >= half) continue;
      float c, s;
      Turn(cos, sin, position, d, j, c, s);
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
                   float* __restrict__ dscale, ResidualGrad residual) {
  // Each warp's share of the scale's gradient, in shared memory rather than
  // registers, which the wide rows' P values of x and of the gradient fill.
  __shared__ float block_share[kWarpsPerBlock][64 * P];
  const int d = static_cast<int>(shape.d), half = d / 2;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  float* share = block_share[warp];
  // Each lane zeroes and adds to its own pairs' values only.
#pragma unroll
  for (int p = 0; p < P; ++p) {
    const int j = p * kWarp + lane;
    if (j < half) share[2 * j] = share[2 * j + 1] = 0;
  }
  const int64_t vectors = shape.batch * shape.length * shape.heads;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + warp; n < vectors;
       n += stride) {
    const In* src = x + Offset(shape, n);
    const Grad* g = grad_out + n * d;
    const float m = mean[n], r = rstd[n];
    const int64_t position = Position(shape, n);
    float xa[P] = {}, xb[P] = {}, ga[P] = {}, gb[P] = {};
    Sums sums;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int j = p * kWarp + lane;
      if (j >= half) continue;
      xa[p] = ToFloat(src[2 * j]);
      xb[p] = ToFloat(src[2 * j + 1]);
      ga[p] = ToFloat(g[2 * j]);
      gb[p] = ToFloat(g[2 * j + 1]);
      float c, s;
      Turn(cos, sin, position, d, j, c, s);
      BackwardPair(ga[p], gb[p], xa[p], xb[p], scale[2 * j], scale[2 * j + 1], c, s, center, m, r,
                   share[2 * j], share[2 * j + 1], sums);
    }
    sums.g = WarpSum(sums.g);
    sums.g_centred = WarpSum(sums.g_centred);
    sums.g_x = WarpSum(sums.g_x);
    In* dst = grad_in + n * d;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int j = p * kWarp + lane;
      if (j >= half) continue;
      float da = InputGradient(ga[p], xa[p], d, center, m, r, sums);
      float db = InputGradient(gb[p], xb[p], d, center, m, r, sums);
      if (residual.grad_sum != nullptr) {
        da += residual.grad_sum[n * d + 2 * j];
        db += residual.grad_sum[n * d + 2 * j + 1];
      }
      dst[2 * j] = FromFloat<In>(da);
      dst[2 * j + 1] = FromFloat<In>(db);
      if (residual.grad_delta != nullptr) {
        Store(residual.grad_delta, residual.delta_type, n * d + 2 * j, da);
        Store(residual.grad_delta, residual.delta_type, n * d + 2 * j + 1, db);
      }
    }
  }
  // The block's share of the scale's gradient, then one atomic add per value.
  __syncthreads();
  for (int i = threadIdx.x; i < d; i += kThreads) {
    float total = 0;
    for (int w = 0; w < kWarpsPerBlock; ++w) total += block_share[w][i];
    atomicAdd(&dscale[i], total);
  }
}

template <typename T>
struct Tag {
  using type = T;
};

// Calls f(Tag<In>, Tag<Other>) for the dtypes given: Other is In or float,
// or In is float (a row of the fp32 residual stream, normed into the
// half-precision type a matrix product takes).
template <typename F>
const char* WithTypes(DType in, DType other, F&& f) {
  auto with_in = [&](auto in_tag) -> const char* {
    using In = typename decltype(in_tag)::type;
    if (other == in) return f(in_tag, Tag<In>{});
    if (other == DType::kFloat) return f(in_tag, Tag<float>{});
    if constexpr (std::is_same_v<In, float>) {
      if (other == DType::kBFloat16) return f(in_tag, Tag<__nv_bfloat16>{});
      return f(in_tag, Tag<__half>{});
    }
    return "unsupported dtype pair";
  };
  switch (in) {
    case DType::kFloat: return with_in(Tag<float>{});
    case DType::kBFloat16: return with_in(Tag<__nv_bfloat16>{});
    case DType::kHalf: return with_in(Tag<__half>{});
  }
  return "unsupported dtype";
}

// Calls f(std::integral_constant<int, P>) with the fewest pairs per lane
// that cover d (CudaSupportsWidth).
template <typename F>
const char* WithPairsPerLane(int64_t d, F&& f) {
  if (d <= 128) return f(std::integral_constant<int, 2>{});
  if (d <= 512) return f(std::integral_constant<int, 8>{});
  return f(std::integral_constant<int, 16>{});
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
                          DType out_type, float* mean, float* rstd, const ResidualAdd& add,
                          void* stream) {
  if (!CudaSupportsWidth(shape.d)) return "unsupported width";
  const dim3 grid(static_cast<unsigned>(Blocks(shape, int64_t{1} << 30)));
  auto s = static_cast<cudaStream_t>(stream);
  return WithTypes(x_type, out_type, [&](auto in_tag, auto out_tag) -> const char* {
    using In = typename decltype(in_tag)::type;
    using Out = typename decltype(out_tag)::type;
    return WithPairsPerLane(shape.d, [&](auto pairs) -> const char* {
      ForwardKernel<In, Out, decltype(pairs)::value><<<grid, kThreads, 0, s>>>(
          static_cast<const In*>(x), scale, cos, sin, center, eps, shape, static_cast<Out*>(out),
          mean, rstd, add);
      return LastError();
    });
  });
}

const char* LaunchBackward(const void* grad_out, DType grad_type, const void* x, DType x_type,
                           const float* scale, const float* cos, const float* sin, bool center,
                           const float* mean, const float* rstd, const Shape& shape,
                           void* grad_in, float* dscale, const ResidualGrad& residual,
                           void* stream) {
  if (!CudaSupportsWidth(shape.d)) return "unsupported width";
  const dim3 grid(static_cast<unsigned>(Blocks(shape, kMaxBackwardBlocks)));
  auto s = static_cast<cudaStream_t>(stream);
  return WithTypes(x_type, grad_type, [&](auto in_tag, auto grad_tag) -> const char* {
    using In = typename decltype(in_tag)::type;
    using Grad = typename decltype(grad_tag)::type;
    return WithPairsPerLane(shape.d, [&](auto pairs) -> const char* {
      BackwardKernel<In, Grad, decltype(pairs)::value><<<grid, kThreads, 0, s>>>(
          static_cast<const Grad*>(grad_out), static_cast<const In*>(x), scale, cos, sin, center,
          mean, rstd, shape, static_cast<In*>(grad_in), dscale, residual);
      return LastError();
    });
  });
}

}  // namespace spacebyte::trainer::norm_rope
