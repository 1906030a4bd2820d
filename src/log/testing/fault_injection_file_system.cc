#include "log/testing/fault_injection_file_system.h"

#include <cerrno>

namespace sluice::log::testing {

class FaultInjectionFile final : public File {
 public:
  FaultInjectionFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base,
                     std::shared_ptr<FaultInjectionFileSystem::FileState> state)
      : fs_(fs), base_(std::move(base)), state_(std::move(state)) {}

  Status Append(std::string_view data) override {
    SLUICE_RETURN_IF_ERROR(fs_->CheckNotCrashed(path()));
    const uint64_t allowed = fs_->TakeBudget(data.size());
    if (allowed < data.size()) {
      if (allowed > 0) SLUICE_RETURN_IF_ERROR(base_->Append(data.substr(0, allowed)));
      return Status::FromErrno(ENOSPC, path());
    }
    return base_->Append(data);
  }

  Result<size_t> ReadAt(uint64_t offset, std::span<char> out) const override {
    return base_->ReadAt(offset, out);
  }

  Status Sync() override {
    fs_->sync_count_.fetch_add(1);
    SLUICE_RETURN_IF_ERROR(fs_->CheckNotCrashed(path()));
    if (fs_->sync_fails_.load()) return Status::FromErrno(EIO, path());
    const uint64_t size = base_->Size();  // what was appended before this sync
    SLUICE_RETURN_IF_ERROR(base_->Sync());
    std::lock_guard lock(fs_->mu_);
    if (size > state_->synced_size) state_->synced_size = size;
    return Status::Ok();
  }

  Status Truncate(uint64_t size) override {
    SLUICE_RETURN_IF_ERROR(fs_->CheckNotCrashed(path()));
    SLUICE_RETURN_IF_ERROR(base_->Truncate(size));
    std::lock_guard lock(fs_->mu_);
    if (size < state_->synced_size) state_->synced_size = size;
    return Status::Ok();
  }

  uint64_t Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<File> base_;
  const std::shared_ptr<FaultInjectionFileSystem::FileState> state_;
};

Status FaultInjectionFileSystem::CheckNotCrashed(const std::string& path) const {
  if (crashed_.load()) return Status::FromErrno(EIO, path);
  return Status::Ok();
}

uint64_t FaultInjectionFileSystem::TakeBudget(uint64_t want) {
  int64_t budget = write_budget_.load();
  while (budget >= 0) {
    const int64_t take = std::min<int64_t>(budget, static_cast<int64_t>(want));
    if (write_budget_.compare_exchange_weak(budget, budget - take))
      return static_cast<uint64_t>(take);
  }
  return want;
}

std::shared_ptr<FaultInjectionFileSystem::FileState> FaultInjectionFileSystem::StateFor(
    const std::string& path, uint64_t initial_size) {
  std::lock_guard lock(mu_);
  auto& state = files_[path];
  // A file first seen here existed before: what it holds counts as durable.
  if (!state) state = std::make_shared<FileState>(FileState{initial_size});
  return state;
}

Result<std::unique_ptr<File>> FaultInjectionFileSystem::OpenFile(const std::string& path,
                                                                 bool create) {
  if (create) SLUICE_RETURN_IF_ERROR(CheckNotCrashed(path));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> file, base_->OpenFile(path, create));
  auto state = StateFor(path, file->Size());
  return std::unique_ptr<File>(new FaultInjectionFile(this, std::move(file), std::move(state)));
}

Status FaultInjectionFileSystem::WriteFileAtomic(const std::string& path, std::string_view data) {
  SLUICE_RETURN_IF_ERROR(CheckNotCrashed(path));
  if (TakeBudget(data.size()) < data.size()) return Status::FromErrno(ENOSPC, path);
  SLUICE_RETURN_IF_ERROR(base_->WriteFileAtomic(path, data));
  std::lock_guard lock(mu_);
  files_.erase(path);
  return Status::Ok();
}

Status FaultInjectionFileSystem::CreateDirs(const std::string& path) {
  SLUICE_RETURN_IF_ERROR(CheckNotCrashed(path));
  return base_->CreateDirs(path);
}

Status FaultInjectionFileSystem::RemoveFile(const std::string& path) {
  SLUICE_RETURN_IF_ERROR(CheckNotCrashed(path));
  SLUICE_RETURN_IF_ERROR(base_->RemoveFile(path));
  std::lock_guard lock(mu_);
  files_.erase(path);
  return Status::Ok();
}

Status FaultInjectionFileSystem::RemoveAll(const std::string& path) {
  SLUICE_RETURN_IF_ERROR(CheckNotCrashed(path));
  SLUICE_RETURN_IF_ERROR(base_->RemoveAll(path));
  std::lock_guard lock(mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    it = it->first.starts_with(path) ? files_.erase(it) : std::next(it);
  }
  return Status::Ok();
}

Status FaultInjectionFileSystem::Rename(const std::string& from, const std::string& to) {
  SLUICE_RETURN_IF_ERROR(CheckNotCrashed(from));
  SLUICE_RETURN_IF_ERROR(base_->Rename(from, to));
  std::lock_guard lock(mu_);
  std::map<std::string, std::shared_ptr<FileState>> moved;
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->first == from || it->first.starts_with(from + "/")) {
      moved[to + it->first.substr(from.size())] = std::move(it->second);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  files_.merge(moved);
  return Status::Ok();
}

Status FaultInjectionFileSystem::SyncDir(const std::string& dir) {
  SLUICE_RETURN_IF_ERROR(CheckNotCrashed(dir));
  return base_->SyncDir(dir);
}

void FaultInjectionFileSystem::ApplyCrash(std::mt19937_64* rng, bool tear) {
  std::lock_guard lock(mu_);
  for (const auto& [path, state] : files_) {
    Result<std::unique_ptr<File>> file = base_->OpenFile(path, false);
    if (!file.ok()) continue;
    const uint64_t size = (*file)->Size();
    if (size <= state->synced_size) continue;
    uint64_t keep = state->synced_size;
    if (tear) keep += (*rng)() % (size - state->synced_size + 1);
    (void)(*file)->Truncate(keep);
  }
  files_.clear();
  crashed_.store(false);
}

}  // namespace sluice::log::testing
