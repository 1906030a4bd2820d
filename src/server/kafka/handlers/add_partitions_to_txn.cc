// AddPartitionsToTxn (key 24), v0-v3: partitions a transactional producer is about to write.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/transactions.h"

namespace sluice::server::kafka {

void HandleAddPartitionsToTxn(Broker& broker, const RequestContext&, WireReader& in, ResponseCallback done) {
  const std::string transactional_id(in.String());
  const int64_t producer_id = in.Int64();
  const int16_t epoch = in.Int16();
  std::vector<std::pair<std::string, std::vector<int32_t>>> topics;
  const int32_t n = in.ArrayLength();
  for (int32_t t = 0; t < n && in.ok(); ++t) {
    std::pair<std::string, std::vector<int32_t>> topic{std::string(in.String()), {}};
    const int32_t m = in.ArrayLength(4);
    for (int32_t p = 0; p < m && in.ok(); ++p) topic.second.push_back(in.Int32());
    in.TaggedFields();
    topics.push_back(std::move(topic));
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  Response r;
  WireWriter w(&r.body, in.flexible());
  w.Int32(0);  // throttle_time_ms
  w.ArrayLength(static_cast<int32_t>(topics.size()));
  for (const auto& [name, partitions] : topics) {
    Result<std::shared_ptr<log::Topic>> topic =
        log::IsInternalTopicName(name) ? Result<std::shared_ptr<log::Topic>>(Status::NotFound(name))
                                       : broker.log().GetTopic(name);
    w.String(name);
    w.ArrayLength(static_cast<int32_t>(partitions.size()));
    for (int32_t p : partitions) {
      ErrorCode error = ErrorCode::kUnknownTopicOrPartition;
      if (topic.ok() && p >= 0 && p < (*topic)->partition_count()) {
        error = broker.transactions().AddPartition(transactional_id, producer_id, epoch, name, p);
      }
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
