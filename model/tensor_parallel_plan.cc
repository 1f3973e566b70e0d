#include "model/tensor_parallel_plan.h"

#include "model/spacebyte_model.h"
#include "model/transformer_model.h"

namespace spacebyte::trainer {
namespace {

enum class Split { kQkvHeads, kColumn, kRow };

// Each split weight of a block (parameter names as in the reference): QKV
// by heads and linear_1 by output features open a region; the attention
// output and linear_2, split by input features, close it with one sum.
constexpr struct {
  const char* param;
  Split split;
} kBlockPlan[] = {
    {"attention.QKV_linear.weight", Split::kQkvHeads},
    {"attention.linear.weight", Split::kRow},
    {"feedforward.linear_1.weight", Split::kColumn},
    {"feedforward.linear_2.weight", Split::kRow},
};

parallel::ShardLayout Layout(Split split, torch::IntArrayRef shape, int64_t d_key, int rank,
                             int n) {
  switch (split) {
    case Split::kQkvHeads: return parallel::QkvParallel(shape, d_key, rank, n);
    case Split::kColumn: return parallel::ColumnParallel(shape, rank, n);
    case Split::kRow: return parallel::RowParallel(shape, rank, n);
  }
  return {};
}

}  // namespace

TensorParallelPlan ApplyTensorParallel(ByteLm& model, parallel::Collectives& tp) {
  TensorParallelPlan plan;
  plan.rank = tp.rank();
  plan.size = tp.size();
  if (tp.size() == 1) return plan;
  const bool spacebyte = model.spec().kind == ModelKind::kSpaceByte;
  const std::string prefix = spacebyte ? "global_blocks." : "blocks.";
  BlockStack& blocks = spacebyte ? static_cast<SpaceByteModel&>(model).global_blocks()
                                 : static_cast<TransformerModel&>(model).blocks();
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < blocks->size(); ++i) {
    const std::string name = prefix + std::to_string(i) + ".";
    const auto params = blocks[i]->named_parameters();
    for (const auto& [param, split] : kBlockPlan) {
      torch::Tensor weight = params[param];
      parallel::ShardLayout layout =
          Layout(split, weight.sizes(), model.spec().d_key, plan.rank, plan.size);
      weight.set_data(parallel::TakeShard(weight, layout));
      plan.sharded[name + param] = std::move(layout);
    }
    blocks[i]->attention()->ShardOver(&tp);
    blocks[i]->feedforward()->ShardOver(&tp);
  }
  return plan;
}

}  // namespace spacebyte::trainer
