#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "log/log.h"
#include "server/kafka/kafka_options.h"
#include "server/kafka/protocol.h"
#include "server/kafka/state_topic.h"

namespace sluice::server::kafka {

// Kafka's classic consumer-group protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup)
// and committed offsets, for a one-node cluster. The coordinator knows nothing of sockets or
// wire formats: handlers decode requests into the structs below and encode the answers.
//
// Group life: Empty -> PreparingRebalance (members join; the phase ends when every known
// member has rejoined, at the rebalance timeout, or, for a new group, after
// group_initial_rebalance_delay_ms) -> CompletingRebalance (the leader computes assignments
// and sends them with SyncGroup) -> Stable. A member that stops heartbeating for its session
// timeout, or leaves, starts a new rebalance. Membership is kept in memory only (as Kafka
// does, members rejoin after a restart); committed offsets are durable: each commit is one
// record batch in the internal topic `.kafka_group_offsets` (docs/formats/kafka-group-offsets.md),
// appended before the commit is acknowledged and replayed at start.
//
// Thread-safe. Callbacks run without the coordinator's lock held, on the calling thread or
// on the coordinator's timer thread.
class GroupCoordinator {
 public:
  static constexpr std::string_view kOffsetsTopic = ".kafka_group_offsets";

  GroupCoordinator(const KafkaOptions& options, log::Log* log, MetricsRegistry* metrics);
  ~GroupCoordinator();

  // Replays the offsets topic if it exists. Must succeed before anything else.
  Status Start();
  // Stops the timer thread; pending joins and syncs are answered with
  // COORDINATOR_NOT_AVAILABLE. Idempotent.
  void Stop();

  struct Protocol {
    std::string name;
    std::string metadata;
  };
  struct JoinRequest {
    std::string group_id;
    std::string member_id;  // empty = a new member
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::string protocol_type;
    std::vector<Protocol> protocols;
  };
  struct JoinMember {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string metadata;
  };
  struct JoinResult {
    ErrorCode error = ErrorCode::kNone;
    int32_t generation_id = -1;
    std::string protocol_type;
    std::string protocol_name;
    std::string leader;
    std::string member_id;
    std::vector<JoinMember> members;  // only for the leader
  };
  void Join(JoinRequest request, std::function<void(JoinResult)> done);

  struct SyncResult {
    ErrorCode error = ErrorCode::kNone;
    std::string protocol_type;
    std::string protocol_name;
    std::string assignment;
  };
  void Sync(const std::string& group_id, int32_t generation_id, const std::string& member_id,
            std::vector<std::pair<std::string, std::string>> assignments, std::function<void(SyncResult)> done);

  ErrorCode Heartbeat(const std::string& group_id, int32_t generation_id, const std::string& member_id);
  ErrorCode Leave(const std::string& group_id, const std::string& member_id);

  struct CommitPartition {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    int32_t leader_epoch = -1;
    std::optional<std::string> metadata;
  };
  // One error for the whole request (generation/member checks, storage) — the handler
  // reports it on every partition.
  // `transactional`: offsets of a committed transaction (TxnOffsetCommit + EndTxn), applied
  // without membership checks (the producer, not a member, commits them).
  void Commit(const std::string& group_id, int32_t generation_id, const std::string& member_id,
              std::vector<CommitPartition> partitions, std::function<void(ErrorCode)> done,
              bool transactional = false);

  struct Committed {
    int64_t offset = -1;
    int32_t leader_epoch = -1;
    std::string metadata;
  };
  // Committed offsets of a group; for `topics` empty (all), every partition with a commit.
  std::map<std::pair<std::string, int32_t>, Committed> Fetch(const std::string& group_id);

  struct GroupSummary {
    std::string group_id;
    std::string protocol_type;
    std::string state;
  };
  std::vector<GroupSummary> List();

  struct MemberDescription {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::string metadata;    // of the chosen protocol
    std::string assignment;
  };
  struct GroupDescription {
    ErrorCode error = ErrorCode::kNone;
    std::string group_id;
    std::string state;  // Empty, PreparingRebalance, CompletingRebalance, Stable, Dead
    std::string protocol_type;
    std::string protocol;
    std::vector<MemberDescription> members;
  };
  GroupDescription Describe(const std::string& group_id);

 private:
  enum class State : uint8_t { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };
  struct Member {
    std::string id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::vector<Protocol> protocols;
    std::string assignment;
    int64_t last_heartbeat_ms = 0;
    std::function<void(JoinResult)> pending_join;
    std::function<void(SyncResult)> pending_sync;
  };
  struct Group {
    std::string id;
    State state = State::kEmpty;
    int32_t generation = 0;
    std::string protocol_type;
    std::string protocol;
    std::string leader;
    std::map<std::string, Member> members;  // by member id
    int64_t join_deadline_ms = 0;           // PreparingRebalance: when joining ends at the latest
    int64_t initial_delay_until_ms = 0;     // a new group waits this long for more members
    std::map<std::pair<std::string, int32_t>, Committed> offsets;
  };
  using Deferred = std::vector<std::function<void()>>;

  static std::string_view StateName(State s);
  int64_t NowMs() const;
  void PrepareRebalance(Group& g, int64_t now);
  void MaybeCompleteJoin(Group& g, int64_t now, Deferred* out);
  void CompleteJoin(Group& g, Deferred* out);
  void RemoveMember(Group& g, const std::string& member_id, int64_t now, Deferred* out);
  void Tick();
  Status Replay();

  const KafkaOptions options_;
  log::Log* const log_;
  StateTopic offsets_topic_;  // committed offsets are kept until overwritten (see the format doc)
  Counter* rebalances_ = nullptr;
  Gauge* groups_gauge_ = nullptr;

  std::mutex mu_;
  std::map<std::string, Group> groups_;
  uint64_t next_member_ = 0;
  bool stopping_ = false;
  std::condition_variable cv_;
  std::thread ticker_;
};

class WireReader;
class WireWriter;

// The topics array that OffsetCommit and TxnOffsetCommit share: per topic, per partition the
// offset, the leader epoch (when `has_leader_epoch`) and metadata. `topics` keeps the request's
// order for the response.
struct CommitRequest {
  std::vector<std::pair<std::string, std::vector<int32_t>>> topics;
  std::vector<GroupCoordinator::CommitPartition> partitions;
};
CommitRequest ReadCommitRequest(WireReader& in, bool has_leader_epoch);
// Their response's topics array: every partition answered with `error` (counted in *errors).
void WriteCommitResponse(const std::vector<std::pair<std::string, std::vector<int32_t>>>& topics, ErrorCode error, WireWriter* w, int* errors);

}  // namespace sluice::server::kafka
