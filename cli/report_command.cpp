// `fallbench report`: the flags of the renderer, read into report::options.

#include "report_command.hpp"
#include "result_inputs.hpp"

#include "fallbench/cli/args.hpp"
#include "fallbench/cli/output_paths.hpp"
#include "fallbench/report/report.hpp"

#include <iostream>

namespace fallbench::cli {

int report_main(std::vector<std::string_view> const& argv) {
  args a("report",
         "Render result documents of `fallbench run` as one self-contained HTML page (inline SVG charts, no\n"
         "script, nothing loaded from elsewhere) and a Markdown summary for a CI job summary:\n"
         "DIR/report.html and DIR/summary.md. Several results: one section each.\n"
         "Exit status: 0 written, 2 bad flags, an unreadable input or an output DIR that cannot be written\n"
         "(checked before reading), 3 an input that is not a valid result\n"
         "document (reports/schema/result.schema.json; the message names the place and the rule).");
  a.positional("RESULT...", "Result files, or directories of them (*.json)")
      .flag("output", "DIR", "Where to write report.html and summary.md (also -o DIR)")
      .flag("title", "TEXT", "The page's heading (default: fallbench report: and the scenario names)")
      .flag("timelines", "N", "Session timelines drawn per chart", "12");
  // -o is the one short flag, as in the issue's `fallbench report RESULT... -o DIR`.
  std::vector<std::string_view> expanded(argv.begin(), argv.end());
  for (auto& s : expanded)
    if (s == "-o") s = "--output";
  if (!a.parse(expanded)) {
    std::cout << a.help();
    return 0;
  }
  if (a.positionals().empty()) throw usage_error("expected at least one result file");
  if (!a.has("output")) throw usage_error("expected -o DIR (or --output DIR)");
  report::options opts;
  opts.title = a.str("title");
  opts.timelines = static_cast<std::size_t>(a.integer("timelines", 0, 1000));
  // Checked (and made) before the inputs are read and rendered: exit 2 naming the flag, at once.
  check_output_directory("output", a.str("output"), {"report.html", "summary.md"});
  auto const results = read_results(a.positionals());
  for (auto const& written : report::write_report(results, opts, a.str("output"))) std::cout << written.string() << "\n";
  return 0;
}

}  // namespace fallbench::cli
