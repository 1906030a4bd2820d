// `sluice bench nexmark`: one Nexmark query over N generated events on one thread, either with
// the events as JSON in the log (the path of an ad-hoc query) or generated straight into the
// dataflow's column chunks (--in-process: no JSON, no log).

#include <fmt/format.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <span>
#include <string>

#include "cli/commands.h"
#include "cli/nexmark.h"
#include "cli/nexmark_queries.h"
#include "common/clock.h"
#include "engine/sql_executor.h"
#include "exec/dataflow.h"
#include "exec/vector_value.h"
#include "log/log.h"
#include "log/record_batch.h"
#include "sql/parser.h"
#include "sql/query_binder.h"

namespace sluice::cli {
namespace {

using nexmark::EventKind;
using sql::TypeId;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Resets the peak resident set size of this process to its current size (Linux >= 4.0), so
// that PeakRssBytes() afterwards covers one run only. False if the kernel refuses.
bool ResetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.close();
  return static_cast<bool>(f);
}

int64_t PeakRssBytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return 0;
}

uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

// Folds one value into a row's hash: integers, dates and timestamps by their number, strings
// by their bytes, anything else by its text; NULL distinct from every value.
uint64_t HashValue(uint64_t h, const sql::Value& v) {
  if (v.is_null()) return Mix64(h ^ 0x9e3779b97f4a7c15ULL);
  auto bytes = [&](std::string_view text) {
    for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;  // FNV-1a
    return Mix64(h ^ text.size());
  };
  switch (v.type().id) {
    case sql::TypeId::kBoolean: return Mix64(h ^ (v.boolean() ? 0x51ULL : 0x50ULL));
    case sql::TypeId::kInt:
    case sql::TypeId::kDate: return Mix64(h ^ static_cast<uint64_t>(static_cast<int64_t>(v.int32())));
    case sql::TypeId::kBigint:
    case sql::TypeId::kTimestamp:
    case sql::TypeId::kTimestamptz: return Mix64(h ^ static_cast<uint64_t>(v.int64()));
    case sql::TypeId::kVarchar: return bytes(v.string());
    default: return bytes(v.ToString());
  }
}

uint64_t RowHash(const std::vector<sql::Value>& row) {
  uint64_t h = 0x6a09e667f3bcc908ULL;
  for (const sql::Value& v : row) h = HashValue(h, v);
  return Mix64(h);
}

// An order-independent checksum of a multiset of rows: the sum of a 64-bit hash of each row, so
// equal results hash equal whatever order the rows come in, and a row present twice counts
// twice. A retraction subtracts its row's hash: the checksum of a stream of changes is the
// checksum of the rows they leave.
uint64_t ResultChecksum(const std::vector<std::vector<sql::Value>>& rows) {
  uint64_t sum = 0;
  for (const auto& row : rows) sum += RowHash(row);
  return sum;
}

// The result of a query without ORDER BY or LIMIT, as the published Nexmark runs take it: a
// sink that keeps nothing (Flink's blackhole), here folding each change into the checksum and
// the row count instead of holding the rows.
class ChecksumSink final : public exec::ChangeListener {
 public:
  Status OnChanges(const exec::DataChunk& chunk) override {
    std::vector<sql::Value> row(chunk.column_count());
    for (size_t r = 0; r < chunk.size(); ++r) {
      for (size_t c = 0; c < row.size(); ++c) row[c] = exec::GetValue(chunk.column(c), r);
      const int64_t weight = chunk.weight(r);
      checksum_ += static_cast<uint64_t>(weight) * RowHash(row);
      rows_ += weight;
    }
    return Status::Ok();
  }
  Status OnWatermark(int64_t) override { return Status::Ok(); }

  uint64_t checksum() const { return checksum_; }
  int64_t rows() const { return rows_; }

 private:
  uint64_t checksum_ = 0;
  int64_t rows_ = 0;
};

// --- in-process feeding: generated events written straight into column chunks -------------

enum class Field : uint8_t {
  kPersonId,
  kPersonName,
  kPersonEmail,
  kPersonCard,
  kPersonCity,
  kPersonState,
  kPersonTime,
  kPersonExtra,
  kAuctionId,
  kAuctionItem,
  kAuctionDescription,
  kAuctionInitialBid,
  kAuctionReserve,
  kAuctionTime,
  kAuctionExpires,
  kAuctionSeller,
  kAuctionCategory,
  kAuctionExtra,
  kBidAuction,
  kBidBidder,
  kBidPrice,
  kBidChannel,
  kBidUrl,
  kBidTime,
  kBidExtra,
};

struct FieldSpec {
  std::string_view name;
  Field field;
  TypeId type;
};

constexpr FieldSpec kPersonFields[] = {{"id", Field::kPersonId, TypeId::kBigint},
                                       {"name", Field::kPersonName, TypeId::kVarchar},
                                       {"email_address", Field::kPersonEmail, TypeId::kVarchar},
                                       {"credit_card", Field::kPersonCard, TypeId::kVarchar},
                                       {"city", Field::kPersonCity, TypeId::kVarchar},
                                       {"state", Field::kPersonState, TypeId::kVarchar},
                                       {"date_time", Field::kPersonTime, TypeId::kTimestamp},
                                       {"extra", Field::kPersonExtra, TypeId::kVarchar}};
constexpr FieldSpec kAuctionFields[] = {
    {"id", Field::kAuctionId, TypeId::kBigint},
    {"item_name", Field::kAuctionItem, TypeId::kVarchar},
    {"description", Field::kAuctionDescription, TypeId::kVarchar},
    {"initial_bid", Field::kAuctionInitialBid, TypeId::kBigint},
    {"reserve", Field::kAuctionReserve, TypeId::kBigint},
    {"date_time", Field::kAuctionTime, TypeId::kTimestamp},
    {"expires", Field::kAuctionExpires, TypeId::kTimestamp},
    {"seller", Field::kAuctionSeller, TypeId::kBigint},
    {"category", Field::kAuctionCategory, TypeId::kBigint},
    {"extra", Field::kAuctionExtra, TypeId::kVarchar}};
constexpr FieldSpec kBidFields[] = {{"auction", Field::kBidAuction, TypeId::kBigint},
                                    {"bidder", Field::kBidBidder, TypeId::kBigint},
                                    {"price", Field::kBidPrice, TypeId::kBigint},
                                    {"channel", Field::kBidChannel, TypeId::kVarchar},
                                    {"url", Field::kBidUrl, TypeId::kVarchar},
                                    {"date_time", Field::kBidTime, TypeId::kTimestamp},
                                    {"extra", Field::kBidExtra, TypeId::kVarchar}};

void WriteField(Field f, const nexmark::Event& e, exec::Vector* v, size_t row,
                exec::StringArena* arena) {
  auto i64 = [&](int64_t x) { v->data<int64_t>()[row] = x; };
  auto ts = [&](int64_t ms) { v->data<int64_t>()[row] = ms * 1000; };
  auto str = [&](const std::string& s) { v->data<exec::StringRef>()[row] = arena->Add(s); };
  switch (f) {
    case Field::kPersonId:
      return i64(e.person.id);
    case Field::kPersonName:
      return str(e.person.name);
    case Field::kPersonEmail:
      return str(e.person.email_address);
    case Field::kPersonCard:
      return str(e.person.credit_card);
    case Field::kPersonCity:
      return str(e.person.city);
    case Field::kPersonState:
      return str(e.person.state);
    case Field::kPersonTime:
      return ts(e.person.date_time_ms);
    case Field::kPersonExtra:
      return str(e.person.extra);
    case Field::kAuctionId:
      return i64(e.auction.id);
    case Field::kAuctionItem:
      return str(e.auction.item_name);
    case Field::kAuctionDescription:
      return str(e.auction.description);
    case Field::kAuctionInitialBid:
      return i64(e.auction.initial_bid);
    case Field::kAuctionReserve:
      return i64(e.auction.reserve);
    case Field::kAuctionTime:
      return ts(e.auction.date_time_ms);
    case Field::kAuctionExpires:
      return ts(e.auction.expires_ms);
    case Field::kAuctionSeller:
      return i64(e.auction.seller);
    case Field::kAuctionCategory:
      return i64(e.auction.category);
    case Field::kAuctionExtra:
      return str(e.auction.extra);
    case Field::kBidAuction:
      return i64(e.bid.auction);
    case Field::kBidBidder:
      return i64(e.bid.bidder);
    case Field::kBidPrice:
      return i64(e.bid.price);
    case Field::kBidChannel:
      return str(e.bid.channel);
    case Field::kBidUrl:
      return str(e.bid.url);
    case Field::kBidTime:
      return ts(e.bid.date_time_ms);
    case Field::kBidExtra:
      return str(e.bid.extra);
  }
}

// One input of the dataflow fed from the generator: which event kind it reads, and for each
// of its columns the generator field (or none: the query does not read it, left NULL).
struct InProcessInput {
  EventKind kind = EventKind::kBid;
  std::vector<std::optional<Field>> fields;
  exec::DataChunk chunk;
};

Result<InProcessInput> PlanInput(const exec::DataflowInput& input) {
  InProcessInput out;
  const std::string& name = input.relation.name;
  std::span<const FieldSpec> specs;
  if (name == "person") {
    out.kind = EventKind::kPerson;
    specs = kPersonFields;
  } else if (name == "auction") {
    out.kind = EventKind::kAuction;
    specs = kAuctionFields;
  } else if (name == "bid") {
    out.kind = EventKind::kBid;
    specs = kBidFields;
  } else {
    return Status::InvalidArgument(
        fmt::format("--in-process reads only person, auction and bid, not \"{}\"", name));
  }
  for (size_t c = 0; c < input.relation.columns.size(); ++c) {
    const sql::ColumnSchema& column = input.relation.columns[c];
    if (c < input.used.size() && !input.used[c]) {
      out.fields.push_back(std::nullopt);
      continue;
    }
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const FieldSpec& s) { return s.name == column.name; });
    if (spec == specs.end() || spec->type != column.type.id) {
      return Status::InvalidArgument(fmt::format(
          "--in-process needs {}.{} as in bench/nexmark/sources.sql", name, column.name));
    }
    out.fields.push_back(spec->field);
  }
  out.chunk = exec::DataChunk(input.types);
  return out;
}

void AppendRow(InProcessInput& in, const nexmark::Event& event) {
  exec::DataChunk& chunk = in.chunk;
  const size_t row = chunk.size();
  for (size_t c = 0; c < in.fields.size(); ++c) {
    if (in.fields[c]) {
      WriteField(*in.fields[c], event, &chunk.column(c), row, &chunk.arena());
    } else {
      chunk.column(c).SetNull(row);
    }
  }
  chunk.set_size(row + 1);
}

struct RunResult {
  double wall_seconds = 0;
  double cpu_seconds = 0;
  int64_t peak_rss = 0;
  int64_t rows = 0;
  uint64_t checksum = 0;
};

// Generates the events into the dataflow's inputs chunk by chunk, in event order, then
// finishes the query.
Result<RunResult> RunInProcess(const engine::SqlExecutor& sql, std::string_view query_text,
                               const nexmark::Options& gen, int64_t events) {
  SLUICE_ASSIGN_OR_RETURN(sql::StatementPtr stmt, sql::ParseOne(query_text));
  if (stmt->kind != sql::StatementKind::kSelect)
    return Status::InvalidArgument("a Nexmark query must be a SELECT");
  sql::QueryBinder binder(&sql.catalog());
  SLUICE_ASSIGN_OR_RETURN(sql::BoundQuery bound,
                          binder.Bind(*static_cast<const sql::SelectStatement&>(*stmt).query));
  exec::DataflowOptions flow;
  flow.now_micros = Clock::Real()->Now().value() * 1000;
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<exec::Dataflow> dataflow,
                          exec::Dataflow::Build(*bound.plan, flow));
  ChecksumSink blackhole;
  const bool keep_rows = dataflow->has_order_or_limit();  // the order is the result's
  if (!keep_rows) {
    flow.keep_rows = false;
    SLUICE_ASSIGN_OR_RETURN(dataflow, exec::Dataflow::Build(*bound.plan, flow));
    dataflow->sink().AddListener(&blackhole);
  }
  std::vector<InProcessInput> inputs;
  for (size_t i = 0; i < dataflow->input_count(); ++i) {
    SLUICE_ASSIGN_OR_RETURN(InProcessInput in, PlanInput(dataflow->input(i)));
    inputs.push_back(std::move(in));
  }
  bool reads[3] = {false, false, false};
  for (const InProcessInput& in : inputs) reads[static_cast<int>(in.kind)] = true;

  RunResult result;
  (void)ResetPeakRss();
  const double cpu0 = ProcessCpuSeconds();
  const int64_t t0 = Clock::Real()->MonotonicNanos();
  nexmark::Generator generator(gen);
  nexmark::Event event;
  for (int64_t n = 0; n < events; ++n) {
    generator.Next(&event);
    if (!reads[static_cast<int>(event.kind)]) continue;
    for (size_t i = 0; i < inputs.size(); ++i) {
      InProcessInput& in = inputs[i];
      if (in.kind != event.kind) continue;
      AppendRow(in, event);
      if (in.chunk.size() == in.chunk.capacity()) {
        SLUICE_RETURN_IF_ERROR(dataflow->Push(i, in.chunk));
        in.chunk.Reset();
      }
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].chunk.size() > 0) SLUICE_RETURN_IF_ERROR(dataflow->Push(i, inputs[i].chunk));
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::vector<sql::Value>> rows, dataflow->Finish());
  result.wall_seconds = (Clock::Real()->MonotonicNanos() - t0) / 1e9;
  result.cpu_seconds = ProcessCpuSeconds() - cpu0;
  result.peak_rss = PeakRssBytes();
  if (keep_rows) {
    result.rows = static_cast<int64_t>(rows.size());
    result.checksum = ResultChecksum(rows);
  } else {
    result.rows = blackhole.rows();
    result.checksum = blackhole.checksum();
  }
  return result;
}

// CPU seconds of the generator alone (events generated, not written anywhere): part of every
// in-process figure, as the source is part of the published Nexmark runs.
double GeneratorOnlySeconds(const nexmark::Options& gen, int64_t events) {
  const double cpu0 = ProcessCpuSeconds();
  nexmark::Generator generator(gen);
  nexmark::Event event;
  int64_t bytes = 0;
  for (int64_t n = 0; n < events; ++n) {
    generator.Next(&event);
    bytes += nexmark::SpecSizeOf(event);  // keeps the loop from being optimised away
  }
  const double secs = ProcessCpuSeconds() - cpu0;
  return bytes >= 0 ? secs : 0;
}

// --- through the log -------------------------------------------------------------------

struct LoadStats {
  double seconds = 0;
  int64_t json_bytes = 0;
};

// Appends the events as JSON to the topics person, auction and bid (partition 0 each), in
// batches of up to 1000 records, bypassing HTTP.
Result<LoadStats> LoadLog(log::Log& log, const nexmark::Options& gen, int64_t events) {
  std::shared_ptr<log::Topic> topics[3];
  for (EventKind kind : {EventKind::kPerson, EventKind::kAuction, EventKind::kBid}) {
    SLUICE_ASSIGN_OR_RETURN(topics[static_cast<int>(kind)], log.GetTopic(nexmark::TopicOf(kind)));
  }
  const int64_t t0 = Clock::Real()->MonotonicNanos();
  log::RecordBatchBuilder builders[3];
  nexmark::Generator generator(gen);
  nexmark::Event event;
  std::string value;
  LoadStats stats;
  const TimestampMs now =
      Clock::Real()->Now();  // log time: now, so retention leaves the data alone
  auto flush = [&](int k) -> Status {
    if (builders[k].record_count() == 0) return Status::Ok();
    std::promise<Status> done;
    topics[k]
        ->partition(PartitionId(0))
        .Append(builders[k].Finish(), [&](Result<log::AppendResult> r) {
          done.set_value(r.ok() ? Status::Ok() : r.status());
        });
    return done.get_future().get();
  };
  for (int64_t n = 0; n < events; ++n) {
    generator.Next(&event);
    value.clear();
    nexmark::AppendJson(event, &value);
    stats.json_bytes += static_cast<int64_t>(value.size());
    const int k = static_cast<int>(event.kind);
    builders[k].Add(now, std::nullopt, value);
    if (builders[k].record_count() == 1000) SLUICE_RETURN_IF_ERROR(flush(k));
  }
  for (int k = 0; k < 3; ++k) SLUICE_RETURN_IF_ERROR(flush(k));
  stats.seconds = (Clock::Real()->MonotonicNanos() - t0) / 1e9;
  return stats;
}

Result<RunResult> RunThroughLog(engine::SqlExecutor& sql, std::string_view query_text) {
  RunResult result;
  (void)ResetPeakRss();
  const double cpu0 = ProcessCpuSeconds();
  const int64_t t0 = Clock::Real()->MonotonicNanos();
  SLUICE_ASSIGN_OR_RETURN(std::vector<engine::StatementResult> r, sql.Execute(query_text));
  result.wall_seconds = (Clock::Real()->MonotonicNanos() - t0) / 1e9;
  result.cpu_seconds = ProcessCpuSeconds() - cpu0;
  result.peak_rss = PeakRssBytes();
  if (r.size() != 1) return Status::InvalidArgument("a Nexmark query file must hold one SELECT");
  result.rows = static_cast<int64_t>(r[0].rows.size());
  result.checksum = ResultChecksum(r[0].rows);
  return result;
}

template <typename T>
T Median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int RunBenchNexmark(const BenchNexmarkOptions& o) {
  if (o.list) {
    for (const nexmark::QueryFile& q : nexmark::Queries()) fmt::print("{}\n", q.name);
    return kExitOk;
  }
  Result<std::string_view> query = nexmark::FindQuery(o.query);
  if (!query.ok()) {
    fmt::print(stderr, "sluice bench nexmark: --query: {}\n", query.status().message());
    return kExitUsage;
  }
  if (o.events < 1) {
    fmt::print(stderr, "sluice bench nexmark: --events must be >= 1\n");
    return kExitUsage;
  }
  if (o.runs < 1) {
    fmt::print(stderr, "sluice bench nexmark: --runs must be >= 1\n");
    return kExitUsage;
  }
  nexmark::Options gen;
  gen.seed = o.seed;
  gen.rate = o.rate;
  if (Status valid = nexmark::ValidateOptions(gen); !valid.ok()) {
    fmt::print(stderr, "sluice bench nexmark: {}\n", valid.message());
    return kExitUsage;
  }

  std::string dir =
      (std::filesystem::temp_directory_path() / "sluice-bench-nexmark-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    fmt::print(stderr, "sluice bench nexmark: cannot create a temp dir\n");
    return kExitRuntimeError;
  }
  log::LogOptions log_options;
  log_options.dir = dir + "/log";
  log_options.fsync = log::FsyncPolicy::kNever;
  std::filesystem::create_directories(log_options.dir);
  auto fail = [&](std::string_view what, const Status& s) {
    fmt::print(stderr, "sluice bench nexmark: {}: {}\n", what, s.ToString());
    return kExitRuntimeError;
  };
  int rc = kExitOk;
  {
    auto log_or = log::Log::Open(log_options);
    if (!log_or.ok()) return fail("log", log_or.status());
    std::unique_ptr<log::Log> log = std::move(log_or).value();
    auto sql_or = engine::SqlExecutor::Open(FileSystem::Default(), dir + "/catalog", log.get(), 1);
    if (!sql_or.ok()) return fail("catalog", sql_or.status());
    std::unique_ptr<engine::SqlExecutor> sql = std::move(sql_or).value();
    if (auto created = sql->Execute(nexmark::SourcesSql()); !created.ok()) {
      return fail("bench/nexmark/sources.sql", created.status());
    }

    fmt::print(
        "bench nexmark {}: {} events (seed {}, {} events/s of event time), {}, one thread, {} "
        "run{}\n",
        o.query, o.events, o.seed, o.rate,
        o.in_process ? "in-process (generated rows straight into the dataflow: no JSON, no log)"
                     : "JSON through the log (ad-hoc query: log read + JSON decode + operators)",
        o.runs, o.runs > 1 ? "s, median" : "");
    double generator_secs = 0;
    if (o.in_process) {
      generator_secs = GeneratorOnlySeconds(gen, o.events);
    } else {
      Result<LoadStats> load = LoadLog(*log, gen, o.events);
      if (!load.ok()) return fail("loading the log", load.status());
      fmt::print("  load:        {:.2f} s (generate + JSON + append), {:.0f} B of JSON per event\n",
                 load->seconds,
                 static_cast<double>(load->json_bytes) / static_cast<double>(o.events));
    }

    std::vector<double> walls, cpus;
    std::vector<int64_t> rss;
    uint64_t checksum = 0;
    int64_t rows = 0;
    for (int run = 0; run < o.runs; ++run) {
      Result<RunResult> r =
          o.in_process ? RunInProcess(*sql, *query, gen, o.events) : RunThroughLog(*sql, *query);
      if (!r.ok()) {
        rc = fail(o.query, r.status());
        break;
      }
      if (run > 0 && (r->checksum != checksum || r->rows != rows)) {
        fmt::print(
            stderr,
            "sluice bench nexmark: run {} gave a different result ({} rows, checksum {:016x})\n",
            run, r->rows, r->checksum);
        rc = kExitRuntimeError;
      }
      checksum = r->checksum;
      rows = r->rows;
      walls.push_back(r->wall_seconds);
      cpus.push_back(r->cpu_seconds);
      rss.push_back(r->peak_rss);
    }
    if (!walls.empty()) {
      const double wall = Median(walls), cpu = Median(cpus);
      const double events = static_cast<double>(o.events);
      fmt::print("  throughput:  {:.0f} events/s ({:.3f} s wall)\n", events / wall, wall);
      fmt::print("  CPU:         {:.3f} s -> {:.0f} events/s per core\n", cpu,
                 cpu > 0 ? events / cpu : 0.0);
      if (o.in_process) {
        fmt::print("  of which the generator alone takes ~{:.3f} s ({:.0f} events/s)\n",
                   generator_secs, generator_secs > 0 ? events / generator_secs : 0.0);
      }
      fmt::print("  peak RSS:    {:.1f} MiB (process, during the query)\n",
                 static_cast<double>(Median(rss)) / 1048576.0);
      fmt::print("  result:      {} rows, checksum {:016x}\n", rows, checksum);
    }
    sql.reset();
    (void)log->Close();
  }
  std::filesystem::remove_all(dir);
  return rc;
}

}  // namespace sluice::cli
