#include "server/kafka/group_coordinator.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "common/logging.h"
#include "common/thread_name.h"
#include "log/record_batch.h"
#include "server/kafka/errors.h"
#include "server/kafka/wire.h"

namespace sluice::server::kafka {

namespace {

constexpr int16_t kOffsetRecordVersion = 1;
constexpr auto kTickInterval = std::chrono::milliseconds(50);

GroupCoordinator::JoinResult JoinFailed(ErrorCode error, std::string member_id = "") {
  GroupCoordinator::JoinResult r;
  r.error = error;
  r.member_id = std::move(member_id);
  return r;
}

GroupCoordinator::SyncResult SyncFailed(ErrorCode error) {
  GroupCoordinator::SyncResult r;
  r.error = error;
  return r;
}

std::string OffsetKey(const std::string& group, const std::string& topic, int32_t partition) {
  std::string out;
  WireWriter w(&out, false);
  w.Int16(kOffsetRecordVersion);
  w.String(group);
  w.String(topic);
  w.Int32(partition);
  return out;
}

std::string OffsetValue(const GroupCoordinator::CommitPartition& p, int64_t now_ms) {
  std::string out;
  WireWriter w(&out, false);
  w.Int16(kOffsetRecordVersion);
  w.Int64(p.offset);
  w.Int32(p.leader_epoch);
  w.NullableString(p.metadata);
  w.Int64(now_ms);
  return out;
}

}  // namespace

GroupCoordinator::GroupCoordinator(const KafkaOptions& options, log::Log* log, MetricsRegistry* metrics)
    : options_(options), log_(log), offsets_topic_(log, kOffsetsTopic) {
  rebalances_ = metrics->AddCounter("sluice_kafka_group_rebalances_total", "Consumer group rebalances completed")
                    ->WithLabels({});
  groups_gauge_ = metrics->AddGauge("sluice_kafka_groups", "Consumer groups known to the coordinator")->WithLabels({});
}

GroupCoordinator::~GroupCoordinator() { Stop(); }

Status GroupCoordinator::Start() {
  SLUICE_RETURN_IF_ERROR(Replay());
  ticker_ = std::thread([this] {
    SetThreadName("kafka-groups");
    Tick();
  });
  return Status::Ok();
}

Status GroupCoordinator::Replay() {
  size_t records = 0;
  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(offsets_topic_.Replay([&](const log::Record& r) -> Status {
    if (!r.key) return Status::Ok();
    WireReader key(*r.key, false);
    if (key.Int16() != kOffsetRecordVersion) return Status::Ok();  // a newer format: not ours to read
    const std::string group(key.String());
    const std::string topic(key.String());
    const int32_t partition = key.Int32();
    if (!key.ok()) return Status::Corruption(fmt::format("{}: malformed key at offset {}", kOffsetsTopic, r.offset.value()));
    Group& g = groups_[group];
    g.id = group;
    if (!r.value) {
      g.offsets.erase({topic, partition});
      return Status::Ok();
    }
    WireReader value(*r.value, false);
    if (value.Int16() != kOffsetRecordVersion) return Status::Ok();
    Committed c;
    c.offset = value.Int64();
    c.leader_epoch = value.Int32();
    c.metadata = std::string(value.NullableString().value_or(""));
    if (!value.ok()) {
      return Status::Corruption(fmt::format("{}: malformed value at offset {}", kOffsetsTopic, r.offset.value()));
    }
    g.offsets[{topic, partition}] = std::move(c);
    ++records;
    return Status::Ok();
  }));
  groups_gauge_->Set(static_cast<double>(groups_.size()));
  if (records > 0) SLUICE_LOG_INFO("kafka: replayed {} offset commit records of {} groups", records, groups_.size());
  return Status::Ok();
}

void GroupCoordinator::Stop() {
  Deferred deferred;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, g] : groups_) {
      for (auto& [mid, m] : g.members) {
        if (m.pending_join) {
          deferred.push_back([cb = std::move(m.pending_join)] { cb(JoinFailed(ErrorCode::kCoordinatorNotAvailable)); });
        }
        if (m.pending_sync) {
          deferred.push_back([cb = std::move(m.pending_sync)] { cb(SyncFailed(ErrorCode::kCoordinatorNotAvailable)); });
        }
        m.pending_join = nullptr;
        m.pending_sync = nullptr;
      }
    }
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  for (auto& f : deferred) f();
}

int64_t GroupCoordinator::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string_view GroupCoordinator::StateName(State s) {
  switch (s) {
    case State::kEmpty: return "Empty";
    case State::kPreparingRebalance: return "PreparingRebalance";
    case State::kCompletingRebalance: return "CompletingRebalance";
    case State::kStable: return "Stable";
  }
  return "Dead";
}

void GroupCoordinator::PrepareRebalance(Group& g, int64_t now) {
  if (g.state == State::kPreparingRebalance) return;
  // Members waiting for assignments of the old generation must rejoin.
  for (auto& [id, m] : g.members) {
    if (m.pending_sync) {
      auto cb = std::move(m.pending_sync);
      m.pending_sync = nullptr;
      cb(SyncFailed(ErrorCode::kRebalanceInProgress));
    }
  }
  int32_t longest = 0;
  for (auto& [id, m] : g.members) longest = std::max(longest, m.rebalance_timeout_ms);
  g.join_deadline_ms = now + longest;
  if (g.state == State::kEmpty) g.initial_delay_until_ms = now + options_.group_initial_rebalance_delay_ms;
  g.state = State::kPreparingRebalance;
}

void GroupCoordinator::MaybeCompleteJoin(Group& g, int64_t now, Deferred* out) {
  if (g.state != State::kPreparingRebalance || g.members.empty()) return;
  bool all_joined = true;
  for (auto& [id, m] : g.members) all_joined = all_joined && static_cast<bool>(m.pending_join);
  if (now < g.initial_delay_until_ms && now < g.join_deadline_ms) return;
  if (!all_joined && now < g.join_deadline_ms) return;
  // Members that did not rejoin in time are out.
  for (auto it = g.members.begin(); it != g.members.end();) {
    if (!it->second.pending_join) {
      SLUICE_LOG_INFO("kafka: group {}: member {} did not rejoin in time", g.id, it->first);
      it = g.members.erase(it);
    } else {
      ++it;
    }
  }
  if (g.members.empty()) {
    g.state = State::kEmpty;
    return;
  }
  CompleteJoin(g, out);
}

void GroupCoordinator::CompleteJoin(Group& g, Deferred* out) {
  // The protocol: the first of the leader's (in its preference order) that every member supports.
  if (g.members.find(g.leader) == g.members.end()) g.leader = g.members.begin()->first;
  const Member& leader = g.members.at(g.leader);
  g.protocol.clear();
  for (const Protocol& p : leader.protocols) {
    const bool everyone = std::all_of(g.members.begin(), g.members.end(), [&](const auto& kv) {
      return std::any_of(kv.second.protocols.begin(), kv.second.protocols.end(),
                         [&](const Protocol& q) { return q.name == p.name; });
    });
    if (everyone) {
      g.protocol = p.name;
      break;
    }
  }
  ++g.generation;
  g.state = State::kCompletingRebalance;
  rebalances_->Inc();
  SLUICE_LOG_INFO("kafka: group {} generation {}: {} member(s), leader {}, protocol {}", g.id, g.generation,
                  g.members.size(), g.leader, g.protocol);
  std::vector<JoinMember> members;
  for (const auto& [id, m] : g.members) {
    JoinMember jm{id, m.group_instance_id, ""};
    for (const Protocol& p : m.protocols) {
      if (p.name == g.protocol) jm.metadata = p.metadata;
    }
    members.push_back(std::move(jm));
  }
  const int64_t now = NowMs();
  for (auto& [id, m] : g.members) {
    JoinResult r;
    r.generation_id = g.generation;
    r.protocol_type = g.protocol_type;
    r.protocol_name = g.protocol;
    r.leader = g.leader;
    r.member_id = id;
    if (id == g.leader) r.members = members;
    m.last_heartbeat_ms = now;
    m.assignment.clear();
    out->push_back([cb = std::move(m.pending_join), r = std::move(r)] { cb(r); });
    m.pending_join = nullptr;
  }
}

void GroupCoordinator::RemoveMember(Group& g, const std::string& member_id, int64_t now, Deferred* out) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  if (it->second.pending_join) {
    out->push_back([cb = std::move(it->second.pending_join)] { cb(JoinFailed(ErrorCode::kUnknownMemberId)); });
  }
  if (it->second.pending_sync) {
    out->push_back([cb = std::move(it->second.pending_sync)] { cb(SyncFailed(ErrorCode::kUnknownMemberId)); });
  }
  g.members.erase(it);
  if (g.members.empty()) {
    g.state = State::kEmpty;
    g.leader.clear();
    return;
  }
  if (g.state == State::kPreparingRebalance) {
    MaybeCompleteJoin(g, now, out);
  } else {
    PrepareRebalance(g, now);
  }
}

void GroupCoordinator::Join(JoinRequest req, std::function<void(JoinResult)> done) {
  if (req.group_id.empty()) return done(JoinFailed(ErrorCode::kInvalidGroupId));
  if (req.session_timeout_ms < options_.group_min_session_timeout_ms ||
      req.session_timeout_ms > options_.group_max_session_timeout_ms) {
    return done(JoinFailed(ErrorCode::kInvalidSessionTimeout));
  }
  if (req.protocol_type.empty() || req.protocols.empty()) return done(JoinFailed(ErrorCode::kInconsistentGroupProtocol));
  Deferred deferred;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return done(JoinFailed(ErrorCode::kCoordinatorNotAvailable));
    const int64_t now = NowMs();
    Group& g = groups_[req.group_id];
    g.id = req.group_id;
    groups_gauge_->Set(static_cast<double>(groups_.size()));
    if (!g.members.empty() && g.protocol_type != req.protocol_type) {
      return done(JoinFailed(ErrorCode::kInconsistentGroupProtocol));
    }
    if (!g.members.empty()) {
      const bool shared = std::any_of(req.protocols.begin(), req.protocols.end(), [&](const Protocol& p) {
        return std::all_of(g.members.begin(), g.members.end(), [&](const auto& kv) {
          return kv.first == req.member_id ||
                 std::any_of(kv.second.protocols.begin(), kv.second.protocols.end(),
                             [&](const Protocol& q) { return q.name == p.name; });
        });
      });
      if (!shared) return done(JoinFailed(ErrorCode::kInconsistentGroupProtocol));
    }
    std::string member_id = req.member_id;
    if (member_id.empty()) {
      member_id = fmt::format("{}-{}-{}", req.client_id.empty() ? "member" : req.client_id, now, ++next_member_);
    } else if (!g.members.contains(member_id)) {
      return done(JoinFailed(ErrorCode::kUnknownMemberId, member_id));
    }
    Member& m = g.members[member_id];
    m.id = member_id;
    m.group_instance_id = req.group_instance_id;
    m.client_id = req.client_id;
    m.client_host = req.client_host;
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = static_cast<int32_t>(std::clamp<int64_t>(
        req.rebalance_timeout_ms, req.session_timeout_ms, options_.group_max_session_timeout_ms));
    m.protocols = std::move(req.protocols);
    m.last_heartbeat_ms = now;
    if (m.pending_join) {
      deferred.push_back([cb = std::move(m.pending_join)] { cb(JoinFailed(ErrorCode::kUnknownMemberId)); });
    }
    m.pending_join = std::move(done);
    g.protocol_type = req.protocol_type;
    PrepareRebalance(g, now);  // a join outside a rebalance (new member, new metadata) starts one
    MaybeCompleteJoin(g, now, &deferred);
  }
  for (auto& f : deferred) f();
}

void GroupCoordinator::Sync(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                            std::vector<std::pair<std::string, std::string>> assignments,
                            std::function<void(SyncResult)> done) {
  Deferred deferred;
  {
    std::lock_guard lock(mu_);
    auto git = groups_.find(group_id);
    if (git == groups_.end() || !git->second.members.contains(member_id)) {
      return done(SyncFailed(ErrorCode::kUnknownMemberId));
    }
    Group& g = git->second;
    Member& m = g.members.at(member_id);
    if (generation_id != g.generation) return done(SyncFailed(ErrorCode::kIllegalGeneration));
    if (g.state == State::kPreparingRebalance) return done(SyncFailed(ErrorCode::kRebalanceInProgress));
    m.last_heartbeat_ms = NowMs();
    if (g.state == State::kStable) {
      return done({ErrorCode::kNone, g.protocol_type, g.protocol, m.assignment});
    }
    // CompletingRebalance: wait for the leader's assignments.
    m.pending_sync = std::move(done);
    if (member_id == g.leader) {
      for (auto& [id, a] : assignments) {
        auto it = g.members.find(id);
        if (it != g.members.end()) it->second.assignment = std::move(a);
      }
      g.state = State::kStable;
      for (auto& [id, mm] : g.members) {
        if (!mm.pending_sync) continue;
        SyncResult r{ErrorCode::kNone, g.protocol_type, g.protocol, mm.assignment};
        deferred.push_back([cb = std::move(mm.pending_sync), r = std::move(r)] { cb(r); });
        mm.pending_sync = nullptr;
      }
    }
  }
  for (auto& f : deferred) f();
}

ErrorCode GroupCoordinator::Heartbeat(const std::string& group_id, int32_t generation_id, const std::string& member_id) {
  std::lock_guard lock(mu_);
  auto git = groups_.find(group_id);
  if (git == groups_.end() || !git->second.members.contains(member_id)) return ErrorCode::kUnknownMemberId;
  Group& g = git->second;
  if (generation_id != g.generation) return ErrorCode::kIllegalGeneration;
  g.members.at(member_id).last_heartbeat_ms = NowMs();
  if (g.state == State::kPreparingRebalance) return ErrorCode::kRebalanceInProgress;
  return ErrorCode::kNone;
}

ErrorCode GroupCoordinator::Leave(const std::string& group_id, const std::string& member_id) {
  Deferred deferred;
  {
    std::lock_guard lock(mu_);
    auto git = groups_.find(group_id);
    if (git == groups_.end() || !git->second.members.contains(member_id)) return ErrorCode::kUnknownMemberId;
    SLUICE_LOG_INFO("kafka: group {}: member {} left", group_id, member_id);
    RemoveMember(git->second, member_id, NowMs(), &deferred);
  }
  for (auto& f : deferred) f();
  return ErrorCode::kNone;
}

void GroupCoordinator::Commit(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                              std::vector<CommitPartition> partitions, std::function<void(ErrorCode)> done,
                              bool transactional) {
  if (group_id.empty()) return done(ErrorCode::kInvalidGroupId);
  if (!transactional) {
    std::lock_guard lock(mu_);
    if (stopping_) return done(ErrorCode::kCoordinatorNotAvailable);
    auto git = groups_.find(group_id);
    const bool standalone = generation_id < 0 && member_id.empty();
    if (standalone) {
      // A consumer outside the group protocol (assign(), kcat -o ...): only for groups
      // without members, as Kafka.
      if (git != groups_.end() && !git->second.members.empty()) return done(ErrorCode::kUnknownMemberId);
    } else {
      if (git == groups_.end() || !git->second.members.contains(member_id)) return done(ErrorCode::kUnknownMemberId);
      if (generation_id != git->second.generation) return done(ErrorCode::kIllegalGeneration);
      if (git->second.state == State::kPreparingRebalance) return done(ErrorCode::kRebalanceInProgress);
    }
  }
  if (partitions.empty()) return done(ErrorCode::kNone);
  const int64_t wall =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  log::RecordBatchBuilder builder;
  for (const CommitPartition& p : partitions) {
    const std::string key = OffsetKey(group_id, p.topic, p.partition);
    const std::string value = OffsetValue(p, wall);
    builder.Add(TimestampMs(wall), key, value);
  }
  Result<std::shared_ptr<log::Topic>> topic = offsets_topic_.GetOrCreate();
  if (!topic.ok()) {
    SLUICE_LOG_WARN("kafka: committing offsets of group {}: {}", group_id, topic.status().ToString());
    return done(ErrorCodeFor(topic.status()));
  }
  (*topic)->partition(PartitionId(0))
      .Append(builder.Finish(), [this, group_id, partitions = std::move(partitions),
                                 done = std::move(done)](Result<log::AppendResult> appended) {
        if (!appended.ok()) {
          SLUICE_LOG_WARN("kafka: committing offsets of group {}: {}", group_id, appended.status().ToString());
          return done(ErrorCodeFor(appended.status()));
        }
        {
          std::lock_guard lock(mu_);
          Group& g = groups_[group_id];
          g.id = group_id;
          for (const CommitPartition& p : partitions) {
            g.offsets[{p.topic, p.partition}] = {p.offset, p.leader_epoch, p.metadata.value_or("")};
          }
          groups_gauge_->Set(static_cast<double>(groups_.size()));
        }
        done(ErrorCode::kNone);
      });
}

std::map<std::pair<std::string, int32_t>, GroupCoordinator::Committed> GroupCoordinator::Fetch(
    const std::string& group_id) {
  std::lock_guard lock(mu_);
  auto git = groups_.find(group_id);
  if (git == groups_.end()) return {};
  return git->second.offsets;
}

std::vector<GroupCoordinator::GroupSummary> GroupCoordinator::List() {
  std::lock_guard lock(mu_);
  std::vector<GroupSummary> out;
  for (const auto& [id, g] : groups_) out.push_back({id, g.protocol_type, std::string(StateName(g.state))});
  return out;
}

GroupCoordinator::GroupDescription GroupCoordinator::Describe(const std::string& group_id) {
  std::lock_guard lock(mu_);
  GroupDescription d;
  d.group_id = group_id;
  auto git = groups_.find(group_id);
  if (git == groups_.end()) {
    d.state = "Dead";
    return d;
  }
  const Group& g = git->second;
  d.state = std::string(StateName(g.state));
  d.protocol_type = g.protocol_type;
  d.protocol = g.state == State::kStable || g.state == State::kCompletingRebalance ? g.protocol : "";
  for (const auto& [id, m] : g.members) {
    MemberDescription md{id, m.group_instance_id, m.client_id, m.client_host, "", m.assignment};
    for (const Protocol& p : m.protocols) {
      if (p.name == g.protocol) md.metadata = p.metadata;
    }
    d.members.push_back(std::move(md));
  }
  return d;
}

void GroupCoordinator::Tick() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kTickInterval);
    if (stopping_) break;
    Deferred deferred;
    const int64_t now = NowMs();
    for (auto& [id, g] : groups_) {
      std::vector<std::string> expired;
      for (const auto& [mid, m] : g.members) {
        // A member waiting in JoinGroup is alive (its request is the heartbeat).
        if (!m.pending_join && now - m.last_heartbeat_ms > m.session_timeout_ms) expired.push_back(mid);
      }
      for (const std::string& mid : expired) {
        SLUICE_LOG_INFO("kafka: group {}: member {} session expired", id, mid);
        RemoveMember(g, mid, now, &deferred);
      }
      MaybeCompleteJoin(g, now, &deferred);
    }
    if (!deferred.empty()) {
      lock.unlock();
      for (auto& f : deferred) f();
      lock.lock();
    }
  }
}

CommitRequest ReadCommitRequest(WireReader& in, bool has_leader_epoch) {
  CommitRequest request;
  const int32_t n = in.ArrayLength();
  for (int32_t t = 0; t < n && in.ok(); ++t) {
    auto& topic = request.topics.emplace_back(std::string(in.String()), std::vector<int32_t>{});
    const int32_t m = in.ArrayLength(14);
    for (int32_t p = 0; p < m && in.ok(); ++p) {
      GroupCoordinator::CommitPartition c;
      c.topic = topic.first;
      c.partition = in.Int32();
      c.offset = in.Int64();
      if (has_leader_epoch) c.leader_epoch = in.Int32();
      if (auto meta = in.NullableString()) c.metadata = std::string(*meta);
      in.TaggedFields();
      topic.second.push_back(c.partition);
      request.partitions.push_back(std::move(c));
    }
    in.TaggedFields();
  }
  in.TaggedFields();
  return request;
}

void WriteCommitResponse(const std::vector<std::pair<std::string, std::vector<int32_t>>>& topics, ErrorCode error,
                         WireWriter* w, int* errors) {
  w->ArrayLength(static_cast<int32_t>(topics.size()));
  for (const auto& [name, partitions] : topics) {
    w->String(name);
    w->ArrayLength(static_cast<int32_t>(partitions.size()));
    for (int32_t p : partitions) {
      if (error != ErrorCode::kNone) ++*errors;
      w->Int32(p);
      w->Int16(Wire(error));
      w->EmptyTaggedFields();
    }
    w->EmptyTaggedFields();
  }
  w->EmptyTaggedFields();
}

}  // namespace sluice::server::kafka
