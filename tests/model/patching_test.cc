// The patch rules on hand-written multilingual cases; the causal scan that
// sampling uses agrees with the batch form; the multilingual rule never lets
// a target fall past the global context, whatever the bytes.

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/patch_scanner.h"
#include "model/patching.h"

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

ModelSpec MultilingualSpec(int64_t context, int64_t global) {
  ModelSpec s = Utf8Spec(context, global);
  s.patch_method = PatchMethod::kMultilingual;
  return s;
}

std::vector<int64_t> BoundaryPositions(const std::string& text,
                                       const ModelSpec& spec = Utf8Spec(64, 16)) {
  const torch::Tensor b = Boundaries(Tokens(text), spec).squeeze(0);
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

// Multilingual positions below count the BOS at 0; a boundary sits on the
// last byte of the character that opens the patch, or on the byte before it
// for the letters of an alphabet (Cyrillic's D0 and D1, Georgian's E1 83).
std::vector<int64_t> Multilingual(const std::string& text) {
  return BoundaryPositions(text, MultilingualSpec(256, 64));
}

TEST(MultilingualPatchingTest, AsciiTextPatchesAsTheReferenceDoes) {
  for (const char* text : {"hi, you!", "a1   b", "The quick brown fox, (jumps) over 12 dogs."}) {
    EXPECT_EQ(Multilingual(text), BoundaryPositions(text, Utf8Spec(256, 64))) << text;
  }
}

TEST(MultilingualPatchingTest, SpaceSeparatedScriptsPatchByWord) {
  // "Привет мир": 6 + 1 + 3 Cyrillic letters of 2 bytes; the space is at 13.
  EXPECT_EQ(Multilingual("\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 "
                         "\xD0\xBC\xD0\xB8\xD1\x80"),
            (std::vector<int64_t>{0, 13}));
  // The utf8 rule gives every Cyrillic letter its own patch.
  EXPECT_EQ(BoundaryPositions("\xD0\x9F\xD1\x80\xD0\xB8").size(), 3u);
}

TEST(MultilingualPatchingTest, CombiningMarksNeverStartAPatch) {
  // "नमस्ते दुनिया" (Hindi): vowel signs and the virama are marks; the only
  // boundaries are BOS and the space after 6 characters of 3 bytes.
  const std::string hindi =
      "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87 "
      "\xE0\xA4\xA6\xE0\xA5\x81\xE0\xA4\xA8\xE0\xA4\xBF\xE0\xA4\xAF\xE0\xA4\xBE";
  EXPECT_EQ(Multilingual(hindi), (std::vector<int64_t>{0, 19}));
  // A combining accent after a space joins the space's patch.
  EXPECT_EQ(Multilingual("a \xCC\x81" "b"), (std::vector<int64_t>{0, 2}));
}

TEST(MultilingualPatchingTest, ScriptsWithoutSpacesAreCutByLength) {
  // "中文字符串": five Han characters of 3 bytes (1-3, 4-6, ...). A new patch
  // opens once the current one holds 6 bytes: at the ends of 文 and 符.
  EXPECT_EQ(Multilingual("\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6\xE4\xB8\xB2"),
            (std::vector<int64_t>{0, 6, 12}));
  // A script change inside a word opens a patch: "Tokyo東京" at the end of 東.
  EXPECT_EQ(Multilingual("Tokyo\xE6\x9D\xB1\xE4\xBA\xAC"), (std::vector<int64_t>{0, 8}));
  // The cap is a setting.
  ModelSpec wide = MultilingualSpec(256, 64);
  wide.dense_patch_bytes = 9;
  EXPECT_EQ(BoundaryPositions("\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6", wide),
            (std::vector<int64_t>{0, 9}));
}

TEST(MultilingualPatchingTest, LongWordsAreCutWhenAskedTo) {
  // "свободными": ten Cyrillic letters of 2 bytes (1-20). Uncut by default;
  // with word_patch_bytes 8 a letter opens a patch, on its lead byte, once
  // the patch holds 8 bytes.
  const std::string word =
      "\xD1\x81\xD0\xB2\xD0\xBE\xD0\xB1\xD0\xBE\xD0\xB4\xD0\xBD\xD1\x8B\xD0\xBC\xD0\xB8";
  EXPECT_EQ(Multilingual(word), (std::vector<int64_t>{0}));
  ModelSpec cut = MultilingualSpec(256, 64);
  cut.word_patch_bytes = 8;
  EXPECT_EQ(BoundaryPositions(word, cut), (std::vector<int64_t>{0, 9, 17}));
  EXPECT_EQ(BoundaryPositions("hello world", cut), (std::vector<int64_t>{0, 6}));
}

TEST(MultilingualPatchingTest, FillingTheGlobalContextCutsWordsBehindTheEvenShare) {
  // One word of 255 letters: one patch by default. Filled, a letter opens a
  // patch whenever the window holds fewer than t*TG/T = t/4 patches: every
  // 4 bytes from 5 on, 64 patches in all, the whole global context.
  const std::string word(255, 'a');
  EXPECT_EQ(Multilingual(word), (std::vector<int64_t>{0}));
  ModelSpec fill = MultilingualSpec(256, 64);
  fill.fill_global_context = true;
  std::vector<int64_t> every_fourth = {0};
  for (int64_t t = 5; t < 256; t += 4) every_fourth.push_back(t);
  EXPECT_EQ(BoundaryPositions(word, fill), every_fourth);
  // Words shorter than T/TG keep the window ahead of its share: nothing added.
  const std::string short_words = "ab cd, ef gh ij. kl mn op qr st uv wx yz";
  EXPECT_EQ(BoundaryPositions(short_words, fill), Multilingual(short_words));
  // Never inside a character, nor on a combining mark: "на́ш" (with an acute)
  // repeated, one word, at T/TG = 2 is cut only at letters' lead bytes.
  std::string marked;
  for (int i = 0; i < 8; ++i) marked += "\xD0\xBD\xD0\xB0\xCC\x81\xD1\x88";
  ModelSpec dense = MultilingualSpec(64, 32);
  dense.fill_global_context = true;
  const std::vector<int64_t> cuts = BoundaryPositions(marked, dense);
  EXPECT_GT(cuts.size(), 8u);
  for (size_t i = 1; i < cuts.size(); ++i) {
    const auto byte = static_cast<unsigned char>(marked[cuts[i] - 1]);
    EXPECT_TRUE(byte == 0xD0 || byte == 0xD1) << "cut at " << cuts[i];
  }
}

TEST(MultilingualPatchingTest, AnAlphabetsLetterCountsAtItsByteBeforeTheLast) {
  // One patch per letter. Under Cyrillic's lead bytes D0 and D1 every
  // character is a cased letter, so each step lands on the lead byte, just
  // before the byte that names the letter, and "Привет мир" patches exactly
  // as under utf8.
  ModelSpec letters = MultilingualSpec(256, 64);
  letters.word_patch_bytes = 2;
  const std::string russian =
      "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80";
  EXPECT_EQ(BoundaryPositions(russian, letters),
            (std::vector<int64_t>{0, 3, 5, 7, 9, 11, 13, 16, 18}));
  EXPECT_EQ(BoundaryPositions(russian, letters), BoundaryPositions(russian, Utf8Spec(256, 64)));
  // Greek "αβγ" on the lead byte CE; Georgian "გამარ" (E1 83 xx) on the
  // middle byte.
  EXPECT_EQ(BoundaryPositions("\xCE\xB1\xCE\xB2\xCE\xB3", letters), (std::vector<int64_t>{0, 3, 5}));
  EXPECT_EQ(BoundaryPositions("\xE1\x83\x92\xE1\x83\x90\xE1\x83\x9B\xE1\x83\x90\xE1\x83\xA0", letters),
            (std::vector<int64_t>{0, 5, 8, 11, 14}));
  // Uncased letters keep the last byte, whose earlier bytes tell syllables
  // and ideographs apart: Hangul "한국어" and Han "中文字" at 3 bytes.
  EXPECT_EQ(BoundaryPositions("\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4", letters),
            (std::vector<int64_t>{0, 6, 9}));
  ModelSpec dense = MultilingualSpec(256, 64);
  dense.dense_patch_bytes = 3;
  EXPECT_EQ(BoundaryPositions("\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97", dense),
            (std::vector<int64_t>{0, 6, 9}));
  // Punctuation under an alphabet's lead byte counts again at its last byte
  // as a break: Greek "α·" + " β" ends its word at the ano teleia (CE 87),
  // and in "α ·β" the space and the ano teleia open one patch.
  EXPECT_EQ(Multilingual("\xCE\xB1\xCE\x87 \xCE\xB2"), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(Multilingual("\xCE\xB1 \xCE\x87\xCE\xB2"), (std::vector<int64_t>{0, 3}));
}

TEST(MultilingualPatchingTest, MalformedUtf8IsCutLikePunctuation) {
  // A stray continuation byte, a truncated sequence, an overlong and a
  // surrogate encoding: each breaks like punctuation, nothing is skipped.
  EXPECT_EQ(Multilingual("ab\x80" "cd"), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(Multilingual("ab\xE4\xB8 cd"), (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(Multilingual("ab\xC0\x80" "cd"), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(Multilingual("ab\xED\xA0\x80" "cd"), (std::vector<int64_t>{0, 5}));
  // A letter counted a byte early that then lost its last byte stays that
  // letter: in "ab," + D0 + " cd", and with Georgian's E1 83, the space
  // after it opens a patch, as after any word.
  EXPECT_EQ(Multilingual("ab,\xD0 cd"), (std::vector<int64_t>{0, 3, 5}));
  EXPECT_EQ(Multilingual("ab,\xE1\x83 cd"), (std::vector<int64_t>{0, 3, 6}));
  // An overlong encoding of "а" (E0 90 B0) never counts early: with one
  // patch per letter it is cut once, at its last byte, as a break.
  ModelSpec letters = MultilingualSpec(256, 64);
  letters.word_patch_bytes = 2;
  EXPECT_EQ(BoundaryPositions("ab\xE0\x90\xB0" "cd", letters), (std::vector<int64_t>{0, 2, 5, 7}));
}

// Rows of random bytes (BOS included) and of dense word-and-space text.
std::vector<torch::Tensor> HostileRows(int64_t length) {
  std::mt19937 rng(11);
  std::vector<torch::Tensor> rows;
  for (int i = 0; i < 40; ++i) {
    torch::Tensor row = torch::randint(0, 256, {4, length}, torch::kLong);
    row.select(1, 0).fill_(kBos);
    rows.push_back(row);
  }
  std::string spaced;
  while (static_cast<int64_t>(spaced.size()) < length) spaced += (rng() % 2) ? "a " : "\xE4\xB8\xAD ";
  rows.push_back(Tokens(spaced).narrow(1, 0, length));
  rows.push_back(torch::full({1, length}, kBos, torch::kLong));
  return rows;
}

TEST(MultilingualPatchingTest, NoTargetIsEverPastTheGlobalContext) {
  for (const auto& [context, global] : {std::pair<int64_t, int64_t>{64, 8}, {256, 64}, {96, 7}}) {
    int64_t most = 0;
    ModelSpec filled = MultilingualSpec(context, global);
    filled.fill_global_context = true;
    for (const torch::Tensor& tokens : HostileRows(context)) {
      const Patches p = FindPatches(tokens, MultilingualSpec(context, global));
      EXPECT_FALSE(p.overflow.any().item<bool>()) << context << "/" << global;
      EXPECT_FALSE(FindPatches(tokens, filled).overflow.any().item<bool>()) << "filled";
      most = std::max(most, p.global_T.max().item<int64_t>());
      // The utf8 rule overflows on the same rows, which is what this rule fixes.
      if (global == 8) EXPECT_TRUE(FindPatches(tokens, Utf8Spec(context, global)).overflow.any().item<bool>());
    }
    EXPECT_EQ(most, global) << "the budget is used up to TG, not below it";
  }
}

TEST(MultilingualPatchingTest, ScanOfEveryRuleEqualsTheBatchForm) {
  for (PatchMethod method : {PatchMethod::kUtf8, PatchMethod::kPeriodic, PatchMethod::kMultilingual}) {
    ModelSpec spec = Utf8Spec(64, 8);
    spec.patch_method = method;
    for (const torch::Tensor& tokens : HostileRows(64)) {
      const torch::Tensor batch = Boundaries(tokens, spec);
      for (int64_t r = 0; r < tokens.size(0); ++r) {
        PatchScanner scanner(spec);
        for (int64_t t = 0; t < tokens.size(1); ++t) {
          ASSERT_EQ(scanner.Push(tokens[r][t].item<int64_t>()), batch[r][t].item<bool>())
              << PatchMethodName(method) << " row " << r << " position " << t;
        }
      }
    }
  }
}

}  // namespace
}  // namespace spacebyte::trainer
