#include "log/partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

#include "common/logging.h"
#include "common/varint.h"

namespace sluice::log {
namespace {

constexpr std::string_view kLogSuffix = ".log";
// ScanBatches reads a batch header plus this much in one go, enough for a typical first record.
constexpr size_t kFirstRecordPeek = 512;

inline void Add(Counter* c, double v) {
  if (c != nullptr) c->Inc(v);
}
inline void Set(Gauge* g, double v) {
  if (g != nullptr) g->Set(v);
}

// Parses "<20 digits>.log" into its base offset.
bool ParseSegmentName(std::string_view name, Offset* base) {
  if (name.size() != 20 + kLogSuffix.size() || !name.ends_with(kLogSuffix)) return false;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + 20, value);
  if (ec != std::errc() || end != name.data() + 20 || value < 0) return false;
  *base = Offset(value);
  return true;
}

Result<BatchHeader> ReadHeaderAt(const Segment& segment, uint64_t position) {
  char bytes[kBatchHeaderSize];
  SLUICE_ASSIGN_OR_RETURN(size_t got, segment.ReadAt(position, bytes));
  if (got < kBatchHeaderSize) {
    return Status::Corruption(
        fmt::format("{}: short batch header at position {}", segment.path(), position));
  }
  Result<BatchHeader> header = DecodeBatchHeaderOnly(std::string_view(bytes, sizeof(bytes)));
  if (!header.ok())
    return header.status().WithContext(fmt::format("{} at {}", segment.path(), position));
  return header;
}

}  // namespace

PartitionImpl::PartitionImpl(PartitionOptions options) : options_(std::move(options)) {}

Result<std::shared_ptr<PartitionImpl>> PartitionImpl::Open(PartitionOptions options,
                                                           bool clean_shutdown) {
  std::shared_ptr<PartitionImpl> partition(new PartitionImpl(std::move(options)));
  SLUICE_RETURN_IF_ERROR(partition->Recover(clean_shutdown));
  return partition;
}

Status PartitionImpl::Recover(bool clean_shutdown) {
  FileSystem* fs = options_.fs;
  const std::string& dir = options_.dir;
  SLUICE_RETURN_IF_ERROR(fs->CreateDirs(dir));
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));

  std::vector<Offset> bases;
  for (const std::string& name : names) {
    Offset base;
    if (ParseSegmentName(name, &base)) {
      bases.push_back(base);
    } else if (name.find(".tmp") != std::string::npos) {
      // An atomic write that never reached its rename.
      SLUICE_LOG_WARN("log {}/{}: removing stray temporary file {}", options_.topic,
                      options_.id.value(), JoinPath(dir, name));
      SLUICE_RETURN_IF_ERROR(fs->RemoveFile(JoinPath(dir, name)));
    }
  }
  std::sort(bases.begin(), bases.end());
  // Index files whose segment is gone (retention removes the .log first).
  for (const std::string& name : names) {
    for (std::string_view ext : {std::string_view(".index"), std::string_view(".timeindex")}) {
      if (!name.ends_with(ext)) continue;
      Offset base;
      std::string log_name = name.substr(0, name.size() - ext.size()) + std::string(kLogSuffix);
      if (ParseSegmentName(log_name, &base) &&
          !std::binary_search(bases.begin(), bases.end(), base)) {
        SLUICE_RETURN_IF_ERROR(fs->RemoveFile(JoinPath(dir, name)));
      }
    }
  }

  std::vector<std::shared_ptr<Segment>> segments;
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool is_last = i + 1 == bases.size();
    Segment::RecoveryReport report;
    SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<Segment> segment,
                            Segment::Open(fs, dir, bases[i], options_.index_interval_bytes,
                                          /*trust_index=*/!is_last || clean_shutdown, &report));
    if (report.truncated_bytes > 0) {
      SLUICE_LOG_WARN(
          "log recovery: topic {} partition {}: truncated {} at position {}, dropping {} bytes "
          "({})",
          options_.topic, options_.id.value(), segment->path(), report.truncated_at,
          report.truncated_bytes, report.reason);
      Add(options_.metrics.truncated_bytes, static_cast<double>(report.truncated_bytes));
    }
    if (segment->empty() && !is_last) {
      SLUICE_LOG_WARN("log recovery: topic {} partition {}: removing empty segment {}",
                      options_.topic, options_.id.value(), segment->path());
      SLUICE_RETURN_IF_ERROR(segment->RemoveFiles());
      continue;
    }
    if (!segments.empty() && segment->base_offset() < segments.back()->next_offset()) {
      return Status::Corruption(fmt::format(
          "{}: segment starts at offset {} but the previous one ends at {}", segment->path(),
          segment->base_offset().value(), segments.back()->next_offset().value()));
    }
    if (!is_last && report.index_rebuilt) {
      Status s = segment->WriteIndexFiles();
      if (!s.ok()) SLUICE_LOG_WARN("log recovery: could not rewrite index files: {}", s.ToString());
    }
    segments.push_back(std::move(segment));
  }
  if (segments.empty()) {
    SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<Segment> segment,
                            Segment::Create(fs, dir, Offset(0), options_.index_interval_bytes));
    segments.push_back(std::move(segment));
  }

  const int64_t now = options_.clock->Now().value();
  std::lock_guard lock(mu_);
  std::lock_guard state_lock(state_mu_);
  active_ = segments.back();
  next_offset_ = active_->next_offset();
  active_created_ms_ = now;
  if (!active_->empty()) {
    // Age the segment by its first batch, as Kafka does, but never from the future.
    SLUICE_ASSIGN_OR_RETURN(BatchHeader first, ReadHeaderAt(*active_, 0));
    active_created_ms_ = std::min(now, first.max_timestamp.value());
  }
  segments_ = std::move(segments);
  start_offset_ = segments_.front()->base_offset();
  total_bytes_ = 0;
  for (const auto& s : segments_) total_bytes_ += s->committed_size();
  SetVisibleLocked({active_, active_->committed_size(), next_offset_});
  Set(options_.metrics.start_offset, static_cast<double>(start_offset_.value()));
  Set(options_.metrics.size_bytes, static_cast<double>(total_bytes_));
  Set(options_.metrics.segments, static_cast<double>(segments_.size()));
  return Status::Ok();
}

void PartitionImpl::SetVisibleLocked(VisibleEnd visible) {
  visible_ = std::move(visible);
  Set(options_.metrics.end_offset, static_cast<double>(visible_.end.value()));
  if (options_.visible_changed != nullptr) options_.visible_changed->Notify();
}

Status PartitionImpl::CheckNotDeleted() const {
  if (deleted_.load(std::memory_order_acquire)) {
    return Status::NotFound(fmt::format("topic {} was deleted", options_.topic));
  }
  return Status::Ok();
}

void PartitionImpl::FailLocked(const Status& status, Completions* out) {
  if (failure_.ok()) failure_ = status;
  for (PendingAppend& p : pending_) out->emplace_back(std::move(p.done), status);
  pending_.clear();
}

Status PartitionImpl::MaybeRollLocked(const BatchHeader& header, size_t batch_size) {
  if (active_->empty()) return Status::Ok();
  const int64_t now = options_.clock->Now().value();
  const uint64_t size = active_->size();
  const bool full = size + batch_size > options_.segment_bytes ||
                    size + batch_size > std::numeric_limits<uint32_t>::max();
  const bool old = now - active_created_ms_ >= options_.segment_ms;
  const bool offsets_overflow = (next_offset_ - active_->base_offset()) + header.last_offset_delta >
                                std::numeric_limits<int32_t>::max();
  if (!full && !old && !offsets_overflow) return Status::Ok();

  // The sealed segment must be durable before its index files claim anything about it, under
  // every fsync policy; this is one fdatasync per segment.
  const int64_t start_ns = options_.clock->MonotonicNanos();
  Status synced = active_->Sync();
  if (options_.metrics.fsync_seconds != nullptr) {
    options_.metrics.fsync_seconds->Observe(
        static_cast<double>(options_.clock->MonotonicNanos() - start_ns) / 1e9);
  }
  if (!synced.ok()) {
    Add(options_.metrics.fsync_errors, 1);
    return Status::IOError("sealing segment: " + synced.ToString());
  }
  SLUICE_ASSIGN_OR_RETURN(
      std::shared_ptr<Segment> next,
      Segment::Create(options_.fs, options_.dir, next_offset_, options_.index_interval_bytes));
  Status indexed = active_->WriteIndexFiles();
  if (!indexed.ok()) {
    // Not fatal: a segment without index files is rescanned at the next open.
    SLUICE_LOG_WARN("log: topic {} partition {}: writing index files of {}: {}", options_.topic,
                    options_.id.value(), active_->path(), indexed.ToString());
  }
  {
    std::lock_guard state_lock(state_mu_);
    segments_.push_back(next);
    if (options_.fsync != FsyncPolicy::kAlways) SetVisibleLocked({next, 0, next_offset_});
    Set(options_.metrics.segments, static_cast<double>(segments_.size()));
  }
  active_ = std::move(next);
  active_created_ms_ = now;
  return Status::Ok();
}

void PartitionImpl::Append(EncodedBatch batch, AppendCallback done) {
  Result<BatchHeader> decoded = DecodeBatchHeader(batch.bytes);
  if (!decoded.ok() || decoded->total_size() != batch.bytes.size() || decoded->record_count <= 0) {
    done(Status::InvalidArgument(decoded.ok() ? "append: not exactly one non-empty record batch"
                                              : "append: " + decoded.status().message()));
    return;
  }
  BatchHeader header = *decoded;
  const size_t size = batch.bytes.size();
  const bool always = options_.fsync == FsyncPolicy::kAlways;

  Status error;
  AppendResult result;
  Completions failed;
  bool request_sync = false;
  {
    std::lock_guard lock(mu_);
    const uint64_t unsynced = written_bytes_ - synced_bytes_;
    if (deleted_.load(std::memory_order_relaxed)) {
      error = CheckNotDeleted();
    } else if (!failure_.ok()) {
      error =
          Status::Unavailable(fmt::format("topic {} partition {} has failed: {}", options_.topic,
                                          options_.id.value(), failure_.ToString()));
    } else if (closing_) {
      error = Status::Unavailable("log is closed");
    } else if (options_.fsync != FsyncPolicy::kNever && unsynced > 0 &&
               unsynced + size > options_.max_unsynced_bytes) {
      error = Status::ResourceExhausted(
          fmt::format("topic {} partition {}: {} bytes await fsync (limit {})", options_.topic,
                      options_.id.value(), unsynced, options_.max_unsynced_bytes));
    } else if (Status rolled = MaybeRollLocked(header, size); !rolled.ok()) {
      error = rolled;
      if (rolled.code() == StatusCode::kIOError) {
        SLUICE_LOG_ERROR("log: topic {} partition {} failed: {}", options_.topic,
                         options_.id.value(), rolled.ToString());
        FailLocked(rolled, &failed);
      }
    } else {
      const Offset base = next_offset_;
      SetBaseOffset(&batch.bytes, base);
      header.base_offset = base;
      const uint64_t position = active_->size();
      Status written = active_->Write(batch.bytes);
      if (!written.ok()) {
        error = written;
        if (active_->size() != position) {
          // The partial batch could not be cut away: nothing more may go after it.
          SLUICE_LOG_ERROR("log: topic {} partition {} failed: {}", options_.topic,
                           options_.id.value(), written.ToString());
          FailLocked(written, &failed);
        }
      } else {
        next_offset_ = header.last_offset() + 1;
        written_bytes_ += size;
        result = AppendResult{base, header.record_count};
        if (header.is_transactional() && txns_built_.load(std::memory_order_relaxed)) {
          std::lock_guard txn_lock(txn_mu_);
          txns_.OnBatch(header, batch.bytes);
        }
        {
          std::lock_guard state_lock(state_mu_);
          active_->Commit(header, position);
          total_bytes_ += size;
          if (!always) SetVisibleLocked({active_, active_->committed_size(), next_offset_});
        }
        Add(options_.metrics.appends, 1);
        Add(options_.metrics.records_appended, header.record_count);
        Add(options_.metrics.bytes_appended, static_cast<double>(size));
        Set(options_.metrics.size_bytes, static_cast<double>(total_bytes_));
        if (always) {
          pending_.push_back({next_offset_, result, std::move(done)});
          if (!sync_requested_) {
            sync_requested_ = true;
            request_sync = true;
          }
        }
      }
    }
  }
  for (auto& [callback, status] : failed) callback(std::move(status));
  if (!error.ok()) {
    done(std::move(error));
  } else if (always) {
    if (request_sync) options_.scheduler->RequestSync(shared_from_this());
  } else {
    done(result);
  }
}

void PartitionImpl::SyncNow() {
  std::shared_ptr<Segment> segment;
  Offset target;
  uint64_t position = 0;
  uint64_t bytes = 0;
  {
    std::lock_guard lock(mu_);
    sync_requested_ = false;
    if (!failure_.ok() || deleted_.load(std::memory_order_relaxed)) return;
    if (written_bytes_ == synced_bytes_ && pending_.empty()) return;
    segment = active_;
    target = next_offset_;
    position = active_->size();
    bytes = written_bytes_;
  }

  // Concurrent appends continue meanwhile; the next sync covers them.
  const int64_t start_ns = options_.clock->MonotonicNanos();
  Status synced = segment->Sync();
  const double seconds = static_cast<double>(options_.clock->MonotonicNanos() - start_ns) / 1e9;

  Completions completions;
  bool request_again = false;
  {
    std::lock_guard lock(mu_);
    if (deleted_.load(std::memory_order_relaxed)) return;
    if (options_.metrics.fsync_seconds != nullptr) options_.metrics.fsync_seconds->Observe(seconds);
    if (!synced.ok()) {
      Add(options_.metrics.fsync_errors, 1);
      Status error =
          Status::IOError(fmt::format("fdatasync failed, partition taken offline until restart "
                                      "(recovery re-reads the file): {}",
                                      synced.ToString()));
      SLUICE_LOG_ERROR("log: topic {} partition {}: {}", options_.topic, options_.id.value(),
                       error.message());
      FailLocked(error, &completions);
    } else if (bytes > synced_bytes_) {
      synced_bytes_ = bytes;
      while (!pending_.empty() && pending_.front().end <= target) {
        completions.emplace_back(std::move(pending_.front().done), pending_.front().result);
        pending_.pop_front();
      }
      if (options_.fsync == FsyncPolicy::kAlways) {
        std::lock_guard state_lock(state_mu_);
        if (target > visible_.end) SetVisibleLocked({segment, position, target});
      }
    }
    if (failure_.ok() && !pending_.empty() && !sync_requested_) {
      sync_requested_ = true;
      request_again = true;
    }
  }
  for (auto& [callback, status] : completions) callback(std::move(status));
  if (request_again) options_.scheduler->RequestSync(shared_from_this());
}

std::vector<PartitionImpl::ReadSpan> PartitionImpl::SpansFromLocked(Offset from,
                                                                    uint64_t first_start) const {
  std::vector<ReadSpan> spans;
  auto it = std::upper_bound(segments_.begin(), segments_.end(), from,
                             [](Offset o, const auto& s) { return o < s->base_offset(); });
  if (it != segments_.begin()) --it;
  bool first = true;
  for (; it != segments_.end(); ++it) {
    const std::shared_ptr<Segment>& s = *it;
    const uint64_t start = first ? first_start : 0;
    first = false;
    if (s == visible_.segment) {
      spans.push_back({s, start, visible_.position});
      break;
    }
    if (s->next_offset() > visible_.end) break;
    spans.push_back({s, start, s->committed_size()});
  }
  return spans;
}

Result<ReadResult> PartitionImpl::Read(Offset from, size_t max_bytes) const {
  SLUICE_RETURN_IF_ERROR(CheckNotDeleted());
  ReadResult result;
  std::vector<ReadSpan> spans;
  {
    std::lock_guard state_lock(state_mu_);
    result.start_offset = start_offset_;
    result.end_offset = visible_.end;
    if (from < start_offset_ || from > visible_.end) {
      return Status::OutOfRange(fmt::format("topic {} partition {}: offset {} is outside [{}, {}]",
                                            options_.topic, options_.id.value(), from.value(),
                                            start_offset_.value(), visible_.end.value()));
    }
    result.next_offset = from;
    if (from == visible_.end) return result;
    auto it = std::upper_bound(segments_.begin(), segments_.end(), from,
                               [](Offset o, const auto& s) { return o < s->base_offset(); });
    const uint64_t first_start = it == segments_.begin() ? 0 : (*std::prev(it))->PositionFor(from);
    spans = SpansFromLocked(from, first_start);
  }

  for (const ReadSpan& span : spans) {
    uint64_t pos = span.start;
    // Skip the batches before the one holding `from` (at most an index interval's worth).
    std::optional<BatchHeader> first;
    while (pos < span.limit) {
      SLUICE_ASSIGN_OR_RETURN(BatchHeader h, ReadHeaderAt(*span.segment, pos));
      if (h.last_offset() >= from) {
        first = h;
        break;
      }
      pos += h.total_size();
    }
    if (!first) continue;

    const size_t budget = max_bytes > result.bytes.size() ? max_bytes - result.bytes.size() : 0;
    if (!result.bytes.empty() && first->total_size() > budget) break;
    const uint64_t end =
        std::min<uint64_t>(span.limit, pos + std::max<uint64_t>(budget, first->total_size()));
    const size_t old_size = result.bytes.size();
    result.bytes.resize(old_size + static_cast<size_t>(end - pos));
    SLUICE_ASSIGN_OR_RETURN(
        size_t got, span.segment->ReadAt(pos, std::span<char>(result.bytes.data() + old_size,
                                                              result.bytes.size() - old_size)));
    result.bytes.resize(old_size + got);

    // Keep whole batches only.
    size_t keep = old_size;
    while (keep < result.bytes.size()) {
      std::string_view rest(result.bytes.data() + keep, result.bytes.size() - keep);
      if (rest.size() < kBatchHeaderSize) break;
      SLUICE_ASSIGN_OR_RETURN(BatchHeader h, DecodeBatchHeaderOnly(rest));
      if (h.total_size() > rest.size()) break;
      keep += h.total_size();
      result.next_offset = h.last_offset() + 1;
    }
    const bool whole_span = keep == result.bytes.size() && end == span.limit;
    result.bytes.resize(keep);
    if (!whole_span || result.bytes.size() >= max_bytes) break;
  }
  return result;
}

Result<Offset> PartitionImpl::OffsetForTimestamp(TimestampMs ts) const {
  SLUICE_RETURN_IF_ERROR(CheckNotDeleted());
  std::vector<ReadSpan> spans;
  Offset end;
  {
    std::lock_guard state_lock(state_mu_);
    end = visible_.end;
    auto it = std::find_if(segments_.begin(), segments_.end(),
                           [ts](const auto& s) { return s->max_timestamp() >= ts; });
    if (it == segments_.end()) return end;
    const Offset lower = (*it)->OffsetForTimestampLowerBound(ts);
    spans = SpansFromLocked(std::max(lower, (*it)->base_offset()), (*it)->PositionFor(lower));
    if (!spans.empty() && spans.front().segment != *it) return end;
  }
  std::string batch;
  for (const ReadSpan& span : spans) {
    for (uint64_t pos = span.start; pos < span.limit;) {
      SLUICE_ASSIGN_OR_RETURN(BatchHeader h, ReadHeaderAt(*span.segment, pos));
      if (h.max_timestamp >= ts && !h.is_control()) {
        batch.resize(h.total_size());
        SLUICE_ASSIGN_OR_RETURN(size_t got, span.segment->ReadAt(pos, batch));
        batch.resize(got);
        if (h.compression() != Compression::kNone) return h.base_offset;
        RecordReader reader(batch);
        Record record;
        while (reader.Next(&record)) {
          if (record.timestamp >= ts) return record.offset;
        }
        SLUICE_RETURN_IF_ERROR(reader.status());
      }
      pos += h.total_size();
    }
  }
  return end;
}

Status PartitionImpl::EnsureTransactionIndex() const {
  if (txns_built_.load(std::memory_order_acquire)) return Status::Ok();
  std::lock_guard lock(mu_);  // no append runs while every written batch is read
  if (txns_built_.load(std::memory_order_relaxed)) return Status::Ok();
  std::vector<std::shared_ptr<Segment>> segments;
  {
    std::lock_guard state_lock(state_mu_);
    segments = segments_;
  }
  TransactionIndex index;
  std::string buffer;
  for (const std::shared_ptr<Segment>& segment : segments) {
    const uint64_t size = segment->size();  // written bytes, durable or not: whole batches
    // Chunks of 64 KiB: a data batch reaching past a chunk is skipped by its length, so large
    // batches cost one small read each.
    constexpr size_t kChunk = 64 << 10;
    uint64_t pos = 0;
    size_t want = kChunk;
    while (pos < size) {
      buffer.resize(static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(want, kBatchHeaderSize), size - pos)));
      SLUICE_ASSIGN_OR_RETURN(size_t got, segment->ReadAt(pos, std::span<char>(buffer.data(), buffer.size())));
      std::string_view rest(buffer.data(), got);
      size_t used = 0;
      want = kChunk;
      while (rest.size() >= kBatchHeaderSize) {
        SLUICE_ASSIGN_OR_RETURN(BatchHeader h, DecodeBatchHeaderOnly(rest));
        if (h.total_size() > rest.size()) {
          if (!h.is_control()) {  // only a marker's records are needed; skip a data batch's
            if (h.is_transactional()) index.OnData(h.producer_id, h.base_offset);
            used += h.total_size();
            rest = {};
          } else {
            want = h.total_size();
          }
          break;
        }
        index.OnBatch(h, rest.substr(0, h.total_size()));
        used += h.total_size();
        rest.remove_prefix(h.total_size());
      }
      if (used == 0 && want == kChunk) {
        return Status::Corruption(fmt::format("topic {} partition {}: unreadable batch at position {} of {}",
                                              options_.topic, options_.id.value(), pos, segment->path()));
      }
      pos += used;
    }
  }
  {
    std::lock_guard txn_lock(txn_mu_);
    txns_ = std::move(index);
  }
  txns_built_.store(true, std::memory_order_release);
  return Status::Ok();
}

Result<Partition::CommittedView> PartitionImpl::Committed(Offset from) const {
  SLUICE_RETURN_IF_ERROR(CheckNotDeleted());
  SLUICE_RETURN_IF_ERROR(EnsureTransactionIndex());
  std::lock_guard txn_lock(txn_mu_);
  Offset visible_end;
  {
    std::lock_guard state_lock(state_mu_);
    visible_end = visible_.end;
  }
  CommittedView view;
  view.last_stable_offset = txns_.LastStableOffset(visible_end);
  view.aborted = txns_.AbortedIn(from, view.last_stable_offset);
  return view;
}

Result<std::vector<std::pair<int64_t, Offset>>> PartitionImpl::OpenTransactions() const {
  SLUICE_RETURN_IF_ERROR(CheckNotDeleted());
  SLUICE_RETURN_IF_ERROR(EnsureTransactionIndex());
  std::lock_guard txn_lock(txn_mu_);
  return txns_.Open();
}

Status PartitionImpl::ScanBatches(TimestampMs since,
                                  const std::function<void(const BatchSummary&)>& fn) const {
  SLUICE_RETURN_IF_ERROR(CheckNotDeleted());
  std::vector<ReadSpan> spans;
  {
    std::lock_guard state_lock(state_mu_);
    if (start_offset_ == visible_.end) return Status::Ok();
    spans = SpansFromLocked(start_offset_, 0);
    // Within each segment the time index tells where batches may start reaching `since`.
    for (ReadSpan& span : spans) {
      if (span.segment->max_timestamp() < since) {
        span.start = span.limit;
      } else {
        span.start = span.segment->PositionFor(span.segment->OffsetForTimestampLowerBound(since));
      }
    }
  }
  std::string buffer;
  std::vector<RecordHeader> scratch;
  BatchSummary summary;
  for (const ReadSpan& span : spans) {
    for (uint64_t pos = span.start; pos < span.limit;) {
      const size_t want = static_cast<size_t>(
          std::min<uint64_t>(kBatchHeaderSize + kFirstRecordPeek, span.limit - pos));
      buffer.resize(want);
      SLUICE_ASSIGN_OR_RETURN(size_t got, span.segment->ReadAt(pos, buffer));
      buffer.resize(got);
      SLUICE_ASSIGN_OR_RETURN(BatchHeader h, DecodeBatchHeaderOnly(buffer));
      if (h.max_timestamp >= since && !h.is_control()) {
        summary.base_offset = h.base_offset;
        summary.record_count = h.record_count;
        summary.max_timestamp = h.max_timestamp;
        summary.producer_id = h.producer_id;
        summary.producer_epoch = h.producer_epoch;
        summary.base_sequence = h.base_sequence;
        summary.first_record_headers.clear();
        if (h.compression() == Compression::kNone && h.record_count > 0) {
          // The first record's length prefix says how much more to read, if anything.
          std::string_view records(buffer);
          records.remove_prefix(kBatchHeaderSize);
          int32_t length = 0;
          std::string_view probe = records;
          if (GetVarint(&probe, &length) && length >= 0) {
            const size_t need =
                kBatchHeaderSize + (records.size() - probe.size()) + static_cast<size_t>(length);
            if (need > buffer.size() && need <= h.total_size()) {
              buffer.resize(need);
              SLUICE_ASSIGN_OR_RETURN(size_t more, span.segment->ReadAt(pos, buffer));
              buffer.resize(more);
              records = std::string_view(buffer).substr(kBatchHeaderSize);
            }
          }
          Record record;
          if (!DecodeRecord(&records, h, &record, &scratch)) {
            return Status::Corruption(
                fmt::format("{}: malformed first record in batch at offset {}",
                            span.segment->path(), h.base_offset.value()));
          }
          for (const RecordHeader& rh : record.headers) {
            summary.first_record_headers.emplace_back(std::string(rh.key),
                                                      std::string(rh.value.value_or("")));
          }
        }
        fn(summary);
      }
      pos += h.total_size();
    }
  }
  return Status::Ok();
}

PartitionInfo PartitionImpl::Info() const {
  std::lock_guard state_lock(state_mu_);
  PartitionInfo info;
  info.partition = options_.id;
  info.start_offset = start_offset_;
  info.end_offset = visible_.end;
  info.bytes = total_bytes_;
  info.segments = static_cast<uint32_t>(segments_.size());
  return info;
}

int PartitionImpl::EnforceRetention(TimestampMs now) {
  if (options_.retention_ms < 0 && options_.retention_bytes < 0) return 0;
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard lock(mu_);
    if (deleted_.load(std::memory_order_relaxed)) return 0;
    std::lock_guard state_lock(state_mu_);
    while (segments_.size() > 1) {
      const std::shared_ptr<Segment>& oldest = segments_.front();
      if (oldest == active_ || oldest->next_offset() > visible_.end) break;
      const bool expired = options_.retention_ms >= 0 &&
                           oldest->max_timestamp().value() < now.value() - options_.retention_ms;
      // As Kafka: delete while what remains still holds at least retention_bytes.
      const bool oversize =
          options_.retention_bytes >= 0 && total_bytes_ - oldest->committed_size() >=
                                               static_cast<uint64_t>(options_.retention_bytes);
      if (!expired && !oversize) break;
      total_bytes_ -= oldest->committed_size();
      doomed.push_back(oldest);
      segments_.erase(segments_.begin());
    }
    if (doomed.empty()) return 0;
    start_offset_ = segments_.front()->base_offset();
    Set(options_.metrics.start_offset, static_cast<double>(start_offset_.value()));
    Set(options_.metrics.size_bytes, static_cast<double>(total_bytes_));
    Set(options_.metrics.segments, static_cast<double>(segments_.size()));
    Add(options_.metrics.retention_deleted_segments, static_cast<double>(doomed.size()));
  }
  for (const auto& segment : doomed) {
    SLUICE_LOG_INFO("log retention: topic {} partition {}: deleting {} (offsets {}..{})",
                    options_.topic, options_.id.value(), segment->path(),
                    segment->base_offset().value(), segment->next_offset().value() - 1);
    Status s = segment->RemoveFiles();
    if (!s.ok()) SLUICE_LOG_WARN("log retention: {}", s.ToString());
  }
  return static_cast<int>(doomed.size());
}

Status PartitionImpl::Close() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  if (deleted_.load()) return Status::Ok();
  SyncNow();
  std::lock_guard lock(mu_);
  if (!failure_.ok()) return failure_;
  if (written_bytes_ != synced_bytes_) {
    // Only fsync=never/interval get here with nothing pending (SyncNow returned early).
    return Status::Internal("close: unsynced bytes remain");
  }
  return active_->WriteIndexFiles();
}

void PartitionImpl::MarkDeleted() {
  Completions completions;
  {
    std::lock_guard lock(mu_);
    deleted_.store(true, std::memory_order_release);
    closing_ = true;
    for (PendingAppend& p : pending_) {
      completions.emplace_back(
          std::move(p.done), Status::NotFound(fmt::format("topic {} was deleted", options_.topic)));
    }
    pending_.clear();
  }
  for (auto& [callback, status] : completions) callback(std::move(status));
}

}  // namespace sluice::log
