#include "exec/cast.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "exec/kernels.h"
#include "exec/vector_value.h"
#include "sql/value_text.h"

namespace sluice::exec {

using sql::TypeId;

namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000LL;

bool IsNumeric(TypeId t) {
  return t == TypeId::kInt || t == TypeId::kBigint || t == TypeId::kDouble || t == TypeId::kDecimal;
}
bool IsTimestamp(TypeId t) { return t == TypeId::kTimestamp || t == TypeId::kTimestamptz; }

// Applies `f(in_value, &out_value, &error) -> bool` to every non-NULL row; stops at the first
// failure. NULL rows stay NULL.
template <typename In, typename Out, typename F>
Status ConvertLoop(const Vector& in, Rows rows, Vector* out, F&& f) {
  const In* x = in.data<In>();
  Out* z = out->data<Out>();
  bool has_nulls = PropagateNulls(in, rows, out);
  Status error;
  bool ok = true;
  if (!has_nulls && rows.sel == nullptr) {
    for (uint32_t r = 0; r < rows.count && ok; ++r) ok = f(x[r], &z[r], &error);
  } else {
    for (size_t i = 0; i < rows.count && ok; ++i) {
      uint32_t r = rows.sel == nullptr ? static_cast<uint32_t>(i) : rows.sel[i];
      if (has_nulls && out->IsNull(r)) {
        if constexpr (std::is_same_v<Out, StringRef>) z[r] = StringRef{};
        continue;
      }
      ok = f(x[r], &z[r], &error);
    }
  }
  return error;
}

Status IntegerOutOfRange(TypeId t) {
  return Status::InvalidArgument(t == TypeId::kInt ? "integer out of range" : "bigint out of range");
}

// ---- numeric -> numeric ------------------------------------------------------------------

template <typename Out>
bool StoreInteger(__int128 v, Out* out, TypeId target, Status* error) {
  if (v < std::numeric_limits<Out>::min() || v > std::numeric_limits<Out>::max()) {
    *error = IntegerOutOfRange(target);
    return false;
  }
  *out = static_cast<Out>(v);
  return true;
}

template <typename Out>
bool StoreDecimal(__int128 v, __int128 limit, Out* out, Status* error) {
  if (v >= limit || v <= -limit) {
    *error = Status::InvalidArgument("numeric field overflow");
    return false;
  }
  *out = static_cast<Out>(v);
  return true;
}

bool DoubleToScaled(double d, int precision, int scale, __int128* out, Status* error) {
  if (std::isnan(d)) {
    *error = Status::InvalidArgument("cannot convert NaN to numeric");
    return false;
  }
  if (std::isinf(d)) {
    *error = Status::InvalidArgument("cannot convert infinity to numeric");
    return false;
  }
  // Through the shortest decimal text, so 0.1 becomes exactly 0.1.
  char buf[40];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  auto parsed = sql::ParseDecimal(std::string_view(buf, static_cast<size_t>(end - buf)), precision, scale);
  if (!parsed.ok()) {
    *error = parsed.status();
    return false;
  }
  *out = *parsed;
  return true;
}

double ScaledToDouble(__int128 v, int scale) {
  constexpr __int128 kExact = __int128{1} << 53;
  if (v > -kExact && v < kExact && scale <= 22) {
    return static_cast<double>(v) / static_cast<double>(sql::Pow10(scale));  // one rounding
  }
  char buf[sql::kMaxValueTextSize];
  size_t n = sql::FormatDecimal(v, scale, buf);
  double d = 0;
  std::from_chars(buf, buf + n, d);
  return d;
}

__int128 RoundToScale(__int128 v, int from, int to) {
  if (to >= from) return v * sql::Pow10(to - from);  // callers check the range first
  __int128 p = sql::Pow10(from - to);
  __int128 q = v / p, rem = v % p;
  if (rem >= p / 2) ++q;
  if (rem <= -(p / 2)) --q;
  return q;
}

template <typename In, typename Out>
Status NumericToNumeric(const Vector& in, Rows rows, Vector* out) {
  const sql::DataType& from = in.type();
  const sql::DataType& to = out->type();
  if (to.id == TypeId::kDouble) {
    return ConvertLoop<In, Out>(in, rows, out, [&](In v, Out* o, Status*) {
      if constexpr (std::is_same_v<Out, double>) {
        if (from.id == TypeId::kDecimal) {
          *o = ScaledToDouble(static_cast<__int128>(v), from.scale);
        } else {
          *o = static_cast<double>(v);
        }
      }
      return true;
    });
  }
  if (to.id == TypeId::kDecimal) {
    __int128 limit = sql::Pow10(to.precision);
    return ConvertLoop<In, Out>(in, rows, out, [&](In v, Out* o, Status* e) {
      if constexpr (std::is_floating_point_v<In>) {
        __int128 scaled;
        return DoubleToScaled(v, to.precision, to.scale, &scaled, e) && StoreDecimal(scaled, limit, o, e);
      } else {
        int from_scale = from.id == TypeId::kDecimal ? from.scale : 0;
        __int128 scaled = static_cast<__int128>(v);
        if (to.scale >= from_scale) {
          if (__builtin_mul_overflow(scaled, sql::Pow10(to.scale - from_scale), &scaled)) {
            *e = Status::InvalidArgument("numeric field overflow");
            return false;
          }
        } else {
          scaled = RoundToScale(scaled, from_scale, to.scale);
        }
        return StoreDecimal(scaled, limit, o, e);
      }
    });
  }
  // Integer targets.
  return ConvertLoop<In, Out>(in, rows, out, [&](In v, Out* o, Status* e) {
    if constexpr (std::is_floating_point_v<Out>) {
      return false;  // unreachable: DOUBLE targets are handled above
    } else if constexpr (std::is_floating_point_v<In>) {
      double r = std::nearbyint(v);  // half to even, as PostgreSQL's rint()
      constexpr double kLimit = static_cast<double>(std::numeric_limits<Out>::max()) + 1.0;
      if (!(r >= -kLimit && r < kLimit)) {
        *e = IntegerOutOfRange(to.id);
        return false;
      }
      *o = static_cast<Out>(r);
      return true;
    } else {
      __int128 x = static_cast<__int128>(v);
      if (from.id == TypeId::kDecimal) x = RoundToScale(x, from.scale, 0);
      return StoreInteger(x, o, to.id, e);
    }
  });
}

template <typename F>
Status WithNumericType(PhysicalType p, F&& f) {
  switch (p) {
    case PhysicalType::kInt32: return f(int32_t{});
    case PhysicalType::kInt64: return f(int64_t{});
    case PhysicalType::kInt128: return f(__int128{});
    case PhysicalType::kDouble: return f(double{});
    default: return Status::Internal("not a numeric vector");
  }
}

// ---- any -> VARCHAR ----------------------------------------------------------------------

template <typename In, typename Format>
Status ToText(const Vector& in, Rows rows, Vector* out, StringArena* arena, Format&& format) {
  return ConvertLoop<In, StringRef>(in, rows, out, [&](const In& v, StringRef* o, Status*) {
    char buf[sql::kMaxValueTextSize];
    *o = arena->Add(std::string_view(buf, format(v, buf)));
    return true;
  });
}

Status CastToVarchar(const Vector& in, Rows rows, Vector* out, StringArena* arena) {
  const sql::DataType& from = in.type();
  switch (from.id) {
    case TypeId::kBoolean: return ToText<uint8_t>(in, rows, out, arena, [](uint8_t v, char* b) { return sql::FormatBoolean(v != 0, b); });
    case TypeId::kInt: return ToText<int32_t>(in, rows, out, arena, [](int32_t v, char* b) { return sql::FormatInt64(v, b); });
    case TypeId::kBigint: return ToText<int64_t>(in, rows, out, arena, [](int64_t v, char* b) { return sql::FormatInt64(v, b); });
    case TypeId::kDouble: return ToText<double>(in, rows, out, arena, [](double v, char* b) { return sql::FormatDouble(v, b); });
    case TypeId::kDecimal:
      if (in.physical() == PhysicalType::kInt64) {
        return ToText<int64_t>(in, rows, out, arena, [&](int64_t v, char* b) { return sql::FormatDecimal(v, from.scale, b); });
      }
      return ToText<__int128>(in, rows, out, arena, [&](__int128 v, char* b) { return sql::FormatDecimal(v, from.scale, b); });
    case TypeId::kTimestamp:
    case TypeId::kTimestamptz: {
      bool zone = from.id == TypeId::kTimestamptz;
      return ToText<int64_t>(in, rows, out, arena, [&](int64_t v, char* b) { return sql::FormatTimestamp(v, zone, b); });
    }
    case TypeId::kDate: return ToText<int32_t>(in, rows, out, arena, [](int32_t v, char* b) { return sql::FormatDate(v, b); });
    case TypeId::kInterval: return ToText<sql::Interval>(in, rows, out, arena, [](const sql::Interval& v, char* b) { return sql::FormatInterval(v, b); });
    case TypeId::kVarchar: break;
  }
  return Status::Internal("VARCHAR to VARCHAR is not a cast");
}

// ---- VARCHAR -> any ----------------------------------------------------------------------

template <typename Out, typename Parse>
Status FromText(const Vector& in, Rows rows, Vector* out, Parse&& parse) {
  return ConvertLoop<StringRef, Out>(in, rows, out, [&](const StringRef& s, Out* o, Status* e) {
    auto r = parse(s.view());
    if (!r.ok()) {
      *e = r.status();
      return false;
    }
    *o = static_cast<Out>(*r);
    return true;
  });
}

Status CastFromVarchar(const Vector& in, Rows rows, Vector* out) {
  const sql::DataType& to = out->type();
  switch (to.id) {
    case TypeId::kBoolean: return FromText<uint8_t>(in, rows, out, sql::ParseBoolean);
    case TypeId::kInt: return FromText<int32_t>(in, rows, out, sql::ParseInt32);
    case TypeId::kBigint: return FromText<int64_t>(in, rows, out, sql::ParseInt64);
    case TypeId::kDouble: return FromText<double>(in, rows, out, sql::ParseDouble);
    case TypeId::kDecimal: {
      auto parse = [&](std::string_view s) { return sql::ParseDecimal(s, to.precision, to.scale); };
      if (out->physical() == PhysicalType::kInt64) return FromText<int64_t>(in, rows, out, parse);
      return FromText<__int128>(in, rows, out, parse);
    }
    case TypeId::kTimestamp:
    case TypeId::kTimestamptz: {
      bool zone = to.id == TypeId::kTimestamptz;
      return FromText<int64_t>(in, rows, out, [&](std::string_view s) { return sql::ParseTimestamp(s, zone); });
    }
    case TypeId::kDate: return FromText<int32_t>(in, rows, out, sql::ParseDate);
    case TypeId::kInterval: return FromText<sql::Interval>(in, rows, out, sql::ParseInterval);
    case TypeId::kVarchar: break;
  }
  return Status::Internal("VARCHAR to VARCHAR is not a cast");
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

bool CanCast(const sql::DataType& from, const sql::DataType& to) {
  if (from.id == to.id) return true;
  if (from.id == TypeId::kVarchar || to.id == TypeId::kVarchar) return true;
  if (IsNumeric(from.id) && IsNumeric(to.id)) return true;
  auto int_bool = [](TypeId a, TypeId b) {
    return a == TypeId::kBoolean && (b == TypeId::kInt || b == TypeId::kBigint);
  };
  if (int_bool(from.id, to.id) || int_bool(to.id, from.id)) return true;
  if (IsTimestamp(from.id) && (IsTimestamp(to.id) || to.id == TypeId::kDate)) return true;
  return from.id == TypeId::kDate && IsTimestamp(to.id);
}

Status CastKernel(const Vector& in, Rows rows, Vector* out, StringArena* arena) {
  const sql::DataType& from = in.type();
  const sql::DataType& to = out->type();
  if (from == to) {
    CopyRows(in, rows, out, arena);
    return Status::Ok();
  }
  if (to.id == TypeId::kVarchar) return CastToVarchar(in, rows, out, arena);
  if (from.id == TypeId::kVarchar) return CastFromVarchar(in, rows, out);
  if (IsNumeric(from.id) && IsNumeric(to.id)) {
    return WithNumericType(in.physical(), [&]<typename In>(In) {
      return WithNumericType(out->physical(), [&]<typename Out>(Out) { return NumericToNumeric<In, Out>(in, rows, out); });
    });
  }
  if (from.id == TypeId::kBoolean) {
    auto to_int = [&]<typename Out>(Out) {
      return ConvertLoop<uint8_t, Out>(in, rows, out, [](uint8_t v, Out* o, Status*) {
        *o = v != 0;
        return true;
      });
    };
    return to.id == TypeId::kInt ? to_int(int32_t{}) : to_int(int64_t{});
  }
  if (to.id == TypeId::kBoolean) {
    auto from_int = [&]<typename In>(In) {
      return ConvertLoop<In, uint8_t>(in, rows, out, [](In v, uint8_t* o, Status*) {
        *o = v != 0;
        return true;
      });
    };
    return from.id == TypeId::kInt ? from_int(int32_t{}) : from_int(int64_t{});
  }
  if (IsTimestamp(from.id) && IsTimestamp(to.id)) {
    CopyRows(in, rows, out, arena);  // sluice runs in UTC
    return Status::Ok();
  }
  if (IsTimestamp(from.id) && to.id == TypeId::kDate) {
    return ConvertLoop<int64_t, int32_t>(in, rows, out, [](int64_t v, int32_t* o, Status*) {
      *o = static_cast<int32_t>(FloorDiv(v, kMicrosPerDay));
      return true;
    });
  }
  if (from.id == TypeId::kDate && IsTimestamp(to.id)) {
    return ConvertLoop<int32_t, int64_t>(in, rows, out, [](int32_t v, int64_t* o, Status* e) {
      if (__builtin_mul_overflow(static_cast<int64_t>(v), kMicrosPerDay, o)) {
        *e = Status::InvalidArgument("timestamp out of range");
        return false;
      }
      return true;
    });
  }
  return Status::InvalidArgument(fmt::format("cannot cast type {} to {}", from.ToString(), to.ToString()));
}

Result<sql::Value> CastValue(const sql::Value& v, const sql::DataType& to) {
  if (!CanCast(v.type(), to)) {
    return Status::InvalidArgument(fmt::format("cannot cast type {} to {}", v.type().ToString(), to.ToString()));
  }
  if (v.is_null()) return sql::Value::Null(to);
  Vector in(v.type(), 1);
  Vector out(to, 1);
  StringArena arena;
  SetValue(&in, 0, v, &arena);
  SLUICE_RETURN_IF_ERROR(CastKernel(in, Rows{nullptr, 1}, &out, &arena));
  return GetValue(out, 0);
}

}  // namespace sluice::exec
