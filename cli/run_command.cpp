// `fallbench run`: the flags of the harness, read into bench::scenario_run_options.

#include "run_command.hpp"

#include "fallbench/cli/args.hpp"
#include "fallbench/cli/output_paths.hpp"
#include "fallbench/cli/target_flags.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

namespace fallbench::cli {

namespace fs = std::filesystem;

int run_main(std::vector<std::string_view> const& argv, bench::render_report const& render) {
  args a("run", "Replay a scenario (bench/scenarios/*.json) against its targets, open loop, and write a result\n"
                "document (reports/schema/result.schema.json). Prints a summary table and the result's path.\n"
                "Exit status: 0 all runs valid and every threshold met, 3 some run invalid (result still written),\n"
                "6 a threshold of the scenario crossed (result still written), 2 bad input (also an output path that\n"
                "cannot be written: every one is checked before the first run).");
  a.positional("SCENARIO", "The scenario file, e.g. bench/scenarios/smoke.json")
      .flag("output", "FILE", "Where to write the result (default: reports/results/<scenario>-<UTC time>.json)")
      .flag("case", "NAME", "Run only this case (repeatable)")
      .flag("target", "NAME", "Run only against this target (repeatable)")
      .flag("measure", "SECONDS", "Override every case's measure phase (fractions allowed, e.g. 0.5)")
      .flag("url", "URL", "Run against this server instead of the scenario's targets: http(s)://HOST[:PORT][/PATH][?QUERY]\n"
                          "      (ws and wss work too; the path defaults to /socket.io/, the port to 80 or 443)")
      .flag("events", "FILE|JSON", "The event mapping (docs/targets.md): which events stand for join/chat/leave, over the scenario's")
      .flag("report", "DIR", "Also render the result as DIR/report.html and DIR/summary.md (fallbench report)")
      .flag("junit", "FILE", "Also write JUnit XML: per run one test case for its validity and one per threshold")
      .flag("csv", "FILE", "Also write the summary table as CSV (one row per run and strategy)")
      .flag("summary-json", "FILE", "Also write a compact JSON summary (headline figures, validity, thresholds, exit status)")
      .toggle("quiet", "No progress line");
  declare_target_flags(a);
  if (!a.parse(argv)) {
    std::cout << a.help();
    return 0;
  }
  if (a.positionals().size() != 1) throw usage_error("expected exactly one scenario file");
  bench::scenario_run_options run;
  run.scenario_path = a.positionals().front();
  if (a.has("report")) {
    run.report_dir = a.str("report");
    run.render = render;
  }
  bench::scenario s;
  try {
    s = bench::load_scenario(run.scenario_path);
  } catch (bench::scenario_error const& e) {
    throw usage_error(e.what());
  }
  if (a.has("measure")) {  // every case's, its own phases or not
    s.timing.measure = std::chrono::milliseconds{std::llround(a.number("measure", 0.1, 86'400) * 1000.0)};
    for (auto& c : s.cases) c.timing.measure = s.timing.measure;
  }
  if (a.has("url")) {
    auto const url = a.str("url");
    (void)read_url("--url", url);
    bench::target t{"external", bench::target::kind::url, url, 0, {}, {}, {}, {}};
    s.targets = {t};
  }
  try {
    if (a.has("events")) s.events = bench::parse_events(a.str("events"), "--events");
  } catch (bench::scenario_error const& e) {
    throw usage_error(e.what());
  }
  // The target flags apply to every target, over its own settings.
  for (auto& t : s.targets) t.settings = read_target_flags(a, t.settings);
  run.only_cases = a.all("case");
  run.only_targets = a.all("target");
  run.quiet = a.has("quiet");
  if (a.has("junit")) run.junit = a.str("junit");
  if (a.has("csv")) run.csv = a.str("csv");
  if (a.has("summary-json")) run.summary_json = a.str("summary-json");
  try {
    bench::check_scenario_run(s, run);
    run.output = a.has("output") ? fs::path(a.str("output")) : bench::default_result_path(s);
    // Every output is checked (and its directory made) before the first run, as every fault is: a
    // path that cannot be written must not surface after minutes of measuring.
    std::vector<std::pair<std::string, fs::path>> outputs = {{"output", run.output}};
    check_output_file("output", run.output);
    for (char const* flag : {"junit", "csv", "summary-json"}) {
      if (!a.has(flag)) continue;
      check_output_file(flag, a.str(flag));
      outputs.emplace_back(flag, a.str(flag));
    }
    if (a.has("report")) {
      check_output_directory("report", a.str("report"), {"report.html", "summary.md"});
      for (char const* name : {"report.html", "summary.md"}) outputs.emplace_back("report", fs::path(a.str("report")) / name);
    }
    check_distinct_outputs(outputs);
    return bench::run_scenario(s, run);
  } catch (bench::run_setup_error const& e) {
    throw usage_error(e.what());
  }
}

}  // namespace fallbench::cli
