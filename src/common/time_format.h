#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "common/types.h"

namespace sluice {

// "2026-11-21T22:40:01.123Z" (UTC, always millisecond precision).
std::string FormatRfc3339(TimestampMs ts);
// Appends the same text to *out without a temporary string.
void AppendRfc3339(std::string* out, TimestampMs ts);

// Parses an RFC 3339 timestamp: date 'T' (or ' ') time, optional fraction (any number of
// digits; below a millisecond truncated), then 'Z' or a +hh:mm / -hh:mm offset.
// Also accepts a bare date ("2026-11-21", midnight UTC).
Result<TimestampMs> ParseRfc3339(std::string_view text);

// The same grammar with microsecond precision; when `require_zone` is false a missing zone
// means UTC (the form "2026-11-21 22:40:01.123" that many event producers write).
Result<int64_t> ParseTimestampMicros(std::string_view text, bool require_zone);

// Days since 1970-01-01 for a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t days, int64_t* y, unsigned* m, unsigned* d);

}  // namespace sluice
