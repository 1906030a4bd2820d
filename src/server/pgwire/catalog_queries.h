#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "engine/engine.h"

namespace sluice::server::pgwire {

// What a system query may read about its session.
struct CatalogContext {
  engine::Engine* engine = nullptr;
  std::string_view user;
  std::string_view database;
  std::string_view server_version;
  const std::map<std::string, std::string, std::less<>>* settings = nullptr;
};

// Answers the system queries that clients send on their own: `SELECT version()`,
// `current_database()` and friends, and the pg_catalog / information_schema queries of psql's
// \d commands and of drivers. Every row comes from the engine's real catalog (SHOW ...,
// DESCRIBE), never from a fixed list. Returns nullopt for any other statement (the engine
// runs it); docs/pgwire.md lists what is covered.
std::optional<Result<engine::StatementResult>> AnswerSystemQuery(std::string_view sql, const CatalogContext& ctx);

// Whether AnswerSystemQuery may answer `sql` (and so read the engine's catalog); false for
// every query over sluice's own relations. Cheap: looks at the text only.
bool MayBeSystemQuery(std::string_view sql);

}  // namespace sluice::server::pgwire
