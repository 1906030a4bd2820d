#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sql/types.h"

namespace sluice::sql {

// The text forms of SQL values, as PostgreSQL prints and reads them (sluice runs in UTC).
// Casts to and from VARCHAR (exec/cast.h) and Value::ToString share these, so a value always
// prints the same way.
//
// Formatters write into a caller's buffer of at least kMaxValueTextSize bytes and return the
// length written; they never allocate. Parsers accept surrounding whitespace and return
// kInvalidArgument with PostgreSQL's message ("invalid input syntax for type bigint: \"abc\"",
// "value \"9999999999\" is out of range for type integer", "numeric field overflow").

inline constexpr size_t kMaxValueTextSize = 96;

size_t FormatBoolean(bool b, char* out);                 // "true" / "false" (as ::text)
size_t FormatInt64(int64_t v, char* out);                // "-42"
size_t FormatDouble(double v, char* out);                // shortest round trip: "1.5", "1e+20"
size_t FormatDecimal(__int128 scaled, int scale, char* out);  // exactly `scale` fraction digits
size_t FormatDate(int32_t days, char* out);              // "2026-11-21", "0044-03-15 BC"
// "2026-11-21 22:40:01.123456" with trailing zero fraction digits trimmed; TIMESTAMPTZ adds
// "+00".
size_t FormatTimestamp(int64_t micros, bool with_zone, char* out);
size_t FormatInterval(const Interval& v, char* out);     // "1 year 2 mons 3 days 04:05:06.5"

Result<bool> ParseBoolean(std::string_view text);        // t/true/yes/on/1, f/false/no/off/0
Result<int32_t> ParseInt32(std::string_view text);
Result<int64_t> ParseInt64(std::string_view text);
Result<double> ParseDouble(std::string_view text);       // also NaN, Infinity, -Infinity
// Rounds half away from zero to `scale` digits; "numeric field overflow" if it needs more than
// `precision` digits.
Result<__int128> ParseDecimal(std::string_view text, int precision, int scale);
Result<int32_t> ParseDate(std::string_view text);
Result<int64_t> ParseTimestamp(std::string_view text, bool with_zone);
// "10 seconds", "1 hour 30 minutes", "2 days", "1 day 02:03:04", "-1 mon", "1.5 hours", "90"
// (seconds); units may be abbreviated as PostgreSQL allows (s, sec, min, h, hr, d, mon, y...).
Result<Interval> ParseInterval(std::string_view text);

// 10^n for 0 <= n <= 38.
__int128 Pow10(int n);

// A SQL string literal: 'it''s'.
std::string QuoteSqlString(std::string_view s);


}  // namespace sluice::sql
