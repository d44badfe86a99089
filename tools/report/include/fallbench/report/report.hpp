#pragma once
/// `fallbench report`: result documents (reports/schema/result.schema.json) rendered as one
/// self-contained HTML page (inline CSS and SVG, no script, nothing fetched from anywhere) and a
/// Markdown summary fit for a CI job summary. Reads only the result JSON (docs/conventions.md section 1).
/// Typed options only: the flags that fill them are parsed in cli/ (cli/report_command.cpp).

#include "fallbench/results/result_files.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::report {

/// One result document and the path it came from (shown in headings).
using result = results::result_file;

struct options {
  /// The page's heading; empty: "fallbench report: " and the scenario names.
  std::string title;
  /// Session timelines drawn per chart (taken in turn from the runs of the chart).
  std::size_t timelines = 12;
};

/// The HTML page: per result its metadata, a summary table and, per target (and fault, and ladder
/// case), the charts: latency by percentile (corrected and uncorrected), time to first message,
/// throughput and p99 over time (fault windows shaded), per-fault-window figures when a schedule cut
/// the runs into windows (runs[].fault_windows), wire cost per delivery, the delivery verdict grid and
/// session timelines; per result with several targets the side-by-side ratios, with ladders the
/// capacity table and chart, with runs through the fault proxy (runs[].fault) a strategy-by-fault grid
/// per target (an HTML table, a graded cell per run). Every string from the documents is escaped.
/// Never throws on missing fields: a chart without data says so; results without faults render as
/// they did before the grid existed.
std::string render_html(std::vector<result> const& results, options const& opts);

/// The Markdown summary: per result a headline (valid or not, anything lost), metadata, and a table
/// per run and strategy; the strategy-by-fault grid per target, ratios and capacity when present.
/// Strings are escaped for Markdown.
std::string render_markdown(std::vector<result> const& results, options const& opts);

/// Reads a result file, or every *.json in a directory (sorted).
/// @throws std::runtime_error when a file is unreadable, not JSON, or not a result document
///         (no object with schema_version 1 and a runs array).
std::vector<result> load_results(std::string const& operand);

/// Writes both renderings of `results`: `dir`/report.html and `dir`/summary.md (`dir` is made when
/// missing). @return the paths written, the page first. @throws std::runtime_error when one cannot be
/// written.
std::vector<std::filesystem::path> write_report(std::vector<result> const& results, options const& opts,
                                                std::filesystem::path const& dir);

}  // namespace fallbench::report
