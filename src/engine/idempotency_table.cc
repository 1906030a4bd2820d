#include "engine/idempotency_table.h"

#include <algorithm>

namespace sluice::engine {

std::string IdempotencyTable::MapKey(std::string_view topic, std::string_view key) {
  std::string map_key;
  map_key.reserve(topic.size() + 1 + key.size());
  map_key.append(topic);
  map_key.push_back('\0');  // topic names cannot contain NUL, so the split is unambiguous
  map_key.append(key);
  return map_key;
}

void IdempotencyTable::Merge(std::vector<Append>* into, const Append& append) {
  for (Append& existing : *into) {
    if (existing.partition == append.partition) {
      existing = append;
      return;
    }
  }
  into->push_back(append);
}

Result<IdempotencyTable::Known> IdempotencyTable::Begin(std::string_view topic,
                                                        std::string_view key, uint64_t request_hash,
                                                        TimestampMs now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = entries_.try_emplace(MapKey(topic, key));
  Entry& entry = it->second;
  if (entry.in_flight) {
    return Status::FailedPrecondition("request with this Idempotency-Key is in progress");
  }
  if (!inserted && entry.request_hash != 0 && entry.request_hash != request_hash) {
    return Status::FailedPrecondition(
        "this Idempotency-Key was already used for a request with a different body or options");
  }
  Known known;
  known.seen = !inserted;
  known.topic = entry.topic;
  known.dlq = entry.dlq;
  entry.in_flight = true;
  entry.request_hash = request_hash;
  entry.touched_ms = now.value();
  return known;
}

void IdempotencyTable::Finish(std::string_view topic, std::string_view key,
                              const std::vector<Append>& topic_appends,
                              const std::vector<Append>& dlq_appends, TimestampMs now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(MapKey(topic, key));
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  for (const Append& a : topic_appends) Merge(&entry.topic, a);
  for (const Append& a : dlq_appends) Merge(&entry.dlq, a);
  entry.in_flight = false;
  entry.touched_ms = now.value();
}

void IdempotencyTable::RecoverTopicAppend(std::string_view topic, std::string_view key,
                                          const Append& append, TimestampMs at) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = entries_[MapKey(topic, key)];
  Merge(&entry.topic, append);
  entry.touched_ms = std::max(entry.touched_ms, at.value());
}

void IdempotencyTable::RecoverDlqAppend(std::string_view source_topic, std::string_view key,
                                        const Append& append, TimestampMs at) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = entries_[MapKey(source_topic, key)];
  Merge(&entry.dlq, append);
  entry.touched_ms = std::max(entry.touched_ms, at.value());
}

void IdempotencyTable::ForgetTopic(std::string_view topic) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string prefix = MapKey(topic, "");
  std::erase_if(entries_, [&](const auto& kv) {
    return !kv.second.in_flight && kv.first.compare(0, prefix.size(), prefix) == 0;
  });
}

void IdempotencyTable::Expire(TimestampMs now) {
  std::lock_guard<std::mutex> lock(mu_);
  // A full sweep at most once a second keeps the cost per request constant on average.
  if (now.value() - last_expiry_ms_ < 1000 && now.value() >= last_expiry_ms_) return;
  last_expiry_ms_ = now.value();
  const int64_t cutoff = now.value() - window_ms_;
  std::erase_if(entries_, [&](const auto& kv) {
    return !kv.second.in_flight && kv.second.touched_ms < cutoff;
  });
}

size_t IdempotencyTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace sluice::engine
