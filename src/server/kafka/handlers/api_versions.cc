// ApiVersions (key 18), v0-v3: which APIs and versions this broker answers.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"

namespace sluice::server::kafka {

namespace {

void WriteApiList(WireWriter& w) {
  const auto apis = SupportedApis();
  w.ArrayLength(static_cast<int32_t>(apis.size()));
  for (const ApiSupport& a : apis) {
    w.Int16(static_cast<int16_t>(a.key));
    w.Int16(a.min_version);
    w.Int16(a.max_version);
    w.EmptyTaggedFields();
  }
}

}  // namespace

std::string ApiVersionsFallbackBody() {
  std::string out;
  WireWriter w(&out, /*flexible=*/false);
  w.Int16(Wire(ErrorCode::kUnsupportedVersion));
  WriteApiList(w);
  return out;
}

void HandleApiVersions(Broker&, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t version = ctx.header.api_version;
  if (version >= 3) {
    (void)in.String();  // client_software_name
    (void)in.String();  // client_software_version
    in.TaggedFields();
  }
  if (!in.ok()) return done(in.status());
  Response r;
  WireWriter w(&r.body, in.flexible());
  w.Int16(Wire(ErrorCode::kNone));
  WriteApiList(w);
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
