// fallbench::report on repeated runs: results of one scenario, build and machine are one section "N runs
// of SCENARIO" with medians and ranges, every run's spectrum faint behind the median run's, and grids
// graded over the runs; other scenarios and builds stay sections of their own. The expected figures are
// computed here from the fixture files (tests/fixtures/compare/baseline: ten runs of one synthetic
// scenario; reports/baselines/*/smoke: ten real runs; tests/fixtures/report/fallback-study.json).

#include "fallbench/compare/stats.hpp"
#include "fallbench/report/report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <regex>
#include <string>
#include <vector>

namespace fallbench::report {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string const fixtures = FALLBENCH_FIXTURES_DIR;

std::size_t count(std::string const& s, std::string const& needle) {
  std::size_t n = 0;
  for (auto at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

/// The value at a path of keys, as a number (0 when absent).
double value(json const& j, std::vector<std::string> const& path) {
  json const* cur = &j;
  for (auto const& k : path) {
    if (!cur->is_object() || !cur->contains(k)) return 0;
    cur = &(*cur)[k];
  }
  return cur->is_number() ? cur->get<double>() : 0;
}

/// The first summary table of the page, as header -> cell text per row (rows keyed "target/case/strategy").
using table = std::map<std::string, std::map<std::string, std::string>>;
table summary_table(std::string const& html) {
  table out;
  auto const start = html.find("<table class=\"summary\">");
  if (start == std::string::npos) return out;
  auto const t = html.substr(start, html.find("</table>", start) - start);
  std::vector<std::string> headers;
  std::regex const th("<th>([^<]*)</th>");
  auto const head = t.substr(0, t.find("</thead>"));
  for (auto it = std::sregex_iterator(head.begin(), head.end(), th); it != std::sregex_iterator(); ++it)
    headers.push_back((*it)[1].str());
  std::regex const td(R"(<td[^>]*>(.*?)</td>)");
  auto const body = t.substr(t.find("<tbody>"));
  for (auto at = body.find("<tr>"); at != std::string::npos; at = body.find("<tr>", at + 1)) {
    auto const row = body.substr(at, body.find("</tr>", at) - at);
    std::vector<std::string> cells;
    for (auto it = std::sregex_iterator(row.begin(), row.end(), td); it != std::sregex_iterator(); ++it)
      cells.push_back((*it)[1].str());
    if (cells.size() != headers.size()) continue;
    std::map<std::string, std::string> by_header;
    for (std::size_t i = 0; i < cells.size(); ++i) by_header[headers[i]] = cells[i];
    out[cells[0] + "/" + cells[1] + "/" + cells[2]] = by_header;
  }
  return out;
}

/// Median and range as the page prints them: "433<br><small>401–470</small>", or "433" alone.
struct printed {
  double median = std::nan(""), min = std::nan(""), max = std::nan("");
};
printed parse_cell(std::string const& cell) {
  printed p;
  std::smatch m;
  std::regex const both(R"(^([0-9.]+)<br><small>([0-9.]+))" "\u2013" R"(([0-9.]+)</small>$)");
  std::regex const one(R"(^([0-9.]+)$)");
  if (std::regex_match(cell, m, both)) {
    p.median = std::stod(m[1].str());
    p.min = std::stod(m[2].str());
    p.max = std::stod(m[3].str());
  } else if (std::regex_match(cell, m, one)) {
    p.median = p.min = p.max = std::stod(m[1].str());
  }
  return p;
}

/// Equal at the three significant digits the report prints.
void expect_printed(double printed_value, double expected, std::string const& what) {
  EXPECT_NEAR(printed_value, expected, std::max(std::abs(expected) * 0.006, 1e-9)) << what;
}

/// The position of the lower median (ties in file order): the run the report draws as the median run.
std::size_t lower_median(std::vector<double> const& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  return order[(order.size() - 1) / 2];
}

TEST(ReportRepeatTest, TenRunsOfOneScenarioAreOneSectionWithMediansAndRanges) {
  auto const results = load_results(fixtures + "/compare/baseline");
  ASSERT_EQ(results.size(), 10u);
  auto const html = render_html(results, options{});
  EXPECT_EQ(count(html, "<section id="), 1u);
  EXPECT_NE(html.find("<h2>10 runs of fixture</h2>"), std::string::npos);
  EXPECT_EQ(html.find("<nav>"), std::string::npos) << "one section: nothing to navigate";
  // Provenance stays: the build, the machine, and the runs' span.
  EXPECT_NE(html.find("commit 0123456789abcdef0123456789abcdef01234567"), std::string::npos);
  EXPECT_NE(html.find("Synthetic CPU, 2 cores"), std::string::npos);
  EXPECT_NE(html.find("10 runs from 2026-01-01T00:00:00Z to 2026-01-01T00:00:04Z"), std::string::npos);

  auto const rows = summary_table(html);
  ASSERT_EQ(rows.size(), 2u) << "polling and websocket, one row each over the ten runs";
  struct metric {
    std::string header;
    std::vector<std::string> path;
    double scale;
  };
  std::vector<metric> const metrics{{"p50 ms", {"latency", "fanout_corrected", "p50_us"}, 1e-3},
                                    {"p99 ms", {"latency", "fanout_corrected", "p99_us"}, 1e-3},
                                    {"ack p99 ms", {"latency", "ack", "p99_us"}, 1e-3},
                                    {"TTFM p50 ms", {"ttfm", "p50_us"}, 1e-3},
                                    {"B/delivery", {"wire", "bytes_per_delivery"}, 1}};
  for (std::string const strategy : {"polling", "websocket"}) {
    auto const it = rows.find("fallbench/mixed/" + strategy);
    ASSERT_NE(it, rows.end()) << strategy;
    auto const& row = it->second;
    for (auto const& m : metrics) {
      std::vector<double> v;
      for (auto const& r : results) v.push_back(value(r.doc["runs"][0]["by_strategy"][strategy], m.path) * m.scale);
      auto const p = parse_cell(row.at(m.header));
      auto const what = strategy + " " + m.header + ": " + row.at(m.header);
      expect_printed(p.median, compare::median(v), what);
      expect_printed(p.min, *std::min_element(v.begin(), v.end()), what);
      expect_printed(p.max, *std::max_element(v.begin(), v.end()), what);
    }
    // Deliveries per second of the measure phase: the same in every run of the fixture, so one figure.
    std::vector<double> rate;
    for (auto const& r : results)
      rate.push_back(value(r.doc["runs"][0]["by_strategy"][strategy], {"latency", "fanout_corrected", "count"}) /
                     value(r.doc["runs"][0], {"config", "phases_s", "measure"}));
    EXPECT_EQ(*std::min_element(rate.begin(), rate.end()), *std::max_element(rate.begin(), rate.end()));
    expect_printed(parse_cell(row.at("deliveries/s")).median, rate.front(), strategy + " deliveries/s");
    EXPECT_EQ(row.at("deliveries/s").find("<small>"), std::string::npos) << "no range when the runs agree";
    EXPECT_EQ(row.at("lost"), "0");
    EXPECT_EQ(row.at("duplicated"), "0");
    EXPECT_EQ(row.at("valid"), "10/10");
    EXPECT_EQ(row.at("verdict"), "pass");
  }

  // The Markdown summary says the same: one heading, median (min–max).
  auto const md = render_markdown(results, options{});
  EXPECT_EQ(count(md, "\n### "), 1u) << md.substr(0, 300);
  EXPECT_NE(md.find("### \u2705 10 runs of fixture"), std::string::npos);
  std::vector<double> p99;
  for (auto const& r : results) p99.push_back(value(r.doc["runs"][0]["by_strategy"]["polling"], {"latency", "fanout_corrected", "p99_us"}) / 1000);
  auto const row = md.find("| fallbench | mixed | polling | 4/4 |");
  ASSERT_NE(row, std::string::npos) << md;
  auto const line = md.substr(row, md.find('\n', row) - row);
  std::smatch m;
  // columns: deliveries/s, p50, p99, ...
  std::regex const cells(R"(\| 4/4 \| ([^|]+) \| ([^|]+) \| ([0-9.]+) \(([0-9.]+))" "\u2013" R"(([0-9.]+)\) \|)");
  ASSERT_TRUE(std::regex_search(line, m, cells)) << line;
  expect_printed(std::stod(m[3].str()), compare::median(p99), "markdown p99 median");
  expect_printed(std::stod(m[4].str()), *std::min_element(p99.begin(), p99.end()), "markdown p99 min");
  expect_printed(std::stod(m[5].str()), *std::max_element(p99.begin(), p99.end()), "markdown p99 max");
  EXPECT_NE(line.find("| pass | 10/10 |"), std::string::npos) << line;
}

TEST(ReportRepeatTest, OtherScenariosAndBuildsStaySectionsOfTheirOwn) {
  auto results = load_results(fixtures + "/compare/baseline");
  for (std::string const other : {"other-scenario.json", "debug-build.json"}) {
    auto more = load_results(fixtures + "/compare/" + other);
    results.insert(results.end(), more.begin(), more.end());
  }
  auto const html = render_html(results, options{});
  EXPECT_EQ(count(html, "<section id="), 3u);
  EXPECT_NE(html.find("<h2>10 runs of fixture</h2>"), std::string::npos);
  // The other two render as any single result does: headed by their path.
  EXPECT_NE(html.find("other-scenario.json</h2>"), std::string::npos);
  EXPECT_NE(html.find("debug-build.json</h2>"), std::string::npos);
  EXPECT_NE(html.find(">10 runs of fixture \u2014 run-01.json \u2026 run-10.json (pass, 0123456789ab)</a>"),
            std::string::npos)
      << "the navigation names the set";
  auto const md = render_markdown(results, options{});
  EXPECT_EQ(count(md, "\n### "), 3u);

  // Two results of two scenarios: two sections, neither a set.
  std::vector<result> two{results.front(), results[10]};
  auto const apart = render_html(two, options{});
  EXPECT_EQ(count(apart, "<section id="), 2u);
  EXPECT_EQ(apart.find("runs of"), std::string::npos);
}

TEST(ReportRepeatTest, ASingleResultKeepsItsSection) {
  auto const one = load_results(fixtures + "/compare/baseline/run-03.json");
  auto const html = render_html(one, options{});
  EXPECT_EQ(html.find("runs of"), std::string::npos);
  EXPECT_NE(html.find("<h2>fixture \u2014 " + fixtures + "/compare/baseline/run-03.json</h2>"), std::string::npos);
  EXPECT_NE(html.find("<th>p99 uncorr. ms</th><th>ack p99 ms</th>"), std::string::npos);
  EXPECT_EQ(html.find("<small>"), std::string::npos) << "no ranges for one run";
}

/// The committed smoke baselines: ten real runs with spectra, timelines and time series.
std::vector<result> smoke_baselines() {
  fs::path const base = FALLBENCH_BASELINES_DIR;
  if (!fs::is_directory(base)) return {};
  std::vector<fs::path> machines;
  for (auto const& e : fs::directory_iterator(base))
    if (fs::is_directory(e.path() / "smoke")) machines.push_back(e.path() / "smoke");
  if (machines.empty()) return {};
  std::sort(machines.begin(), machines.end());
  return load_results(machines.front().string());
}

TEST(ReportRepeatTest, EveryRunsSpectrumIsDrawnFaintBehindTheMedianRun) {
  auto const results = smoke_baselines();
  if (results.size() < 2) GTEST_SKIP() << "no committed smoke baselines of several runs under " FALLBENCH_BASELINES_DIR;
  auto const html = render_html(results, options{});
  EXPECT_EQ(count(html, "<section id="), 1u);
  auto const title = "<title>Fan-out latency by percentile: fallbench \u00B7 " + std::to_string(results.size()) + " runs</title>";
  auto const at = html.find("<svg class=\"chart\"", html.rfind("<svg", html.find(title)));
  ASSERT_NE(html.find(title), std::string::npos);
  auto const svg = html.substr(at, html.find("</svg>", at) - at);
  auto const& by_strategy = results.front().doc["runs"][0]["by_strategy"];
  std::size_t const strategies = by_strategy.size();
  // Each other run faint, per strategy; the median run bold, corrected and uncorrected.
  EXPECT_EQ(count(svg, "stroke-linejoin=\"round\" stroke-opacity=\"0.3\""), strategies * (results.size() - 1))
      << svg.substr(0, 400);
  EXPECT_EQ(count(svg, "<polyline class=\"mark\""), strategies * (results.size() + 1));
  EXPECT_NE(svg.find(">each other run (corrected)</text>"), std::string::npos) << "legend";
  for (auto const& [strategy, st] : by_strategy.items()) {
    std::vector<double> p99;
    for (auto const& r : results) p99.push_back(value(r.doc["runs"][0]["by_strategy"][strategy], {"latency", "fanout_corrected", "p99_us"}));
    auto const median = fs::path(results[lower_median(p99)].path).filename().string();
    EXPECT_NE(svg.find("<title>" + strategy + " (median run by p99: " + median + ")"), std::string::npos)
        << strategy << ": median run " << median;
  }
  // The time to first message likewise: the other runs' ranges faint in each row.
  auto const ttfm = html.find("<title>Time to first message: fallbench \u00B7 " + std::to_string(results.size()) + " runs</title>");
  ASSERT_NE(ttfm, std::string::npos);
  auto const ttfm_svg = html.substr(ttfm, html.find("</svg>", ttfm) - ttfm);
  EXPECT_EQ(count(ttfm_svg, "fill-opacity=\"0.3\"><title>"), strategies * (results.size() - 1));
  // Charts of one run name the run they draw.
  EXPECT_NE(html.find("<title>Throughput and p99 over time: fallbench \u00B7 median run by p99: run-"), std::string::npos);
  EXPECT_NE(html.find("<title>Session timelines: fallbench \u00B7 median run by p99: run-"), std::string::npos);
}

TEST(ReportRepeatTest, TheFaultGridGradesEveryRunByTheWorst) {
  auto const study = load_results(fixtures + "/report/fallback-study.json");
  ASSERT_EQ(study.size(), 1u);
  std::vector<result> runs;
  for (int i = 1; i <= 3; ++i) runs.push_back({"study-" + std::to_string(i) + ".json", study.front().doc});
  // The second run lost 2 chats after the WebSocket came back on the polling case: a failure.
  for (auto& run : runs[1].doc["runs"])
    if (run["case"] == "kill-ws/polling")
      for (auto& w : run["fault_windows"])
        if (w["role"] == "after") w["delivery"]["lost"] = 2;
  auto const html = render_html(runs, options{});
  EXPECT_EQ(count(html, "<section id="), 1u);
  EXPECT_NE(html.find("<h2>3 runs of fallback (synthetic)</h2>"), std::string::npos);
  EXPECT_NE(html.find("each cell holds every run of that strategy through that fault, 3 repeats"), std::string::npos);
  std::regex const cell(R"re(<td class="(g[0-3])" title="fallbench · kill-websocket-after 3-5 s · polling\n([^"]*)">(.*?)</td>)re");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, cell)) << "no kill-ws polling cell";
  EXPECT_EQ(m[1].str(), "g3") << m[3].str();
  EXPECT_NE(m[3].str().find("<strong>fail</strong>: lost 2 after recovery"), std::string::npos) << m[3].str();
  EXPECT_NE(m[3].str().find("2/3 pass \u00B7 1 fail"), std::string::npos) << m[3].str();
  EXPECT_NE(m[3].str().find("median run by p99: study-"), std::string::npos) << m[3].str();
  EXPECT_NE(m[2].str().find("study-2.json (kill-ws/polling): lost 2 after recovery"), std::string::npos) << m[2].str();
  // Cells whose runs agree: every run counted, graded as one run is.
  EXPECT_NE(html.find("<br>3/3 fail<br>median run by p99: study-"), std::string::npos);
  // The summary table: graded by the worst run, with the count of each verdict.
  auto const rows = summary_table(html);
  auto const it = rows.find("fallbench/kill-ws/polling/polling");
  ASSERT_NE(it, rows.end());
  EXPECT_EQ(it->second.at("verdict"), "2/3 pass; 1/3 fail: lost 2 after recovery");
  EXPECT_EQ(it->second.at("valid"), "3/3");
  auto const md = render_markdown(runs, options{});
  EXPECT_NE(md.find("\u274C fail: lost 2 after recovery<br>2/3 pass \u00B7 1 fail<br>median run by p99: study-"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("every run of the 3 repeats per cell"), std::string::npos);
}


/// The rows of the table under the heading that starts with `heading`, cells as printed.
std::vector<std::vector<std::string>> table_after(std::string const& html, std::string const& heading) {
  std::vector<std::vector<std::string>> out;
  auto const start = html.find(heading);
  if (start == std::string::npos) return out;
  auto const from = html.find("<tbody>", start);
  auto const body = html.substr(from, html.find("</tbody>", from) - from);
  std::regex const td(R"(<td[^>]*>(.*?)</td>)");
  for (auto at = body.find("<tr>"); at != std::string::npos; at = body.find("<tr>", at + 1)) {
    auto const row = body.substr(at, body.find("</tr>", at) - at);
    std::vector<std::string> cells;
    for (auto it = std::sregex_iterator(row.begin(), row.end(), td); it != std::sregex_iterator(); ++it)
      cells.push_back((*it)[0].str());
    out.push_back(std::move(cells));
  }
  return out;
}

/// The text of a cell (<td ...>TEXT</td>) and its class.
std::string inner(std::string const& td) { return td.substr(td.find('>') + 1, td.rfind("</td>") - td.find('>') - 1); }
std::string css_class(std::string const& td) {
  auto const at = td.find("class=\"");
  return at == std::string::npos ? "" : td.substr(at + 7, td.find('"', at + 7) - at - 7);
}

// Thresholds over repeated runs: the table single sections show, with per threshold how many runs met it
// ("9 of 10", graded by the worst run) and the median of what the runs observed, with its range; a run
// that did not measure one is counted apart.
TEST(ReportRepeatTest, ThresholdsSayHowManyRunsMetThemAndTheMedianObserved) {
  auto results = load_results(fixtures + "/compare/baseline");
  ASSERT_EQ(results.size(), 10u);
  std::vector<double> p99;
  for (auto const& r : results) p99.push_back(value(r.doc["runs"][0], {"latency", "fanout_corrected", "p99_us"}) / 1000);
  double const limit = *std::max_element(p99.begin(), p99.end());
  auto const below = static_cast<std::size_t>(std::count_if(p99.begin(), p99.end(), [&](double v) { return v < limit; }));
  ASSERT_EQ(below, 9u) << "the fixture's largest p99 is one run's";
  std::vector<double> ttfm;
  for (std::size_t i = 0; i < results.size(); ++i) {
    double const t = value(results[i].doc["runs"][0]["by_strategy"]["websocket"], {"ttfm", "p50_us"}) / 1000;
    json ttfm_outcome = {{"threshold", "ttfm_p50_ms < 10000"}, {"scope", "websocket"}, {"ok", i != 4}};
    if (i == 4) {
      ttfm_outcome["observed"] = nullptr;
      ttfm_outcome["why"] = "not measured (no samples)";
    } else {
      ttfm_outcome["observed"] = t;
      ttfm.push_back(t);
    }
    results[i].doc["runs"][0]["thresholds"] = json::array(
        {{{"threshold", "lost == 0"}, {"scope", "run"}, {"ok", true}, {"observed", 0}},
         {{"threshold", "p99_ms < LIMIT"}, {"scope", "run"}, {"ok", p99[i] < limit}, {"observed", p99[i]}},
         ttfm_outcome});
  }
  auto const html = render_html(results, options{});
  EXPECT_EQ(count(html, "<section id="), 1u) << "thresholds do not split the set";
  std::string const heading = "<h3>Thresholds: 1 of 3 met in every one of the 10 runs</h3>";
  ASSERT_NE(html.find(heading), std::string::npos) << html.substr(html.find("<section"), 4000);
  auto const rows = table_after(html, heading);
  ASSERT_EQ(rows.size(), 3u);
  for (auto const& r : rows) ASSERT_EQ(r.size(), 5u);
  // lost == 0: met everywhere, observed 0 in every run.
  EXPECT_EQ(inner(rows[0][0]), "fallbench/mixed");
  EXPECT_EQ(inner(rows[0][1]), "<code>lost == 0</code>");
  EXPECT_EQ(inner(rows[0][3]), "0");
  EXPECT_EQ(inner(rows[0][4]), "10 of 10");
  EXPECT_EQ(css_class(rows[0][4]), "g1");
  // p99: crossed by the one run with the largest p99.
  EXPECT_EQ(inner(rows[1][4]), "9 of 10");
  EXPECT_EQ(css_class(rows[1][4]), "g3") << "graded by the worst run";
  auto const p = parse_cell(inner(rows[1][3]));
  expect_printed(p.median, compare::median(p99), "p99 median");
  expect_printed(p.min, *std::min_element(p99.begin(), p99.end()), "p99 min");
  expect_printed(p.max, limit, "p99 max");
  // TTFM: one run did not measure it; the median is over the nine that did, and the tenth is said.
  EXPECT_EQ(inner(rows[2][2]), "websocket");
  EXPECT_EQ(inner(rows[2][4]), "9 of 10");
  auto const ttfm_cell = inner(rows[2][3]);
  EXPECT_NE(ttfm_cell.find("<br><small>not measured in 1</small>"), std::string::npos) << ttfm_cell;
  expect_printed(parse_cell(ttfm_cell.substr(0, ttfm_cell.rfind("<br><small>not measured"))).median, compare::median(ttfm),
                 "ttfm median");

  auto const md = render_markdown(results, options{});
  EXPECT_NE(md.find("**Thresholds: 1 of 3 met in every one of the 10 runs**"), std::string::npos) << md;
  EXPECT_NE(md.find("| fallbench/mixed | `lost == 0` | run | 0 | 10 of 10 |"), std::string::npos) << md;
  auto const line_at = md.find("| fallbench/mixed | `p99_ms < LIMIT` | run | ");
  ASSERT_NE(line_at, std::string::npos) << md;
  auto const line = md.substr(line_at, md.find('\n', line_at) - line_at);
  std::smatch m;
  std::regex const cells(R"(\| run \| ([0-9.]+) \(([0-9.]+))" "\u2013" R"(([0-9.]+)\) \| \*\*9 of 10\*\* \|$)");
  ASSERT_TRUE(std::regex_search(line, m, cells)) << line;
  expect_printed(std::stod(m[1].str()), compare::median(p99), "markdown p99 median");
  EXPECT_NE(md.find("; not measured in 1 | **9 of 10** |"), std::string::npos) << md;

  // A threshold is a code span, shown as written (no escapes, which a code span would print).
  EXPECT_NE(md.find("| fallbench/mixed | `ttfm_p50_ms < 10000` | websocket | "), std::string::npos) << md;
  // One of the runs alone: the single section's table, the same code span.
  auto const single = render_markdown({results[0]}, options{});
  EXPECT_NE(single.find("**Thresholds: 3 of 3 met**"), std::string::npos) << single;
  EXPECT_NE(single.find("| fallbench/mixed | `p99_ms < LIMIT` | run | "), std::string::npos) << single;

  // Without thresholds, no table (as in a single section).
  auto const plain = load_results(fixtures + "/compare/baseline");
  EXPECT_EQ(render_html(plain, options{}).find("Thresholds:"), std::string::npos);
  EXPECT_EQ(render_markdown(plain, options{}).find("Thresholds:"), std::string::npos);
}

}  // namespace
}  // namespace fallbench::report
