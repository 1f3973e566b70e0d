#include "train/optimizer.h"

#include <cmath>

namespace spacebyte::trainer {

std::map<std::string, double> LearningRateMultipliers(torch::nn::Module& model) {
  std::map<std::string, double> multipliers;
  for (const auto& p : model.named_parameters()) multipliers[p.key()] = 1.0;
  for (const auto& m : model.named_modules()) {
    if (const auto* linear = m.value()->as<torch::nn::Linear>()) {
      const std::string name = m.key().empty() ? "weight" : m.key() + ".weight";
      multipliers[name] = 1.0 / std::sqrt(static_cast<double>(linear->options.in_features()));
    }
  }
  return multipliers;
}

Optimizer::Optimizer(torch::nn::Module& model, const std::map<std::string, double>& multipliers,
                     const TrainSpec& spec, parallel::FlatBuckets layout, int shard)
    : layout_(std::move(layout)), lr_(spec.lr) {
  for (const auto& p : model.named_parameters()) {
    named_params_.emplace_back(p.key(), p.value());
    multiplier_.push_back(multipliers.at(p.key()));
  }
  hyper_.beta1 = spec.beta1;
  hyper_.beta2 = spec.beta2;
  hyper_.weight_decay = spec.weight_decay;
  const auto options = named_params_.at(0).second.options().requires_grad(false);
  for (int b = 0; b < layout_.num_buckets(); ++b) {
    const auto [begin, end] = layout_.Owned(b, shard);
    moments_.push_back({torch::zeros({end - begin}, options),
                        torch::zeros({end - begin}, options), begin, end});
  }
}

double Optimizer::LearningRateOf(const std::string& param) const {
  for (size_t i = 0; i < named_params_.size(); ++i) {
    if (named_params_[i].first == param) return lr_ * multiplier_[i];
  }
  TORCH_CHECK(false, "the optimizer has no parameter ", param);
}

void Optimizer::Step() {
  TORCH_CHECK(!sharded(), "a sharded optimizer steps from gradient shards");
  ++step_;
  for (int b = 0; b < layout_.num_buckets(); ++b) StepBucket(b, {});
}

void Optimizer::Step(const std::vector<torch::Tensor>& grad_shards,
                     const std::function<void(int bucket)>& stepped) {
  TORCH_CHECK(static_cast<int>(grad_shards.size()) == layout_.num_buckets(),
              "one gradient shard per bucket");
  ++step_;
  for (int b = 0; b < layout_.num_buckets(); ++b) {
    StepBucket(b, grad_shards[b]);
    if (stepped) stepped(b);
  }
}

// The owned segments of bucket b, one fused call per learning rate.
void Optimizer::StepBucket(int b, const torch::Tensor& grad_shard) {
  torch::NoGradGuard no_grad;
  struct Lists {
    std::vector<torch::Tensor> p, g, m, v;
  };
  std::map<double, Lists> by_multiplier;
  const Moments& state = moments_[b];
  for (const auto& seg : layout_.Segments(b, state.begin, state.end)) {
    const int param = layout_.slots()[seg.slot].param;
    const torch::Tensor& p = named_params_[param].second;
    const int64_t at = seg.bucket_offset - state.begin;
    torch::Tensor g;
    if (grad_shard.defined()) {
      g = grad_shard.narrow(0, at, seg.length);
    } else if (p.grad().defined()) {
      g = p.grad().reshape(-1).narrow(0, seg.param_offset, seg.length);
    } else {
      g = torch::zeros({seg.length}, state.exp_avg.options());
    }
    Lists& l = by_multiplier[multiplier_[param]];
    l.p.push_back(p.detach().view(-1).narrow(0, seg.param_offset, seg.length));
    l.g.push_back(g);
    l.m.push_back(state.exp_avg.narrow(0, at, seg.length));
    l.v.push_back(state.exp_avg_sq.narrow(0, at, seg.length));
  }
  for (auto& [multiplier, l] : by_multiplier) {
    AdamWStep s = hyper_;
    s.lr = lr_ * multiplier;
    s.step = step_;
    FusedAdamW(s, l.p, l.g, l.m, l.v);
  }
}

void Optimizer::ZeroGrad() {
  for (auto& [name, p] : named_params_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

std::vector<Optimizer::Piece> Optimizer::Owned() {
  std::vector<Piece> pieces;
  for (int b = 0; b < layout_.num_buckets(); ++b) {
    const Moments& state = moments_[b];
    for (const auto& seg : layout_.Segments(b, state.begin, state.end)) {
      const auto& [name, p] = named_params_[layout_.slots()[seg.slot].param];
      const int64_t at = seg.bucket_offset - state.begin;
      pieces.push_back({name, seg.param_offset,
                        p.detach().view(-1).narrow(0, seg.param_offset, seg.length),
                        state.exp_avg.narrow(0, at, seg.length),
                        state.exp_avg_sq.narrow(0, at, seg.length)});
    }
  }
  return pieces;
}

void Optimizer::LoadState(const std::map<std::string, torch::Tensor>& moments, int64_t steps) {
  torch::NoGradGuard no_grad;
  for (Piece& piece : Owned()) {
    const int64_t n = piece.weight.numel();
    for (auto [suffix, into] : {std::pair{"/exp_avg", &piece.exp_avg},
                                std::pair{"/exp_avg_sq", &piece.exp_avg_sq}}) {
      auto it = moments.find(piece.param + suffix);
      if (it == moments.end()) {
        into->zero_();
      } else {
        into->copy_(it->second.reshape(-1).narrow(0, piece.offset, n));
      }
    }
  }
  step_ = steps;
}

int64_t Optimizer::StateBytes() const {
  int64_t bytes = sizeof(step_);
  for (const Moments& m : moments_) {
    bytes += (m.exp_avg.numel() + m.exp_avg_sq.numel()) * m.exp_avg.element_size();
  }
  return bytes;
}

}  // namespace spacebyte::trainer
