#include "model/tensor_parallel_plan.h"

#include "parallel/tensor_parallel.h"
#include "model/spacebyte_model.h"
#include "model/transformer_model.h"

namespace spacebyte::trainer {
namespace {

// Row (dim 1) or column (dim 0) split in n equal parts.
ShardLayout EvenSplit(const torch::Tensor& w, int64_t dim, int rank, int n) {
  const int64_t length = w.size(dim) / n;
  return {dim, {{0, rank * length, length}}, w.sizes().vec()};
}

// Q, K and V each split by heads: three runs of rows.
ShardLayout QkvSplit(const torch::Tensor& w, int rank, int n) {
  const int64_t width = w.size(0) / 3, length = width / n;
  ShardLayout layout{0, {}, w.sizes().vec()};
  for (int64_t part = 0; part < 3; ++part) {
    layout.pieces.push_back({part * length, part * width + rank * length, length});
  }
  return layout;
}

void Replace(torch::nn::Linear& linear, const ShardLayout& layout) {
  torch::NoGradGuard no_grad;
  linear->weight.set_data(TakeShard(linear->weight, layout));
}

}  // namespace

torch::Tensor TakeShard(const torch::Tensor& full, const ShardLayout& layout) {
  std::vector<torch::Tensor> parts;
  for (const ShardLayout::Piece& p : layout.pieces) {
    parts.push_back(full.narrow(layout.dim, p.global, p.length));
  }
  return torch::cat(parts, layout.dim).contiguous();
}

TensorParallelPlan ApplyTensorParallel(ByteLm& model, parallel::Collectives& tp) {
  TensorParallelPlan plan;
  plan.rank = tp.rank();
  plan.size = tp.size();
  if (tp.size() == 1) return plan;
  const bool spacebyte = model.spec().kind == ModelKind::kSpaceByte;
  const std::string prefix = spacebyte ? "global_blocks." : "blocks.";
  BlockStack& blocks = spacebyte ? static_cast<SpaceByteModel&>(model).global_blocks()
                                 : static_cast<TransformerModel&>(model).blocks();
  auto enter = [&tp](const torch::Tensor& x) { return parallel::CopyToTensorParallel(x, tp); };
  auto exit = [&tp](const torch::Tensor& x) { return parallel::ReduceFromTensorParallel(x, tp); };
  for (size_t i = 0; i < blocks->size(); ++i) {
    const std::string name = prefix + std::to_string(i) + ".";
    Attention& attention = blocks[i]->attention();
    FeedForward& ff = blocks[i]->feedforward();
    const std::pair<std::string, std::pair<torch::nn::Linear*, ShardLayout>> splits[] = {
        {"attention.QKV_linear.weight",
         {&attention->qkv(), QkvSplit(attention->qkv()->weight, plan.rank, plan.size)}},
        {"attention.linear.weight",
         {&attention->out(), EvenSplit(attention->out()->weight, 1, plan.rank, plan.size)}},
        {"feedforward.linear_1.weight",
         {&ff->linear_1(), EvenSplit(ff->linear_1()->weight, 0, plan.rank, plan.size)}},
        {"feedforward.linear_2.weight",
         {&ff->linear_2(), EvenSplit(ff->linear_2()->weight, 1, plan.rank, plan.size)}}};
    for (const auto& [param, split] : splits) {
      Replace(*split.first, split.second);
      plan.sharded[name + param] = split.second;
    }
    attention->tensor_parallel() = {enter, exit};
    ff->tensor_parallel() = {enter, exit};
    plan.partial_gradients.push_back(name + "attention.Q_layer_norm.scale");
    plan.partial_gradients.push_back(name + "attention.K_layer_norm.scale");
  }
  return plan;
}

}  // namespace spacebyte::trainer
