#include "model/transformer_model.h"

namespace spacebyte::trainer {

TransformerModel::TransformerModel(const ModelSpec& s)
    : ByteLm(s),
      token_embedding_(register_module("token_embedding", MakeEmbedding(s.d_model))),
      position_encoding_(register_parameter("position_encoding",
                                            torch::randn({s.context_size, s.d_model}))),
      blocks_(register_module("blocks",
                              BlockStack(s.n_layers, s.d_model, s, s.attention_window))),
      logits_(register_module("logits", LogitsHead(s.d_model, s.norm))) {}

ModelOutput TransformerModel::Forward(const torch::Tensor& tokens) {
  torch::Tensor x =
      token_embedding_(tokens) + position_encoding_.narrow(0, 0, tokens.size(1));
  ModelOutput out;
  out.logits = logits_(blocks_(x));
  return out;
}

namespace {

struct TransformerDecodeState : DecodeState {
  std::vector<KvCache> caches;
  int64_t position = 0;
};

}  // namespace

std::unique_ptr<DecodeState> TransformerModel::StartDecoding(int64_t /*batch*/) {
  auto state = std::make_unique<TransformerDecodeState>();
  state->caches.resize(blocks_->size());
  return state;
}

torch::Tensor TransformerModel::DecodeStep(DecodeState& base, const torch::Tensor& token,
                                           torch::Tensor* exhausted) {
  auto& state = static_cast<TransformerDecodeState&>(base);
  TORCH_CHECK(state.position < spec().context_size, "decoding past context_size ",
              spec().context_size);
  torch::Tensor x = token_embedding_(token.view({-1, 1})) +
                    position_encoding_.narrow(0, state.position, 1);
  x = blocks_(x, &state.caches);
  ++state.position;
  if (exhausted != nullptr) *exhausted = torch::zeros({token.size(0)}, torch::kBool);
  return logits_(x).select(1, 0);
}

}  // namespace spacebyte::trainer
