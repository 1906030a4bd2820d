#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Metrics with labels, exported in the Prometheus text exposition format (version 0.0.4).
//
// Usage: register a family once, resolve the label values once (at topic creation, say), keep
// the returned pointer and update it on the hot path: an update is one relaxed atomic add, no
// lock, no allocation. Families and their series live as long as the registry; a series can be
// removed (its pointer then dangles, so only remove what no one holds).
//
// Thread-safe.

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void Inc(double delta = 1) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double delta = 1) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Dec(double delta = 1) { value_.fetch_sub(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);
  // Cumulative counts per bound (+Inf last), sum and count, read for exposition.
  struct Snapshot {
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double>* bounds_;  // owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_->size() + 1 (the +Inf bucket)
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram };

// A named metric with a fixed list of label names and one series per label-value list.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // Returns the series for `values` (one per label name), creating it on first use.
  // The pointer stays valid until Remove(values) or the registry dies.
  T* WithLabels(const LabelValues& values);
  void Remove(const LabelValues& values);
  // Removes every series whose first label value equals `first` (say, all of a topic's).
  void RemoveByFirstLabel(std::string_view first);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }
  // Calls fn(label values, series) for every series, in label order, under the family lock.
  void ForEach(const std::function<void(const LabelValues&, const T&)>& fn) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<T>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  // Registering the same name twice returns the first family (label names must match).
  CounterFamily* AddCounter(std::string name, std::string help, std::vector<std::string> labels = {});
  GaugeFamily* AddGauge(std::string name, std::string help, std::vector<std::string> labels = {});
  HistogramFamily* AddHistogram(std::string name, std::string help, std::vector<std::string> labels,
                                std::vector<double> bounds);

  // A function run at every scrape, before rendering, to refresh gauges that are cheaper to read
  // than to keep current (end offsets, memory, open files).
  void AddCollector(std::function<void()> collector);

  // The whole registry in Prometheus text format, families sorted by name.
  std::string Render() const;

  // Bucket bounds in seconds from 50 µs to 10 s, for latencies.
  static std::vector<double> LatencyBuckets();

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> families_;
  std::vector<std::function<void()>> collectors_;
};

}  // namespace sluice
