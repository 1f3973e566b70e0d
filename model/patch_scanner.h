#ifndef SPACEBYTE_MODEL_PATCH_SCANNER_H_
#define SPACEBYTE_MODEL_PATCH_SCANNER_H_

// Every patch rule as a causal scan: bytes go in one at a time and each
// answers "does a patch start here?" from that byte and the ones before it.
// Cached sampling decides boundaries with it; the training batch uses it for
// the multilingual rule (utf8 and periodic also have whole-tensor forms in
// patching.h, which tests hold equal to this scan).

#include <cstdint>

#include "model/model_spec.h"

namespace spacebyte::trainer {

class PatchScanner {
 public:
  explicit PatchScanner(const ModelSpec& spec);

  // Feeds the token at the next position (a byte, or kBos); true when a
  // patch starts at it.
  bool Push(int64_t token);

  // Boundaries found so far; the multilingual rule keeps this <= TG.
  int64_t boundaries() const { return boundaries_; }
  // Boundaries the multilingual rule wanted but its budget refused: where
  // this is not small, TG rather than the text decides the patches.
  int64_t refused() const { return refused_; }

 private:
  // What a decoded character does to patches. kBreak: spaces, punctuation,
  // symbols, controls and malformed bytes (the reference's "spacelike").
  // kWord: letters and digits of scripts written with spaces. kDense:
  // letters of scripts written without them. kMark: combining marks, which
  // belong to the character before them and never start a patch.
  enum class Kind { kBreak, kWord, kDense, kMark, kBos };

  bool PushUtf8(int64_t token);
  bool PushMultilingual(int64_t token);
  // The kind of the character this byte completes, or of the one it is
  // about to complete where CountsEarly; false otherwise.
  bool Decode(int64_t token, Kind* kind);
  bool WantsBoundary(Kind kind, int64_t position) const;
  // model.fill_global_context: a letter behind the window's even share of
  // patches opens one.
  bool Fills(Kind kind) const;
  // The kind of a valid code point.
  static Kind KindOf(int32_t code_point);
  // Whether a character whose bytes so far give `prefix` (its code point >>
  // 6) may count as a word letter one byte early: where every assigned
  // character under the prefix is a cased letter (Lu, Ll, Lt), a modifier
  // letter or a break, and one at least is cased. These are the alphabets
  // (Latin C3-C5, Greek CE CF, Cyrillic D0 D1 D3 D4, Armenian D5, Georgian
  // E1 83), whose last byte names the letter, and the step belongs before it.
  static bool IsAlphabetPrefix(int32_t prefix);
  // Whether the open character, with bytes so far giving `prefix`, counts
  // one byte early: at its byte before the last, never for four bytes.
  bool CountsEarly(int32_t prefix) const;
  // Counts the open character as a word letter where this is its byte
  // before the last and CountsEarly; false otherwise.
  bool CountEarly(Kind* kind);

  PatchMethod method_;
  int64_t context_, global_, period_, dense_bytes_, word_bytes_;
  bool fill_;
  int64_t position_ = 0, boundaries_ = 0, refused_ = 0, last_boundary_ = 0;
  bool previous_spacelike_ = false;  // utf8
  Kind previous_ = Kind::kWord;      // multilingual: last non-mark character
  // previous_ before an early count, for a break that turns out to be one.
  Kind before_early_ = Kind::kWord;
  // The open UTF-8 sequence: code point so far, bytes still due, its length.
  int32_t code_point_ = 0;
  int pending_ = 0, length_ = 0;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_MODEL_PATCH_SCANNER_H_
