#include "sql/value_text.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "common/time_format.h"

namespace sluice::sql {

namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

char* PutDigits(char* p, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

// At least `min_width` digits, more when the value needs them.
char* PutUnsigned(char* p, uint64_t v, int min_width) {
  int width = 1;
  for (uint64_t t = v; t >= 10; t /= 10) ++width;
  return PutDigits(p, v, width > min_width ? width : min_width);
}

char* PutSigned(char* p, int64_t v) {
  if (v < 0) *p++ = '-';
  uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  return PutUnsigned(p, mag, 1);
}

char* PutString(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// ".123" for 123000 microseconds; nothing for 0.
char* PutFraction(char* p, uint64_t micros) {
  if (micros == 0) return p;
  int width = 6;
  while (micros % 10 == 0) {
    micros /= 10;
    --width;
  }
  *p++ = '.';
  return PutDigits(p, micros, width);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

Status SyntaxError(std::string_view type, std::string_view text) {
  return Status::InvalidArgument(fmt::format("invalid input syntax for type {}: \"{}\"", type, text));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// True if `s` is a non-empty, case-insensitive prefix of `word` of at least `min_len` bytes.
bool IsPrefixOf(std::string_view s, std::string_view word, size_t min_len) {
  return s.size() >= min_len && s.size() <= word.size() && EqualsIgnoreCase(s, word.substr(0, s.size()));
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Rejects dates such as 2026-02-30 that the shared timestamp parser would roll over.
Status CheckDayOfMonth(std::string_view text) {
  auto digit = [&](size_t i) { return text[i] - '0'; };
  int64_t y = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
  unsigned m = static_cast<unsigned>(digit(5) * 10 + digit(6));
  unsigned d = static_cast<unsigned>(digit(8) * 10 + digit(9));
  if (d > DaysInMonth(y, m)) {
    return Status::InvalidArgument(fmt::format("date/time field value out of range: \"{}\"", text));
  }
  return Status::Ok();
}

}  // namespace

__int128 Pow10(int n) {
  static const auto kTable = [] {
    struct T {
      __int128 v[39];
    } t{};
    t.v[0] = 1;
    for (int i = 1; i < 39; ++i) t.v[i] = t.v[i - 1] * 10;
    return t;
  }();
  return kTable.v[n];
}

size_t FormatBoolean(bool b, char* out) {
  return static_cast<size_t>(PutString(out, b ? "true" : "false") - out);
}

size_t FormatInt64(int64_t v, char* out) { return static_cast<size_t>(PutSigned(out, v) - out); }

size_t FormatDouble(double v, char* out) {
  char* p = out;
  if (std::isnan(v)) return static_cast<size_t>(PutString(p, "NaN") - out);
  if (std::isinf(v)) return static_cast<size_t>(PutString(p, v < 0 ? "-Infinity" : "Infinity") - out);
  // Shortest digits that read back to the same double, then PostgreSQL's (printf %g-like)
  // layout: fixed notation for decimal exponents in [-4, 15), else d.ddde+XX.
  char sci[40];
  auto [end, ec] = std::to_chars(sci, sci + sizeof(sci), v, std::chars_format::scientific);
  const char* s = sci;
  if (*s == '-') *p++ = *s++;
  char digits[24];
  int n = 0;
  for (; *s != 'e'; ++s) {
    if (*s != '.') digits[n++] = *s;
  }
  int exp = 0;
  std::from_chars(s[1] == '+' ? s + 2 : s + 1, end, exp);
  if (exp >= -4 && exp < 15) {
    if (exp < 0) {
      *p++ = '0';
      *p++ = '.';
      for (int i = 0; i < -exp - 1; ++i) *p++ = '0';
      for (int i = 0; i < n; ++i) *p++ = digits[i];
    } else {
      for (int i = 0; i <= exp; ++i) *p++ = i < n ? digits[i] : '0';
      if (n > exp + 1) {
        *p++ = '.';
        for (int i = exp + 1; i < n; ++i) *p++ = digits[i];
      }
    }
  } else {
    *p++ = digits[0];
    if (n > 1) {
      *p++ = '.';
      for (int i = 1; i < n; ++i) *p++ = digits[i];
    }
    *p++ = 'e';
    *p++ = exp < 0 ? '-' : '+';
    p = PutUnsigned(p, static_cast<uint64_t>(exp < 0 ? -exp : exp), 2);
  }
  return static_cast<size_t>(p - out);
}

size_t FormatDecimal(__int128 scaled, int scale, char* out) {
  char* p = out;
  unsigned __int128 mag = scaled < 0 ? -static_cast<unsigned __int128>(scaled) : static_cast<unsigned __int128>(scaled);
  if (scaled < 0) *p++ = '-';
  char rev[48];
  int n = 0;
  do {
    rev[n++] = static_cast<char>('0' + static_cast<int>(mag % 10));
    mag /= 10;
  } while (mag != 0);
  while (n <= scale) rev[n++] = '0';  // at least one integer digit
  for (int i = n - 1; i >= 0; --i) {
    *p++ = rev[i];
    if (i == scale && scale > 0) *p++ = '.';
  }
  return static_cast<size_t>(p - out);
}

namespace {

char* PutDate(char* p, int64_t days, bool* bc) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  *bc = y <= 0;
  p = PutUnsigned(p, static_cast<uint64_t>(y <= 0 ? 1 - y : y), 4);
  *p++ = '-';
  p = PutDigits(p, m, 2);
  *p++ = '-';
  return PutDigits(p, d, 2);
}

}  // namespace

size_t FormatDate(int32_t days, char* out) {
  bool bc;
  char* p = PutDate(out, days, &bc);
  if (bc) p = PutString(p, " BC");
  return static_cast<size_t>(p - out);
}

size_t FormatTimestamp(int64_t micros, bool with_zone, char* out) {
  int64_t days = FloorDiv(micros, kMicrosPerDay);
  uint64_t rem = static_cast<uint64_t>(micros - days * kMicrosPerDay);
  bool bc;
  char* p = PutDate(out, days, &bc);
  *p++ = ' ';
  uint64_t secs = rem / kMicrosPerSecond;
  p = PutDigits(p, secs / 3600, 2);
  *p++ = ':';
  p = PutDigits(p, secs / 60 % 60, 2);
  *p++ = ':';
  p = PutDigits(p, secs % 60, 2);
  p = PutFraction(p, rem % kMicrosPerSecond);
  if (with_zone) p = PutString(p, "+00");
  if (bc) p = PutString(p, " BC");
  return static_cast<size_t>(p - out);
}

size_t FormatInterval(const Interval& v, char* out) {
  // PostgreSQL's "postgres" IntervalStyle: each non-zero field with its unit; after a negative
  // field, positive ones carry an explicit '+'.
  char* p = out;
  bool any = false, negative_before = false;
  auto field = [&](int64_t value, std::string_view unit) {
    if (value == 0) return;
    if (any) *p++ = ' ';
    if (negative_before && value > 0) *p++ = '+';
    p = PutSigned(p, value);
    *p++ = ' ';
    p = PutString(p, unit);
    if (value != 1) *p++ = 's';
    negative_before |= value < 0;
    any = true;
  };
  field(v.months / 12, "year");
  field(v.months % 12, "mon");
  field(v.days, "day");
  if (v.micros != 0 || !any) {
    if (any) *p++ = ' ';
    if (v.micros < 0) {
      *p++ = '-';
    } else if (negative_before) {
      *p++ = '+';
    }
    uint64_t mag = v.micros < 0 ? 0 - static_cast<uint64_t>(v.micros) : static_cast<uint64_t>(v.micros);
    uint64_t secs = mag / kMicrosPerSecond;
    p = PutUnsigned(p, secs / 3600, 2);
    *p++ = ':';
    p = PutDigits(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = PutDigits(p, secs % 60, 2);
    p = PutFraction(p, mag % kMicrosPerSecond);
  }
  return static_cast<size_t>(p - out);
}

Result<bool> ParseBoolean(std::string_view text) {
  std::string_view s = Trim(text);
  if (!s.empty()) {
    switch (s[0]) {
      case 't': case 'T': if (IsPrefixOf(s, "true", 1)) return true; break;
      case 'f': case 'F': if (IsPrefixOf(s, "false", 1)) return false; break;
      case 'y': case 'Y': if (IsPrefixOf(s, "yes", 1)) return true; break;
      case 'n': case 'N': if (IsPrefixOf(s, "no", 1)) return false; break;
      case 'o': case 'O':
        if (IsPrefixOf(s, "on", 2)) return true;
        if (IsPrefixOf(s, "off", 2)) return false;
        break;
      case '1': if (s.size() == 1) return true; break;
      case '0': if (s.size() == 1) return false; break;
      default: break;
    }
  }
  return SyntaxError("boolean", text);
}

namespace {

template <typename T>
Result<T> ParseInteger(std::string_view text, std::string_view type_name) {
  std::string_view s = Trim(text);
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i == s.size()) return SyntaxError(type_name, text);
  uint64_t limit = negative ? static_cast<uint64_t>(std::numeric_limits<T>::max()) + 1
                            : static_cast<uint64_t>(std::numeric_limits<T>::max());
  uint64_t v = 0;
  bool overflow = false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return SyntaxError(type_name, text);
    uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (limit - digit) / 10) overflow = true;
    if (!overflow) v = v * 10 + digit;
  }
  if (overflow) {
    return Status::InvalidArgument(fmt::format("value \"{}\" is out of range for type {}", text, type_name));
  }
  return negative ? static_cast<T>(0 - v) : static_cast<T>(v);
}

}  // namespace

Result<int32_t> ParseInt32(std::string_view text) { return ParseInteger<int32_t>(text, "integer"); }
Result<int64_t> ParseInt64(std::string_view text) { return ParseInteger<int64_t>(text, "bigint"); }

Result<double> ParseDouble(std::string_view text) {
  std::string_view s = Trim(text);
  bool negative = false;
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty() || body[0] == '+' || body[0] == '-') return SyntaxError("double precision", text);
  if (EqualsIgnoreCase(body, "infinity") || EqualsIgnoreCase(body, "inf")) {
    return negative ? -HUGE_VAL : HUGE_VAL;
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ptr != body.data() + body.size() || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return SyntaxError("double precision", text);
  }
  if (ec == std::errc::result_out_of_range) {
    return Status::InvalidArgument(fmt::format("\"{}\" is out of range for type double precision", text));
  }
  return negative ? -v : v;
}

Result<__int128> ParseDecimal(std::string_view text, int precision, int scale) {
  std::string_view s = Trim(text);
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  // mantissa * 10^exponent, keeping at most 38 significant digits (later ones cannot matter:
  // either the value overflows or they are rounded away).
  unsigned __int128 mantissa = 0;
  int mantissa_digits = 0;
  int64_t exponent = 0;
  bool any_digit = false, in_fraction = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (mantissa_digits < 38) {
        if (mantissa != 0 || c != '0') {
          mantissa = mantissa * 10 + static_cast<unsigned>(c - '0');
          ++mantissa_digits;
        }
        if (in_fraction) --exponent;
      } else if (!in_fraction) {
        ++exponent;
      }
    } else if (c == '.' && !in_fraction) {
      in_fraction = true;
    } else {
      break;
    }
  }
  if (!any_digit) return SyntaxError("numeric", text);
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    int e = 0;
    const char* begin = s.data() + i + 1;
    if (begin < s.data() + s.size() && *begin == '+') ++begin;
    auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), e);
    if (ec != std::errc() || ptr != s.data() + s.size() || e > 1000 || e < -1000) {
      return SyntaxError("numeric", text);
    }
    exponent += e;
    i = s.size();
  }
  if (i != s.size()) return SyntaxError("numeric", text);
  auto overflow = [] { return Status::InvalidArgument("numeric field overflow"); };
  int64_t shift = exponent + scale;
  unsigned __int128 v;
  if (mantissa == 0) {
    v = 0;
  } else if (shift >= 0) {
    if (shift > 38) return overflow();
    unsigned __int128 p = static_cast<unsigned __int128>(Pow10(static_cast<int>(shift)));
    if (__builtin_mul_overflow(mantissa, p, &v)) return overflow();
  } else if (shift < -38) {
    v = 0;
  } else {
    unsigned __int128 p = static_cast<unsigned __int128>(Pow10(static_cast<int>(-shift)));
    v = mantissa / p;
    if (mantissa % p >= p / 2) ++v;  // p is a power of ten >= 10: half away from zero
  }
  if (v >= static_cast<unsigned __int128>(Pow10(precision))) return overflow();
  return negative ? -static_cast<__int128>(v) : static_cast<__int128>(v);
}

namespace {

// PostgreSQL accepts "YYYY-MM-DD hh:mm" without seconds; the shared parser wants them.
std::string_view AddMissingSeconds(std::string_view s, char* buf, size_t buf_size) {
  constexpr size_t kMinutesEnd = 16;  // "YYYY-MM-DD hh:mm"
  if (s.size() < kMinutesEnd || s[13] != ':' || s.size() + 3 > buf_size) return s;
  if (s.size() > kMinutesEnd && s[kMinutesEnd] == ':') return s;
  std::memcpy(buf, s.data(), kMinutesEnd);
  std::memcpy(buf + kMinutesEnd, ":00", 3);
  std::memcpy(buf + kMinutesEnd + 3, s.data() + kMinutesEnd, s.size() - kMinutesEnd);
  return std::string_view(buf, s.size() + 3);
}

}  // namespace

Result<int64_t> ParseTimestamp(std::string_view text, bool with_zone) {
  char buf[64];
  std::string_view s = AddMissingSeconds(Trim(text), buf, sizeof(buf));
  auto parsed = ParseTimestampMicros(s, /*require_zone=*/false);
  if (!parsed.ok()) return SyntaxError(with_zone ? "timestamp with time zone" : "timestamp", text);
  SLUICE_RETURN_IF_ERROR(CheckDayOfMonth(s));
  return *parsed;
}

Result<int32_t> ParseDate(std::string_view text) {
  char buf[64];
  std::string_view s = AddMissingSeconds(Trim(text), buf, sizeof(buf));
  auto parsed = ParseTimestampMicros(s, /*require_zone=*/false);
  if (!parsed.ok()) return SyntaxError("date", text);
  SLUICE_RETURN_IF_ERROR(CheckDayOfMonth(s));
  return static_cast<int32_t>(FloorDiv(*parsed, kMicrosPerDay));
}

namespace {

struct IntervalUnit {
  std::string_view names[6];
  int64_t months = 0;  // exactly one of months, days, micros is non-zero
  int64_t days = 0;
  int64_t micros = 0;
};

constexpr IntervalUnit kIntervalUnits[] = {
    {{"microsecond", "microseconds", "us", "usec", "usecs", "useconds"}, 0, 0, 1},
    {{"millisecond", "milliseconds", "ms", "msec", "msecs", "mseconds"}, 0, 0, 1000},
    {{"second", "seconds", "s", "sec", "secs"}, 0, 0, kMicrosPerSecond},
    {{"minute", "minutes", "m", "min", "mins"}, 0, 0, 60 * kMicrosPerSecond},
    {{"hour", "hours", "h", "hr", "hrs"}, 0, 0, 3600 * kMicrosPerSecond},
    {{"day", "days", "d"}, 0, 1, 0},
    {{"week", "weeks", "w"}, 0, 7, 0},
    {{"month", "months", "mon", "mons"}, 1, 0, 0},
    {{"year", "years", "y", "yr", "yrs"}, 12, 0, 0},
    {{"decade", "decades"}, 120, 0, 0},
    {{"century", "centuries"}, 1200, 0, 0},
    {{"millennium", "millennia", "millenniums"}, 12000, 0, 0},
};

const IntervalUnit* FindIntervalUnit(std::string_view word) {
  for (const IntervalUnit& u : kIntervalUnits) {
    for (std::string_view name : u.names) {
      if (!name.empty() && EqualsIgnoreCase(word, name)) return &u;
    }
  }
  return nullptr;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Reads digits [. digits] at *pos into whole and fraction parts; false if there are none.
bool ReadNumber(std::string_view s, size_t* pos, int64_t* whole, double* fraction) {
  size_t start = *pos;
  int64_t w = 0;
  while (*pos < s.size() && IsDigit(s[*pos])) {
    if (__builtin_mul_overflow(w, 10, &w) || __builtin_add_overflow(w, s[*pos] - '0', &w)) return false;
    ++*pos;
  }
  double f = 0, scale = 0.1;
  if (*pos < s.size() && s[*pos] == '.') {
    ++*pos;
    while (*pos < s.size() && IsDigit(s[*pos])) {
      f += (s[*pos] - '0') * scale;
      scale /= 10;
      ++*pos;
    }
  }
  *whole = w;
  *fraction = f;
  return *pos > start && !(*pos == start + 1 && s[start] == '.');
}

}  // namespace

Result<Interval> ParseInterval(std::string_view text) {
  std::string_view s = Trim(text);
  auto bad = [&] { return SyntaxError("interval", text); };
  auto range = [&] {
    return Status::InvalidArgument(fmt::format("interval field value out of range: \"{}\"", text));
  };
  int64_t months = 0, days = 0, micros = 0;
  size_t pos = 0;
  bool any = false, ago = false;
  auto skip_spaces = [&] {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
  };
  skip_spaces();
  if (pos < s.size() && s[pos] == '@') ++pos;
  while (true) {
    skip_spaces();
    if (pos == s.size()) break;
    if (ago) return bad();
    if (IsAlpha(s[pos])) {
      size_t start = pos;
      while (pos < s.size() && IsAlpha(s[pos])) ++pos;
      if (!any || !EqualsIgnoreCase(s.substr(start, pos - start), "ago")) return bad();
      ago = true;
      continue;
    }
    int sign = 1;
    if (s[pos] == '+' || s[pos] == '-') sign = s[pos++] == '-' ? -1 : 1;
    int64_t whole;
    double fraction;
    if (!ReadNumber(s, &pos, &whole, &fraction)) return bad();
    if (pos < s.size() && s[pos] == ':') {
      // hh:mm[:ss[.ffffff]]
      int64_t minutes, seconds = 0;
      double minute_fraction, second_fraction = 0;
      ++pos;
      if (fraction != 0 || !ReadNumber(s, &pos, &minutes, &minute_fraction) || minute_fraction != 0) return bad();
      if (pos < s.size() && s[pos] == ':') {
        ++pos;
        if (!ReadNumber(s, &pos, &seconds, &second_fraction)) return bad();
      }
      if (minutes > 59 || seconds > 59) return range();
      int64_t t;
      if (__builtin_mul_overflow(whole, 3600 * kMicrosPerSecond, &t)) return range();
      t += (minutes * 60 + seconds) * kMicrosPerSecond + std::llround(second_fraction * kMicrosPerSecond);
      if (__builtin_add_overflow(micros, sign * t, &micros)) return range();
      any = true;
      continue;
    }
    skip_spaces();
    size_t start = pos;
    while (pos < s.size() && IsAlpha(s[pos])) ++pos;
    std::string_view word = s.substr(start, pos - start);
    const IntervalUnit* unit = word.empty() ? &kIntervalUnits[2] : FindIntervalUnit(word);
    if (unit == nullptr) {
      if (EqualsIgnoreCase(word, "ago") && (whole != 0 || fraction != 0)) {
        unit = &kIntervalUnits[2];  // "10 ago": seconds
        pos = start;
      } else {
        return bad();
      }
    }
    // Fractions spill into smaller units as PostgreSQL does (a month is 30 days here).
    int64_t add_months = 0, add_days = 0, add_micros = 0;
    double spill_days = 0, spill_micros = 0;
    if (unit->months != 0) {
      if (__builtin_mul_overflow(whole, unit->months, &add_months)) return range();
      double m = fraction * static_cast<double>(unit->months);
      add_months += static_cast<int64_t>(m);
      spill_days = (m - std::trunc(m)) * 30;
    } else if (unit->days != 0) {
      if (__builtin_mul_overflow(whole, unit->days, &add_days)) return range();
      spill_days = fraction * static_cast<double>(unit->days);
    } else {
      if (__builtin_mul_overflow(whole, unit->micros, &add_micros)) return range();
      spill_micros = fraction * static_cast<double>(unit->micros);
    }
    add_days += static_cast<int64_t>(spill_days);
    spill_micros += (spill_days - std::trunc(spill_days)) * static_cast<double>(kMicrosPerDay);
    add_micros += std::llround(spill_micros);
    months += sign * add_months;
    days += sign * add_days;
    if (__builtin_add_overflow(micros, sign * add_micros, &micros)) return range();
    any = true;
  }
  if (!any) return bad();
  if (ago) {
    months = -months;
    days = -days;
    micros = -micros;
  }
  if (months < INT32_MIN || months > INT32_MAX || days < INT32_MIN || days > INT32_MAX) return range();
  return Interval{static_cast<int32_t>(months), static_cast<int32_t>(days), micros};
}

std::string QuoteSqlString(std::string_view s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') out.push_back('\'');
    out.push_back(ch);
  }
  out.push_back('\'');
  return out;
}

}  // namespace sluice::sql
