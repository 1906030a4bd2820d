#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "exec/vector.h"
#include "sql/value.h"

namespace sluice::exec {

// Maps group keys (tuples of column values) to dense group ids, for GROUP BY. Two keys are equal
// when every column is: NULL equals NULL (as GROUP BY treats it), fixed-width values compare by
// their bytes, strings by their contents.
//
// Keys are kept column by column in typed arrays indexed by group id, so a probe compares
// values in place: nothing is built or allocated per row (a string key is copied once, when
// its group is created). Hashes are computed a column at a time over a whole batch of rows,
// then each row probes an open-addressing table (linear probing, at most half full; erase
// shifts the following entries back, so there are no tombstones). Ids of erased groups are
// reused by later inserts, so callers must reset whatever they keep per id when an id comes
// back from FindOrInsert as new.
//
// Not thread-safe.
class GroupKeyTable {
 public:
  // `hash_mask` is and-ed into every hash: tests pass a small mask to force collisions.
  explicit GroupKeyTable(std::vector<DataType> key_types, uint64_t hash_mask = ~0ull);

  // For each row `r = sel ? sel[i] : i` (i < n) of the key columns `keys[0..key_count())`,
  // writes the id of the row's group to ids[i], creating groups that do not exist yet. The ids
  // of the groups created are appended to *created (in order of creation).
  // REQUIRES: keys[c] has the table's c-th type; n <= the rows of every key column.
  void FindOrInsert(const Vector* const* keys, const uint32_t* sel, size_t n, uint32_t* ids,
                    std::vector<uint32_t>* created);

  // The id of row `row`'s group, or false if there is none.
  bool Find(const Vector* const* keys, size_t row, uint32_t* id);

  // Removes a group; its id may be handed out again. REQUIRES: the id is live.
  void Erase(uint32_t id);

  // The value of key column `column` of group `id` (NULL of the column's type if NULL).
  sql::Value KeyValue(uint32_t id, size_t column) const;

  // Whether `id` names a group now (not erased). REQUIRES: id < id_limit().
  bool IsLive(uint32_t id) const { return live_ids_[id] != 0; }
  const std::vector<DataType>& key_types() const { return key_types_; }

  size_t key_count() const { return columns_.size(); }
  // Live groups.
  size_t size() const { return live_; }
  // Every id handed out so far is below this (size per-id state by it).
  uint32_t id_limit() const { return static_cast<uint32_t>(hashes_.size()); }
  // Slots of the open-addressing table (a power of two).
  size_t slot_count() const { return slots_.size(); }

 private:
  struct Column {
    DataType type;
    PhysicalType physical;
    size_t width;                      // bytes per value (fixed-width types)
    std::vector<uint8_t> values;       // width bytes per group id (fixed-width types)
    std::vector<std::string> strings;  // per group id (VARCHAR)
    std::vector<uint8_t> nulls;        // per group id: 1 if the key is NULL
  };

  void HashRows(const Vector* const* keys, const uint32_t* sel, size_t n);
  // Probes for rows hashed by HashRows; `equals(row, id)` compares a row with a group's key.
  template <typename Equals>
  void Probe(const Vector* const* keys, const uint32_t* sel, size_t n, uint32_t* ids,
             std::vector<uint32_t>* created, Equals equals);
  template <size_t K>
  void ProbeWords(const Vector* const* keys, const uint32_t* sel, size_t n, uint32_t* ids,
                  std::vector<uint32_t>* created);
  bool RowEquals(const Vector* const* keys, size_t row, uint32_t id) const;
  uint32_t Insert(const Vector* const* keys, size_t row, uint64_t hash);
  void StoreKey(const Vector* const* keys, size_t row, uint32_t id);
  void Grow();
  size_t Home(uint64_t hash) const { return static_cast<size_t>(hash) & (slots_.size() - 1); }

  std::vector<Column> columns_;
  uint64_t hash_mask_;
  // A slot is 0 (empty) or (upper 32 bits of the hash) << 32 | (id + 1).
  std::vector<uint64_t> slots_;
  std::vector<uint64_t> hashes_;   // per group id
  std::vector<uint32_t> free_ids_;  // erased ids, reused first
  std::vector<uint8_t> live_ids_;   // per group id: 1 unless erased
  std::vector<DataType> key_types_;
  size_t live_ = 0;
  std::vector<uint64_t> row_hashes_;  // scratch: the hashes of one batch
};

}  // namespace sluice::exec
