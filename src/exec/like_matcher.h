#pragma once

#include <string>
#include <string_view>

namespace sluice::exec {

// A LIKE pattern analysed once and matched against many strings without allocating:
// % matches any sequence, _ exactly one character (UTF-8 code point), every other byte
// itself; there is no escape character. Patterns of the forms 'abc', 'abc%', '%abc', '%abc%'
// and '%' take fast paths (compare, memcmp, memmem); others use a linear-space matcher that
// backtracks only to the last %.
class LikeMatcher {
 public:
  // Reuses the matcher's buffers (no allocation once they are large enough).
  void Compile(std::string_view pattern);
  bool Match(std::string_view s) const;

 private:
  enum class Kind : uint8_t { kExact, kPrefix, kSuffix, kContains, kAny, kGeneral };
  Kind kind_ = Kind::kExact;
  std::string pattern_;  // kGeneral: the whole pattern; otherwise the literal part
};

}  // namespace sluice::exec
