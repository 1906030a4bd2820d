#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "common/result.h"
#include "common/types.h"
#include "log/record_batch.h"

namespace sluice::log {

// One segment of a partition: a `<base offset>.log` file of consecutive record batches plus
// its sparse indexes, kept in memory and written to `.index` / `.timeindex` when the segment is
// sealed (see docs/formats/log.md for the file formats and recovery rules).
//
// Thread safety: the owner (a partition) serialises the writer calls (Write, Truncate,
// Commit, Seal) and guards the index lookups and accessors against Commit with its own lock.
// ReadAt, Sync and size() are safe at any time, concurrently with everything else.
class Segment {
 public:
  // Sparse offset index entry: the last offset of a batch (relative to the segment base) and
  // the file position where that batch starts.
  struct OffsetEntry {
    int32_t relative_offset;
    uint32_t position;
  };
  // Sparse time index entry: the largest timestamp seen so far in the segment and the last
  // offset (relative) of the batch that first reached it.
  struct TimeEntry {
    int64_t timestamp;
    int32_t relative_offset;
  };

  // What recovery found when opening a segment.
  struct RecoveryReport {
    bool scanned = false;          // the batches were scanned and verified
    bool index_rebuilt = false;    // index files were missing, invalid or not trusted
    uint64_t truncated_bytes = 0;  // bytes cut from the tail
    uint64_t truncated_at = 0;     // file position of the cut
    std::string reason;            // why the tail was cut
  };

  static std::string FileName(Offset base, std::string_view extension);

  // Creates an empty segment file (an existing empty file is reused).
  static Result<std::shared_ptr<Segment>> Create(FileSystem* fs, std::string dir, Offset base,
                                                 uint32_t index_interval_bytes);

  // Opens an existing segment. With `trust_index`, valid index files are loaded and only the
  // batches after the last index entry are scanned; otherwise (or if they are missing or
  // invalid) every batch is read and CRC-checked and the indexes are rebuilt. At the first
  // batch that is torn, corrupt or out of sequence the file is truncated there.
  static Result<std::shared_ptr<Segment>> Open(FileSystem* fs, std::string dir, Offset base,
                                               uint32_t index_interval_bytes, bool trust_index,
                                               RecoveryReport* report);

  Offset base_offset() const { return base_; }
  // One past the last offset written; base_offset() when empty.
  Offset next_offset() const { return next_offset_; }
  // Largest batch max timestamp; TimestampMs::Min() when empty.
  TimestampMs max_timestamp() const { return max_timestamp_; }
  // Bytes in the file, including a write in progress.
  uint64_t size() const { return file_->Size(); }
  // Bytes of the batches committed so far (what readers may see at most).
  uint64_t committed_size() const { return committed_size_; }
  bool empty() const { return next_offset_ == base_; }
  const std::string& path() const { return file_->path(); }

  // Appends the bytes of whole batches at the end. On failure the file is cut back to its
  // previous size so no partial batch stays (if even that fails, the returned status says so
  // and the segment must not be written again).
  Status Write(std::string_view batch);
  // Records a batch written at `position` in the in-memory state and indexes.
  void Commit(const BatchHeader& header, uint64_t position);
  Status Sync() { return file_->Sync(); }
  // Writes the index files (atomically). Called when the segment is rolled and at clean close.
  Status WriteIndexFiles();
  // Removes the segment's files. The open file stays readable by current holders.
  Status RemoveFiles();

  // A file position at or before the start of the batch containing `target` (or of the first
  // batch after it). REQUIRES: target >= base_offset().
  uint64_t PositionFor(Offset target) const;
  // An offset at or before the first record with timestamp >= ts.
  Offset OffsetForTimestampLowerBound(TimestampMs ts) const;

  Result<size_t> ReadAt(uint64_t position, std::span<char> out) const {
    return file_->ReadAt(position, out);
  }

  const std::vector<OffsetEntry>& offset_index() const { return offset_index_; }
  const std::vector<TimeEntry>& time_index() const { return time_index_; }

 private:
  Segment(FileSystem* fs, std::string dir, Offset base, uint32_t index_interval_bytes,
          std::unique_ptr<File> file);

  // Scans batches from `position` (the start of a batch whose offsets begin at `expected`),
  // committing each valid one; truncates at the first invalid one.
  Status Recover(uint64_t position, Offset expected, RecoveryReport* report);
  bool LoadIndexFiles();
  void ResetIndexes();
  std::string IndexPath(std::string_view extension) const;

  FileSystem* const fs_;
  const std::string dir_;
  const Offset base_;
  const uint32_t index_interval_bytes_;
  const std::unique_ptr<File> file_;

  Offset next_offset_;
  TimestampMs max_timestamp_ = TimestampMs::Min();
  Offset max_timestamp_offset_;  // last offset of the batch that first reached max_timestamp_
  uint64_t bytes_since_index_entry_ = 0;
  uint64_t committed_size_ = 0;
  std::vector<OffsetEntry> offset_index_;
  std::vector<TimeEntry> time_index_;
};

}  // namespace sluice::log
