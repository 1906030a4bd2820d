#include "engine/event_splitter.h"

#include <fmt/format.h>

#include <cassert>
#include <charconv>
#include <cstring>

namespace sluice::engine {

namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view TrimJsonSpace(std::string_view s) {
  while (!s.empty() && IsJsonSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view DescribeNonObject(simdjson::dom::element_type type) {
  using simdjson::dom::element_type;
  switch (type) {
    case element_type::ARRAY:
      return "not a JSON object (got an array)";
    case element_type::STRING:
      return "not a JSON object (got a string)";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "not a JSON object (got a number)";
    case element_type::BOOL:
      return "not a JSON object (got a boolean)";
    case element_type::NULL_VALUE:
      return "not a JSON object (got null)";
    case element_type::OBJECT:
      break;
  }
  return "not a JSON object";
}

// Calls fn(element_text) for each top-level element of `array`, which must be a minified,
// valid JSON array (so the only structure left to track is nesting and strings).
template <typename Fn>
void ForEachElementText(std::string_view array, Fn&& fn) {
  assert(array.size() >= 2 && array.front() == '[' && array.back() == ']');
  size_t pos = 1;
  const size_t end = array.size() - 1;  // the closing ']'
  if (pos == end) return;
  size_t start = pos;
  int depth = 0;
  while (pos < end) {
    const char c = array[pos];
    if (c == '"') {
      ++pos;
      while (array[pos] != '"') pos += (array[pos] == '\\') ? 2 : 1;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 0) {
      fn(array.substr(start, pos - start));
      start = pos + 1;
    }
    ++pos;
  }
  fn(array.substr(start, end - start));
}

}  // namespace

std::string_view DescribeJsonError(simdjson::error_code error) {
  using namespace simdjson;
  switch (error) {
    case DEPTH_ERROR:
      return "nesting deeper than 1024 levels";
    case UTF8_ERROR:
      return "invalid UTF-8";
    case UNCLOSED_STRING:
      return "invalid JSON: unclosed string";
    case STRING_ERROR:
      return "invalid JSON: bad string escape";
    case UNESCAPED_CHARS:
      return "invalid JSON: unescaped control character in a string";
    case NUMBER_ERROR:
      return "invalid JSON: bad number";
    case T_ATOM_ERROR:
    case F_ATOM_ERROR:
    case N_ATOM_ERROR:
      return "invalid JSON: bad literal (expected true, false or null)";
    case EMPTY:
      return "invalid JSON: no value";
    case TAPE_ERROR:
      return "invalid JSON: malformed structure";
    case CAPACITY:
      return "event too large to parse";
    default:
      return "invalid JSON";
  }
}

static_assert(simdjson::DEFAULT_MAX_DEPTH == 1024, "DescribeJsonError states the depth limit");

PaddedBody::PaddedBody(std::string body) : buffer_(std::move(body)), size_(buffer_.size()) {
  buffer_.resize(size_ + simdjson::SIMDJSON_PADDING, '\0');
}

EventSplitter::EventSplitter() = default;

Status EventSplitter::Split(const PaddedBody& body, const SplitOptions& options,
                            std::vector<SplitEvent>* events) {
  events->clear();
  key_arena_.clear();
  text_arena_.clear();
  if (options.max_event_bytes != oversize_limit_ || oversize_message_.empty()) {
    oversize_limit_ = options.max_event_bytes;
    oversize_message_ = fmt::format("event larger than {} bytes", oversize_limit_);
  }

  const std::string_view text = body.view();
  const std::string_view trimmed = TrimJsonSpace(text);
  if (trimmed.empty()) return Status::InvalidArgument("empty body");

  if (options.format == BodyFormat::kNdjson) return SplitNdjson(text, options, events);
  if (trimmed.front() == '[') return SplitArray(text, options, events);

  // One JSON value (possibly pretty-printed), or else NDJSON.
  simdjson::dom::element value;
  if (parser_.parse(text.data(), text.size(), false).get(value) == simdjson::SUCCESS) {
    text_arena_.reserve(text.size());
    const std::string_view minified = Minify(trimmed);
    AddParsed(0, minified, trimmed, value, options, events);
    return Status::Ok();
  }
  return SplitNdjson(text, options, events);
}

Status EventSplitter::SplitNdjson(std::string_view body, const SplitOptions& options,
                                  std::vector<SplitEvent>* events) {
  int64_t index = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t newline = body.find('\n', pos);
    if (newline == std::string_view::npos) newline = body.size();
    std::string_view line = body.substr(pos, newline - pos);
    pos = newline + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (TrimJsonSpace(line).empty()) continue;

    if (line.size() > options.max_event_bytes) {
      events->push_back(SplitEvent{.index = index++, .text = line, .error = oversize_message_});
      continue;
    }
    // The body's remaining bytes and its padding follow the line, so simdjson may read past
    // the line's end without a copy.
    simdjson::dom::element value;
    const simdjson::error_code error = parser_.parse(line.data(), line.size(), false).get(value);
    if (error != simdjson::SUCCESS) {
      events->push_back(
          SplitEvent{.index = index++, .text = line, .error = DescribeJsonError(error)});
      continue;
    }
    AddParsed(index++, line, line, value, options, events);
  }
  if (index == 0) return Status::InvalidArgument("empty body");
  return Status::Ok();
}

Status EventSplitter::SplitArray(std::string_view body, const SplitOptions& options,
                                 std::vector<SplitEvent>* events) {
  simdjson::dom::element root;
  const simdjson::error_code error = parser_.parse(body.data(), body.size(), false).get(root);
  if (error != simdjson::SUCCESS) {
    return Status::InvalidArgument(
        fmt::format("body is not a valid JSON array: {}", DescribeJsonError(error)));
  }
  simdjson::dom::array array;
  if (root.get_array().get(array) != simdjson::SUCCESS) {
    return Status::InvalidArgument("body is not a valid JSON array");
  }
  // Minify the whole array once; element texts are then slices of the minified copy, and the
  // DOM walk (same order) says what each element is.
  text_arena_.reserve(body.size());
  const std::string_view minified = Minify(TrimJsonSpace(body));
  auto it = array.begin();
  int64_t index = 0;
  ForEachElementText(minified, [&](std::string_view element_text) {
    assert(it != array.end());
    const simdjson::dom::element element = *it;
    ++it;
    if (element_text.size() > options.max_event_bytes) {
      events->push_back(
          SplitEvent{.index = index++, .text = element_text, .error = oversize_message_});
      return;
    }
    AddParsed(index++, element_text, element_text, element, options, events);
  });
  return Status::Ok();
}

void EventSplitter::AddParsed(int64_t index, std::string_view stored_text,
                              std::string_view raw_text, simdjson::dom::element value,
                              const SplitOptions& options, std::vector<SplitEvent>* events) {
  if (value.type() != simdjson::dom::element_type::OBJECT) {
    events->push_back(
        SplitEvent{.index = index, .text = raw_text, .error = DescribeNonObject(value.type())});
    return;
  }
  if (stored_text.size() > options.max_event_bytes) {
    events->push_back(SplitEvent{.index = index, .text = raw_text, .error = oversize_message_});
    return;
  }
  SplitEvent event{.index = index, .text = stored_text, .error = {}};
  if (!options.key_field.empty()) ExtractKey(value, options.key_field, &event);
  events->push_back(event);
}

std::string_view EventSplitter::Minify(std::string_view text) {
  // The caller reserved room for the whole body, and minified text is never longer than its
  // input, so appending here never moves earlier views.
  const size_t begin = text_arena_.size();
  assert(text_arena_.capacity() >= begin + text.size());
  text_arena_.resize(begin + text.size());
  size_t out_size = 0;
  const simdjson::error_code error =
      simdjson::minify(text.data(), text.size(), text_arena_.data() + begin, out_size);
  if (error != simdjson::SUCCESS) {
    // Cannot happen for text simdjson has just validated; keep the original text.
    std::memcpy(text_arena_.data() + begin, text.data(), text.size());
    out_size = text.size();
  }
  text_arena_.resize(begin + out_size);
  return std::string_view(text_arena_).substr(begin, out_size);
}

void EventSplitter::ExtractKey(simdjson::dom::element object, std::string_view field,
                               SplitEvent* event) {
  simdjson::dom::element value;
  if (object.get_object().at_key(field).get(value) != simdjson::SUCCESS) return;
  const size_t begin = key_arena_.size();
  char digits[32];
  switch (value.type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      return;
    case simdjson::dom::element_type::STRING:
      key_arena_.append(value.get_string().value_unsafe());
      break;
    case simdjson::dom::element_type::INT64: {
      auto r = std::to_chars(digits, digits + sizeof(digits), value.get_int64().value_unsafe());
      key_arena_.append(digits, r.ptr);
      break;
    }
    case simdjson::dom::element_type::UINT64: {
      auto r = std::to_chars(digits, digits + sizeof(digits), value.get_uint64().value_unsafe());
      key_arena_.append(digits, r.ptr);
      break;
    }
    case simdjson::dom::element_type::DOUBLE: {
      auto r = std::to_chars(digits, digits + sizeof(digits), value.get_double().value_unsafe());
      key_arena_.append(digits, r.ptr);
      break;
    }
    case simdjson::dom::element_type::BOOL:
      key_arena_.append(value.get_bool().value_unsafe() ? "true" : "false");
      break;
    case simdjson::dom::element_type::ARRAY:
    case simdjson::dom::element_type::OBJECT:
      // Rare: a structured key is used as its minified JSON text.
      key_arena_.append(simdjson::minify(value));
      break;
  }
  event->key_begin = static_cast<uint32_t>(begin);
  event->key_size = static_cast<int32_t>(key_arena_.size() - begin);
}

}  // namespace sluice::engine
