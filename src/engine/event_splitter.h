#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"

namespace sluice::engine {

// Splits an ingest request body into events and validates each one: the first stage of the
// ingest path, independent of the log so that it can be tested (and benchmarked) on its own.
//
// Formats (see BodyFormat):
//   NDJSON  one event per '\n'-terminated line; a trailing '\r' is trimmed; lines holding only
//           whitespace are skipped and do not count as events.
//   array   a JSON array whose elements are the events. The array must be valid JSON as a
//           whole (else the body cannot be split: kInvalidArgument); elements that are not
//           objects are rejected individually.
//   single  the body is exactly one JSON value: one event.
//   kAuto and kJson sniff: first non-space byte '[' = array; else the body parses as exactly
//   one JSON value = single; else NDJSON. (Content-Type is a hint; the body's shape decides, so
//   an NDJSON body sent as application/json still works.)
//
// Each event is validated with simdjson's DOM parser: full JSON grammar, UTF-8, nesting at most
// simdjson::DEFAULT_MAX_DEPTH. An event that fails, is not an object, or is larger than
// max_event_bytes is rejected on its own with a reason; the rest are accepted.
//
// Stored text: an NDJSON line as sent (trimmed); an array element or a single (possibly
// pretty-printed) object minified.
//
// Allocation: a splitter reuses its parser and buffers across calls, so splitting allocates
// only while those grow. Not thread-safe: use one splitter per thread.

// A body with SIMDJSON_PADDING readable bytes after its end, as simdjson requires, so lines can
// be parsed in place. Takes the request's string and pads it (at most one reallocation).
class PaddedBody {
 public:
  explicit PaddedBody(std::string body);
  std::string_view view() const { return std::string_view(buffer_.data(), size_); }
  size_t size() const { return size_; }

 private:
  std::string buffer_;
  size_t size_ = 0;
};

struct SplitOptions {
  BodyFormat format = BodyFormat::kAuto;
  size_t max_event_bytes = 1 << 20;
  // When non-empty, each accepted event's value of this top-level field becomes its key.
  std::string_view key_field;
};

struct SplitEvent {
  int64_t index = 0;       // position among the body's events, 0-based
  std::string_view text;   // accepted: the JSON text to store; rejected: the raw text as sent
  std::string_view error;  // empty = accepted; else why it was rejected
  // Accepted events with a key: [key_begin, key_begin + key_size) in the splitter's key
  // arena (see EventSplitter::key). key_size < 0 = no key (field absent, null, or no
  // key_field).
  uint32_t key_begin = 0;
  int32_t key_size = -1;

  bool accepted() const { return error.empty(); }
  bool has_key() const { return key_size >= 0; }
};

class EventSplitter {
 public:
  EventSplitter();
  EventSplitter(const EventSplitter&) = delete;
  EventSplitter& operator=(const EventSplitter&) = delete;

  // Splits `body` into *events (cleared first). Views in the events point into `body` and into
  // this splitter; they stay valid until the next Split or the body goes away.
  // kInvalidArgument if the body cannot be split (empty, or an invalid JSON array).
  Status Split(const PaddedBody& body, const SplitOptions& options,
               std::vector<SplitEvent>* events);

  // The key of an accepted event. REQUIRES: event.has_key(), from the last Split.
  std::string_view key(const SplitEvent& event) const {
    return std::string_view(key_arena_)
        .substr(event.key_begin, static_cast<size_t>(event.key_size));
  }

 private:
  Status SplitNdjson(std::string_view body, const SplitOptions& options,
                     std::vector<SplitEvent>* events);
  Status SplitArray(std::string_view body, const SplitOptions& options,
                    std::vector<SplitEvent>* events);
  // Records `value`'s event (already validated as JSON) as accepted or rejected.
  void AddParsed(int64_t index, std::string_view stored_text, std::string_view raw_text,
                 simdjson::dom::element value, const SplitOptions& options,
                 std::vector<SplitEvent>* events);
  // Minifies `text` (valid JSON) into the text arena and returns a view of the result.
  std::string_view Minify(std::string_view text);
  void ExtractKey(simdjson::dom::element object, std::string_view field, SplitEvent* event);

  simdjson::dom::parser parser_;
  std::string text_arena_;  // minified events; reserved to the body size so views stay valid
  std::string key_arena_;   // event keys, addressed by offset (it may grow)
  std::string oversize_message_;
  size_t oversize_limit_ = 0;
};

// The reason text for a simdjson error, in words a client can act on.
std::string_view DescribeJsonError(simdjson::error_code error);

}  // namespace sluice::engine
