#include "exec/like_matcher.h"

#include <cstring>

#include "exec/utf8.h"

namespace sluice::exec {

void LikeMatcher::Compile(std::string_view pattern) {
  size_t first = 0, last = pattern.size();
  while (first < last && pattern[first] == '%') ++first;
  while (last > first && pattern[last - 1] == '%') --last;
  std::string_view core = pattern.substr(first, last - first);
  bool leading = first > 0, trailing = last < pattern.size();
  if (core.find_first_of("%_") != std::string_view::npos) {
    kind_ = Kind::kGeneral;
    pattern_.assign(pattern);
    return;
  }
  pattern_.assign(core);
  if (core.empty() && (leading || trailing)) {
    kind_ = Kind::kAny;
  } else if (leading && trailing) {
    kind_ = Kind::kContains;
  } else if (leading) {
    kind_ = Kind::kSuffix;
  } else if (trailing) {
    kind_ = Kind::kPrefix;
  } else {
    kind_ = Kind::kExact;
  }
}

bool LikeMatcher::Match(std::string_view s) const {
  std::string_view p = pattern_;
  switch (kind_) {
    case Kind::kExact: return s == p;
    case Kind::kPrefix: return s.size() >= p.size() && std::memcmp(s.data(), p.data(), p.size()) == 0;
    case Kind::kSuffix:
      return s.size() >= p.size() && std::memcmp(s.data() + s.size() - p.size(), p.data(), p.size()) == 0;
    case Kind::kContains: return ::memmem(s.data(), s.size(), p.data(), p.size()) != nullptr;
    case Kind::kAny: return true;
    case Kind::kGeneral: break;
  }
  // Greedy matching with backtracking to the most recent %: when a later literal fails, the
  // last % absorbs one more character and matching resumes. Earlier %s never need revisiting,
  // so this is O(|s| * |p|) worst case and allocation-free.
  size_t si = 0, pi = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '%') {
      star_p = ++pi;
      star_s = si;
    } else if (pi < p.size() && p[pi] == '_') {
      si += utf8::CharLength(s, si);
      ++pi;
    } else if (pi < p.size() && p[pi] == s[si]) {
      ++si;
      ++pi;
    } else if (star_p != std::string_view::npos) {
      pi = star_p;
      star_s += utf8::CharLength(s, star_s);
      si = star_s;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

}  // namespace sluice::exec
