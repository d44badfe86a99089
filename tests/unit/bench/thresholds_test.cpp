// Thresholds (bench/load/src/thresholds.cpp): their text, and their verdict on a run as the result
// document records it.

#include "fallbench/bench/scenario.hpp"
#include "fallbench/bench/thresholds.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace fallbench::bench {
namespace {

using json = nlohmann::json;

std::string error_of(std::string_view text) {
  try {
    parse_threshold(text);
  } catch (std::invalid_argument const& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(ThresholdTest, ParsesTheFormsUsersWrite) {
  auto const a = parse_threshold("p99_ms<50");
  EXPECT_EQ(a.text, "p99_ms < 50");
  EXPECT_FALSE(a.strategy);
  EXPECT_EQ(a.rel, threshold::relation::lt);
  EXPECT_DOUBLE_EQ(a.limit, 50);
  auto const b = parse_threshold("  websocket :  ttfm_p50_ms <= 100.5 ");
  EXPECT_EQ(b.text, "websocket: ttfm_p50_ms <= 100.5");
  EXPECT_EQ(b.strategy, transport::strategy::websocket);
  EXPECT_EQ(parse_threshold("lost == 0").rel, threshold::relation::eq);
  EXPECT_EQ(parse_threshold("deliveries_per_s >= 1e4").limit, 10000);
  EXPECT_EQ(parse_threshold("errors != 3").rel, threshold::relation::ne);
  EXPECT_EQ(parse_threshold("connected_share > 0.99").rel, threshold::relation::gt);
}

TEST(ThresholdTest, RefusesWhatItCannotCheckNamingTheProblem) {
  EXPECT_NE(error_of("p98_ms < 50").find("unknown metric 'p98_ms' (known: p50_ms, p90_ms, p99_ms"), std::string::npos);
  EXPECT_NE(error_of("carrier-pigeon: p99_ms < 50").find("'carrier-pigeon' is not a strategy"), std::string::npos);
  EXPECT_NE(error_of("p99_ms 50").find("expected METRIC OP NUMBER"), std::string::npos);
  EXPECT_NE(error_of("p99_ms < fifty").find("expected a number after '<', got 'fifty'"), std::string::npos);
  EXPECT_NE(error_of("p99_ms =< 5").find("'=' is not a comparison"), std::string::npos);
  EXPECT_NE(error_of("p99_ms <").find("expected a number"), std::string::npos);
  EXPECT_NE(error_of("polling: lost == 0").find("lost is a whole-run figure"), std::string::npos);
}

/// A run as the result document has it, with what thresholds read.
json sample_run() {
  return json::parse(R"({
    "config": {"phases_s": {"measure": 2}},
    "counts": {"clients": 8, "clients_connected": 7},
    "throughput": {"deliveries_per_s": 320},
    "latency": {"fanout_corrected": {"count": 640, "p50_us": 400, "p90_us": 650, "p99_us": 830, "p99_9_us": 4200, "max_us": 4300},
                "ack": {"count": 160, "p50_us": 550, "p99_us": 890}},
    "delivery": {"total": {"lost": 2, "duplicated": 0, "reordered": 0}},
    "by_strategy": {
      "polling": {"clients": 4, "clients_connected": 4, "fallbacks": 0, "errors": {},
                  "latency": {"fanout_corrected": {"count": 320, "p50_us": 600, "p99_us": 1200},
                              "ack": {"count": 80, "p50_us": 700, "p99_us": 900}},
                  "ttfm": {"count": 4, "p50_us": 14000, "p99_us": 20000},
                  "connected": {"count": 4, "p50_us": 600, "p99_us": 650}},
      "websocket": {"clients": 4, "clients_connected": 3, "fallbacks": 0,
                    "errors": {"WebSocket handshake refused": 1},
                    "latency": {"fanout_corrected": {"count": 320, "p50_us": 200, "p99_us": 460},
                                "ack": {"count": 80, "p50_us": 300, "p99_us": 500}},
                    "ttfm": {"count": 0, "p50_us": 0, "p99_us": 0},
                    "connected": {"count": 3, "p50_us": 500, "p99_us": 550}}
    }})");
}

std::vector<threshold> parse_all(std::initializer_list<std::string_view> texts) {
  std::vector<threshold> out;
  for (auto t : texts) out.push_back(parse_threshold(t));
  return out;
}

TEST(ThresholdTest, AWholeRunMetricIsCheckedOnceAgainstTheRun) {
  auto const out = evaluate(parse_all({"p99_ms < 0.5", "p50_ms < 0.5", "lost == 0", "deliveries_per_s >= 300", "errors <= 1"}),
                            sample_run());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_FALSE(out[0].ok);  // 0.83 ms
  EXPECT_EQ(out[0].scope, "run");
  EXPECT_DOUBLE_EQ(*out[0].observed, 0.83);
  EXPECT_EQ(out[0].why, "observed 0.830");
  EXPECT_TRUE(out[1].ok);  // 0.4 ms
  EXPECT_FALSE(out[2].ok);
  EXPECT_EQ(out[2].why, "observed 2");
  EXPECT_TRUE(out[3].ok);
  EXPECT_TRUE(out[4].ok);  // one error in all
}

// The server's memory over the measure phase (runs[].rss.summary): a growing server crosses the soak's
// limits; a run without the series (a URL, a cluster) has not measured it, so they are not met.
TEST(ThresholdTest, ServerMemoryThresholdsReadTheRssSummary) {
  auto const limits = parse_all({"server_rss_slope_kb_per_min < 1024", "server_rss_growth < 1.1"});
  json run = sample_run();
  run["rss"] = {{"interval_s", 1}, {"samples", json::array()},
                {"summary", {{"slope_kb_per_min", 3000.0}, {"growth", 1.25}, {"start_kb", 100000}, {"end_kb", 125000}}}};
  auto const grew = evaluate(limits, run);
  ASSERT_EQ(grew.size(), 2u);
  EXPECT_FALSE(grew[0].ok);
  EXPECT_EQ(grew[0].why, "observed 3000");
  EXPECT_FALSE(grew[1].ok);
  EXPECT_DOUBLE_EQ(*grew[1].observed, 1.25);
  run["rss"]["summary"]["slope_kb_per_min"] = -12.5;
  run["rss"]["summary"]["growth"] = 0.99;
  auto const flat = evaluate(limits, run);
  EXPECT_TRUE(flat[0].ok);
  EXPECT_TRUE(flat[1].ok);
  run.erase("rss");
  auto const unmeasured = evaluate(limits, run);
  EXPECT_FALSE(unmeasured[0].ok);
  EXPECT_FALSE(unmeasured[0].observed);
  EXPECT_NE(error_of("websocket: server_rss_growth < 1.1").find("server_rss_growth is a whole-run figure"), std::string::npos);
}

TEST(ThresholdTest, APerSessionMetricHoldsForEveryStrategyAndUnmeasuredIsNotMet) {
  auto const out = evaluate(parse_all({"ttfm_p50_ms < 100", "connected_share >= 1"}), sample_run());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].scope, "polling");
  EXPECT_TRUE(out[0].ok);
  EXPECT_DOUBLE_EQ(*out[0].observed, 14);
  // No websocket client received anything: its time to first message was never measured, and a
  // threshold on it is not silently met.
  EXPECT_EQ(out[1].scope, "websocket");
  EXPECT_FALSE(out[1].ok);
  EXPECT_FALSE(out[1].observed);
  EXPECT_EQ(out[1].why, "not measured (no samples)");
  EXPECT_TRUE(out[2].ok);
  EXPECT_FALSE(out[3].ok);  // 3 of 4 websocket clients connected
  EXPECT_DOUBLE_EQ(*out[3].observed, 0.75);
}

TEST(ThresholdTest, AStrategyScopesAMetricToItsClients) {
  auto const out = evaluate(parse_all({"websocket: p99_ms < 0.5", "polling: p99_ms < 0.5", "websocket: errors == 0",
                                       "polling: deliveries_per_s == 160", "upgrade: p50_ms < 1"}),
                            sample_run());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(out[0].ok);   // 0.46
  EXPECT_FALSE(out[1].ok);  // 1.2
  EXPECT_FALSE(out[2].ok);
  EXPECT_TRUE(out[3].ok);  // 320 measured over 2 s
  EXPECT_FALSE(out[4].ok);
  EXPECT_EQ(out[4].why, "not measured (no upgrade client in this run)");
  auto const j = to_json(out);
  EXPECT_EQ(j[4]["observed"], nullptr);
  EXPECT_EQ(j[0]["threshold"], "websocket: p99_ms < 0.5");
  EXPECT_FALSE(j[0].contains("why"));
}

TEST(ThresholdTest, ScenariosCarryThemToEveryCaseAndTheyDoNotChangeTheHash) {
  std::string const plain = R"({"name":"t","cases":[{"name":"a","clients":4,"strategies":{"polling":1,"websocket":1},"rate_per_client_hz":1},
                                                    {"name":"b","clients":4,"strategies":"websocket","rate_per_client_hz":1}]})";
  std::string const with = R"({"name":"t","thresholds":["lost == 0"],
    "cases":[{"name":"a","clients":4,"strategies":{"polling":1,"websocket":1},"rate_per_client_hz":1,"thresholds":["polling: p99_ms < 50"]},
             {"name":"b","clients":4,"strategies":"websocket","rate_per_client_hz":1}]})";
  auto const s = parse_scenario(with);
  ASSERT_EQ(s.cases[0].thresholds.size(), 2u);
  EXPECT_EQ(s.cases[0].thresholds[0].text, "lost == 0");
  EXPECT_EQ(s.cases[0].thresholds[1].text, "polling: p99_ms < 50");
  ASSERT_EQ(s.cases[1].thresholds.size(), 1u);
  // Tightening a threshold keeps a baseline comparable: the hash is of what was measured.
  EXPECT_EQ(s.hash, parse_scenario(plain).hash);
  auto const error = [](std::string const& text) {
    try {
      parse_scenario(text);
    } catch (scenario_error const& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(error(R"({"name":"t","cases":[{"name":"a","clients":4,"strategies":"websocket","rate_per_client_hz":1,"thresholds":["polling: p99_ms < 5"]}]})"),
            "cases[0].thresholds[0]: no polling client in this case");
  EXPECT_EQ(error(R"({"name":"t","thresholds":"p99_ms < 5","cases":[{"name":"a","clients":4,"strategies":"websocket","rate_per_client_hz":1}]})"),
            R"(thresholds: must be an array of strings such as "p99_ms < 50", got "p99_ms < 5")");
  EXPECT_EQ(error(R"({"name":"t","thresholds":["p99_ms < 5", "p99 < 5"],"cases":[{"name":"a","clients":4,"strategies":"websocket","rate_per_client_hz":1}]})")
                .find("thresholds[1]: unknown metric 'p99' (known: "),
            0u);
}

}  // namespace
}  // namespace fallbench::bench
