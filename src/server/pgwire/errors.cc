#include "server/pgwire/errors.h"

#include <charconv>

#include "server/pgwire/query_text.h"

namespace sluice::server::pgwire {
namespace {

bool Has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// "does not exist" messages name what is missing.
std::string_view UndefinedState(std::string_view m) {
  // The subject comes first ("relation \"x\" does not exist (line 1, column 15)"); the
  // position at the end also says "column".
  if (m.starts_with("column ")) return "42703";  // undefined_column
  if (m.starts_with("function ") || m.starts_with("operator does not exist")) return "42883";
  if (m.starts_with("relation ") || m.starts_with("source ") || m.starts_with("materialized view ") ||
      m.starts_with("table ") || m.starts_with("sink ") || m.starts_with("missing FROM-clause")) {
    return "42P01";  // undefined_table
  }
  if (Has(m, "column \"")) return "42703";
  if (Has(m, "relation \"")) return "42P01";
  return sqlstate::kUndefinedObject;
}

// The message of an invalid-argument error decides its class: syntax, data or name/type.
std::string_view InvalidArgumentState(std::string_view m) {
  if (m.starts_with("syntax error")) return sqlstate::kSyntaxError;
  if (Has(m, "not supported yet")) return sqlstate::kFeatureNotSupported;
  if (Has(m, "division by zero")) return "22012";
  if (Has(m, "numeric field overflow") || Has(m, "out of range: overflow") || m.starts_with("integer out of range") ||
      m.starts_with("bigint out of range") || Has(m, "is out of range for type")) {
    return "22003";  // numeric_value_out_of_range
  }
  if (Has(m, "date/time field value out of range") || m.starts_with("timestamp out of range") ||
      m.starts_with("date out of range")) {
    return "22008";  // datetime_field_overflow
  }
  if (Has(m, "interval field value out of range") || m.starts_with("interval out of range")) return "22015";
  if (Has(m, "invalid input syntax for type")) return "22P02";  // invalid_text_representation
  if (Has(m, "binary data format")) return "22P03";             // invalid_binary_representation
  if (Has(m, "invalid byte sequence for encoding")) return "22021";
  if (Has(m, "negative substring length")) return "22011";
  if (Has(m, "cannot convert NaN") || Has(m, "cannot convert infinity")) return "22003";
  if (Has(m, "operator does not exist") || (Has(m, "function ") && Has(m, "does not exist"))) return "42883";
  if (Has(m, "does not exist")) return UndefinedState(m);
  if (Has(m, "cannot cast type")) return "42846";  // cannot_coerce
  if (Has(m, "must be type") || Has(m, "cannot be matched") || Has(m, "must be a BOOLEAN")) return "42804";
  if (Has(m, "is ambiguous")) return "42702";
  if (Has(m, "specified more than once")) return "42701";  // duplicate_column
  if (Has(m, "must appear in the GROUP BY") || Has(m, "aggregate functions are not allowed") ||
      Has(m, "is not an aggregate function")) {
    return "42803";  // grouping_error
  }
  if (Has(m, "not recognized")) return "22023";
  if (Has(m, "there is no parameter")) return "42P02";
  return "42000";  // syntax_error_or_access_rule_violation
}

// Finds "line L, column C" in an engine message.
bool FindLineColumn(std::string_view m, uint32_t* line, uint32_t* column) {
  auto number = [&](size_t* pos, uint32_t* out) {
    const char* begin = m.data() + *pos;
    auto [ptr, ec] = std::from_chars(begin, m.data() + m.size(), *out);
    if (ec != std::errc() || ptr == begin) return false;
    *pos += static_cast<size_t>(ptr - begin);
    return true;
  };
  for (size_t at = m.find("line "); at != std::string_view::npos; at = m.find("line ", at + 1)) {
    size_t pos = at + 5;
    if (!number(&pos, line)) continue;
    if (m.substr(pos, 9) != ", column ") continue;
    pos += 9;
    if (number(&pos, column) && *line > 0 && *column > 0) return true;
  }
  return false;
}

}  // namespace

std::string_view SqlState(const Status& status) {
  const std::string& m = status.message();
  switch (status.code()) {
    case StatusCode::kOk: return "00000";
    case StatusCode::kInvalidArgument: return InvalidArgumentState(m);
    case StatusCode::kNotFound: return UndefinedState(m);
    case StatusCode::kAlreadyExists: return "42P07";  // duplicate_table
    case StatusCode::kFailedPrecondition:
      if (Has(m, "depends on it")) return "2BP01";  // dependent_objects_still_exist
      return "55000";                               // object_not_in_prerequisite_state
    case StatusCode::kOutOfRange: return "22003";
    case StatusCode::kResourceExhausted: return "53000";  // insufficient_resources
    case StatusCode::kNoSpace: return "53100";            // disk_full
    case StatusCode::kUnavailable: return "57P03";        // cannot_connect_now
    case StatusCode::kCorruption: return "XX001";         // data_corrupted
    case StatusCode::kIOError: return "58030";            // io_error
    case StatusCode::kTooLarge: return sqlstate::kProgramLimitExceeded;
    case StatusCode::kInternal: return "XX000";
  }
  return "XX000";
}

ErrorFields ErrorFromStatus(const Status& status, std::string_view client_query) {
  ErrorFields e;
  e.severity = "ERROR";
  e.sqlstate = std::string(SqlState(status));
  e.message = status.message();
  // The engine writes "at line L, column C" (syntax) or "(line L, column C)" (names, types).
  uint32_t line = 0;
  uint32_t column = 0;
  if (!client_query.empty() && FindLineColumn(e.message, &line, &column)) {
    e.position = CharacterPosition(client_query, ByteOffsetOf(client_query, line, column));
  }
  return e;
}

}  // namespace sluice::server::pgwire
