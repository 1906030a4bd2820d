#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/result.h"
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

  // Starts moving events: into `topic` (the relation's topic) for a source or table, out of
  // it (the sink's topic) for a sink. Does not wait for the external system: at a restart it
  // may be down, and the connector keeps trying. `metrics` may be null.
  virtual Result<std::unique_ptr<Connector>> Start(const sql::CatalogEntry& entry, std::shared_ptr<log::Topic> topic,
                                                   MetricsRegistry* metrics) = 0;
};

// Connector name (lower case) -> factory.
using Connectors = std::map<std::string, std::shared_ptr<ConnectorFactory>, std::less<>>;

}  // namespace sluice::engine
