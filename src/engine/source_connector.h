#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/result.h"
#include "log/log.h"
#include "sql/catalog.h"

namespace sluice::engine {

// Brings a source's (or a table's) events from an external system into the source's topic in
// the embedded log (`CREATE SOURCE ... WITH (connector = 'kafka', ...)`). Views, ad-hoc scans,
// replay and `sluice verify` then read them from the log like events ingested over HTTP: one
// path for every event after its arrival. The connector records in the log, atomically with
// each batch it appends, how far into the external system it has read, so that a restart
// neither loses nor repeats an event (docs/connectors.md). Runs in the background until
// destroyed.
class SourceConnector {
 public:
  virtual ~SourceConnector() = default;
};

// Creates the connectors of one kind (`connector = '<name>'`). Implementations live in the
// connectors layer; the server registers them with the engine (EngineOptions), so the engine
// does not depend on any client library.
class SourceConnectorFactory {
 public:
  virtual ~SourceConnectorFactory() = default;

  // Checks the connector's options (every key the embedded log does not know, e.g.
  // `properties.bootstrap.servers`) without reaching the external system: kInvalidArgument
  // naming the problem. Runs at CREATE and when the catalog is replayed at start.
  virtual Status CheckOptions(const sql::CatalogEntry& entry) const = 0;

  // At CREATE: reaches the external system and returns the number of partitions the local
  // topic needs (kUnavailable when it cannot be reached, kNotFound when what the options name
  // does not exist there).
  virtual Result<int32_t> Prepare(const sql::CatalogEntry& entry) = 0;

  // Starts bringing events into `topic` (the relation's topic, created with Prepare's
  // partition count). Does not wait for the external system: at restart it may be down, and
  // the connector keeps trying. `metrics` may be null.
  virtual Result<std::unique_ptr<SourceConnector>> Start(const sql::CatalogEntry& entry,
                                                         std::shared_ptr<log::Topic> topic,
                                                         MetricsRegistry* metrics) = 0;
};

// Connector name (lower case) -> factory.
using SourceConnectors = std::map<std::string, std::shared_ptr<SourceConnectorFactory>, std::less<>>;

}  // namespace sluice::engine
