#include "connectors/kafka/kafka_connector.h"

#include <fmt/format.h>

#include "connectors/kafka/kafka_client.h"

namespace sluice::connectors {
namespace {

class KafkaConnectorFactory final : public engine::ConnectorFactory {
 public:
  Status CheckOptions(const sql::CatalogEntry& entry) const override {
    SLUICE_ASSIGN_OR_RETURN(KafkaOptions o, ParseKafkaOptions(entry));
    return MakeKafkaConf(o, "sluice", {}).status();  // librdkafka checks every property's name and value
  }

  Result<int32_t> Prepare(const sql::CatalogEntry& entry) override {
    SLUICE_ASSIGN_OR_RETURN(KafkaOptions o, ParseKafkaOptions(entry));
    SLUICE_ASSIGN_OR_RETURN(KafkaPtr rk, NewKafkaConsumer(o, "sluice-create-" + entry.name));
    return KafkaPartitionCount(rk.get(), o, kKafkaMetadataTimeoutMs);
  }

  bool ScalesOut(const sql::CatalogEntry& entry) const override {
    Result<KafkaOptions> o = ParseKafkaOptions(entry);
    return o.ok() && o->scale_out;
  }

  Result<std::unique_ptr<engine::Connector>> Start(const sql::CatalogEntry& entry, std::shared_ptr<log::Topic> topic,
                                                   MetricsRegistry* metrics,
                                                   engine::PartitionOwnership* ownership) override {
    SLUICE_ASSIGN_OR_RETURN(KafkaOptions o, ParseKafkaOptions(entry));
    if (entry.kind == sql::ObjectKind::kSink) return StartKafkaSink(entry, std::move(o), std::move(topic), metrics);
    return StartKafkaSource(entry, std::move(o), std::move(topic), metrics, ownership);
  }

  Result<std::unique_ptr<engine::Connector>> StartScaledOutSink(const sql::CatalogEntry& sink,
                                                                engine::ScaledOutSinkInput input,
                                                                MetricsRegistry* metrics) override {
    SLUICE_ASSIGN_OR_RETURN(KafkaOptions o, ParseKafkaOptions(sink));
    SLUICE_ASSIGN_OR_RETURN(KafkaOptions source, ParseKafkaOptions(input.source));
    if (!input.ownership || !input.topic || !input.dataflow) {
      return Status::InvalidArgument("a scaled-out sink needs its source's topic, ownership and dataflow");
    }
    // The sink commits its position as an offset of the source's topic, for its own group.
    if (o.servers != source.servers) {
      return Status::InvalidArgument(fmt::format(
          "a sink over the scaled-out source \"{}\" must use its cluster: properties.bootstrap.servers = '{}' "
          "(docs/scale-out.md)", input.source.name, source.servers));
    }
    if (o.group_id == source.group_id) {
      return Status::InvalidArgument(fmt::format(
          "option 'group_id': '{}' is the group of source \"{}\"; the sink's position needs a group of its own",
          o.group_id, input.source.name));
    }
    return StartKafkaScaledSink(sink, std::move(o), std::move(source), std::move(input), metrics);
  }
};

}  // namespace

std::shared_ptr<engine::ConnectorFactory> NewKafkaConnectorFactory() {
  return std::make_shared<KafkaConnectorFactory>();
}

engine::Connectors KafkaConnectors() {
  engine::Connectors connectors;
  connectors.emplace("kafka", NewKafkaConnectorFactory());
  return connectors;
}

}  // namespace sluice::connectors
