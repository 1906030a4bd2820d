#include "common/time_format.h"

#include <cctype>

#include <fmt/format.h>

namespace sluice {

// Howard Hinnant's civil-calendar algorithms (public domain description of the arithmetic).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

void AppendRfc3339(std::string* out, TimestampMs ts) {
  int64_t ms = ts.value();
  int64_t days = ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
  int64_t rem = ms - days * 86'400'000;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  fmt::format_to(std::back_inserter(*out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", y, m, d,
                 rem / 3'600'000, rem / 60'000 % 60, rem / 1000 % 60, rem % 1000);
}

std::string FormatRfc3339(TimestampMs ts) {
  std::string out;
  out.reserve(24);
  AppendRfc3339(&out, ts);
  return out;
}

namespace {

bool ReadDigits(std::string_view s, size_t* pos, int count, int* out) {
  int v = 0;
  for (int i = 0; i < count; ++i) {
    if (*pos >= s.size() || !std::isdigit(static_cast<unsigned char>(s[*pos]))) return false;
    v = v * 10 + (s[(*pos)++] - '0');
  }
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

}  // namespace

Result<int64_t> ParseTimestampMicros(std::string_view text, bool require_zone) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("invalid timestamp '{}': {}", text, why));
  };
  size_t pos = 0;
  int year, month, day;
  if (!ReadDigits(text, &pos, 4, &year) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &month) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &day)) {
    return bad("expected YYYY-MM-DD");
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return bad("month or day out of range");
  int64_t us = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86'400'000'000LL;
  if (pos == text.size()) return us;
  if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return bad("expected 'T' after the date");
  ++pos;
  int hour, minute, second;
  if (!ReadDigits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &minute) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &second)) {
    return bad("expected hh:mm:ss");
  }
  if (hour > 23 || minute > 59 || second > 60) return bad("time out of range");
  us += (hour * 3600LL + minute * 60LL + second) * 1'000'000LL;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    int64_t frac = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (digits < 6) frac = frac * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad("empty fraction");
    for (int i = digits; i < 6; ++i) frac *= 10;
    us += frac;
  }
  if (pos >= text.size()) {
    if (require_zone) return bad("missing time zone ('Z' or +hh:mm)");
    return us;
  }
  char z = text[pos++];
  if (z == 'Z' || z == 'z') {
    // UTC
  } else if (z == '+' || z == '-') {
    int oh, om = 0;
    if (!ReadDigits(text, &pos, 2, &oh)) return bad("expected a +hh:mm offset");
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (pos < text.size() && !ReadDigits(text, &pos, 2, &om)) return bad("expected a +hh:mm offset");
    int64_t offset = (oh * 60 + om) * 60'000'000LL;
    us += z == '+' ? -offset : offset;
  } else {
    return bad("expected 'Z' or +hh:mm after the time");
  }
  if (pos != text.size()) return bad("trailing characters");
  return us;
}

Result<TimestampMs> ParseRfc3339(std::string_view text) {
  SLUICE_ASSIGN_OR_RETURN(int64_t us, ParseTimestampMicros(text, /*require_zone=*/true));
  // Floor division: sub-millisecond digits are truncated towards the past.
  int64_t ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
  return TimestampMs(ms);
}

}  // namespace sluice
