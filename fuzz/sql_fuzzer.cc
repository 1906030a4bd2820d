// libFuzzer target: SQL text -> parser -> binder (against a small fixed catalog) -> EXPLAIN
// text. Any input must give a result or a clean error: no crash, no sanitizer report, no hang.
// Build and run with scripts/fuzz.sh.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sql/catalog.h"
#include "sql/parser.h"
#include "sql/query_binder.h"

namespace {

sluice::sql::Catalog* MakeCatalog() {
  using sluice::sql::DataType;
  auto* catalog = new sluice::sql::Catalog(nullptr);
  sluice::sql::CatalogEntry bid;
  bid.kind = sluice::sql::ObjectKind::kSource;
  bid.name = "bid";
  bid.columns = {{"auction", DataType::Bigint()}, {"price", DataType::Bigint()}, {"channel", DataType::Varchar()},
                 {"amount", DataType::Decimal(10, 2)}, {"date_time", DataType::Timestamp()}};
  (void)catalog->Create(bid);
  sluice::sql::CatalogEntry view;
  view.kind = sluice::sql::ObjectKind::kView;
  view.name = "v";
  view.columns = {{"auction", DataType::Bigint()}, {"n", DataType::Bigint()}};
  view.dependencies = {"bid"};
  (void)catalog->Create(view);
  return catalog;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sluice::sql::Catalog* catalog = MakeCatalog();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto statements = sluice::sql::Parse(text);
  if (!statements.ok()) return 0;
  for (const auto& stmt : *statements) {
    const sluice::sql::SelectStmt* query = nullptr;
    if (stmt->kind == sluice::sql::StatementKind::kSelect) {
      query = static_cast<const sluice::sql::SelectStatement&>(*stmt).query.get();
    } else if (stmt->kind == sluice::sql::StatementKind::kCreateView) {
      query = static_cast<const sluice::sql::CreateViewStatement&>(*stmt).query.get();
    }
    if (query == nullptr) continue;
    (void)sluice::sql::ToSql(*query);
    sluice::sql::QueryBinder binder(catalog);
    auto bound = binder.Bind(*query);
    if (bound.ok()) (void)bound->plan->ToString();
  }
  return 0;
}
