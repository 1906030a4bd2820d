#include "server/pgwire/query_text.h"

#include <type_traits>

#include <fmt/format.h>

namespace sluice::server::pgwire {
namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '$'; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

size_t SkipQuoted(std::string_view text, size_t i) {
  const size_t n = text.size();
  const char c = text[i];
  if (c == '-' && i + 1 < n && text[i + 1] == '-') {
    const size_t eol = text.find('\n', i);
    return eol == std::string_view::npos ? n : eol + 1;
  }
  if (c == '/' && i + 1 < n && text[i + 1] == '*') {
    int depth = 0;
    size_t j = i;
    while (j < n) {
      if (text[j] == '/' && j + 1 < n && text[j + 1] == '*') {
        ++depth;
        j += 2;
      } else if (text[j] == '*' && j + 1 < n && text[j + 1] == '/') {
        j += 2;
        if (--depth == 0) return j;
      } else {
        ++j;
      }
    }
    return n;
  }
  if (c == '\'') {
    // E'...' strings take backslash escapes.
    const bool escapes = i > 0 && (text[i - 1] == 'e' || text[i - 1] == 'E') && (i < 2 || !IsIdentChar(text[i - 2]));
    size_t j = i + 1;
    while (j < n) {
      if (escapes && text[j] == '\\') {
        j += 2;
      } else if (text[j] == '\'') {
        if (j + 1 < n && text[j + 1] == '\'') {
          j += 2;
        } else {
          return j + 1;
        }
      } else {
        ++j;
      }
    }
    return n;
  }
  if (c == '"') {
    size_t j = i + 1;
    while (j < n) {
      if (text[j] == '"') {
        if (j + 1 < n && text[j + 1] == '"') {
          j += 2;
        } else {
          return j + 1;
        }
      } else {
        ++j;
      }
    }
    return n;
  }
  if (c == '$' && (i == 0 || !IsIdentChar(text[i - 1]))) {
    // $tag$ ... $tag$ (tag empty or an identifier without '$'); $1 is a parameter.
    size_t j = i + 1;
    if (j < n && IsIdentStart(text[j])) {
      while (j < n && IsIdentChar(text[j]) && text[j] != '$') ++j;
    }
    if (j < n && text[j] == '$') {
      const std::string_view tag = text.substr(i, j - i + 1);
      const size_t end = text.find(tag, j + 1);
      return end == std::string_view::npos ? n : end + tag.size();
    }
  }
  return i;
}

namespace {

// Calls on_char(i) for every byte outside comments and quoted tokens; on_quoted(begin, end)
// for every quoted token or comment.
// Calls f(args...); false when f returns bool and returned false.
template <typename F, typename... Args>
bool Continue(F& f, Args... args) {
  if constexpr (std::is_same_v<decltype(f(args...)), bool>) {
    return f(args...);
  } else {
    f(args...);
    return true;
  }
}

// A callback that returns bool ends the scan by returning false.
template <typename OnChar, typename OnQuoted>
void Scan(std::string_view text, OnChar on_char, OnQuoted on_quoted) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t skip = SkipQuoted(text, i);
    if (skip != i) {
      if (!Continue(on_quoted, i, skip)) return;
      i = skip;
      continue;
    }
    if (!Continue(on_char, i)) return;
    ++i;
  }
}

}  // namespace

std::vector<StatementSpan> SplitStatements(std::string_view text) {
  std::vector<StatementSpan> spans;
  size_t start = 0;
  bool has_content = false;
  size_t first = 0;
  auto finish = [&](size_t end) {
    if (has_content) spans.push_back({first, end - first});
    has_content = false;
    start = end + 1;
  };
  Scan(
      text,
      [&](size_t i) {
        if (text[i] == ';') return finish(i);
        if (!IsSpace(text[i]) && !has_content) {
          has_content = true;
          first = i;
        }
      },
      [&](size_t begin, size_t end) {
        const bool comment = text[begin] == '-' || text[begin] == '/';
        if (!comment && !has_content) {
          has_content = true;
          first = begin;
        }
      });
  finish(text.size());
  (void)start;
  // Trailing white space (and comments) belong to no statement.
  for (StatementSpan& s : spans) {
    while (s.length > 0 && IsSpace(text[s.offset + s.length - 1])) --s.length;
  }
  return spans;
}

namespace {

// Calls on_param(begin, end, n) for each $n outside quotes.
template <typename OnParam>
Status ForEachParameter(std::string_view text, OnParam on_param) {
  Status status;
  size_t skip_until = 0;
  Scan(
      text,
      [&](size_t i) {
        if (i < skip_until || !status.ok()) return;
        if (text[i] != '$' || (i > 0 && IsIdentChar(text[i - 1]))) return;
        size_t j = i + 1;
        uint64_t n = 0;
        while (j < text.size() && text[j] >= '0' && text[j] <= '9') {
          n = n * 10 + static_cast<uint64_t>(text[j] - '0');
          if (n > 65535) {
            status = Status::InvalidArgument(fmt::format("there is no parameter ${}", text.substr(i + 1, j + 1 - i)));
            return;
          }
          ++j;
        }
        if (j == i + 1) return;
        if (n == 0) {
          status = Status::InvalidArgument("there is no parameter $0");
          return;
        }
        skip_until = j;
        on_param(i, j, static_cast<size_t>(n));
      },
      [](size_t, size_t) {});
  return status;
}

}  // namespace

Result<size_t> MaxParameterIndex(std::string_view text) {
  size_t max = 0;
  SLUICE_RETURN_IF_ERROR(ForEachParameter(text, [&](size_t, size_t, size_t n) { max = std::max(max, n); }));
  return max;
}

std::string SubstituteParameters(std::string_view text, const std::vector<std::string>& literals) {
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  (void)ForEachParameter(text, [&](size_t begin, size_t end, size_t n) {
    out.append(text.substr(copied, begin - copied));
    // Spaces keep a literal from fusing with its neighbours ("x-$1" with -5 is not a comment).
    out.push_back(' ');
    out.append(literals[n - 1]);
    out.push_back(' ');
    copied = end;
  });
  out.append(text.substr(copied));
  return out;
}

std::vector<std::string> Words(std::string_view text, size_t limit) {
  std::vector<std::string> words;
  std::string current;
  auto flush = [&] {
    if (!current.empty() && words.size() < limit) words.push_back(std::move(current));
    current.clear();
  };
  Scan(
      text,
      [&](size_t i) {
        const char c = text[i];
        if (IsIdentChar(c) || (c >= '0' && c <= '9')) {
          current.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
        } else {
          flush();
        }
        return words.size() < limit;
      },
      [&](size_t, size_t) {
        flush();
        return words.size() < limit;
      });
  flush();
  return words;
}

std::string FirstKeyword(std::string_view text) {
  std::vector<std::string> words = Words(text, 1);
  return words.empty() ? std::string() : words[0];
}

int32_t CharacterPosition(std::string_view text, size_t byte_offset) {
  if (byte_offset > text.size()) byte_offset = text.size();
  int32_t chars = 0;
  for (size_t i = 0; i < byte_offset; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++chars;
  }
  return chars + 1;
}

size_t ByteOffsetOf(std::string_view text, uint32_t line, uint32_t column) {
  size_t offset = 0;
  for (uint32_t l = 1; l < line; ++l) {
    const size_t eol = text.find('\n', offset);
    if (eol == std::string_view::npos) return text.size();
    offset = eol + 1;
  }
  offset += column > 0 ? column - 1 : 0;
  return std::min(offset, text.size());
}

std::string PlaceAtOriginalPosition(std::string_view whole, const StatementSpan& span) {
  size_t newlines = 0;
  size_t line_start = 0;
  for (size_t i = 0; i < span.offset; ++i) {
    if (whole[i] == '\n') {
      ++newlines;
      line_start = i + 1;
    }
  }
  std::string out;
  out.reserve(newlines + (span.offset - line_start) + span.length);
  out.append(newlines, '\n');
  out.append(span.offset - line_start, ' ');
  out.append(whole.substr(span.offset, span.length));
  return out;
}

}  // namespace sluice::server::pgwire
