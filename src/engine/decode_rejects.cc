#include "engine/decode_rejects.h"

#include "common/logging.h"
#include "log/record_batch.h"

namespace sluice::engine {
namespace {

constexpr std::string_view kDlqSuffix = ".dlq";
constexpr std::string_view kErrorHeader = "sluice.error";
constexpr std::string_view kSourceTopicHeader = "sluice.source-topic";
constexpr std::string_view kSourceHeader = "sluice.source";
constexpr std::string_view kOffsetHeader = "sluice.offset";

}  // namespace

DecodeRejectReporter::DecodeRejectReporter(log::Log* log, MetricsRegistry* metrics) : log_(log) {
  if (metrics != nullptr) {
    counter_ = metrics->AddCounter("sluice_decode_rejected_events_total",
                                   "Events of a source's topic that do not match its schema, sent to the DLQ",
                                   {"source"});
  }
}

void DecodeRejectReporter::Register(const std::string& source, const std::string& topic) {
  std::vector<Offset> ends;
  if (Result<std::shared_ptr<log::Topic>> t = log_->GetTopic(topic); t.ok()) {
    for (int32_t p = 0; p < (*t)->partition_count(); ++p) ends.push_back((*t)->partition(PartitionId(p)).Info().end_offset);
  }
  std::lock_guard<std::mutex> lock(mu_);
  next_[source] = std::move(ends);
}

void DecodeRejectReporter::Forget(const std::string& source) {
  std::lock_guard<std::mutex> lock(mu_);
  next_.erase(source);
}

void DecodeRejectReporter::Report(const std::string& source, const std::string& topic,
                                  std::vector<DecodeReject> rejects) {
  std::vector<const DecodeReject*> fresh;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = next_.find(source);
    if (it == next_.end()) return;
    std::vector<Offset>& next = it->second;
    for (const DecodeReject& r : rejects) {
      const size_t p = static_cast<size_t>(r.partition.value());
      if (p >= next.size()) next.resize(p + 1, Offset(0));
      if (r.offset < next[p]) continue;  // reported already (by another view, or before a restart)
      next[p] = r.offset + 1;
      fresh.push_back(&r);
    }
  }
  if (fresh.empty()) return;
  if (counter_ != nullptr) counter_->WithLabels({source})->Inc(static_cast<double>(fresh.size()));
  const std::string dlq_name = topic + std::string(kDlqSuffix);
  Result<std::shared_ptr<log::Topic>> dlq = log::GetOrCreateTopic(log_, dlq_name, 1);
  if (!dlq.ok()) {
    SLUICE_LOG_WARN("source {}: cannot create {}: {}", source, dlq_name, dlq.status().message());
    return;
  }
  log::RecordBatchBuilder builder;
  for (const DecodeReject* r : fresh) {
    const std::string position = std::to_string(r->partition.value()) + "/" + std::to_string(r->offset.value());
    const log::RecordHeader headers[] = {{kErrorHeader, r->reason},
                                         {kSourceTopicHeader, topic},
                                         {kSourceHeader, source},
                                         {kOffsetHeader, position}};
    builder.Add(TimestampMs(r->timestamp_ms), std::nullopt, r->value, headers);
  }
  (*dlq)->partition(PartitionId(0)).Append(builder.Finish(), [source, dlq_name](Result<log::AppendResult> r) {
    if (!r.ok()) SLUICE_LOG_WARN("source {}: rejects not written to {}: {}", source, dlq_name, r.status().message());
  });
}

}  // namespace sluice::engine
