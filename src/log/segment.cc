#include "log/segment.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/varint.h"

namespace sluice::log {
namespace {

constexpr std::string_view kLogExtension = ".log";
constexpr std::string_view kIndexExtension = ".index";
constexpr std::string_view kTimeIndexExtension = ".timeindex";
constexpr size_t kOffsetEntrySize = 8;
constexpr size_t kTimeEntrySize = 12;
constexpr size_t kLastOffsetDeltaPos = 23;  // in the batch header
// Recovery reads the file in chunks of at least this size.
constexpr size_t kScanChunkBytes = 1 << 20;

// A forward-only window over a file, so recovery reads big chunks instead of one system call
// per batch header.
class ScanBuffer {
 public:
  ScanBuffer(const File* file, uint64_t file_size) : file_(file), file_size_(file_size) {}

  // Returns a view of [pos, pos + n), or fewer bytes if the file ends first.
  Result<std::string_view> Get(uint64_t pos, size_t n) {
    if (pos < start_ || pos + n > start_ + buffer_.size()) {
      const uint64_t available = pos < file_size_ ? file_size_ - pos : 0;
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(std::max(n, kScanChunkBytes), available));
      buffer_.resize(want);
      SLUICE_ASSIGN_OR_RETURN(size_t got,
                              file_->ReadAt(pos, std::span<char>(buffer_.data(), want)));
      buffer_.resize(got);
      start_ = pos;
    }
    const size_t skip = static_cast<size_t>(pos - start_);
    return std::string_view(buffer_).substr(skip, n);
  }

 private:
  const File* file_;
  const uint64_t file_size_;
  std::string buffer_;
  uint64_t start_ = 0;
};

}  // namespace

std::string Segment::FileName(Offset base, std::string_view extension) {
  return fmt::format("{:020d}{}", base.value(), extension);
}

Segment::Segment(FileSystem* fs, std::string dir, Offset base, uint32_t index_interval_bytes,
                 std::unique_ptr<File> file)
    : fs_(fs),
      dir_(std::move(dir)),
      base_(base),
      index_interval_bytes_(index_interval_bytes),
      file_(std::move(file)),
      next_offset_(base),
      max_timestamp_offset_(base) {}

std::string Segment::IndexPath(std::string_view extension) const {
  return JoinPath(dir_, FileName(base_, extension));
}

Result<std::shared_ptr<Segment>> Segment::Create(FileSystem* fs, std::string dir, Offset base,
                                                 uint32_t index_interval_bytes) {
  const std::string path = JoinPath(dir, FileName(base, kLogExtension));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs->OpenFile(path, /*create=*/true));
  if (file->Size() != 0) {
    return Status::AlreadyExists(fmt::format("{}: segment file exists and is not empty", path));
  }
  return std::shared_ptr<Segment>(
      new Segment(fs, std::move(dir), base, index_interval_bytes, std::move(file)));
}

Result<std::shared_ptr<Segment>> Segment::Open(FileSystem* fs, std::string dir, Offset base,
                                               uint32_t index_interval_bytes, bool trust_index,
                                               RecoveryReport* report) {
  const std::string path = JoinPath(dir, FileName(base, kLogExtension));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs->OpenFile(path, /*create=*/false));
  std::shared_ptr<Segment> segment(
      new Segment(fs, std::move(dir), base, index_interval_bytes, std::move(file)));

  if (trust_index && segment->LoadIndexFiles()) {
    // Resume from the batch of the last offset index entry: it must be a batch that ends at
    // exactly that entry's offset, else the index files are stale and a full scan follows.
    uint64_t position = 0;
    Offset expected = base;
    bool consistent = true;
    if (!segment->offset_index_.empty()) {
      const OffsetEntry last = segment->offset_index_.back();
      char header_bytes[kBatchHeaderSize];
      SLUICE_ASSIGN_OR_RETURN(size_t got, segment->file_->ReadAt(last.position, header_bytes));
      // Only the fixed fields matter here; Recover() below checks the whole batch.
      const Offset batch_base(static_cast<int64_t>(LoadBigEndian64(header_bytes)));
      const auto last_delta =
          static_cast<int32_t>(LoadBigEndian32(header_bytes + kLastOffsetDeltaPos));
      consistent = got == kBatchHeaderSize && batch_base >= base && last_delta >= 0 &&
                   batch_base + last_delta == base + last.relative_offset;
      position = last.position;
      expected = batch_base;
      // Re-index that batch during the tail scan, as if it had just been appended.
      segment->offset_index_.pop_back();
      segment->bytes_since_index_entry_ = index_interval_bytes;
    }
    if (consistent) {
      report->index_rebuilt = false;
      SLUICE_RETURN_IF_ERROR(segment->Recover(position, expected, report));
      return segment;
    }
  }
  report->index_rebuilt = true;
  segment->ResetIndexes();
  SLUICE_RETURN_IF_ERROR(segment->Recover(0, base, report));
  return segment;
}

void Segment::ResetIndexes() {
  offset_index_.clear();
  time_index_.clear();
  next_offset_ = base_;
  max_timestamp_ = TimestampMs::Min();
  max_timestamp_offset_ = base_;
  bytes_since_index_entry_ = 0;
  committed_size_ = 0;
}

bool Segment::LoadIndexFiles() {
  Result<std::string> index = fs_->ReadFile(IndexPath(kIndexExtension));
  Result<std::string> time_index = fs_->ReadFile(IndexPath(kTimeIndexExtension));
  if (!index.ok() || !time_index.ok()) return false;
  if (index->size() % kOffsetEntrySize != 0 || time_index->size() % kTimeEntrySize != 0)
    return false;
  const uint64_t file_size = file_->Size();

  std::vector<OffsetEntry> offsets;
  offsets.reserve(index->size() / kOffsetEntrySize);
  for (size_t i = 0; i < index->size(); i += kOffsetEntrySize) {
    OffsetEntry e{static_cast<int32_t>(LoadBigEndian32(index->data() + i)),
                  LoadBigEndian32(index->data() + i + 4)};
    if (e.relative_offset < 0 || e.position >= file_size) return false;
    if (!offsets.empty() && (e.relative_offset <= offsets.back().relative_offset ||
                             e.position <= offsets.back().position)) {
      return false;
    }
    offsets.push_back(e);
  }
  std::vector<TimeEntry> times;
  times.reserve(time_index->size() / kTimeEntrySize);
  for (size_t i = 0; i < time_index->size(); i += kTimeEntrySize) {
    TimeEntry e{static_cast<int64_t>(LoadBigEndian64(time_index->data() + i)),
                static_cast<int32_t>(LoadBigEndian32(time_index->data() + i + 8))};
    if (e.relative_offset < 0) return false;
    if (!times.empty() && (e.timestamp <= times.back().timestamp ||
                           e.relative_offset < times.back().relative_offset)) {
      return false;
    }
    times.push_back(e);
  }
  offset_index_ = std::move(offsets);
  time_index_ = std::move(times);
  if (!time_index_.empty()) {
    max_timestamp_ = TimestampMs(time_index_.back().timestamp);
    max_timestamp_offset_ = base_ + time_index_.back().relative_offset;
  }
  return true;
}

Status Segment::Recover(uint64_t position, Offset expected, RecoveryReport* report) {
  report->scanned = true;
  const uint64_t file_size = file_->Size();
  ScanBuffer scan(file_.get(), file_size);
  uint64_t pos = position;
  std::string reason;
  while (pos < file_size) {
    SLUICE_ASSIGN_OR_RETURN(std::string_view header_bytes, scan.Get(pos, kBatchHeaderSize));
    if (header_bytes.size() < kBatchHeaderSize) {
      reason =
          fmt::format("torn batch header ({} of {} bytes)", header_bytes.size(), kBatchHeaderSize);
      break;
    }
    Result<BatchHeader> header = DecodeBatchHeaderOnly(header_bytes);
    if (!header.ok()) {
      reason = header.status().message();
      break;
    }
    const size_t total = header->total_size();
    SLUICE_ASSIGN_OR_RETURN(std::string_view batch, scan.Get(pos, total));
    if (batch.size() < total) {
      reason = fmt::format("torn batch ({} of {} bytes)", batch.size(), total);
      break;
    }
    if (!VerifyBatchCrc(batch)) {
      reason = fmt::format("CRC mismatch in batch at offset {}", header->base_offset.value());
      break;
    }
    if (header->base_offset != expected) {
      reason = fmt::format("batch offset {} where {} was expected", header->base_offset.value(),
                           expected.value());
      break;
    }
    Commit(*header, pos);
    expected = header->last_offset() + 1;
    pos += total;
  }
  if (pos < file_size) {
    report->truncated_at = pos;
    report->truncated_bytes = file_size - pos;
    report->reason = std::move(reason);
    SLUICE_RETURN_IF_ERROR(file_->Truncate(pos));
  }
  return Status::Ok();
}

Status Segment::Write(std::string_view batch) {
  const uint64_t before = file_->Size();
  Status s = file_->Append(batch);
  if (s.ok()) return s;
  if (file_->Size() != before) {
    Status cut = file_->Truncate(before);
    if (!cut.ok()) {
      return Status::IOError(fmt::format("{} (and cutting back the partial write failed: {})",
                                         s.ToString(), cut.ToString()));
    }
  }
  return s;
}

void Segment::Commit(const BatchHeader& header, uint64_t position) {
  const Offset last = header.last_offset();
  if (header.max_timestamp > max_timestamp_) {
    max_timestamp_ = header.max_timestamp;
    max_timestamp_offset_ = last;
  }
  if (bytes_since_index_entry_ >= index_interval_bytes_) {
    offset_index_.push_back({static_cast<int32_t>(last - base_), static_cast<uint32_t>(position)});
    if (time_index_.empty() || max_timestamp_.value() > time_index_.back().timestamp) {
      time_index_.push_back(
          {max_timestamp_.value(), static_cast<int32_t>(max_timestamp_offset_ - base_)});
    }
    bytes_since_index_entry_ = 0;
  }
  bytes_since_index_entry_ += header.total_size();
  next_offset_ = last + 1;
  committed_size_ = position + header.total_size();
}

Status Segment::WriteIndexFiles() {
  std::string index;
  index.reserve(offset_index_.size() * kOffsetEntrySize);
  for (const OffsetEntry& e : offset_index_) {
    PutBigEndian32(&index, static_cast<uint32_t>(e.relative_offset));
    PutBigEndian32(&index, e.position);
  }
  std::string time_index;
  time_index.reserve((time_index_.size() + 1) * kTimeEntrySize);
  auto put_time = [&time_index](int64_t ts, int32_t rel) {
    PutBigEndian64(&time_index, static_cast<uint64_t>(ts));
    PutBigEndian32(&time_index, static_cast<uint32_t>(rel));
  };
  for (const TimeEntry& e : time_index_) put_time(e.timestamp, e.relative_offset);
  // A final entry for the segment's largest timestamp, so that it is known after a reload
  // without scanning (in memory, max_timestamp_ holds it).
  if (!empty() && (time_index_.empty() || max_timestamp_.value() > time_index_.back().timestamp)) {
    put_time(max_timestamp_.value(), static_cast<int32_t>(max_timestamp_offset_ - base_));
  }
  SLUICE_RETURN_IF_ERROR(fs_->WriteFileAtomic(IndexPath(kIndexExtension), index));
  return fs_->WriteFileAtomic(IndexPath(kTimeIndexExtension), time_index);
}

Status Segment::RemoveFiles() {
  Status result = fs_->RemoveFile(path());
  for (std::string_view ext : {kIndexExtension, kTimeIndexExtension}) {
    Status s = fs_->RemoveFile(IndexPath(ext));
    if (!s.ok() && s.code() != StatusCode::kNotFound && result.ok()) result = s;
  }
  return result;
}

uint64_t Segment::PositionFor(Offset target) const {
  const int64_t rel = target - base_;
  auto it = std::upper_bound(offset_index_.begin(), offset_index_.end(), rel,
                             [](int64_t r, const OffsetEntry& e) { return r < e.relative_offset; });
  if (it == offset_index_.begin()) return 0;
  return std::prev(it)->position;
}

Offset Segment::OffsetForTimestampLowerBound(TimestampMs ts) const {
  auto it = std::upper_bound(time_index_.begin(), time_index_.end(), ts.value(),
                             [](int64_t t, const TimeEntry& e) { return t < e.timestamp; });
  if (it == time_index_.begin()) return base_;
  return base_ + std::prev(it)->relative_offset;
}

}  // namespace sluice::log
