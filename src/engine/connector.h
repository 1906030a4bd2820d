#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/result.h"
#include "exec/dataflow.h"
#include "log/log.h"
#include "sql/catalog.h"

namespace sluice::engine {

// Moves events between the embedded log and an external system, in the background, until
// destroyed (docs/connectors.md):
//  - a source's (or table's) connector brings the external events into the relation's topic
//    (`CREATE SOURCE ... WITH (connector = 'kafka', ...)`). Views, ad-hoc scans, replay and
//    `sluice verify` then read them from the log like events ingested over HTTP: one path for
//    every event after its arrival. The connector records in the log, atomically with each
//    batch it appends, how far into the external system it has read, so that a restart
//    neither loses nor repeats an event.
//  - a sink's connector sends the sink's committed output (the rows its topic holds once the
//    checkpoint covering them is written) to the external system, recording there,
//    atomically with what it sends, how far into the topic it got.
class Connector {
 public:
  virtual ~Connector() = default;
};

// The partitions of a scaled-out source's topic this node owns now (docs/scale-out.md): its
// connector sets them as the consumer group assigns and revokes; the engine rebuilds the
// source's views over the new set. Thread-safe.
class PartitionOwnership {
 public:
  explicit PartitionOwnership(std::function<void()> changed) : changed_(std::move(changed)) {}
  void Set(std::vector<int32_t> partitions) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      partitions_ = std::move(partitions);
      ++generation_;
    }
    if (changed_) changed_();
  }
  // The partitions, and how many times they were set.
  std::pair<std::vector<int32_t>, uint64_t> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {partitions_, generation_};
  }

 private:
  const std::function<void()> changed_;
  mutable std::mutex mu_;
  std::vector<int32_t> partitions_;  // GUARDED_BY(mu_)
  uint64_t generation_ = 0;          // GUARDED_BY(mu_)
};

// What a sink over a scaled-out source reads (docs/scale-out.md, "Sinks over a scaled-out
// source"): its connector delivers the sink partition by partition of the source, for the
// partitions this node owns, straight from the node's copy of the source.
struct ScaledOutSinkInput {
  sql::CatalogEntry source;                        // the scaled-out source
  std::shared_ptr<log::Topic> topic;               // its topic: the node's copy
  std::shared_ptr<const PartitionOwnership> ownership;  // the partitions the node owns now
  // The sink's query: stateless (filters and projections) over its one input, the source.
  std::unique_ptr<exec::Dataflow> dataflow;
  int key_column = -1;  // WITH (key = 'column'): the records' key (-1: none)
};

// Creates the connectors of one kind (`connector = '<name>'`). Implementations live in the
// connectors layer; the server registers them with the engine (EngineOptions), so the engine
// does not depend on any client library.
class ConnectorFactory {
 public:
  virtual ~ConnectorFactory() = default;

  // Checks the connector's options for a source, table or sink (`entry.kind`): every key the
  // embedded log does not know, e.g. `properties.bootstrap.servers`, without reaching the
  // external system. kInvalidArgument naming the problem. Runs at CREATE and when the catalog
  // is replayed at start.
  virtual Status CheckOptions(const sql::CatalogEntry& entry) const = 0;

  // At CREATE: reaches the external system and returns the number of partitions of what the
  // options name there (a source's topic in the log gets as many); kUnavailable when it
  // cannot be reached, kNotFound when what the options name does not exist.
  virtual Result<int32_t> Prepare(const sql::CatalogEntry& entry) = 0;

  // Whether the relation's options ask for scale-out (its partitions shared with other nodes
  // through a consumer group): Start then gets a PartitionOwnership to keep current.
  virtual bool ScalesOut(const sql::CatalogEntry& entry) const { return false; }

  // Starts moving events: into `topic` (the relation's topic) for a source or table, out of
  // it (the sink's topic) for a sink. Does not wait for the external system: at a restart it
  // may be down, and the connector keeps trying. `metrics` and `ownership` may be null.
  virtual Result<std::unique_ptr<Connector>> Start(const sql::CatalogEntry& entry, std::shared_ptr<log::Topic> topic,
                                                   MetricsRegistry* metrics, PartitionOwnership* ownership) = 0;

  // Starts a sink over a scaled-out source (ScaledOutSinkInput). `metrics` may be null.
  virtual Result<std::unique_ptr<Connector>> StartScaledOutSink(const sql::CatalogEntry& sink, ScaledOutSinkInput input,
                                                                MetricsRegistry* metrics) {
    return Status::InvalidArgument("this connector cannot deliver a sink over a scaled-out source");
  }
};

// Connector name (lower case) -> factory.
using Connectors = std::map<std::string, std::shared_ptr<ConnectorFactory>, std::less<>>;

}  // namespace sluice::engine
