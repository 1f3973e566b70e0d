#ifndef SPACEBYTE_KERNELS_NORM_ROPE_MATH_H_
#define SPACEBYTE_KERNELS_NORM_ROPE_MATH_H_

// The arithmetic of kernels/norm_rope.h, pair by pair (a pair is the two
// values RoPE turns together), shared by the CPU loop and the CUDA kernel
// so that the CPU tests check the GPU's formulas too. Only the sums over a
// vector differ: a loop here, warp shuffles there. No LibTorch: nvcc
// compiles this.

#include <math.h>

#ifdef __CUDACC__
#define SPACEBYTE_HD __host__ __device__ __forceinline__
#else
#define SPACEBYTE_HD inline
#endif

namespace spacebyte::trainer::norm_rope {

// 1 / sqrt(variance about the mean + eps), from the vector's sum of
// squared deviations over d values.
SPACEBYTE_HD float Rstd(float squares, int d, float eps) {
  return 1.0f / sqrtf(squares / static_cast<float>(d) + eps);
}

// The normalised value before its scale: LayerNorm centres, the
// reference's RMSNorm divides by the same deviation without centring.
SPACEBYTE_HD float Normalised(float x, bool center, float mean, float rstd) {
  return (center ? x - mean : x) * rstd;
}

// In place: the pair (a, b) normalised, scaled by (s0, s1), then turned by
// the angle whose cosine and sine are c and s (c = 1, s = 0: no turn).
SPACEBYTE_HD void ForwardPair(float& a, float& b, float s0, float s1, float c, float s,
                              bool center, float mean, float rstd) {
  const float na = Normalised(a, center, mean, rstd) * s0;
  const float nb = Normalised(b, center, mean, rstd) * s1;
  a = na * c - nb * s;
  b = na * s + nb * c;
}

// Sums over a vector that its input gradient needs.
struct Sums {
  float g = 0, g_centred = 0, g_x = 0;
};

// Backward, first half, in place: the pair's output gradient (ga, gb)
// turned back and taken through the scale, with its shares of the scale's
// gradient added to (ds0, ds1) and of the vector's sums to `sums`.
SPACEBYTE_HD void BackwardPair(float& ga, float& gb, float xa, float xb, float s0, float s1,
                               float c, float s, bool center, float mean, float rstd, float& ds0,
                               float& ds1, Sums& sums) {
  const float ua = ga * c + gb * s, ub = gb * c - ga * s;
  ds0 += ua * Normalised(xa, center, mean, rstd);
  ds1 += ub * Normalised(xb, center, mean, rstd);
  ga = ua * s0;
  gb = ub * s1;
  sums.g += ga + gb;
  sums.g_centred += (ga * (xa - mean) + gb * (xb - mean)) * rstd;
  sums.g_x += ga * xa + gb * xb;
}

// Backward, second half: the input gradient of one value from its scaled
// gradient g (BackwardPair's) and the vector's sums. rstd depends on every
// x_i through the variance: d rstd / d x_i = -rstd^3 (x_i - mean) / d.
SPACEBYTE_HD float InputGradient(float g, float x, int d, bool center, float mean, float rstd,
                                 const Sums& sums) {
  const float inv_d = 1.0f / static_cast<float>(d);
  const float centred = (x - mean) * rstd;
  return center
             // LayerNorm: rstd (g - mean(g) - centred mean(g centred)).
             ? rstd * (g - inv_d * (sums.g + centred * sums.g_centred))
             // x rstd: rstd g - rstd^3 (x - mean) / d sum(g x).
             : rstd * (g - rstd * centred * inv_d * sums.g_x);
}

}  // namespace spacebyte::trainer::norm_rope

#endif  // SPACEBYTE_KERNELS_NORM_ROPE_MATH_H_
