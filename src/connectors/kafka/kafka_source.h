#pragma once

#include <memory>
#include <string>

#include "engine/source_connector.h"

namespace sluice::connectors {

// `CREATE SOURCE ... WITH (connector = 'kafka', topic = 'orders',
//                          properties.bootstrap.servers = 'host:9092', ...)`:
// a librdkafka consumer copies the external topic, partition for partition, into the source's
// topic in the embedded log (docs/connectors.md). Exactly once: the first record of every
// batch it appends carries the external offset the batch ends at, so after a crash the
// connector resumes right after the last batch the log holds, whatever the consumer group's
// committed offsets say (it commits them too, after each append, for Kafka's own tooling).
//
// Options:
//   topic                         the external topic (required)
//   properties.bootstrap.servers  the cluster (required)
//   properties.<name>             any other librdkafka consumer property
//   group_id                      the consumer group offsets are committed for
//                                 (default 'sluice-<source name>')
//   startup_mode                  where a partition never copied before starts:
//                                 'earliest' (default) or 'latest'
engine::SourceConnectors KafkaConnectors();

// The factory alone (tests).
std::shared_ptr<engine::SourceConnectorFactory> NewKafkaSourceFactory();

// Header keys of the tag on the first record of each copied batch (log::FindLastTaggedBatch).
inline constexpr std::string_view kKafkaSourceHeader = "sluice-kafka-source";        // the source's name
inline constexpr std::string_view kKafkaSourceOffsetHeader = "sluice-kafka-offset";  // next external offset

}  // namespace sluice::connectors
