#include "common/metrics.h"

#include <cassert>
#include <cmath>

#include <fmt/format.h>

namespace sluice {

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // Bounds are few (tens); a linear scan beats a binary search at this size.
  size_t i = 0;
  const size_t n = bounds_->size();
  while (i < n && v > (*bounds_)[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  // Count is the +Inf bucket so that the exposition is self-consistent even mid-update.
  s.count = running;
  return s;
}

template <typename T>
T* Family<T>::WithLabels(const LabelValues& values) {
  assert(values.size() == label_names_.size() && "label value count must match label names");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return it->second.get();
  std::unique_ptr<T> series;
  if constexpr (std::is_same_v<T, Histogram>) {
    series = std::make_unique<Histogram>(&bounds_);
  } else {
    series = std::make_unique<T>();
  }
  T* raw = series.get();
  series_.emplace(values, std::move(series));
  return raw;
}

template <typename T>
void Family<T>::Remove(const LabelValues& values) {
  std::lock_guard<std::mutex> lock(mu_);
  series_.erase(values);
}

template <typename T>
void Family<T>::RemoveByFirstLabel(std::string_view first) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = series_.begin(); it != series_.end();) {
    if (!it->first.empty() && it->first[0] == first) {
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
}

template <typename T>
void Family<T>::ForEach(const std::function<void(const LabelValues&, const T&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, series] : series_) fn(labels, *series);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

CounterFamily* MetricsRegistry::AddCounter(std::string name, std::string help,
                                           std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    assert(it->second.type == MetricType::kCounter);
    return it->second.counter.get();
  }
  Entry e{MetricType::kCounter, std::make_unique<CounterFamily>(name, std::move(help), std::move(labels)),
          nullptr, nullptr};
  CounterFamily* raw = e.counter.get();
  families_.emplace(std::move(name), std::move(e));
  return raw;
}

GaugeFamily* MetricsRegistry::AddGauge(std::string name, std::string help,
                                       std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    assert(it->second.type == MetricType::kGauge);
    return it->second.gauge.get();
  }
  Entry e{MetricType::kGauge, nullptr,
          std::make_unique<GaugeFamily>(name, std::move(help), std::move(labels)), nullptr};
  GaugeFamily* raw = e.gauge.get();
  families_.emplace(std::move(name), std::move(e));
  return raw;
}

HistogramFamily* MetricsRegistry::AddHistogram(std::string name, std::string help,
                                               std::vector<std::string> labels,
                                               std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    assert(it->second.type == MetricType::kHistogram);
    return it->second.histogram.get();
  }
  Entry e{MetricType::kHistogram, nullptr, nullptr,
          std::make_unique<HistogramFamily>(name, std::move(help), std::move(labels),
                                            std::move(bounds))};
  HistogramFamily* raw = e.histogram.get();
  families_.emplace(std::move(name), std::move(e));
  return raw;
}

void MetricsRegistry::AddCollector(std::function<void()> collector) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collector));
}

namespace {

// Label values escape backslash, double quote and newline; help text escapes backslash and
// newline (exposition format 0.0.4).
void AppendEscaped(std::string* out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (quote && c == '"') {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

void AppendValue(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    fmt::format_to(std::back_inserter(*out), "{}", static_cast<int64_t>(v));
  } else {
    fmt::format_to(std::back_inserter(*out), "{}", v);
  }
}

void AppendLabels(std::string* out, const std::vector<std::string>& names, const LabelValues& values,
                  std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out->push_back(',');
    first = false;
    out->append(names[i]);
    out->append("=\"");
    AppendEscaped(out, values[i], true);
    out->push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out->push_back(',');
    out->append(extra_name);
    out->append("=\"");
    out->append(extra_value);
    out->push_back('"');
  }
  out->push_back('}');
}

template <typename F>
void AppendHeader(std::string* out, const F& family, std::string_view type) {
  out->append("# HELP ");
  out->append(family.name());
  out->push_back(' ');
  AppendEscaped(out, family.help(), false);
  out->append("\n# TYPE ");
  out->append(family.name());
  out->push_back(' ');
  out->append(type);
  out->push_back('\n');
}

template <typename F>
void AppendSimple(std::string* out, const F& family, std::string_view type) {
  AppendHeader(out, family, type);
  family.ForEach([&](const LabelValues& labels, const auto& series) {
    out->append(family.name());
    AppendLabels(out, family.label_names(), labels);
    out->push_back(' ');
    AppendValue(out, series.value());
    out->push_back('\n');
  });
}

}  // namespace

std::string MetricsRegistry::Render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectors = collectors_;
  }
  for (const auto& c : collectors) c();

  std::string out;
  out.reserve(16 * 1024);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, e] : families_) {
    switch (e.type) {
      case MetricType::kCounter:
        AppendSimple(&out, *e.counter, "counter");
        break;
      case MetricType::kGauge:
        AppendSimple(&out, *e.gauge, "gauge");
        break;
      case MetricType::kHistogram: {
        const HistogramFamily& f = *e.histogram;
        AppendHeader(&out, f, "histogram");
        f.ForEach([&](const LabelValues& labels, const Histogram& h) {
          Histogram::Snapshot s = h.Read();
          for (size_t i = 0; i <= f.bounds().size(); ++i) {
            std::string le;
            if (i == f.bounds().size()) {
              le = "+Inf";
            } else {
              AppendValue(&le, f.bounds()[i]);
            }
            out.append(f.name());
            out.append("_bucket");
            AppendLabels(&out, f.label_names(), labels, "le", le);
            out.push_back(' ');
            AppendValue(&out, static_cast<double>(s.cumulative[i]));
            out.push_back('\n');
          }
          out.append(f.name());
          out.append("_sum");
          AppendLabels(&out, f.label_names(), labels);
          out.push_back(' ');
          AppendValue(&out, s.sum);
          out.push_back('\n');
          out.append(f.name());
          out.append("_count");
          AppendLabels(&out, f.label_names(), labels);
          out.push_back(' ');
          AppendValue(&out, static_cast<double>(s.count));
          out.push_back('\n');
        });
        break;
      }
    }
  }
  return out;
}

std::vector<double> MetricsRegistry::LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,     2.5,    5,     10};
}

}  // namespace sluice
