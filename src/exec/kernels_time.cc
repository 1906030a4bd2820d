// Time kernels: date_trunc, extract, timestamp +/- interval, timestamp - timestamp,
// to_timestamp. Timestamps are microseconds since 1970-01-01 UTC; years are proleptic
// Gregorian with astronomical numbering internally (0 = 1 BC), PostgreSQL's at the edges.

#include <cmath>

#include "common/time_format.h"
#include "exec/kernels.h"

namespace sluice::exec {

using sql::ScalarFn;
using sql::TypeId;

namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;
constexpr int64_t kMicrosPerHour = 60 * kMicrosPerMinute;
constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

struct Civil {
  int64_t days;  // since epoch
  int64_t year;
  unsigned month, day;
  int64_t time;  // microseconds into the day
};

Civil ToCivil(int64_t micros) {
  Civil c;
  c.days = FloorDiv(micros, kMicrosPerDay);
  c.time = micros - c.days * kMicrosPerDay;
  CivilFromDays(c.days, &c.year, &c.month, &c.day);
  return c;
}

int64_t DayOfWeek(int64_t days) { return FloorMod(days + 4, 7); }  // 0 = Sunday; 1970-01-01 was a Thursday

// ISO 8601 week-numbering year and week of a day.
void IsoWeek(int64_t days, int64_t* iso_year, int64_t* week) {
  int64_t thursday = days - FloorMod(days + 3, 7) + 3;  // the Thursday of the same Monday-based week
  int64_t y;
  unsigned m, d;
  CivilFromDays(thursday, &y, &m, &d);
  *iso_year = y;
  *week = (thursday - DaysFromCivil(y, 1, 1)) / 7 + 1;
}

int64_t TruncYear(TimeUnit unit, int64_t y) {
  switch (unit) {
    case TimeUnit::kDecade: return y > 0 ? y / 10 * 10 : -((8 - (y - 1)) / 10) * 10;
    case TimeUnit::kCentury: return y > 0 ? (y + 99) / 100 * 100 - 99 : -((99 - (y - 1)) / 100) * 100 + 1;
    case TimeUnit::kMillennium: return y > 0 ? (y + 999) / 1000 * 1000 - 999 : -((999 - (y - 1)) / 1000) * 1000 + 1;
    default: return y;
  }
}

template <TimeUnit kUnit>
int64_t Trunc(int64_t t) {
  if constexpr (kUnit == TimeUnit::kMicroseconds) return t;
  if constexpr (kUnit == TimeUnit::kMilliseconds) return FloorDiv(t, 1000) * 1000;
  if constexpr (kUnit == TimeUnit::kSecond) return FloorDiv(t, kMicrosPerSecond) * kMicrosPerSecond;
  if constexpr (kUnit == TimeUnit::kMinute) return FloorDiv(t, kMicrosPerMinute) * kMicrosPerMinute;
  if constexpr (kUnit == TimeUnit::kHour) return FloorDiv(t, kMicrosPerHour) * kMicrosPerHour;
  if constexpr (kUnit == TimeUnit::kDay) return FloorDiv(t, kMicrosPerDay) * kMicrosPerDay;
  if constexpr (kUnit == TimeUnit::kWeek) {
    int64_t days = FloorDiv(t, kMicrosPerDay);
    return (days - FloorMod(days + 3, 7)) * kMicrosPerDay;  // back to Monday
  }
  Civil c = ToCivil(t);
  unsigned month = 1;
  if constexpr (kUnit == TimeUnit::kMonth) month = c.month;
  if constexpr (kUnit == TimeUnit::kQuarter) month = (c.month - 1) / 3 * 3 + 1;
  return DaysFromCivil(TruncYear(kUnit, c.year), month, 1) * kMicrosPerDay;
}

template <TimeUnit kUnit>
void TruncLoop(const Vector& ts, Rows rows, Vector* out) {
  const int64_t* x = ts.data<int64_t>();
  int64_t* z = out->data<int64_t>();
  PropagateNulls(ts, rows, out);
  ForEachRow(rows, [&](uint32_t r) { z[r] = Trunc<kUnit>(x[r]); });
}

int64_t PgYear(int64_t y) { return y > 0 ? y : y - 1; }  // PostgreSQL numbers 1 BC as -1

double ExtractTimestamp(TimeUnit unit, int64_t t) {
  Civil c = ToCivil(t);
  int64_t sec_micros = c.time % kMicrosPerMinute;  // seconds field with its fraction
  int64_t y = c.year;
  switch (unit) {
    case TimeUnit::kMicroseconds: return static_cast<double>(sec_micros);
    case TimeUnit::kMilliseconds: return static_cast<double>(sec_micros) / 1000.0;
    case TimeUnit::kSecond: return static_cast<double>(sec_micros) / 1e6;
    case TimeUnit::kMinute: return static_cast<double>(c.time / kMicrosPerMinute % 60);
    case TimeUnit::kHour: return static_cast<double>(c.time / kMicrosPerHour);
    case TimeUnit::kDay: return c.day;
    case TimeUnit::kMonth: return c.month;
    case TimeUnit::kQuarter: return (c.month - 1) / 3 + 1;
    case TimeUnit::kYear: return static_cast<double>(PgYear(y));
    case TimeUnit::kDecade: return static_cast<double>(y >= 0 ? y / 10 : -((8 - (y - 1)) / 10));
    case TimeUnit::kCentury: return static_cast<double>(y > 0 ? (y + 99) / 100 : -((99 - (y - 1)) / 100));
    case TimeUnit::kMillennium: return static_cast<double>(y > 0 ? (y + 999) / 1000 : -((999 - (y - 1)) / 1000));
    case TimeUnit::kDow: return static_cast<double>(DayOfWeek(c.days));
    case TimeUnit::kIsodow: {
      int64_t d = DayOfWeek(c.days);
      return static_cast<double>(d == 0 ? 7 : d);
    }
    case TimeUnit::kDoy: return static_cast<double>(c.days - DaysFromCivil(y, 1, 1) + 1);
    case TimeUnit::kWeek:
    case TimeUnit::kIsoyear: {
      int64_t iso_year, week;
      IsoWeek(c.days, &iso_year, &week);
      return static_cast<double>(unit == TimeUnit::kWeek ? week : PgYear(iso_year));
    }
    case TimeUnit::kEpoch:
      // Whole seconds and the fraction separately, so large values keep their microseconds.
      return static_cast<double>(FloorDiv(t, kMicrosPerSecond)) +
             static_cast<double>(FloorMod(t, kMicrosPerSecond)) / 1e6;
  }
  return 0;
}

double ExtractInterval(TimeUnit unit, const sql::Interval& v) {
  int64_t years = v.months / 12;
  switch (unit) {
    case TimeUnit::kMicroseconds: return static_cast<double>(v.micros % kMicrosPerMinute);
    case TimeUnit::kMilliseconds: return static_cast<double>(v.micros % kMicrosPerMinute) / 1000.0;
    case TimeUnit::kSecond: return static_cast<double>(v.micros % kMicrosPerMinute) / 1e6;
    case TimeUnit::kMinute: return static_cast<double>(v.micros / kMicrosPerMinute % 60);
    case TimeUnit::kHour: return static_cast<double>(v.micros / kMicrosPerHour);
    case TimeUnit::kDay: return v.days;
    case TimeUnit::kMonth: return v.months % 12;
    case TimeUnit::kQuarter: return v.months % 12 / 3 + 1;
    case TimeUnit::kYear: return static_cast<double>(years);
    case TimeUnit::kDecade: return static_cast<double>(years / 10);
    case TimeUnit::kCentury: return static_cast<double>(years / 100);
    case TimeUnit::kMillennium: return static_cast<double>(years / 1000);
    case TimeUnit::kEpoch:
      // PostgreSQL: a year is 365.25 days, a month 30 days.
      return static_cast<double>(years) * 365.25 * 86400 + static_cast<double>(v.months % 12) * 30 * 86400 +
             static_cast<double>(v.days) * 86400 + static_cast<double>(v.micros) / 1e6;
    default: return 0;  // rejected at compile time
  }
}

Status TimestampOutOfRange() { return Status::InvalidArgument("timestamp out of range"); }

// t + sign * iv as PostgreSQL: calendar months first (the day clamped to the target month's
// length), then days, then microseconds.
bool AddInterval(int64_t t, const sql::Interval& iv, int sign, int64_t* out) {
  int64_t months = sign * static_cast<int64_t>(iv.months);
  int64_t days = sign * static_cast<int64_t>(iv.days);
  int64_t micros;
  if (__builtin_mul_overflow(iv.micros, static_cast<int64_t>(sign), &micros)) return false;
  if (months != 0) {
    Civil c = ToCivil(t);
    int64_t m0 = c.year * 12 + (c.month - 1) + months;
    int64_t y = FloorDiv(m0, 12);
    unsigned m = static_cast<unsigned>(FloorMod(m0, 12) + 1);
    unsigned d = std::min(c.day, DaysInMonth(y, m));
    if (y > 300000 || y < -300000) return false;
    t = DaysFromCivil(y, m, d) * kMicrosPerDay + c.time;
  }
  int64_t day_micros;
  return !__builtin_mul_overflow(days, kMicrosPerDay, &day_micros) && !__builtin_add_overflow(t, day_micros, &t) &&
         !__builtin_add_overflow(t, micros, out);
}

}  // namespace

bool ParseTimeUnit(std::string_view name, TimeUnit* unit) {
  struct Entry {
    std::string_view name;
    TimeUnit unit;
  };
  static constexpr Entry kUnits[] = {
      {"microsecond", TimeUnit::kMicroseconds}, {"microseconds", TimeUnit::kMicroseconds},
      {"us", TimeUnit::kMicroseconds},          {"usec", TimeUnit::kMicroseconds},
      {"usecs", TimeUnit::kMicroseconds},       {"millisecond", TimeUnit::kMilliseconds},
      {"milliseconds", TimeUnit::kMilliseconds}, {"ms", TimeUnit::kMilliseconds},
      {"msec", TimeUnit::kMilliseconds},        {"msecs", TimeUnit::kMilliseconds},
      {"second", TimeUnit::kSecond},            {"seconds", TimeUnit::kSecond},
      {"s", TimeUnit::kSecond},                 {"sec", TimeUnit::kSecond},
      {"secs", TimeUnit::kSecond},              {"minute", TimeUnit::kMinute},
      {"minutes", TimeUnit::kMinute},           {"m", TimeUnit::kMinute},
      {"min", TimeUnit::kMinute},               {"mins", TimeUnit::kMinute},
      {"hour", TimeUnit::kHour},                {"hours", TimeUnit::kHour},
      {"h", TimeUnit::kHour},                   {"hr", TimeUnit::kHour},
      {"hrs", TimeUnit::kHour},                 {"day", TimeUnit::kDay},
      {"days", TimeUnit::kDay},                 {"d", TimeUnit::kDay},
      {"week", TimeUnit::kWeek},                {"weeks", TimeUnit::kWeek},
      {"w", TimeUnit::kWeek},                   {"month", TimeUnit::kMonth},
      {"months", TimeUnit::kMonth},             {"mon", TimeUnit::kMonth},
      {"mons", TimeUnit::kMonth},               {"quarter", TimeUnit::kQuarter},
      {"qtr", TimeUnit::kQuarter},              {"year", TimeUnit::kYear},
      {"years", TimeUnit::kYear},               {"y", TimeUnit::kYear},
      {"yr", TimeUnit::kYear},                  {"yrs", TimeUnit::kYear},
      {"decade", TimeUnit::kDecade},            {"decades", TimeUnit::kDecade},
      {"century", TimeUnit::kCentury},          {"centuries", TimeUnit::kCentury},
      {"millennium", TimeUnit::kMillennium},    {"millennia", TimeUnit::kMillennium},
      {"millenniums", TimeUnit::kMillennium},   {"dow", TimeUnit::kDow},
      {"isodow", TimeUnit::kIsodow},            {"doy", TimeUnit::kDoy},
      {"epoch", TimeUnit::kEpoch},              {"isoyear", TimeUnit::kIsoyear},
  };
  char lower[16];
  if (name.size() > sizeof(lower)) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  }
  std::string_view key(lower, name.size());
  for (const Entry& e : kUnits) {
    if (e.name == key) {
      *unit = e.unit;
      return true;
    }
  }
  return false;
}

bool ExtractSupports(TimeUnit unit, TypeId source) {
  switch (source) {
    case TypeId::kTimestamp:
    case TypeId::kTimestamptz: return true;
    case TypeId::kDate:
      return unit != TimeUnit::kMicroseconds && unit != TimeUnit::kMilliseconds && unit != TimeUnit::kSecond &&
             unit != TimeUnit::kMinute && unit != TimeUnit::kHour;
    case TypeId::kInterval:
      return unit != TimeUnit::kDow && unit != TimeUnit::kIsodow && unit != TimeUnit::kDoy &&
             unit != TimeUnit::kWeek && unit != TimeUnit::kIsoyear;
    default: return false;
  }
}

Status DateTruncKernel(TimeUnit unit, const Vector& ts, Rows rows, Vector* out) {
  switch (unit) {
    case TimeUnit::kMicroseconds: TruncLoop<TimeUnit::kMicroseconds>(ts, rows, out); break;
    case TimeUnit::kMilliseconds: TruncLoop<TimeUnit::kMilliseconds>(ts, rows, out); break;
    case TimeUnit::kSecond: TruncLoop<TimeUnit::kSecond>(ts, rows, out); break;
    case TimeUnit::kMinute: TruncLoop<TimeUnit::kMinute>(ts, rows, out); break;
    case TimeUnit::kHour: TruncLoop<TimeUnit::kHour>(ts, rows, out); break;
    case TimeUnit::kDay: TruncLoop<TimeUnit::kDay>(ts, rows, out); break;
    case TimeUnit::kWeek: TruncLoop<TimeUnit::kWeek>(ts, rows, out); break;
    case TimeUnit::kMonth: TruncLoop<TimeUnit::kMonth>(ts, rows, out); break;
    case TimeUnit::kQuarter: TruncLoop<TimeUnit::kQuarter>(ts, rows, out); break;
    case TimeUnit::kYear: TruncLoop<TimeUnit::kYear>(ts, rows, out); break;
    case TimeUnit::kDecade: TruncLoop<TimeUnit::kDecade>(ts, rows, out); break;
    case TimeUnit::kCentury: TruncLoop<TimeUnit::kCentury>(ts, rows, out); break;
    case TimeUnit::kMillennium: TruncLoop<TimeUnit::kMillennium>(ts, rows, out); break;
    default: return Status::Internal("not a date_trunc unit");
  }
  return Status::Ok();
}

void ExtractKernel(TimeUnit unit, const Vector& source, Rows rows, Vector* out) {
  double* z = out->data<double>();
  PropagateNulls(source, rows, out);
  switch (source.type().id) {
    case TypeId::kTimestamp:
    case TypeId::kTimestamptz: {
      const int64_t* x = source.data<int64_t>();
      ForEachRow(rows, [&](uint32_t r) { z[r] = ExtractTimestamp(unit, x[r]); });
      break;
    }
    case TypeId::kDate: {
      const int32_t* x = source.data<int32_t>();
      ForEachRow(rows, [&](uint32_t r) { z[r] = ExtractTimestamp(unit, x[r] * kMicrosPerDay); });
      break;
    }
    case TypeId::kInterval: {
      const sql::Interval* x = source.data<sql::Interval>();
      ForEachRow(rows, [&](uint32_t r) { z[r] = ExtractInterval(unit, x[r]); });
      break;
    }
    default: break;
  }
}

Status TimeKernel(ScalarFn fn, std::span<const Vector* const> args, Rows rows, Vector* out) {
  bool has_nulls = PropagateNulls(args, rows, out);
  Status error;
  auto each = [&](auto&& f) {
    for (size_t i = 0; i < rows.count; ++i) {
      uint32_t r = rows.sel == nullptr ? static_cast<uint32_t>(i) : rows.sel[i];
      if (has_nulls && out->IsNull(r)) continue;
      if (!f(r)) return false;
    }
    return true;
  };
  switch (fn) {
    case ScalarFn::kTimestampAddInterval:
    case ScalarFn::kTimestampSubInterval: {
      const int64_t* t = args[0]->data<int64_t>();
      const sql::Interval* iv = args[1]->data<sql::Interval>();
      int64_t* z = out->data<int64_t>();
      int sign = fn == ScalarFn::kTimestampAddInterval ? 1 : -1;
      if (!each([&](uint32_t r) { return AddInterval(t[r], iv[r], sign, &z[r]); })) return TimestampOutOfRange();
      return Status::Ok();
    }
    case ScalarFn::kTimestampDiff: {
      const int64_t* a = args[0]->data<int64_t>();
      const int64_t* b = args[1]->data<int64_t>();
      sql::Interval* z = out->data<sql::Interval>();
      bool ok = each([&](uint32_t r) {
        int64_t diff;
        if (__builtin_sub_overflow(a[r], b[r], &diff)) return false;
        // Whole 24-hour periods become days (truncated toward zero), the rest microseconds.
        z[r] = sql::Interval{0, static_cast<int32_t>(diff / kMicrosPerDay), diff % kMicrosPerDay};
        return true;
      });
      return ok ? Status::Ok() : Status::InvalidArgument("interval out of range");
    }
    case ScalarFn::kToTimestamp: {
      const double* s = args[0]->data<double>();
      int64_t* z = out->data<int64_t>();
      bool ok = each([&](uint32_t r) {
        if (std::isnan(s[r])) {
          error = Status::InvalidArgument("timestamp cannot be NaN");
          return false;
        }
        double us = std::nearbyint(s[r] * 1e6);  // PostgreSQL rounds with rint()
        if (!(us >= -9.2e18 && us <= 9.2e18)) {
          error = TimestampOutOfRange();
          return false;
        }
        z[r] = static_cast<int64_t>(us);
        return true;
      });
      return ok ? Status::Ok() : error;
    }
    default: return Status::Internal("not a time function");
  }
}

}  // namespace sluice::exec
