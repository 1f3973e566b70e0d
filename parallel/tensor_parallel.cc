#include "parallel/tensor_parallel.h"

namespace spacebyte::parallel {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Autograd contexts only store IValues; the collectives object travels as its
// address (it outlives the graph by contract).
void SaveCollectives(AutogradContext* ctx, Collectives& tp) {
  ctx->saved_data["tp"] = reinterpret_cast<int64_t>(&tp);
}
Collectives& SavedCollectives(AutogradContext* ctx) {
  return *reinterpret_cast<Collectives*>(ctx->saved_data["tp"].toInt());
}

// The sum lands in a fresh buffer: autograd may share the input gradient.
torch::Tensor SummedCopy(const torch::Tensor& x, Collectives& tp) {
  torch::Tensor sum = x.clone(torch::MemoryFormat::Contiguous);
  tp.AllReduceSum(sum);
  return sum;
}

struct CopyTo : torch::autograd::Function<CopyTo> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               Collectives* tp) {
    SaveCollectives(ctx, *tp);
    return x.view_as(x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    return {SummedCopy(grad[0], SavedCollectives(ctx)), torch::Tensor()};
  }
};

struct ReduceFrom : torch::autograd::Function<ReduceFrom> {
  static torch::Tensor forward(AutogradContext*, const torch::Tensor& x,
                               Collectives* tp) {
    return SummedCopy(x, *tp);
  }
  static variable_list backward(AutogradContext*, variable_list grad) {
    return {grad[0], torch::Tensor()};
  }
};

}  // namespace

torch::Tensor CopyToTensorParallel(const torch::Tensor& x, Collectives* tp) {
  return tp == nullptr ? x : CopyTo::apply(x, tp);
}

torch::Tensor ReduceFromTensorParallel(const torch::Tensor& x, Collectives* tp) {
  return tp == nullptr ? x : ReduceFrom::apply(x, tp);
}

}  // namespace spacebyte::parallel
