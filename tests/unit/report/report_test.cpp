// fallbench::report (tools/report/src/report.cpp, svg.cpp): the page on the synthetic results of
// tests/fixtures/report/ (two-targets.json: two targets, four strategies, a ladder, ratios, hostile
// strings; fallback-study.json: three faults, one a schedule cut into fault windows, the four strategies,
// two targets) and on documents missing nearly everything.

#include "fallbench/report/report.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace fallbench::report {
namespace {

using json = nlohmann::json;

std::string const fixture = FALLBENCH_FIXTURES_DIR "/report/two-targets.json";
std::string const study = FALLBENCH_FIXTURES_DIR "/report/fallback-study.json";

/// Every <svg class="chart">...</svg> of the page.
std::vector<std::string> charts(std::string const& html) {
  std::vector<std::string> out;
  for (std::size_t at = html.find("<svg class=\"chart\""); at != std::string::npos;
       at = html.find("<svg class=\"chart\"", at + 1))
    out.push_back(html.substr(at, html.find("</svg>", at) + 6 - at));
  return out;
}

std::size_t count(std::string const& s, std::string const& needle) {
  std::size_t n = 0;
  for (auto at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

/// The chart whose <title> starts with `title`, or "" when there is none.
std::string chart(std::string const& html, std::string const& title) {
  for (auto const& svg : charts(html))
    if (svg.find("<title>" + title) != std::string::npos && svg.find("<title>" + title) < svg.find("</title>"))
      return svg;
  return {};
}

/// A target's strategy-by-fault table as the page draws it.
struct fault_table {
  std::vector<std::string> columns;  ///< strategies
  std::vector<std::string> rows;     ///< faults (the row headers' text)
  struct cell {
    std::string grade_class;  ///< g0 (no run), g1 pass, g2 degraded, g3 fail
    std::string text;
  };
  std::vector<std::vector<cell>> cells;  ///< [row][column]

  cell const* at(std::string const& fault, std::string const& strategy) const {
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (std::size_t c = 0; c < columns.size(); ++c)
        if (rows[r] == fault && columns[c] == strategy && c < cells[r].size()) return &cells[r][c];
    return nullptr;
  }
};

std::optional<fault_table> fault_table_of(std::string const& html, std::string const& target) {
  auto const start = html.find("<table class=\"faults\"><caption>" + target + "</caption>");
  if (start == std::string::npos) return std::nullopt;
  auto const table = html.substr(start, html.find("</table>", start) - start);
  fault_table t;
  auto const head = table.substr(0, table.find("</thead>"));
  std::regex const th("<th>([^<]*)</th>");
  for (auto it = std::sregex_iterator(head.begin(), head.end(), th); it != std::sregex_iterator(); ++it)
    if ((*it)[1] != "fault") t.columns.push_back((*it)[1].str());
  std::regex const row_header(R"re(<th scope="row" title="[^"]*">([^<]*)</th>)re");
  std::regex const td(R"re(<td class="(g[0-3])"[^>]*>(.*?)</td>)re");
  auto const body = table.substr(table.find("<tbody>"));
  for (auto at = body.find("<tr>"); at != std::string::npos; at = body.find("<tr>", at + 1)) {
    auto const row = body.substr(at, body.find("</tr>", at) - at);
    std::smatch m;
    if (!std::regex_search(row, m, row_header)) continue;
    t.rows.push_back(m[1].str());
    t.cells.emplace_back();
    for (auto it = std::sregex_iterator(row.begin(), row.end(), td); it != std::sregex_iterator(); ++it)
      t.cells.back().push_back({(*it)[1].str(), (*it)[2].str()});
  }
  return t;
}

TEST(ReportTest, EveryChartHasMarksAndSaysWhereItWasMeasured) {
  auto const results = load_results(fixture);
  auto const html = render_html(results, options{});
  auto const all = charts(html);
  // Two targets x (plain + ladder) x 6 charts per group, the ratios and the capacity ladder.
  EXPECT_EQ(all.size(), 4u * 6u + 2u);
  for (auto const& svg : all) {
    auto const title = svg.substr(0, svg.find("</title>"));
    EXPECT_GE(count(svg, "class=\"mark\""), 2u) << title;
    EXPECT_NE(svg.find("Measured: "), std::string::npos) << title;
    EXPECT_NE(svg.find("Synthetic CPU, 2 cores"), std::string::npos) << title;
    EXPECT_NE(svg.find("commit 0123456789ab"), std::string::npos) << title;
  }
  for (std::string const kind : {"Fan-out latency by percentile", "Time to first message", "Throughput and p99 over time",
                                 "Wire cost per delivered message", "Delivery verdicts", "Session timelines",
                                 "Side by side", "Capacity ladders"})
    EXPECT_NE(html.find("<title>" + kind), std::string::npos) << kind;
}

TEST(ReportTest, EscapesEveryStringFromTheDocuments) {
  auto const html = render_html(load_results(fixture), options{});
  // The fixture names a target <script>alert('x')</script> and describes itself with <b> and &.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>every"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;every&lt;/b&gt; chart &amp; escaping"), std::string::npos);
  EXPECT_NE(html.find("403 &lt;Forbidden&gt;"), std::string::npos) << "timeline details are escaped too";
}

TEST(ReportTest, IsSelfContained) {
  auto const html = render_html(load_results(fixture), options{});
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  // The only URL is the SVG namespace, which is a name, not a fetch.
  std::regex const url(R"((https?:)?//[a-zA-Z0-9.-]+)");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), url); it != std::sregex_iterator(); ++it)
    EXPECT_EQ(it->str(), "http://www.w3.org") << "reference to " << it->str();
  for (std::string const tag : {"<script", "<link", "<img", "<iframe", "@import", "url("})
    EXPECT_EQ(html.find(tag), std::string::npos) << tag;
}

TEST(ReportTest, SeveralResultsGetASectionEach) {
  auto results = load_results(fixture);
  results.push_back(results.front());
  results.back().path = "second.json";
  auto const html = render_html(results, options{});
  EXPECT_NE(html.find("id=\"result-1\""), std::string::npos);
  EXPECT_NE(html.find("id=\"result-2\""), std::string::npos);
  EXPECT_NE(html.find("href=\"#result-2\""), std::string::npos);
  EXPECT_EQ(charts(html).size(), 2u * (4u * 6u + 2u));
}

TEST(ReportTest, DocumentsMissingNearlyEverythingStillRender) {
  json const bare = {{"schema_version", 1}, {"runs", json::array({json::object(), {{"by_strategy", {{"polling", 7}}}}})}};
  std::vector<result> const results{{"bare.json", bare}};
  std::string html;
  ASSERT_NO_THROW(html = render_html(results, options{}));
  EXPECT_NE(html.find("no latencies recorded"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  ASSERT_NO_THROW(render_markdown(results, options{}));
}

// Over TLS the wire cost figure says how many TLS handshakes each strategy's clients made and how
// many resumed a session; without TLS counts (plain runs, older results) it says nothing of TLS.
TEST(ReportTest, TheWireCostFigureCountsTlsHandshakesAndResumptions) {
  auto results = load_results(fixture);
  EXPECT_EQ(render_html(results, options{}).find("TLS handshakes"), std::string::npos);
  auto& run = results.front().doc["runs"][0];
  ASSERT_TRUE(run["by_strategy"].contains("polling"));
  run["by_strategy"]["polling"]["wire"]["tls_handshakes"] = 80;
  run["by_strategy"]["polling"]["wire"]["tls_resumed"] = 41;
  auto const html = render_html(results, options{});
  auto const at = html.find("TLS handshakes (resumed): ");
  ASSERT_NE(at, std::string::npos);
  auto const caption = html.substr(at, html.find("</figcaption>", at) - at);
  EXPECT_NE(caption.find("80 (41)"), std::string::npos) << caption;
  EXPECT_EQ(count(html, "TLS handshakes (resumed): "), 1u);
}

TEST(ReportTest, MarkdownSummaryHasARowPerStrategyAndEscapes) {
  auto const md = render_markdown(load_results(fixture), options{});
  EXPECT_NE(md.find("## fallbench report: two \\| targets"), std::string::npos) << md.substr(0, 200);
  // 2 targets x (4 strategies + 3 ladder steps of one strategy) rows, each starting with "| fallbench |" or the other.
  EXPECT_EQ(count(md, "| fallbench | mixed |"), 4u);
  EXPECT_EQ(count(md, "| fallbench | room-10@"), 3u);
  EXPECT_EQ(md.find("<script>"), std::string::npos);
  EXPECT_NE(md.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(md.find("| room-10 | 16.0 | 1600 |"), std::string::npos) << "capacity table";
  EXPECT_NE(md.find("none within 250 ms"), std::string::npos);
}

// A ladder's knee and why it stopped, as `fallbench run` records them (run_command.cpp, ladder.cpp).
TEST(ReportTest, CapacityTablesShowTheKneeAndWhyTheLadderStopped) {
  json const doc = {
      {"schema_version", 1},
      {"runs", json::array()},
      {"capacity",
       json::array({{{"target", "fallbench"}, {"case", "room-100"}, {"stop_p99_ms", 250}, {"max_rate_per_client_hz", 32},
                     {"deliveries_per_s", 639000}, {"offered_deliveries_per_s", 640000}, {"p99_ms", 12.5},
                     {"knee_found", true}, {"stop_reason", "over_bound"}, {"stop_detail", "p99 812 ms > 250 ms"},
                     {"stopped_at", {{"rate_per_client_hz", 64}}}},
                    {{"target", "fallbench"}, {"case", "room-10"}, {"stop_p99_ms", 250}, {"max_rate_per_client_hz", 512},
                     {"deliveries_per_s", 511000}, {"offered_deliveries_per_s", 512000}, {"p99_ms", 3},
                     {"knee_found", false}, {"stop_reason", "generator_saturated"},
                     {"stop_detail", "97% CPU per generator thread"}, {"stopped_at", {{"rate_per_client_hz", 1024}}}}})}};
  std::vector<result> const results{{"knee.json", doc}};
  auto const md = render_markdown(results, options{});
  EXPECT_NE(md.find("| room-100 | 32.0 | 639000 | 12.5 | 640000 deliveries/s offered | over the p99 bound at 64.0 chats/s "
                    "per client (p99 812 ms &gt; 250 ms) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| knee not found, capacity \u2265 512000 deliveries/s offered | generator saturated (its limit, not the server's) at "
                    "1024 chats/s per client (97% CPU per generator thread) |"),
            std::string::npos)
      << md;
  auto const html = render_html(results, options{});
  EXPECT_NE(html.find("knee not found, capacity \u2265 512000 deliveries/s offered"), std::string::npos);
  EXPECT_NE(html.find("generator saturated (its limit, not the server&#39;s)"), std::string::npos);
}

// The server's memory over the measure phase (runs[].rss.summary): one row per run that has it, in both
// forms of the report; a run without it (a URL target) gets none.
TEST(ReportTest, ServerMemoryTableShowsTheRssSlopePerRun) {
  json const doc = {
      {"schema_version", 1},
      {"runs", json::array({{{"target", "fallbench"}, {"case", "soak"},
                             {"rss", {{"interval_s", 1}, {"samples", json::array({{0, 9000}, {1, 102400}, {2, 103424}})},
                                      {"summary", {{"from_s", 1}, {"to_s", 2}, {"samples", 2}, {"start_kb", 102400},
                                                   {"end_kb", 103424}, {"peak_kb", 103424}, {"slope_kb_per_min", 61440},
                                                   {"growth", 1.01}}}}}},
                            {{"target", "external"}, {"case", "soak"}}})}};
  std::vector<result> const results{{"soak.json", doc}};
  auto const md = render_markdown(results, options{});
  EXPECT_NE(md.find("**Server memory.**"), std::string::npos) << md;
  EXPECT_NE(md.find("| fallbench/soak | 100 | 101 | 101 | 61440 | 1.01 | 2 |"), std::string::npos) << md;
  EXPECT_EQ(md.find("| external/soak | "), std::string::npos) << md;
  auto const html = render_html(results, options{});
  EXPECT_NE(html.find("<h3>Server memory</h3>"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>fallbench/soak</td><td>100</td><td>101</td><td>101</td><td>61440</td>"), std::string::npos)
      << html.substr(html.find("Server memory"), 800);
  std::vector<result> const none{{"none.json", {{"schema_version", 1}, {"runs", json::array()}}}};
  EXPECT_EQ(render_markdown(none, options{}).find("Server memory"), std::string::npos);
}

TEST(ReportTest, RejectsWhatIsNotAResult) {
  EXPECT_THROW(load_results(FALLBENCH_FIXTURES_DIR "/make-fixtures.js"), std::runtime_error);
  EXPECT_THROW(load_results(FALLBENCH_FIXTURES_DIR "/does-not-exist.json"), std::runtime_error);
}

// ---- the fallback study: the strategy-by-fault grid and the fault windows -----------------------------------

TEST(ReportFaultTest, EachTargetGetsAStrategyByFaultGrid) {
  auto const html = render_html(load_results(study), options{});
  EXPECT_EQ(count(html, "<table class=\"faults\">"), 2u);
  std::string const kill = "kill-websocket-after 3-5 s", refuse = "refuse-upgrade",
                    hostile = "&lt;script&gt;alert(&quot;fault&quot;)&lt;/script&gt; latency 50 ms &amp; more";

  auto const ours = fault_table_of(html, "fallbench");
  ASSERT_TRUE(ours) << "no grid for fallbench";
  EXPECT_EQ(ours->columns, (std::vector<std::string>{"polling", "websocket", "upgrade", "fallback"}));
  EXPECT_EQ(ours->rows, (std::vector<std::string>{refuse, kill, hostile})) << "faults in order of first appearance";
  for (auto const& row : ours->cells) EXPECT_EQ(row.size(), 4u);
  // The row header says what the fault is in full.
  EXPECT_NE(html.find("title=\"profile pass; schedule 0s:pass,3s:kill-websocket-after?kill-after-ms=0,5s:pass\">" + kill),
            std::string::npos);

  // The Node peer ran only websocket and fallback, kill-ws first: only those columns, its own order.
  auto const node = fault_table_of(html, "socketio-node");
  ASSERT_TRUE(node) << "no grid for socketio-node";
  EXPECT_EQ(node->columns, (std::vector<std::string>{"websocket", "fallback"}));
  EXPECT_EQ(node->rows, (std::vector<std::string>{kill, refuse}));
  auto const* none = node->at(refuse, "fallback");
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->grade_class, "g0");
  EXPECT_EQ(none->text, "-") << "no run of that strategy under that fault";
}

// The field's other strategies take their place after fallback, in a fixed order whatever the order
// of the runs, and a race that polling won reads as a fallback.
TEST(ReportFaultTest, RaceTryallAndRememberFollowFallbackInTheGrid) {
  auto results = load_results(study);
  auto& runs = results.front().doc["runs"];
  nlohmann::json fallback_run;
  for (auto const& r : runs)
    if (r["case"] == "refuse-upgrade/fallback") fallback_run = r;
  ASSERT_TRUE(fallback_run.is_object());
  for (auto const* name : {"remember", "race", "tryall"}) {
    auto r = fallback_run;
    r["case"] = std::string("refuse-upgrade/") + name;
    r["config"]["strategies"] = name;
    r["by_strategy"] = {{name, fallback_run["by_strategy"]["fallback"]}};
    runs.insert(runs.begin(), r);
  }
  auto const html = render_html(results, options{});
  auto const ours = fault_table_of(html, "fallbench");
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->columns,
            (std::vector<std::string>{"polling", "websocket", "upgrade", "fallback", "race", "tryall", "remember"}));
  auto const* race = ours->at("refuse-upgrade", "race");
  ASSERT_NE(race, nullptr);
  EXPECT_NE(race->text.find("fell back: 8"), std::string::npos) << race->text;
}

// Slower, not broken: with a pass row, a cell whose fan-out p99 is over 10x (and 10 ms above) its
// strategy's there is amber, however well it delivered.
TEST(ReportFaultTest, ACellFarSlowerThanThePassRowIsDegraded) {
  auto results = load_results(study);
  auto& runs = results.front().doc["runs"];
  nlohmann::json pass_run;
  for (auto const& r : runs)
    if (r["case"] == "refuse-upgrade/polling") pass_run = r;
  ASSERT_FALSE(pass_run.is_null());
  pass_run["case"] = "pass/polling";
  pass_run["fault"] = {{"profile", "pass"}, {"schedule", ""}, {"label", "pass"}};
  pass_run["by_strategy"]["polling"]["latency"]["fanout_corrected"]["p99_us"] = 1000;  // 1 ms
  runs.push_back(pass_run);
  auto const html = render_html(results, options{});
  auto const t = fault_table_of(html, "fallbench");
  ASSERT_TRUE(t);
  // latency: p99 125 ms against 1 ms without a fault.
  std::string const latency_row = "&lt;script&gt;alert(&quot;fault&quot;)&lt;/script&gt; latency 50 ms &amp; more";
  auto const* slow = t->at(latency_row, "polling");
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->grade_class, "g2") << slow->text;
  EXPECT_NE(slow->text.find("fan-out p99 125\u00D7 the pass row&#39;s"), std::string::npos) << slow->text;
  // refuse-upgrade: 9.5 ms, under 10x the pass row's: still green.
  auto const* near = t->at("refuse-upgrade", "polling");
  ASSERT_TRUE(near);
  EXPECT_EQ(near->grade_class, "g1") << near->text;
  // Strategies without a pass-row cell are not compared.
  auto const* other = t->at(latency_row, "websocket");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->text.find("the pass row"), std::string::npos) << other->text;
}

// A case mixing strategies (the field study) grades each cell by its own receivers' ledger counts
// (by_strategy[s].delivery), not by the whole run's; and a cluster's runs are rows of their own.
TEST(ReportFaultTest, MixedCasesAreGradedPerStrategyAndClustersGetTheirOwnRows) {
  auto results = load_results(study);
  auto& runs = results.front().doc["runs"];
  nlohmann::json polling, websocket;
  for (auto const& r : runs) {
    if (r["case"] == "refuse-upgrade/polling") polling = r;
    if (r["case"] == "refuse-upgrade/websocket") websocket = r;
  }
  ASSERT_TRUE(polling.is_object() && websocket.is_object());
  auto mixed = polling;
  mixed["case"] = "mixed";
  mixed["fault"] = {{"profile", "force-close"}, {"schedule", ""}, {"label", "force-close"}};
  mixed["topology"] = {{"kind", "cluster"}, {"nodes", 2}, {"balancer", "haproxy"}, {"sticky", "cookie"}};
  mixed.erase("fault_windows");
  mixed["by_strategy"]["websocket"] = polling["by_strategy"]["polling"];
  mixed["by_strategy"]["polling"]["delivery"] = {{"expected", 100}, {"delivered", 100}, {"lost", 0}, {"duplicated", 0},
                                                 {"reordered", 0}, {"missed_disconnected", 0}};
  mixed["by_strategy"]["websocket"]["delivery"] = {{"expected", 100}, {"delivered", 93}, {"lost", 7}, {"duplicated", 0},
                                                   {"reordered", 0}, {"missed_disconnected", 0}};
  mixed["delivery"]["total"] = {{"expected", 200}, {"delivered", 193}, {"lost", 7}, {"duplicated", 0}, {"reordered", 0},
                                {"missed_disconnected", 0}};
  runs.push_back(mixed);
  auto const html = render_html(results, options{});
  auto const t = fault_table_of(html, "fallbench");
  ASSERT_TRUE(t);
  std::string const row = "force-close \u00B7 2 nodes, sticky cookie";
  auto const* ws = t->at(row, "websocket");
  auto const* poll = t->at(row, "polling");
  ASSERT_TRUE(ws && poll) << "no row '" << row << "'";
  EXPECT_NE(ws->text.find("lost 7 under the fault"), std::string::npos) << ws->text;
  EXPECT_EQ(poll->text.find("lost"), std::string::npos) << poll->text;
  // The single-server rows are still there, apart from the cluster's.
  EXPECT_TRUE(t->at("refuse-upgrade", "polling"));
}

// A run with connection state recovery on gets its own row beside the same fault without it, and its
// cells say how many sessions were recovered or fresh, the chats replayed and those still missed.
TEST(ReportFaultTest, RunsWithRecoveryOnGetTheirOwnRowWithRecoveredAndMissed) {
  auto results = load_results(study);
  auto& runs = results.front().doc["runs"];
  nlohmann::json recovered;
  for (auto const& r : runs)
    if (r["case"] == "kill-ws/websocket" && r["target"] == "fallbench") recovered = r;
  ASSERT_TRUE(recovered.is_object());
  recovered["case"] = "kill-ws/websocket+recovery";
  recovered["config"]["recovery_window_ms"] = 120000;
  recovered["by_strategy"]["websocket"]["state_recovery"] = {{"recovered", 8}, {"not_recovered", 1}, {"replayed", 27}};
  recovered["by_strategy"]["websocket"]["delivery"] = {{"expected", 300}, {"delivered", 300}, {"lost", 0},
                                                       {"duplicated", 0}, {"reordered", 0}, {"missed_disconnected", 3}};
  runs.push_back(recovered);
  auto const html = render_html(results, options{});
  auto const t = fault_table_of(html, "fallbench");
  ASSERT_TRUE(t);
  auto const* on = t->at("kill-websocket-after 3-5 s \u00B7 recovery on", "websocket");
  ASSERT_TRUE(on) << "no row for the run with recovery on";
  EXPECT_NE(on->text.find("state recovery: recovered 8 \u00B7 fresh 1 \u00B7 replayed 27 \u00B7 missed 3"), std::string::npos)
      << on->text;
  auto const* off = t->at("kill-websocket-after 3-5 s", "websocket");
  ASSERT_TRUE(off) << "the run without recovery keeps its row";
  EXPECT_EQ(off->text.find("state recovery"), std::string::npos) << off->text;
  auto const md = render_markdown(results, options{});
  EXPECT_NE(md.find("recovery on"), std::string::npos);
  EXPECT_NE(md.find("state recovery: recovered 8"), std::string::npos);
}

TEST(ReportFaultTest, GridCellsAreGradedFromTheRun) {
  auto const html = render_html(load_results(study), options{});
  auto const t = fault_table_of(html, "fallbench");
  ASSERT_TRUE(t);
  auto const grade = [&](std::string const& fault, std::string const& strategy) {
    auto const* c = t->at(fault, strategy);
    return c ? c->grade_class + " " + c->text : "missing " + fault + "/" + strategy;
  };
  // Red: lost 3 chats after the WebSocket came back (the fault window's misses alone are amber).
  auto const lost_after = grade("kill-websocket-after 3-5 s", "websocket");
  EXPECT_EQ(lost_after.substr(0, 2), "g3") << lost_after;
  EXPECT_NE(lost_after.find("lost 3 after recovery"), std::string::npos) << lost_after;
  EXPECT_NE(lost_after.find("after recovery: lost 3"), std::string::npos) << lost_after;
  EXPECT_NE(lost_after.find("fault window: missed 30, skipped 20"), std::string::npos) << lost_after;
  EXPECT_NE(lost_after.find("connected 8/8 \u00B7 8 reconnections"), std::string::npos) << lost_after;
  EXPECT_NE(lost_after.find("deliveries/s before 120 \u00B7 fault 30.0 \u00B7 after 120"), std::string::npos)
      << lost_after;
  EXPECT_NE(lost_after.find("recovery p50 2100 ms (8)"), std::string::npos) << lost_after;
  // Amber: the same misses with nothing lost after recovery; a fallback; an upgrade that never happened.
  EXPECT_EQ(grade("kill-websocket-after 3-5 s", "upgrade").substr(0, 2), "g2");
  auto const fell_back = grade("refuse-upgrade", "fallback");
  EXPECT_EQ(fell_back.substr(0, 2), "g2") << fell_back;
  EXPECT_NE(fell_back.find("fell back: 8 \u00B7 p50 5.20 ms"), std::string::npos) << fell_back;
  auto const stayed = grade("refuse-upgrade", "upgrade");
  EXPECT_EQ(stayed.substr(0, 2), "g2") << stayed;
  EXPECT_NE(stayed.find("stayed on polling"), std::string::npos) << stayed;
  // Red: no session connected; the top error is named with its count.
  auto const refused = grade("refuse-upgrade", "websocket");
  EXPECT_EQ(refused.substr(0, 2), "g3") << refused;
  EXPECT_NE(refused.find("no session connected"), std::string::npos) << refused;
  EXPECT_NE(refused.find("error \u00D716: websocket handshake: 403 Forbidden (+2 more)"), std::string::npos) << refused;
  // Green: polling went through the kill untouched.
  auto const clean = grade("kill-websocket-after 3-5 s", "polling");
  EXPECT_EQ(clean.substr(0, 2), "g1") << clean;
  EXPECT_NE(clean.find("after recovery: all delivered"), std::string::npos) << clean;
  EXPECT_NE(clean.find("fan-out p50/p99 2.10/9.50 ms"), std::string::npos) << clean;
  EXPECT_NE(clean.find("560 B/delivery"), std::string::npos) << clean;
  // The caption says what the colours and lines are.
  EXPECT_NE(html.find("Red (fail): no session connected"), std::string::npos);
  EXPECT_NE(html.find("figures come from one run each"), std::string::npos);
}

TEST(ReportFaultTest, FaultWindowsAreShadedOnTheTimeSeries) {
  auto const html = render_html(load_results(study), options{});
  auto const svg = chart(html, "Throughput and p99 over time: fallbench \u00B7 fault kill-websocket-after 3-5 s");
  ASSERT_FALSE(svg.empty());
  EXPECT_NE(svg.find(">fault: kill-websocket-after?kill-after-ms=0</text>"), std::string::npos) << "legend";
  // The fault ran 3 to 5 s after the run's start; the measure phase starts at 1 + 1 s (ramp, warm-up),
  // so the shade spans 1 to 3 s of the axis: x from 62 to 740 px over 0 to 4 s, in both panels.
  EXPECT_EQ(count(svg, "<rect class=\"mark\" x=\"231.5\" y=\"44.0\" width=\"339.0\""), 1u) << svg.substr(0, 2000);
  EXPECT_EQ(count(svg, "<rect class=\"mark\" x=\"231.5\" y=\"178.0\" width=\"339.0\""), 1u);
  EXPECT_NE(svg.find("Shaded: the fault windows"), std::string::npos);
  // A fault that held for the whole run is not a window to shade.
  auto const whole_run = chart(html, "Throughput and p99 over time: fallbench \u00B7 fault refuse-upgrade");
  ASSERT_FALSE(whole_run.empty());
  EXPECT_EQ(whole_run.find("fault: "), std::string::npos);
  EXPECT_EQ(whole_run.find("Shaded"), std::string::npos);
}

TEST(ReportFaultTest, FaultWindowFiguresShowEachWindowPerStrategy) {
  auto const html = render_html(load_results(study), options{});
  // 2 targets: 5 groups (target x fault) x 6 charts, a time-to-first-message-by-fault chart each, and a
  // fault-window figure for each group with a schedule.
  auto const all = charts(html);
  EXPECT_EQ(all.size(), 5u * 6u + 2u + 2u);
  EXPECT_EQ(count(html, "<title>Fault windows: "), 2u);
  for (auto const& svg : all) {
    auto const title = svg.substr(0, svg.find("</title>"));
    EXPECT_NE(svg.find("Measured: "), std::string::npos) << title;
    EXPECT_NE(svg.find("commit fedcba987654"), std::string::npos) << title;
  }
  auto const svg = chart(html, "Fault windows: fallbench \u00B7 fault kill-websocket-after 3-5 s");
  ASSERT_FALSE(svg.empty());
  for (std::string const column : {">0\u20133 s<", ">3\u20135 s<", ">5 s\u2013end<", ">pass (before)<", ">pass (recovery)<"})
    EXPECT_NE(svg.find(column), std::string::npos) << column;
  for (std::string const strategy : {">polling<", ">websocket<", ">upgrade<", ">fallback<"})
    EXPECT_NE(svg.find(strategy), std::string::npos) << strategy;
  // The websocket's fault window: p50 / p99, rate, skipped of due, sessions lost, recovery, ledger counts.
  for (std::string const value : {">0.500 / 900<", ">30.0<", ">20 / 80<", ">2100 (8)<", ">0/0/0/30<", ">3/0/0/0<"})
    EXPECT_NE(svg.find(value), std::string::npos) << value;
  // Amber for the misses in the fault window, red for the loss after it.
  EXPECT_NE(svg.find("fill=\"#ffe08a\"><title>websocket, lost/dup/reord/missed, 3\u20135 s: 0/0/0/30"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#f4a6a6\"><title>websocket, lost/dup/reord/missed, 5 s\u2013end: 3/0/0/0"), std::string::npos);
  EXPECT_EQ(chart(html, "Fault windows: fallbench \u00B7 fault refuse-upgrade"), "") << "one window: nothing to cut";
}

TEST(ReportFaultTest, MarkdownHasTheGrid) {
  auto const md = render_markdown(load_results(study), options{});
  EXPECT_EQ(count(md, "#### Strategy by fault"), 1u);
  EXPECT_NE(md.find("**fallbench**\n\n| fault | polling | websocket | upgrade | fallback |\n|---|---|---|---|---|\n"),
            std::string::npos);
  EXPECT_NE(md.find("**socketio-node**\n\n| fault | websocket | fallback |\n|---|---|---|\n"), std::string::npos);
  EXPECT_NE(md.find("| kill-websocket-after 3-5 s | \u2705 pass<br>connected 8/8<br>"), std::string::npos);
  EXPECT_NE(md.find(" | \u274C fail: lost 3 after recovery<br>"), std::string::npos);
  EXPECT_NE(md.find(" | \u26A0\uFE0F degraded: fell back to polling<br>"), std::string::npos);
  EXPECT_NE(md.find("| refuse-upgrade | \u274C fail: no session connected"), std::string::npos);
  EXPECT_NE(md.find(" | - |\n"), std::string::npos) << "socketio-node ran no fallback under refuse-upgrade";
}

TEST(ReportFaultTest, TheTableAndTheGridGiveOneVerdict) {
  // A strategy that never connected passed the ledger (nothing was lost, as nothing was sent), but it
  // failed: the summary table says so in the grid's words, in Markdown and in HTML.
  auto const results = load_results(study);
  auto const md = render_markdown(results, options{});
  auto const html = render_html(results, options{});
  auto const row = md.find("| fallbench | refuse-upgrade/websocket | websocket | 0/8 |");
  ASSERT_NE(row, std::string::npos) << md;
  auto const line = md.substr(row, md.find('\n', row) - row);
  EXPECT_NE(line.find("| fail: no session connected |"), std::string::npos) << line;
  EXPECT_EQ(line.find("| pass |"), std::string::npos) << line;
  EXPECT_NE(html.find("<td class=\"g3\">fail: no session connected</td>"), std::string::npos);
  EXPECT_NE(md.find("| degraded: fell back to polling |"), std::string::npos) << md;
}

TEST(ReportFaultTest, EscapesFaultLabelsAndErrors) {
  auto const results = load_results(study);
  auto const html = render_html(results, options{});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<after 5 s>"), std::string::npos);
  EXPECT_NE(html.find(">&lt;script&gt;alert(&quot;fault&quot;)&lt;/script&gt; latency 50 ms &amp; more</th>"),
            std::string::npos);
  EXPECT_NE(html.find("error \u00D72: probe timeout &lt;after 5 s&gt;"), std::string::npos);
  auto const md = render_markdown(results, options{});
  EXPECT_EQ(md.find("<script"), std::string::npos);
  EXPECT_NE(md.find("| &lt;script&gt;alert(\"fault\")&lt;/script&gt; latency 50 ms &amp; more |"), std::string::npos);
}

TEST(ReportFaultTest, OlderDocumentsRenderAsBefore) {
  // No runs[].fault: no grid, no window figure, no shade; the counts of the first test stand.
  auto const results = load_results(fixture);
  auto const html = render_html(results, options{});
  EXPECT_EQ(html.find("<table class=\"faults\">"), std::string::npos);
  EXPECT_EQ(html.find("Strategy by fault"), std::string::npos);
  EXPECT_EQ(html.find("<title>Fault windows"), std::string::npos);
  EXPECT_EQ(html.find("fault window"), std::string::npos);
  EXPECT_EQ(render_markdown(results, options{}).find("Strategy by fault"), std::string::npos);

  // runs[].fault as results had it before labels and windows: the grid, its rows named by the spec, and
  // the whole run's counts; no window figure.
  auto older = load_results(study);
  for (auto& run : older.front().doc["runs"]) {
    run["fault"].erase("label");
    run.erase("fault_windows");
    for (auto& [name, st] : run["by_strategy"].items()) st.erase("reconnections");
  }
  std::string page;
  ASSERT_NO_THROW(page = render_html(older, options{}));
  EXPECT_EQ(page.find("<title>Fault windows"), std::string::npos);
  EXPECT_EQ(page.find("Shaded: the fault windows"), std::string::npos);
  auto const t = fault_table_of(page, "fallbench");
  ASSERT_TRUE(t);
  std::string const kill = "schedule 0s:pass,3s:kill-websocket-after?kill-after-ms=0,5s:pass";
  EXPECT_EQ(t->rows, (std::vector<std::string>{"refuse-upgrade", kill, "latency?up-ms=50&amp;down-ms=50"}));
  auto const* ws = t->at(kill, "websocket");
  ASSERT_NE(ws, nullptr);
  EXPECT_EQ(ws->grade_class, "g2") << "3 lost under the fault, no window to place them after it: " << ws->text;
  EXPECT_NE(ws->text.find("whole run: lost 3"), std::string::npos) << ws->text;
  ASSERT_NO_THROW(render_markdown(older, options{}));
}

}  // namespace
}  // namespace fallbench::report
