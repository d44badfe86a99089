// fallbench::compare (tools/compare/src/compare.cpp) on the fixture results of tests/fixtures/compare/
// (written by tests/fixtures/make-fixtures.js) and on synthetic documents built here: what it flags,
// what it refuses, and how often it fires on noise alone.

#include "fallbench/compare/compare.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>

namespace fallbench::compare {
namespace {

using json = nlohmann::json;

std::string const fixtures = FALLBENCH_FIXTURES_DIR "/compare/";

std::vector<result_file> load(std::string const& name) { return load_results(fixtures + name); }

metric_row const* row(outcome const& o, std::string const& id) {
  auto it = std::find_if(o.rows.begin(), o.rows.end(), [&](metric_row const& r) { return r.id == id; });
  return it == o.rows.end() ? nullptr : &*it;
}

std::string flagged(outcome const& o) {
  std::string s;
  for (auto const& r : o.rows)
    if (r.judged == verdict::regression || r.judged == verdict::improvement)
      s += r.id + " " + std::string(to_string(r.judged)) + "; ";
  for (auto const& p : o.problems) s += p + "; ";
  return s;
}

TEST(CompareTest, FlagsATwentyPercentP99RegressionWithTenRunsASide) {
  auto const o = compare(load("baseline"), load("regressed"), options{});
  EXPECT_EQ(o.code, status::regression) << flagged(o);
  EXPECT_EQ(o.baseline_runs, 10u);
  EXPECT_EQ(o.candidate_runs, 10u);
  for (std::string const id : {"fallbench/mixed/fanout_p99_ms", "fallbench/mixed/polling/fanout_p99_ms",
                               "fallbench/mixed/websocket/fanout_p99_ms"}) {
    auto const* r = row(o, id);
    ASSERT_NE(r, nullptr) << id;
    EXPECT_EQ(r->judged, verdict::regression) << id << ": change " << r->change << ", p " << r->p_value.value_or(-1);
    EXPECT_GT(r->change, 0.10) << id;
    EXPECT_LT(*r->p_value, 0.05) << id;
  }
  // Nothing else moved.
  EXPECT_EQ(row(o, "fallbench/mixed/fanout_p50_ms")->judged, verdict::same);
  EXPECT_EQ(row(o, "fallbench/mixed/polling/bytes_per_delivery")->judged, verdict::same);
}

TEST(CompareTest, DoesNotFlagTwoSamplesOfTheSameDistribution) {
  auto const o = compare(load("baseline"), load("same"), options{});
  EXPECT_EQ(o.code, status::pass) << flagged(o);
  EXPECT_TRUE(o.problems.empty());
  EXPECT_GE(o.rows.size(), 15u);
}

TEST(CompareTest, FlagsAnyChangeInBytesPerDelivery) {
  // +1 % on polling's bytes per delivery, every run: beyond the 0.5 % tolerance.
  auto const worse = compare(load("baseline"), load("bytes"), options{});
  EXPECT_EQ(worse.code, status::regression) << flagged(worse);
  auto const* r = row(worse, "fallbench/mixed/polling/bytes_per_delivery");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->judged, verdict::regression);
  EXPECT_NEAR(r->change, 0.01, 0.001);
  EXPECT_FALSE(r->p_value.has_value()) << "deterministic metrics take no test";
  // The other way it is flagged too, as an improvement (the baseline is then out of date), without failing.
  auto const better = compare(load("bytes"), load("baseline"), options{});
  EXPECT_EQ(row(better, "fallbench/mixed/polling/bytes_per_delivery")->judged, verdict::improvement);
  EXPECT_EQ(better.code, status::pass);
  // Within the tolerance it is the same: 0.3 % is noise of the timestamps' digits.
  options loose;
  loose.deterministic_tolerance = 0.02;
  EXPECT_EQ(compare(load("baseline"), load("bytes"), loose).code, status::pass);
}

TEST(CompareTest, RefusesAnInvalidRun) {
  auto const o = compare(load("baseline"), load("invalid.json"), options{});
  EXPECT_EQ(o.code, status::invalid);
  ASSERT_FALSE(o.problems.empty());
  EXPECT_NE(o.problems.front().find("send lag"), std::string::npos) << o.problems.front();
  // On either side.
  EXPECT_EQ(compare(load("invalid.json"), load("baseline"), options{}).code, status::invalid);
}

TEST(CompareTest, RefusesARunWhoseDeliveryFailed) {
  auto const o = compare(load("baseline"), load("lost.json"), options{});
  EXPECT_EQ(o.code, status::invalid) << flagged(o);
  EXPECT_NE(flagged(o).find("failed its delivery checks"), std::string::npos) << flagged(o);
}

TEST(CompareTest, RefusesResultsOfAnotherScenario) {
  auto const o = compare(load("baseline"), load("other-scenario.json"), options{});
  EXPECT_EQ(o.code, status::incomparable);
  EXPECT_NE(flagged(o).find("scenario"), std::string::npos) << flagged(o);
  EXPECT_TRUE(o.rows.empty());
}

TEST(CompareTest, RefusesDebugAndSanitizerBuilds) {
  auto const debug = compare(load("baseline"), load("debug-build.json"), options{});
  EXPECT_EQ(debug.code, status::incomparable);
  EXPECT_NE(flagged(debug).find("build type 'Debug'"), std::string::npos) << flagged(debug);
  auto sanitized = load("baseline");
  for (auto& f : sanitized) f.doc["generator"]["build_type"] = "ASan";
  EXPECT_EQ(compare(sanitized, sanitized, options{}).code, status::incomparable);
  // Two fit build types that differ are not comparable either.
  auto release = load("same");
  for (auto& f : release) f.doc["generator"]["build_type"] = "Release";
  auto const mixed = compare(load("baseline"), release, options{});
  EXPECT_EQ(mixed.code, status::incomparable);
  EXPECT_NE(flagged(mixed).find("build type differs"), std::string::npos) << flagged(mixed);
}

TEST(CompareTest, RefusesAnotherMachineSchemaOrConfiguration) {
  EXPECT_EQ(compare(load("baseline"), load("other-cores.json"), options{}).code, status::incomparable);
  auto newer = load("same");
  newer.front().doc["schema_version"] = 2;
  EXPECT_EQ(compare(load("baseline"), newer, options{}).code, status::incomparable);
  // `fallbench run --measure 10` leaves the scenario hash alone but not the run's configuration.
  auto longer = load("same");
  for (auto& f : longer) f.doc["runs"][0]["config"]["phases_s"]["measure"] = 10;
  auto const o = compare(load("baseline"), longer, options{});
  EXPECT_EQ(o.code, status::incomparable);
  EXPECT_NE(flagged(o).find("configured differently: config.phases_s is"), std::string::npos) << flagged(o);
  // A run missing on one side.
  auto fewer = load("same");
  fewer.back().doc["runs"][0]["case"] = "other";
  EXPECT_EQ(compare(load("baseline"), fewer, options{}).code, status::incomparable);
}

TEST(CompareTest, MalformedDocumentsAreIncomparableNotACrash) {
  std::vector<result_file> const junk{{"junk.json", json::array({1, 2})}, {"empty.json", json::object()}};
  auto const o = compare(load("baseline"), junk, options{});
  EXPECT_EQ(o.code, status::incomparable);
  EXPECT_NE(flagged(o).find("junk.json"), std::string::npos) << flagged(o);
  EXPECT_NE(flagged(o).find("empty.json: missing or malformed schema_version"), std::string::npos) << flagged(o);
}

TEST(CompareTest, UpgradeWireCostIsBoundedNoiseNotExact) {
  // One run a side, as two back-to-back smoke runs: the upgrade's requests per delivery moved by 21 %
  // (when the upgrade lands decides it), its bytes by 1.8 %. Within their measured noise: not a regression.
  auto base = load("baseline");
  auto cand = load("same");
  base.resize(1);
  cand.resize(1);
  for (auto* side : {&base, &cand}) side->front().doc["runs"][0]["by_strategy"]["upgrade"] = side->front().doc["runs"][0]["by_strategy"]["websocket"];
  auto& up = cand.front().doc["runs"][0]["by_strategy"]["upgrade"]["wire"];
  auto const& was = base.front().doc["runs"][0]["by_strategy"]["upgrade"]["wire"];
  base.front().doc["runs"][0]["by_strategy"]["upgrade"]["wire"]["requests_per_delivery"] = 0.095;
  up["requests_per_delivery"] = 0.095 * 1.211;
  up["bytes_per_delivery"] = was["bytes_per_delivery"].get<double>() * 1.018;
  auto const o = compare(base, cand, options{});
  EXPECT_EQ(row(o, "fallbench/mixed/upgrade/requests_per_delivery")->judged, verdict::same) << flagged(o);
  EXPECT_EQ(row(o, "fallbench/mixed/upgrade/bytes_per_delivery")->judged, verdict::same) << flagged(o);
  // Beyond it, still caught: twice the requests.
  up["requests_per_delivery"] = 0.19;
  auto const twice = compare(base, cand, options{});
  EXPECT_EQ(row(twice, "fallbench/mixed/upgrade/requests_per_delivery")->judged, verdict::regression) << flagged(twice);
}

TEST(CompareTest, AMetricTheCandidateDidNotMeasureIsNeverAPass) {
  // Every candidate run without a time to first message for polling (its histogram counted nothing):
  // schema-valid, and still a broken result.
  auto candidate = load("same");
  for (auto& f : candidate) f.doc["runs"][0]["by_strategy"]["polling"]["ttfm"] = json{{"count", 0}};
  auto const o = compare(load("baseline"), candidate, options{});
  EXPECT_EQ(o.code, status::invalid) << flagged(o);
  EXPECT_NE(flagged(o).find("fallbench/mixed/polling/ttfm_p50_ms: measured in the baseline, absent from every candidate run"),
            std::string::npos)
      << flagged(o);
  // The other way round it is new, not broken: a note, and the verdict of the rest.
  auto const reverse = compare(candidate, load("baseline"), options{});
  EXPECT_EQ(reverse.code, status::pass) << flagged(reverse);
}

TEST(ResultSchemaTest, NamesThePlaceAndTheRuleOfEachViolation) {
  auto doc = load("baseline").front().doc;
  EXPECT_TRUE(results::schema_violations(doc).empty());
  doc["runs"][0].erase("latency");
  doc["runs"][0]["by_strategy"]["websocket"]["wire"]["bytes_per_delivery"] = "lots";
  doc["schema_version"] = 2;
  auto const v = results::schema_violations(doc);
  auto const has = [&](std::string const& what) {
    return std::any_of(v.begin(), v.end(), [&](std::string const& line) { return line.find(what) != std::string::npos; });
  };
  std::string all;
  for (auto const& line : v) all += line + "\n";
  EXPECT_TRUE(has("runs[0]: Missing required property 'latency'")) << all;
  EXPECT_TRUE(has("runs[0].by_strategy.websocket.wire.bytes_per_delivery: Value type not permitted")) << all;
  EXPECT_TRUE(has("schema_version:")) << all;
  EXPECT_THROW(results::check_result("x.json", doc), results::invalid_result);
  EXPECT_THROW(results::check_result("x.json", json::array()), results::invalid_result);
}

// by_strategy is keyed by the seven strategies (docs/strategies.md) and nothing else.
TEST(ResultSchemaTest, ByStrategyKeysAreTheStrategies) {
  auto doc = load("baseline").front().doc;
  auto& by = doc["runs"][0]["by_strategy"];
  for (auto const* name : {"race", "tryall", "remember"}) by[name] = by["websocket"];
  EXPECT_TRUE(results::schema_violations(doc).empty());
  by["carrier-pigeon"] = by["websocket"];
  auto const v = results::schema_violations(doc);
  std::string all;
  for (auto const& line : v) all += line + "\n";
  EXPECT_FALSE(v.empty());
  EXPECT_NE(all.find("by_strategy"), std::string::npos) << all;
}

TEST(CompareTest, IsDirectionAware) {
  // Throughput down is worse, up is better; latency the other way round.
  auto slower = load("same");
  auto faster = load("same");
  double wobble = 0;
  for (auto& f : slower) f.doc["runs"][0]["throughput"]["deliveries_per_s"] = 250.0 + (wobble += 0.5);
  for (auto& f : faster) f.doc["runs"][0]["throughput"]["deliveries_per_s"] = 400.0 + (wobble += 0.5);
  auto const down = compare(load("baseline"), slower, options{});
  EXPECT_EQ(row(down, "fallbench/mixed/deliveries_per_s")->judged, verdict::regression) << flagged(down);
  auto const up = compare(load("baseline"), faster, options{});
  EXPECT_EQ(row(up, "fallbench/mixed/deliveries_per_s")->judged, verdict::improvement) << flagged(up);
  EXPECT_EQ(up.code, status::pass);
  auto const lower = compare(load("regressed"), load("baseline"), options{});
  EXPECT_EQ(row(lower, "fallbench/mixed/fanout_p99_ms")->judged, verdict::improvement);
  EXPECT_EQ(lower.code, status::pass);
}

TEST(CompareTest, MinimumEffectAndItsOverrides) {
  options wide;
  wide.min_effect = 0.50;  // a 20 % shift is then within bound: significant, but not big enough
  auto const o = compare(load("baseline"), load("regressed"), wide);
  EXPECT_EQ(o.code, status::pass) << flagged(o);
  EXPECT_EQ(row(o, "fallbench/mixed/fanout_p99_ms")->judged, verdict::within_bound);
  wide.min_effect_overrides.push_back({"*/polling/fanout_p99_ms", 0.05});
  auto const over = compare(load("baseline"), load("regressed"), wide);
  EXPECT_EQ(over.code, status::regression);
  EXPECT_EQ(row(over, "fallbench/mixed/polling/fanout_p99_ms")->judged, verdict::regression);
  EXPECT_EQ(row(over, "fallbench/mixed/websocket/fanout_p99_ms")->judged, verdict::within_bound);
}

TEST(CompareTest, MetricFilterSelectsByGlob) {
  options only;
  only.metric_filters = {"*/fanout_p50_ms"};
  auto const o = compare(load("baseline"), load("regressed"), only);
  EXPECT_EQ(o.code, status::pass);
  ASSERT_EQ(o.rows.size(), 3u);  // the run and its two strategies
  for (auto const& r : o.rows) EXPECT_TRUE(r.id.ends_with("/fanout_p50_ms")) << r.id;
}

TEST(CompareTest, TooFewRunsCannotShowATimingChange) {
  auto base = load("baseline");
  auto cand = load("regressed");
  base.resize(2);
  cand.resize(2);
  auto const o = compare(base, cand, options{});
  // Not a pass: nothing was shown about the timings.
  EXPECT_EQ(o.code, status::inconclusive);
  EXPECT_EQ(row(o, "fallbench/mixed/fanout_p99_ms")->judged, verdict::too_few_runs);
  ASSERT_FALSE(o.notes.empty());
  EXPECT_NE(o.notes.front().find("too few runs"), std::string::npos);
  auto const md = to_markdown(o, options{});
  EXPECT_NE(md.find("fallbench compare: inconclusive (exit 5)"), std::string::npos) << md;
  EXPECT_NE(md.find("none could be tested (too few runs)"), std::string::npos) << md;
  EXPECT_EQ(md.find("for the 0 of them"), std::string::npos) << md;
  // A deterministic regression is shown whatever the number of runs.
  auto bytes = load("bytes");
  bytes.resize(2);
  EXPECT_EQ(compare(base, bytes, options{}).code, status::regression);
}

TEST(CompareTest, MarkdownTableEscapesWhatTheDocumentsSay) {
  auto base = load("baseline");
  auto cand = load("regressed");
  for (auto* side : {&base, &cand})
    for (auto& f : *side) f.doc["runs"][0]["target"] = "a|b<script>";
  options const opts;
  auto const md = to_markdown(compare(base, cand, opts), opts);
  EXPECT_NE(md.find("| metric | baseline | candidate | change | p-value | verdict |"), std::string::npos) << md;
  EXPECT_NE(md.find("**REGRESSION**"), std::string::npos);
  EXPECT_NE(md.find("(exit 1)"), std::string::npos);
  // Identifiers sit in code spans, which Markdown shows as text, HTML included; a pipe still needs
  // escaping there, or the table splits the cell.
  EXPECT_EQ(md.find("a|b"), std::string::npos) << md;
  for (auto at = md.find("<script>"); at != std::string::npos; at = md.find("<script>", at + 1))
    EXPECT_EQ(md.compare(at - 5, 5, "`a\\|b"), 0) << "outside a code span at " << at << ":\n" << md;
}

TEST(GlobTest, StarAndQuestionMark) {
  EXPECT_TRUE(glob_match("*", "anything/at/all"));
  EXPECT_TRUE(glob_match("*/fanout_p99_ms", "fallbench/mixed/polling/fanout_p99_ms"));
  EXPECT_TRUE(glob_match("fallbench/*/ttfm_p50_ms", "fallbench/mixed/polling/ttfm_p50_ms"));
  EXPECT_TRUE(glob_match("p?9", "p99"));
  EXPECT_FALSE(glob_match("*/fanout_p99_ms", "fallbench/mixed/fanout_p50_ms"));
  EXPECT_FALSE(glob_match("ttfm", "fallbench/mixed/polling/ttfm_p50_ms"));
}

TEST(MachineClassTest, CoresAndCpuModelAsAFolderName) {
  EXPECT_EQ(machine_class(json{{"machine", {{"cpu_model", "AMD EPYC"}, {"cores", 2}}}}), "2core-amd-epyc");
  EXPECT_EQ(machine_class(json{{"machine", {{"cpu_model", "Intel(R) Xeon(R) CPU @ 2.20GHz"}, {"cores", 4}}}}),
            "4core-intel-xeon-cpu-2-20ghz");
  EXPECT_EQ(machine_class(json::object()), "unknowncore-unknown-cpu");
  EXPECT_EQ(machine_class(json{{"machine", {{"cpu_model", "../../etc"}, {"cores", 2}}}}), "2core-etc");
}

// ---- false alarms of the whole comparison --------------------------------------------------------------

/// A result like the fixtures': one run, two strategies, timings log-normal with the given spread.
json synthetic(std::mt19937_64& rng, double cv) {
  std::normal_distribution<double> z(0, 1);
  auto const v = [&](double center) { return std::round(center * std::exp(cv * z(rng))); };
  auto const hist = [&](double p50, double p99) { return json{{"count", 160}, {"p50_us", v(p50)}, {"p99_us", v(p99)}}; };
  json by;
  for (std::string const s : {"polling", "websocket"})
    by[s] = {{"latency", {{"fanout_corrected", hist(470, 740)}, {"ack", hist(450, 800)}}},
             {"ttfm", {{"count", 4}, {"p50_us", std::round(13500 * std::exp(0.01 * z(rng)))}}},
             {"wire", {{"bytes_per_delivery", s == "polling" ? 548.9 : 213.5}, {"requests_per_delivery", s == "polling" ? 1.678 : 0.0}}},
             {"errors", json::object()}};
  json run = {{"target", "fallbench"}, {"case", "mixed"}, {"config", {{"clients", 16}}},
              {"throughput", {{"deliveries_per_s", 320.0}}},
              {"latency", {{"fanout_corrected", hist(470, 740)}, {"ack", hist(450, 800)}}},
              {"by_strategy", by},
              {"delivery", {{"total", {{"lost", 0}, {"duplicated", 0}, {"reordered", 0}}}, {"verdict", {{"overall", "pass"}}}}},
              {"valid", true}};
  return {{"schema_version", 1},
          {"generator", {{"build_type", "RelWithDebInfo"}}},
          {"machine", {{"cpu_model", "Synthetic CPU"}, {"cores", 2}}},
          {"scenario", {{"hash_fnv1a64", "00000000c0ffee00"}}},
          {"runs", json::array({run})}};
}

// How often a whole comparison of two samples of one distribution fails, with its 11 timing metrics
// tested at once: per metric at most alpha / 2 can be a significant regression, and the minimum
// effect cuts that down to a small fraction.
TEST(CompareTest, FalseAlarmRateOfWholeComparisonsOverSyntheticTrials) {
  std::uint64_t const seed = 99;
  std::mt19937_64 rng(seed);
  int constexpr trials = 300;
  int failed = 0, failed_uncorrected = 0;
  std::size_t timing_metrics = 0;
  options uncorrected;
  uncorrected.multiple = correction::none;
  for (int i = 0; i < trials; ++i) {
    std::vector<result_file> base, cand;
    for (int k = 0; k < 10; ++k) {
      base.push_back({"b" + std::to_string(k), synthetic(rng, 0.10)});
      cand.push_back({"c" + std::to_string(k), synthetic(rng, 0.10)});
    }
    auto const o = compare(base, cand, options{});
    ASSERT_NE(o.code, status::incomparable) << flagged(o);
    failed += o.code == status::regression ? 1 : 0;
    failed_uncorrected += compare(base, cand, uncorrected).code == status::regression ? 1 : 0;
    timing_metrics = static_cast<std::size_t>(std::count_if(
        o.rows.begin(), o.rows.end(), [](metric_row const& r) { return r.kind == metric_kind::timing; }));
  }
  double const rate = failed / static_cast<double>(trials);
  double const rate_uncorrected = failed_uncorrected / static_cast<double>(trials);
  std::cout << "[ measured ] whole comparisons of one distribution (" << timing_metrics
            << " timing metrics, cv 10 %, 10 runs a side, alpha 0.05, min effect 10 %), " << trials << " trials (seed "
            << seed << "): " << rate * 100 << " % fail with the Holm correction, " << rate_uncorrected * 100
            << " % without\n";
  RecordProperty("comparison_false_alarm_rate", std::to_string(rate));
  RecordProperty("comparison_false_alarm_rate_uncorrected", std::to_string(rate_uncorrected));
  EXPECT_LE(rate, 0.05) << "seed " << seed;
  EXPECT_GE(rate_uncorrected, rate) << "seed " << seed;
}

}  // namespace
}  // namespace fallbench::compare
