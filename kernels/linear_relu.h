#ifndef SPACEBYTE_KERNELS_LINEAR_RELU_H_
#define SPACEBYTE_KERNELS_LINEAR_RELU_H_

// The feed-forward's first product and its ReLU as one op: on CUDA the
// ReLU runs in cuBLASLt's epilogue (at::_addmm_activation, with a zero
// bias, which the epilogue needs), so the [rows, 4w] hidden activations are
// written once, already rectified, where the product wrote them and ReLU
// read and wrote them again. Backward rectifies the gradient once and runs
// the two products; it keeps what linear + ReLU kept (input, weight,
// output).

#include <torch/torch.h>

namespace spacebyte::trainer {

// relu(x w^T): x [..., in], w [out, in], both of one dtype. Differentiable
// in x and w.
torch::Tensor LinearRelu(const torch::Tensor& x, const torch::Tensor& w);

// Whether the model should take LinearRelu for x: on CUDA, where the
// epilogue saves the pass, once the process's check against linear + ReLU
// passed (said once on stderr if not). SPACEBYTE_FUSED_LINEAR_RELU=0 keeps
// linear + ReLU.
bool LinearReluApplies(const torch::Tensor& x);

// Empty where LinearRelu on `device` matches linear + ReLU there in bf16,
// forward and in both gradients, within bf16 rounding; otherwise what
// differs.
std::string LinearReluMismatch(const torch::Device& device);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_KERNELS_LINEAR_RELU_H_
