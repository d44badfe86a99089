#pragma once
/// `fallbench compare`: a baseline and a candidate, each from repeated runs of one scenario (result
/// documents, reports/schema/result.schema.json), judged metric by metric. It reads only the result
/// JSON (docs/conventions.md section 1).
///
/// Three kinds of metric, each with its own rule:
/// - timing (latencies, time to first message, throughput, capacity): a two-sided Mann-Whitney U test
///   of the per-run values, Holm-adjusted over the comparison's timing metrics so that alpha bounds
///   the chance of any false alarm, AND a minimum effect, the relative change of the medians in the
///   metric's worse direction (latency up, throughput down). Both must hold to flag a change.
/// - deterministic (wire bytes and HTTP requests per delivery): flagged when the candidate's median
///   leaves the range the baseline runs showed, widened by a small tolerance (0.5 % by default).
/// - correctness (delivery verdicts; lost, duplicated, reordered and errors): any change for the
///   worse is a regression.
/// A run that is not valid, or whose delivery verdict is `fail`, makes the whole comparison invalid;
/// results whose metadata differ in what matters are incomparable.
/// Typed options only: the flags that fill them are parsed in cli/ (cli/compare_command.cpp).

#include "fallbench/results/result_files.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::compare {

/// Exit statuses of `fallbench compare`, in order of precedence (the first that applies wins):
/// incomparable, invalid, regression, pass. 2 is a usage error (bad flags, unreadable file).
/// How a comparison ends, and the exit status of `fallbench compare`. `inconclusive`: nothing got worse
/// among what could be judged, but some timing metric had too few runs for the U test to reach alpha
/// (a pass would claim what was not shown).
enum class status : int { pass = 0, regression = 1, usage = 2, invalid = 3, incomparable = 4, inconclusive = 5 };

/// The name of a status, as printed: "pass", "regression", "usage error", "invalid run", "incomparable",
/// "inconclusive".
std::string_view to_string(status s);

enum class metric_kind { timing, deterministic, correctness };
enum class verdict { same, within_bound, improvement, regression, too_few_runs };
std::string_view to_string(verdict v);

/// A per-metric threshold override: metrics whose id matches `pattern` (a glob: `*` and `?`) use
/// `min_effect` instead of the default. The last matching override wins.
struct effect_override {
  std::string pattern;
  double min_effect = 0;
};

/// How the U tests of one comparison's timing metrics share alpha.
enum class correction {
  /// Holm-Bonferroni: alpha bounds the chance that any timing metric of the comparison is flagged
  /// when nothing changed (the family-wise error rate), not each metric's. p-values are adjusted.
  holm,
  /// Each metric at alpha: with a dozen metrics, some fire on noise alone in most comparisons.
  none,
};

struct options {
  /// Significance level of the U tests (family-wise under the Holm correction).
  double alpha = 0.05;
  correction multiple = correction::holm;
  /// Smallest relative change of the medians, in the worse direction, that counts as a regression of a
  /// timing metric (0.10: 10 %). Improvements use the same bound.
  double min_effect = 0.10;
  std::vector<effect_override> min_effect_overrides;
  /// Relative widening of the baseline's range for deterministic metrics: bytes per delivery vary by a
  /// few bytes with the digits of the timestamps the harness embeds in each chat.
  double deterministic_tolerance = 0.005;
  /// Only metrics whose id matches one of these globs (all when empty). Validity and metadata are
  /// checked whatever the filter.
  std::vector<std::string> metric_filters;
};

/// One result document and where it came from (for messages).
using result_file = results::result_file;

/// One compared metric: its per-run values on each side and the judgement.
struct metric_row {
  std::string id;     ///< e.g. "fallbench/mixed/polling/fanout_p99_ms"; what --metric matches
  std::string label;  ///< e.g. "fan-out p99 (corrected)"
  std::string unit;   ///< "ms", "/s", "B", "req", "Hz", "" (counts), "verdict"
  metric_kind kind = metric_kind::timing;
  bool higher_is_better = false;
  std::vector<double> baseline, candidate;
  double baseline_value = 0;   ///< median (timing, deterministic) or worst (correctness)
  double candidate_value = 0;
  double change = 0;           ///< relative change candidate / baseline - 1 (0 when both are 0)
  std::optional<double> p_value;  ///< the U test's, adjusted for multiplicity (Holm) unless disabled
  std::optional<double> p_raw;    ///< the U test's own
  double min_effect = 0;       ///< the bound applied: minimum effect (timing) or tolerance (deterministic)
  verdict judged = verdict::same;
};

struct outcome {
  status code = status::pass;
  std::vector<std::string> problems;  ///< why incomparable or invalid (empty on pass/regression)
  std::vector<std::string> notes;     ///< warnings that do not change the status
  std::vector<metric_row> rows;
  std::size_t baseline_runs = 0, candidate_runs = 0;  ///< result files per side
};

/// Compare a baseline with a candidate. Never throws on a malformed document: missing fields make
/// the document incomparable with a problem naming the file and the field.
outcome compare(std::vector<result_file> const& baseline, std::vector<result_file> const& candidate,
                options const& opts);

/// The outcome as Markdown: a one-line verdict, notes, and the table (metric, baseline, candidate,
/// change, p-value, verdict). Every string from the documents is escaped for Markdown.
std::string to_markdown(outcome const& o, options const& opts);

/// The outcome as JUnit XML: one test case per compared metric (a regression fails it, too few runs
/// skips it), and one failing case per problem, so a gate that could not run never shows all green.
std::string to_junit(outcome const& o);

/// Every compared metric as CSV: id, label, unit, class, both values, change, p-value, bound, verdict.
std::string to_csv(outcome const& o);

/// A compact JSON summary: status and exit status, runs per side, problems, notes, each metric's verdict.
nlohmann::json to_summary_json(outcome const& o);

/// The machine class of a result, the folder of its baselines under reports/baselines/: cores and
/// CPU model, e.g. "2core-amd-epyc". Two results compare only when their machine classes are equal.
std::string machine_class(nlohmann::json const& doc);

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one character).
bool glob_match(std::string_view pattern, std::string_view text);

/// Expand a command-line operand: a result file, or a directory whose *.json files (sorted) are the
/// results of repeated runs. @throws std::runtime_error when a file is unreadable or not JSON.
std::vector<result_file> load_results(std::string const& operand);

}  // namespace fallbench::compare
