// TxnOffsetCommit (key 28), v0-v3: group offsets staged in the open transaction, applied when
// it commits.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/transactions.h"

namespace sluice::server::kafka {

void HandleTxnOffsetCommit(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  const std::string transactional_id(in.String());
  const std::string group_id(in.String());
  const int64_t producer_id = in.Int64();
  const int16_t epoch = in.Int16();
  if (v >= 3) {
    (void)in.Int32();           // generation_id
    (void)in.String();          // member_id
    (void)in.NullableString();  // group_instance_id
  }
  std::vector<std::pair<std::string, std::vector<int32_t>>> topics;
  std::vector<GroupCoordinator::CommitPartition> offsets;
  const int32_t n = in.ArrayLength();
  for (int32_t t = 0; t < n && in.ok(); ++t) {
    std::pair<std::string, std::vector<int32_t>> topic{std::string(in.String()), {}};
    const int32_t m = in.ArrayLength(14);
    for (int32_t p = 0; p < m && in.ok(); ++p) {
      GroupCoordinator::CommitPartition c;
      c.topic = topic.first;
      c.partition = in.Int32();
      c.offset = in.Int64();
      if (v >= 2) c.leader_epoch = in.Int32();
      if (auto meta = in.NullableString()) c.metadata = std::string(*meta);
      in.TaggedFields();
      topic.second.push_back(c.partition);
      offsets.push_back(std::move(c));
    }
    in.TaggedFields();
    topics.push_back(std::move(topic));
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  const ErrorCode error =
      broker.transactions().StageOffsets(transactional_id, producer_id, epoch, group_id, std::move(offsets));
  Response r;
  WireWriter w(&r.body, in.flexible());
  w.Int32(0);  // throttle_time_ms
  w.ArrayLength(static_cast<int32_t>(topics.size()));
  for (const auto& [name, partitions] : topics) {
    w.String(name);
    w.ArrayLength(static_cast<int32_t>(partitions.size()));
    for (int32_t p : partitions) {
      if (error != ErrorCode::kNone) ++r.errors;
      w.Int32(p);
      w.Int16(Wire(error));
      w.EmptyTaggedFields();
    }
    w.EmptyTaggedFields();
  }
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
