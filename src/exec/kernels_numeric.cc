// Arithmetic, comparison and IN kernels, plus the null-propagation and copy helpers.

#include <cmath>
#include <cstring>
#include <limits>

#include "exec/kernels.h"
#include "sql/value_text.h"

namespace sluice::exec {

using sql::ScalarFn;

bool PropagateNulls(std::span<const Vector* const> args, Rows rows, Vector* out) {
  bool any = false;
  for (const Vector* a : args) {
    if (!a->has_nulls()) continue;
    ForEachRow(rows, [&](uint32_t r) {
      if (a->IsNull(r)) {
        out->SetNull(r);
        any = true;
      }
    });
  }
  return any;
}

void CopyRows(const Vector& src, Rows rows, Vector* dst, StringArena* arena) {
  auto copy = [&]<typename T>(T) {
    const T* s = src.data<T>();
    T* d = dst->data<T>();
    ForEachRow(rows, [&](uint32_t r) { d[r] = s[r]; });
  };
  switch (src.physical()) {
    case PhysicalType::kBool: copy(uint8_t{}); break;
    case PhysicalType::kInt32: copy(int32_t{}); break;
    case PhysicalType::kInt64: copy(int64_t{}); break;
    case PhysicalType::kInt128: copy(__int128{}); break;
    case PhysicalType::kDouble: copy(double{}); break;
    case PhysicalType::kInterval: copy(sql::Interval{}); break;
    case PhysicalType::kString: {
      const StringRef* s = src.data<StringRef>();
      StringRef* d = dst->data<StringRef>();
      ForEachRow(rows, [&](uint32_t r) { d[r] = src.IsNull(r) ? StringRef{} : arena->Add(s[r].view()); });
      break;
    }
  }
  if (src.has_nulls()) {
    ForEachRow(rows, [&](uint32_t r) {
      if (src.IsNull(r)) {
        dst->SetNull(r);
      } else {
        dst->SetValid(r);
      }
    });
  } else if (dst->has_nulls()) {
    ForEachRow(rows, [&](uint32_t r) { dst->SetValid(r); });
  }
}

namespace {

// ---- Integer and floating-point arithmetic -------------------------------------------------

enum class ArithError : uint8_t { kNone, kOverflow, kDivisionByZero };

struct AddOp {
  template <typename T>
  static ArithError Apply(T a, T b, T* r) {
    if constexpr (std::is_floating_point_v<T>) {
      *r = a + b;
      return ArithError::kNone;
    } else {
      return __builtin_add_overflow(a, b, r) ? ArithError::kOverflow : ArithError::kNone;
    }
  }
};
struct SubOp {
  template <typename T>
  static ArithError Apply(T a, T b, T* r) {
    if constexpr (std::is_floating_point_v<T>) {
      *r = a - b;
      return ArithError::kNone;
    } else {
      return __builtin_sub_overflow(a, b, r) ? ArithError::kOverflow : ArithError::kNone;
    }
  }
};
struct MulOp {
  template <typename T>
  static ArithError Apply(T a, T b, T* r) {
    if constexpr (std::is_floating_point_v<T>) {
      *r = a * b;
      return ArithError::kNone;
    } else {
      return __builtin_mul_overflow(a, b, r) ? ArithError::kOverflow : ArithError::kNone;
    }
  }
};
struct DivOp {
  template <typename T>
  static ArithError Apply(T a, T b, T* r) {
    if (b == 0) return ArithError::kDivisionByZero;
    if constexpr (std::is_floating_point_v<T>) {
      *r = a / b;
    } else {
      if (b == -1) return __builtin_sub_overflow(T{0}, a, r) ? ArithError::kOverflow : ArithError::kNone;
      *r = a / b;  // C++ truncates toward zero, as PostgreSQL
    }
    return ArithError::kNone;
  }
};
struct ModOp {
  template <typename T>
  static ArithError Apply(T a, T b, T* r) {
    if (b == 0) return ArithError::kDivisionByZero;
    if constexpr (std::is_floating_point_v<T>) {
      *r = std::fmod(a, b);
    } else {
      *r = b == -1 ? 0 : a % b;  // the sign follows the dividend
    }
    return ArithError::kNone;
  }
};

template <typename T>
Status ArithStatus(ArithError e) {
  if (e == ArithError::kDivisionByZero) return Status::InvalidArgument("division by zero");
  if constexpr (std::is_same_v<T, int32_t>) return Status::InvalidArgument("integer out of range");
  if constexpr (std::is_same_v<T, int64_t>) return Status::InvalidArgument("bigint out of range");
  return Status::InvalidArgument("value out of range: overflow");
}

template <typename T, typename Op>
Status NumericLoop(const Vector& a, const Vector& b, Rows rows, Vector* out) {
  const T* x = a.data<T>();
  const T* y = b.data<T>();
  T* z = out->data<T>();
  bool has_nulls = PropagateNulls(a, b, rows, out);
  constexpr bool kCannotFail = std::is_floating_point_v<T> && !std::is_same_v<Op, DivOp> && !std::is_same_v<Op, ModOp>;
  if constexpr (kCannotFail) {
    // IEEE arithmetic: one branch-free pass (vectorizable), then the overflow check on the
    // non-NULL rows only.
    ForEachRow(rows, [&](uint32_t r) { Op::Apply(x[r], y[r], &z[r]); });
    bool overflow = false;
    ForEachRow(rows, [&](uint32_t r) {
      overflow |= std::isinf(z[r]) & !std::isinf(x[r]) & !std::isinf(y[r]) & !(has_nulls && out->IsNull(r));
    });
    return overflow ? Status::InvalidArgument("value out of range: overflow") : Status::Ok();
  }
  ArithError error = ArithError::kNone;
  bool overflow = false;  // DOUBLE: a finite pair gave an infinite result
  auto one = [&](uint32_t r) {
    ArithError e = Op::Apply(x[r], y[r], &z[r]);
    if (e != ArithError::kNone) {
      error = e;
      return false;
    }
    if constexpr (std::is_floating_point_v<T>) {
      overflow |= std::isinf(z[r]) && !std::isinf(x[r]) && !std::isinf(y[r]);
    }
    return true;
  };
  if (!has_nulls) {
    if (rows.sel == nullptr) {
      for (uint32_t r = 0; r < rows.count; ++r) {
        if (!one(r)) break;
      }
    } else {
      for (size_t i = 0; i < rows.count; ++i) {
        if (!one(rows.sel[i])) break;
      }
    }
  } else {
    for (size_t i = 0; i < rows.count; ++i) {
      uint32_t r = rows.sel == nullptr ? static_cast<uint32_t>(i) : rows.sel[i];
      if (out->IsNull(r)) continue;
      if (!one(r)) break;
    }
  }
  if (error != ArithError::kNone) return ArithStatus<T>(error);
  if (overflow) return Status::InvalidArgument("value out of range: overflow");
  return Status::Ok();
}

template <typename Op>
Status NumericDispatch(const Vector& a, const Vector& b, Rows rows, Vector* out) {
  switch (out->physical()) {
    case PhysicalType::kInt32: return NumericLoop<int32_t, Op>(a, b, rows, out);
    case PhysicalType::kInt64: return NumericLoop<int64_t, Op>(a, b, rows, out);
    case PhysicalType::kDouble: return NumericLoop<double, Op>(a, b, rows, out);
    default: return Status::Internal("arithmetic on a non-numeric vector");
  }
}

// ---- DECIMAL arithmetic: __int128 throughout, operands rescaled as needed -------------------

Status NumericOverflow() { return Status::InvalidArgument("numeric field overflow"); }

template <typename T>
__int128 LoadDecimal(const Vector& v, uint32_t r) {
  return static_cast<__int128>(v.data<T>()[r]);
}

// Divides by 10^k rounding half away from zero. REQUIRES: 0 <= k <= 38.
__int128 RoundShift(__int128 v, int k) {
  if (k == 0) return v;
  if (k > 38) return 0;
  __int128 p = sql::Pow10(k);
  __int128 q = v / p, rem = v % p;
  if (rem >= p / 2) ++q;
  if (rem <= -(p / 2)) --q;
  return q;
}

// v at scale `from` -> scale `to`; false on overflow.
bool Rescale(__int128 v, int from, int to, __int128* result) {
  if (to >= from) return !__builtin_mul_overflow(v, sql::Pow10(to - from), result);
  *result = RoundShift(v, from - to);
  return true;
}

// a / b rounded half away from zero. REQUIRES: b != 0.
__int128 DivideRounded(__int128 a, __int128 b) {
  __int128 q = a / b, rem = a % b;
  unsigned __int128 r2 = (rem < 0 ? -static_cast<unsigned __int128>(rem) : static_cast<unsigned __int128>(rem)) * 2;
  unsigned __int128 bm = b < 0 ? -static_cast<unsigned __int128>(b) : static_cast<unsigned __int128>(b);
  if (r2 >= bm) q += ((a < 0) != (b < 0)) ? -1 : 1;
  return q;
}

struct DecimalContext {
  ScalarFn fn;
  int sa, sb, sr;  // operand and result scales
  __int128 limit;  // 10^result precision
};

// One DECIMAL operation on scaled operands; returns false with *error set on failure.
template <ScalarFn kFn>
bool DecimalApply(const DecimalContext& c, __int128 a, __int128 b, __int128* out, Status* error) {
  __int128 v;
  switch (kFn) {
    case ScalarFn::kAdd:
    case ScalarFn::kSubtract: {
      int s = std::max(c.sa, c.sb);
      __int128 x, y;
      if (!Rescale(a, c.sa, s, &x) || !Rescale(b, c.sb, s, &y)) {
        *error = NumericOverflow();
        return false;
      }
      bool of = kFn == ScalarFn::kAdd ? __builtin_add_overflow(x, y, &v) : __builtin_sub_overflow(x, y, &v);
      if (of || !Rescale(v, s, c.sr, &v)) {
        *error = NumericOverflow();
        return false;
      }
      break;
    }
    case ScalarFn::kMultiply:
      if (__builtin_mul_overflow(a, b, &v) || !Rescale(v, c.sa + c.sb, c.sr, &v)) {
        *error = NumericOverflow();
        return false;
      }
      break;
    case ScalarFn::kDivide: {
      if (b == 0) {
        *error = Status::InvalidArgument("division by zero");
        return false;
      }
      // a/10^sa / (b/10^sb) * 10^sr = a * 10^(sr + sb - sa) / b
      int k = c.sr + c.sb - c.sa;
      if (k >= 0) {
        __int128 num;
        if (k > 38 || __builtin_mul_overflow(a, sql::Pow10(k), &num)) {
          *error = NumericOverflow();
          return false;
        }
        v = DivideRounded(num, b);
      } else {
        __int128 den;
        v = -k > 38 || __builtin_mul_overflow(b, sql::Pow10(-k), &den) ? 0 : DivideRounded(a, den);
      }
      break;
    }
    case ScalarFn::kModulo: {
      if (b == 0) {
        *error = Status::InvalidArgument("division by zero");
        return false;
      }
      int s = std::max(c.sa, c.sb);
      __int128 x, y;
      if (!Rescale(a, c.sa, s, &x) || !Rescale(b, c.sb, s, &y)) {
        *error = NumericOverflow();
        return false;
      }
      if (!Rescale(x % y, s, c.sr, &v)) {
        *error = NumericOverflow();
        return false;
      }
      break;
    }
    default: *error = Status::Internal("not a DECIMAL operation"); return false;
  }
  if (v >= c.limit || v <= -c.limit) {
    *error = NumericOverflow();
    return false;
  }
  *out = v;
  return true;
}

template <ScalarFn kFn, typename A, typename B, typename R>
Status DecimalLoop(const DecimalContext& c, const Vector& a, const Vector& b, Rows rows, Vector* out) {
  const A* x = a.data<A>();
  const B* y = b.data<B>();
  R* z = out->data<R>();
  PropagateNulls(a, b, rows, out);
  Status error;
  for (size_t i = 0; i < rows.count; ++i) {
    uint32_t r = rows.sel == nullptr ? static_cast<uint32_t>(i) : rows.sel[i];
    if (out->IsNull(r)) continue;
    __int128 v;
    if constexpr (kFn == ScalarFn::kMultiply && sizeof(A) == 8 && sizeof(B) == 8) {
      // Two 64-bit operands: the product cannot overflow __int128.
      v = static_cast<__int128>(x[r]) * y[r];
      if (c.sr != c.sa + c.sb && !Rescale(v, c.sa + c.sb, c.sr, &v)) return NumericOverflow();
      if (v >= c.limit || v <= -c.limit) return NumericOverflow();
      z[r] = static_cast<R>(v);
      continue;
    }
    if (!DecimalApply<kFn>(c, x[r], y[r], &v, &error)) return error;
    z[r] = static_cast<R>(v);
  }
  return Status::Ok();
}

template <typename F>
auto WithDecimalType(PhysicalType p, F&& f) {
  return p == PhysicalType::kInt64 ? f(int64_t{}) : f(__int128{});
}

Status DecimalArithmetic(ScalarFn fn, const Vector& a, const Vector& b, Rows rows, Vector* out) {
  DecimalContext c{fn, a.type().scale, b.type().scale, out->type().scale, sql::Pow10(out->type().precision)};
  return WithDecimalType(a.physical(), [&]<typename A>(A) {
    return WithDecimalType(b.physical(), [&]<typename B>(B) {
      return WithDecimalType(out->physical(), [&]<typename R>(R) {
        switch (fn) {
          case ScalarFn::kAdd: return DecimalLoop<ScalarFn::kAdd, A, B, R>(c, a, b, rows, out);
          case ScalarFn::kSubtract: return DecimalLoop<ScalarFn::kSubtract, A, B, R>(c, a, b, rows, out);
          case ScalarFn::kMultiply: return DecimalLoop<ScalarFn::kMultiply, A, B, R>(c, a, b, rows, out);
          case ScalarFn::kDivide: return DecimalLoop<ScalarFn::kDivide, A, B, R>(c, a, b, rows, out);
          default: return DecimalLoop<ScalarFn::kModulo, A, B, R>(c, a, b, rows, out);
        }
      });
    });
  });
}

}  // namespace

Status ArithmeticKernel(ScalarFn fn, const Vector& a, const Vector& b, Rows rows, Vector* out) {
  if (out->type().id == sql::TypeId::kDecimal) return DecimalArithmetic(fn, a, b, rows, out);
  switch (fn) {
    case ScalarFn::kAdd: return NumericDispatch<AddOp>(a, b, rows, out);
    case ScalarFn::kSubtract: return NumericDispatch<SubOp>(a, b, rows, out);
    case ScalarFn::kMultiply: return NumericDispatch<MulOp>(a, b, rows, out);
    case ScalarFn::kDivide: return NumericDispatch<DivOp>(a, b, rows, out);
    case ScalarFn::kModulo: return NumericDispatch<ModOp>(a, b, rows, out);
    default: return Status::Internal("not an arithmetic function");
  }
}

Status NegateKernel(const Vector& a, Rows rows, Vector* out) {
  PropagateNulls(a, rows, out);
  auto negate = [&]<typename T>(T, Status overflow) {
    const T* x = a.data<T>();
    T* z = out->data<T>();
    bool of = false;
    ForEachRow(rows, [&](uint32_t r) {
      if constexpr (std::is_floating_point_v<T>) {
        z[r] = -x[r];
      } else {
        of |= !out->IsNull(r) && __builtin_sub_overflow(T{0}, x[r], &z[r]);
      }
    });
    return of ? overflow : Status::Ok();
  };
  switch (a.physical()) {
    case PhysicalType::kInt32: return negate(int32_t{}, Status::InvalidArgument("integer out of range"));
    case PhysicalType::kInt64: return negate(int64_t{}, Status::InvalidArgument(a.type().id == sql::TypeId::kDecimal ? "numeric field overflow" : "bigint out of range"));
    case PhysicalType::kInt128: return negate(__int128{}, NumericOverflow());
    case PhysicalType::kDouble: return negate(double{}, Status::Ok());
    default: return Status::Internal("negate on a non-numeric vector");
  }
}

// ---- Comparison ------------------------------------------------------------------------------

namespace {

template <typename T>
int Compare3(const T& a, const T& b) {
  return (a > b) - (a < b);
}
int Compare3(const StringRef& a, const StringRef& b) {
  int c = a.view().compare(b.view());  // bytewise, as PostgreSQL's C collation
  return (c > 0) - (c < 0);
}

template <ScalarFn kFn>
bool FromOrder(int c) {
  if constexpr (kFn == ScalarFn::kEq) return c == 0;
  if constexpr (kFn == ScalarFn::kNotEq) return c != 0;
  if constexpr (kFn == ScalarFn::kLt) return c < 0;
  if constexpr (kFn == ScalarFn::kLtEq) return c <= 0;
  if constexpr (kFn == ScalarFn::kGt) return c > 0;
  return c >= 0;
}

template <ScalarFn kFn, typename T>
bool Cmp(const T& a, const T& b) {
  if constexpr (kFn == ScalarFn::kEq) return a == b;
  if constexpr (kFn == ScalarFn::kNotEq) return a != b;
  if constexpr (kFn == ScalarFn::kLt) return a < b;
  if constexpr (kFn == ScalarFn::kLtEq) return a <= b;
  if constexpr (kFn == ScalarFn::kGt) return a > b;
  return a >= b;
}

template <ScalarFn kFn, typename T>
void CompareLoop(const Vector& a, const Vector& b, Rows rows, Vector* out) {
  const T* x = a.data<T>();
  const T* y = b.data<T>();
  uint8_t* z = out->data<uint8_t>();
  bool has_nulls = PropagateNulls(a, b, rows, out);
  if constexpr (std::is_same_v<T, StringRef>) {
    ForEachRow(rows, [&](uint32_t r) {
      z[r] = !(has_nulls && out->IsNull(r)) && FromOrder<kFn>(Compare3(x[r], y[r]));
    });
  } else {
    // Garbage in NULL slots is harmless for fixed-size values: compare every row.
    ForEachRow(rows, [&](uint32_t r) { z[r] = Cmp<kFn>(x[r], y[r]); });
  }
}

// DECIMALs of different scales: compare exactly in __int128 (an operand too large to rescale
// is larger in magnitude than anything the other can hold).
template <ScalarFn kFn>
void CompareDecimalScaled(const Vector& a, const Vector& b, Rows rows, Vector* out) {
  PropagateNulls(a, b, rows, out);
  uint8_t* z = out->data<uint8_t>();
  int sa = a.type().scale, sb = b.type().scale, s = std::max(sa, sb);
  auto load = [](const Vector& v, uint32_t r) {
    return v.physical() == PhysicalType::kInt64 ? LoadDecimal<int64_t>(v, r) : LoadDecimal<__int128>(v, r);
  };
  ForEachRow(rows, [&](uint32_t r) {
    if (out->IsNull(r)) return;
    __int128 x = load(a, r), y = load(b, r), xs, ys;
    int c;
    bool okx = !__builtin_mul_overflow(x, sql::Pow10(s - sa), &xs);
    bool oky = !__builtin_mul_overflow(y, sql::Pow10(s - sb), &ys);
    if (okx && oky) {
      c = Compare3(xs, ys);
    } else if (!okx) {
      c = x < 0 ? -1 : 1;
    } else {
      c = y < 0 ? 1 : -1;
    }
    z[r] = FromOrder<kFn>(c);
  });
}

template <ScalarFn kFn>
void CompareDispatch(const Vector& a, const Vector& b, Rows rows, Vector* out) {
  if (a.type().id == sql::TypeId::kDecimal && (a.type().scale != b.type().scale || a.physical() != b.physical())) {
    return CompareDecimalScaled<kFn>(a, b, rows, out);
  }
  switch (a.physical()) {
    case PhysicalType::kBool: return CompareLoop<kFn, uint8_t>(a, b, rows, out);
    case PhysicalType::kInt32: return CompareLoop<kFn, int32_t>(a, b, rows, out);
    case PhysicalType::kInt64: return CompareLoop<kFn, int64_t>(a, b, rows, out);
    case PhysicalType::kInt128: return CompareLoop<kFn, __int128>(a, b, rows, out);
    case PhysicalType::kDouble: return CompareLoop<kFn, double>(a, b, rows, out);
    case PhysicalType::kString: return CompareLoop<kFn, StringRef>(a, b, rows, out);
    case PhysicalType::kInterval: return;  // rejected at compile time
  }
}

bool Equal(const StringRef& a, const StringRef& b) { return a.view() == b.view(); }
template <typename T>
bool Equal(const T& a, const T& b) {
  return a == b;
}

template <typename T>
void InLoop(std::span<const Vector* const> args, Rows rows, Vector* out) {
  uint8_t* z = out->data<uint8_t>();
  const Vector& x = *args[0];
  ForEachRow(rows, [&](uint32_t r) {
    if (x.IsNull(r)) {
      out->SetNull(r);
      return;
    }
    const T& v = x.data<T>()[r];
    bool saw_null = false;
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i]->IsNull(r)) {
        saw_null = true;
      } else if (Equal(v, args[i]->data<T>()[r])) {
        z[r] = 1;
        return;
      }
    }
    z[r] = 0;
    if (saw_null) out->SetNull(r);
  });
}

}  // namespace

void ComparisonKernel(ScalarFn fn, const Vector& a, const Vector& b, Rows rows, Vector* out) {
  switch (fn) {
    case ScalarFn::kEq: return CompareDispatch<ScalarFn::kEq>(a, b, rows, out);
    case ScalarFn::kNotEq: return CompareDispatch<ScalarFn::kNotEq>(a, b, rows, out);
    case ScalarFn::kLt: return CompareDispatch<ScalarFn::kLt>(a, b, rows, out);
    case ScalarFn::kLtEq: return CompareDispatch<ScalarFn::kLtEq>(a, b, rows, out);
    case ScalarFn::kGt: return CompareDispatch<ScalarFn::kGt>(a, b, rows, out);
    case ScalarFn::kGtEq: return CompareDispatch<ScalarFn::kGtEq>(a, b, rows, out);
    default: return;
  }
}

void InKernel(std::span<const Vector* const> args, Rows rows, Vector* out) {
  switch (args[0]->physical()) {
    case PhysicalType::kBool: return InLoop<uint8_t>(args, rows, out);
    case PhysicalType::kInt32: return InLoop<int32_t>(args, rows, out);
    case PhysicalType::kInt64: return InLoop<int64_t>(args, rows, out);
    case PhysicalType::kInt128: return InLoop<__int128>(args, rows, out);
    case PhysicalType::kDouble: return InLoop<double>(args, rows, out);
    case PhysicalType::kString: return InLoop<StringRef>(args, rows, out);
    case PhysicalType::kInterval: return InLoop<sql::Interval>(args, rows, out);
  }
}

}  // namespace sluice::exec
