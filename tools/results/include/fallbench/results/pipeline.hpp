#pragma once
/// Output for pipelines: JUnit XML (what CI systems draw as test results), CSV and a compact JSON
/// summary, for `fallbench run` (from its result document) and `fallbench compare` (from its verdicts).

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace fallbench::results {

/// One JUnit test case: `failure` set when it failed (its message), `skipped` when it was not judged.
struct junit_case {
  std::string classname;
  std::string name;
  std::optional<std::string> failure;
  std::optional<std::string> skipped;
  std::string output;  ///< <system-out>: the figures behind the verdict.
};

/// A JUnit XML document of one test suite (the schema Jenkins, GitLab and GitHub reporters read).
std::string junit_xml(std::string const& suite, std::vector<junit_case> const& cases);

/// One CSV line (RFC 4180: fields with a comma, quote or line break are quoted), with its CRLF.
std::string csv_line(std::vector<std::string> const& fields);

/// A number as CSV and JSON summaries give it: shortest round-trip form, empty for NaN.
std::string csv_number(double v);

/// `fallbench run`'s result as JUnit: per run one case for its validity, and one per threshold.
std::string run_junit(nlohmann::json const& doc);

/// `fallbench run`'s summary table as CSV: one row per run and strategy.
std::string run_csv(nlohmann::json const& doc);

/// `fallbench run`'s compact JSON summary: per run and strategy the headline figures, validity and
/// reasons, thresholds; `exit_status` and the result's path.
nlohmann::json run_summary(nlohmann::json const& doc, std::string const& result_path, int exit_status);

}  // namespace fallbench::results
