#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/types.h"

namespace sluice::cli::nexmark {

// The Nexmark event generator (docs/nexmark.md): people, auctions and bids of an online
// auction, following the reference generator of the nexmark/nexmark project field by field.
// Event number n decides the kind (n % 50: 0 person, 1-3 auction, 4-49 bid) and the event
// time (base_time + n * 1 s / rate); every field is a function of (seed, n) alone, so the
// same options give the same events in any order of generation.

// 2026-01-01T00:00:00Z: the default event time of event 0 (fixed, so --seed alone decides
// the stream).
inline constexpr int64_t kDefaultBaseTimeMs = 1'767'225'600'000;

struct Options {
  uint64_t seed = 42;
  double rate = 10'000;  // events per second of event time (the spec's firstEventRate)
  TimestampMs base_time{kDefaultBaseTimeMs};
  // The spec's defaults (NexmarkConfiguration).
  int64_t num_active_people = 1000;
  int64_t num_in_flight_auctions = 100;
  int64_t hot_auction_ratio = 2;
  int64_t hot_sellers_ratio = 4;
  int64_t hot_bidders_ratio = 4;
  int64_t avg_person_bytes = 200;
  int64_t avg_auction_bytes = 500;
  int64_t avg_bid_bytes = 100;
};

// kInvalidArgument naming the bad option.
Status ValidateOptions(const Options& options);

// Fixed by the spec.
inline constexpr int64_t kPersonProportion = 1;
inline constexpr int64_t kAuctionProportion = 3;
inline constexpr int64_t kBidProportion = 46;
inline constexpr int64_t kTotalProportion = kPersonProportion + kAuctionProportion + kBidProportion;
inline constexpr int64_t kFirstPersonId = 1000;
inline constexpr int64_t kFirstAuctionId = 1000;
inline constexpr int64_t kFirstCategoryId = 10;
inline constexpr int64_t kNumCategories = 5;

enum class EventKind : uint8_t { kPerson, kAuction, kBid };

// The topic (and source) an event kind is written to: "person", "auction", "bid".
std::string_view TopicOf(EventKind kind);

struct Person {
  int64_t id = 0;
  std::string name;
  std::string email_address;
  std::string credit_card;
  std::string city;
  std::string state;
  int64_t date_time_ms = 0;
  std::string extra;
};

struct Auction {
  int64_t id = 0;
  std::string item_name;
  std::string description;
  int64_t initial_bid = 0;
  int64_t reserve = 0;
  int64_t date_time_ms = 0;
  int64_t expires_ms = 0;
  int64_t seller = 0;
  int64_t category = 0;
  std::string extra;
};

struct Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string url;
  int64_t date_time_ms = 0;
  std::string extra;
};

// One generated event: `kind` says which member is filled. The members keep their string
// capacity from event to event, so generating into the same Event allocates nothing in
// steady state.
struct Event {
  EventKind kind = EventKind::kPerson;
  Person person;
  Auction auction;
  Bid bid;
};

// Id arithmetic of the reference generator, exposed for tests. All ids are "base 0" (add
// kFirstPersonId / kFirstAuctionId for the id written into events).
EventKind KindOfEvent(int64_t event_number);
// The newest person id generated at or before event n (the current one if n is a person).
int64_t LastBase0PersonId(int64_t event_number);
// The newest auction id generated at or before event n (-1 before the first auction).
int64_t LastBase0AuctionId(int64_t event_number);

class Generator {
 public:
  explicit Generator(Options options);

  // Generates event number next_event_number() into *event and advances.
  void Next(Event* event);
  // Generates event number `n` (any n >= 0) without changing the position.
  void Generate(int64_t n, Event* event) const;

  int64_t next_event_number() const { return next_; }
  void set_next_event_number(int64_t n) { next_ = n; }
  const Options& options() const { return options_; }

  // Event time of event number n, in ms since the epoch.
  int64_t TimestampForEvent(int64_t n) const;

 private:
  class Random;
  void NextPerson(int64_t n, int64_t time_ms, Random& random, Person* p) const;
  void NextAuction(int64_t n, int64_t time_ms, Random& random, Auction* a) const;
  void NextBid(int64_t n, int64_t time_ms, Random& random, Bid* b) const;
  int64_t NextBase0PersonId(int64_t n, Random& random) const;
  int64_t NextBase0AuctionId(int64_t n, Random& random) const;
  const std::pair<std::string, std::string>& Channel(int64_t channel_number) const;

  Options options_;
  double inter_event_delay_us_;
  int64_t next_ = 0;
  std::vector<std::string> hot_urls_;
  // Per channel number: (name, url); filled on first use (the reference generator caches too).
  mutable std::vector<std::pair<std::string, std::string>> channels_;
};

// Appends the event as one JSON object (no newline) with the spec's field names (snake case);
// date_time and expires as RFC 3339 text with milliseconds ("2026-01-01T00:00:00.000Z").
void AppendJson(const Event& event, std::string* out);

// The bytes the reference generator counts for an event's size (fixed-size fields as 8 bytes,
// strings by length, extra included): what the `extra` padding brings to the average sizes
// (person 200, auction 500, bid 100 by default).
int64_t SpecSizeOf(const Event& event);

}  // namespace sluice::cli::nexmark
