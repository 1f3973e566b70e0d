#include "model/spacebyte_model.h"

#include "model/patch_scanner.h"
#include "model/patching.h"
#include "kernels/phase_timer.h"

namespace spacebyte::trainer {

SpaceByteModel::SpaceByteModel(const ModelSpec& s)
    : ByteLm(s),
      token_embedding_(register_module("token_embedding", MakeEmbedding(s.d_local))),
      local_position_encoding_(register_parameter(
          "local_position_encoding", torch::randn({s.context_size, s.d_local}))),
      global_position_encoding_(register_parameter(
          "global_position_encoding", torch::randn({s.global_context_size, s.d_model}))),
      initial_blocks_(register_module(
          "initial_blocks",
          BlockStack(s.n_initial_layers, s.d_local, s, s.local_attention_window))),
      global_blocks_(register_module("global_blocks",
                                     BlockStack(s.n_layers, s.d_model, s, /*window=*/-1))),
      final_blocks_(register_module(
          "final_blocks",
          BlockStack(s.n_final_layers(), s.d_local, s, s.local_attention_window))),
      logits_(register_module("logits", LogitsHead(s.d_local, s.norm))) {}

torch::Tensor SpaceByteModel::ToGlobal(const torch::Tensor& x, int64_t offset) {
  const int64_t pad = spec().d_model - spec().d_local;
  return torch::constant_pad_nd(x, {pad, 0}) +
         global_position_encoding_.narrow(0, offset, x.size(1));
}

ModelOutput SpaceByteModel::Forward(const torch::Tensor& tokens) {
  const int64_t length = tokens.size(1), d = spec().d_local;
  torch::Tensor x;
  {
    PhaseScope phase("embedding");
    x = token_embedding_(tokens) + local_position_encoding_.narrow(0, 0, length);
  }
  {
    PhaseScope phase("local blocks");
    x = initial_blocks_(x);
  }
  Patches patches;
  torch::Tensor index, y;
  {
    PhaseScope phase("gather & scatter");
    patches = FindPatches(tokens, spec());
    index = patches.global_ts.unsqueeze(-1).expand({-1, -1, d});
    y = ToGlobal(x.gather(1, index), 0);
  }
  {
    PhaseScope phase("global blocks");
    y = global_blocks_(y);
  }
  {
    PhaseScope phase("gather & scatter");
    // Only real boundaries are scattered back; padding may alias position T-1.
    const torch::Tensor real =
        torch::arange(spec().global_context_size, patches.global_T.options())
            .unsqueeze(0)
            .lt(patches.global_T.unsqueeze(1));
    y = y.narrow(2, spec().d_model - d, d) * real.unsqueeze(-1).to(y.dtype());
    x = x.scatter_add(1, index, y);
  }
  {
    PhaseScope phase("local blocks");
    x = final_blocks_(x);
  }
  ModelOutput out;
  PhaseScope phase("logits");
  out.logits = logits_(x);
  out.ignored = patches.overflow;
  out.global_ts = patches.global_ts;
  out.global_T = patches.global_T;
  return out;
}

void SpaceByteModel::SetActivationCheckpointing(bool on) {
  initial_blocks_->set_checkpointing(on);
  global_blocks_->set_checkpointing(on);
  final_blocks_->set_checkpointing(on);
}

namespace {

struct SpaceByteDecodeState : DecodeState {
  explicit SpaceByteDecodeState(const ModelSpec& spec) : patches(spec) {}
  std::vector<KvCache> initial, global, final;
  PatchScanner patches;
  int64_t position = 0;
};

}  // namespace

std::unique_ptr<DecodeState> SpaceByteModel::StartDecoding(int64_t batch) {
  TORCH_CHECK(batch == 1, "SpaceByte decodes one sequence at a time, got batch ", batch);
  auto state = std::make_unique<SpaceByteDecodeState>(spec());
  state->initial.resize(initial_blocks_->size());
  state->global.resize(global_blocks_->size());
  state->final.resize(final_blocks_->size());
  return state;
}

torch::Tensor SpaceByteModel::DecodeStep(DecodeState& base, const torch::Tensor& token,
                                         torch::Tensor* exhausted) {
  auto& state = static_cast<SpaceByteDecodeState&>(base);
  TORCH_CHECK(state.position < spec().context_size, "decoding past context_size ",
              spec().context_size);
  const torch::Tensor tokens = token.view({1, 1});
  torch::Tensor x = token_embedding_(tokens) +
                    local_position_encoding_.narrow(0, state.position, 1);
  x = initial_blocks_(x, &state.initial);

  const bool boundary = state.patches.Push(token.item<int64_t>());
  const int64_t boundaries = state.patches.boundaries();
  const bool out_of_context = boundaries > spec().global_context_size;
  if (boundary && !out_of_context) {
    const int64_t d = spec().d_local;
    const torch::Tensor y = global_blocks_(ToGlobal(x, boundaries - 1), &state.global);
    x = x + y.narrow(2, spec().d_model - d, d);
  }
  x = final_blocks_(x, &state.final);
  ++state.position;
  if (exhausted != nullptr) *exhausted = torch::full({1}, out_of_context, torch::kBool);
  return logits_(x).select(1, 0);
}

}  // namespace spacebyte::trainer
