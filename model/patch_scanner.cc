#include "model/patch_scanner.h"

#include <algorithm>
#include <array>

#include <unicode/uchar.h>
#include <unicode/uscript.h>

namespace spacebyte::trainer {
namespace {

// spacelike(b) of the utf8 rule (docs/model.md#patch-rules), one byte at a time.
bool SpacelikeByte(int64_t b) {
  return b < '0' || (b > '9' && b < 'A') || (b > 'Z' && b < 'a') || (b > 'z' && b < 0x80) ||
         b >= 0xC0;
}

// Scripts written without spaces between words: a run of their letters is
// cut by length instead. Characters shared by scripts (the kana prolonged
// sound mark, CJK iteration marks) count when Han or kana use them.
bool IsDenseScript(UChar32 c) {
  UErrorCode error = U_ZERO_ERROR;
  switch (uscript_getScript(c, &error)) {
    case USCRIPT_HAN:
    case USCRIPT_HIRAGANA:
    case USCRIPT_KATAKANA:
    case USCRIPT_KATAKANA_OR_HIRAGANA:
    case USCRIPT_BOPOMOFO:
    case USCRIPT_THAI:
    case USCRIPT_LAO:
    case USCRIPT_KHMER:
    case USCRIPT_MYANMAR:
    case USCRIPT_TIBETAN:
    case USCRIPT_YI:
      return true;
    case USCRIPT_COMMON:
    case USCRIPT_INHERITED:
      return uscript_hasScript(c, USCRIPT_HAN) || uscript_hasScript(c, USCRIPT_HIRAGANA) ||
             uscript_hasScript(c, USCRIPT_KATAKANA);
    default:
      return false;
  }
}

}  // namespace

PatchScanner::PatchScanner(const ModelSpec& spec)
    : method_(spec.patch_method),
      context_(spec.context_size),
      global_(spec.global_context_size),
      period_(global_ > 0 ? spec.context_size / global_ : 1),
      dense_bytes_(spec.dense_patch_bytes),
      word_bytes_(spec.word_patch_bytes),
      fill_(spec.fill_global_context) {}

bool PatchScanner::Push(int64_t token) {
  bool boundary = false;
  switch (method_) {
    case PatchMethod::kPeriodic:
      boundary = position_ % period_ == 0;
      break;
    case PatchMethod::kUtf8:
      boundary = PushUtf8(token);
      break;
    case PatchMethod::kMultilingual:
      boundary = PushMultilingual(token);
      break;
  }
  if (boundary) {
    ++boundaries_;
    last_boundary_ = position_;
  }
  ++position_;
  return boundary;
}

bool PatchScanner::PushUtf8(int64_t token) {
  const bool spacelike = SpacelikeByte(token);
  const bool boundary = (spacelike && !previous_spacelike_) || token == kBos;
  previous_spacelike_ = spacelike;
  return boundary;
}

bool PatchScanner::PushMultilingual(int64_t token) {
  Kind kind;
  if (!Decode(token, &kind)) return false;
  const bool wanted = WantsBoundary(kind, position_) || Fills(kind);
  if (kind != Kind::kMark) previous_ = kind == Kind::kBos ? Kind::kBreak : kind;
  // The budget that keeps every target inside the global context. Half of
  // the TG boundaries (B) may go anywhere; the rest accrue evenly along the
  // window. One more is allowed at t while boundaries < B + t*(TG-B)/T,
  // which at t = T-1 is below TG: a window never holds more than TG.
  const int64_t free = std::max<int64_t>(1, global_ / 2);
  if (!wanted) return false;
  const bool granted = boundaries_ * context_ < free * context_ + position_ * (global_ - free);
  refused_ += !granted;
  return granted;
}

bool PatchScanner::WantsBoundary(Kind kind, int64_t position) const {
  switch (kind) {
    case Kind::kBos:
      return true;
    case Kind::kBreak:  // a run of breaks opens one patch, as in the reference
      return previous_ != Kind::kBreak;
    case Kind::kWord:  // a script change inside a word ("Tokyo東京"), or a long word
      return previous_ == Kind::kDense ||
             (previous_ == Kind::kWord && word_bytes_ > 0 &&
              position - last_boundary_ >= word_bytes_);
    case Kind::kDense:
      return previous_ == Kind::kWord ||
             (previous_ == Kind::kDense && position - last_boundary_ >= dense_bytes_);
    case Kind::kMark:
      return false;
  }
  return false;
}

bool PatchScanner::Fills(Kind kind) const {
  // The global blocks run TG slots per window whether patches fill them or
  // not. Behind the even share t*TG/T, which the budget always grants, a
  // letter cuts its word, at least 2 bytes after the last boundary.
  constexpr int64_t kMinBytes = 2;
  return fill_ && (kind == Kind::kWord || kind == Kind::kDense) &&
         position_ - last_boundary_ >= kMinBytes && boundaries_ * context_ < position_ * global_;
}

PatchScanner::Kind PatchScanner::KindOf(int32_t code_point) {
  if (U_GET_GC_MASK(code_point) & U_GC_M_MASK) return Kind::kMark;
  if (U_GET_GC_MASK(code_point) & (U_GC_L_MASK | U_GC_N_MASK)) {
    return IsDenseScript(code_point) ? Kind::kDense : Kind::kWord;
  }
  return Kind::kBreak;
}

bool PatchScanner::IsAlphabetPrefix(int32_t prefix) {
  // One entry per prefix of the code points 0x80-0xFFFF; built once.
  static const std::array<bool, 1024> kTable = [] {
    std::array<bool, 1024> table{};
    for (int32_t prefix = 2; prefix < 1024; ++prefix) {
      bool cased = false, others = false;
      for (int32_t c = prefix << 6; c < (prefix + 1) << 6; ++c) {
        if (u_charType(c) == U_UNASSIGNED) continue;
        const uint32_t category = U_GET_GC_MASK(c);
        cased |= (category & U_GC_LC_MASK) != 0;
        others |= !(category & (U_GC_LC_MASK | U_GC_LM_MASK)) && KindOf(c) != Kind::kBreak;
      }
      table[prefix] = cased && !others;
    }
    return table;
  }();
  return prefix >= 0 && prefix < 1024 && kTable[prefix];
}

bool PatchScanner::Decode(int64_t token, Kind* kind) {
  if (token < 0 || token >= kBos) {
    pending_ = 0;
    *kind = Kind::kBos;
    return true;
  }
  if (pending_ > 0 && (token & 0xC0) == 0x80) {
    code_point_ = (code_point_ << 6) | static_cast<int32_t>(token & 0x3F);
    if (--pending_ > 0) return CountEarly(kind);
    const bool valid =
        (length_ == 2) ||
        (length_ == 3 && code_point_ >= 0x800 && (code_point_ < 0xD800 || code_point_ > 0xDFFF)) ||
        (length_ == 4 && code_point_ >= 0x10000 && code_point_ <= 0x10FFFF);
    *kind = valid ? KindOf(code_point_) : Kind::kBreak;
    if (!CountsEarly(code_point_ >> 6)) return true;
    // Counted a byte early as a letter: done, unless it is a break after all
    // (Greek "·", Georgian "჻"), which then counts as what follows the
    // character before it.
    if (*kind != Kind::kBreak) return false;
    previous_ = before_early_;
    return true;
  }
  // Anything else ends an open sequence: its bytes stay in the patch they
  // fell in, with no boundary of their own.
  pending_ = 0;
  if (token < 0x80) {
    *kind = SpacelikeByte(token) ? Kind::kBreak : Kind::kWord;
    return true;
  }
  length_ = token >= 0xF0 && token <= 0xF4 ? 4 : token >= 0xE0 && token < 0xF0 ? 3
          : token >= 0xC2 && token < 0xE0 ? 2 : 0;
  if (length_ == 0) {  // a stray continuation byte, or one never valid in UTF-8
    *kind = Kind::kBreak;
    return true;
  }
  code_point_ = static_cast<int32_t>(token & (0x7F >> length_));
  pending_ = length_ - 1;
  return CountEarly(kind);
}

bool PatchScanner::CountsEarly(int32_t prefix) const {
  // A three-byte prefix below 0x20 is an overlong encoding.
  return (length_ == 2 || (length_ == 3 && prefix >= 0x20)) && IsAlphabetPrefix(prefix);
}

bool PatchScanner::CountEarly(Kind* kind) {
  if (pending_ != 1 || !CountsEarly(code_point_)) return false;
  before_early_ = previous_;
  *kind = Kind::kWord;
  return true;
}

}  // namespace spacebyte::trainer
