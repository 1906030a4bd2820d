#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Appends `text` to *out as a quoted JSON string. Quotes, backslashes and control characters
// are escaped; valid UTF-8 passes through; each byte that is not part of a valid UTF-8
// sequence becomes U+FFFD, so the output is valid JSON (and UTF-8) for any input bytes.
void AppendJsonString(std::string* out, std::string_view text);

// A minimal streaming JSON writer over a caller-owned string: it inserts the commas and
// colons; the caller supplies a well-formed sequence of calls (keys only directly inside
// objects, balanced Begin/End). Not thread-safe.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Appends already-serialised JSON (REQUIRES: `json` is one valid JSON value).
  JsonWriter& Raw(std::string_view json);

 private:
  void BeforeValue();

  std::string* out_;
  // One entry per open object/array: true once it holds an element (the next needs a comma).
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace sluice
