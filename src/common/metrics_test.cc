#include "common/metrics.h"

#include <thread>

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(MetricsTest, CounterSeriesPerLabelSet) {
  MetricsRegistry r;
  CounterFamily* f = r.AddCounter("sluice_test_events_total", "Events.", {"topic"});
  f->WithLabels({"a"})->Inc(3);
  f->WithLabels({"b"})->Inc();
  EXPECT_EQ(f->WithLabels({"a"}), f->WithLabels({"a"}));
  std::string out = r.Render();
  EXPECT_NE(out.find("# TYPE sluice_test_events_total counter\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_test_events_total{topic=\"a\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_test_events_total{topic=\"b\"} 1\n"), std::string::npos);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  MetricsRegistry r;
  r.AddGauge("sluice_test_g", "G.", {"name"})->WithLabels({"a\"b\\c\nd"})->Set(1.5);
  EXPECT_NE(r.Render().find("sluice_test_g{name=\"a\\\"b\\\\c\\nd\"} 1.5\n"), std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  MetricsRegistry r;
  Histogram* h = r.AddHistogram("sluice_test_seconds", "Latency.", {}, {0.1, 1})->WithLabels({});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  std::string out = r.Render();
  EXPECT_NE(out.find("sluice_test_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_test_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_test_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_test_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_test_seconds_sum 5.55\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry r;
  Counter* c = r.AddCounter("sluice_test_total", "T.")->WithLabels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c] {
      for (int i = 0; i < 10000; ++i) c->Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 40000);
}

TEST(MetricsTest, CollectorsRunBeforeRender) {
  MetricsRegistry r;
  Gauge* g = r.AddGauge("sluice_test_collected", "C.")->WithLabels({});
  int calls = 0;
  r.AddCollector([&] { g->Set(++calls); });
  EXPECT_NE(r.Render().find("sluice_test_collected 1\n"), std::string::npos);
  EXPECT_NE(r.Render().find("sluice_test_collected 2\n"), std::string::npos);
}

TEST(MetricsTest, RemoveByFirstLabelDropsATopicsSeries) {
  MetricsRegistry r;
  GaugeFamily* f = r.AddGauge("sluice_test_end", "E.", {"topic", "partition"});
  f->WithLabels({"a", "0"})->Set(1);
  f->WithLabels({"b", "0"})->Set(2);
  f->RemoveByFirstLabel("a");
  std::string out = r.Render();
  EXPECT_EQ(out.find("topic=\"a\""), std::string::npos);
  EXPECT_NE(out.find("topic=\"b\""), std::string::npos);
}

}  // namespace
}  // namespace sluice
