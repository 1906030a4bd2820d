#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace sluice {

// An open file used for appending at its end and reading at any position.
// Append and Truncate are called by one writer at a time (the caller serialises them);
// Sync, ReadAt and Size may be called concurrently with them and with each other. A Sync makes
// durable at least everything appended before it was called (group commit relies on this).
class File {
 public:
  virtual ~File() = default;

  // Appends `data` at the end. On error a prefix of `data` may have reached the file:
  // Size() tells how much, and the caller decides whether to truncate it away.
  virtual Status Append(std::string_view data) = 0;
  // Reads up to out.size() bytes at `offset`; returns the count read (short only at end of file).
  virtual Result<size_t> ReadAt(uint64_t offset, std::span<char> out) const = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  // Cuts the file to `size` bytes (which must be <= Size()).
  virtual Status Truncate(uint64_t size) = 0;
  // Current size in bytes, including appended but unsynced data.
  virtual uint64_t Size() const = 0;
  virtual const std::string& path() const = 0;
};

// The seam for the file system: production code uses Default(), tests wrap it to inject torn
// writes, short writes, ENOSPC and EIO (see log/testing/fault_injection_file_system.h).
// Thread-safe.
class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens `path` for append + read, creating it when missing if `create` is true.
  virtual Result<std::unique_ptr<File>> OpenFile(const std::string& path, bool create) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Writes `data` to `path` atomically: a temp file, fsync, rename over `path`, fsync the dir.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data) = 0;
  virtual Status CreateDirs(const std::string& path) = 0;
  // Names (not paths) of the entries in `dir`, unsorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RemoveAll(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // fsyncs a directory so that entries created, renamed or removed in it are durable.
  virtual Status SyncDir(const std::string& dir) = 0;

  // The operating system's file system; never destroyed.
  static FileSystem* Default();
};

// Joins path components with '/'.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace sluice
