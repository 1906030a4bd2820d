#include "server/kafka/group_coordinator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "log/testing/temp_dir.h"

namespace sluice::server::kafka {
namespace {

using Join = GroupCoordinator::JoinResult;
using Sync = GroupCoordinator::SyncResult;

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::LogOptions options;
    options.dir = dir_.path();
    options.fsync = log::FsyncPolicy::kNever;
    auto opened = log::Log::Open(options);
    ASSERT_TRUE(opened.ok());
    log_ = std::move(opened).value();
    options_.group_initial_rebalance_delay_ms = 0;
    options_.group_min_session_timeout_ms = 10;
    Restart();
  }
  void TearDown() override {
    groups_.reset();
    ASSERT_TRUE(log_->Close().ok());
  }
  void Restart() {
    groups_.reset();
    groups_ = std::make_unique<GroupCoordinator>(options_, log_.get(), &metrics_);
    ASSERT_TRUE(groups_->Start().ok());
  }

  GroupCoordinator::JoinRequest Request(const std::string& member, int32_t session_ms = 10'000) {
    GroupCoordinator::JoinRequest r;
    r.group_id = "g";
    r.member_id = member;
    r.client_id = "c";
    r.session_timeout_ms = session_ms;
    r.rebalance_timeout_ms = 2'000;
    r.protocol_type = "consumer";
    r.protocols = {{"range", "meta-" + member}};
    return r;
  }
  std::future<Join> JoinAsync(GroupCoordinator::JoinRequest r) {
    auto promise = std::make_shared<std::promise<Join>>();
    groups_->Join(std::move(r), [promise](Join j) { promise->set_value(std::move(j)); });
    return promise->get_future();
  }
  std::future<Sync> SyncAsync(int32_t generation, const std::string& member,
                              std::vector<std::pair<std::string, std::string>> assignments = {}) {
    auto promise = std::make_shared<std::promise<Sync>>();
    groups_->Sync("g", generation, member, std::move(assignments), [promise](Sync s) { promise->set_value(std::move(s)); });
    return promise->get_future();
  }
  ErrorCode CommitSync(int32_t generation, const std::string& member, int64_t offset) {
    std::promise<ErrorCode> done;
    GroupCoordinator::CommitPartition p;
    p.topic = "t";
    p.partition = 0;
    p.offset = offset;
    groups_->Commit("g", generation, member, {p}, [&done](ErrorCode e) { done.set_value(e); });
    return done.get_future().get();
  }

  log::testing::TempDir dir_;
  std::unique_ptr<log::Log> log_;
  MetricsRegistry metrics_;
  KafkaOptions options_;
  std::unique_ptr<GroupCoordinator> groups_;
};

TEST_F(GroupCoordinatorTest, TwoMembersRebalanceAndTheLeaderAssigns) {
  Join a = JoinAsync(Request("")).get();
  ASSERT_EQ(a.error, ErrorCode::kNone);
  EXPECT_EQ(a.generation_id, 1);
  EXPECT_EQ(a.leader, a.member_id);
  ASSERT_EQ(a.members.size(), 1u);
  Sync sa = SyncAsync(1, a.member_id, {{a.member_id, "all"}}).get();
  EXPECT_EQ(sa.assignment, "all");
  EXPECT_EQ(groups_->Heartbeat("g", 1, a.member_id), ErrorCode::kNone);

  // A second member starts a rebalance; the first learns it from its heartbeat and rejoins.
  auto b_join = JoinAsync(Request(""));
  EXPECT_EQ(groups_->Heartbeat("g", 1, a.member_id), ErrorCode::kRebalanceInProgress);
  Join a2 = JoinAsync(Request(a.member_id)).get();
  Join b = b_join.get();
  EXPECT_EQ(a2.generation_id, 2);
  EXPECT_EQ(b.generation_id, 2);
  EXPECT_EQ(a2.leader, a.member_id);  // the leader stays
  EXPECT_EQ(a2.members.size(), 2u);   // only the leader gets the member list
  EXPECT_TRUE(b.members.empty());
  // The follower's sync waits for the leader's assignments.
  auto b_sync = SyncAsync(2, b.member_id);
  EXPECT_EQ(b_sync.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  SyncAsync(2, a.member_id, {{a.member_id, "p0"}, {b.member_id, "p1"}}).get();
  EXPECT_EQ(b_sync.get().assignment, "p1");
  auto d = groups_->Describe("g");
  EXPECT_EQ(d.state, "Stable");
  EXPECT_EQ(d.members.size(), 2u);

  // Stale generations and unknown members are refused.
  EXPECT_EQ(groups_->Heartbeat("g", 1, b.member_id), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(groups_->Heartbeat("g", 2, "nobody"), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(CommitSync(1, a.member_id, 5), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(CommitSync(2, a.member_id, 5), ErrorCode::kNone);

  // b leaves: a rejoins alone, generation 3.
  EXPECT_EQ(groups_->Leave("g", b.member_id), ErrorCode::kNone);
  EXPECT_EQ(groups_->Heartbeat("g", 2, a.member_id), ErrorCode::kRebalanceInProgress);
  Join a3 = JoinAsync(Request(a.member_id)).get();
  EXPECT_EQ(a3.generation_id, 3);
  EXPECT_EQ(a3.members.size(), 1u);
}

TEST_F(GroupCoordinatorTest, ExpiredSessionsLeaveTheGroup) {
  Join a = JoinAsync(Request("", /*session_ms=*/100)).get();
  SyncAsync(a.generation_id, a.member_id, {{a.member_id, "x"}}).get();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // no heartbeats
  EXPECT_EQ(groups_->Heartbeat("g", a.generation_id, a.member_id), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(groups_->Describe("g").state, "Empty");
}

TEST_F(GroupCoordinatorTest, CommittedOffsetsSurviveARestart) {
  EXPECT_EQ(CommitSync(-1, "", 7), ErrorCode::kNone);  // a standalone consumer, empty group
  EXPECT_EQ(CommitSync(-1, "", 9), ErrorCode::kNone);  // the last commit wins
  Restart();
  auto offsets = groups_->Fetch("g");
  ASSERT_EQ(offsets.size(), 1u);
  EXPECT_EQ(offsets.at({"t", 0}).offset, 9);
  // A group with members refuses commits from outside it.
  Join a = JoinAsync(Request("")).get();
  EXPECT_EQ(CommitSync(-1, "", 11), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(groups_->Fetch("g").at({"t", 0}).offset, 9);
  (void)a;
}

TEST_F(GroupCoordinatorTest, BadJoinsAreRefused) {
  auto r = Request("");
  r.group_id = "";
  EXPECT_EQ(JoinAsync(r).get().error, ErrorCode::kInvalidGroupId);
  r = Request("", /*session_ms=*/1);
  EXPECT_EQ(JoinAsync(r).get().error, ErrorCode::kInvalidSessionTimeout);
  r = Request("ghost");
  EXPECT_EQ(JoinAsync(r).get().error, ErrorCode::kUnknownMemberId);
  Join a = JoinAsync(Request("")).get();
  r = Request("");
  r.protocols = {{"roundrobin", ""}};  // nothing in common with the member's "range"
  EXPECT_EQ(JoinAsync(r).get().error, ErrorCode::kInconsistentGroupProtocol);
  (void)a;
}

}  // namespace
}  // namespace sluice::server::kafka
