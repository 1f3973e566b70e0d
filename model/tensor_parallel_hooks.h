#ifndef SPACEBYTE_MODEL_TENSOR_PARALLEL_HOOKS_H_
#define SPACEBYTE_MODEL_TENSOR_PARALLEL_HOOKS_H_

#include <functional>

#include <torch/torch.h>

namespace spacebyte::trainer {

// Where a sublayer's input enters and its output leaves a tensor-parallel
// region. Unset (the default) means the layer is not split. The model is
// written as if unparallelised; ApplyTensorParallel sets these.
struct TensorParallelHooks {
  std::function<torch::Tensor(const torch::Tensor&)> enter;  // identity fwd, all-reduce bwd
  std::function<torch::Tensor(const torch::Tensor&)> exit;   // all-reduce fwd, identity bwd

  torch::Tensor Enter(const torch::Tensor& x) const { return enter ? enter(x) : x; }
  torch::Tensor Exit(const torch::Tensor& x) const { return exit ? exit(x) : x; }
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_TENSOR_PARALLEL_HOOKS_H_
