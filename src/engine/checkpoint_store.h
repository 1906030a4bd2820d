#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "common/result.h"

namespace sluice::engine {

// The checkpoint files of one dataflow (a view or a sink): `<dir>/<seq, 20 digits>.ckpt`, each
// written atomically (temp file, fsync, rename, fsync dir) in the framed, compressed, checksummed
// format of docs/formats/checkpoint.md. The newest file that verifies wins; a torn or corrupt
// one is skipped (and reported) in favour of the one before. Only the newest `keep` are kept.
// Thread-compatible (one dataflow thread writes; start-up reads).
class CheckpointStore {
 public:
  struct Checkpoint {
    uint64_t seq = 0;
    uint64_t fingerprint = 0;  // of the plan that wrote it: a changed plan cannot restore it
    std::string payload;       // the dataflow's state, uncompressed
  };

  CheckpointStore(FileSystem* fs, std::string dir, int keep = 3);

  // Writes checkpoint `seq` (greater than any written before) and prunes old ones.
  // `file_bytes` (optional) receives the size of the file written.
  Status Write(uint64_t seq, uint64_t fingerprint, std::string_view payload, uint64_t* file_bytes = nullptr);

  // The newest checkpoint that verifies, or nullopt if there is none. `skipped` (optional)
  // receives the names of files that did not verify.
  Result<std::optional<Checkpoint>> LoadNewest(std::vector<std::string>* skipped = nullptr);

  // Removes every checkpoint (the dataflow was dropped).
  Status RemoveAll();

  // Encodes / decodes one checkpoint file's bytes (exposed for tests and tools).
  static std::string Encode(uint64_t seq, uint64_t fingerprint, std::string_view payload);
  static Result<Checkpoint> Decode(std::string_view file);

 private:
  Result<std::vector<std::pair<uint64_t, std::string>>> List();

  FileSystem* fs_;
  std::string dir_;
  int keep_;
};

}  // namespace sluice::engine
