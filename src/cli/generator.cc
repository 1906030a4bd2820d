#include "cli/generator.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/time_format.h"

namespace sluice::cli {
namespace {

constexpr std::string_view kCountries[] = {"US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "NL", "SE"};
constexpr std::string_view kDevices[] = {"mobile", "desktop", "tablet"};
constexpr std::string_view kActions[] = {"view", "view", "view", "view", "click", "click",
                                         "add_to_cart", "purchase"};
constexpr std::string_view kReferrers[] = {"direct", "search", "social", "email", "ads"};
constexpr std::string_view kCategories[] = {"grocery", "electronics", "travel", "restaurants",
                                            "fashion", "gaming", "utilities"};
constexpr std::string_view kCurrencies[] = {"USD", "EUR", "GBP", "JPY"};

template <size_t N>
std::string_view Pick(std::mt19937_64& rng, const std::string_view (&choices)[N]) {
  return choices[rng() % N];
}

double Uniform(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace

Status ValidateGenOptions(const GenOptions& o) {
  if (o.workload != "clickstream" && o.workload != "transactions") {
    return Status::InvalidArgument(
        fmt::format("unknown workload '{}' (known: clickstream, transactions, nexmark)", o.workload));
  }
  if (o.rate < 0) return Status::InvalidArgument("--rate must be >= 0 (0 = as fast as possible)");
  if (o.keys < 1) return Status::InvalidArgument("--keys must be >= 1");
  if (o.key_skew < 0) return Status::InvalidArgument("--key-skew must be >= 0");
  for (auto [name, f] : {std::pair{"--out-of-order", o.out_of_order}, {"--late", o.late},
                         {"--duplicates", o.duplicates}, {"--malformed", o.malformed}}) {
    if (f < 0 || f > 1) return Status::InvalidArgument(fmt::format("{} must be a fraction in [0, 1]", name));
  }
  return Status::Ok();
}

EventGenerator::EventGenerator(GenOptions options)
    : options_(std::move(options)), clickstream_(options_.workload == "clickstream"), rng_(options_.seed) {
  if (options_.key_skew > 0) {
    zipf_cdf_.resize(static_cast<size_t>(options_.keys));
    double sum = 0;
    for (int64_t k = 0; k < options_.keys; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), options_.key_skew);
      zipf_cdf_[static_cast<size_t>(k)] = sum;
    }
    for (double& c : zipf_cdf_) c /= sum;
  }
}

std::string_view EventGenerator::topic() const { return clickstream_ ? "clicks" : "transactions"; }
std::string_view EventGenerator::key_field() const { return clickstream_ ? "user_id" : "account_id"; }

int64_t EventGenerator::NextKey() {
  if (zipf_cdf_.empty()) return static_cast<int64_t>(rng_() % static_cast<uint64_t>(options_.keys)) + 1;
  double u = Uniform(rng_);
  auto it = std::lower_bound(zipf_cdf_.begin(), zipf_cdf_.end(), u);
  size_t index = std::min(static_cast<size_t>(it - zipf_cdf_.begin()), zipf_cdf_.size() - 1);
  return static_cast<int64_t>(index) + 1;
}

void EventGenerator::Next(std::string* out, TimestampMs source_ts) {
  const uint64_t n = n_++;
  const double interval_ms = options_.rate > 0 ? 1000.0 / options_.rate : 1.0;
  int64_t event_time = options_.start_time.value() + static_cast<int64_t>(static_cast<double>(n) * interval_ms);

  double roll = Uniform(rng_);
  if (roll < options_.malformed) {
    // Malformed lines come in a few shapes: truncated JSON, bare text, a non-object value.
    switch (rng_() % 3) {
      case 0: fmt::format_to(std::back_inserter(*out), "{{\"event\":{},\"broken\":\n", n); break;
      case 1: fmt::format_to(std::back_inserter(*out), "not json {}\n", n); break;
      default: fmt::format_to(std::back_inserter(*out), "[{}]\n", n); break;
    }
    return;
  }
  roll -= options_.malformed;
  std::string& slot = last_events_[n % 64];
  if (roll < options_.duplicates && n >= 64) {
    out->append(last_events_[rng_() % 64]);
    return;
  }
  roll -= options_.duplicates;
  if (roll < options_.late) {
    event_time -= options_.late_by_ms;
  } else if (roll - options_.late < options_.out_of_order) {
    event_time -= static_cast<int64_t>(rng_() % static_cast<uint64_t>(options_.max_disorder_ms + 1));
  }
  size_t start = out->size();
  if (clickstream_) {
    AppendClick(out, event_time, source_ts);
  } else {
    AppendTransaction(out, event_time, source_ts);
  }
  slot.assign(*out, start);
}

void EventGenerator::AppendClick(std::string* out, int64_t event_time, TimestampMs source_ts) {
  int64_t user = NextKey();
  auto it = std::back_inserter(*out);
  fmt::format_to(it, "{{\"event_id\":\"c-{}-{}\",\"user_id\":{},\"session_id\":\"s-{}-{}\",", options_.seed,
                 n_ - 1, user, user, event_time / 1'800'000);
  fmt::format_to(it, "\"page\":\"/product/{}\",\"action\":\"{}\",\"country\":\"{}\",\"device\":\"{}\",",
                 rng_() % 500, Pick(rng_, kActions), kCountries[static_cast<uint64_t>(user) % 10],
                 Pick(rng_, kDevices));
  fmt::format_to(it, "\"referrer\":\"{}\",\"ts\":\"", Pick(rng_, kReferrers));
  AppendRfc3339(out, TimestampMs(event_time));
  fmt::format_to(std::back_inserter(*out), "\",\"source_ts\":{}}}\n", source_ts.value());
}

void EventGenerator::AppendTransaction(std::string* out, int64_t event_time, TimestampMs source_ts) {
  int64_t account = NextKey();
  int64_t cents = static_cast<int64_t>(std::pow(10.0, 2.0 + 4.0 * Uniform(rng_)));
  auto it = std::back_inserter(*out);
  fmt::format_to(it, "{{\"txn_id\":\"t-{}-{}\",\"account_id\":{},\"merchant_id\":{},", options_.seed, n_ - 1,
                 account, rng_() % 2000 + 1);
  fmt::format_to(it, "\"category\":\"{}\",\"amount\":{}.{:02},\"currency\":\"{}\",\"country\":\"{}\",",
                 Pick(rng_, kCategories), cents / 100, cents % 100, Pick(rng_, kCurrencies),
                 kCountries[static_cast<uint64_t>(account) % 10]);
  fmt::format_to(it, "\"card_present\":{},\"ts\":\"", (rng_() & 1) ? "true" : "false");
  AppendRfc3339(out, TimestampMs(event_time));
  fmt::format_to(std::back_inserter(*out), "\",\"source_ts\":{}}}\n", source_ts.value());
}

}  // namespace sluice::cli
