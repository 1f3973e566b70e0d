#include "model/layers.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "kernels/attention_kernels.h"
#include "kernels/autocast.h"
#include "kernels/band_attention_cpu.h"
#include "kernels/flash_window_attention.h"
#include "kernels/linear_relu.h"
#include "kernels/norm_rope.h"
#include "kernels/phase_timer.h"
#include "parallel/tensor_parallel.h"

namespace spacebyte::trainer {

torch::nn::Linear MakeLinear(int64_t in, int64_t out) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(false));
  torch::NoGradGuard no_grad;
  linear->weight.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(in)));
  return linear;
}

torch::nn::Embedding MakeEmbedding(int64_t width) {
  torch::nn::Embedding embedding(kVocabSize, width);
  torch::NoGradGuard no_grad;
  embedding->weight.normal_(0.0, 1.0);
  return embedding;
}

torch::Tensor RopeRotation(int64_t length, int64_t d_key, int64_t offset,
                           const torch::Device& device) {
  // Angles in fp32 whatever the queries hold: bf16 keeps integers exact only
  // up to 256, so positions and angles formed in it are off by radians
  // within the first few hundred bytes.
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(device);
  const torch::Tensor inv_freq =
      torch::pow(10000.0, -torch::arange(0, d_key, 2, opts) / static_cast<double>(d_key));
  const torch::Tensor pos = torch::arange(offset, offset + length, opts);
  const torch::Tensor angle = torch::outer(pos, inv_freq).unsqueeze(1);  // [L, 1, d_key/2]
  return torch::complex(angle.cos(), angle.sin());
}

torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& rotation) {
  // Each pair (even, odd) is the complex number even + i odd, and the
  // rotation one complex product: (even cos - odd sin, even sin + odd cos)
  // in one element-wise pass, where the real-valued form takes seven and
  // keeps its inputs for backward (the product keeps only the table). The
  // product runs in fp32 (complex bf16 is not a type), and the result takes
  // x's dtype once.
  const bool is_double = x.scalar_type() == torch::kDouble;
  const torch::Tensor wide = x.to(is_double ? torch::kDouble : torch::kFloat).contiguous();
  const torch::Tensor turn = rotation.to(is_double ? torch::kComplexDouble : torch::kComplexFloat);
  const torch::Tensor pairs = torch::view_as_complex(wide.unflatten(-1, {x.size(-1) / 2, 2}));
  return torch::view_as_real(pairs * turn).flatten(-2).to(x.scalar_type());
}

torch::Tensor ApplyRope(const torch::Tensor& x, int64_t offset) {
  return ApplyRope(x, RopeRotation(x.size(1), x.size(-1), offset, x.device()));
}

constexpr double kNormEps = 1e-5;

namespace {

// The dtype of a fused norm's output (kernels/norm_rope.h): what the
// separate ops return (float under autocast, whose norms run in float),
// except under CUDA autocast, where the product or attention kernel after
// it takes bf16 and the cast is made in the same pass.
torch::ScalarType NormedDtype(const torch::Tensor& x) {
  const std::optional<c10::DeviceType> autocast = Autocast::Active();
  if (!autocast) return x.scalar_type();
  return x.is_cuda() && *autocast == c10::DeviceType::CUDA ? torch::kBFloat16 : torch::kFloat;
}

// The dtype autocast runs a product on x in: bf16 under CUDA autocast (the
// only precision it runs here), x's own otherwise.
torch::ScalarType ProductDtype(const torch::Tensor& x) {
  const std::optional<c10::DeviceType> autocast = Autocast::Active();
  return autocast && *autocast == c10::DeviceType::CUDA && x.is_cuda() ? torch::kBFloat16
                                                                       : x.scalar_type();
}

bool Sharded(const parallel::Collectives* tp) { return tp != nullptr && tp->size() > 1; }

std::atomic<bool> fused_pre_norms_on_cpu{false};

// Whether a pre-norm on x may take the fused kernels (SetFusedPreNormsOnCpu).
bool FusedPreNormDevice(const torch::Tensor& x) {
  return x.is_cuda() || (x.is_cpu() && fused_pre_norms_on_cpu.load());
}

}  // namespace

void SetFusedPreNormsOnCpu(bool on) { fused_pre_norms_on_cpu = on; }

NormImpl::NormImpl(int64_t width, NormKind kind)
    : kind_(kind), scale_(register_parameter("scale", torch::ones({width}))) {}

torch::Tensor NormImpl::Scaled(const torch::Tensor& x, const torch::Tensor& scale) {
  if (kind_ == NormKind::kLayerNorm) {
    return torch::layer_norm(x, {x.size(-1)}, scale, {}, kNormEps);
  }
  const torch::Tensor var = x.var(-1, /*unbiased=*/false, /*keepdim=*/true);
  return x * torch::rsqrt(var + kNormEps) * scale;
}

namespace {

// A pre-norm's output dtype: the product's, or fp32 for a product split
// over tensor-parallel ranks (`fp32_grad`).
torch::ScalarType PreNormDtype(const torch::Tensor& x, bool fp32_grad) {
  return fp32_grad && Autocast::Active() ? torch::kFloat : NormedDtype(x);
}

}  // namespace

torch::Tensor NormImpl::BeforeProduct(const torch::Tensor& x, bool fp32_grad) {
  if (x.dim() != 3 || !FusedPreNormDevice(x)) return forward(x);
  const torch::Tensor rows = x.unsqueeze(2);  // [B, L, 1, width]: one vector per row
  if (!NormRopeApplies(rows)) return forward(x);
  return NormRope(rows, scale_, {}, {}, kind_ == NormKind::kLayerNorm, kNormEps,
                  PreNormDtype(x, fp32_grad))
      .squeeze(2);
}

std::pair<torch::Tensor, torch::Tensor> NormImpl::AddBeforeProduct(const Residual& r,
                                                                   bool fp32_grad) {
  if (r.delta.defined() && r.base.dim() == 3 && FusedPreNormDevice(r.base)) {
    const torch::Tensor base = r.base.unsqueeze(2), delta = r.delta.unsqueeze(2);
    if (AddNormApplies(base, delta)) {
      auto [sum, normed] = AddNorm(base, delta, scale_, kind_ == NormKind::kLayerNorm, kNormEps,
                                   PreNormDtype(r.base, fp32_grad));
      return {sum.squeeze(2), normed.squeeze(2)};
    }
  }
  const torch::Tensor x = r.Sum();
  return {x, BeforeProduct(x, fp32_grad)};
}

namespace {

// Local blocks on CUDA in half precision: FlashAttention's sliding window on
// the [B, L, H, d_key] layout, when the kernel applies (see its header).
std::optional<torch::Tensor> FlashWindow(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, int64_t window,
                                         const KvCache* cache) {
  if (cache != nullptr || window < 0 || !q.is_cuda()) return std::nullopt;
  PhaseScope phase("attention kernel");
  return FlashWindowedAttention(q, k, v, window);
}

}  // namespace

AttentionImpl::AttentionImpl(int64_t width, const ModelSpec& spec, int64_t window)
    : d_key_(spec.d_key),
      window_(window),
      rope_(spec.rope),
      norm_(spec.norm),
      layer_norm_(register_module("layer_norm", Norm(width, spec.norm))),
      qkv_linear_(register_module("QKV_linear", MakeLinear(width, 3 * width))),
      linear_(register_module("linear", MakeLinear(width, width))),
      q_layer_norm_(register_module("Q_layer_norm", Norm(spec.d_key, spec.norm))),
      k_layer_norm_(register_module("K_layer_norm", Norm(spec.d_key, spec.norm))) {}

Residual AttentionImpl::Forward(const Residual& r, KvCache* cache) {
  const auto [x, normed] = layer_norm_->AddBeforeProduct(r, Sharded(tp_));
  const int64_t batch = x.size(0), length = x.size(1);
  // Tensor-parallel region (docs/model.md#tensor-parallelism-ours): identity
  // forward, gradient summed over the tp group in backward. Heads come from
  // the weight, so a shard runs its own heads.
  const torch::Tensor qkv = qkv_linear_(parallel::CopyToTensorParallel(normed, tp_));
  const int64_t heads = qkv.size(-1) / (3 * d_key_);
  const std::vector<torch::Tensor> parts =
      qkv.view({batch, length, 3, heads, d_key_}).unbind(2);
  // The Q/K norm scales are replicated but each rank uses them on its own
  // heads only: entering the region sums their gradient shares.
  const torch::Tensor q_scale = parallel::CopyToTensorParallel(q_layer_norm_->scale(), tp_);
  const torch::Tensor k_scale = parallel::CopyToTensorParallel(k_layer_norm_->scale(), tp_);
  const torch::Tensor rotation =
      rope_ ? RopeRotation(length, d_key_, cache != nullptr ? cache->position : 0, x.device())
            : torch::Tensor();
  torch::Tensor q, k;
  if (NormRopeApplies(parts[0])) {
    // Norm, scale and rotation in one pass each (kernels/norm_rope.h).
    torch::Tensor cos, sin;
    if (rope_) {
      const torch::Tensor turn = torch::view_as_real(rotation.squeeze(1));  // [L, d/2, 2]
      cos = turn.select(-1, 0).contiguous();
      sin = turn.select(-1, 1).contiguous();
    }
    const bool center = norm_ == NormKind::kLayerNorm;
    const torch::ScalarType dtype = NormedDtype(parts[0]);
    q = NormRope(parts[0], q_scale, cos, sin, center, kNormEps, dtype);
    k = NormRope(parts[1], k_scale, cos, sin, center, kNormEps, dtype);
  } else {
    q = q_layer_norm_->Scaled(parts[0], q_scale);
    k = k_layer_norm_->Scaled(parts[1], k_scale);
    if (rope_) {
      q = ApplyRope(q, rotation);
      k = ApplyRope(k, rotation);
    }
  }
  torch::Tensor out;
  if (cache == nullptr && BandAttentionCpuApplies(q, k, parts[2])) {
    PhaseScope phase("attention kernel");
    out = BandAttentionCpu(q, k, parts[2], window_);
  } else if (std::optional<torch::Tensor> flash = FlashWindow(q, k, parts[2], window_, cache)) {
    out = *flash;
  } else {
    out = Attend(q.transpose(1, 2), k.transpose(1, 2), parts[2].transpose(1, 2), cache)
              .transpose(1, 2);
  }
  // Leaving the region: the partial outputs of all heads summed over tp.
  return {x, parallel::ReduceFromTensorParallel(
                 linear_(out.reshape({batch, length, heads * d_key_})), tp_)};
}

torch::Tensor AttentionImpl::Attend(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, KvCache* cache) {
  if (cache == nullptr || !cache->k.defined()) {
    if (cache != nullptr) {
      cache->k = k;
      cache->v = v;
      cache->position = k.size(2);
    }
    PhaseScope phase("attention kernel");
    return window_ < 0 ? CausalAttention(q, k, v) : WindowedAttention(q, k, v, window_);
  }
  TORCH_CHECK(q.size(2) == 1, "incremental attention takes one new position at a time");
  torch::Tensor keys = torch::cat({cache->k, k}, 2), values = torch::cat({cache->v, v}, 2);
  if (window_ >= 0 && keys.size(2) > window_ + 1) {
    keys = keys.narrow(2, keys.size(2) - window_ - 1, window_ + 1);
    values = values.narrow(2, values.size(2) - window_ - 1, window_ + 1);
  }
  cache->k = keys;
  cache->v = values;
  cache->position += 1;
  return CausalAttention(q, keys, values);
}

FeedForwardImpl::FeedForwardImpl(int64_t width, const ModelSpec& spec)
    : nonlinear_(spec.nonlinear),
      layer_norm_(register_module("layer_norm", Norm(width, spec.norm))),
      linear_1_(register_module("linear_1", MakeLinear(width, spec.d_ff_mult * width))),
      linear_2_(register_module("linear_2", MakeLinear(spec.d_ff_mult * width, width))) {}

Residual FeedForwardImpl::Forward(const Residual& r) {
  const auto [x, normed] = layer_norm_->AddBeforeProduct(r, Sharded(tp_));
  // linear_1 column-parallel, linear_2 row-parallel: one region.
  const torch::Tensor in = parallel::CopyToTensorParallel(normed, tp_);
  torch::Tensor h;
  if (nonlinear_ == Nonlinear::kReLU && LinearReluApplies(in)) {
    // The ReLU in the product's epilogue (kernels/linear_relu.h), in the
    // dtype autocast would have run the product in.
    const torch::ScalarType dtype = ProductDtype(in);
    h = LinearRelu(in.to(dtype), linear_1_->weight.to(dtype));
  } else {
    h = linear_1_(in);
    h = nonlinear_ == Nonlinear::kReLU ? torch::relu_(h) : torch::gelu(h, "tanh");
  }
  return {x, parallel::ReduceFromTensorParallel(linear_2_(h), tp_)};
}

BlockImpl::BlockImpl(int64_t width, const ModelSpec& spec, int64_t window)
    : attention_(register_module("attention", Attention(width, spec, window))),
      feedforward_(register_module("feedforward", FeedForward(width, spec))) {}

namespace {

// Runs a block without keeping its activations and recomputes them during
// backward (the reentrant scheme): parameter gradients accumulate inside the
// nested backward, the input gradient is returned. Autocast is thread state
// that backward does not see, so the recompute re-enters the forward's.
class CheckpointedBlock : public torch::autograd::Function<CheckpointedBlock> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& x, BlockImpl* block) {
    ctx->save_for_backward({x});
    ctx->saved_data["block"] = reinterpret_cast<int64_t>(block);
    const std::optional<c10::DeviceType> autocast = Autocast::Active();
    ctx->saved_data["autocast"] = autocast ? static_cast<int64_t>(*autocast) : int64_t{-1};
    torch::NoGradGuard no_grad;
    return block->forward(x);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto* block = reinterpret_cast<BlockImpl*>(ctx->saved_data["block"].toInt());
    torch::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    const int64_t autocast = ctx->saved_data["autocast"].toInt();
    {
      torch::AutoGradMode enable(true);
      torch::Tensor y;
      {
        Autocast recompute_as_forward(static_cast<c10::DeviceType>(std::max<int64_t>(autocast, 0)),
                                      autocast >= 0);
        y = block->forward(x);
      }
      torch::autograd::backward({y}, {grads[0]});
    }
    return {x.grad(), torch::Tensor()};
  }
};

}  // namespace

BlockStackImpl::BlockStackImpl(int64_t count, int64_t width, const ModelSpec& spec,
                               int64_t window) {
  for (int64_t i = 0; i < count; ++i) {
    blocks_.push_back(register_module(std::to_string(i), Block(width, spec, window)));
  }
}

torch::Tensor BlockStackImpl::forward(torch::Tensor x, std::vector<KvCache>* caches) {
  const bool checkpoint = checkpointing_ && caches == nullptr && is_training() &&
                          torch::GradMode::is_enabled();
  if (checkpoint) {
    for (Block& block : blocks_) x = CheckpointedBlock::apply(x, block.get());
    return x;
  }
  // Each block's last add is made by the next block's first pre-norm.
  Residual r{x, {}};
  for (size_t i = 0; i < blocks_.size(); ++i) {
    r = blocks_[i]->Forward(r, caches != nullptr ? &(*caches)[i] : nullptr);
  }
  return r.Sum();
}

LogitsHeadImpl::LogitsHeadImpl(int64_t width, NormKind norm)
    : layer_norm_(register_module("layer_norm", Norm(width, norm))),
      logits_linear_(register_module("logits_linear", MakeLinear(width, kVocabSize))) {}

torch::Tensor LogitsHeadImpl::forward(const torch::Tensor& x) {
  return logits_linear_(layer_norm_->BeforeProduct(x, /*fp32_grad=*/false));
}

}  // namespace spacebyte::trainer
