#include "cli/sample.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace spacebyte::trainer {

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kEndOfDocument: return "end of document";
    case StopReason::kMaxBytes: return "max_bytes reached";
    case StopReason::kContext: return "context_size reached";
    case StopReason::kGlobalContext: return "global context exhausted";
  }
  return "unknown";
}

ByteChooser::ByteChooser(double temperature, int64_t top_k, uint64_t seed)
    : temperature_(temperature),
      top_k_(top_k),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

int64_t ByteChooser::Choose(const torch::Tensor& logits) {
  torch::Tensor l = logits.detach().to(torch::kCPU, torch::kDouble).reshape({kVocabSize});
  TORCH_CHECK(l.isfinite().all().item<bool>(),
              "the model's next-byte logits are not finite (NaN or Inf weights in the checkpoint?)");
  if (temperature_ == 0) return l.argmax().item<int64_t>();
  // From the largest logit down, so a tiny temperature gives 0 and -inf, not inf / inf.
  l = l - l.max();
  if (top_k_ > 0 && top_k_ < kVocabSize) {
    const torch::Tensor kth = std::get<0>(l.topk(top_k_)).select(0, top_k_ - 1);
    l = l.masked_fill(l.lt(kth), -std::numeric_limits<double>::infinity());
  }
  const torch::Tensor probs = torch::softmax(l / temperature_, 0);
  return torch::multinomial(probs, 1, /*replacement=*/false, generator_).item<int64_t>();
}

namespace {

class CachedNextByte : public NextByteModel {
 public:
  explicit CachedNextByte(ByteLm& model) : model_(model), state_(model.StartDecoding(1)) {}

  torch::Tensor Push(int64_t byte, bool* exhausted) override {
    torch::Tensor flag;
    const torch::Tensor token = torch::full({1}, byte, device_options());
    const torch::Tensor logits = model_.DecodeStep(*state_, token, &flag);
    *exhausted = flag.item<bool>();
    return logits.select(0, 0);
  }

 private:
  torch::TensorOptions device_options() const {
    return torch::TensorOptions(torch::kLong).device(model_.parameters().front().device());
  }
  ByteLm& model_;
  std::unique_ptr<DecodeState> state_;
};

class RecomputedNextByte : public NextByteModel {
 public:
  explicit RecomputedNextByte(ByteLm& model) : model_(model) {}

  torch::Tensor Push(int64_t byte, bool* exhausted) override {
    bytes_.push_back(byte);
    const torch::Tensor tokens =
        torch::tensor(bytes_, torch::kLong)
            .to(model_.parameters().front().device())
            .unsqueeze(0);
    const ModelOutput out = model_.Forward(tokens);
    const int64_t last = tokens.size(1) - 1;
    *exhausted = out.ignored.defined() && out.ignored[0][last].item<bool>();
    return out.logits[0][last];
  }

 private:
  ByteLm& model_;
  std::vector<int64_t> bytes_;
};

}  // namespace

std::unique_ptr<NextByteModel> MakeNextByteModel(ByteLm& model, bool recompute) {
  if (recompute) return std::make_unique<RecomputedNextByte>(model);
  return std::make_unique<CachedNextByte>(model);
}

Sampler::Sampler(ByteLm& model, SampleOptions options)
    : model_(model), options_(std::move(options)) {}

absl::Status Sampler::Validate(const std::string& prompt) const {
  if (!(std::isfinite(options_.temperature) && options_.temperature >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--temperature must be a number >= 0, got ", options_.temperature));
  }
  if (options_.top_k < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--top_k must be >= 0, got ", options_.top_k));
  }
  if (options_.max_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_bytes must be >= 0, got ", options_.max_bytes));
  }
  const int64_t context = model_.spec().context_size;
  if (static_cast<int64_t>(prompt.size()) + 1 > context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the prompt has ", prompt.size(), " bytes; with BOS it must fit the model's context of ",
        context, " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SampleResult> Sampler::Generate(const std::string& prompt,
                                               const std::function<void(char)>& emit) {
  if (absl::Status s = Validate(prompt); !s.ok()) return s;
  torch::NoGradGuard no_grad;
  std::unique_ptr<NextByteModel> next = MakeNextByteModel(model_, options_.recompute);
  ByteChooser chooser(options_.temperature, options_.top_k, options_.seed);
  bool exhausted = false;
  torch::Tensor logits = next->Push(kBos, &exhausted);
  for (unsigned char c : prompt) logits = next->Push(c, &exhausted);
  if (exhausted) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the prompt has more patches than the model's global context of ",
        model_.spec().global_context_size, "; shorten it"));
  }
  SampleResult result;
  int64_t length = static_cast<int64_t>(prompt.size()) + 1;
  while (true) {
    if (static_cast<int64_t>(result.text.size()) >= options_.max_bytes) {
      result.stop = StopReason::kMaxBytes;
      break;
    }
    const int64_t byte = chooser.Choose(logits);
    if (byte == kBos) {
      result.stop = StopReason::kEndOfDocument;
      break;
    }
    result.text.push_back(static_cast<char>(byte));
    emit(static_cast<char>(byte));
    // The next byte needs this one as input: stop where the model cannot take it.
    if (length == model_.spec().context_size) {
      result.stop = StopReason::kContext;
      break;
    }
    logits = next->Push(byte, &exhausted);
    ++length;
    if (exhausted) {
      result.stop = StopReason::kGlobalContext;
      break;
    }
  }
  return result;
}

}  // namespace spacebyte::trainer
