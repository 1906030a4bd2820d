#include "engine/checkpoint_store.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <zstd.h>

#include "common/crc32c.h"

namespace sluice::engine {
namespace {

constexpr char kMagic[4] = {'S', 'L', 'C', 'K'};
constexpr uint32_t kVersion = 1;
constexpr std::string_view kSuffix = ".ckpt";
// magic, version, seq, fingerprint, raw length, compressed length
constexpr size_t kHeaderSize = 4 + 4 + 8 + 8 + 8 + 8;
constexpr size_t kTrailerSize = 4;  // CRC-32C of header + compressed payload
constexpr uint64_t kMaxPayloadBytes = 64ull << 30;

void PutFixed32(std::string* out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);  // little-endian hosts only (x86-64, arm64), as the log's index files
  out->append(b, 4);
}
void PutFixed64(std::string* out, uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out->append(b, 8);
}
uint32_t Fixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t Fixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

CheckpointStore::CheckpointStore(FileSystem* fs, std::string dir, int keep)
    : fs_(fs), dir_(std::move(dir)), keep_(std::max(keep, 1)) {}

std::string CheckpointStore::Encode(uint64_t seq, uint64_t fingerprint, std::string_view payload) {
  // The frame is compressed straight into the file's buffer, after the header.
  std::string out;
  out.reserve(kHeaderSize + ZSTD_compressBound(payload.size()) + kTrailerSize);
  out.append(kMagic, 4);
  PutFixed32(&out, kVersion);
  PutFixed64(&out, seq);
  PutFixed64(&out, fingerprint);
  PutFixed64(&out, payload.size());
  PutFixed64(&out, 0);  // the compressed length, known below
  out.resize(kHeaderSize + ZSTD_compressBound(payload.size()));
  const size_t n =
      ZSTD_compress(out.data() + kHeaderSize, out.size() - kHeaderSize, payload.data(), payload.size(), 1);
  const uint64_t compressed = ZSTD_isError(n) ? 0 : n;
  out.resize(kHeaderSize + compressed);
  std::memcpy(out.data() + 32, &compressed, 8);
  PutFixed32(&out, Crc32c(out));
  return out;
}

Result<CheckpointStore::Checkpoint> CheckpointStore::Decode(std::string_view file) {
  if (file.size() < kHeaderSize + kTrailerSize) return Status::Corruption("checkpoint file is truncated");
  if (std::memcmp(file.data(), kMagic, 4) != 0) return Status::Corruption("not a checkpoint file (bad magic)");
  const uint32_t version = Fixed32(file.data() + 4);
  if (version != kVersion) return Status::Corruption(fmt::format("unknown checkpoint format version {}", version));
  Checkpoint c;
  c.seq = Fixed64(file.data() + 8);
  c.fingerprint = Fixed64(file.data() + 16);
  const uint64_t raw = Fixed64(file.data() + 24);
  const uint64_t compressed = Fixed64(file.data() + 32);
  if (raw > kMaxPayloadBytes || compressed != file.size() - kHeaderSize - kTrailerSize) {
    return Status::Corruption("checkpoint lengths do not match the file");
  }
  const uint32_t want = Fixed32(file.data() + file.size() - kTrailerSize);
  if (Crc32c(file.substr(0, file.size() - kTrailerSize)) != want) {
    return Status::Corruption("checkpoint checksum mismatch");
  }
  c.payload.resize(raw);
  const size_t n = ZSTD_decompress(c.payload.data(), c.payload.size(), file.data() + kHeaderSize, compressed);
  if (ZSTD_isError(n) || n != raw) return Status::Corruption("checkpoint payload does not decompress");
  return c;
}

Result<std::vector<std::pair<uint64_t, std::string>>> CheckpointStore::List() {
  std::vector<std::pair<uint64_t, std::string>> files;
  if (!fs_->Exists(dir_)) return files;
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(dir_));
  for (const std::string& name : names) {
    if (name.size() != 20 + kSuffix.size() || !name.ends_with(kSuffix)) continue;  // temp files, strays
    uint64_t seq = 0;
    bool digits = true;
    for (size_t i = 0; i < 20; ++i) {
      digits = digits && name[i] >= '0' && name[i] <= '9';
      seq = seq * 10 + static_cast<uint64_t>(name[i] - '0');
    }
    if (digits) files.emplace_back(seq, name);
  }
  std::sort(files.begin(), files.end());
  return files;
}

Status CheckpointStore::Write(uint64_t seq, uint64_t fingerprint, std::string_view payload, uint64_t* file_bytes) {
  SLUICE_RETURN_IF_ERROR(fs_->CreateDirs(dir_));
  const std::string name = fmt::format("{:020}{}", seq, kSuffix);
  const std::string file = Encode(seq, fingerprint, payload);
  SLUICE_RETURN_IF_ERROR(fs_->WriteFileAtomic(JoinPath(dir_, name), file));
  if (file_bytes != nullptr) *file_bytes = file.size();
  SLUICE_ASSIGN_OR_RETURN(auto files, List());
  // Keep the newest `keep_` (the one just written is among them).
  for (size_t i = 0; i + static_cast<size_t>(keep_) < files.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(fs_->RemoveFile(JoinPath(dir_, files[i].second)));
  }
  return Status::Ok();
}

Result<std::optional<CheckpointStore::Checkpoint>> CheckpointStore::LoadNewest(std::vector<std::string>* skipped) {
  SLUICE_ASSIGN_OR_RETURN(auto files, List());
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    Result<std::string> bytes = fs_->ReadFile(JoinPath(dir_, it->second));
    Result<Checkpoint> c = bytes.ok() ? Decode(*bytes) : Result<Checkpoint>(bytes.status());
    if (c.ok() && c->seq == it->first) return std::optional<Checkpoint>(std::move(c).value());
    if (skipped != nullptr) skipped->push_back(it->second);
  }
  return std::optional<Checkpoint>();
}

Status CheckpointStore::RemoveAll() {
  if (!fs_->Exists(dir_)) return Status::Ok();
  return fs_->RemoveAll(dir_);
}

}  // namespace sluice::engine
