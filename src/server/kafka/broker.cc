#include "server/kafka/broker.h"

#include <chrono>

#include <fmt/format.h>

#include "common/logging.h"
#include "server/kafka/group_coordinator.h"
#include "server/kafka/producers.h"
#include "server/kafka/transactions.h"

namespace sluice::server::kafka {

namespace {

Handler HandlerFor(ApiKey key) {
  switch (key) {
    case ApiKey::kProduce: return HandleProduce;
    case ApiKey::kFetch: return HandleFetch;
    case ApiKey::kListOffsets: return HandleListOffsets;
    case ApiKey::kMetadata: return HandleMetadata;
    case ApiKey::kOffsetCommit: return HandleOffsetCommit;
    case ApiKey::kOffsetFetch: return HandleOffsetFetch;
    case ApiKey::kFindCoordinator: return HandleFindCoordinator;
    case ApiKey::kJoinGroup: return HandleJoinGroup;
    case ApiKey::kHeartbeat: return HandleHeartbeat;
    case ApiKey::kLeaveGroup: return HandleLeaveGroup;
    case ApiKey::kSyncGroup: return HandleSyncGroup;
    case ApiKey::kDescribeGroups: return HandleDescribeGroups;
    case ApiKey::kListGroups: return HandleListGroups;
    case ApiKey::kApiVersions: return HandleApiVersions;
    case ApiKey::kCreateTopics: return HandleCreateTopics;
    case ApiKey::kDeleteTopics: return HandleDeleteTopics;
    case ApiKey::kInitProducerId: return HandleInitProducerId;
    case ApiKey::kAddPartitionsToTxn: return HandleAddPartitionsToTxn;
    case ApiKey::kAddOffsetsToTxn: return HandleAddOffsetsToTxn;
    case ApiKey::kEndTxn: return HandleEndTxn;
    case ApiKey::kTxnOffsetCommit: return HandleTxnOffsetCommit;
  }
  return nullptr;
}

}  // namespace

Broker::Broker(KafkaOptions options, engine::Engine* engine, MetricsRegistry* metrics)
    : options_(std::move(options)), engine_(engine) {
  auto* requests = metrics->AddCounter("sluice_kafka_requests_total", "Kafka protocol requests handled, by API", {"api"});
  auto* errors = metrics->AddCounter("sluice_kafka_request_errors_total",
                                     "Kafka protocol requests answered with at least one error code (or not "
                                     "decodable), by API",
                                     {"api"});
  auto* latency = metrics->AddHistogram("sluice_kafka_request_duration_seconds",
                                        "Time from a Kafka request's arrival to its response, by API", {"api"},
                                        MetricsRegistry::LatencyBuckets());
  for (const ApiSupport& api : SupportedApis()) {
    const std::string name(ApiName(static_cast<int16_t>(api.key)));
    ApiMetrics& m = api_metrics_[static_cast<size_t>(api.key)];
    m = {requests->WithLabels({name}), errors->WithLabels({name}), latency->WithLabels({name})};
  }
  unknown_api_ = {requests->WithLabels({"unknown"}), errors->WithLabels({"unknown"}), latency->WithLabels({"unknown"})};
  producers_ = std::make_unique<ProducerRegistry>(&engine->log());
  groups_ = std::make_unique<GroupCoordinator>(options_, &engine->log(), metrics);
  transactions_ = std::make_unique<TransactionCoordinator>(this);
  producers_->SetOrphanCheck([this](int64_t producer_id) { return transactions_->IsOrphan(producer_id); });
}

Broker::~Broker() { Stop(); }

Status Broker::Start() {
  SLUICE_RETURN_IF_ERROR(groups_->Start());
  SLUICE_RETURN_IF_ERROR(transactions_->Start());
  return Status::Ok();
}

void Broker::Stop() {
  transactions_->Stop();
  groups_->Stop();
}

Broker::ApiMetrics* Broker::MetricsFor(int16_t api_key) {
  if (FindApi(api_key) == nullptr) return &unknown_api_;
  return &api_metrics_[static_cast<size_t>(api_key)];
}

size_t OutFrame::size() const {
  size_t n = bytes.size();
  for (const Splice& s : spliced) n += s.bytes.size();
  return n;
}

std::string OutFrame::Flatten() const {
  std::string out;
  out.reserve(size());
  size_t from = 0;
  for (const Splice& s : spliced) {
    out.append(bytes, from, s.at - from);
    out += s.bytes;
    from = s.at;
  }
  out.append(bytes, from, std::string::npos);
  return out;
}

void Broker::HandleFrame(std::string_view frame, RequestContext ctx, std::function<void(Result<OutFrame>)> done) {
  const auto start = std::chrono::steady_clock::now();
  size_t header_size = 0;
  Result<RequestHeader> header = DecodeRequestHeader(frame, &header_size);
  if (!header.ok()) {
    unknown_api_.requests->Inc();
    unknown_api_.errors->Inc();
    return done(header.status());
  }
  ApiMetrics* m = MetricsFor(header->api_key);
  m->requests->Inc();
  if (!header->supported) {
    m->errors->Inc();
    SLUICE_LOG_DEBUG("kafka: {} v{} is not supported (client {})", ApiName(header->api_key), header->api_version,
                     header->client_id.value_or("-"));
    if (header->api_key == static_cast<int16_t>(ApiKey::kApiVersions)) {
      RequestHeader v0 = *header;
      v0.flexible = false;
      OutFrame out;
      const size_t pos = BeginResponse(v0, &out.bytes);
      out.bytes += ApiVersionsFallbackBody();
      FinishResponse(pos, &out.bytes);
      return done(std::move(out));
    }
    return done(OutFrame{UnsupportedVersionResponse(*header), {}});
  }
  ctx.header = *header;
  WireReader body(frame.substr(header_size), header->flexible);
  Handler handler = HandlerFor(static_cast<ApiKey>(header->api_key));
  const RequestHeader h = *header;
  handler(*this, ctx, body, [h, m, start, done = std::move(done)](Result<Response> response) {
    m->latency->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!response.ok()) {
      m->errors->Inc();
      SLUICE_LOG_DEBUG("kafka: malformed {} v{} request (client {}): {}", ApiName(h.api_key), h.api_version,
                       h.client_id.value_or("-"), response.status().message());
      return done(response.status());
    }
    if (response->errors > 0) m->errors->Inc();
    if (!response->send) return done(OutFrame{});
    OutFrame out;
    out.bytes.reserve(response->body.size() + 16);
    const size_t pos = BeginResponse(h, &out.bytes);
    const size_t header_size = out.bytes.size();
    out.bytes += response->body;
    size_t spliced_bytes = 0;
    for (Splice& s : response->spliced) {
      spliced_bytes += s.bytes.size();
      out.spliced.push_back({s.at + header_size, std::move(s.bytes)});
    }
    FinishResponse(pos, &out.bytes, spliced_bytes);
    done(std::move(out));
  });
}

}  // namespace sluice::server::kafka
