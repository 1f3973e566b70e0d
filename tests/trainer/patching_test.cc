// The patch rule of the spec on hand-written multilingual cases.

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/patching.h"

namespace spacebyte::trainer {
namespace {

torch::Tensor Tokens(const std::string& text) {
  std::vector<int64_t> bytes = {kBos};
  for (unsigned char c : text) bytes.push_back(c);
  return torch::tensor(bytes).unsqueeze(0);
}

ModelSpec Utf8Spec(int64_t context, int64_t global) {
  ModelSpec s;
  s.context_size = context;
  s.global_context_size = global;
  return s;
}

std::vector<int64_t> BoundaryPositions(const std::string& text) {
  const torch::Tensor b = Boundaries(Tokens(text), Utf8Spec(64, 16)).squeeze(0);
  std::vector<int64_t> out;
  for (int64_t t = 0; t < b.size(0); ++t) {
    if (b[t].item<bool>()) out.push_back(t);
  }
  return out;
}

TEST(PatchingTest, AsciiWordsAndPunctuationRuns) {
  // Positions count the BOS at 0: "hi, you!" -> h1 i2 ,3 _4 y5 o6 u7 !8
  EXPECT_EQ(BoundaryPositions("hi, you!"), (std::vector<int64_t>{0, 3, 8}));
  // Digits and letters are not spacelike; a run of spaces opens one patch.
  EXPECT_EQ(BoundaryPositions("a1   b"), (std::vector<int64_t>{0, 3}));
}

TEST(PatchingTest, Utf8LeadBytesAreSpacelikeContinuationBytesAreNot) {
  // "é" is C3 A9: the lead byte opens a patch, the continuation does not.
  EXPECT_EQ(BoundaryPositions("caf\xC3\xA9 x"), (std::vector<int64_t>{0, 4, 6}));
  // "Жи" = D0 96 D0 B8: the second lead byte follows a continuation byte and
  // opens a patch; the first follows BOS, itself spacelike, and does not.
  EXPECT_EQ(BoundaryPositions("\xD0\x96\xD0\xB8"), (std::vector<int64_t>{0, 3}));
}

TEST(PatchingTest, CjkEveryCharacterOpensAPatch) {
  // "x中文" = 78 E4 B8 AD E6 96 87.
  EXPECT_EQ(BoundaryPositions("x\xE4\xB8\xAD\xE6\x96\x87"), (std::vector<int64_t>{0, 2, 5}));
}

TEST(PatchingTest, BosAlwaysOpensAPatchEvenAfterSpace) {
  std::string text = " a";
  text.push_back(static_cast<char>(kBos));
  text += "b";
  // BOS(0) space(1) is a run; BOS at 3 follows 'a' and is a boundary anyway.
  EXPECT_EQ(BoundaryPositions(text), (std::vector<int64_t>{0, 3}));
}

TEST(PatchingTest, OverflowPastGlobalContextIsIgnoredAndPadded) {
  // 6 boundaries, TG = 4: targets from the 5th boundary on are ignored.
  const torch::Tensor tokens = Tokens("a b c d e f");  // boundaries 0,2,4,6,8,10
  const Patches p = FindPatches(tokens, Utf8Spec(tokens.size(1), 4));
  EXPECT_TRUE(torch::equal(p.global_ts, torch::tensor({0, 2, 4, 6}).unsqueeze(0)));
  EXPECT_EQ(p.global_T.item<int64_t>(), 4);
  const torch::Tensor ignored = p.overflow.squeeze(0);
  for (int64_t t = 0; t < tokens.size(1); ++t) {
    EXPECT_EQ(ignored[t].item<bool>(), t >= 8) << t;
  }
  // Fewer boundaries than TG: padded with T-1, nothing ignored.
  const Patches short_row = FindPatches(Tokens("ab cd"), Utf8Spec(6, 4));
  EXPECT_TRUE(torch::equal(short_row.global_ts, torch::tensor({0, 3, 5, 5}).unsqueeze(0)));
  EXPECT_EQ(short_row.global_T.item<int64_t>(), 2);
  EXPECT_FALSE(short_row.overflow.any().item<bool>());
}

TEST(PatchingTest, PeriodicRule) {
  ModelSpec s = Utf8Spec(12, 3);
  s.patch_method = PatchMethod::kPeriodic;
  const Patches p = FindPatches(torch::zeros({2, 12}, torch::kLong), s);
  EXPECT_TRUE(torch::equal(p.global_ts, torch::tensor({0, 4, 8}).unsqueeze(0).repeat({2, 1})));
}

}  // namespace
}  // namespace spacebyte::trainer
