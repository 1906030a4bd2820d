#include "engine/sink_rows.h"

#include "common/json_writer.h"
#include "exec/vector_value.h"
#include "sql/value_json.h"

namespace sluice::engine {

Status SinkRowWriter::OnChanges(const exec::DataChunk& chunk) {
  for (size_t row = 0; row < chunk.size(); ++row) {
    SinkRow out;
    JsonWriter writer(&out.json);
    writer.BeginObject();
    for (size_t c = 0; c < chunk.column_count() && c < columns_.size(); ++c) {
      const sql::Value v = exec::GetValue(chunk.column(c), row);
      writer.Key(columns_[c]);
      sql::WriteJsonValue(writer, v);
      if (static_cast<int>(c) == key_column_ && !v.is_null()) {
        out.key = v.ToString();  // text as a cast to VARCHAR
      }
    }
    writer.EndObject();
    out.retraction = chunk.weight(row) < 0;
    rows_.push_back(std::move(out));
  }
  return Status::Ok();
}

}  // namespace sluice::engine
