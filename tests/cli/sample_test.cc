// Incremental decoding (cached keys and values) gives the same logits and the
// same sampled bytes as recomputing the whole sequence each step, and the
// `spacebyte sample` program streams reproducible text from a checkpoint.

#include <sys/wait.h>

#include <cstdio>
#include <cmath>
#include <filesystem>
#include <limits>
#include <ostream>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/byte_lm.h"
#include "tests/cli/run_command.h"
#include "cli/sample.h"

namespace spacebyte::trainer {
namespace {

struct Case {
  const char* name;
  ModelSpec spec;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

ModelSpec TinySpaceByte() {
  ModelSpec s;
  s.d_model = 32;
  s.d_local = 16;
  s.context_size = 64;
  s.global_context_size = 6;  // small: the text below runs past it
  s.n_layers = 2;
  s.n_local_layers = 2;
  s.n_initial_layers = 1;
  s.local_attention_window = 8;
  s.d_key = 8;
  return s;
}

std::vector<Case> Cases() {
  ModelSpec rope = TinySpaceByte();
  rope.rope = true;
  rope.global_context_size = 12;
  rope.n_local_layers = 4;
  rope.n_initial_layers = 2;
  ModelSpec periodic = TinySpaceByte();
  periodic.patch_method = PatchMethod::kPeriodic;
  periodic.global_context_size = 16;
  ModelSpec multilingual = TinySpaceByte();  // TG = 6 of 64: its budget binds
  multilingual.patch_method = PatchMethod::kMultilingual;
  ModelSpec transformer = TinySpaceByte();
  transformer.kind = ModelKind::kTransformer;
  transformer.attention_window = 8;
  return {{"spacebyte_utf8", TinySpaceByte()},
          {"spacebyte_rope", rope},
          {"periodic", periodic},
          {"multilingual", multilingual},
          {"transformer", transformer}};
}

// Crosses many word boundaries, and several UTF-8 lead bytes.
const char kText[] = "The quick brown fox, qui saute: über den faulen Hund. Ça va? Oui!";

class DecodeTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    torch::manual_seed(7);
    model_ = MakeModel(GetParam().spec);
    model_->eval();
  }
  std::shared_ptr<ByteLm> model_;
};

TEST_P(DecodeTest, DecodeStepLogitsEqualForwardAtEveryStep) {
  torch::NoGradGuard no_grad;
  const int64_t length = model_->spec().context_size;
  std::vector<int64_t> bytes = {kBos};
  for (const char* c = kText; *c != 0 && static_cast<int64_t>(bytes.size()) < length; ++c) {
    bytes.push_back(static_cast<unsigned char>(*c));
  }
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), length);
  const torch::Tensor tokens = torch::tensor(bytes, torch::kLong).unsqueeze(0);
  const ModelOutput full = model_->Forward(tokens);
  std::unique_ptr<DecodeState> state = model_->StartDecoding(1);
  int64_t exhausted_steps = 0;
  for (int64_t t = 0; t < length; ++t) {
    torch::Tensor exhausted;
    const torch::Tensor logits = model_->DecodeStep(*state, tokens.select(1, t), &exhausted);
    const ModelOutput prefix = model_->Forward(tokens.narrow(1, 0, t + 1));
    EXPECT_LT((logits[0] - prefix.logits[0][t]).abs().max().item<double>(), 1e-5) << t;
    // A prefix sees the same logits as the whole sequence: the model is causal.
    EXPECT_LT((full.logits[0][t] - prefix.logits[0][t]).abs().max().item<double>(), 1e-5) << t;
    const bool ignored = full.ignored.defined() && full.ignored[0][t].item<bool>();
    EXPECT_EQ(exhausted[0].item<bool>(), ignored) << t;
    exhausted_steps += ignored;
  }
  if (std::string(GetParam().name) == "spacebyte_utf8") {
    EXPECT_GT(exhausted_steps, 0) << "the text should run past TG boundaries";
  }
  if (std::string(GetParam().name) == "multilingual") {
    EXPECT_EQ(exhausted_steps, 0) << "the multilingual rule never runs past TG";
  }
}

TEST_P(DecodeTest, CachedSamplingEqualsRecomputedSampling) {
  struct Draw { double temperature; int64_t top_k; uint64_t seed; };
  int64_t generated = 0, global_stops = 0;
  for (const Draw& d : {Draw{0, 0, 0}, Draw{1, 0, 1}, Draw{1, 0, 2}, Draw{0.8, 20, 3},
                        Draw{1.5, 5, 4}}) {
    SampleOptions o;
    o.max_bytes = 80;  // beyond T: the context limit stops some runs
    o.temperature = d.temperature;
    o.top_k = d.top_k;
    o.seed = d.seed;
    std::string streamed;
    absl::StatusOr<SampleResult> cached =
        Sampler(*model_, o).Generate("The cat sat", [&](char c) { streamed.push_back(c); });
    o.recompute = true;
    absl::StatusOr<SampleResult> recomputed =
        Sampler(*model_, o).Generate("The cat sat", [](char) {});
    ASSERT_TRUE(cached.ok()) << cached.status();
    ASSERT_TRUE(recomputed.ok()) << recomputed.status();
    EXPECT_EQ(cached->text, recomputed->text) << d.temperature << " " << d.top_k;
    EXPECT_EQ(cached->stop, recomputed->stop);
    EXPECT_EQ(streamed, cached->text);
    generated += cached->text.size();
    global_stops += cached->stop == StopReason::kGlobalContext;
  }
  EXPECT_GT(generated, 0);
  if (std::string(GetParam().name) == "spacebyte_utf8") EXPECT_GT(global_stops, 0);
}

INSTANTIATE_TEST_SUITE_P(Models, DecodeTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SamplerTest, SameSeedSameBytesOtherSeedOtherBytes) {
  torch::manual_seed(1);
  std::shared_ptr<ByteLm> model = MakeModel(Cases()[3].spec);
  SampleOptions o;
  o.max_bytes = 40;
  auto run = [&](uint64_t seed) {
    o.seed = seed;
    return Sampler(*model, o).Generate("ab", [](char) {})->text;
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

TEST(SamplerTest, PromptOutsideTheContextIsAnError) {
  std::shared_ptr<ByteLm> model = MakeModel(TinySpaceByte());
  const absl::Status too_long =
      Sampler(*model, {}).Generate(std::string(64, 'a'), [](char) {}).status();
  EXPECT_NE(too_long.message().find("context of 64"), std::string::npos) << too_long;
  const absl::Status too_many_words =
      Sampler(*model, {}).Generate("a b c d e f g h", [](char) {}).status();
  EXPECT_NE(too_many_words.message().find("global context of 6"), std::string::npos)
      << too_many_words;
  for (const double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    SampleOptions options;
    options.temperature = bad;
    EXPECT_FALSE(Sampler(*model, options).Generate("a", [](char) {}).ok()) << bad;
  }
}

// A temperature too small to divide by still samples (the largest logit
// wins); logits that are not finite are an error, not a crash in
// multinomial.
TEST(ByteChooserTest, TinyTemperatureIsGreedyAndNonFiniteLogitsAreNamed) {
  const torch::Tensor logits = torch::randn({256}, torch::kDouble);
  EXPECT_EQ(ByteChooser(1e-310, 0, 1).Choose(logits), logits.argmax().item<int64_t>());
  const torch::Tensor broken = logits.clone().index_fill_(0, torch::tensor({7}), std::nan(""));
  try {
    ByteChooser(1.0, 0, 1).Choose(broken);
    ADD_FAILURE() << "NaN logits were sampled";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("not finite"), std::string::npos);
  }
}

TEST(SamplerTest, TopOneIsGreedy) {
  torch::manual_seed(3);
  std::shared_ptr<ByteLm> model = MakeModel(Cases()[3].spec);
  SampleOptions greedy, top1;
  greedy.temperature = 0;
  greedy.max_bytes = top1.max_bytes = 30;
  top1.top_k = 1;
  top1.seed = 9;
  EXPECT_EQ(Sampler(*model, greedy).Generate("x", [](char) {})->text,
            Sampler(*model, top1).Generate("x", [](char) {})->text);
}

std::string Checked(const std::string& command, int want_status = 0) {
  const CommandResult r = RunCommand(command, /*with_stderr=*/false);
  EXPECT_EQ(r.status, want_status) << command << "\n" << r.output;
  return r.output;
}

TEST(SampleProgramTest, StreamsReproducibleTextFromAConvertedCheckpoint) {
  const std::string dir = ::testing::TempDir() + "/sample_program";
  std::filesystem::remove_all(dir);
  const std::string bin = SPACEBYTE_BIN;
  Checked(bin + " convert --from_reference " + SPACEBYTE_TESTDATA +
             "/golden/spacebyte_tiny.pt --out " + dir + " 2>&1");
  const std::string sample = bin + " sample --checkpoint " + dir +
                             " --prompt 'Everyone has the right' --max_bytes 30 2>/dev/null";
  const std::string first = Checked(sample + " --seed 11");
  EXPECT_FALSE(first.empty());
  EXPECT_LE(first.size(), 30u);
  EXPECT_EQ(Checked(sample + " --seed 11"), first);
  EXPECT_EQ(Checked(sample + " --seed 11 --recompute"), first);
  EXPECT_EQ(Checked(sample + " --seed 11 --echo"), "Everyone has the right" + first);
  const std::string error =
      Checked(bin + " sample --checkpoint " + dir + " --prompt x --top_k -2 2>&1", 1);
  EXPECT_NE(error.find("--top_k must be >= 0"), std::string::npos) << error;
}

}  // namespace
}  // namespace spacebyte::trainer
