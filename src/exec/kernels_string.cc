// String kernels: lower, upper, length, substr, concat, ||, split_part, LIKE / ILIKE.

#include <cstring>
#include <limits>

#include "exec/kernels.h"
#include "exec/utf8.h"

namespace sluice::exec {

using sql::ScalarFn;

namespace utf8 {

namespace {

uint32_t LowerCodePoint(uint32_t c) {
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
  if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c | 1;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) != 0 ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  return c;
}

uint32_t UpperCodePoint(uint32_t c) {
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if ((c >= 0x101 && c <= 0x12F) || (c >= 0x133 && c <= 0x137) || (c >= 0x14B && c <= 0x177)) return c & ~1u;
  if ((c >= 0x13A && c <= 0x148) || (c >= 0x17A && c <= 0x17E)) return (c & 1) == 0 ? c - 1 : c;
  if (c == 0x3C2) return 0x3A3;  // final sigma
  if (c >= 0x3B1 && c <= 0x3CB) return c - 0x20;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  return c;
}

// All mapped characters are two-byte sequences (U+0080..U+07FF) on both sides.
template <bool kLower>
void MapCase(std::string_view in, char* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  size_t n = in.size();
  size_t i = 0;
  // Eight ASCII bytes at a time (SWAR): flag the bytes in the letter range and flip their 0x20 bit.
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    if ((w & kHigh) != 0) break;
    uint64_t low7 = w & ~kHigh;
    uint64_t first = kLower ? 'A' : 'a', last = kLower ? 'Z' : 'z';
    uint64_t ge_first = low7 + kOnes * (0x80 - first);
    uint64_t gt_last = low7 + kOnes * (0x7F - last);
    uint64_t letters = ge_first & ~gt_last & kHigh;
    w ^= letters >> 2;
    std::memcpy(out + i, &w, 8);
  }
  for (; i < n; ++i) {
    unsigned char c = s[i];
    if (c < 0x80) {
      if constexpr (kLower) {
        out[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      } else {
        out[i] = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
      }
    } else if ((c & 0xE0) == 0xC0 && i + 1 < n && IsContinuation(s[i + 1])) {
      uint32_t cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
      uint32_t m = kLower ? LowerCodePoint(cp) : UpperCodePoint(cp);
      out[i] = static_cast<char>(0xC0 | (m >> 6));
      out[i + 1] = static_cast<char>(0x80 | (m & 0x3F));
      ++i;
    } else {
      out[i] = static_cast<char>(c);
    }
  }
}

}  // namespace

void Lower(std::string_view in, char* out) { MapCase<true>(in, out); }
void Upper(std::string_view in, char* out) { MapCase<false>(in, out); }

}  // namespace utf8

namespace {

template <bool kLower>
void CaseKernel(const Vector& a, Rows rows, Vector* out, StringArena* arena) {
  const StringRef* x = a.data<StringRef>();
  StringRef* z = out->data<StringRef>();
  bool has_nulls = PropagateNulls(a, rows, out);
  ForEachRow(rows, [&](uint32_t r) {
    if (has_nulls && out->IsNull(r)) {
      z[r] = StringRef{};
      return;
    }
    char* p = arena->Allocate(x[r].size);
    if constexpr (kLower) {
      utf8::Lower(x[r].view(), p);
    } else {
      utf8::Upper(x[r].view(), p);
    }
    z[r] = StringRef{p, x[r].size};
  });
}

void LengthKernel(const Vector& a, Rows rows, Vector* out) {
  const StringRef* x = a.data<StringRef>();
  int64_t* z = out->data<int64_t>();
  bool has_nulls = PropagateNulls(a, rows, out);
  ForEachRow(rows, [&](uint32_t r) {
    z[r] = has_nulls && out->IsNull(r) ? 0 : static_cast<int64_t>(utf8::Length(x[r].view()));
  });
}

Status SubstrKernel(std::span<const Vector* const> args, Rows rows, Vector* out, StringArena* arena) {
  const StringRef* x = args[0]->data<StringRef>();
  const int64_t* start = args[1]->data<int64_t>();
  const int64_t* count = args.size() > 2 ? args[2]->data<int64_t>() : nullptr;
  StringRef* z = out->data<StringRef>();
  bool has_nulls = PropagateNulls(args, rows, out);
  for (size_t i = 0; i < rows.count; ++i) {
    uint32_t r = rows.sel == nullptr ? static_cast<uint32_t>(i) : rows.sel[i];
    if (has_nulls && out->IsNull(r)) {
      z[r] = StringRef{};
      continue;
    }
    // Characters [start, start + count) of the 1-based string, clipped to it (PostgreSQL:
    // positions before 1 still consume the count).
    int64_t s = start[r];
    int64_t end = std::numeric_limits<int64_t>::max();
    if (count != nullptr) {
      if (count[r] < 0) return Status::InvalidArgument("negative substring length not allowed");
      if (__builtin_add_overflow(s, count[r], &end)) end = std::numeric_limits<int64_t>::max();
    }
    int64_t from = s < 1 ? 1 : s;
    std::string_view v = x[r].view();
    if (end <= from) {
      z[r] = StringRef{v.data(), 0};
      continue;
    }
    size_t b0 = utf8::Skip(v, 0, static_cast<uint64_t>(from - 1));
    size_t b1 = end == std::numeric_limits<int64_t>::max() ? v.size() : utf8::Skip(v, b0, static_cast<uint64_t>(end - from));
    z[r] = arena->Add(v.substr(b0, b1 - b0));
  }
  return Status::Ok();
}

// concat() skips NULLs (never NULL itself); || is NULL when either side is.
void ConcatKernel(bool skip_nulls, std::span<const Vector* const> args, Rows rows, Vector* out, StringArena* arena) {
  StringRef* z = out->data<StringRef>();
  bool has_nulls = !skip_nulls && PropagateNulls(args, rows, out);
  ForEachRow(rows, [&](uint32_t r) {
    if (has_nulls && out->IsNull(r)) {
      z[r] = StringRef{};
      return;
    }
    size_t total = 0;
    for (const Vector* a : args) {
      if (!a->IsNull(r)) total += a->data<StringRef>()[r].size;
    }
    char* p = arena->Allocate(total);
    size_t pos = 0;
    for (const Vector* a : args) {
      if (a->IsNull(r)) continue;
      const StringRef& s = a->data<StringRef>()[r];
      if (s.size != 0) std::memcpy(p + pos, s.data, s.size);
      pos += s.size;
    }
    z[r] = StringRef{p, total};
  });
}

// The n-th field (1-based; negative counts from the end, as PostgreSQL 14+).
std::string_view SplitPart(std::string_view s, std::string_view delim, int64_t n) {
  if (delim.empty()) return n == 1 || n == -1 ? s : std::string_view();
  if (n > 0) {
    size_t begin = 0;
    for (int64_t field = 1; field < n; ++field) {
      size_t at = s.find(delim, begin);
      if (at == std::string_view::npos) return {};
      begin = at + delim.size();
    }
    size_t end = s.find(delim, begin);
    return s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
  }
  size_t end = s.size();
  for (int64_t field = -1; field > n; --field) {
    if (end < delim.size()) return {};
    size_t at = s.rfind(delim, end - delim.size());
    if (at == std::string_view::npos) return {};
    end = at;
  }
  size_t begin = 0;
  if (end >= delim.size()) {
    size_t at = s.rfind(delim, end - delim.size());
    if (at != std::string_view::npos) begin = at + delim.size();
  }
  return s.substr(begin, end - begin);
}

Status SplitPartKernel(std::span<const Vector* const> args, Rows rows, Vector* out, StringArena* arena) {
  const StringRef* x = args[0]->data<StringRef>();
  const StringRef* d = args[1]->data<StringRef>();
  const int64_t* n = args[2]->data<int64_t>();
  StringRef* z = out->data<StringRef>();
  bool has_nulls = PropagateNulls(args, rows, out);
  for (size_t i = 0; i < rows.count; ++i) {
    uint32_t r = rows.sel == nullptr ? static_cast<uint32_t>(i) : rows.sel[i];
    if (has_nulls && out->IsNull(r)) {
      z[r] = StringRef{};
      continue;
    }
    if (n[r] == 0) return Status::InvalidArgument("field position must not be zero");
    z[r] = arena->Add(SplitPart(x[r].view(), d[r].view(), n[r]));
  }
  return Status::Ok();
}

}  // namespace

Status StringKernel(ScalarFn fn, std::span<const Vector* const> args, Rows rows, Vector* out, StringArena* arena) {
  switch (fn) {
    case ScalarFn::kLower: CaseKernel<true>(*args[0], rows, out, arena); return Status::Ok();
    case ScalarFn::kUpper: CaseKernel<false>(*args[0], rows, out, arena); return Status::Ok();
    case ScalarFn::kLength: LengthKernel(*args[0], rows, out); return Status::Ok();
    case ScalarFn::kSubstr: return SubstrKernel(args, rows, out, arena);
    case ScalarFn::kConcat: ConcatKernel(true, args, rows, out, arena); return Status::Ok();
    case ScalarFn::kConcatOp: ConcatKernel(false, args, rows, out, arena); return Status::Ok();
    case ScalarFn::kSplitPart: return SplitPartKernel(args, rows, out, arena);
    default: return Status::Internal("not a string function");
  }
}

void LikeKernel(LikeState* state, const Vector& s, const Vector& pattern, Rows rows, Vector* out) {
  const StringRef* x = s.data<StringRef>();
  const StringRef* p = pattern.data<StringRef>();
  uint8_t* z = out->data<uint8_t>();
  bool has_nulls = PropagateNulls(s, pattern, rows, out);
  auto fold = [state](std::string_view v) {
    if (state->folded.size() < v.size()) state->folded.resize(v.size() * 2);
    utf8::Lower(v, state->folded.data());
    return std::string_view(state->folded.data(), v.size());
  };
  ForEachRow(rows, [&](uint32_t r) {
    if (has_nulls && out->IsNull(r)) {
      z[r] = 0;
      return;
    }
    if (!state->constant_pattern) {
      state->matcher.Compile(state->case_insensitive ? fold(p[r].view()) : p[r].view());
    }
    z[r] = state->matcher.Match(state->case_insensitive ? fold(x[r].view()) : x[r].view());
  });
}

}  // namespace sluice::exec
