#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "common/file_system.h"

namespace sluice::log::testing {

// A FileSystem for tests that wraps a real one and remembers, per file, how much of it has been
// made durable by Sync(). It can inject faults (ENOSPC on writes, EIO on syncs) and simulate a
// machine crash: every file loses what was appended since its last sync, except a random
// prefix of that unsynced tail (a torn write). Directory operations are passed through and
// treated as durable. Thread-safe.
class FaultInjectionFileSystem final : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem* base = FileSystem::Default()) : base_(base) {}

  // Lets `bytes` more bytes be appended in total; the append that crosses the limit writes
  // only up to it and fails with ENOSPC, and so does every append after it. -1 = no limit.
  void SetWriteBudget(int64_t bytes) { write_budget_.store(bytes); }
  // While set, Sync() fails with EIO without syncing anything.
  void SetSyncFails(bool fails) { sync_fails_.store(fails); }
  // Successful and failed Sync() calls on files so far.
  uint64_t sync_count() const { return sync_count_.load(); }

  // Freezes the file system as a power cut would: from now on every mutating call fails with
  // EIO, so the code under test cannot sync anything more (destroy it next).
  void Crash() { crashed_.store(true); }
  // Applies the crash to the files on the underlying file system: each keeps its synced
  // prefix plus, if `tear` is set, a random part of its unsynced tail. Then thaws the file
  // system. REQUIRES: the files are no longer in use.
  void ApplyCrash(std::mt19937_64* rng, bool tear);

  Result<std::unique_ptr<File>> OpenFile(const std::string& path, bool create) override;
  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Status WriteFileAtomic(const std::string& path, std::string_view data) override;
  Status CreateDirs(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Status RemoveFile(const std::string& path) override;
  Status RemoveAll(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;

 private:
  friend class FaultInjectionFile;

  // Durability of one file, shared by its open handles.
  struct FileState {
    uint64_t synced_size = 0;
  };

  Status CheckNotCrashed(const std::string& path) const;
  // Takes up to `want` bytes of the write budget; returns how many may be written.
  uint64_t TakeBudget(uint64_t want);
  std::shared_ptr<FileState> StateFor(const std::string& path, uint64_t initial_size);

  FileSystem* const base_;
  std::atomic<int64_t> write_budget_{-1};
  std::atomic<bool> sync_fails_{false};
  std::atomic<bool> crashed_{false};
  std::atomic<uint64_t> sync_count_{0};
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FileState>> files_;  // GUARDED_BY(mu_)
};

}  // namespace sluice::log::testing
