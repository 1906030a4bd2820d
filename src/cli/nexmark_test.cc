#include "cli/nexmark.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "common/time_format.h"

namespace sluice::cli::nexmark {
namespace {

constexpr int64_t kEvents = 50 * 2000;  // 100K events: 2000 people, 6000 auctions, 92000 bids

Options Seeded(uint64_t seed) {
  Options o;
  o.seed = seed;
  return o;
}

std::vector<std::string> Json(Generator& g, int64_t n) {
  std::vector<std::string> out;
  Event e;
  for (int64_t i = 0; i < n; ++i) {
    g.Next(&e);
    out.emplace_back();
    AppendJson(e, &out.back());
  }
  return out;
}

TEST(NexmarkTest, KindsFollowTheEventNumberInProportion1To3To46) {
  Generator g(Seeded(1));
  std::map<EventKind, int64_t> counts;
  Event e;
  for (int64_t n = 0; n < kEvents; ++n) {
    g.Next(&e);
    ++counts[e.kind];
    const int64_t rem = n % 50;
    const EventKind want = rem == 0   ? EventKind::kPerson
                           : rem <= 3 ? EventKind::kAuction
                                      : EventKind::kBid;
    ASSERT_EQ(e.kind, want) << "event " << n;
  }
  EXPECT_EQ(counts[EventKind::kPerson], kEvents / 50);
  EXPECT_EQ(counts[EventKind::kAuction], kEvents / 50 * 3);
  EXPECT_EQ(counts[EventKind::kBid], kEvents / 50 * 46);
}

TEST(NexmarkTest, SameSeedSameEventsInAnyOrderOtherSeedOtherEvents) {
  Generator a(Seeded(7)), b(Seeded(7)), c(Seeded(8));
  const std::vector<std::string> first = Json(a, 5000);
  EXPECT_EQ(first, Json(b, 5000));
  EXPECT_NE(first, Json(c, 5000));
  // Each event is a function of (seed, event number): generating one alone gives the same bytes.
  Generator d(Seeded(7));
  for (int64_t n : {4999, 0, 1234, 50, 3}) {
    Event e;
    d.Generate(n, &e);
    std::string json;
    AppendJson(e, &json);
    EXPECT_EQ(json, first[static_cast<size_t>(n)]) << "event " << n;
  }
  EXPECT_EQ(d.next_event_number(), 0);
}

TEST(NexmarkTest, IdsAreDenseAndReferencesPointAtExistingOrInFlightRows) {
  Options o = Seeded(3);
  Generator g(o);
  Event e;
  int64_t people = 0, auctions = 0, bids = 0;
  int64_t hot_auction = 0, hot_bidder = 0, hot_seller = 0, ahead = 0;
  for (int64_t n = 0; n < kEvents; ++n) {
    g.Next(&e);
    const int64_t last_person = LastBase0PersonId(n);
    const int64_t last_auction = LastBase0AuctionId(n);
    // A reference is to one of the active people / in-flight auctions, or at most the spec's
    // lead of 10 ids ahead of the newest one.
    auto check_person = [&](int64_t id, const char* what) {
      const int64_t base0 = id - kFirstPersonId;
      EXPECT_GE(base0, std::max<int64_t>(last_person + 1 - o.num_active_people, 0))
          << what << " at event " << n;
      EXPECT_LE(base0, last_person + 10) << what << " at event " << n;
      if (base0 > last_person) ++ahead;
    };
    switch (e.kind) {
      case EventKind::kPerson:
        EXPECT_EQ(e.person.id, kFirstPersonId + people);
        ++people;
        break;
      case EventKind::kAuction: {
        const Auction& a = e.auction;
        EXPECT_EQ(a.id, kFirstAuctionId + auctions);
        ++auctions;
        check_person(a.seller, "seller");
        if (a.seller == kFirstPersonId + last_person / 100 * 100) ++hot_seller;
        EXPECT_GE(a.category, 10);
        EXPECT_LE(a.category, 14);
        EXPECT_GT(a.reserve, a.initial_bid);
        EXPECT_GT(a.expires_ms, a.date_time_ms);
        break;
      }
      case EventKind::kBid: {
        const Bid& b = e.bid;
        ++bids;
        const int64_t base0 = b.auction - kFirstAuctionId;
        EXPECT_GE(base0, std::max<int64_t>(last_auction - o.num_in_flight_auctions, 0))
            << "event " << n;
        EXPECT_LE(base0, last_auction + 10) << "event " << n;
        if (base0 == last_auction / 100 * 100) ++hot_auction;
        check_person(b.bidder, "bidder");
        if (b.bidder == kFirstPersonId + last_person / 100 * 100 + 1) ++hot_bidder;
        EXPECT_GE(b.price, 100);
        EXPECT_LE(b.price, 100'000'000);
        break;
      }
    }
  }
  // Hot ids are chosen with probability 1 - 1/ratio (plus the odd random hit).
  const double auction_share = static_cast<double>(hot_auction) / static_cast<double>(bids);
  const double bidder_share = static_cast<double>(hot_bidder) / static_cast<double>(bids);
  const double seller_share = static_cast<double>(hot_seller) / static_cast<double>(auctions);
  EXPECT_GT(auction_share, 0.49);
  EXPECT_LT(auction_share, 0.53);
  EXPECT_GT(bidder_share, 0.74);
  EXPECT_LT(bidder_share, 0.77);
  EXPECT_GT(seller_share, 0.72);
  EXPECT_LT(seller_share, 0.78);
  // References ahead of the newest person are rare: the lead of 10 over ~1000 active people,
  // and the hot bidder (second of its batch of 100) just after the batch's first person.
  EXPECT_LT(static_cast<double>(ahead) / static_cast<double>(bids + auctions), 0.02);
}

TEST(NexmarkTest, EventTimeAdvancesOneSecondPerRateEvents) {
  Options o = Seeded(5);
  o.rate = 10'000;
  Generator g(o);
  Event e;
  int64_t previous = INT64_MIN;
  for (int64_t n = 0; n < 30'000; ++n) {
    g.Next(&e);
    const int64_t t = e.kind == EventKind::kPerson    ? e.person.date_time_ms
                      : e.kind == EventKind::kAuction ? e.auction.date_time_ms
                                                      : e.bid.date_time_ms;
    ASSERT_GE(t, previous) << "event " << n;
    previous = t;
    if (n % 10'000 == 0) EXPECT_EQ(t, kDefaultBaseTimeMs + n / 10) << "event " << n;
  }
  EXPECT_EQ(g.TimestampForEvent(25'000), kDefaultBaseTimeMs + 2500);
  o.rate = 1'000'000;  // 1 us per event: 1000 events share a millisecond
  EXPECT_EQ(Generator(o).TimestampForEvent(1999), kDefaultBaseTimeMs + 1);
}

TEST(NexmarkTest, ExtraPadsEachEventToItsAverageSize) {
  Generator g(Seeded(9));
  Event e;
  std::map<EventKind, std::pair<int64_t, int64_t>> totals;  // sum of sizes, count
  for (int64_t n = 0; n < kEvents; ++n) {
    g.Next(&e);
    const int64_t size = SpecSizeOf(e);
    const int64_t average = e.kind == EventKind::kPerson    ? 200
                            : e.kind == EventKind::kAuction ? 500
                                                            : 100;
    ASSERT_GE(size, average * 8 / 10) << "event " << n;
    ASSERT_LE(size, average * 12 / 10) << "event " << n;
    totals[e.kind].first += size;
    ++totals[e.kind].second;
  }
  for (auto [kind, want] : {std::pair{EventKind::kPerson, 200.0},
                            {EventKind::kAuction, 500.0},
                            {EventKind::kBid, 100.0}}) {
    const double mean =
        static_cast<double>(totals[kind].first) / static_cast<double>(totals[kind].second);
    EXPECT_NEAR(mean, want, want * 0.02) << TopicOf(kind);
  }
}

TEST(NexmarkTest, JsonHasTheSpecFieldsAndTypes) {
  Generator g(Seeded(11));
  Event e;
  simdjson::dom::parser parser;
  std::set<std::string> states, cities, channels;
  int64_t hot_channel = 0, with_channel_id = 0, bids = 0, cheap = 0;
  for (int64_t n = 0; n < 20'000; ++n) {
    g.Next(&e);
    std::string json;
    AppendJson(e, &json);
    simdjson::padded_string padded(json);
    simdjson::dom::object object;
    ASSERT_EQ(parser.parse(padded).get(object), simdjson::SUCCESS) << json;
    std::vector<std::string> keys;
    for (auto field : object) keys.emplace_back(field.key);
    auto time_of = [&](const char* key) {
      std::string_view text;
      EXPECT_EQ(object[key].get(text), simdjson::SUCCESS) << json;
      auto ts = ParseRfc3339(text);
      EXPECT_TRUE(ts.ok()) << text;
      return ts.ok() ? ts->value() : 0;
    };
    switch (e.kind) {
      case EventKind::kPerson: {
        EXPECT_EQ(keys, (std::vector<std::string>{"id", "name", "email_address", "credit_card",
                                                  "city", "state", "date_time", "extra"}));
        EXPECT_EQ(time_of("date_time"), e.person.date_time_ms);
        std::string_view card = object["credit_card"].get_string().value();
        EXPECT_EQ(card.size(), 19u) << card;
        EXPECT_NE(std::string_view(object["email_address"].get_string().value()).find('@'),
                  std::string_view::npos);
        states.emplace(object["state"].get_string().value());
        cities.emplace(object["city"].get_string().value());
        break;
      }
      case EventKind::kAuction:
        EXPECT_EQ(keys, (std::vector<std::string>{"id", "item_name", "description", "initial_bid",
                                                  "reserve", "date_time", "expires", "seller",
                                                  "category", "extra"}));
        EXPECT_EQ(time_of("expires"), e.auction.expires_ms);
        EXPECT_EQ(object["seller"].get_int64().value(), e.auction.seller);
        break;
      case EventKind::kBid: {
        EXPECT_EQ(keys, (std::vector<std::string>{"auction", "bidder", "price", "channel", "url",
                                                  "date_time", "extra"}));
        ++bids;
        std::string channel(object["channel"].get_string().value());
        std::string url(object["url"].get_string().value());
        EXPECT_EQ(url.rfind("https://www.nexmark.com/", 0), 0u) << url;
        if (channel.rfind("channel-", 0) == 0) {
          channels.insert(channel);
          if (url.find("&channel_id=") != std::string::npos) ++with_channel_id;
        } else {
          ++hot_channel;
          EXPECT_TRUE(channel == "Google" || channel == "Facebook" || channel == "Baidu" ||
                      channel == "Apple")
              << channel;
        }
        if (object["price"].get_int64().value() < 10'000) ++cheap;
        break;
      }
    }
  }
  EXPECT_EQ(states, (std::set<std::string>{"AZ", "CA", "ID", "OR", "WA", "WY"}));
  EXPECT_EQ(cities.size(), 10u);
  // Half the bids come through one of the four hot channels; 9 in 10 other channels put their
  // id in the URL.
  EXPECT_NEAR(static_cast<double>(hot_channel) / static_cast<double>(bids), 0.5, 0.02);
  EXPECT_GT(channels.size(), 5000u);
  EXPECT_NEAR(static_cast<double>(with_channel_id) / static_cast<double>(bids - hot_channel), 0.9,
              0.03);
  // Prices are 10^U[0,6) * 100 cents: a third of them below 100.00.
  EXPECT_NEAR(static_cast<double>(cheap) / static_cast<double>(bids), 1.0 / 3, 0.02);
}

TEST(NexmarkTest, ValidateOptionsNamesTheBadOne) {
  Options o;
  EXPECT_TRUE(ValidateOptions(o).ok());
  o.rate = 0;
  EXPECT_NE(ValidateOptions(o).message().find("--rate"), std::string::npos);
  o = Options();
  o.hot_bidders_ratio = 0;
  EXPECT_NE(ValidateOptions(o).message().find("hot_bidders_ratio"), std::string::npos);
}

}  // namespace
}  // namespace sluice::cli::nexmark
