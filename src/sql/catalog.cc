#include "sql/catalog.h"

#include <fmt/format.h>

#include "common/crc32c.h"
#include "common/logging.h"
#include "common/varint.h"

namespace sluice::sql {
namespace {

constexpr size_t kRecordHeaderSize = 8;            // length u32 + crc32c u32, big-endian
constexpr uint32_t kMaxRecordBytes = 16u << 20;    // a DDL statement is far smaller
constexpr uint8_t kRecordFormatVersion = 1;

void PutString(std::string* out, std::string_view s) {
  PutVarlong(out, static_cast<int64_t>(s.size()));
  out->append(s);
}

bool GetString(std::string_view* in, std::string* out) {
  int64_t n;
  if (!GetVarlong(in, &n) || n < 0 || static_cast<uint64_t>(n) > in->size()) return false;
  out->assign(in->substr(0, static_cast<size_t>(n)));
  in->remove_prefix(static_cast<size_t>(n));
  return true;
}

}  // namespace

std::string EncodeCatalogRecord(const CatalogRecord& r) {
  std::string payload;
  payload.push_back(static_cast<char>(kRecordFormatVersion));
  payload.push_back(static_cast<char>(r.op));
  PutVarlong(&payload, static_cast<int64_t>(r.version));
  PutVarlong(&payload, static_cast<int64_t>(r.id));
  payload.push_back(static_cast<char>(r.kind));
  PutString(&payload, r.name);
  PutString(&payload, r.sql);
  std::string out(kRecordHeaderSize, '\0');
  StoreBigEndian32(out.data(), static_cast<uint32_t>(payload.size()));
  StoreBigEndian32(out.data() + 4, Crc32c(payload));
  out += payload;
  return out;
}

bool DecodeCatalogRecord(std::string_view* in, CatalogRecord* r) {
  if (in->size() < kRecordHeaderSize) return false;
  uint32_t length = LoadBigEndian32(in->data());
  uint32_t crc = LoadBigEndian32(in->data() + 4);
  if (length > kMaxRecordBytes || in->size() - kRecordHeaderSize < length) return false;
  std::string_view payload = in->substr(kRecordHeaderSize, length);
  if (Crc32c(payload) != crc) return false;
  if (payload.size() < 3 || static_cast<uint8_t>(payload[0]) != kRecordFormatVersion) return false;
  uint8_t op = static_cast<uint8_t>(payload[1]);
  if (op != 1 && op != 2) return false;
  r->op = static_cast<CatalogRecord::Op>(op);
  payload.remove_prefix(2);
  int64_t version, id;
  if (!GetVarlong(&payload, &version) || !GetVarlong(&payload, &id) || payload.empty()) return false;
  uint8_t kind = static_cast<uint8_t>(payload[0]);
  if (kind > static_cast<uint8_t>(ObjectKind::kSink)) return false;
  payload.remove_prefix(1);
  r->version = static_cast<uint64_t>(version);
  r->id = static_cast<uint64_t>(id);
  r->kind = static_cast<ObjectKind>(kind);
  if (!GetString(&payload, &r->name) || !GetString(&payload, &r->sql) || !payload.empty()) return false;
  in->remove_prefix(kRecordHeaderSize + length);
  return true;
}

Result<std::unique_ptr<CatalogLog>> CatalogLog::Open(FileSystem* fs, std::string path,
                                                     std::vector<CatalogRecord>* records) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs->OpenFile(path, /*create=*/true));
  std::string data(file->Size(), '\0');
  SLUICE_ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, std::span<char>(data.data(), data.size())));
  data.resize(n);
  std::string_view in = data;
  records->clear();
  CatalogRecord record;
  while (!in.empty() && DecodeCatalogRecord(&in, &record)) records->push_back(record);
  if (!in.empty()) {
    uint64_t valid = data.size() - in.size();
    SLUICE_LOG_WARN("catalog {}: dropping {} bytes of torn or corrupt tail after {} records", path, in.size(),
                    records->size());
    SLUICE_RETURN_IF_ERROR(file->Truncate(valid));
    SLUICE_RETURN_IF_ERROR(file->Sync());
  }
  return std::unique_ptr<CatalogLog>(new CatalogLog(std::move(file)));
}

Status CatalogLog::Append(const CatalogRecord& record) {
  uint64_t before = file_->Size();
  Status s = file_->Append(EncodeCatalogRecord(record));
  if (s.ok()) s = file_->Sync();
  if (!s.ok()) {
    // Leave no partial record behind for the next append to follow.
    (void)file_->Truncate(before);
  }
  return s;
}

Result<CatalogEntry> Catalog::Find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return Status::NotFound(fmt::format("relation \"{}\" does not exist", name));
  return it->second;
}

bool Catalog::Exists(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.contains(name);
}

std::vector<CatalogEntry> Catalog::List(ObjectKind kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CatalogEntry> out;
  for (const auto& [name, entry] : entries_) {
    if (entry.kind == kind) out.push_back(entry);
  }
  return out;
}

uint64_t Catalog::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

namespace {

Status NameTaken(const CatalogEntry& existing) {
  return Status::AlreadyExists(fmt::format("{} \"{}\" already exists", ObjectKindName(existing.kind), existing.name));
}

}  // namespace

Status Catalog::CheckNameFree(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  return it == entries_.end() ? Status::Ok() : NameTaken(it->second);
}

Result<uint64_t> Catalog::Create(CatalogEntry entry, bool replay) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = entries_.find(entry.name); it != entries_.end()) return NameTaken(it->second);
  for (const std::string& dep : entry.dependencies) {
    if (!entries_.contains(dep)) return Status::NotFound(fmt::format("relation \"{}\" does not exist", dep));
  }
  if (!replay) {
    entry.id = next_id_;
    CatalogRecord record{CatalogRecord::Op::kCreate, version_ + 1, entry.id, entry.kind, entry.name, entry.sql};
    if (log_) SLUICE_RETURN_IF_ERROR(log_->Append(record).WithContext("writing the catalog"));
  }
  next_id_ = std::max(next_id_, entry.id + 1);
  ++version_;
  uint64_t id = entry.id;
  std::string name = entry.name;
  entries_.emplace(std::move(name), std::move(entry));
  return id;
}

Status Catalog::Drop(std::string_view name, ObjectKind kind, bool replay) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.kind != kind) {
    return Status::NotFound(fmt::format("{} \"{}\" does not exist", ObjectKindName(kind), name));
  }
  for (const auto& [other_name, other] : entries_) {
    for (const std::string& dep : other.dependencies) {
      if (dep == name) {
        return Status::FailedPrecondition(fmt::format("cannot drop {} {} because {} {} depends on it",
                                                      ObjectKindName(kind), name, ObjectKindName(other.kind),
                                                      other_name));
      }
    }
  }
  if (!replay) {
    CatalogRecord record{CatalogRecord::Op::kDrop, version_ + 1, it->second.id, kind, std::string(name), ""};
    if (log_) SLUICE_RETURN_IF_ERROR(log_->Append(record).WithContext("writing the catalog"));
  }
  ++version_;
  entries_.erase(it);
  return Status::Ok();
}

void Catalog::MarkFailed(std::string_view name, std::string failure) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it != entries_.end()) it->second.failure = std::move(failure);
}

void Catalog::RestoreCounters(const std::vector<CatalogRecord>& records) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const CatalogRecord& r : records) {
    next_id_ = std::max(next_id_, r.id + 1);
    version_ = std::max(version_, r.version);
  }
}

}  // namespace sluice::sql
