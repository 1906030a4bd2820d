// Micro-benchmarks of the embedded log: encode, append (per fsync policy, alone and
// concurrent), and replay (Read + RecordReader). Run from a Release build.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "log/log.h"
#include "log/record_batch.h"

namespace sluice::log {
namespace {

constexpr int kRecordsPerBatch = 1000;
constexpr size_t kValueBytes = 100;

class BenchDir {
 public:
  BenchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-log-bench-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : std::string();
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

EncodedBatch BuildBatch(RecordBatchBuilder* builder, const std::string& value, int64_t ts) {
  for (int i = 0; i < kRecordsPerBatch; ++i) builder->Add(TimestampMs(ts), std::nullopt, value);
  return builder->Finish();
}

void BM_EncodeBatch(benchmark::State& state) {
  RecordBatchBuilder builder;
  const std::string value(kValueBytes, 'x');
  size_t bytes = 0;
  for (auto _ : state) {
    EncodedBatch batch = BuildBatch(&builder, value, 1'700'000'000'000);
    bytes += batch.bytes.size();
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * kRecordsPerBatch);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeBatch);

// Appends from state.range(1) threads, each with its own builder (encoding happens outside the
// partition lock, as in the ingest path). range(0): the fsync policy.
void BM_Append(benchmark::State& state) {
  const auto policy = static_cast<FsyncPolicy>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  BenchDir dir;
  LogOptions options;
  options.dir = dir.path();
  options.fsync = policy;
  options.default_retention_ms = -1;
  auto log = std::move(Log::Open(options)).value();
  TopicConfig config;
  config.name = "bench";
  if (!log->CreateTopic(config).ok()) state.SkipWithError("create topic");
  auto topic = log->GetTopic("bench").value();
  Partition& partition = topic->partition(PartitionId(0));
  const std::string value(kValueBytes, 'x');

  std::atomic<uint64_t> bytes{0};
  std::atomic<int> failures{0};
  for (auto _ : state) {
    constexpr int kBatchesPerThread = 50;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        RecordBatchBuilder builder;
        std::atomic<int> done{0};
        for (int b = 0; b < kBatchesPerThread; ++b) {
          EncodedBatch batch = BuildBatch(&builder, value, 1'700'000'000'000);
          const size_t size = batch.bytes.size();
          partition.Append(std::move(batch), [&, size](Result<AppendResult> r) {
            if (r.ok()) {
              bytes.fetch_add(size, std::memory_order_relaxed);
            } else {
              failures.fetch_add(1);
            }
            done.fetch_add(1, std::memory_order_release);
          });
        }
        while (done.load(std::memory_order_acquire) < kBatchesPerThread) std::this_thread::yield();
      });
    }
    for (auto& w : workers) w.join();
    state.SetItemsProcessed(state.items_processed() +
                            int64_t{kBatchesPerThread} * threads * kRecordsPerBatch);
  }
  if (failures.load() > 0) state.SkipWithError("appends failed");
  state.SetBytesProcessed(static_cast<int64_t>(bytes.load()));
  state.SetLabel(std::string(FsyncPolicyName(policy)));
}
BENCHMARK(BM_Append)
    ->Args({static_cast<int>(FsyncPolicy::kAlways), 1})
    ->Args({static_cast<int>(FsyncPolicy::kNever), 1})
    ->Args({static_cast<int>(FsyncPolicy::kAlways), 4})
    ->Args({static_cast<int>(FsyncPolicy::kNever), 4})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Replays a partition of 200 batches with Read(1 MiB) + RecordReader over every record.
void BM_ReadDecode(benchmark::State& state) {
  BenchDir dir;
  LogOptions options;
  options.dir = dir.path();
  options.fsync = FsyncPolicy::kNever;
  options.default_retention_ms = -1;
  auto log = std::move(Log::Open(options)).value();
  TopicConfig config;
  config.name = "bench";
  if (!log->CreateTopic(config).ok()) state.SkipWithError("create topic");
  auto topic = log->GetTopic("bench").value();
  Partition& partition = topic->partition(PartitionId(0));
  RecordBatchBuilder builder;
  const std::string value(kValueBytes, 'x');
  for (int b = 0; b < 200; ++b) {
    partition.Append(BuildBatch(&builder, value, 1'700'000'000'000), [](Result<AppendResult>) {});
  }
  int64_t records = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    Offset from(0);
    while (true) {
      Result<ReadResult> read = partition.Read(from, 1 << 20);
      if (!read.ok() || read->bytes.empty()) break;
      bytes += static_cast<int64_t>(read->bytes.size());
      RecordReader reader(read->bytes, from);
      Record record;
      size_t value_bytes = 0;
      while (reader.Next(&record)) {
        value_bytes += record.value->size();
        ++records;
      }
      benchmark::DoNotOptimize(value_bytes);
      from = read->next_offset;
    }
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ReadDecode)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::log

BENCHMARK_MAIN();
