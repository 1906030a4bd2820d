#include "server/pgwire/pg_types.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "sql/value_text.h"

namespace sluice::server::pgwire {
namespace {

// PostgreSQL counts timestamps from 2000-01-01 00:00:00 UTC; sluice from 1970-01-01.
constexpr int64_t kPgEpochMicros = 946'684'800LL * 1'000'000LL;
constexpr int32_t kPgEpochDays = 10'957;

constexpr uint16_t kNumericPositive = 0x0000;
constexpr uint16_t kNumericNegative = 0x4000;
constexpr uint16_t kNumericNaN = 0xC000;
constexpr int kMaxNumericDigits = 1000;  // PostgreSQL's NUMERIC_MAX_PRECISION

uint64_t ReadBigEndian(std::string_view b) {
  uint64_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

// Appends a binary numeric (the format of PostgreSQL's numeric_send).
void AppendBinaryNumeric(__int128 scaled, int scale, MessageWriter* w) {
  const bool negative = scaled < 0;
  unsigned __int128 u = negative ? -static_cast<unsigned __int128>(scaled) : static_cast<unsigned __int128>(scaled);
  char buf[64];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  } while (u != 0);
  std::string digits(buf, static_cast<size_t>(n));
  std::reverse(digits.begin(), digits.end());
  if (digits.size() < static_cast<size_t>(scale) + 1) digits.insert(0, static_cast<size_t>(scale) + 1 - digits.size(), '0');
  std::string int_part = digits.substr(0, digits.size() - static_cast<size_t>(scale));
  std::string frac_part = digits.substr(digits.size() - static_cast<size_t>(scale));
  const size_t first = int_part.find_first_not_of('0');
  int_part = first == std::string::npos ? "" : int_part.substr(first);
  if (int_part.size() % 4 != 0) int_part.insert(0, 4 - int_part.size() % 4, '0');
  if (frac_part.size() % 4 != 0) frac_part.append(4 - frac_part.size() % 4, '0');

  std::vector<int16_t> groups;
  for (size_t i = 0; i < int_part.size(); i += 4) groups.push_back(static_cast<int16_t>(std::stoi(int_part.substr(i, 4))));
  int weight = static_cast<int>(groups.size()) - 1;
  for (size_t i = 0; i < frac_part.size(); i += 4) groups.push_back(static_cast<int16_t>(std::stoi(frac_part.substr(i, 4))));
  size_t lead = 0;
  while (lead < groups.size() && groups[lead] == 0) ++lead;
  weight -= static_cast<int>(lead);
  groups.erase(groups.begin(), groups.begin() + static_cast<std::ptrdiff_t>(lead));
  while (!groups.empty() && groups.back() == 0) groups.pop_back();
  if (groups.empty()) weight = 0;

  w->Int32(static_cast<int32_t>(8 + 2 * groups.size()));
  w->Int16(static_cast<int16_t>(groups.size()));
  w->Int16(static_cast<int16_t>(weight));
  w->Int16(static_cast<int16_t>(groups.empty() || !negative ? kNumericPositive : kNumericNegative));
  w->Int16(static_cast<int16_t>(scale));
  for (int16_t g : groups) w->Int16(g);
}

void AppendText(std::string_view text, MessageWriter* w) {
  w->Int32(static_cast<int32_t>(text.size()));
  w->Bytes(text);
}

void AppendValue(const sql::Value& v, int16_t format, MessageWriter* w) {
  if (v.is_null()) {
    w->Int32(-1);
    return;
  }
  const sql::DataType& type = v.type();
  if (format == 1) {
    switch (type.id) {
      case sql::TypeId::kBoolean:
        w->Int32(1);
        w->Byte(v.boolean() ? 1 : 0);
        return;
      case sql::TypeId::kInt:
        w->Int32(4);
        w->Int32(v.int32());
        return;
      case sql::TypeId::kBigint:
        w->Int32(8);
        w->Int64(v.int64());
        return;
      case sql::TypeId::kDouble:
        w->Int32(8);
        w->Int64(std::bit_cast<int64_t>(v.float64()));
        return;
      case sql::TypeId::kDecimal:
        AppendBinaryNumeric(v.int128(), type.scale, w);
        return;
      case sql::TypeId::kVarchar:
        AppendText(v.string(), w);
        return;
      case sql::TypeId::kTimestamp:
      case sql::TypeId::kTimestamptz:
        w->Int32(8);
        w->Int64(v.int64() - kPgEpochMicros);
        return;
      case sql::TypeId::kDate:
        w->Int32(4);
        w->Int32(v.int32() - kPgEpochDays);
        return;
      case sql::TypeId::kInterval:
        w->Int32(16);
        w->Int64(v.interval().micros);
        w->Int32(v.interval().days);
        w->Int32(v.interval().months);
        return;
    }
  }
  char buf[sql::kMaxValueTextSize];
  size_t n = 0;
  switch (type.id) {
    case sql::TypeId::kBoolean:
      return AppendText(v.boolean() ? "t" : "f", w);
    case sql::TypeId::kInt:
      n = sql::FormatInt64(v.int32(), buf);
      break;
    case sql::TypeId::kBigint:
      n = sql::FormatInt64(v.int64(), buf);
      break;
    case sql::TypeId::kDouble:
      n = sql::FormatDouble(v.float64(), buf);
      break;
    case sql::TypeId::kDecimal:
      n = sql::FormatDecimal(v.int128(), type.scale, buf);
      break;
    case sql::TypeId::kVarchar:
      return AppendText(v.string(), w);
    case sql::TypeId::kTimestamp:
      n = sql::FormatTimestamp(v.int64(), /*with_zone=*/false, buf);
      break;
    case sql::TypeId::kTimestamptz:
      n = sql::FormatTimestamp(v.int64(), /*with_zone=*/true, buf);
      break;
    case sql::TypeId::kDate:
      n = sql::FormatDate(v.int32(), buf);
      break;
    case sql::TypeId::kInterval:
      n = sql::FormatInterval(v.interval(), buf);
      break;
  }
  AppendText(std::string_view(buf, n), w);
}

Status BadBinary(size_t index) {
  return Status::InvalidArgument(fmt::format("incorrect binary data format in bind parameter {}", index + 1));
}

std::string Parenthesized(std::string_view number) {
  if (!number.empty() && number[0] == '-') return fmt::format("({})", number);
  return std::string(number);
}

// A plain decimal number as a client writes it: [+-]digits[.digits][e[+-]digits].
bool IsNumericText(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Result<std::string> DecodeBinaryNumeric(std::string_view b, size_t index) {
  if (b.size() < 8) return BadBinary(index);
  const auto ndigits = static_cast<int16_t>(ReadBigEndian(b.substr(0, 2)));
  const auto weight = static_cast<int16_t>(ReadBigEndian(b.substr(2, 2)));
  const auto sign = static_cast<uint16_t>(ReadBigEndian(b.substr(4, 2)));
  const auto dscale = static_cast<int16_t>(ReadBigEndian(b.substr(6, 2)));
  if (ndigits < 0 || dscale < 0 || dscale > kMaxNumericDigits || weight > kMaxNumericDigits / 4 ||
      weight < -kMaxNumericDigits / 4 || b.size() != 8 + 2 * static_cast<size_t>(ndigits)) {
    return BadBinary(index);
  }
  if (sign == kNumericNaN) return std::string("CAST('NaN' AS DOUBLE)");
  if (sign != kNumericPositive && sign != kNumericNegative) return BadBinary(index);
  std::vector<int> digits(static_cast<size_t>(ndigits));
  for (int i = 0; i < ndigits; ++i) {
    digits[static_cast<size_t>(i)] = static_cast<int16_t>(ReadBigEndian(b.substr(8 + 2 * static_cast<size_t>(i), 2)));
    if (digits[static_cast<size_t>(i)] < 0 || digits[static_cast<size_t>(i)] > 9999) return BadBinary(index);
  }
  auto group = [&](int i) { return i >= 0 && i < ndigits ? digits[static_cast<size_t>(i)] : 0; };
  std::string text = sign == kNumericNegative ? "-" : "";
  if (weight < 0) {
    text += "0";
  } else {
    text += std::to_string(group(0));
    for (int i = 1; i <= weight; ++i) text += fmt::format("{:04d}", group(i));
  }
  if (dscale > 0) {
    std::string frac;
    for (int i = weight + 1; static_cast<int>(frac.size()) < dscale; ++i) frac += fmt::format("{:04d}", group(i));
    text += "." + frac.substr(0, static_cast<size_t>(dscale));
  }
  return Parenthesized(text);
}

}  // namespace

uint32_t TypeOid(const sql::DataType& type) {
  switch (type.id) {
    case sql::TypeId::kBoolean: return oid::kBool;
    case sql::TypeId::kInt: return oid::kInt4;
    case sql::TypeId::kBigint: return oid::kInt8;
    case sql::TypeId::kDouble: return oid::kFloat8;
    case sql::TypeId::kDecimal: return oid::kNumeric;
    case sql::TypeId::kVarchar: return oid::kVarchar;
    case sql::TypeId::kTimestamp: return oid::kTimestamp;
    case sql::TypeId::kTimestamptz: return oid::kTimestamptz;
    case sql::TypeId::kInterval: return oid::kInterval;
    case sql::TypeId::kDate: return oid::kDate;
  }
  return oid::kText;
}

int16_t TypeSize(const sql::DataType& type) {
  switch (type.id) {
    case sql::TypeId::kBoolean: return 1;
    case sql::TypeId::kInt: return 4;
    case sql::TypeId::kBigint: return 8;
    case sql::TypeId::kDouble: return 8;
    case sql::TypeId::kTimestamp: return 8;
    case sql::TypeId::kTimestamptz: return 8;
    case sql::TypeId::kInterval: return 16;
    case sql::TypeId::kDate: return 4;
    case sql::TypeId::kDecimal:
    case sql::TypeId::kVarchar: return -1;
  }
  return -1;
}

int32_t TypeModifier(const sql::DataType& type) {
  if (type.id == sql::TypeId::kDecimal && type.precision > 0) {
    return ((static_cast<int32_t>(type.precision) << 16) | type.scale) + 4;
  }
  return -1;
}

std::string PgTypeName(const sql::DataType& type) {
  switch (type.id) {
    case sql::TypeId::kBoolean: return "boolean";
    case sql::TypeId::kInt: return "integer";
    case sql::TypeId::kBigint: return "bigint";
    case sql::TypeId::kDouble: return "double precision";
    case sql::TypeId::kDecimal:
      return type.precision > 0 ? fmt::format("numeric({},{})", type.precision, type.scale) : "numeric";
    case sql::TypeId::kVarchar: return "character varying";
    case sql::TypeId::kTimestamp: return "timestamp without time zone";
    case sql::TypeId::kTimestamptz: return "timestamp with time zone";
    case sql::TypeId::kInterval: return "interval";
    case sql::TypeId::kDate: return "date";
  }
  return "text";
}

FieldDescription DescribeField(std::string_view name, const sql::DataType& type, int16_t format) {
  FieldDescription f;
  f.name = std::string(name);
  f.type_oid = TypeOid(type);
  f.type_size = TypeSize(type);
  f.type_modifier = TypeModifier(type);
  f.format = format;
  return f;
}

Result<std::vector<int16_t>> ResolveFormats(const std::vector<int16_t>& codes, size_t columns) {
  if (codes.empty()) return std::vector<int16_t>(columns, 0);
  if (codes.size() == 1) return std::vector<int16_t>(columns, codes[0]);
  if (codes.size() != columns) {
    return Status::InvalidArgument(
        fmt::format("bind message has {} result formats but query has {} columns", codes.size(), columns));
  }
  return codes;
}

void AppendDataRow(const std::vector<sql::Value>& row, const std::vector<int16_t>& formats,
                   MessageWriter* w) {
  w->Begin('D');
  w->Int16(static_cast<int16_t>(row.size()));
  if (formats.empty()) {
    for (const sql::Value& v : row) AppendValue(v, 0, w);
  } else {
    for (size_t i = 0; i < row.size(); ++i) AppendValue(row[i], formats[i], w);
  }
  w->End();
}

Result<std::string> ParameterLiteral(uint32_t type_oid, int16_t format, std::optional<std::string_view> value,
                                     size_t index) {
  if (!value.has_value()) {
    switch (type_oid) {
      case oid::kBool: return std::string("CAST(NULL AS BOOLEAN)");
      case oid::kInt2:
      case oid::kInt4: return std::string("CAST(NULL AS INT)");
      case oid::kInt8: return std::string("CAST(NULL AS BIGINT)");
      case oid::kFloat4:
      case oid::kFloat8: return std::string("CAST(NULL AS DOUBLE)");
      case oid::kDate: return std::string("CAST(NULL AS DATE)");
      case oid::kTimestamp: return std::string("CAST(NULL AS TIMESTAMP)");
      case oid::kTimestamptz: return std::string("CAST(NULL AS TIMESTAMPTZ)");
      case oid::kInterval: return std::string("CAST(NULL AS INTERVAL)");
      case oid::kVarchar:
      case oid::kText: return std::string("CAST(NULL AS VARCHAR)");
      default: return std::string("NULL");
    }
  }
  std::string_view b = *value;
  if (format == 1) {
    auto need = [&](size_t n) { return b.size() == n ? Status::Ok() : BadBinary(index); };
    switch (type_oid) {
      case oid::kBool:
        SLUICE_RETURN_IF_ERROR(need(1));
        return std::string(b[0] != 0 ? "TRUE" : "FALSE");
      case oid::kInt2:
        SLUICE_RETURN_IF_ERROR(need(2));
        return Parenthesized(std::to_string(static_cast<int16_t>(ReadBigEndian(b))));
      case oid::kInt4:
        SLUICE_RETURN_IF_ERROR(need(4));
        return Parenthesized(std::to_string(static_cast<int32_t>(ReadBigEndian(b))));
      case oid::kOid:
        SLUICE_RETURN_IF_ERROR(need(4));
        return std::to_string(static_cast<uint32_t>(ReadBigEndian(b)));
      case oid::kInt8:
        SLUICE_RETURN_IF_ERROR(need(8));
        return Parenthesized(std::to_string(static_cast<int64_t>(ReadBigEndian(b))));
      case oid::kFloat4:
      case oid::kFloat8: {
        double d = 0;
        if (type_oid == oid::kFloat4) {
          SLUICE_RETURN_IF_ERROR(need(4));
          d = std::bit_cast<float>(static_cast<uint32_t>(ReadBigEndian(b)));
        } else {
          SLUICE_RETURN_IF_ERROR(need(8));
          d = std::bit_cast<double>(ReadBigEndian(b));
        }
        char buf[sql::kMaxValueTextSize];
        const size_t n = sql::FormatDouble(d, buf);
        return fmt::format("CAST('{}' AS DOUBLE)", std::string_view(buf, n));
      }
      case oid::kNumeric:
        return DecodeBinaryNumeric(b, index);
      case oid::kDate: {
        SLUICE_RETURN_IF_ERROR(need(4));
        const auto days = static_cast<int32_t>(ReadBigEndian(b));
        if (days == std::numeric_limits<int32_t>::max() || days == std::numeric_limits<int32_t>::min() ||
            days > std::numeric_limits<int32_t>::max() - kPgEpochDays) {
          return Status::InvalidArgument("date out of range");
        }
        char buf[sql::kMaxValueTextSize];
        const size_t n = sql::FormatDate(days + kPgEpochDays, buf);
        return fmt::format("DATE '{}'", std::string_view(buf, n));
      }
      case oid::kTimestamp:
      case oid::kTimestamptz: {
        SLUICE_RETURN_IF_ERROR(need(8));
        const auto micros = static_cast<int64_t>(ReadBigEndian(b));
        if (micros > std::numeric_limits<int64_t>::max() - kPgEpochMicros) {
          return Status::InvalidArgument("timestamp out of range");
        }
        const bool with_zone = type_oid == oid::kTimestamptz;
        char buf[sql::kMaxValueTextSize];
        const size_t n = sql::FormatTimestamp(micros + kPgEpochMicros, with_zone, buf);
        return fmt::format("{} '{}'", with_zone ? "TIMESTAMPTZ" : "TIMESTAMP", std::string_view(buf, n));
      }
      case oid::kInterval: {
        SLUICE_RETURN_IF_ERROR(need(16));
        sql::Interval iv;
        iv.micros = static_cast<int64_t>(ReadBigEndian(b.substr(0, 8)));
        iv.days = static_cast<int32_t>(ReadBigEndian(b.substr(8, 4)));
        iv.months = static_cast<int32_t>(ReadBigEndian(b.substr(12, 4)));
        char buf[sql::kMaxValueTextSize];
        const size_t n = sql::FormatInterval(iv, buf);
        return fmt::format("CAST('{}' AS INTERVAL)", std::string_view(buf, n));
      }
      case oid::kUnspecified:
      case oid::kText:
      case oid::kVarchar:
      case oid::kBpchar:
      case oid::kName:
      case oid::kUnknown:
      case oid::kJson:
        break;  // the binary form of text is the text itself
      default:
        return Status::InvalidArgument(
            fmt::format("not supported yet: binary format for parameters of type OID {} (bind parameter {})",
                        type_oid, index + 1));
    }
  }
  // Text (or binary text types): the value as the client wrote it.
  if (b.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("invalid byte sequence for encoding \"UTF8\": 0x00");
  }
  if (!IsValidUtf8(b)) {
    return Status::InvalidArgument(fmt::format("invalid byte sequence for encoding \"UTF8\" in bind parameter {}", index + 1));
  }
  if (format == 1) return sql::QuoteSqlString(b);
  switch (type_oid) {
    case oid::kBool: {
      SLUICE_ASSIGN_OR_RETURN(bool v, sql::ParseBoolean(b));
      return std::string(v ? "TRUE" : "FALSE");
    }
    case oid::kInt2:
    case oid::kInt4:
    case oid::kInt8:
    case oid::kOid: {
      if (type_oid == oid::kInt8) {
        SLUICE_ASSIGN_OR_RETURN(int64_t v, sql::ParseInt64(b));
        return Parenthesized(std::to_string(v));
      }
      SLUICE_ASSIGN_OR_RETURN(int32_t v, sql::ParseInt32(b));
      return Parenthesized(std::to_string(v));
    }
    case oid::kFloat4:
    case oid::kFloat8: {
      SLUICE_RETURN_IF_ERROR(sql::ParseDouble(b).status());
      return fmt::format("CAST({} AS DOUBLE)", sql::QuoteSqlString(Trim(b)));
    }
    case oid::kNumeric: {
      std::string_view t = Trim(b);
      if (IsNumericText(t)) return Parenthesized(t);
      return Status::InvalidArgument(fmt::format("invalid input syntax for type numeric: \"{}\"", b));
    }
    case oid::kDate: return "DATE " + sql::QuoteSqlString(b);
    case oid::kTimestamp: return "TIMESTAMP " + sql::QuoteSqlString(b);
    case oid::kTimestamptz: return "TIMESTAMPTZ " + sql::QuoteSqlString(b);
    case oid::kInterval: return fmt::format("CAST({} AS INTERVAL)", sql::QuoteSqlString(b));
    default:
      // text, varchar, unknown and unspecified: a string literal, typed by its context.
      return sql::QuoteSqlString(b);
  }
}

}  // namespace sluice::server::pgwire
