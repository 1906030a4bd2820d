#pragma once

#include <future>
#include <string>

#include "log/log.h"
#include "log/record_batch.h"

namespace sluice::log::testing {

inline TopicConfig TopicNamed(std::string name, int32_t partitions = 1) {
  TopicConfig config;
  config.name = std::move(name);
  config.partitions = partitions;
  return config;
}

// A batch of `count` records valued "<prefix><i>", all stamped `ts`.
inline EncodedBatch MakeBatch(int count, TimestampMs ts, const std::string& prefix = "v",
                              std::span<const RecordHeader> first_headers = {}) {
  RecordBatchBuilder builder;
  for (int i = 0; i < count; ++i) {
    builder.Add(ts, std::nullopt, prefix + std::to_string(i),
                i == 0 ? first_headers : std::span<const RecordHeader>());
  }
  return builder.Finish();
}

// Appends and waits for the callback.
inline Result<AppendResult> AppendSync(Partition& p, EncodedBatch batch) {
  std::promise<Result<AppendResult>> done;
  auto future = done.get_future();
  p.Append(std::move(batch), [&done](Result<AppendResult> r) { done.set_value(std::move(r)); });
  return future.get();
}

}  // namespace sluice::log::testing
