// Output for pipelines (tools/results/src/pipeline.cpp): JUnit XML, CSV and the compact summary of a
// run, from a result document.

#include "fallbench/results/pipeline.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace fallbench::results {
namespace {

using json = nlohmann::json;

json fixture(std::string const& name) {
  std::ifstream in(std::string(FALLBENCH_FIXTURES_DIR) + "/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return json::parse(s.str());
}

TEST(PipelineTest, CsvQuotesWhatWouldBreakARow) {
  EXPECT_EQ(csv_line({"a", "b c", ""}), "a,b c,\r\n");
  EXPECT_EQ(csv_line({"x,y", "say \"hi\"", "two\nlines"}), "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n");
  EXPECT_EQ(csv_number(0.25), "0.25");
  EXPECT_EQ(csv_number(std::nan("")), "");
}

TEST(PipelineTest, JUnitEscapesAndCountsFailuresAndSkips) {
  auto const xml = junit_xml("suite <1>", {{"c", "ok", std::nullopt, std::nullopt, {}},
                                           {"c", "p99 < 5 & \"more\"", std::string("observed 7"), std::nullopt, "x\x01y"},
                                           {"c", "few", std::nullopt, std::string("too few runs"), {}}});
  EXPECT_NE(xml.find("<testsuites name=\"fallbench\" tests=\"3\" failures=\"1\" skipped=\"1\">"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testsuite name=\"suite &lt;1&gt;\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase classname=\"c\" name=\"ok\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"p99 &lt; 5 &amp; &quot;more&quot;\">\n      <failure message=\"observed 7\"/>\n"
                     "      <system-out>x y</system-out>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<skipped message=\"too few runs\"/>"), std::string::npos) << xml;
}

TEST(PipelineTest, ARunGivesOneCasePerRunAndThresholdAndOneCsvRowPerStrategy) {
  auto doc = fixture("report/two-targets.json");
  ASSERT_FALSE(doc["runs"].empty());
  auto& run = doc["runs"][0];
  run["thresholds"] = json::parse(R"([{"threshold":"lost == 0","scope":"run","ok":true,"observed":0},
                                      {"threshold":"p99_ms < 0.001","scope":"run","ok":false,"observed":3.5,"why":"observed 3.5"}])");
  auto const xml = run_junit(doc);
  std::string const name = run["target"].get<std::string>() + "/" + run["case"].get<std::string>();
  EXPECT_NE(xml.find("classname=\"run." + name + "\" name=\"lost == 0 [run]\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"p99_ms &lt; 0.001 [run]\">\n      <failure message=\"observed 3.5\"/>"), std::string::npos) << xml;
  std::size_t cases = 0;
  for (std::size_t at = 0; (at = xml.find("<testcase ", at)) != std::string::npos; ++at) ++cases;
  EXPECT_EQ(cases, doc["runs"].size() + 2);

  auto const csv = run_csv(doc);
  std::size_t rows = 0;
  for (auto const& r : doc["runs"]) rows += r["by_strategy"].size();
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = csv.find("\r\n", at)) != std::string::npos; at += 2) ++lines;
  EXPECT_EQ(lines, rows + 1) << csv;
  EXPECT_EQ(csv.rfind("target,case,strategy,clients,", 0), 0u);

  auto const summary = run_summary(doc, "r.json", 6);
  EXPECT_EQ(summary["exit_status"], 6);
  EXPECT_EQ(summary["result"], "r.json");
  EXPECT_EQ(summary["runs"].size(), doc["runs"].size());
  EXPECT_EQ(summary["runs"][0]["thresholds"].size(), 2u);
}

}  // namespace
}  // namespace fallbench::results
