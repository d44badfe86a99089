// `fallbench compare`: the flags of the regression gate, read into compare::options.

#include "compare_command.hpp"
#include "result_inputs.hpp"

#include "fallbench/cli/args.hpp"
#include "fallbench/cli/output_paths.hpp"
#include "fallbench/compare/compare.hpp"

#include <charconv>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace fallbench::cli {

namespace fs = std::filesystem;

namespace {

double parse_number(std::string const& flag, std::string const& text_value) {
  double v = 0;
  auto const [ptr, ec] = std::from_chars(text_value.data(), text_value.data() + text_value.size(), v);
  if (ec != std::errc{} || ptr != text_value.data() + text_value.size() || !std::isfinite(v))
    throw usage_error("--" + flag + " must be a number, got '" + text_value + "'");
  return v;
}

}  // namespace

int compare_main(std::vector<std::string_view> const& argv) {
  args a("compare",
         "Compare a baseline with a candidate, each one or more result files of repeated runs of one\n"
         "scenario (or a directory of them), and print a Markdown table: metric, baseline, candidate,\n"
         "change, p-value, verdict. Timing metrics: two-sided Mann-Whitney U test and a minimum effect;\n"
         "bytes and requests per delivery: strictly (outside the baseline's range +- tolerance);\n"
         "delivery verdicts, lost, duplicated, reordered, errors: any change for the worse.\n"
         "Exit status: 0 pass, 1 regression, 2 usage error (also an output FILE that cannot be written, checked\n"
         "before any result is read), 3 invalid run (a run not valid, or whose\n"
         "delivery verdict is fail, on either side, a document that breaks the result schema, or a metric of the\n"
         "baseline that no candidate run measured), 4 incomparable (scenario, build type, CPU model or\n"
         "cores, schema version or run configuration differ; Debug and sanitizer builds are refused),\n"
         "5 inconclusive (nothing worse among what could be judged, but too few runs a side for the U test\n"
         "on timing metrics: repeat each side at least 4 times, better 10).");
  a.positional("BASELINE CANDIDATE", "Each a result file or a directory of result files (*.json)")
      .flag("baseline", "PATH", "A baseline result file or directory (repeatable; instead of the positionals)")
      .flag("candidate", "PATH", "A candidate result file or directory (repeatable)")
      .flag("alpha", "P", "Significance level of the U test, per metric", "0.05")
      .flag("min-effect", "X|GLOB=X",
            "Smallest relative change of the medians that counts for a timing metric (0.10 = 10 %); GLOB=X sets "
            "it for the metric ids matching GLOB (repeatable, the last match wins)",
            "0.10")
      .flag("correction", "holm|none",
            "How the timing metrics share alpha: holm bounds the chance that any of them fires on noise; none tests "
            "each at alpha",
            "holm")
      .flag("tolerance", "X", "Widening of the baseline's range for deterministic metrics (0.005 = 0.5 %)", "0.005")
      .flag("metric", "GLOB", "Only metrics whose id matches (repeatable), e.g. '*/fanout_p99_ms'")
      .flag("markdown", "FILE", "Also write the Markdown to FILE")
      .flag("junit", "FILE", "Also write JUnit XML: one test case per compared metric (a regression fails it)")
      .flag("csv", "FILE", "Also write every compared metric as CSV")
      .flag("summary-json", "FILE", "Also write a compact JSON summary (status, problems, each metric's verdict)")
      .flag("machine-class", "RESULT", "Print the machine class of a result (its baselines' folder) and exit");
  if (!a.parse(argv)) {
    std::cout << a.help();
    return 0;
  }
  if (a.has("machine-class")) {
    auto const files = [&] {
      try {
        return compare::load_results(a.str("machine-class"));
      } catch (std::exception const& e) {
        throw usage_error(e.what());
      }
    }();
    std::cout << compare::machine_class(files.front().doc) << "\n";
    return 0;
  }
  compare::options opts;
  opts.alpha = parse_number("alpha", a.str("alpha"));
  if (!(opts.alpha > 0 && opts.alpha < 1)) throw usage_error("--alpha must be between 0 and 1");
  for (auto const& spec : a.all("min-effect").empty() ? std::vector<std::string>{a.str("min-effect")}
                                                      : a.all("min-effect")) {
    auto const eq = spec.rfind('=');
    double const v = parse_number("min-effect", eq == std::string::npos ? spec : spec.substr(eq + 1));
    if (v < 0) throw usage_error("--min-effect must not be negative, got '" + spec + "'");
    if (eq == std::string::npos)
      opts.min_effect = v;
    else
      opts.min_effect_overrides.push_back({spec.substr(0, eq), v});
  }
  opts.multiple = a.choice("correction", {"holm", "none"}) == "holm" ? compare::correction::holm : compare::correction::none;
  opts.deterministic_tolerance = parse_number("tolerance", a.str("tolerance"));
  if (opts.deterministic_tolerance < 0) throw usage_error("--tolerance must not be negative");
  opts.metric_filters = a.all("metric");

  std::vector<std::string> base_paths = a.all("baseline"), cand_paths = a.all("candidate");
  auto const& pos = a.positionals();
  if (!pos.empty()) {
    if (pos.size() != 2 || !base_paths.empty() || !cand_paths.empty())
      throw usage_error("expected BASELINE CANDIDATE, or --baseline/--candidate flags, not both");
    base_paths = {pos[0]};
    cand_paths = {pos[1]};
  }
  if (base_paths.empty() || cand_paths.empty()) throw usage_error("expected a baseline and a candidate");
  // The outputs are checked (and their directories made) before any result is read: a path that cannot
  // be written is a usage error (exit 2), not a verdict lost after the comparison.
  std::vector<std::pair<std::string, fs::path>> outputs;
  for (char const* flag : {"markdown", "junit", "csv", "summary-json"}) {
    if (!a.has(flag)) continue;
    check_output_file(flag, a.str(flag));
    outputs.emplace_back(flag, a.str(flag));
  }
  check_distinct_outputs(outputs);
  auto const baseline = read_results(base_paths);
  auto const candidate = read_results(cand_paths);

  auto const result = compare::compare(baseline, candidate, opts);
  auto const md = compare::to_markdown(result, opts);
  std::cout << md << std::flush;
  auto write = [&](char const* flag, std::string const& text) {
    if (!a.has(flag)) return;
    std::ofstream out(a.str(flag), std::ios::binary);
    out << text;
    if (!out) throw usage_error("cannot write " + a.str(flag));
  };
  write("markdown", md);
  write("junit", compare::to_junit(result));
  write("csv", compare::to_csv(result));
  write("summary-json", compare::to_summary_json(result).dump(1) + "\n");
  return static_cast<int>(result.code);
}

}  // namespace fallbench::cli
