// Ratios between a document's targets (tools/results/src/comparisons.cpp), as `fallbench run` records
// them in `comparisons` and prints them as its "ratio" lines.

#include "fallbench/results/comparisons.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>

namespace fallbench::results {
namespace {

using json = nlohmann::json;

json run(std::string const& target, int index, std::string const& name, double p50, double p99, double per_s,
         std::optional<std::pair<double, double>> server = std::nullopt) {
  json r = {{"target", target},
            {"target_index", index},
            {"case", name},
            {"latency", {{"fanout_corrected", {{"count", 10}, {"p50_us", p50}, {"p99_us", p99}}}}},
            {"throughput", {{"deliveries_per_s", per_s}}},
            {"counts", {{"deliveries_measured", 1000}}},
            {"cost", json::object()}};
  if (server) r["cost"]["server"] = {{"cpu_s", server->first}, {"peak_rss_bytes", server->second}};
  return r;
}

TEST(ComparisonsTest, EachLaterTargetAgainstTheFirstCaseByCase) {
  json const runs = json::array({run("a", 0, "small", 100, 1000, 500, std::pair{1.0, 1000.0}),
                                 run("a", 0, "large", 200, 2000, 800, std::pair{2.0, 2000.0}),
                                 run("b", 1, "small", 300, 1500, 250, std::pair{3.0, 4000.0}),
                                 run("c", 2, "large", 100, 4000, 1600)});
  auto const out = target_comparisons(runs);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["case"], "small");
  EXPECT_EQ(out[0]["reference"], "a");
  EXPECT_EQ(out[0]["candidate"], "b");
  EXPECT_DOUBLE_EQ(out[0]["p50_ratio"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(out[0]["p99_ratio"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(out[0]["throughput_ratio"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(out[0]["cpu_per_delivery_ratio"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(out[0]["peak_rss_ratio"].get<double>(), 4.0);
  // Without a server process on one side, the cost ratios are absent rather than zero.
  EXPECT_EQ(out[1]["case"], "large");
  EXPECT_EQ(out[1]["candidate"], "c");
  EXPECT_DOUBLE_EQ(out[1]["p99_ratio"].get<double>(), 2.0);
  EXPECT_FALSE(out[1].contains("cpu_per_delivery_ratio"));
  EXPECT_FALSE(out[1].contains("peak_rss_ratio"));
}

TEST(ComparisonsTest, OneTargetOrAZeroReferenceGivesNoneOrZero) {
  EXPECT_TRUE(target_comparisons(json::array({run("a", 0, "x", 1, 1, 1)})).empty());
  EXPECT_TRUE(target_comparisons(json::array()).empty());
  auto const out = target_comparisons(json::array({run("a", 0, "x", 0, 0, 0), run("b", 1, "x", 5, 5, 5)}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_DOUBLE_EQ(out[0]["p99_ratio"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(out[0]["throughput_ratio"].get<double>(), 0.0);
}

}  // namespace
}  // namespace fallbench::results
