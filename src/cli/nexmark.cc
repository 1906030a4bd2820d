#include "cli/nexmark.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/time_format.h"

namespace sluice::cli::nexmark {
namespace {

// The reference generator's word lists (PersonGenerator, BidGenerator).
constexpr std::string_view kUsStates[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::string_view kUsCities[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                          "Portland", "Bend",        "Redmond",       "Seattle",
                                          "Kent",     "Cheyenne"};
constexpr std::string_view kFirstNames[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                            "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
constexpr std::string_view kLastNames[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                           "Walton", "Smith",  "Jones",   "Noris"};
constexpr std::string_view kHotChannels[] = {"Google", "Facebook", "Baidu", "Apple"};

// Constants of the reference generator that are not configuration.
constexpr int64_t kPersonIdLead = 10;   // ids of people not generated yet that may be referenced
constexpr int64_t kAuctionIdLead = 10;  // same for auctions
constexpr int64_t kHotBatch = 100;      // hot ids: the first (or second) of each batch of 100
constexpr int64_t kHotChannelsRatio = 2;
constexpr int64_t kChannelsNumber = 10'000;
constexpr int kMinStringLength = 3;

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Seeds of the independent random streams: one per event, one per channel, one for the hot URLs.
constexpr uint64_t kEventStream = 0;
constexpr uint64_t kChannelStream = 1;
constexpr uint64_t kHotUrlStream = 2;

uint64_t StreamSeed(uint64_t seed, uint64_t stream, uint64_t index) {
  return Mix(Mix(seed) ^ Mix((stream << 56) ^ index));
}

// Java's Math.abs(Integer.reverse(k)): bit-reversed as a signed 32-bit int, absolute value, and
// Integer.MIN_VALUE (k = 1) stays negative as in Java.
int64_t JavaAbsReverse(int64_t k) {
  uint32_t v = static_cast<uint32_t>(k);
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i) {
    r = (r << 1) | (v & 1);
    v >>= 1;
  }
  const int32_t s = static_cast<int32_t>(r);
  return s == INT32_MIN ? INT32_MIN : std::abs(static_cast<int64_t>(s));
}

void AppendInt(std::string* out, int64_t v) {
  fmt::format_int f(v);
  out->append(f.data(), f.size());
}

}  // namespace

// SplitMix64: small, fast and good enough for synthetic data; seeded per event so that each
// event is a function of (seed, event number) only.
class Generator::Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t NextU64() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n >= 1.
  int64_t Uniform(int64_t n) {
    return static_cast<int64_t>(
        (static_cast<unsigned __int128>(NextU64()) * static_cast<uint64_t>(n)) >> 64);
  }
  // Uniform in [0, 1).
  double UniformDouble() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

  // StringsGenerator.nextString: 3 to max_length - 1 characters, each a space (or `special`)
  // with probability 1/13, else a-z; leading and trailing spaces trimmed.
  void AppendString(int max_length, char special, std::string* out) {
    int64_t length = kMinStringLength + Uniform(max_length - kMinStringLength);
    const size_t start = out->size();
    while (length-- > 0)
      out->push_back(Uniform(13) == 0 ? special : static_cast<char>('a' + Uniform(26)));
    if (special == ' ') {
      size_t end = out->size();
      while (end > start && (*out)[end - 1] == ' ') --end;
      out->resize(end);
      size_t first = start;
      while (first < out->size() && (*out)[first] == ' ') ++first;
      out->erase(start, first - start);
    }
  }
  // StringsGenerator.nextExactString: exactly `length` letters.
  void AppendExactString(int64_t length, std::string* out) {
    while (length-- > 0) out->push_back(static_cast<char>('a' + Uniform(26)));
  }
  // StringsGenerator.nextExtra: pads current_size to average_size on average, +-20 %.
  void AssignExtra(int64_t current_size, int64_t average_size, std::string* out) {
    out->clear();
    if (current_size > average_size) return;
    const int64_t desired_average = average_size - current_size;
    const int64_t delta =
        static_cast<int64_t>(std::floor(static_cast<double>(desired_average) * 0.2 + 0.5));
    const int64_t min_size = desired_average - delta;
    const int64_t size = min_size + (delta == 0 ? 0 : Uniform(2 * delta));
    AppendExactString(size, out);
  }
  // PriceGenerator.nextPrice: round(10^U[0,6) * 100), cents from 1.00 to 1,000,000.00.
  int64_t NextPrice() { return std::llround(std::pow(10.0, UniformDouble() * 6.0) * 100.0); }

 private:
  uint64_t state_;
};

Status ValidateOptions(const Options& o) {
  if (!(o.rate > 0) || !std::isfinite(o.rate)) {
    return Status::InvalidArgument(
        "--rate must be a positive number of events per second (event time)");
  }
  if (o.base_time.value() < 0)
    return Status::InvalidArgument("--start-time must not be before 1970");
  for (auto [name, v] : {std::pair{"num_active_people", o.num_active_people},
                         {"num_in_flight_auctions", o.num_in_flight_auctions},
                         {"hot_auction_ratio", o.hot_auction_ratio},
                         {"hot_sellers_ratio", o.hot_sellers_ratio},
                         {"hot_bidders_ratio", o.hot_bidders_ratio},
                         {"avg_person_bytes", o.avg_person_bytes},
                         {"avg_auction_bytes", o.avg_auction_bytes},
                         {"avg_bid_bytes", o.avg_bid_bytes}}) {
    if (v < 1) return Status::InvalidArgument(fmt::format("nexmark option {} must be >= 1", name));
  }
  return Status::Ok();
}

std::string_view TopicOf(EventKind kind) {
  switch (kind) {
    case EventKind::kPerson:
      return "person";
    case EventKind::kAuction:
      return "auction";
    case EventKind::kBid:
      return "bid";
  }
  return "bid";
}

EventKind KindOfEvent(int64_t n) {
  const int64_t rem = n % kTotalProportion;
  if (rem < kPersonProportion) return EventKind::kPerson;
  if (rem < kPersonProportion + kAuctionProportion) return EventKind::kAuction;
  return EventKind::kBid;
}

int64_t LastBase0PersonId(int64_t n) {
  const int64_t epoch = n / kTotalProportion;
  int64_t offset = n % kTotalProportion;
  if (offset >= kPersonProportion) offset = kPersonProportion - 1;  // the last person of this epoch
  return epoch * kPersonProportion + offset;
}

int64_t LastBase0AuctionId(int64_t n) {
  int64_t epoch = n / kTotalProportion;
  int64_t offset = n % kTotalProportion;
  if (offset < kPersonProportion) {
    --epoch;  // a person: the last auction of the previous epoch
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {
    offset = kAuctionProportion - 1;  // a bid: the last auction of this epoch
  } else {
    offset -= kPersonProportion;
  }
  return epoch * kAuctionProportion + offset;
}

Generator::Generator(Options options)
    : options_(std::move(options)), inter_event_delay_us_(1'000'000.0 / options_.rate) {
  // The reference generator draws its four hot-channel URLs once per process.
  for (size_t i = 0; i < std::size(kHotChannels); ++i) {
    Random random(StreamSeed(options_.seed, kHotUrlStream, i));
    std::string url = "https://www.nexmark.com/";
    for (int part = 0; part < 3; ++part) {
      random.AppendString(5, '_', &url);
      url.push_back('/');
    }
    url += "item.htm?query=1";
    hot_urls_.push_back(std::move(url));
  }
  channels_.resize(kChannelsNumber);
}

int64_t Generator::TimestampForEvent(int64_t n) const {
  return options_.base_time.value() +
         static_cast<int64_t>(static_cast<double>(n) * inter_event_delay_us_) / 1000;
}

void Generator::Next(Event* event) { Generate(next_++, event); }

void Generator::Generate(int64_t n, Event* event) const {
  Random random(StreamSeed(options_.seed, kEventStream, static_cast<uint64_t>(n)));
  const int64_t time_ms = TimestampForEvent(n);
  event->kind = KindOfEvent(n);
  switch (event->kind) {
    case EventKind::kPerson:
      NextPerson(n, time_ms, random, &event->person);
      break;
    case EventKind::kAuction:
      NextAuction(n, time_ms, random, &event->auction);
      break;
    case EventKind::kBid:
      NextBid(n, time_ms, random, &event->bid);
      break;
  }
}

int64_t Generator::NextBase0PersonId(int64_t n, Random& random) const {
  // One of the active people (the newest num_active_people), or one of the next few not yet
  // generated (so that a new person and their first auction can appear swapped in time).
  const int64_t num_people = LastBase0PersonId(n) + 1;
  const int64_t active = std::min(num_people, options_.num_active_people);
  return num_people - active + random.Uniform(active + kPersonIdLead);
}

int64_t Generator::NextBase0AuctionId(int64_t n, Random& random) const {
  // One of the auctions likely still in flight, or one of the next few not yet generated.
  const int64_t max_auction = LastBase0AuctionId(n);
  const int64_t min_auction = std::max<int64_t>(max_auction - options_.num_in_flight_auctions, 0);
  return min_auction + random.Uniform(max_auction - min_auction + 1 + kAuctionIdLead);
}

void Generator::NextPerson(int64_t n, int64_t time_ms, Random& random, Person* p) const {
  p->id = LastBase0PersonId(n) + kFirstPersonId;
  p->name.assign(kFirstNames[random.Uniform(std::size(kFirstNames))]);
  p->name.push_back(' ');
  p->name.append(kLastNames[random.Uniform(std::size(kLastNames))]);
  p->email_address.clear();
  random.AppendString(7, ' ', &p->email_address);
  p->email_address.push_back('@');
  random.AppendString(5, ' ', &p->email_address);
  p->email_address += ".com";
  p->credit_card.clear();
  for (int i = 0; i < 4; ++i) {
    if (i > 0) p->credit_card.push_back(' ');
    fmt::format_to(std::back_inserter(p->credit_card), "{:04d}", random.Uniform(10'000));
  }
  p->city.assign(kUsCities[random.Uniform(std::size(kUsCities))]);
  p->state.assign(kUsStates[random.Uniform(std::size(kUsStates))]);
  p->date_time_ms = time_ms;
  const int64_t current_size =
      8 + static_cast<int64_t>(p->name.size() + p->email_address.size() + p->credit_card.size() +
                               p->city.size() + p->state.size());
  random.AssignExtra(current_size, options_.avg_person_bytes, &p->extra);
}

void Generator::NextAuction(int64_t n, int64_t time_ms, Random& random, Auction* a) const {
  a->id = LastBase0AuctionId(n) + kFirstAuctionId;
  // P(hot seller) = 1 - 1/hot_sellers_ratio: the first person of the latest batch of 100.
  int64_t seller = random.Uniform(options_.hot_sellers_ratio) > 0
                       ? (LastBase0PersonId(n) / kHotBatch) * kHotBatch
                       : NextBase0PersonId(n, random);
  a->seller = seller + kFirstPersonId;
  a->category = kFirstCategoryId + random.Uniform(kNumCategories);
  a->initial_bid = random.NextPrice();
  // An auction lasts on average until num_in_flight_auctions more auctions have been opened.
  const int64_t events_for_auctions =
      (options_.num_in_flight_auctions * kTotalProportion) / kAuctionProportion;
  const int64_t horizon_ms = TimestampForEvent(n + events_for_auctions) - time_ms;
  a->expires_ms = time_ms + 1 + random.Uniform(std::max<int64_t>(horizon_ms * 2, 1));
  a->item_name.clear();
  random.AppendString(20, ' ', &a->item_name);
  a->description.clear();
  random.AppendString(100, ' ', &a->description);
  a->reserve = a->initial_bid + random.NextPrice();
  a->date_time_ms = time_ms;
  const int64_t current_size =
      8 + static_cast<int64_t>(a->item_name.size() + a->description.size()) + 8 * 5;
  random.AssignExtra(current_size, options_.avg_auction_bytes, &a->extra);
}

void Generator::NextBid(int64_t n, int64_t time_ms, Random& random, Bid* b) const {
  // P(hot auction) = 1 - 1/hot_auction_ratio: the first auction of the latest batch of 100.
  int64_t auction = random.Uniform(options_.hot_auction_ratio) > 0
                        ? (LastBase0AuctionId(n) / kHotBatch) * kHotBatch
                        : NextBase0AuctionId(n, random);
  b->auction = auction + kFirstAuctionId;
  // P(hot bidder) = 1 - 1/hot_bidders_ratio: the second person of the latest batch of 100 (so
  // that hot bidders and hot sellers differ).
  int64_t bidder = random.Uniform(options_.hot_bidders_ratio) > 0
                       ? (LastBase0PersonId(n) / kHotBatch) * kHotBatch + 1
                       : NextBase0PersonId(n, random);
  b->bidder = bidder + kFirstPersonId;
  b->price = random.NextPrice();
  if (random.Uniform(kHotChannelsRatio) > 0) {
    const int64_t i = random.Uniform(std::size(kHotChannels));
    b->channel.assign(kHotChannels[i]);
    b->url.assign(hot_urls_[static_cast<size_t>(i)]);
  } else {
    const auto& [name, url] = Channel(random.Uniform(kChannelsNumber));
    b->channel.assign(name);
    b->url.assign(url);
  }
  b->date_time_ms = time_ms;
  random.AssignExtra(8 * 4, options_.avg_bid_bytes, &b->extra);
}

const std::pair<std::string, std::string>& Generator::Channel(int64_t k) const {
  auto& slot = channels_[static_cast<size_t>(k)];
  if (slot.first.empty()) {
    Random random(StreamSeed(options_.seed, kChannelStream, static_cast<uint64_t>(k)));
    std::string url = "https://www.nexmark.com/";
    for (int part = 0; part < 3; ++part) {
      random.AppendString(5, '_', &url);
      url.push_back('/');
    }
    url += "item.htm?query=1";
    // 9 in 10 channels carry their id in the URL (q21 extracts it).
    if (random.Uniform(10) > 0)
      fmt::format_to(std::back_inserter(url), "&channel_id={}", JavaAbsReverse(k));
    slot = {fmt::format("channel-{}", k), std::move(url)};
  }
  return slot;
}

namespace {

void AppendField(std::string* out, std::string_view name, std::string_view value) {
  // Generated strings hold letters, digits, spaces and URL punctuation only: nothing to escape.
  out->push_back('"');
  out->append(name);
  out->append("\":\"");
  out->append(value);
  out->push_back('"');
}

void AppendField(std::string* out, std::string_view name, int64_t value) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
  AppendInt(out, value);
}

void AppendTimeField(std::string* out, std::string_view name, int64_t ms) {
  out->push_back('"');
  out->append(name);
  out->append("\":\"");
  AppendRfc3339(out, TimestampMs(ms));
  out->push_back('"');
}

}  // namespace

void AppendJson(const Event& e, std::string* out) {
  out->push_back('{');
  switch (e.kind) {
    case EventKind::kPerson: {
      const Person& p = e.person;
      AppendField(out, "id", p.id);
      out->push_back(',');
      AppendField(out, "name", p.name);
      out->push_back(',');
      AppendField(out, "email_address", p.email_address);
      out->push_back(',');
      AppendField(out, "credit_card", p.credit_card);
      out->push_back(',');
      AppendField(out, "city", p.city);
      out->push_back(',');
      AppendField(out, "state", p.state);
      out->push_back(',');
      AppendTimeField(out, "date_time", p.date_time_ms);
      out->push_back(',');
      AppendField(out, "extra", p.extra);
      break;
    }
    case EventKind::kAuction: {
      const Auction& a = e.auction;
      AppendField(out, "id", a.id);
      out->push_back(',');
      AppendField(out, "item_name", a.item_name);
      out->push_back(',');
      AppendField(out, "description", a.description);
      out->push_back(',');
      AppendField(out, "initial_bid", a.initial_bid);
      out->push_back(',');
      AppendField(out, "reserve", a.reserve);
      out->push_back(',');
      AppendTimeField(out, "date_time", a.date_time_ms);
      out->push_back(',');
      AppendTimeField(out, "expires", a.expires_ms);
      out->push_back(',');
      AppendField(out, "seller", a.seller);
      out->push_back(',');
      AppendField(out, "category", a.category);
      out->push_back(',');
      AppendField(out, "extra", a.extra);
      break;
    }
    case EventKind::kBid: {
      const Bid& b = e.bid;
      AppendField(out, "auction", b.auction);
      out->push_back(',');
      AppendField(out, "bidder", b.bidder);
      out->push_back(',');
      AppendField(out, "price", b.price);
      out->push_back(',');
      AppendField(out, "channel", b.channel);
      out->push_back(',');
      AppendField(out, "url", b.url);
      out->push_back(',');
      AppendTimeField(out, "date_time", b.date_time_ms);
      out->push_back(',');
      AppendField(out, "extra", b.extra);
      break;
    }
  }
  out->push_back('}');
}

int64_t SpecSizeOf(const Event& e) {
  switch (e.kind) {
    case EventKind::kPerson: {
      const Person& p = e.person;
      return 8 +
             static_cast<int64_t>(p.name.size() + p.email_address.size() + p.credit_card.size() +
                                  p.city.size() + p.state.size() + p.extra.size());
    }
    case EventKind::kAuction: {
      const Auction& a = e.auction;
      return 8 + 8 * 5 +
             static_cast<int64_t>(a.item_name.size() + a.description.size() + a.extra.size());
    }
    case EventKind::kBid:
      return 8 * 4 + static_cast<int64_t>(e.bid.extra.size());
  }
  return 0;
}

}  // namespace sluice::cli::nexmark
