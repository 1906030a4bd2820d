#include "server/router.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "common/time_format.h"
#include "log/record_batch.h"
#include "common/json_writer.h"
#include "sql/value_json.h"

namespace sluice::server {

namespace {

constexpr int64_t kDefaultReadLimit = 100;
constexpr int64_t kMaxReadLimit = 10'000;
// A read page stops growing past this many bytes (it always holds at least one event).
constexpr size_t kMaxReadPageBytes = 16u << 20;
constexpr size_t kReadChunkBytes = 1u << 20;
constexpr size_t kMaxIdempotencyKeyBytes = 256;
constexpr int64_t kMaxPartitions = 10'000;
constexpr std::string_view kDlqSuffix = ".dlq";

std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known : {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "other";
}

// The media type of a Content-Type header value, lower-cased, without parameters.
std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  std::string lower(type);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

engine::BodyFormat FormatFor(std::string_view content_type) {
  const std::string type = MediaType(content_type);
  if (type == "application/x-ndjson" || type == "application/jsonl" ||
      type == "application/json-seq") {
    return engine::BodyFormat::kNdjson;
  }
  if (type == "application/json") return engine::BodyFormat::kJson;
  return engine::BodyFormat::kAuto;
}

HttpResponse JsonResponse(unsigned status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

void WriteTopic(JsonWriter& json, const log::TopicInfo& info) {
  json.BeginObject();
  json.Key("name").String(info.config.name);
  json.Key("partitions").BeginArray();
  for (const log::PartitionInfo& p : info.partitions) {
    json.BeginObject()
        .Key("partition")
        .Int(p.partition.value())
        .Key("start_offset")
        .Int(p.start_offset.value())
        .Key("end_offset")
        .Int(p.end_offset.value())
        .Key("bytes")
        .Int(static_cast<int64_t>(p.bytes))
        .EndObject();
  }
  json.EndArray();
  json.Key("retention_ms").Int(info.config.retention_ms);
  json.Key("key");
  if (info.config.key_field.empty()) {
    json.Null();
  } else {
    json.String(info.config.key_field);
  }
  json.EndObject();
}

// Writes a stored event value: as the JSON it was ingested as when it is valid JSON (and the
// topic is not a dead-letter topic, whose values are raw text), else as a JSON string.
class ValueWriter {
 public:
  void Write(JsonWriter& json, std::optional<std::string_view> value, bool raw_text_topic) {
    if (!value) {
      json.Null();
      return;
    }
    if (raw_text_topic || !IsJson(*value)) {
      json.String(*value);
      return;
    }
    json.Raw(*value);
  }

 private:
  bool IsJson(std::string_view text) {
    scratch_.assign(text);
    scratch_.append(simdjson::SIMDJSON_PADDING, '\0');
    simdjson::dom::element element;
    return parser_.parse(scratch_.data(), text.size(), false).get(element) == simdjson::SUCCESS;
  }

  simdjson::dom::parser parser_;
  std::string scratch_;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

Router::Router(engine::Engine* engine, MetricsRegistry* metrics)
    : engine_(engine), metrics_(metrics), assets_(EmbeddedAssets()) {
  requests_total_ = metrics->AddCounter("sluice_http_requests_total",
                                        "HTTP requests by route template, method and status",
                                        {"route", "method", "status"});
  request_seconds_ = metrics->AddHistogram("sluice_http_request_seconds",
                                           "HTTP request latency, from parsed request to response",
                                           {"route"}, MetricsRegistry::LatencyBuckets());
}

std::string_view Router::RouteTemplate(Route route) {
  switch (route) {
    case Route::kIndex:
      return "/";
    case Route::kAsset:
      return "/assets/{file}";
    case Route::kHealth:
      return "/health";
    case Route::kReady:
      return "/ready";
    case Route::kMetrics:
      return "/metrics";
    case Route::kTopics:
      return "/v1/topics";
    case Route::kTopic:
      return "/v1/topics/{topic}";
    case Route::kTopicEvents:
      return "/v1/topics/{topic}/events";
    case Route::kSql:
      return "/v1/sql";
    case Route::kViews:
      return "/v1/views";
    case Route::kViewVerify:
      return "/v1/views/{view}/verify";
    case Route::kUnmatched:
      break;
  }
  return "unmatched";
}

std::string_view Router::AllowedMethods(Route route) {
  switch (route) {
    case Route::kTopics:
    case Route::kTopicEvents:
      return "GET, POST";
    case Route::kTopic:
      return "GET, DELETE";
    case Route::kSql:
      return "POST";
    default:
      return "GET";
  }
}

Router::Route Router::Match(const RequestTarget& target) {
  const auto& s = target.segments;
  if (s.empty()) return Route::kIndex;
  if (s.size() == 1) {
    if (s[0] == "health") return Route::kHealth;
    if (s[0] == "ready") return Route::kReady;
    if (s[0] == "metrics") return Route::kMetrics;
    return Route::kUnmatched;
  }
  if (s[0] == "assets") return Route::kAsset;
  if (s.size() == 2 && s[0] == "v1" && s[1] == "sql") return Route::kSql;
  if (s.size() == 2 && s[0] == "v1" && s[1] == "views") return Route::kViews;
  if (s.size() == 4 && s[0] == "v1" && s[1] == "views" && s[3] == "verify") return Route::kViewVerify;
  if (s[0] != "v1" || s[1] != "topics") return Route::kUnmatched;
  if (s.size() == 2) return Route::kTopics;
  if (s.size() == 3) return Route::kTopic;
  if (s.size() == 4 && s[3] == "events") return Route::kTopicEvents;
  return Route::kUnmatched;
}

void Router::Count(Route route, std::string_view method, unsigned status, double seconds) {
  const std::string route_label(RouteTemplate(route));
  requests_total_
      ->WithLabels({route_label, std::string(MethodLabel(method)), std::to_string(status)})
      ->Inc();
  request_seconds_->WithLabels({route_label})->Observe(seconds);
}

void Router::CountUnrouted(std::string_view method, unsigned status) {
  Count(Route::kUnmatched, method, status, 0);
}

void Router::CountStream(std::string_view route_template, std::string_view method, unsigned status) {
  requests_total_
      ->WithLabels({std::string(route_template), std::string(MethodLabel(method)), std::to_string(status)})
      ->Inc();
}

void Router::Handle(HttpRequest request, ReplyFn reply) {
  const auto start = std::chrono::steady_clock::now();
  Result<RequestTarget> target = ParseRequestTarget(request.target);
  Route route = target.ok() ? Match(*target) : Route::kUnmatched;
  std::string method = request.method;
  ReplyFn counted = [this, route, method, start, reply = std::move(reply)](HttpResponse response) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Count(route, method, response.status, seconds);
    reply(std::move(response));
  };
  if (!target.ok()) {
    counted(ErrorResponse(target.status()));
    return;
  }
  Dispatch(route, *target, std::move(request), std::move(counted));
}

void Router::Dispatch(Route route, const RequestTarget& target, HttpRequest request,
                      ReplyFn reply) {
  const std::string_view method = request.method;
  const bool get = method == "GET";
  const bool post = method == "POST";
  const bool del = method == "DELETE";
  switch (route) {
    case Route::kUnmatched:
      reply(
          ErrorResponse(404, "not_found",
                        fmt::format("no route for {} {}", method, request.target.substr(0, 200))));
      return;
    case Route::kIndex:
    case Route::kAsset:
      if (get) return reply(Asset(target, request.if_none_match));
      break;
    case Route::kHealth:
      if (get) return reply(Health());
      break;
    case Route::kReady:
      if (get) return reply(Ready());
      break;
    case Route::kMetrics:
      if (get) return reply(Metrics());
      break;
    case Route::kTopics:
      if (get) return reply(ListTopics());
      if (post) return reply(CreateTopic(request.body));
      break;
    case Route::kTopic:
      if (get) return reply(DescribeTopic(target.segments[2]));
      if (del) return reply(DeleteTopic(target.segments[2]));
      break;
    case Route::kTopicEvents:
      if (get) return reply(ReadEvents(target.segments[2], target));
      if (post) return Ingest(target.segments[2], target, std::move(request), std::move(reply));
      break;
    case Route::kSql:
      if (post) return reply(ExecuteSql(request.body));
      break;
    case Route::kViews:
      if (get) return reply(ListViews());
      break;
    case Route::kViewVerify:
      if (get) return reply(VerifyView(target.segments[2]));
      break;
  }
  HttpResponse response =
      ErrorResponse(405, "method_not_allowed",
                    fmt::format("{} is not allowed on {} (allowed: {})", method.substr(0, 16),
                                RouteTemplate(route), AllowedMethods(route)));
  response.headers.emplace_back("Allow", std::string(AllowedMethods(route)));
  reply(std::move(response));
}

void Router::Ingest(const std::string& topic, const RequestTarget& target, HttpRequest request,
                    ReplyFn reply) {
  if (request.idempotency_key.size() > kMaxIdempotencyKeyBytes) {
    return reply(ErrorResponse(
        400, "invalid_argument",
        fmt::format("Idempotency-Key is longer than {} bytes", kMaxIdempotencyKeyBytes)));
  }
  engine::IngestRequest ingest;
  ingest.topic = topic;
  ingest.body = std::move(request.body);
  ingest.format = FormatFor(request.content_type);
  ingest.idempotency_key = std::move(request.idempotency_key);
  if (auto key = target.Param("key")) ingest.key_field = std::string(*key);

  engine_->Ingest(std::move(ingest), [reply = std::move(reply)](engine::IngestResponse r) {
    if (!r.status.ok()) return reply(ErrorResponse(r.status));
    std::string body;
    body.reserve(128 + r.errors.size() * 64);
    JsonWriter json(&body);
    json.BeginObject();
    json.Key("accepted").Int(r.accepted);
    json.Key("rejected").Int(r.rejected);
    json.Key("first_offset");
    if (r.first_offset) {
      json.Int(r.first_offset->value());
    } else {
      json.Null();
    }
    json.Key("appends").BeginArray();
    for (const engine::PartitionAppend& a : r.appends) {
      json.BeginObject()
          .Key("partition")
          .Int(a.partition.value())
          .Key("first_offset")
          .Int(a.first_offset.value())
          .Key("count")
          .Int(a.count)
          .EndObject();
    }
    json.EndArray();
    json.Key("errors").BeginArray();
    for (const engine::EventError& e : r.errors) {
      json.BeginObject().Key("index").Int(e.index).Key("error").String(e.error).EndObject();
    }
    json.EndArray();
    if (r.duplicate) json.Key("duplicate").Bool(true);
    json.EndObject();
    reply(JsonResponse(200, std::move(body)));
  });
}

HttpResponse Router::ReadEvents(const std::string& topic_name, const RequestTarget& target) {
  Result<std::shared_ptr<log::Topic>> topic = engine_->log().GetTopic(topic_name);
  if (!topic.ok()) return ErrorResponse(topic.status());

  const int32_t partitions = (*topic)->partition_count();
  int64_t partition = 0;
  if (auto p = target.Param("partition")) {
    Result<int64_t> parsed = ParseIntParam("partition", *p, 0, INT32_MAX);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    if (*parsed >= partitions) {
      return ErrorResponse(
          400, "invalid_argument",
          fmt::format("partition {} does not exist: topic '{}' has {} partition(s)", *parsed,
                      topic_name, partitions));
    }
    partition = *parsed;
  }
  int64_t limit = kDefaultReadLimit;
  if (auto l = target.Param("limit")) {
    Result<int64_t> parsed = ParseIntParam("limit", *l, 1, kMaxReadLimit);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    limit = *parsed;
  }
  // read_committed (the default, as for every internal reader): records of open and aborted
  // transactions are left out; read_uncommitted shows every data record.
  bool read_committed = true;
  if (auto isolation = target.Param("isolation")) {
    if (*isolation == "read_uncommitted") {
      read_committed = false;
    } else if (*isolation != "read_committed") {
      return ErrorResponse(400, "invalid_argument",
                           fmt::format("parameter 'isolation' must be read_committed or read_uncommitted, got '{}'",
                                       isolation->substr(0, 64)));
    }
  }
  log::Partition& part = (*topic)->partition(PartitionId(static_cast<int32_t>(partition)));
  const log::PartitionInfo info = part.Info();

  const auto offset_param = target.Param("offset");
  const auto time_param = target.Param("from_time");
  if (offset_param && time_param) {
    return ErrorResponse(400, "invalid_argument", "give either 'offset' or 'from_time', not both");
  }
  Offset from = info.start_offset;
  if (offset_param) {
    Result<int64_t> parsed = ParseIntParam("offset", *offset_param, 0, INT64_MAX);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    from = Offset(*parsed);
  } else if (time_param) {
    Result<int64_t> millis = ParseIntParam("from_time", *time_param, 0, INT64_MAX);
    TimestampMs ts;
    if (millis.ok()) {
      ts = TimestampMs(*millis);
    } else {
      Result<TimestampMs> parsed = ParseRfc3339(*time_param);
      if (!parsed.ok()) {
        return ErrorResponse(
            400, "invalid_argument",
            fmt::format("parameter 'from_time' must be an RFC 3339 timestamp or epoch "
                        "milliseconds, got '{}'",
                        time_param->substr(0, 64)));
      }
      ts = *parsed;
    }
    Result<Offset> offset = part.OffsetForTimestamp(ts);
    if (!offset.ok()) return ErrorResponse(offset.status());
    from = *offset;
  }
  if (from < info.start_offset || from > info.end_offset) {
    return ErrorResponse(
        400, "offset_out_of_range",
        fmt::format("offset {} is outside partition {}'s range [{}, {}]", from.value(), partition,
                    info.start_offset.value(), info.end_offset.value()));
  }

  thread_local ValueWriter values;
  const bool raw_text_topic = EndsWith(topic_name, kDlqSuffix);
  std::string body;
  JsonWriter json(&body);
  json.BeginObject().Key("events").BeginArray();
  int64_t count = 0;
  Offset next = from;
  Offset readable_end = info.end_offset;
  std::vector<log::AbortedTransaction> aborted;
  if (read_committed) {
    Result<log::Partition::CommittedView> committed = part.Committed(from);
    if (!committed.ok()) return ErrorResponse(committed.status());
    readable_end = committed->last_stable_offset;
    aborted = std::move(committed->aborted);
  }
  while (count < limit && body.size() < kMaxReadPageBytes && next < readable_end) {
    const Offset chunk_start = next;
    Result<log::ReadResult> read = part.Read(next, kReadChunkBytes);
    if (!read.ok()) {
      if (read.status().code() == StatusCode::kOutOfRange) {
        return ErrorResponse(400, "offset_out_of_range", read.status().message());
      }
      return ErrorResponse(read.status());
    }
    if (read->bytes.empty()) break;
    log::RecordReader reader(read->bytes, next, aborted);
    log::Record record;
    while (count < limit && body.size() < kMaxReadPageBytes && reader.Next(&record) &&
           record.offset < readable_end) {
      json.BeginObject();
      json.Key("partition").Int(partition);
      json.Key("offset").Int(record.offset.value());
      json.Key("timestamp").Int(record.timestamp.value());
      json.Key("key");
      if (record.key) {
        json.String(*record.key);
      } else {
        json.Null();
      }
      json.Key("value");
      values.Write(json, record.value, raw_text_topic);
      json.Key("headers").BeginObject();
      for (const log::RecordHeader& h : record.headers) {
        json.Key(h.key);
        if (h.value) {
          json.String(*h.value);
        } else {
          json.Null();
        }
      }
      json.EndObject().EndObject();
      ++count;
      next = record.offset + 1;
    }
    if (!reader.status().ok()) return ErrorResponse(reader.status());
    if (count >= limit || body.size() >= kMaxReadPageBytes) break;
    // The whole chunk was consumed (it may end with batches that hold no visible records).
    next = std::min(std::max(next, read->next_offset), std::max(next, readable_end));
    if (next >= read->end_offset || next == chunk_start) break;
  }
  json.EndArray().Key("next_offset").Int(next.value()).EndObject();
  return JsonResponse(200, std::move(body));
}

HttpResponse Router::ListTopics() {
  std::vector<log::TopicInfo> topics = engine_->log().ListTopics();
  std::sort(topics.begin(), topics.end(),
            [](const auto& a, const auto& b) { return a.config.name < b.config.name; });
  std::string body;
  JsonWriter json(&body);
  json.BeginObject().Key("topics").BeginArray();
  for (const log::TopicInfo& info : topics) WriteTopic(json, info);
  json.EndArray().EndObject();
  return JsonResponse(200, std::move(body));
}

// Materialized views and sinks with whether they run: SHOW's rows as JSON.
HttpResponse Router::ListViews() {
  Result<std::vector<engine::StatementResult>> shown = engine_->ExecuteSql("SHOW MATERIALIZED VIEWS; SHOW SINKS");
  if (!shown.ok()) return ErrorResponse(shown.status());
  std::string body;
  JsonWriter json(&body);
  json.BeginObject().Key("views").BeginArray();
  for (size_t i = 0; i < shown->size(); ++i) {
    for (const auto& row : (*shown)[i].rows) {
      if (row.size() < 5) continue;
      json.BeginObject();
      json.Key("name").String(row[0].string());
      json.Key("kind").String(i == 0 ? "materialized view" : "sink");
      json.Key("status").String(row[3].string());
      json.Key("error");
      if (row[4].is_null()) {
        json.Null();
      } else {
        json.String(row[4].string());
      }
      json.Key("definition").String(row[2].string());
      json.EndObject();
    }
  }
  json.EndArray().EndObject();
  return JsonResponse(200, std::move(body));
}

HttpResponse Router::VerifyView(const std::string& view) {
  Result<engine::SqlExecutor::VerifyReport> report = engine_->VerifyView(view);
  if (!report.ok()) return ErrorResponse(report.status());
  std::string out;
  JsonWriter json(&out);
  auto rows = [&](const std::vector<std::vector<sql::Value>>& list) {
    json.BeginArray();
    for (const auto& row : list) {
      json.BeginArray();
      for (const sql::Value& v : row) sql::WriteJsonValue(json, v);
      json.EndArray();
    }
    json.EndArray();
  };
  json.BeginObject();
  json.Key("view").String(view);
  json.Key("ok").Bool(report->only_in_view.empty() && report->only_in_batch.empty());
  json.Key("columns").BeginArray();
  for (const auto& c : report->columns) json.String(c.name);
  json.EndArray();
  json.Key("view_rows").Int(report->view_rows);
  json.Key("batch_rows").Int(report->batch_rows);
  json.Key("only_in_view");
  rows(report->only_in_view);
  json.Key("only_in_batch");
  rows(report->only_in_batch);
  json.EndObject();
  return JsonResponse(200, std::move(out));
}

HttpResponse Router::ExecuteSql(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(simdjson::padded_string(body)).get(root); error) {
    return ErrorResponse(400, "invalid_argument",
                         fmt::format("body is not valid JSON: {}", simdjson::error_message(error)));
  }
  std::string_view sql_text;
  if (root["sql"].get_string().get(sql_text) != simdjson::SUCCESS) {
    return ErrorResponse(400, "invalid_argument", "body must be {\"sql\": \"...\"}");
  }
  auto results = engine_->ExecuteSql(sql_text);
  if (!results.ok()) return ErrorResponse(results.status());
  std::string out;
  JsonWriter json(&out);
  json.BeginObject().Key("results").BeginArray();
  for (const engine::StatementResult& r : *results) {
    json.BeginObject().Key("columns").BeginArray();
    for (const engine::ResultColumn& c : r.columns) {
      json.BeginObject().Key("name").String(c.name).Key("type").String(c.type.ToString()).EndObject();
    }
    json.EndArray().Key("rows").BeginArray();
    for (const auto& row : r.rows) {
      json.BeginArray();
      for (const sql::Value& v : row) sql::WriteJsonValue(json, v);
      json.EndArray();
    }
    json.EndArray().Key("command").String(r.command).EndObject();
  }
  json.EndArray().EndObject();
  HttpResponse response;
  response.status = 200;
  response.content_type = "application/json";
  response.body = std::move(out);
  return response;
}

HttpResponse Router::CreateTopic(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(simdjson::padded_string(body)).get(root); error) {
    return ErrorResponse(400, "invalid_argument",
                         fmt::format("body is not valid JSON: {}", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return ErrorResponse(400, "invalid_argument", "body must be a JSON object");
  }
  log::TopicConfig config;
  config.partitions = engine_->options().default_partitions;
  bool has_name = false;
  for (auto [field, value] : object) {
    if (field == "name") {
      std::string_view name;
      if (value.get_string().get(name) != simdjson::SUCCESS) {
        return ErrorResponse(400, "invalid_argument", "'name' must be a string");
      }
      config.name = std::string(name);
      has_name = true;
    } else if (field == "partitions") {
      int64_t n = 0;
      if (value.get_int64().get(n) != simdjson::SUCCESS || n < 1 || n > kMaxPartitions) {
        return ErrorResponse(
            400, "invalid_argument",
            fmt::format("'partitions' must be an integer from 1 to {}", kMaxPartitions));
      }
      config.partitions = static_cast<int32_t>(n);
    } else if (field == "retention_ms") {
      int64_t ms = 0;
      if (value.get_int64().get(ms) != simdjson::SUCCESS || ms < -1) {
        return ErrorResponse(400, "invalid_argument",
                             "'retention_ms' must be an integer: milliseconds, 0 = the default, "
                             "-1 = forever");
      }
      config.retention_ms = ms;
    } else if (field == "retention_bytes") {
      int64_t bytes = 0;
      if (value.get_int64().get(bytes) != simdjson::SUCCESS || bytes < -1) {
        return ErrorResponse(
            400, "invalid_argument",
            "'retention_bytes' must be an integer: 0 = the default, -1 = no limit");
      }
      config.retention_bytes = bytes;
    } else if (field == "key") {
      std::string_view key;
      if (value.is_null()) continue;
      if (value.get_string().get(key) != simdjson::SUCCESS) {
        return ErrorResponse(400, "invalid_argument",
                             "'key' must be a field name (string) or null");
      }
      config.key_field = std::string(key);
    } else {
      return ErrorResponse(400, "invalid_argument",
                           fmt::format("unknown field '{}' (expected name, partitions, "
                                       "retention_ms, retention_bytes, key)",
                                       std::string_view(field).substr(0, 64)));
    }
  }
  if (!has_name) return ErrorResponse(400, "invalid_argument", "'name' is required");
  if (Status valid = log::ValidateTopicName(config.name); !valid.ok()) return ErrorResponse(valid);
  if (log::IsInternalTopicName(config.name)) {
    return ErrorResponse(Status::InvalidArgument(
        fmt::format("topic names starting with '.' are reserved: '{}'", config.name)));
  }
  if (Status created = engine_->log().CreateTopic(config); !created.ok()) {
    return ErrorResponse(created);
  }
  return DescribeTopic(config.name, 201);
}

HttpResponse Router::DescribeTopic(const std::string& topic, unsigned status) {
  Result<log::TopicInfo> info = engine_->log().DescribeTopic(topic);
  if (!info.ok()) return ErrorResponse(info.status());
  std::string body;
  JsonWriter json(&body);
  WriteTopic(json, *info);
  return JsonResponse(status, std::move(body));
}

HttpResponse Router::DeleteTopic(const std::string& topic) {
  if (Status deleted = engine_->DeleteTopic(topic); !deleted.ok()) return ErrorResponse(deleted);
  std::string body;
  JsonWriter(&body).BeginObject().Key("deleted").String(topic).EndObject();
  return JsonResponse(200, std::move(body));
}

HttpResponse Router::Metrics() {
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = metrics_->Render();
  return response;
}

HttpResponse Router::Health() { return JsonResponse(200, "{\"status\":\"ok\"}"); }

HttpResponse Router::Ready() {
  if (engine_->ready() && engine_->caught_up()) return JsonResponse(200, "{\"status\":\"ready\"}");
  HttpResponse response = ErrorResponse(
      503, "unavailable",
      engine_->ready() ? "not ready: views are replaying the log" : "not ready: recovering or shutting down");
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

HttpResponse Router::Asset(const RequestTarget& target, std::string_view if_none_match) const {
  std::string path;
  for (const std::string& segment : target.segments) path += "/" + segment;
  if (path.empty()) path = "/";
  if (std::optional<HttpResponse> response = assets_.Serve(path, if_none_match)) {
    return std::move(*response);
  }
  return ErrorResponse(404, "not_found", fmt::format("no such file: {}", path.substr(0, 200)));
}

}  // namespace sluice::server
