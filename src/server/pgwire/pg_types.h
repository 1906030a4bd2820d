#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/pgwire/protocol.h"
#include "sql/types.h"
#include "sql/value.h"

namespace sluice::server::pgwire {

// How sluice's SQL types look on the wire: type OIDs (as in PostgreSQL's pg_type), text and
// binary encodings of values, and the decoding of Bind parameters into SQL literals.

namespace oid {
inline constexpr uint32_t kUnspecified = 0;
inline constexpr uint32_t kBool = 16;
inline constexpr uint32_t kBytea = 17;
inline constexpr uint32_t kName = 19;
inline constexpr uint32_t kInt8 = 20;
inline constexpr uint32_t kInt2 = 21;
inline constexpr uint32_t kInt4 = 23;
inline constexpr uint32_t kText = 25;
inline constexpr uint32_t kOid = 26;
inline constexpr uint32_t kJson = 114;
inline constexpr uint32_t kFloat4 = 700;
inline constexpr uint32_t kFloat8 = 701;
inline constexpr uint32_t kUnknown = 705;
inline constexpr uint32_t kBpchar = 1042;
inline constexpr uint32_t kVarchar = 1043;
inline constexpr uint32_t kDate = 1082;
inline constexpr uint32_t kTimestamp = 1114;
inline constexpr uint32_t kTimestamptz = 1184;
inline constexpr uint32_t kInterval = 1186;
inline constexpr uint32_t kNumeric = 1700;
}  // namespace oid

uint32_t TypeOid(const sql::DataType& type);
int16_t TypeSize(const sql::DataType& type);      // pg_type.typlen: -1 for variable length
int32_t TypeModifier(const sql::DataType& type);  // atttypmod: numeric's (p, s), else -1
// The name PostgreSQL's format_type() gives: "bigint", "numeric(10,2)", "character varying".
std::string PgTypeName(const sql::DataType& type);

// A RowDescription field for a result column. `format`: 0 text, 1 binary.
FieldDescription DescribeField(std::string_view name, const sql::DataType& type, int16_t format);

// Resolves Bind's result format codes (none = all text, one = for all, else one per column)
// into one code per column. kInvalidArgument if the count fits neither rule.
Result<std::vector<int16_t>> ResolveFormats(const std::vector<int16_t>& codes, size_t columns);

// Appends one DataRow message. `formats` has one code per column, or is empty for all text.
// Text forms are PostgreSQL's (booleans "t"/"f", timestamps "2026-11-21 22:40:01.5");
// binary forms are PostgreSQL's send formats (big-endian, timestamps in microseconds since
// 2000-01-01, numeric in base-10000 digits).
void AppendDataRow(const std::vector<sql::Value>& row, const std::vector<int16_t>& formats,
                   MessageWriter* writer);

// Turns one Bind parameter into SQL text that stands in for `$n`: a quoted string for text
// and unspecified types (resolved by context like PostgreSQL's unknown literals), a
// validated number, TRUE/FALSE, or a typed literal (DATE '...', CAST('...' AS DOUBLE)).
// `format`: 0 text, 1 binary. Errors are kInvalidArgument with PostgreSQL's wording
// ("invalid input syntax for type integer", "incorrect binary data format in bind parameter 2")
// or "not supported yet" for binary parameters of other types.
Result<std::string> ParameterLiteral(uint32_t type_oid, int16_t format,
                                     std::optional<std::string_view> value, size_t index);

}  // namespace sluice::server::pgwire
