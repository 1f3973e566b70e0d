#include "model/block.h"

#include <algorithm>
#include <string>

#include "kernels/autocast.h"

namespace spacebyte::trainer {

BlockImpl::BlockImpl(int64_t width, const ModelSpec& spec, int64_t window)
    : attention_(register_module("attention", Attention(width, spec, window))),
      feedforward_(register_module("feedforward", FeedForward(width, spec))) {}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, KvCache* cache) {
  torch::Tensor h = x + attention_(x, cache);
  return h + feedforward_(h);
}

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
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (checkpoint) {
      x = CheckpointedBlock::apply(x, blocks_[i].get());
    } else {
      x = blocks_[i]->forward(x, caches != nullptr ? &(*caches)[i] : nullptr);
    }
  }
  return x;
}

}  // namespace spacebyte::trainer
