#include "log/log.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "common/logging.h"
#include "common/murmur2.h"
#include "common/thread_name.h"
#include "log/partition.h"

namespace sluice::log {
namespace {

constexpr std::string_view kTopicFile = "topic.json";
constexpr std::string_view kCleanShutdownFile = ".clean_shutdown";
// Directory names with '~', which no topic name contains, so they never collide with a topic.
constexpr std::string_view kTrashPrefix = ".trash~";
constexpr std::string_view kCreatingPrefix = ".creating~";
constexpr int32_t kMaxPartitions = 1024;
constexpr int kSyncThreads = 4;  // with fsync = always
constexpr int kTopicFormatVersion = 1;

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string EncodeTopicConfig(const TopicConfig& c) {
  return fmt::format(
      "{{\"format_version\": {}, \"name\": {}, \"partitions\": {}, \"retention_ms\": {}, "
      "\"retention_bytes\": {}, \"key_field\": {}}}\n",
      kTopicFormatVersion, JsonString(c.name), c.partitions, c.retention_ms, c.retention_bytes,
      JsonString(c.key_field));
}

Result<TopicConfig> DecodeTopicConfig(const std::string& path, const std::string& text) {
  auto corrupt = [&path](std::string_view why) {
    return Status::Corruption(fmt::format("{}: {}", path, why));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text).get(root) != simdjson::SUCCESS) return corrupt("not valid JSON");
  int64_t version = 0;
  std::string_view name;
  int64_t partitions = 0;
  TopicConfig config;
  std::string_view key_field;
  if (root["format_version"].get(version) != simdjson::SUCCESS ||
      root["name"].get(name) != simdjson::SUCCESS ||
      root["partitions"].get(partitions) != simdjson::SUCCESS ||
      root["retention_ms"].get(config.retention_ms) != simdjson::SUCCESS ||
      root["retention_bytes"].get(config.retention_bytes) != simdjson::SUCCESS ||
      root["key_field"].get(key_field) != simdjson::SUCCESS) {
    return corrupt("missing or mistyped field");
  }
  if (version != kTopicFormatVersion)
    return corrupt(fmt::format("unknown format_version {}", version));
  if (partitions < 1 || partitions > kMaxPartitions) return corrupt("partition count out of range");
  config.name = std::string(name);
  config.partitions = static_cast<int32_t>(partitions);
  config.key_field = std::string(key_field);
  return config;
}

class TopicImpl final : public Topic {
 public:
  TopicImpl(TopicConfig config, std::vector<std::shared_ptr<PartitionImpl>> partitions)
      : config_(std::move(config)), partitions_(std::move(partitions)) {}

  const TopicConfig& config() const override { return config_; }
  int32_t partition_count() const override { return static_cast<int32_t>(partitions_.size()); }
  Partition& partition(PartitionId p) override {
    return *partitions_[static_cast<size_t>(p.value())];
  }
  const std::vector<std::shared_ptr<PartitionImpl>>& partitions() const { return partitions_; }

 private:
  const TopicConfig config_;  // as stored: 0 = the log's default
  const std::vector<std::shared_ptr<PartitionImpl>> partitions_;
};

class LogImpl final : public Log, public SyncScheduler {
 public:
  explicit LogImpl(LogOptions options) : options_(std::move(options)) {}
  ~LogImpl() override {
    Status s = Close();
    if (!s.ok()) SLUICE_LOG_ERROR("log: close: {}", s.ToString());
  }

  Status Open();

  Status CreateTopic(const TopicConfig& config) override;
  Status DeleteTopic(std::string_view name) override;
  Result<std::shared_ptr<Topic>> GetTopic(std::string_view name) override;
  std::vector<TopicInfo> ListTopics() override;
  Result<TopicInfo> DescribeTopic(std::string_view name) override;
  Result<int> EnforceRetention() override;
  Status Close() override;

  void RequestSync(std::shared_ptr<PartitionImpl> partition) override;
  ChangeSignal& visible_changed() override { return visible_changed_; }

 private:
  Result<std::shared_ptr<TopicImpl>> OpenTopic(const TopicConfig& config, const std::string& dir,
                                               bool clean_shutdown);
  PartitionMetrics MetricsFor(const std::string& topic, PartitionId p);
  void RemoveMetrics(const std::string& topic);
  TopicInfo InfoOf(const TopicImpl& topic) const;
  std::vector<std::shared_ptr<TopicImpl>> Topics() const;
  void SyncLoop();
  void RetentionLoop();

  const LogOptions options_;
  FileSystem* const fs_ = options_.fs;
  ChangeSignal visible_changed_;  // before the topics: partitions point to it

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<TopicImpl>, std::less<>> topics_;  // GUARDED_BY(mu_)
  bool closed_ = false;                                                    // GUARDED_BY(mu_)
  bool opened_ = false;         // Open() succeeded; only then may Close() mark a clean shutdown
  uint64_t trash_counter_ = 0;  // GUARDED_BY(mu_)

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<std::shared_ptr<PartitionImpl>> sync_queue_;  // GUARDED_BY(sync_mu_)
  bool stop_sync_ = false;                                 // GUARDED_BY(sync_mu_)
  std::vector<std::thread> sync_threads_;

  std::mutex retention_mu_;
  std::condition_variable retention_cv_;
  bool stop_retention_ = false;  // GUARDED_BY(retention_mu_)
  std::thread retention_thread_;

  struct Families {
    CounterFamily* appends = nullptr;
    CounterFamily* records = nullptr;
    CounterFamily* bytes = nullptr;
    GaugeFamily* end_offset = nullptr;
    GaugeFamily* start_offset = nullptr;
    GaugeFamily* size_bytes = nullptr;
    GaugeFamily* segments = nullptr;
    HistogramFamily* fsync_seconds = nullptr;
    CounterFamily* fsync_errors = nullptr;
    CounterFamily* truncated_bytes = nullptr;
    CounterFamily* retention_deleted = nullptr;
  } families_;
};

Status LogImpl::Open() {
  if (options_.dir.empty()) return Status::InvalidArgument("log: dir is empty");
  if (options_.segment_bytes < kBatchHeaderSize || options_.segment_ms <= 0 ||
      options_.fsync_interval_ms <= 0 || options_.retention_check_interval_ms <= 0) {
    return Status::InvalidArgument("log: segment_bytes, segment_ms and intervals must be positive");
  }
  if (MetricsRegistry* m = options_.metrics) {
    const std::vector<std::string> labels = {"topic", "partition"};
    families_.appends = m->AddCounter("sluice_log_appends_total", "Batches appended.", labels);
    families_.records =
        m->AddCounter("sluice_log_records_appended_total", "Records appended.", labels);
    families_.bytes = m->AddCounter("sluice_log_bytes_appended_total",
                                    "Bytes of record batches appended.", labels);
    families_.end_offset =
        m->AddGauge("sluice_log_end_offset", "Next offset to be written (visible end).", labels);
    families_.start_offset =
        m->AddGauge("sluice_log_start_offset", "First offset still retained.", labels);
    families_.size_bytes = m->AddGauge("sluice_log_size_bytes", "Bytes in all segments.", labels);
    families_.segments = m->AddGauge("sluice_log_segments", "Number of segment files.", labels);
    families_.fsync_seconds =
        m->AddHistogram("sluice_log_fsync_seconds", "Time spent in fdatasync of segment files.",
                        labels, MetricsRegistry::LatencyBuckets());
    families_.fsync_errors =
        m->AddCounter("sluice_log_fsync_errors_total", "Failed fdatasync calls.", labels);
    families_.truncated_bytes =
        m->AddCounter("sluice_log_truncated_bytes_total",
                      "Bytes of torn or corrupt tail cut at recovery.", labels);
    families_.retention_deleted = m->AddCounter("sluice_log_retention_deleted_segments_total",
                                                "Segments deleted by retention.", labels);
  }

  SLUICE_RETURN_IF_ERROR(fs_->CreateDirs(options_.dir));
  const std::string marker = JoinPath(options_.dir, kCleanShutdownFile);
  const bool clean_shutdown = fs_->Exists(marker);
  if (clean_shutdown) {
    // From here on the active segments' index files go stale as appends arrive.
    SLUICE_RETURN_IF_ERROR(fs_->RemoveFile(marker));
    SLUICE_RETURN_IF_ERROR(fs_->SyncDir(options_.dir));
  }

  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(options_.dir));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = JoinPath(options_.dir, name);
    if (name.starts_with(kTrashPrefix) || name.starts_with(kCreatingPrefix)) {
      // A DeleteTopic or CreateTopic that did not finish.
      SLUICE_LOG_WARN("log: removing unfinished {}", path);
      SLUICE_RETURN_IF_ERROR(fs_->RemoveAll(path));
      continue;
    }
    if (name.starts_with(kCleanShutdownFile)) {
      SLUICE_RETURN_IF_ERROR(fs_->RemoveFile(path));  // a marker write that never finished
      continue;
    }
    if (!ValidateTopicName(name).ok()) {
      SLUICE_LOG_WARN("log: ignoring {}: not a topic directory", path);
      continue;
    }
    const std::string topic_file = JoinPath(path, kTopicFile);
    Result<std::string> text = fs_->ReadFile(topic_file);
    if (!text.ok()) {
      return Status::Corruption(fmt::format("{}: topic metadata missing or unreadable ({})",
                                            topic_file, text.status().ToString()));
    }
    SLUICE_ASSIGN_OR_RETURN(TopicConfig config, DecodeTopicConfig(topic_file, *text));
    if (config.name != name) {
      return Status::Corruption(fmt::format("{}: names topic '{}' but lives in directory '{}'",
                                            topic_file, config.name, name));
    }
    SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<TopicImpl> topic,
                            OpenTopic(config, path, clean_shutdown));
    topics_.emplace(name, std::move(topic));
  }

  // With fsync = always, several partitions' syncs run at once: each acknowledged append waits
  // for its own partition's fdatasync, and concurrent ones share the file system's journal
  // commit instead of queueing behind each other. Interval syncs need one thread.
  const int sync_threads = options_.fsync == FsyncPolicy::kAlways ? kSyncThreads : options_.fsync == FsyncPolicy::kInterval ? 1 : 0;
  for (int i = 0; i < sync_threads; ++i) {
    sync_threads_.emplace_back([this] {
      SetThreadName("log-sync");
      SyncLoop();
    });
  }
  retention_thread_ = std::thread([this] {
    SetThreadName("log-retention");
    RetentionLoop();
  });
  opened_ = true;
  return Status::Ok();
}

Result<std::shared_ptr<TopicImpl>> LogImpl::OpenTopic(const TopicConfig& config,
                                                      const std::string& dir, bool clean_shutdown) {
  std::vector<std::shared_ptr<PartitionImpl>> partitions;
  for (int32_t p = 0; p < config.partitions; ++p) {
    PartitionOptions po;
    po.topic = config.name;
    po.id = PartitionId(p);
    po.dir = JoinPath(dir, std::to_string(p));
    po.fsync = options_.fsync;
    po.segment_bytes = options_.segment_bytes;
    po.segment_ms = options_.segment_ms;
    po.index_interval_bytes = options_.index_interval_bytes;
    po.retention_ms =
        config.retention_ms == 0 ? options_.default_retention_ms : config.retention_ms;
    po.retention_bytes =
        config.retention_bytes == 0 ? options_.default_retention_bytes : config.retention_bytes;
    po.max_unsynced_bytes = options_.max_unsynced_bytes;
    po.fs = fs_;
    po.clock = options_.clock;
    po.scheduler = this;
    po.visible_changed = &visible_changed_;
    po.metrics = MetricsFor(config.name, po.id);
    SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<PartitionImpl> partition,
                            PartitionImpl::Open(std::move(po), clean_shutdown));
    partitions.push_back(std::move(partition));
  }
  return std::make_shared<TopicImpl>(config, std::move(partitions));
}

PartitionMetrics LogImpl::MetricsFor(const std::string& topic, PartitionId p) {
  PartitionMetrics m;
  if (options_.metrics == nullptr) return m;
  const LabelValues labels = {topic, std::to_string(p.value())};
  m.appends = families_.appends->WithLabels(labels);
  m.records_appended = families_.records->WithLabels(labels);
  m.bytes_appended = families_.bytes->WithLabels(labels);
  m.end_offset = families_.end_offset->WithLabels(labels);
  m.start_offset = families_.start_offset->WithLabels(labels);
  m.size_bytes = families_.size_bytes->WithLabels(labels);
  m.segments = families_.segments->WithLabels(labels);
  m.fsync_seconds = families_.fsync_seconds->WithLabels(labels);
  m.fsync_errors = families_.fsync_errors->WithLabels(labels);
  m.truncated_bytes = families_.truncated_bytes->WithLabels(labels);
  m.retention_deleted_segments = families_.retention_deleted->WithLabels(labels);
  return m;
}

void LogImpl::RemoveMetrics(const std::string& topic) {
  if (options_.metrics == nullptr) return;
  families_.appends->RemoveByFirstLabel(topic);
  families_.records->RemoveByFirstLabel(topic);
  families_.bytes->RemoveByFirstLabel(topic);
  families_.end_offset->RemoveByFirstLabel(topic);
  families_.start_offset->RemoveByFirstLabel(topic);
  families_.size_bytes->RemoveByFirstLabel(topic);
  families_.segments->RemoveByFirstLabel(topic);
  families_.fsync_seconds->RemoveByFirstLabel(topic);
  families_.fsync_errors->RemoveByFirstLabel(topic);
  families_.truncated_bytes->RemoveByFirstLabel(topic);
  families_.retention_deleted->RemoveByFirstLabel(topic);
}

Status LogImpl::CreateTopic(const TopicConfig& config) {
  SLUICE_RETURN_IF_ERROR(ValidateTopicName(config.name));
  if (config.partitions < 1 || config.partitions > kMaxPartitions) {
    return Status::InvalidArgument(fmt::format("topic {}: partitions must be 1..{}, not {}",
                                               config.name, kMaxPartitions, config.partitions));
  }
  if (config.retention_ms < -1 || config.retention_bytes < -1) {
    return Status::InvalidArgument(fmt::format("topic {}: retention must be >= -1", config.name));
  }
  std::lock_guard lock(mu_);
  if (closed_) return Status::Unavailable("log is closed");
  if (topics_.contains(config.name)) {
    return Status::AlreadyExists(fmt::format("topic {} already exists", config.name));
  }
  // Build the topic under a temporary name and publish it with one rename, so a crash never
  // leaves a topic directory without its metadata.
  const std::string staging =
      JoinPath(options_.dir, fmt::format("{}{}", kCreatingPrefix, config.name));
  const std::string final_dir = JoinPath(options_.dir, config.name);
  if (fs_->Exists(final_dir)) {
    return Status::AlreadyExists(fmt::format("{} exists but is not a known topic", final_dir));
  }
  if (fs_->Exists(staging)) SLUICE_RETURN_IF_ERROR(fs_->RemoveAll(staging));
  SLUICE_RETURN_IF_ERROR(fs_->CreateDirs(staging));
  Status s = fs_->WriteFileAtomic(JoinPath(staging, kTopicFile), EncodeTopicConfig(config));
  if (s.ok()) s = fs_->Rename(staging, final_dir);
  if (s.ok()) s = fs_->SyncDir(options_.dir);
  if (!s.ok()) {
    (void)fs_->RemoveAll(staging);
    return s.WithContext(fmt::format("creating topic {}", config.name));
  }
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<TopicImpl> topic, OpenTopic(config, final_dir, false));
  topics_.emplace(config.name, std::move(topic));
  SLUICE_LOG_INFO("log: created topic {} with {} partitions", config.name, config.partitions);
  return Status::Ok();
}

Status LogImpl::DeleteTopic(std::string_view name) {
  std::shared_ptr<TopicImpl> topic;
  std::string trash;
  {
    std::lock_guard lock(mu_);
    if (closed_) return Status::Unavailable("log is closed");
    auto it = topics_.find(name);
    if (it == topics_.end()) return Status::NotFound(fmt::format("topic {} does not exist", name));
    topic = it->second;
    topics_.erase(it);
    for (const auto& p : topic->partitions()) p->MarkDeleted();
    RemoveMetrics(std::string(name));
    trash = JoinPath(options_.dir, fmt::format("{}{}~{}", kTrashPrefix, name, trash_counter_++));
    // Once renamed the topic is gone, even if the removal below is cut short by a crash.
    SLUICE_RETURN_IF_ERROR(fs_->Rename(JoinPath(options_.dir, std::string(name)), trash));
    SLUICE_RETURN_IF_ERROR(fs_->SyncDir(options_.dir));
  }
  SLUICE_LOG_INFO("log: deleted topic {}", name);
  return fs_->RemoveAll(trash);
}

Result<std::shared_ptr<Topic>> LogImpl::GetTopic(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return Status::NotFound(fmt::format("topic {} does not exist", name));
  return std::shared_ptr<Topic>(it->second);
}

TopicInfo LogImpl::InfoOf(const TopicImpl& topic) const {
  TopicInfo info;
  info.config = topic.config();
  if (info.config.retention_ms == 0) info.config.retention_ms = options_.default_retention_ms;
  if (info.config.retention_bytes == 0)
    info.config.retention_bytes = options_.default_retention_bytes;
  for (const auto& p : topic.partitions()) info.partitions.push_back(p->Info());
  return info;
}

std::vector<std::shared_ptr<TopicImpl>> LogImpl::Topics() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<TopicImpl>> topics;
  for (const auto& [name, topic] : topics_) topics.push_back(topic);
  return topics;
}

std::vector<TopicInfo> LogImpl::ListTopics() {
  std::vector<TopicInfo> infos;
  for (const auto& topic : Topics()) infos.push_back(InfoOf(*topic));
  return infos;
}

Result<TopicInfo> LogImpl::DescribeTopic(std::string_view name) {
  std::shared_ptr<TopicImpl> topic;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return Status::NotFound(fmt::format("topic {} does not exist", name));
    topic = it->second;
  }
  return InfoOf(*topic);
}

Result<int> LogImpl::EnforceRetention() {
  const TimestampMs now = options_.clock->Now();
  int deleted = 0;
  for (const auto& topic : Topics()) {
    for (const auto& p : topic->partitions()) deleted += p->EnforceRetention(now);
  }
  return deleted;
}

void LogImpl::RequestSync(std::shared_ptr<PartitionImpl> partition) {
  {
    std::lock_guard lock(sync_mu_);
    sync_queue_.push_back(std::move(partition));
  }
  sync_cv_.notify_one();
}

void LogImpl::SyncLoop() {
  const auto interval = std::chrono::milliseconds(options_.fsync_interval_ms);
  auto next_interval_sync = std::chrono::steady_clock::now() + interval;
  std::unique_lock lock(sync_mu_);
  while (true) {
    if (options_.fsync == FsyncPolicy::kInterval) {
      sync_cv_.wait_until(lock, next_interval_sync,
                          [this] { return stop_sync_ || !sync_queue_.empty(); });
    } else {
      sync_cv_.wait(lock, [this] { return stop_sync_ || !sync_queue_.empty(); });
    }
    if (!sync_queue_.empty()) {
      std::shared_ptr<PartitionImpl> partition = std::move(sync_queue_.front());
      sync_queue_.pop_front();
      lock.unlock();
      partition->SyncNow();
      lock.lock();
      continue;
    }
    if (stop_sync_) return;
    if (options_.fsync == FsyncPolicy::kInterval &&
        std::chrono::steady_clock::now() >= next_interval_sync) {
      lock.unlock();
      for (const auto& topic : Topics()) {
        for (const auto& p : topic->partitions()) p->SyncNow();
      }
      lock.lock();
      next_interval_sync = std::chrono::steady_clock::now() + interval;
    }
  }
}

void LogImpl::RetentionLoop() {
  const auto interval = std::chrono::milliseconds(options_.retention_check_interval_ms);
  std::unique_lock lock(retention_mu_);
  while (!retention_cv_.wait_for(lock, interval, [this] { return stop_retention_; })) {
    lock.unlock();
    Result<int> deleted = EnforceRetention();
    (void)deleted;
    lock.lock();
  }
}

Status LogImpl::Close() {
  std::vector<std::shared_ptr<TopicImpl>> topics;
  {
    std::lock_guard lock(mu_);
    if (closed_) return Status::Ok();
    closed_ = true;
    for (const auto& [name, topic] : topics_) topics.push_back(topic);
  }
  {
    std::lock_guard lock(retention_mu_);
    stop_retention_ = true;
  }
  retention_cv_.notify_all();
  if (retention_thread_.joinable()) retention_thread_.join();

  Status result;
  for (const auto& topic : topics) {
    for (const auto& p : topic->partitions()) {
      Status s = p->Close();
      if (!s.ok()) {
        SLUICE_LOG_ERROR("log: closing topic {} partition {}: {}", topic->config().name,
                         p->id().value(), s.ToString());
        if (result.ok()) result = s;
      }
    }
  }
  {
    std::lock_guard lock(sync_mu_);
    stop_sync_ = true;
  }
  sync_cv_.notify_all();
  for (std::thread& t : sync_threads_) t.join();
  sync_threads_.clear();

  if (result.ok() && opened_) {
    // Everything is durable and every active segment has index files: the next open may skip
    // scanning them.
    result = fs_->WriteFileAtomic(JoinPath(options_.dir, kCleanShutdownFile), "");
  }
  return result;
}

}  // namespace

Result<FsyncPolicy> ParseFsyncPolicy(std::string_view name) {
  if (name == "always") return FsyncPolicy::kAlways;
  if (name == "interval") return FsyncPolicy::kInterval;
  if (name == "never") return FsyncPolicy::kNever;
  return Status::InvalidArgument(
      fmt::format("fsync policy '{}' is not one of always, interval, never", name));
}

std::string_view FsyncPolicyName(FsyncPolicy policy) {
  switch (policy) {
    case FsyncPolicy::kAlways:
      return "always";
    case FsyncPolicy::kInterval:
      return "interval";
    case FsyncPolicy::kNever:
      return "never";
  }
  return "unknown";
}

Status ValidateTopicName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("topic name is empty");
  if (name.size() > 249) {
    return Status::InvalidArgument(
        fmt::format("topic name is {} characters long; the limit is 249", name.size()));
  }
  if (name == "." || name == "..")
    return Status::InvalidArgument("topic name cannot be '.' or '..'");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument(fmt::format(
          "topic name '{}' contains '{}'; only ASCII letters, digits, '.', '_' and '-' are allowed",
          name, c));
    }
  }
  return Status::Ok();
}

bool IsInternalTopicName(std::string_view name) { return name.starts_with('.'); }

PartitionId PartitionForKey(std::string_view key, int32_t partitions) {
  return PartitionId(ToPositive(Murmur2(key)) % partitions);
}

Result<std::unique_ptr<Log>> Log::Open(LogOptions options) {
  auto log = std::make_unique<LogImpl>(std::move(options));
  Status s = log->Open();
  if (!s.ok()) return s;
  return std::unique_ptr<Log>(std::move(log));
}

Result<std::shared_ptr<Topic>> GetOrCreateTopic(Log* log, std::string_view name, int32_t partitions) {
  Result<std::shared_ptr<Topic>> topic = log->GetTopic(name);
  if (topic.ok() || topic.status().code() != StatusCode::kNotFound) return topic;
  TopicConfig config;
  config.name = std::string(name);
  config.partitions = partitions;
  Status created = log->CreateTopic(config);
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
  return log->GetTopic(name);
}

}  // namespace sluice::log
