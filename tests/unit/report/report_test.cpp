// fallbench::report (tools/report/src/report.cpp, svg.cpp): the page on the synthetic result of
// tests/fixtures/report/ (two targets, four strategies, a ladder, ratios, hostile strings) and on
// documents missing nearly everything.

#include "fallbench/report/report.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace fallbench::report {
namespace {

using json = nlohmann::json;

std::string const fixture = FALLBENCH_FIXTURES_DIR "/report/two-targets.json";

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

TEST(ReportTest, RejectsWhatIsNotAResult) {
  EXPECT_THROW(load_results(FALLBENCH_FIXTURES_DIR "/make-fixtures.js"), std::runtime_error);
  EXPECT_THROW(load_results(FALLBENCH_FIXTURES_DIR "/does-not-exist.json"), std::runtime_error);
}

}  // namespace
}  // namespace fallbench::report
