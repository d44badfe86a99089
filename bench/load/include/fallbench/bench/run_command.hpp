#pragma once
/// `fallbench run`'s study: replay a scenario against its targets and write a result document. Typed
/// options only: the flags that fill them are parsed in cli/ (cli/run_command.cpp).

#include "fallbench/bench/scenario.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fallbench::bench {

/// Renders the result file `result` into the directory `dir` (`--report DIR`). The front door passes
/// `fallbench report`; the harness does not depend on the renderer (docs/design.md section 2).
using render_report = std::function<void(std::string const& result, std::string const& dir)>;

/// `fallbench run`'s exit status when every run was valid but a threshold of the scenario was crossed
/// (distinct from compare's 1 regression, 4 incomparable and 5 inconclusive).
inline constexpr int exit_threshold_crossed = 6;

/// What run_scenario does besides running: which cases and targets, and the files it writes. The
/// caller checks the output paths can be written before (a study must not fail on them at its end).
struct scenario_run_options {
  std::string scenario_path;                          ///< Where the scenario came from, recorded in the result.
  std::filesystem::path output;                       ///< The result document.
  std::vector<std::string> only_cases;                ///< Run only these cases; all when empty.
  std::vector<std::string> only_targets;              ///< Run only against these targets; all when empty.
  std::optional<std::filesystem::path> report_dir;    ///< Also render the result here, with `render`.
  render_report render;
  std::optional<std::filesystem::path> junit;         ///< Also write JUnit XML here.
  std::optional<std::filesystem::path> csv;           ///< Also write the summary table as CSV here.
  std::optional<std::filesystem::path> summary_json;  ///< Also write a compact JSON summary here.
  bool quiet = false;                                 ///< No progress line.
};

/// The scenario cannot run as given (a CPU set this machine lacks, a fault the proxy refuses, a fault
/// proxy before an https target, more descriptors than the system allows): a usage error of
/// `fallbench run` (exit 2), found before the runs or between them.
class run_setup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Check that `s` can run as `options` say, before anything is started or written: the CA files of
/// its URL targets, its CPU sets on this machine, the cases and targets selected, its clusters'
/// targets. @throws run_setup_error naming what is wrong.
void check_scenario_run(scenario const& s, scenario_run_options const& options);

/// Where the result goes without --output: reports/results/<scenario>-<UTC time>.json.
std::filesystem::path default_result_path(scenario const& s);

/**
 * Run every case of `s` against every target (as `options` selects), print a summary table and the
 * result's path on stdout, and write the result and the outputs asked for. `s` and `options` have
 * passed check_scenario_run. Every fault is checked with `fallbench proxy --check` before the first run.
 * @return the exit code: 0 when every run is valid and meets the scenario's thresholds, 3 when a run
 *         is invalid (the result is still written), 6 when a threshold was crossed.
 * @throws run_setup_error, std::runtime_error when a target or the fault proxy does not start.
 */
int run_scenario(scenario const& s, scenario_run_options const& options);

}  // namespace fallbench::bench
