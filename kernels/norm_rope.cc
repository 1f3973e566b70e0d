#include "kernels/norm_rope.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

#include "kernels/kernel_check.h"
#include "kernels/norm_rope_math.h"

#ifdef SPACEBYTE_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/norm_rope_cuda.h"
#endif

namespace spacebyte::trainer {
namespace {

// Where the vector n of a [B, L, H, d] view starts, and its position.
struct Vectors {
  int64_t length, heads, d, stride_b, stride_l, stride_h;
  explicit Vectors(const torch::Tensor& x)
      : length(x.size(1)), heads(x.size(2)), d(x.size(3)), stride_b(x.stride(0)),
        stride_l(x.stride(1)), stride_h(x.stride(2)) {}
  int64_t position(int64_t n) const { return (n / heads) % length; }
  int64_t offset(int64_t n) const {
    return (n / (heads * length)) * stride_b + position(n) * stride_l + (n % heads) * stride_h;
  }
};

// The cosines and sines of a position's pair angles; without rotation,
// ones and zeros, so that the loops below need no branch.
class Turns {
 public:
  Turns(const torch::Tensor& cos, const torch::Tensor& sin, int64_t d)
      : half_(d / 2), cos_(cos.numel() > 0 ? cos : torch::ones({half_})),
        sin_(sin.numel() > 0 ? sin : torch::zeros({half_})),
        rows_(cos.numel() > 0) {}
  const float* cos(int64_t position) const { return cos_.data_ptr<float>() + Row(position); }
  const float* sin(int64_t position) const { return sin_.data_ptr<float>() + Row(position); }

 private:
  int64_t Row(int64_t position) const { return rows_ ? position * half_ : 0; }
  int64_t half_;
  torch::Tensor cos_, sin_;
  bool rows_;
};

// Runs f with `center` as a compile-time constant, so that the per-value
// branch folds away and the loops vectorise.
template <typename F>
void WithCenter(bool center, F&& f) {
  if (center) {
    f(std::true_type{});
  } else {
    f(std::false_type{});
  }
}

template <typename In, typename Out>
void ForwardCpu(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& cos,
                const torch::Tensor& sin, bool center, float eps, torch::Tensor& out,
                torch::Tensor& mean, torch::Tensor& rstd) {
  const Vectors layout(x);
  const Turns turns(cos, sin, layout.d);
  const In* in = x.data_ptr<In>();
  Out* dst = out.data_ptr<Out>();
  float *means = mean.data_ptr<float>(), *rstds = rstd.data_ptr<float>();
  const float* s = scale.data_ptr<float>();
  const int d = static_cast<int>(layout.d);
  WithCenter(center, [&](auto centered) {
    at::parallel_for(0, mean.numel(), 64, [&](int64_t begin, int64_t end) {
      std::vector<float> v(d);
      for (int64_t n = begin; n < end; ++n) {
        const In* src = in + layout.offset(n);
        float sum = 0, squares = 0;
        for (int i = 0; i < d; ++i) sum += v[i] = static_cast<float>(src[i]);
        const float m = sum / static_cast<float>(d);
        for (int i = 0; i < d; ++i) squares += (v[i] - m) * (v[i] - m);
        const float r = norm_rope::Rstd(squares, d, eps);
        means[n] = m;
        rstds[n] = r;
        const float *c = turns.cos(layout.position(n)), *t = turns.sin(layout.position(n));
        Out* o = dst + n * d;
        for (int j = 0; j < d / 2; ++j) {
          float a = v[2 * j], b = v[2 * j + 1];
          norm_rope::ForwardPair(a, b, s[2 * j], s[2 * j + 1], c[j], t[j], centered, m, r);
          o[2 * j] = static_cast<Out>(a);
          o[2 * j + 1] = static_cast<Out>(b);
        }
      }
    });
  });
}

template <typename In, typename Grad>
void BackwardCpu(const torch::Tensor& grad_out, const torch::Tensor& x, const torch::Tensor& scale,
                 const torch::Tensor& cos, const torch::Tensor& sin, bool center,
                 const torch::Tensor& mean, const torch::Tensor& rstd, torch::Tensor& grad_in,
                 torch::Tensor& dscale) {
  const Vectors layout(x);
  const Turns turns(cos, sin, layout.d);
  const In* in = x.data_ptr<In>();
  const Grad* g_out = grad_out.data_ptr<Grad>();
  In* g_in = grad_in.data_ptr<In>();
  const float *means = mean.data_ptr<float>(), *rstds = rstd.data_ptr<float>();
  const float* s = scale.data_ptr<float>();
  const int d = static_cast<int>(layout.d);
  // Each thread's sum, added up in the order of the vectors it covered, so
  // that the result does not depend on which thread finished first.
  std::mutex mutex;
  std::map<int64_t, std::vector<double>> chunk_shares;
  WithCenter(center, [&](auto centered) {
    at::parallel_for(0, mean.numel(), 64, [&](int64_t begin, int64_t end) {
      // The scale's gradient sums over every vector: per vector in float,
      // across vectors in double (a float running sum over a thread's
      // hundred thousand vectors would drift in the fourth digit).
      std::vector<float> g(d), v(d), share(d);
      std::vector<double> chunk_share(d, 0.0);
      for (int64_t n = begin; n < end; ++n) {
        const In* src = in + layout.offset(n);
        const Grad* gsrc = g_out + n * d;
        for (int i = 0; i < d; ++i) {
          v[i] = static_cast<float>(src[i]);
          g[i] = static_cast<float>(gsrc[i]);
        }
        const float *c = turns.cos(layout.position(n)), *t = turns.sin(layout.position(n));
        const float m = means[n], r = rstds[n];
        norm_rope::Sums sums;
        std::fill(share.begin(), share.end(), 0.0f);
        for (int j = 0; j < d / 2; ++j) {
          norm_rope::BackwardPair(g[2 * j], g[2 * j + 1], v[2 * j], v[2 * j + 1], s[2 * j],
                                  s[2 * j + 1], c[j], t[j], centered, m, r, share[2 * j],
                                  share[2 * j + 1], sums);
        }
        In* gi = g_in + n * d;
        for (int i = 0; i < d; ++i) {
          gi[i] = static_cast<In>(norm_rope::InputGradient(g[i], v[i], d, centered, m, r, sums));
          chunk_share[i] += share[i];
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      chunk_shares[begin] = std::move(chunk_share);
    });
  });
  double* total = dscale.data_ptr<double>();
  for (const auto& [begin, share] : chunk_shares) {
    for (int i = 0; i < d; ++i) total[i] += share[i];
  }
}

// Calls F<In, Other>::Run for x's dtype and `other`: Other is In or float,
// or In is float (the fp32 residual stream normed into half precision).
template <template <typename, typename> class F, typename... Args>
void Dispatch(torch::ScalarType in, torch::ScalarType other, Args&&... args) {
  auto with = [&](auto in_value) {
    using In = decltype(in_value);
    if (other == torch::CppTypeToScalarType<In>::value) {
      F<In, In>::Run(std::forward<Args>(args)...);
    } else if (other == torch::kFloat) {
      F<In, float>::Run(std::forward<Args>(args)...);
    } else if constexpr (std::is_same_v<In, float>) {
      TORCH_CHECK(other == torch::kBFloat16 || other == torch::kHalf, "NormRope: ", other);
      if (other == torch::kBFloat16) {
        F<float, c10::BFloat16>::Run(std::forward<Args>(args)...);
      } else {
        F<float, c10::Half>::Run(std::forward<Args>(args)...);
      }
    } else {
      TORCH_CHECK(false, "NormRope: ", other, " with ", in);
    }
  };
  switch (in) {
    case torch::kFloat: return with(float{});
    case torch::kBFloat16: return with(c10::BFloat16{});
    case torch::kHalf: return with(c10::Half{});
    default: TORCH_CHECK(false, "NormRope takes float, bf16 or fp16, not ", in);
  }
}

template <typename In, typename Out>
struct ForwardOnCpu {
  template <typename... A>
  static void Run(A&&... a) { ForwardCpu<In, Out>(std::forward<A>(a)...); }
};
template <typename In, typename Grad>
struct BackwardOnCpu {
  template <typename... A>
  static void Run(A&&... a) { BackwardCpu<In, Grad>(std::forward<A>(a)...); }
};

#ifdef SPACEBYTE_WITH_CUDA
norm_rope::DType CudaType(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return norm_rope::DType::kFloat;
    case torch::kBFloat16: return norm_rope::DType::kBFloat16;
    case torch::kHalf: return norm_rope::DType::kHalf;
    default: TORCH_CHECK(false, "NormRope takes float, bf16 or fp16, not ", t);
  }
}

norm_rope::Shape CudaShape(const torch::Tensor& x) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), x.stride(0), x.stride(1), x.stride(2)};
}

void* CurrentStream(const torch::Tensor& x) {
  return c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
}

// A turn table's pointer for the kernels, which read x.size(1) rows of
// d / 2 floats from it, on x's device; null for none.
const float* Table(const torch::Tensor& t, const torch::Tensor& x) {
  if (!t.defined() || t.numel() == 0) return nullptr;
  TORCH_CHECK(t.device() == x.device() && t.scalar_type() == torch::kFloat && t.dim() == 2 &&
                  t.is_contiguous() && t.size(0) >= x.size(1) && t.size(1) == x.size(3) / 2,
              "NormRope: a turn table must be contiguous float [>= ", x.size(1), ", ",
              x.size(3) / 2, "] on ", x.device(), "; got ", t.scalar_type(), " ", t.sizes(),
              " on ", t.device());
  return t.data_ptr<float>();
}
#endif

struct Normed {
  torch::Tensor out, mean, rstd;
  torch::Tensor sum;  // x + delta, when a delta was given
};

// rotate(norm(x + delta) * scale); delta undefined: of x alone. On the CPU
// the add is its own op (the CPU model keeps torch's norm and add; this
// path is the CUDA kernel's reference).
Normed Forward(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& scale,
               const torch::Tensor& cos, const torch::Tensor& sin, bool center, float eps,
               torch::ScalarType out_dtype) {
  const auto floats = x.options().dtype(torch::kFloat);
  const int64_t vectors = x.size(0) * x.size(1) * x.size(2);
  Normed r{torch::empty(x.sizes(), x.options().dtype(out_dtype)), torch::empty({vectors}, floats),
           torch::empty({vectors}, floats)};
  if (x.is_cuda()) {
#ifdef SPACEBYTE_WITH_CUDA
    // Launches go to the current device: x's, whichever the caller's is.
    const c10::cuda::CUDAGuard device(x.device());
    norm_rope::ResidualAdd add;
    if (delta.defined()) {
      r.sum = torch::empty(x.sizes(), x.options());
      add = {delta.data_ptr(), CudaType(delta.scalar_type()), r.sum.data_ptr()};
    }
    const char* error = norm_rope::LaunchForward(
        x.data_ptr(), CudaType(x.scalar_type()), scale.data_ptr<float>(), Table(cos, x), Table(sin, x),
        center, eps, CudaShape(x), r.out.data_ptr(), CudaType(out_dtype),
        r.mean.data_ptr<float>(), r.rstd.data_ptr<float>(), add, CurrentStream(x));
    TORCH_CHECK(error == nullptr, "NormRope CUDA forward: ", error);
#else
    TORCH_CHECK(false, "NormRope on CUDA needs a CUDA build");
#endif
  } else {
    if (delta.defined()) r.sum = x + delta;
    const torch::Tensor& in = delta.defined() ? r.sum : x;
    Dispatch<ForwardOnCpu>(in.scalar_type(), out_dtype, in, scale, cos, sin, center, eps, r.out,
                           r.mean, r.rstd);
  }
  return r;
}

struct NormGrads {
  torch::Tensor in, scale;
  torch::Tensor delta;  // the residual's, in its dtype
};

// x: what was normalised (the sum, with a residual). grad_sum: the sum's
// own gradient, added to the input's (undefined: none); delta_dtype: with a
// residual, its gradient's dtype.
NormGrads Backward(const torch::Tensor& grad_out, const torch::Tensor& x,
                   const torch::Tensor& scale, const torch::Tensor& cos, const torch::Tensor& sin,
                   bool center, const torch::Tensor& mean, const torch::Tensor& rstd,
                   const torch::Tensor& grad_sum, std::optional<torch::ScalarType> delta_dtype) {
  NormGrads g{torch::empty(x.sizes(), x.options())};
  if (x.is_cuda()) {
#ifdef SPACEBYTE_WITH_CUDA
    const c10::cuda::CUDAGuard device(x.device());
    g.scale = torch::zeros({x.size(3)}, x.options().dtype(torch::kFloat));
    norm_rope::ResidualGrad residual;
    if (delta_dtype) {
      g.delta = torch::empty(x.sizes(), x.options().dtype(*delta_dtype));
      residual = {grad_sum.defined() ? grad_sum.data_ptr<float>() : nullptr, g.delta.data_ptr(),
                  CudaType(*delta_dtype)};
    }
    const char* error = norm_rope::LaunchBackward(
        grad_out.data_ptr(), CudaType(grad_out.scalar_type()), x.data_ptr(),
        CudaType(x.scalar_type()), scale.data_ptr<float>(), Table(cos, x), Table(sin, x), center,
        mean.data_ptr<float>(), rstd.data_ptr<float>(), CudaShape(x), g.in.data_ptr(),
        g.scale.data_ptr<float>(), residual, CurrentStream(x));
    TORCH_CHECK(error == nullptr, "NormRope CUDA backward: ", error);
    return g;
#else
    TORCH_CHECK(false, "NormRope on CUDA needs a CUDA build");
#endif
  }
  g.scale = torch::zeros({x.size(3)}, x.options().dtype(torch::kDouble));
  Dispatch<BackwardOnCpu>(x.scalar_type(), grad_out.scalar_type(), grad_out, x, scale, cos, sin,
                          center, mean, rstd, g.in, g.scale);
  if (grad_sum.defined()) g.in += grad_sum;
  if (delta_dtype) g.delta = g.in.to(*delta_dtype);
  return g;
}

class NormRopeFunction : public torch::autograd::Function<NormRopeFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& scale, const torch::Tensor& cos,
                               const torch::Tensor& sin, bool center, double eps,
                               int64_t out_dtype) {
    const torch::Tensor scale_f = scale.to(torch::kFloat).contiguous();
    Normed r = Forward(x, {}, scale_f, cos, sin, center, static_cast<float>(eps),
                       static_cast<torch::ScalarType>(out_dtype));
    ctx->save_for_backward({x, scale_f, cos, sin, r.mean, r.rstd});
    ctx->saved_data["center"] = center;
    ctx->saved_data["scale_dtype"] = static_cast<int64_t>(scale.scalar_type());
    return r.out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    NormGrads g = Backward(grads[0].contiguous(), saved[0], saved[1], saved[2], saved[3],
                           ctx->saved_data["center"].toBool(), saved[4], saved[5], {}, {});
    const auto scale_dtype = static_cast<torch::ScalarType>(ctx->saved_data["scale_dtype"].toInt());
    return {g.in,            g.scale.to(scale_dtype), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(),         torch::Tensor()};
  }
};

// The residual add and a row norm after it: outputs the sum and the normed
// rows; backward saves the sum and two floats per row, as the norm alone.
class AddNormFunction : public torch::autograd::Function<AddNormFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::Tensor& base,
                                                const torch::Tensor& delta,
                                                const torch::Tensor& scale, bool center,
                                                double eps, int64_t out_dtype) {
    const torch::Tensor scale_f = scale.to(torch::kFloat).contiguous();
    const torch::Tensor none = torch::empty({0}, base.options().dtype(torch::kFloat));
    Normed r = Forward(base, delta, scale_f, none, none, center, static_cast<float>(eps),
                       static_cast<torch::ScalarType>(out_dtype));
    ctx->save_for_backward({r.sum, scale_f, r.mean, r.rstd});
    ctx->saved_data["center"] = center;
    ctx->saved_data["scale_dtype"] = static_cast<int64_t>(scale.scalar_type());
    ctx->saved_data["delta_dtype"] = static_cast<int64_t>(delta.scalar_type());
    return {r.sum, r.out};
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& sum = saved[0];
    const torch::Tensor none = torch::empty({0}, sum.options().dtype(torch::kFloat));
    // A normed output nobody used has a zero gradient, which the kernel takes.
    const torch::Tensor grad_normed =
        grads[1].defined() ? grads[1].contiguous() : torch::zeros_like(sum);
    const torch::Tensor grad_sum =
        grads[0].defined() ? grads[0].to(torch::kFloat).contiguous() : torch::Tensor();
    NormGrads g = Backward(grad_normed, sum, saved[1], none, none,
                           ctx->saved_data["center"].toBool(), saved[2], saved[3], grad_sum,
                           static_cast<torch::ScalarType>(ctx->saved_data["delta_dtype"].toInt()));
    const auto scale_dtype = static_cast<torch::ScalarType>(ctx->saved_data["scale_dtype"].toInt());
    return {g.in, g.delta, g.scale.to(scale_dtype), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

// The separate ops NormRope stands for, in fp32 on the CPU; cos undefined:
// no rotation.
torch::Tensor Reference(const torch::Tensor& x, const torch::Tensor& scale,
                        const torch::Tensor& cos, const torch::Tensor& sin, bool center,
                        double eps) {
  const torch::Tensor var = x.var(-1, /*unbiased=*/false, /*keepdim=*/true);
  const torch::Tensor normed =
      (center ? x - x.mean(-1, true) : x) * torch::rsqrt(var + eps) * scale;
  if (!cos.defined()) return normed;
  const torch::Tensor pairs = normed.unflatten(-1, {x.size(-1) / 2, 2});
  const torch::Tensor a = pairs.select(-1, 0), b = pairs.select(-1, 1);
  const torch::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);  // [L, 1, d/2]
  return torch::stack({a * c - b * s, a * s + b * c}, -1).flatten(-2);
}

}  // namespace

torch::Tensor NormRope(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& cos,
                       const torch::Tensor& sin, bool center, double eps,
                       torch::ScalarType out_dtype) {
  // autograd::Function takes no undefined tensors: no rotation is an empty table.
  const torch::Tensor none = torch::empty({0}, x.options().dtype(torch::kFloat));
  return NormRopeFunction::apply(x, scale, cos.defined() ? cos : none, sin.defined() ? sin : none,
                                 center, eps, static_cast<int64_t>(out_dtype));
}

namespace {

// The dtypes the kernels read and write (Dispatch, CudaType).
bool KernelDtype(torch::ScalarType t) {
  return t == torch::kFloat || t == torch::kBFloat16 || t == torch::kHalf;
}

}  // namespace

bool NormRopeApplies(const torch::Tensor& x) {
  if (SwitchedOff("SPACEBYTE_FUSED_NORM_ROPE") || x.dim() != 4 || x.size(3) % 2 != 0 ||
      x.stride(3) != 1 || !KernelDtype(x.scalar_type())) {
    return false;
  }
  if (x.is_cpu()) return true;
#ifdef SPACEBYTE_WITH_CUDA
  return x.is_cuda() && norm_rope::CudaSupportsWidth(x.size(3)) &&
         PassesCheckOnce("the fused Q/K norm and RoPE kernel", x.device(),
                         [&] { return NormRopeMismatch(x.device()); }, "separate ops");
#else
  return false;
#endif
}

std::pair<torch::Tensor, torch::Tensor> AddNorm(const torch::Tensor& base,
                                                const torch::Tensor& delta,
                                                const torch::Tensor& scale, bool center,
                                                double eps, torch::ScalarType out_dtype) {
  const torch::autograd::variable_list r = AddNormFunction::apply(
      base, delta.contiguous(), scale, center, eps, static_cast<int64_t>(out_dtype));
  return {r[0], r[1]};
}

bool AddNormApplies(const torch::Tensor& base, const torch::Tensor& delta) {
  if (SwitchedOff("SPACEBYTE_FUSED_ADD_NORM") || !NormRopeApplies(base) || base.size(2) != 1 ||
      base.scalar_type() != torch::kFloat || !base.is_contiguous() ||
      delta.sizes() != base.sizes() || delta.device() != base.device() ||
      !KernelDtype(delta.scalar_type())) {
    return false;
  }
  return base.is_cpu() ||
         PassesCheckOnce("the fused residual add and pre-norm kernel", base.device(),
                         [&] { return AddNormMismatch(base.device()); }, "separate ops");
}

namespace {

// Vectors of width d, the second of each group of `full`'s last dimension
// (a strided view, as attention hands Q over) or its only one.
torch::Tensor Part(const torch::Tensor& full, int64_t d) {
  const int64_t groups = full.size(-1) / d;
  return full.unflatten(-1, {groups, d}).select(-2, groups > 1 ? 1 : 0);
}

// What differs between NormRope on `device` and the separate ops in fp32 on
// the CPU, for Part(full, d) given to the kernel as `x_dtype`; empty if
// nothing beyond bf16 rounding.
std::string CaseMismatch(const torch::Device& device, const torch::Tensor& full, int64_t d,
                         torch::ScalarType x_dtype, const torch::Tensor& cos,
                         const torch::Tensor& sin, at::Generator& gen, const char* what) {
  const auto cpu = torch::TensorOptions().dtype(torch::kFloat);
  const torch::Tensor x_cpu = Part(full, d);
  const torch::Tensor grad_out = at::randn(x_cpu.sizes(), gen, cpu);
  for (bool center : {true, false}) {
    const torch::Tensor scale = (at::rand({d}, gen, cpu) + 0.5).requires_grad_(true);
    const torch::Tensor x = x_cpu.detach().requires_grad_(true);
    const torch::Tensor want = Reference(x, scale, cos, sin, center, 1e-5);
    const auto want_grads = torch::autograd::grad({want}, {x, scale}, {grad_out});

    const torch::Tensor x_dev = Part(full.to(device, x_dtype), d).detach().requires_grad_(true);
    const torch::Tensor scale_dev = scale.detach().to(device).requires_grad_(true);
    const torch::Tensor got =
        NormRope(x_dev, scale_dev, cos.defined() ? cos.to(device) : cos,
                 sin.defined() ? sin.to(device) : sin, center, 1e-5, torch::kBFloat16);
    const auto got_grads =
        torch::autograd::grad({got}, {x_dev, scale_dev}, {grad_out.to(device, torch::kBFloat16)});
    const std::string mismatch = FirstMismatch(
        {{"output", got, want}, {"dx", got_grads[0], want_grads[0]},
         {"dscale", got_grads[1], want_grads[1]}});
    if (!mismatch.empty()) {
      return std::string(what) + (center ? " LayerNorm " : " RMSNorm ") + mismatch;
    }
  }
  return "";
}

}  // namespace

std::string NormRopeMismatch(const torch::Device& device) {
  torch::AutoGradMode grad(true);
  at::Generator gen = at::detail::createCPUGenerator(/*seed_val=*/20261207);
  const auto cpu = torch::TensorOptions().dtype(torch::kFloat);
  // Q or K: a strided bf16 view of a wider projection, as attention hands
  // it over, with d_key 64, turned.
  const torch::Tensor wide = at::randn({2, 40, 3, 128}, gen, cpu) * 3 + 1;
  const torch::Tensor angle = at::rand({40, 32}, gen, cpu) * 6.3;
  const std::string head = CaseMismatch(device, wide, 64, torch::kBFloat16, angle.cos(),
                                        angle.sin(), gen, "head vectors:");
  if (!head.empty()) return head;
  // A block's pre-norm: fp32 rows of the residual stream into bf16, not
  // turned; 384 and 768 wide, so that both kernels for rows (8 and 16 pairs
  // a lane) are checked.
  for (const int64_t d : {384, 768}) {
    const torch::Tensor rows = at::randn({2, 40, 1, d}, gen, cpu) * 3 + 1;
    const std::string row = CaseMismatch(device, rows, d, torch::kFloat, torch::Tensor(),
                                         torch::Tensor(), gen, "rows:");
    if (!row.empty()) return row;
  }
  return "";
}

std::string AddNormMismatch(const torch::Device& device) {
  torch::AutoGradMode grad(true);
  at::Generator gen = at::detail::createCPUGenerator(/*seed_val=*/20261208);
  const auto cpu = torch::TensorOptions().dtype(torch::kFloat);
  // fp32 rows of the residual stream plus a bf16 branch output, 768 wide,
  // into bf16; the sum's gradient comes from the next residual add.
  const torch::Tensor base_cpu = at::randn({2, 40, 1, 768}, gen, cpu) * 3 + 1;
  const torch::Tensor delta_cpu = (at::randn({2, 40, 1, 768}, gen, cpu) * 2).to(torch::kBFloat16);
  const torch::Tensor grad_sum = at::randn(base_cpu.sizes(), gen, cpu);
  const torch::Tensor grad_out = at::randn(base_cpu.sizes(), gen, cpu).to(torch::kBFloat16);
  for (bool center : {true, false}) {
    const torch::Tensor scale = (at::rand({768}, gen, cpu) + 0.5).requires_grad_(true);
    const torch::Tensor base = base_cpu.detach().requires_grad_(true);
    const torch::Tensor delta = delta_cpu.detach().requires_grad_(true);
    const torch::Tensor sum = base + delta;
    const torch::Tensor want = Reference(sum, scale, {}, {}, center, 1e-5);
    const auto want_grads = torch::autograd::grad(
        {sum, want}, {base, delta, scale}, {grad_sum, grad_out.to(torch::kFloat)});

    const torch::Tensor base_dev = base_cpu.to(device).requires_grad_(true);
    const torch::Tensor delta_dev = delta_cpu.to(device).requires_grad_(true);
    const torch::Tensor scale_dev = scale.detach().to(device).requires_grad_(true);
    const auto [got_sum, got] =
        AddNorm(base_dev, delta_dev, scale_dev, center, 1e-5, torch::kBFloat16);
    const auto got_grads = torch::autograd::grad({got_sum, got}, {base_dev, delta_dev, scale_dev},
                                                 {grad_sum.to(device), grad_out.to(device)});
    const std::string mismatch = FirstMismatch(
        {{"sum", got_sum, sum}, {"output", got, want}, {"dbase", got_grads[0], want_grads[0]},
         {"ddelta", got_grads[1], want_grads[1]}, {"dscale", got_grads[2], want_grads[2]}});
    if (!mismatch.empty()) return (center ? "LayerNorm " : "RMSNorm ") + mismatch;
  }
  return "";
}

}  // namespace spacebyte::trainer
