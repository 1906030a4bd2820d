#include "server/push_encoding.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>

#include "common/json_writer.h"
#include "sql/value_json.h"

namespace sluice::server {
namespace {

void WriteRow(JsonWriter& json, const std::vector<sql::Value>& row) {
  json.BeginArray();
  for (const sql::Value& v : row) sql::WriteJsonValue(json, v);
  json.EndArray();
}

void WriteErrorObject(JsonWriter& json, const Status& status) {
  json.Key("error").BeginObject();
  json.Key("code").String(StatusCodeName(status.code())).Key("message").String(status.message());
  json.EndObject();
}

Result<std::optional<std::pair<std::string, uint64_t>>> ResumePoint(std::string_view id) {
  if (id.empty()) return std::optional<std::pair<std::string, uint64_t>>();
  auto parsed = ParseEventId(id);
  if (!parsed) {
    return Status::InvalidArgument(
        fmt::format("malformed last event id \"{}\" (expected <stream>-<seq>)", id.substr(0, 64)));
  }
  return parsed;
}

Status CheckOneOf(bool has_view, bool has_sql) {
  if (has_view == has_sql) {
    return Status::InvalidArgument(
        has_view ? "give either a view or a sql query, not both"
                 : "name the view to subscribe to (view=NAME) or give a query (sql=SELECT ...)");
  }
  return Status::Ok();
}

}  // namespace

std::string FormatEventId(std::string_view stream_id, uint64_t seq) {
  return fmt::format("{}-{}", stream_id, seq);
}

std::optional<std::pair<std::string, uint64_t>> ParseEventId(std::string_view id) {
  const size_t dash = id.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= id.size() || id.size() > 128)
    return std::nullopt;
  uint64_t seq = 0;
  const char* begin = id.data() + dash + 1;
  const char* end = id.data() + id.size();
  auto [ptr, ec] = std::from_chars(begin, end, seq);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return std::make_pair(std::string(id.substr(0, dash)), seq);
}

std::string EncodeSnapshot(const engine::Subscription& sub,
                           const engine::SubscriptionSnapshot& snapshot, bool resync) {
  std::string out;
  out.reserve(128 + snapshot.rows.size() * 32);
  JsonWriter json(&out);
  json.BeginObject();
  json.Key("type").String("snapshot");
  json.Key("id").String(FormatEventId(sub.stream_id(), snapshot.seq));
  json.Key("ts").Int(snapshot.ts_ms);
  json.Key("resync").Bool(resync);
  json.Key("columns").BeginArray();
  for (const sql::ColumnSchema& c : sub.columns()) {
    json.BeginObject().Key("name").String(c.name).Key("type").String(c.type.ToString()).EndObject();
  }
  json.EndArray();
  json.Key("rows").BeginArray();
  for (const auto& row : snapshot.rows) WriteRow(json, row);
  json.EndArray();
  json.EndObject();
  return out;
}

std::string EncodeChanges(std::string_view stream_id, const engine::ChangeBatch& batch) {
  const std::vector<engine::WeightedRow> rows = engine::Consolidate(batch);
  std::string out;
  out.reserve(96 + rows.size() * 32);
  JsonWriter json(&out);
  json.BeginObject();
  json.Key("type").String("change");
  json.Key("id").String(FormatEventId(stream_id, batch.seq));
  json.Key("ts").Int(batch.ts_ms);
  for (const bool inserts : {true, false}) {
    json.Key(inserts ? "inserts" : "deletes").BeginArray();
    for (const engine::WeightedRow& r : rows) {
      if ((r.weight > 0) != inserts) continue;
      for (int64_t i = 0; i < (r.weight > 0 ? r.weight : -r.weight); ++i) WriteRow(json, r.values);
    }
    json.EndArray();
  }
  json.EndObject();
  return out;
}

std::string EncodeEnd(const Status& reason) {
  std::string out;
  JsonWriter json(&out);
  json.BeginObject().Key("type").String("end");
  WriteErrorObject(json, reason);
  json.EndObject();
  return out;
}

std::string EncodeError(const Status& error) {
  std::string out;
  JsonWriter json(&out);
  json.BeginObject().Key("type").String("error");
  WriteErrorObject(json, error);
  json.EndObject();
  return out;
}

std::string SseEvent(std::string_view id, std::string_view name, std::string_view data) {
  std::string out;
  out.reserve(data.size() + id.size() + name.size() + 24);
  if (!id.empty()) out.append("id: ").append(id).append("\n");
  if (!name.empty()) out.append("event: ").append(name).append("\n");
  out.append("data: ").append(data).append("\n\n");  // JsonWriter output holds no newline
  return out;
}

Result<engine::SubscribeRequest> SubscribeRequestFromTarget(const RequestTarget& target,
                                                            std::string_view last_event_id_header) {
  engine::SubscribeRequest request;
  const auto view = target.Param("view");
  const auto sql = target.Param("sql");
  SLUICE_RETURN_IF_ERROR(CheckOneOf(view.has_value(), sql.has_value()));
  if (view) request.view = std::string(*view);
  if (sql) request.sql = std::string(*sql);
  if ((view && view->empty()) || (sql && sql->empty())) {
    return Status::InvalidArgument(view ? "view= names no view" : "sql= holds no query");
  }
  std::string_view id = last_event_id_header;
  if (id.empty()) id = target.Param("last_event_id").value_or("");
  SLUICE_ASSIGN_OR_RETURN(request.resume_after, ResumePoint(id));
  return request;
}

Result<engine::SubscribeRequest> SubscribeRequestFromJson(std::string_view message) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(simdjson::padded_string(message)).get(root); error) {
    return Status::InvalidArgument(
        fmt::format("message is not valid JSON: {}", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return Status::InvalidArgument(R"(expected {"subscribe": "view"} or {"sql": "SELECT ..."})");
  }
  engine::SubscribeRequest request;
  bool has_view = false;
  bool has_sql = false;
  std::string_view id;
  for (auto field : object) {
    std::string_view value;
    if (field.value.get_string().get(value) != simdjson::SUCCESS) {
      return Status::InvalidArgument(fmt::format("\"{}\" must be a string", field.key));
    }
    if (field.key == "subscribe" || field.key == "view") {
      has_view = true;
      request.view = std::string(value);
    } else if (field.key == "sql") {
      has_sql = true;
      request.sql = std::string(value);
    } else if (field.key == "last_event_id") {
      id = value;
    } else {
      return Status::InvalidArgument(
          fmt::format("unknown field \"{}\" (known: subscribe, sql, last_event_id)", field.key));
    }
  }
  SLUICE_RETURN_IF_ERROR(CheckOneOf(has_view, has_sql));
  if (request.view.empty() && request.sql.empty())
    return Status::InvalidArgument("the subscription names no view");
  SLUICE_ASSIGN_OR_RETURN(request.resume_after, ResumePoint(id));
  return request;
}

SubscriptionMetrics SubscriptionMetrics::For(MetricsRegistry* metrics, std::string_view transport) {
  SubscriptionMetrics m;
  const std::vector<std::string> labels{std::string(transport)};
  m.active = metrics
                 ->AddGauge("sluice_subscriptions", "Open subscriptions to views, by transport",
                            {"transport"})
                 ->WithLabels(labels);
  m.events =
      metrics
          ->AddCounter("sluice_subscription_events_total",
                       "Subscription events sent (snapshots and change batches), by transport",
                       {"transport"})
          ->WithLabels(labels);
  m.resyncs =
      metrics
          ->AddCounter(
              "sluice_subscription_resyncs_total",
              "Subscribers that fell behind: their buffer was dropped and a fresh snapshot sent",
              {"transport"})
          ->WithLabels(labels);
  return m;
}

}  // namespace sluice::server
