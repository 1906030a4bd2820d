#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/metrics.h"
#include "engine/engine.h"
#include "server/http_errors.h"
#include "server/request_target.h"
#include "server/static_assets.h"

namespace sluice::server {

// A parsed HTTP request, reduced to what the routes need (independent of Beast so the routes
// can be exercised without sockets).
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string content_type;
  std::string idempotency_key;
  std::string if_none_match;  // for the dashboard's files (304 Not Modified)
  std::string body;
};

using ReplyFn = std::function<void(HttpResponse)>;

// The routes of SPEC §2 mapped onto engine::Engine, and the HTTP request metrics (labelled by
// route template, never by raw path). The streaming routes (GET /v1/subscribe, /v1/ws) are
// served by PushHub (push_streams.h), which counts them here.
//
//   POST   /v1/topics/{topic}/events   ingest (NDJSON, JSON array or single object)
//   GET    /v1/topics/{topic}/events   replay read: ?partition=P&offset=O|from_time=T&limit=N
//   GET    /v1/topics                  list topics
//   POST   /v1/topics                  create: {"name","partitions","retention_ms","key"}
//   GET    /v1/topics/{topic}          describe
//   DELETE /v1/topics/{topic}          delete
//   GET    /metrics /health /ready
//   GET    / and /assets/...            the dashboard (static_assets.h), 404 for unknown files
//
// Read offsets outside [start_offset, end_offset] answer 400 with code "offset_out_of_range"
// (offset == end_offset is an empty page whose next_offset is end_offset).
//
// Thread-safe.
class Router {
 public:
  // `engine` and `metrics` must outlive the router.
  Router(engine::Engine* engine, MetricsRegistry* metrics);

  // Answers `request` by calling `reply` exactly once: inline for most routes, later and from an
  // engine thread for ingest (after the accepted events are durable).
  void Handle(HttpRequest request, ReplyFn reply);

  // Counts a response the connection produced without routing (413 for an oversized body,
  // 400 for malformed HTTP).
  void CountUnrouted(std::string_view method, unsigned status);
  // Counts the response that starts (or refuses) a stream: /v1/subscribe, /v1/ws (PushHub).
  void CountStream(std::string_view route_template, std::string_view method, unsigned status);

 private:
  enum class Route : uint8_t {
    kIndex,
    kAsset,
    kHealth,
    kReady,
    kMetrics,
    kTopics,
    kTopic,
    kTopicEvents,
    kSql,
    kViews,
    kViewVerify,
    kUnmatched,
  };
  static std::string_view RouteTemplate(Route route);
  static std::string_view AllowedMethods(Route route);
  static Route Match(const RequestTarget& target);

  void Dispatch(Route route, const RequestTarget& target, HttpRequest request, ReplyFn reply);
  void Ingest(const std::string& topic, const RequestTarget& target, HttpRequest request,
              ReplyFn reply);
  HttpResponse ReadEvents(const std::string& topic, const RequestTarget& target);
  HttpResponse ExecuteSql(std::string_view body);
  HttpResponse ListViews();
  HttpResponse VerifyView(const std::string& view);
  HttpResponse ListTopics();
  HttpResponse CreateTopic(std::string_view body);
  HttpResponse DescribeTopic(const std::string& topic, unsigned status = 200);
  HttpResponse DeleteTopic(const std::string& topic);
  HttpResponse Metrics();
  HttpResponse Ready();
  HttpResponse Asset(const RequestTarget& target, std::string_view if_none_match) const;
  static HttpResponse Health();

  void Count(Route route, std::string_view method, unsigned status, double seconds);

  engine::Engine* const engine_;
  MetricsRegistry* const metrics_;
  CounterFamily* requests_total_;
  HistogramFamily* request_seconds_;
  StaticAssets assets_;
};

}  // namespace sluice::server
