#include "train/optimizer.h"

#include <cmath>

#include "kernels/fused_adamw.h"

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

Optimizer::Optimizer(torch::nn::Module& model,
                     const std::map<std::string, double>& multipliers,
                     const TrainSpec& spec) {
  std::map<double, std::vector<torch::Tensor>> by_multiplier;
  for (const auto& p : model.named_parameters()) {
    named_params_.emplace_back(p.key(), p.value());
    by_multiplier[multipliers.at(p.key())].push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (auto& [multiplier, params] : by_multiplier) {
    auto options = std::make_unique<torch::optim::AdamWOptions>(spec.lr * multiplier);
    options->betas({spec.beta1, spec.beta2}).weight_decay(spec.weight_decay);
    groups.emplace_back(std::move(params), std::move(options));
    group_multiplier_.push_back(multiplier);
  }
  torch::optim::AdamWOptions defaults(spec.lr);
  defaults.betas({spec.beta1, spec.beta2}).weight_decay(spec.weight_decay);
  adamw_ = std::make_unique<torch::optim::AdamW>(std::move(groups), defaults);
}

void Optimizer::Step() { FusedAdamWStep(*adamw_); }

void Optimizer::SetLearningRate(double lr) {
  auto& groups = adamw_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    static_cast<torch::optim::AdamWOptions&>(groups[i].options())
        .lr(lr * group_multiplier_[i]);
  }
}

std::vector<std::pair<std::string, torch::Tensor>> Optimizer::State() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  auto& state = adamw_->state();
  for (const auto& [name, param] : named_params_) {
    auto it = state.find(OptimizerStateKey(param));
    if (it == state.end()) continue;
    auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
    out.emplace_back(name + "/exp_avg", s.exp_avg());
    out.emplace_back(name + "/exp_avg_sq", s.exp_avg_sq());
    out.emplace_back(name + "/step", torch::tensor(s.step(), torch::kLong));
  }
  return out;
}

int64_t Optimizer::StateBytes() {
  int64_t bytes = 0;
  for (const auto& [name, t] : State()) bytes += t.numel() * t.element_size();
  return bytes;
}

void Optimizer::LoadState(const std::map<std::string, torch::Tensor>& state) {
  auto& adam_state = adamw_->state();
  for (const auto& [name, param] : named_params_) {
    auto avg = state.find(name + "/exp_avg");
    if (avg == state.end()) continue;
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(state.at(name + "/step").item<int64_t>());
    s->exp_avg(avg->second.to(param.options()).clone());
    s->exp_avg_sq(state.at(name + "/exp_avg_sq").to(param.options()).clone());
    adam_state[OptimizerStateKey(param)] = std::move(s);
  }
}

}  // namespace spacebyte::trainer
