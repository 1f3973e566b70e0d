#include "kernels/linear_relu.h"

#include <ATen/CPUGeneratorImpl.h>

#include "kernels/kernel_check.h"

namespace spacebyte::trainer {
namespace {

class LinearReluFunction : public torch::autograd::Function<LinearReluFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& w) {
    const torch::Tensor rows = x.reshape({-1, x.size(-1)});
    const torch::Tensor zero = torch::zeros({w.size(0)}, w.options());
    const torch::Tensor y = at::_addmm_activation(zero, rows, w.t(), /*beta=*/1, /*alpha=*/1,
                                                  /*use_gelu=*/false);
    ctx->save_for_backward({rows, w, y});
    std::vector<int64_t> sizes = x.sizes().vec();
    sizes.back() = w.size(0);
    return y.view(sizes);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &rows = saved[0], &w = saved[1], &y = saved[2];
    const torch::Tensor g =
        at::threshold_backward(grads[0].reshape({-1, w.size(0)}), y, /*threshold=*/0);
    std::vector<int64_t> sizes = grads[0].sizes().vec();
    sizes.back() = w.size(1);
    return {g.mm(w).view(sizes), g.t().mm(rows)};
  }
};

}  // namespace

torch::Tensor LinearRelu(const torch::Tensor& x, const torch::Tensor& w) {
  return LinearReluFunction::apply(x, w);
}

bool LinearReluApplies(const torch::Tensor& x) {
  return x.is_cuda() && !SwitchedOff("SPACEBYTE_FUSED_LINEAR_RELU") &&
         PassesCheckOnce("the product with ReLU in its epilogue", x.device(),
                         [&] { return LinearReluMismatch(x.device()); }, "linear and ReLU");
}

std::string LinearReluMismatch(const torch::Device& device) {
  torch::AutoGradMode grad(true);
  at::Generator gen = at::detail::createCPUGenerator(/*seed_val=*/20261207);
  const auto cpu = torch::TensorOptions().dtype(torch::kFloat);
  const auto bf16 = torch::TensorOptions().dtype(torch::kBFloat16).device(device);
  const torch::Tensor x_cpu = at::randn({2, 40, 64}, gen, cpu);
  const torch::Tensor w_cpu = at::randn({96, 64}, gen, cpu) / 8;
  const torch::Tensor grad_out = at::randn({2, 40, 96}, gen, cpu).to(bf16);
  // Against the separate ops in the same dtype on the same device: bf16
  // products are the same products either way, only the ReLU moves.
  auto fresh = [&](const torch::Tensor& t) { return t.to(bf16).requires_grad_(true); };
  const torch::Tensor x = fresh(x_cpu), w = fresh(w_cpu);
  const torch::Tensor want = torch::relu(torch::linear(x, w));
  const auto want_grads = torch::autograd::grad({want}, {x, w}, {grad_out});
  const torch::Tensor x_dev = fresh(x_cpu), w_dev = fresh(w_cpu);
  const torch::Tensor got = LinearRelu(x_dev, w_dev);
  const auto got_grads = torch::autograd::grad({got}, {x_dev, w_dev}, {grad_out});
  return FirstMismatch({{"output", got, want},
                        {"dx", got_grads[0], want_grads[0]},
                        {"dw", got_grads[1], want_grads[1]}});
}

}  // namespace spacebyte::trainer
