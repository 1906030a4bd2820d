#include "server/kafka/state_topic.h"

#include <algorithm>

namespace sluice::server::kafka {

Result<std::shared_ptr<log::Topic>> StateTopic::GetOrCreate() {
  std::lock_guard lock(mu_);
  if (topic_) return topic_;
  log::TopicConfig config;
  config.name = name_;
  config.partitions = 1;
  config.retention_ms = -1;  // a record stays until a newer one for its key supersedes it
  config.retention_bytes = -1;
  Status created = log_->CreateTopic(config);
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
  SLUICE_ASSIGN_OR_RETURN(topic_, log_->GetTopic(name_));
  return topic_;
}

Status StateTopic::Replay(const std::function<Status(const log::Record&)>& fn) {
  Result<std::shared_ptr<log::Topic>> topic = log_->GetTopic(name_);
  if (!topic.ok()) return topic.status().code() == StatusCode::kNotFound ? Status::Ok() : topic.status();
  {
    std::lock_guard lock(mu_);
    topic_ = *topic;
  }
  log::Partition& p = (*topic)->partition(PartitionId(0));
  const log::PartitionInfo info = p.Info();
  Offset at = info.start_offset;
  while (at < info.end_offset) {
    SLUICE_ASSIGN_OR_RETURN(log::ReadResult read, p.Read(at, 1 << 20));
    if (read.bytes.empty()) break;
    log::RecordReader reader(read.bytes, at);
    log::Record r;
    while (reader.Next(&r)) {
      at = r.offset + 1;
      SLUICE_RETURN_IF_ERROR(fn(r));
    }
    SLUICE_RETURN_IF_ERROR(reader.status());
    at = std::max(at, read.next_offset);
  }
  return Status::Ok();
}

}  // namespace sluice::server::kafka
