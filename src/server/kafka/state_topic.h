#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"
#include "log/log.h"
#include "log/record_batch.h"

namespace sluice::server::kafka {

// A one-partition internal topic where a coordinator keeps its own state as records (committed
// group offsets, transaction decisions): never expired by retention, created at the first
// write so that a server that never needs it has no such topic, and replayed in full at start.
// Thread-safe.
class StateTopic {
 public:
  StateTopic(log::Log* log, std::string_view name) : log_(log), name_(name) {}

  const std::string& name() const { return name_; }

  // The topic, created if missing.
  Result<std::shared_ptr<log::Topic>> GetOrCreate();

  // Calls `fn` for every record of the topic, in offset order, up to the end at the time of the
  // call; stops at the first error `fn` returns. A missing topic has no records.
  Status Replay(const std::function<Status(const log::Record&)>& fn);

 private:
  log::Log* const log_;
  const std::string name_;
  std::mutex mu_;
  std::shared_ptr<log::Topic> topic_;  // GUARDED_BY(mu_)
};

}  // namespace sluice::server::kafka
