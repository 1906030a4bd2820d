#pragma once

#include <memory>
#include <string_view>

#include "engine/connector.h"

namespace sluice::connectors {

// connector = 'kafka' (docs/connectors.md), through librdkafka.
//
// Sources and tables: `CREATE SOURCE ... WITH (connector = 'kafka', topic = 'orders',
// properties.bootstrap.servers = 'host:9092', ...)`. A consumer copies the external topic,
// partition for partition, into the relation's topic in the embedded log. Exactly once: the
// first record of every batch it appends carries the external offset the batch ends at, so
// after a crash the connector resumes right after the last batch the log holds, whatever the
// consumer group's committed offsets say (it commits them too, after each append, for Kafka's
// own tooling).
//   topic                         the external topic (required)
//   properties.bootstrap.servers  the cluster (required)
//   properties.<name>             any other librdkafka property
//   group_id                      the group offsets are committed for ('sluice-<name>')
//   startup_mode                  where a partition never copied before starts:
//                                 'earliest' (default) or 'latest'
//
// Sinks: `CREATE SINK s INTO t WITH (connector = 'kafka', properties.bootstrap.servers = ...)
// AS SELECT ...`. The sink writes its changes into topic t of the embedded log as always
// (committed when the checkpoint covering them is written), and a transactional producer
// sends the committed rows on to the external topic. Each Kafka transaction also commits, for
// the consumer group named by group_id, the position in t it reached (as the offset of the
// external topic's partition 0): after a crash the sink resumes there, so every row reaches
// Kafka exactly once for read_committed consumers.
//   topic                         the external topic (default: t)
//   properties.bootstrap.servers  the cluster (required)
//   properties.<name>             any other librdkafka producer property
//   transactional_id              the producer's ('sluice-sink-<name>')
//   group_id                      where the position is committed (default: transactional_id)
//   key                           (the engine's) the column whose value keys each record
//
// A sink over a scaled-out source (docs/scale-out.md) has no topic in the embedded log: one
// task per source partition p this node owns reads the node's copy of p, runs the sink's
// (stateless) query and sends the rows in transactions of producer '<transactional_id>-p<p>',
// each also committing, for group_id, the source's external offset in p the rows reach.
engine::Connectors KafkaConnectors();

// The factory alone (tests).
std::shared_ptr<engine::ConnectorFactory> NewKafkaConnectorFactory();

// Header keys of the tag on the first record of each batch a source connector copies
// (log::FindLastTaggedBatch).
inline constexpr std::string_view kKafkaSourceHeader = "sluice-kafka-source";        // the source's name
inline constexpr std::string_view kKafkaSourceOffsetHeader = "sluice-kafka-offset";  // next external offset
// The external offset of a copied record, on the first record of each batch and on every
// record whose external offset is not the previous record's + 1 (a gap: a transaction marker,
// compaction); the others follow from it (docs/scale-out.md).
inline constexpr std::string_view kKafkaSourceAtHeader = "sluice-kafka-at";

}  // namespace sluice::connectors
