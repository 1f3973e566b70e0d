#include "kernels/fused_adamw.h"

#include <cmath>

#include <ATen/Parallel.h>
#include <torch/version.h>

namespace spacebyte::trainer {
namespace {

struct Coefficients {
  float decay, beta1, beta2, one_minus_beta1, one_minus_beta2, sqrt_bias2, eps, neg_step;
};

bool Fusable(const torch::Tensor& p, const torch::Tensor& g, const torch::Tensor& m,
             const torch::Tensor& v) {
  for (const torch::Tensor* t : {&p, &g, &m, &v}) {
    if (!t->device().is_cpu() || t->scalar_type() != torch::kFloat || !t->is_contiguous()) {
      return false;
    }
  }
  return true;
}

// The arithmetic of the tensor ops below, element by element, in float.
void FusedUpdate(const Coefficients& c, float* p, const float* g, float* m, float* v,
                 int64_t n) {
  at::parallel_for(0, n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float pi = p[i] * c.decay;
      const float mi = m[i] * c.beta1 + c.one_minus_beta1 * g[i];
      const float vi = v[i] * c.beta2 + c.one_minus_beta2 * g[i] * g[i];
      m[i] = mi;
      v[i] = vi;
      p[i] = pi + c.neg_step * (mi / (std::sqrt(vi) / c.sqrt_bias2 + c.eps));
    }
  });
}

void TensorUpdate(const Coefficients& c, torch::Tensor& p, const torch::Tensor& g,
                  torch::Tensor& m, torch::Tensor& v) {
  p.mul_(c.decay);
  m.mul_(c.beta1).add_(g, c.one_minus_beta1);
  v.mul_(c.beta2).addcmul_(g, g, c.one_minus_beta2);
  p.addcdiv_(m, (v.sqrt() / c.sqrt_bias2).add_(c.eps), c.neg_step);
}

torch::optim::AdamWParamState& StateOf(torch::optim::AdamW& adamw, const torch::Tensor& p) {
  auto& slot = adamw.state()[OptimizerStateKey(p)];
  if (!slot) {
    auto fresh = std::make_unique<torch::optim::AdamWParamState>();
    fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    slot = std::move(fresh);
  }
  return static_cast<torch::optim::AdamWParamState&>(*slot);
}

// A group of CUDA float parameters at one step count, as PyTorch's
// AdamW(fused=True) steps it: one multi-tensor kernel for the group instead of
// five kernels per parameter. Returns false (nothing done) when the group does
// not qualify.
bool FusedCudaGroupStep(torch::optim::AdamW& adamw, torch::optim::OptimizerParamGroup& group) {
#if TORCH_VERSION_MAJOR >= 2
  const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
  std::vector<torch::Tensor> params, grads, m, v;
  std::optional<int64_t> step;
  for (torch::Tensor& p : group.params()) {
    if (!p.grad().defined()) continue;
    if (!p.is_cuda() || p.scalar_type() != torch::kFloat ||
        p.grad().scalar_type() != torch::kFloat) {
      return false;
    }
    const int64_t s = StateOf(adamw, p).step();
    if (step && *step != s) return false;
    step = s;
  }
  if (!step) return true;
  for (torch::Tensor& p : group.params()) {
    if (!p.grad().defined()) continue;
    auto& s = StateOf(adamw, p);
    s.step(s.step() + 1);
    params.push_back(p);
    grads.push_back(p.grad());
    m.push_back(s.exp_avg());
    v.push_back(s.exp_avg_sq());
  }
  // The kernel reads each parameter's step (already counted) from a tensor;
  // the whole group shares one.
  const torch::Tensor steps =
      torch::full({}, static_cast<double>(*step + 1), params.front().options());
  at::_fused_adamw_(params, grads, m, v, /*max_exp_avg_sqs=*/{},
                    std::vector<torch::Tensor>(params.size(), steps), o.lr(),
                    std::get<0>(o.betas()), std::get<1>(o.betas()), o.weight_decay(), o.eps(),
                    /*amsgrad=*/false, /*maximize=*/false);
  return true;
#else
  (void)adamw;
  (void)group;
  return false;
#endif
}

}  // namespace

void FusedAdamWStep(torch::optim::AdamW& adamw) {
  torch::NoGradGuard no_grad;
  for (auto& group : adamw.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    TORCH_CHECK(!o.amsgrad(), "FusedAdamWStep does not implement amsgrad");
    if (FusedCudaGroupStep(adamw, group)) continue;
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (torch::Tensor& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& s = StateOf(adamw, p);
      s.step(s.step() + 1);
      const double bias1 = 1 - std::pow(beta1, s.step());
      const double bias2 = 1 - std::pow(beta2, s.step());
      const Coefficients c{static_cast<float>(1 - o.lr() * o.weight_decay()),
                           static_cast<float>(beta1),
                           static_cast<float>(beta2),
                           static_cast<float>(1 - beta1),
                           static_cast<float>(1 - beta2),
                           static_cast<float>(std::sqrt(bias2)),
                           static_cast<float>(o.eps()),
                           static_cast<float>(-o.lr() / bias1)};
      torch::Tensor m = s.exp_avg(), v = s.exp_avg_sq();
      const torch::Tensor g = p.grad();
      if (Fusable(p, g, m, v)) {
        FusedUpdate(c, p.data_ptr<float>(), g.data_ptr<float>(), m.data_ptr<float>(),
                    v.data_ptr<float>(), p.numel());
      } else {
        TensorUpdate(c, p, g, m, v);
      }
    }
  }
}

}  // namespace spacebyte::trainer
