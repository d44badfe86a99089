#pragma once
/// Thresholds: absolute limits a scenario sets on its own results, evaluated after each run, as k6's
/// thresholds and Artillery's `ensure` do. Written as text, e.g. `p99_ms < 50`, `lost == 0`,
/// `websocket: ttfm_p50_ms < 100`, `deliveries_per_s >= 10000` (bench/README.md, "Thresholds").

#include "fallbench/transport/client.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::bench {

/// One limit, as parsed from its text.
struct threshold {
  enum class relation : std::uint8_t { lt, le, gt, ge, eq, ne };
  std::string text;  ///< As written (whitespace normalised): what tables and reports show.
  /// The strategy it is about; none: the whole run, or every strategy for the per-session metrics.
  std::optional<transport::strategy> strategy;
  std::string metric;
  relation rel = relation::lt;
  double limit = 0;
};

/// Parses `[STRATEGY:] METRIC OP NUMBER` (OP one of < <= > >= == !=). Throws std::invalid_argument
/// naming what is wrong (an unknown metric lists the known ones).
threshold parse_threshold(std::string_view text);

/// The metrics a threshold may name, with what each measures (for errors and --help).
std::vector<std::pair<std::string_view, std::string_view>> const& threshold_metrics();

/// One threshold checked against one run (for a per-session metric without a strategy: one per
/// strategy of the run).
struct threshold_outcome {
  std::string text;
  std::string scope;  ///< "run" or the strategy's name.
  std::optional<double> observed;  ///< None: the run did not measure it (and then it failed).
  bool ok = false;
  std::string why;  ///< For a failure: "observed 73.2" or "not measured (no time to first message)".
};

/// Checks `limits` against one run of a result document (`runs[i]`, reports/schema/result.schema.json).
std::vector<threshold_outcome> evaluate(std::vector<threshold> const& limits, nlohmann::json const& run);

/// The outcomes as the result document records them (`runs[i].thresholds`).
nlohmann::json to_json(std::vector<threshold_outcome> const& outcomes);

}  // namespace fallbench::bench
