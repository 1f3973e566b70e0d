#include "kernels/fused_adamw.h"

#include <cmath>

#include <ATen/Parallel.h>
#include <torch/version.h>

namespace spacebyte::trainer {
namespace {

struct Coefficients {
  float decay, beta1, beta2, one_minus_beta1, one_minus_beta2, sqrt_bias2, eps, neg_step;
};

Coefficients CoefficientsOf(const AdamWStep& s) {
  const double bias1 = 1 - std::pow(s.beta1, s.step);
  const double bias2 = 1 - std::pow(s.beta2, s.step);
  return {static_cast<float>(1 - s.lr * s.weight_decay),
          static_cast<float>(s.beta1),
          static_cast<float>(s.beta2),
          static_cast<float>(1 - s.beta1),
          static_cast<float>(1 - s.beta2),
          static_cast<float>(std::sqrt(bias2)),
          static_cast<float>(s.eps),
          static_cast<float>(-s.lr / bias1)};
}

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

void TensorUpdate(const Coefficients& c, torch::Tensor p, const torch::Tensor& g,
                  torch::Tensor m, torch::Tensor v) {
  p.mul_(c.decay);
  m.mul_(c.beta1).add_(g, c.one_minus_beta1);
  v.mul_(c.beta2).addcmul_(g, g, c.one_minus_beta2);
  p.addcdiv_(m, (v.sqrt() / c.sqrt_bias2).add_(c.eps), c.neg_step);
}

// CUDA float tensors as PyTorch's AdamW(fused=True) steps them: one
// multi-tensor kernel for the list instead of five kernels per tensor.
// Returns false (nothing done) when the list does not qualify.
bool FusedCudaStep(const AdamWStep& s, const std::vector<torch::Tensor>& params,
                   const std::vector<torch::Tensor>& grads,
                   const std::vector<torch::Tensor>& exp_avg,
                   const std::vector<torch::Tensor>& exp_avg_sq) {
#if TORCH_VERSION_MAJOR >= 2
  for (size_t i = 0; i < params.size(); ++i) {
    for (const torch::Tensor* t : {&params[i], &grads[i], &exp_avg[i], &exp_avg_sq[i]}) {
      if (!t->is_cuda() || t->scalar_type() != torch::kFloat) return false;
    }
  }
  // The kernel reads the step (already counted) from a tensor per parameter;
  // they all share one.
  const torch::Tensor step = torch::full({}, static_cast<double>(s.step), params[0].options());
  at::_fused_adamw_(params, grads, exp_avg, exp_avg_sq, /*max_exp_avg_sqs=*/{},
                    std::vector<torch::Tensor>(params.size(), step), s.lr, s.beta1, s.beta2,
                    s.weight_decay, s.eps, /*amsgrad=*/false, /*maximize=*/false);
  return true;
#else
  (void)s, (void)params, (void)grads, (void)exp_avg, (void)exp_avg_sq;
  return false;
#endif
}

}  // namespace

void FusedAdamW(const AdamWStep& s, const std::vector<torch::Tensor>& params,
                const std::vector<torch::Tensor>& grads, const std::vector<torch::Tensor>& exp_avg,
                const std::vector<torch::Tensor>& exp_avg_sq) {
  TORCH_CHECK(grads.size() == params.size() && exp_avg.size() == params.size() &&
                  exp_avg_sq.size() == params.size(),
              "FusedAdamW needs one gradient and two moments per parameter");
  TORCH_CHECK(s.step >= 1, "AdamW steps count from 1, got ", s.step);
  if (params.empty()) return;
  torch::NoGradGuard no_grad;
  if (FusedCudaStep(s, params, grads, exp_avg, exp_avg_sq)) return;
  const Coefficients c = CoefficientsOf(s);
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor &p = params[i], &g = grads[i], &m = exp_avg[i], &v = exp_avg_sq[i];
    TORCH_CHECK(p.sizes() == g.sizes() && p.sizes() == m.sizes() && p.sizes() == v.sizes(),
                "FusedAdamW: parameter ", i, " and its gradient or moments differ in shape");
    if (Fusable(p, g, m, v)) {
      FusedUpdate(c, p.data_ptr<float>(), g.data_ptr<float>(), m.data_ptr<float>(),
                  v.data_ptr<float>(), p.numel());
    } else {
      TensorUpdate(c, p, g, m, v);
    }
  }
}

}  // namespace spacebyte::trainer
