#include "exec/json_decoder.h"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

#include "common/time_format.h"

namespace sluice::exec {

namespace od = simdjson::ondemand;

struct JsonDecoder::Impl {
  od::parser parser;
  absl::flat_hash_map<std::string, int> index;  // field name -> column
  std::vector<uint8_t> seen;                    // per column: set while decoding one row
  std::string scratch;                          // padded copy when the input lacks padding
  std::string lower;                            // case-folded key for the fallback lookup
  // The fields of the last events by position: events of one source mostly list the same
  // fields in the same order, so the i-th key is first compared with the i-th key seen before
  // (raw bytes, no unescaping or hashing); only a mismatch takes the hash lookup.
  struct KnownField {
    std::string name;  // as written in the JSON (no escapes)
    int column = -1;   // -1: not a declared column (skipped)
    // Names of up to 15 bytes are matched with two masked 8-byte loads: `pattern` holds the
    // name and its closing quote, `mask` selects those bytes.
    uint64_t pattern[2] = {0, 0};
    uint64_t mask[2] = {0, 0};
    bool short_name = false;

    void Set(std::string_view key, int col) {
      name.assign(key);
      column = col;
      short_name = key.size() < 16;
      if (!short_name) return;
      char p[16] = {}, m[16] = {};
      std::memcpy(p, key.data(), key.size());
      p[key.size()] = '"';
      std::memset(m, 0xff, key.size() + 1);
      std::memcpy(pattern, p, 16);
      std::memcpy(mask, m, 16);
    }
    // REQUIRES: 16 bytes readable at `raw` (the input is padded).
    bool Matches(const char* raw) const {
      if (!short_name) {
        return raw[name.size()] == '"' && std::memcmp(raw, name.data(), name.size()) == 0;
      }
      uint64_t w[2];
      std::memcpy(w, raw, 16);
      return ((w[0] & mask[0]) ^ pattern[0]) == 0 && ((w[1] & mask[1]) ^ pattern[1]) == 0;
    }
  };
  std::vector<KnownField> by_position;
};

JsonDecoder::JsonDecoder(std::vector<ColumnSpec> columns)
    : columns_(std::move(columns)), impl_(std::make_unique<Impl>()) {
  for (size_t i = 0; i < columns_.size(); ++i) {
    const bool skip = columns_[i].skip && columns_[i].type.id == TypeId::kVarchar;
    if (!skip) impl_->index.emplace(columns_[i].name, static_cast<int>(i));
  }
  impl_->seen.resize(columns_.size());
  for (const ColumnSpec& c : columns_) {
    const TypeId t = c.type.id;
    fast_int64_.push_back(t == TypeId::kBigint || t == TypeId::kTimestamp || t == TypeId::kTimestamptz);
  }
}

JsonDecoder::~JsonDecoder() = default;

int JsonDecoder::LookupField(std::string_view key) {
  Impl& d = *impl_;
  auto it = d.index.find(absl::string_view(key.data(), key.size()));
  if (it != d.index.end()) return it->second;
  bool has_upper = false;
  for (char ch : key) has_upper |= (ch >= 'A' && ch <= 'Z');
  if (!has_upper) return -1;
  d.lower.assign(key);
  for (char& ch : d.lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  it = d.index.find(d.lower);
  return it == d.index.end() ? -1 : it->second;
}

Result<__int128> ParseDecimal(std::string_view text, int precision, int scale) {
  auto bad = [&] { return Status::InvalidArgument(fmt::format("'{}' is not a valid DECIMAL({},{})", text, precision, scale)); };
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  std::string digits;  // all significant digits, integer part then fraction
  int fraction_digits = 0;
  bool any = false, in_fraction = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      any = true;
      if (digits.empty() && c == '0' && !in_fraction) continue;
      digits.push_back(c);
      if (in_fraction) ++fraction_digits;
    } else if (c == '.' && !in_fraction) {
      in_fraction = true;
    } else {
      break;
    }
  }
  if (!any) return bad();
  int exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), exponent);
    if (ec != std::errc() || ptr != text.data() + text.size() || std::abs(exponent) > 100) return bad();
    i = text.size();
  }
  if (i != text.size()) return bad();
  // value = digits * 10^(exponent - fraction_digits); we want value * 10^scale.
  int shift = scale + exponent - fraction_digits;
  bool round_up = false;
  if (shift < 0) {
    size_t drop = static_cast<size_t>(-shift);
    if (drop > digits.size()) {
      round_up = false;
      digits.clear();
    } else {
      round_up = digits[digits.size() - drop] >= '5';
      digits.resize(digits.size() - drop);
    }
  } else {
    digits.append(static_cast<size_t>(shift), '0');
  }
  size_t first = digits.find_first_not_of('0');
  digits = first == std::string::npos ? "" : digits.substr(first);
  if (digits.size() > static_cast<size_t>(precision)) {
    return Status::InvalidArgument(fmt::format("'{}' does not fit DECIMAL({},{})", text, precision, scale));
  }
  __int128 v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  if (round_up) ++v;
  __int128 limit = 1;
  for (int k = 0; k < precision; ++k) limit *= 10;
  if (v >= limit) return Status::InvalidArgument(fmt::format("'{}' does not fit DECIMAL({},{})", text, precision, scale));
  return negative ? -v : v;
}

namespace {

std::string_view JsonTypeName(od::json_type t) {
  switch (t) {
    case od::json_type::array: return "array";
    case od::json_type::object: return "object";
    case od::json_type::number: return "number";
    case od::json_type::string: return "string";
    case od::json_type::boolean: return "boolean";
    case od::json_type::null: return "null";
  }
  return "value";
}

Status CastError(const ColumnSpec& col, std::string_view why) {
  return Status::InvalidArgument(fmt::format("column '{}' ({}): {}", col.name, col.type.ToString(), why));
}

bool ParseInt64(std::string_view s, int64_t* out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

bool ParseDouble(std::string_view s, double* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

// Reads a JSON value that is not a plain int64 number (double, numeric string, ...) as an
// integer into *out.
[[gnu::noinline]] Status ReadIntegerSlow(od::value& v, od::json_type type, const ColumnSpec& col, int64_t* out) {
  if (type == od::json_type::number) {
    od::number_type nt;
    if (v.get_number_type().get(nt)) return CastError(col, "invalid number");
    if (nt == od::number_type::signed_integer) {
      if (v.get_int64().get(*out)) return CastError(col, "invalid integer");
      return Status::Ok();
    }
    if (nt == od::number_type::unsigned_integer) return CastError(col, "integer out of range");
    double d;
    if (v.get_double().get(d)) return CastError(col, "invalid number");
    if (d != std::trunc(d) || std::fabs(d) >= 9.2e18) {
      return CastError(col, fmt::format("{} is not an integer", d));
    }
    *out = static_cast<int64_t>(d);
    return Status::Ok();
  }
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s) || !ParseInt64(s, out)) {
      return CastError(col, fmt::format("'{}' is not an integer", s));
    }
    return Status::Ok();
  }
  return CastError(col, fmt::format("expected a number, got {}", JsonTypeName(type)));
}

// Reads an integer-valued JSON value (number or numeric string) into *out.
inline Status ReadInteger(od::value& v, od::json_type type, const ColumnSpec& col, int64_t* out) {
  // The common case first: a plain integer. On failure nothing is consumed, so the value can
  // be read again below.
  if (type == od::json_type::number && !v.get_int64().get(*out)) return Status::Ok();
  return ReadIntegerSlow(v, type, col, out);
}

}  // namespace

Status JsonDecoder::DecodeInto(std::string_view json, size_t readable, DataChunk* chunk) {
  Impl& d = *impl_;
  const size_t row = chunk->size();
  assert(row < chunk->capacity());
  std::fill(d.seen.begin(), d.seen.end(), 0);

  simdjson::padded_string_view input;
  if (readable >= json.size() + simdjson::SIMDJSON_PADDING) {
    input = simdjson::padded_string_view(json.data(), json.size(), readable);
  } else {
    d.scratch.assign(json);
    d.scratch.append(simdjson::SIMDJSON_PADDING, '\0');
    input = simdjson::padded_string_view(d.scratch.data(), json.size(), d.scratch.size());
  }
  od::document doc;
  if (auto err = d.parser.iterate(input).get(doc)) {
    return Status::InvalidArgument(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  }
  od::object object;
  if (doc.get_object().get(object)) {
    return Status::InvalidArgument("event is not a JSON object");
  }
  // Values go straight into the columns; if a later field fails, the row is simply not
  // counted (size stays), and strings already copied into the arena are wasted, not leaked.
  size_t position = 0;
  for (auto field_result : object) {
    if (auto err = field_result.error()) {
      return Status::InvalidArgument(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
    }
    // Used in place: copying the field out of its result costs a store-forwarding stall.
    od::field& field = field_result.value_unsafe();
    const size_t at = position++;
    int c;
    if (at < d.by_position.size() && d.by_position[at].Matches(field.key().raw())) {
      c = d.by_position[at].column;
    } else {
      const char* raw = field.key().raw();
      std::string_view key;
      if (field.unescaped_key().get(key)) return Status::InvalidArgument("invalid JSON: bad field name");
      c = LookupField(key);
      // Remember the key for this position if it was written without escapes (then its raw
      // bytes are the name, and a raw comparison is exact).
      if (std::memchr(raw, '\\', key.size()) == nullptr && raw[key.size()] == '"' &&
          std::memcmp(raw, key.data(), key.size()) == 0) {
        if (d.by_position.size() <= at) d.by_position.resize(at + 1);
        d.by_position[at].Set(key, c);
      }
    }
    if (c < 0) continue;
    const ColumnSpec& col = columns_[static_cast<size_t>(c)];
    Vector& vec = chunk->column(static_cast<size_t>(c));
    d.seen[static_cast<size_t>(c)] = 1;
    od::value v = field.value();
    if (fast_int64_[static_cast<size_t>(c)]) {
      // A plain integer into a BIGINT or TIMESTAMP column, without peeking at the type first;
      // anything else (NULL, strings, fractions) takes the general path below.
      int64_t n;
      if (!v.get_int64().get(n)) {
        vec.SetValid(row);
        vec.data<int64_t>()[row] = col.type.id == TypeId::kBigint ? n : n * 1000;  // epoch ms
        continue;
      }
    }
    od::json_type type;
    if (v.type().get(type)) return Status::InvalidArgument("invalid JSON value");
    if (type == od::json_type::null) {
      vec.SetNull(row);
      continue;
    }
    vec.SetValid(row);
    switch (col.type.id) {
      case TypeId::kBoolean: {
        bool b = false;
        if (type == od::json_type::boolean) {
          if (v.get_bool().get(b)) return CastError(col, "invalid boolean");
        } else if (type == od::json_type::string) {
          std::string_view s;
          if (v.get_string().get(s)) return CastError(col, "invalid string");
          if (s == "true" || s == "t" || s == "1") {
            b = true;
          } else if (s == "false" || s == "f" || s == "0") {
            b = false;
          } else {
            return CastError(col, fmt::format("'{}' is not a boolean", s));
          }
        } else if (type == od::json_type::number) {
          int64_t n;
          SLUICE_RETURN_IF_ERROR(ReadInteger(v, type, col, &n));
          if (n != 0 && n != 1) return CastError(col, fmt::format("{} is not a boolean", n));
          b = n == 1;
        } else {
          return CastError(col, fmt::format("expected a boolean, got {}", JsonTypeName(type)));
        }
        vec.data<uint8_t>()[row] = b ? 1 : 0;
        break;
      }
      case TypeId::kInt: {
        int64_t n;
        SLUICE_RETURN_IF_ERROR(ReadInteger(v, type, col, &n));
        if (n < INT32_MIN || n > INT32_MAX) return CastError(col, fmt::format("{} is out of range for INT", n));
        vec.data<int32_t>()[row] = static_cast<int32_t>(n);
        break;
      }
      case TypeId::kBigint: {
        SLUICE_RETURN_IF_ERROR(ReadInteger(v, type, col, &vec.data<int64_t>()[row]));
        break;
      }
      case TypeId::kDouble: {
        double x;
        if (type == od::json_type::number) {
          if (v.get_double().get(x)) return CastError(col, "invalid number");
        } else if (type == od::json_type::string) {
          std::string_view s;
          if (v.get_string().get(s) || !ParseDouble(s, &x)) return CastError(col, fmt::format("'{}' is not a number", s));
        } else {
          return CastError(col, fmt::format("expected a number, got {}", JsonTypeName(type)));
        }
        vec.data<double>()[row] = x;
        break;
      }
      case TypeId::kDecimal: {
        std::string_view text;
        if (type == od::json_type::number) {
          text = v.raw_json_token();
          while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                                   text.back() == '\t')) {
            text.remove_suffix(1);
          }
        } else if (type == od::json_type::string) {
          if (v.get_string().get(text)) return CastError(col, "invalid string");
        } else {
          return CastError(col, fmt::format("expected a number, got {}", JsonTypeName(type)));
        }
        auto parsed = ParseDecimal(text, col.type.precision, col.type.scale);
        if (!parsed.ok()) return CastError(col, parsed.status().message());
        if (vec.physical() == PhysicalType::kInt64) {
          vec.data<int64_t>()[row] = static_cast<int64_t>(*parsed);
        } else {
          vec.data<__int128>()[row] = *parsed;
        }
        break;
      }
      case TypeId::kVarchar: {
        std::string_view s;
        if (type == od::json_type::string) {
          if (v.get_string().get(s)) return CastError(col, "invalid string");
        } else if (type == od::json_type::number || type == od::json_type::boolean) {
          s = v.raw_json_token();
          while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
        } else {
          // Objects and arrays are kept as their JSON text, as written.
          if (simdjson::to_json_string(v).get(s)) return CastError(col, "invalid JSON value");
        }
        vec.data<StringRef>()[row] = chunk->arena().Add(s);
        break;
      }
      case TypeId::kTimestamp:
      case TypeId::kTimestamptz: {
        int64_t micros;
        if (type == od::json_type::number) {
          int64_t ms;
          SLUICE_RETURN_IF_ERROR(ReadInteger(v, type, col, &ms));
          micros = ms * 1000;  // epoch milliseconds (SPEC §3)
        } else if (type == od::json_type::string) {
          std::string_view s;
          if (v.get_string().get(s)) return CastError(col, "invalid string");
          auto parsed = ParseTimestampMicros(s, /*require_zone=*/false);
          if (!parsed.ok()) {
            int64_t ms;
            if (!ParseInt64(s, &ms)) return CastError(col, parsed.status().message());
            parsed = ms * 1000;
          }
          micros = *parsed;
        } else {
          return CastError(col, fmt::format("expected a timestamp, got {}", JsonTypeName(type)));
        }
        vec.data<int64_t>()[row] = micros;
        break;
      }
      case TypeId::kDate: {
        std::string_view s;
        if (type != od::json_type::string || v.get_string().get(s)) {
          return CastError(col, fmt::format("expected a date string, got {}", JsonTypeName(type)));
        }
        auto parsed = ParseTimestampMicros(s, /*require_zone=*/false);
        if (!parsed.ok()) return CastError(col, parsed.status().message());
        int64_t us = *parsed;
        int64_t days = us >= 0 ? us / 86'400'000'000LL : -((-us + 86'399'999'999LL) / 86'400'000'000LL);
        vec.data<int32_t>()[row] = static_cast<int32_t>(days);
        break;
      }
      case TypeId::kInterval:
        return CastError(col, "INTERVAL columns cannot be read from JSON yet");
    }
  }
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (!d.seen[c]) chunk->column(c).SetNull(row);
  }
  chunk->set_size(row + 1);
  return Status::Ok();
}

}  // namespace sluice::exec
