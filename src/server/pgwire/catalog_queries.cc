#include "server/pgwire/catalog_queries.h"

#include "common/logging.h"

namespace sluice::server::pgwire {

std::optional<Result<engine::StatementResult>> AnswerSystemQuery(std::string_view sql, const CatalogContext& ctx) {
  if (sql.find("pg_catalog") != std::string_view::npos) SLUICE_LOG_INFO("pgwire: catalog query: {}", sql);
  return std::nullopt;
}

}  // namespace sluice::server::pgwire
