#include "fallbench/bench/scenario.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace fallbench::bench {
namespace {

std::string const minimal = R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"websocket","rate_per_client_hz":1}]})";

// The error names the field and the reason.
void expect_error(std::string const& text, std::string const& needle) {
  try {
    parse_scenario(text);
    ADD_FAILURE() << "accepted: " << text;
  } catch (scenario_error const& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what() << "\nwanted: " << needle;
  }
}

TEST(ScenarioTest, ReadsAMinimalScenarioWithDefaults) {
  auto const s = parse_scenario(minimal);
  EXPECT_EQ(s.name, "t");
  ASSERT_EQ(s.targets.size(), 1u);
  EXPECT_EQ(s.targets[0].type, target::kind::embedded);
  ASSERT_EQ(s.cases.size(), 1u);
  EXPECT_EQ(s.cases[0].clients, 4);
  EXPECT_EQ(s.cases[0].mix.at(transport::strategy::websocket), 1.0);
  EXPECT_EQ(s.cases[0].rooms.count, 1);
  EXPECT_EQ(s.timing.measure, std::chrono::seconds{5});
  EXPECT_NE(s.hash, 0u);
}

TEST(ScenarioTest, CasesInheritDefaults) {
  auto const s = parse_scenario(R"({"name":"t","defaults":{"clients":8,"rooms":2,"rate_per_client_hz":3,"message_bytes":[10,20]},
    "cases":[{"name":"a","strategies":"polling"},{"name":"b","strategies":{"upgrade":3,"fallback":1},"clients":12}]})");
  EXPECT_EQ(s.cases[0].clients, 8);
  EXPECT_EQ(s.cases[1].clients, 12);
  EXPECT_EQ(s.cases[1].rooms.count, 2);
  EXPECT_EQ(s.cases[0].message_bytes_min, 10u);
  EXPECT_EQ(s.cases[0].message_bytes_max, 20u);
  EXPECT_EQ(s.cases[1].mix.at(transport::strategy::upgrade), 3.0);
}

TEST(ScenarioTest, HashChangesWithTheScenario) {
  auto const a = parse_scenario(minimal);
  auto b_text = minimal;
  b_text.replace(b_text.find("\"clients\":4"), 11, "\"clients\":5");
  EXPECT_NE(a.hash, parse_scenario(b_text).hash);
  EXPECT_EQ(a.hash, parse_scenario(minimal).hash);
}

TEST(ScenarioTest, RejectsBadInputNamingTheField) {
  expect_error("not json", "not valid JSON at line 1, column 2");
  expect_error("{\"name\": \"t\",\n  \"cases\": [}", "not valid JSON at line 2, column 13");
  // Found by fuzz_scenario: a number beyond a double's range escaped as nlohmann's out_of_range.
  expect_error(R"({"name":"t","seed":1e999,"cases":[]})", "a number out of range (number overflow parsing '1e999')");
  // A misspelt field is named as what it is, with the field it meant, not as a missing one.
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategy":"polling","rate_per_client_hz":1}]})",
               "cases[0].strategy: unknown field (did you mean 'strategies'?)");
  expect_error(R"({"name":"t","seeed":3,"cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1}]})",
               "seeed: unknown field (did you mean 'seed'?)");
  expect_error(R"({"cases":[]})", "name: required");
  expect_error(R"({"name":"t"})", "cases: required");
  expect_error(R"({"name":"t","cases":[]})", "cases: must be a non-empty array");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":"many","strategies":"polling","rate_per_client_hz":1}]})",
               R"(cases[0].clients: must be an integer from 1 to 100000, got "many")");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":0,"strategies":"polling","rate_per_client_hz":1}]})",
               "cases[0].clients");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"carrier-pigeon","rate_per_client_hz":1}]})",
               "cases[0].strategies: unknown strategy");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":{"polling":-1},"rate_per_client_hz":1}]})",
               "cases[0].strategies.polling: weight must be a positive number");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling"}]})",
               "cases[0].rate_per_client_hz: required");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":2,"rooms":3,"strategies":"polling","rate_per_client_hz":1}]})",
               "cases[0].rooms: more rooms than clients");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1,"message_bytes":[20,10]}]})",
               "cases[0].message_bytes");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1,"churn_per_client_per_min":1}]})",
               "churn needs at least 2 rooms");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","ladder_rates_per_client_hz":[2,1]}]})",
               "cases[0].ladder_rates_per_client_hz: must be rising");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1},{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1}]})",
               "cases[1].name: duplicate name");
  expect_error(R"({"name":"t","targets":[{"name":"x","kind":"url","url":"ftp://h"}],"cases":[{"name":"c","clients":1,"strategies":"polling","rate_per_client_hz":1}]})",
               "targets[0].url: unsupported scheme 'ftp'");
  expect_error(R"({"name":"t","targets":[{"name":"x","kind":"mainframe"}],"cases":[{"name":"c","clients":1,"strategies":"polling","rate_per_client_hz":1}]})",
               "targets[0].kind");
  expect_error(R"({"name":"t","phases":{"measure_s":0},"cases":[{"name":"c","clients":1,"strategies":"polling","rate_per_client_hz":1}]})",
               "phases.measure_s: must be more than 0");
}

TEST(ScenarioTest, PrimingIsOffUnlessThePhasesAskForIt) {
  std::string const cases = R"("cases":[{"name":"c","clients":1,"strategies":"polling","rate_per_client_hz":1}]})";
  EXPECT_FALSE(parse_scenario(R"({"name":"t",)" + cases).timing.prime);
  EXPECT_TRUE(parse_scenario(R"({"name":"t","phases":{"prime":true},)" + cases).timing.prime);
  EXPECT_TRUE(parse_scenario(R"({"name":"t","phases":{"prime":true},)" + cases).cases[0].timing.prime);
  EXPECT_FALSE(parse_scenario(R"({"name":"t","phases":{"prime":false},)" + cases).timing.prime);
  expect_error(R"({"name":"t","phases":{"prime":1},)" + cases, "phases.prime: must be true or false, got 1");
  expect_error(R"({"name":"t","phases":{"primed":true},)" + cases, "phases.primed: unknown field (did you mean 'prime'?)");
}

// A case's own "phases" sets some of them; the others are the scenario's, and the scenario's are
// every other case's.
TEST(ScenarioTest, ACaseMaySetItsOwnPhases) {
  auto const s = parse_scenario(R"({"name":"t",
    "phases":{"connect_ramp_s":2,"warmup_s":2,"measure_s":5,"drain_s":1},
    "defaults":{"clients":4,"rate_per_client_hz":1,"strategies":"websocket"},
    "cases":[{"name":"small"},
             {"name":"large","clients":1000,"phases":{"connect_ramp_s":10,"prime":true}}]})");
  using std::chrono::seconds;
  auto const& small = s.cases[0].timing;
  EXPECT_EQ(small.connect_ramp, seconds{2});
  EXPECT_EQ(small.measure, seconds{5});
  EXPECT_FALSE(small.prime);
  auto const& large = s.cases[1].timing;
  EXPECT_EQ(large.connect_ramp, seconds{10});
  EXPECT_EQ(large.warmup, seconds{2});
  EXPECT_EQ(large.measure, seconds{5});
  EXPECT_EQ(large.drain, seconds{1});
  EXPECT_TRUE(large.prime);
  EXPECT_EQ(s.timing.connect_ramp, seconds{2}) << "the scenario's own are unchanged";

  std::string const head = R"({"name":"t","defaults":{"clients":1,"rate_per_client_hz":1,"strategies":"polling"},"cases":[)";
  expect_error(head + R"({"name":"c","phases":{"measure_s":0}}]})", "cases[0].phases.measure_s: must be more than 0");
  expect_error(head + R"({"name":"c","phases":{"connect_ramp":3}}]})",
               "cases[0].phases.connect_ramp: unknown field (did you mean 'connect_ramp_s'?)");
  expect_error(head + R"({"name":"c","phases":[1]}]})", "cases[0].phases: must be an object");
}

TEST(ScenarioTest, ReadsFaultsAndReconnection) {
  auto const s = parse_scenario(R"({"name":"t","defaults":{"clients":4,"rate_per_client_hz":1,"reconnect":true},
    "cases":[{"name":"a","strategies":"fallback","fault":"refuse-upgrade"},
             {"name":"b","strategies":"upgrade","fault_schedule":"0s:pass,3s:kill-websocket-after"}]})");
  EXPECT_EQ(s.cases[0].fault, "refuse-upgrade");
  EXPECT_TRUE(s.cases[0].fault_schedule.empty());
  EXPECT_EQ(s.cases[1].fault_schedule, "0s:pass,3s:kill-websocket-after");
  EXPECT_TRUE(s.cases[1].reconnect);
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1,"reconnect":"yes"}]})",
               R"(cases[0].reconnect: must be true or false, got "yes")");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1,"fault":""}]})",
               "cases[0].fault: must be a non-empty string");
}

TEST(ScenarioTest, ReadsTheRecoveryWindowWhichTurnsReconnectionOn) {
  auto const s = parse_scenario(R"({"name":"t","defaults":{"clients":4,"rate_per_client_hz":1},
    "cases":[{"name":"on","strategies":"websocket","recovery_window_ms":120000},{"name":"off","strategies":"websocket"}]})");
  EXPECT_EQ(s.cases[0].recovery_window, std::chrono::milliseconds{120'000});
  EXPECT_TRUE(s.cases[0].reconnect) << "a session is recovered when its client reconnects";
  EXPECT_EQ(s.cases[1].recovery_window, std::chrono::milliseconds{0});
  EXPECT_FALSE(s.cases[1].reconnect);
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1,"recovery_window_ms":-1}]})",
               "cases[0].recovery_window_ms: must be an integer from 0 to 86400000, got -1");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1,"recovery_window_ms":1.5}]})",
               "cases[0].recovery_window_ms: must be an integer");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1,"recovery_window_ms":"2m"}]})",
               "cases[0].recovery_window_ms: must be an integer");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1,"recovery_window_ms":1000,"reconnect":false}]})",
               "cases[0].reconnect: must be true with recovery_window_ms");
}

TEST(ScenarioTest, ReadsClientTimeouts) {
  auto const s = parse_scenario(R"({"name":"t","defaults":{"clients":4,"rate_per_client_hz":1,"websocket_timeout_ms":2000},
    "cases":[{"name":"a","strategies":"fallback","fault":"blackhole-upgrade"},
             {"name":"b","strategies":"upgrade","connect_timeout_ms":5000,"websocket_timeout_ms":5000},
             {"name":"c","strategies":"upgrade","websocket_timeout_ms":10000}]})");
  EXPECT_EQ(s.cases[0].websocket_timeout, std::chrono::milliseconds{2000});
  EXPECT_EQ(s.cases[0].connect_timeout, std::chrono::milliseconds{20'000}) << "socket.io-client's default";
  EXPECT_EQ(s.cases[1].connect_timeout, std::chrono::milliseconds{5000});
  EXPECT_EQ(s.cases[2].websocket_timeout, std::chrono::milliseconds{10'000});
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"fallback","rate_per_client_hz":1,
                   "connect_timeout_ms":3000,"websocket_timeout_ms":5000}]})",
               "cases[0].websocket_timeout_ms: must not exceed connect_timeout_ms (3000)");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"fallback","rate_per_client_hz":1,
                   "connect_timeout_ms":0}]})",
               "cases[0].connect_timeout_ms");
}

TEST(ScenarioTest, ReadsTheFieldsStrategiesAndTheRaceStagger) {
  auto const s = parse_scenario(R"({"name":"t","defaults":{"clients":6,"rate_per_client_hz":1},
    "cases":[{"name":"a","strategies":{"race":1,"tryall":1,"remember":1}},
             {"name":"b","strategies":"race","race_stagger_ms":0},
             {"name":"c","strategies":"race","race_stagger_ms":2000}]})");
  EXPECT_EQ(s.cases[0].mix.size(), 3u);
  EXPECT_EQ(s.cases[0].mix.count(transport::strategy::tryall), 1u);
  EXPECT_EQ(s.cases[0].mix.count(transport::strategy::remember), 1u);
  EXPECT_EQ(s.cases[0].race_stagger, std::chrono::milliseconds{250}) << "the default stagger";
  EXPECT_EQ(s.cases[1].race_stagger, std::chrono::milliseconds{0});
  EXPECT_EQ(s.cases[2].race_stagger, std::chrono::milliseconds{2000}) << "Pusher's";
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"race","rate_per_client_hz":1,
                   "race_stagger_ms":-5}]})",
               "cases[0].race_stagger_ms");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"pigeon","rate_per_client_hz":1}]})",
               "(polling, websocket, upgrade, fallback, race, tryall, remember)");
}

/// A one-case scenario whose case ends with `extra` (JSON members) and whose top level adds `top`.
std::string ladder_case(std::string const& extra, std::string const& top = "") {
  return R"({"name":"t",)" + top + R"("cases":[{"name":"c","clients":4,"strategies":"websocket",)" + extra + "}]}";
}

TEST(ScenarioLadderTest, ReadsARisingLadder) {
  auto const s = parse_scenario(
      ladder_case(R"("ladder":{"start_rate_per_client_hz":0.5,"factor":3,"max_steps":5,"refine_steps":2},"stop_p99_ms":40)"));
  ASSERT_TRUE(s.cases[0].ladder);
  auto const& l = *s.cases[0].ladder;
  EXPECT_TRUE(l.rates_per_client_hz.empty());
  EXPECT_EQ(l.start_rate_per_client_hz, 0.5);
  EXPECT_EQ(l.factor, 3);
  EXPECT_EQ(l.max_steps, 5);
  EXPECT_EQ(l.refine_steps, 2);
  EXPECT_EQ(l.stop_p99_ms, 40);
  auto const d = parse_scenario(ladder_case(R"("ladder":{"start_rate_per_client_hz":1})"));
  EXPECT_EQ(d.cases[0].ladder->factor, 2) << "doubling by default";
  EXPECT_EQ(d.cases[0].ladder->max_steps, 10);
  EXPECT_EQ(d.cases[0].ladder->refine_steps, 0);
  EXPECT_EQ(d.cases[0].ladder->stop_p99_ms, 250);
}

TEST(ScenarioLadderTest, KeepsListedLadders) {
  auto const s = parse_scenario(ladder_case(R"("ladder_rates_per_client_hz":[1,4,16])"));
  ASSERT_TRUE(s.cases[0].ladder);
  EXPECT_EQ(s.cases[0].ladder->rates_per_client_hz, (std::vector<double>{1, 4, 16}));
  EXPECT_FALSE(parse_scenario(ladder_case(R"("rate_per_client_hz":2)")).cases[0].ladder);
}

TEST(ScenarioLadderTest, RejectsBadLaddersNamingTheField) {
  expect_error(ladder_case(R"("ladder":{"start_rate_per_client_hz":0})"),
               "cases[0].ladder.start_rate_per_client_hz: must be a rate above 0 and up to 10000, got 0");
  expect_error(ladder_case(R"("ladder":{"factor":2})"), "cases[0].ladder.start_rate_per_client_hz: required");
  expect_error(ladder_case(R"("ladder":{"start_rate_per_client_hz":1,"factor":1})"),
               "cases[0].ladder.factor: must be a number above 1");
  expect_error(ladder_case(R"("ladder":{"start_rate_per_client_hz":1,"factor":"double"})"), "cases[0].ladder.factor");
  expect_error(ladder_case(R"("ladder":{"start_rate_per_client_hz":1,"max_steps":0})"),
               "cases[0].ladder.max_steps: must be an integer from 1 to 100, got 0");
  expect_error(ladder_case(R"("ladder":{"start_rate_per_client_hz":100,"max_steps":12})"),
               "cases[0].ladder.max_steps: step 12 would offer 204800 chats/s per client, over 10000");
  expect_error(ladder_case(R"("ladder":{"start_rate_per_client_hz":1,"refine_steps":9})"), "cases[0].ladder.refine_steps");
  expect_error(ladder_case(R"("ladder":{"start_rate_per_client_hz":1,"step":2})"), "cases[0].ladder.step: unknown field");
  expect_error(ladder_case(R"("ladder":[1,2])"), "cases[0].ladder: must be an object");
  expect_error(ladder_case(R"("ladder":{"start_rate_per_client_hz":1},"ladder_rates_per_client_hz":[1,2])"),
               "cases[0].ladder: give either ladder (rising) or ladder_rates_per_client_hz (listed), not both");
  expect_error(ladder_case(R"("ladder":{"start_rate_per_client_hz":1},"stop_p99_ms":0)"), "cases[0].stop_p99_ms");
  expect_error(ladder_case(R"("stop_p99_ms":100,"rate_per_client_hz":1)"), "cases[0].stop_p99_ms: unknown field");
}

TEST(ScenarioCpusTest, ReadsTargetAndGeneratorCpus) {
  auto const s = parse_scenario(ladder_case(R"("rate_per_client_hz":1)",
                                            R"("targets":[{"name":"a","kind":"embedded","cpus":[0]},{"name":"b","kind":"node-peer"}],
                                               "generator":{"cpus":[1,2]},)"));
  EXPECT_EQ(s.targets[0].cpus, (std::vector<int>{0}));
  EXPECT_TRUE(s.targets[1].cpus.empty());
  EXPECT_EQ(s.generator.cpus, (std::vector<int>{1, 2}));
  EXPECT_NO_THROW(check_cpus(s, {0, 1, 2, 3}));
}

TEST(ScenarioCpusTest, RejectsBadCpusNamingTheField) {
  expect_error(ladder_case(R"("rate_per_client_hz":1)", R"("targets":[{"name":"a","kind":"embedded","cpus":[]}],)"),
               "targets[0].cpus: must be a non-empty array of CPU ids");
  expect_error(ladder_case(R"("rate_per_client_hz":1)", R"("targets":[{"name":"a","kind":"embedded","cpus":[-1]}],)"),
               "targets[0].cpus: CPU ids are integers from 0 to");
  expect_error(ladder_case(R"("rate_per_client_hz":1)", R"("targets":[{"name":"a","kind":"embedded","cpus":["0"]}],)"),
               "targets[0].cpus: CPU ids are integers");
  expect_error(ladder_case(R"("rate_per_client_hz":1)", R"("generator":{"cpus":[1,1]},)"), "generator.cpus: CPU 1 listed twice");
  expect_error(ladder_case(R"("rate_per_client_hz":1)",
                           R"("targets":[{"name":"a","kind":"url","url":"http://h:1","cpus":[0]}],)"),
               "targets[0].cpus: a url target runs outside the harness");
}

TEST(ScenarioCpusTest, RefusesCpusThisMachineDoesNotHave) {
  auto const s = parse_scenario(ladder_case(R"("rate_per_client_hz":1)",
                                            R"("targets":[{"name":"a","kind":"embedded","cpus":[0]},{"name":"b","kind":"embedded","cpus":[7]}],
                                               "generator":{"cpus":[1]},)"));
  try {
    check_cpus(s, {0, 1, 2, 3});
    ADD_FAILURE() << "accepted CPU 7 on a 4-CPU machine";
  } catch (scenario_error const& e) {
    EXPECT_EQ(std::string(e.what()), "targets[1].cpus: CPU 7 is not available on this machine (CPUs 0-3)");
  }
  try {
    check_cpus(s, {0, 2, 3, 4, 7});
    ADD_FAILURE() << "accepted generator CPU 1";
  } catch (scenario_error const& e) {
    EXPECT_EQ(std::string(e.what()), "generator.cpus: CPU 1 is not available on this machine (CPUs 0,2-4,7)");
  }
}

/// A trace file in the test's temporary folder.
std::string write_trace(std::string const& name, std::string const& text) {
  auto const path = std::filesystem::temp_directory_path() / ("fallbench-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

TEST(TraceTest, ReadsEventsSortedWithRoomsInOrderOfAppearance) {
  auto const path = write_trace("ok.jsonl", "# a comment\n"
                                            R"({"t_ms":50,"client":1,"event":"chat","room":"b","bytes":64})" "\n\n"
                                            R"({"t_ms":0,"client":0,"event":"join","room":"a"})" "\n"
                                            R"({"t_ms":10,"client":1,"event":"join","room":"b"})" "\n");
  auto const s = parse_scenario(R"({"name":"t","cases":[{"name":"c","strategies":"websocket","trace":")" + path + R"("}]})");
  auto const& c = s.cases[0];
  ASSERT_EQ(c.trace.size(), 3u);
  EXPECT_EQ(c.trace[0].what, trace_event::kind::join);
  EXPECT_EQ(c.trace[2].at, std::chrono::milliseconds{50});
  EXPECT_EQ(c.trace[2].bytes, 64u);
  EXPECT_EQ(c.trace_rooms, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(c.clients, 2) << "clients default to the highest client in the trace + 1";
  EXPECT_EQ(c.rooms.count, 2);
  EXPECT_EQ(c.rate_per_client_hz, 0.0);
}

TEST(TraceTest, RejectsBadLinesNamingFileLineAndField) {
  auto expect_trace_error = [](std::string const& text, std::string const& needle) {
    auto const path = write_trace("bad.jsonl", text);
    expect_error(R"({"name":"t","cases":[{"name":"c","strategies":"websocket","trace":")" + path + R"("}]})",
                 path + needle);
  };
  expect_trace_error("{not json\n", ":1: not valid JSON");
  expect_trace_error(R"({"t_ms":1e999,"client":0,"event":"join","room":"a"})" "\n", ":1: a number out of range");  // fuzz_trace
  expect_trace_error(R"({"t_ms":0,"client":0,"event":"dance","room":"a"})" "\n", ":1.event: must be join, chat or leave");
  expect_trace_error("\n" R"({"t_ms":-1,"client":0,"event":"join","room":"a"})" "\n", ":2.t_ms: must be a number");
  expect_trace_error(R"({"t_ms":0,"client":0,"event":"join"})" "\n", ":1.room: required");
  expect_trace_error(R"({"t_ms":0,"client":0,"event":"join","room":"a","bytes":5})" "\n", ":1.bytes: only chats have a size");
  expect_trace_error(R"({"t_ms":0,"client":0,"event":"join","room":"a","colour":"red"})" "\n", ":1.colour: unknown field");
  expect_trace_error("# only a comment\n", ": the trace has no event");
  expect_error(R"({"name":"t","cases":[{"name":"c","strategies":"websocket","trace":"/nonexistent.jsonl"}]})",
               "/nonexistent.jsonl: cannot read the trace");
  auto const path = write_trace("two.jsonl", R"({"t_ms":0,"client":4,"event":"join","room":"a"})" "\n");
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":2,"strategies":"websocket","trace":")" + path + R"("}]})",
               "cases[0].clients: the trace has clients up to 4");
}

// A typo must not silently become a default.
TEST(ScenarioTopologyTest, ReadsClustersAndTheScenarioWideDefault) {
  auto const s = parse_scenario(R"({"name":"t","topology":{"kind":"cluster","nodes":3,"sticky":"source"},
    "defaults":{"clients":4,"strategies":"websocket","rate_per_client_hz":1},
    "cases":[{"name":"a"},{"name":"b","topology":{"kind":"single"}},
             {"name":"c","topology":{"kind":"cluster","nodes":2,"balancer":"haproxy","sticky":"none"}}]})");
  EXPECT_EQ(s.cases[0].topology.type, topology_spec::kind::cluster);
  EXPECT_EQ(s.cases[0].topology.nodes, 3);
  EXPECT_EQ(s.cases[0].topology.balancer, "haproxy");
  EXPECT_EQ(s.cases[0].topology.sticky, topology_spec::sticky_kind::source);
  EXPECT_EQ(s.cases[1].topology.type, topology_spec::kind::single);
  EXPECT_EQ(s.cases[2].topology.sticky, topology_spec::sticky_kind::none);
  EXPECT_EQ(to_string(topology_spec::sticky_kind::cookie), "cookie");
  EXPECT_EQ(parse_scenario(minimal).cases[0].topology.type, topology_spec::kind::single);
}

TEST(ScenarioTopologyTest, RejectsBadTopologiesNamingTheField) {
  auto with = [](std::string const& topology) {
    return R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"websocket","rate_per_client_hz":1,"topology":)" +
           topology + "}]}";
  };
  expect_error(with(R"({"kind":"mesh"})"), "cases[0].topology.kind: must be single or cluster");
  expect_error(with(R"({"kind":"cluster","nodes":1,"sticky":"none"})"), "cases[0].topology.nodes: must be an integer from 2 to 16");
  expect_error(with(R"({"kind":"cluster","nodes":2})"), "cases[0].topology.sticky: required");
  expect_error(with(R"({"kind":"cluster","nodes":2,"sticky":"ip"})"), "cases[0].topology.sticky: must be cookie, source or none");
  expect_error(with(R"({"kind":"cluster","nodes":2,"sticky":"none","balancer":"nginx"})"), "cases[0].topology.balancer: must be haproxy");
  expect_error(with(R"({"kind":"cluster","nodes":2,"sticky":"none","weights":[1]})"), "cases[0].topology.weights: unknown field");
  expect_error(with(R"("cluster")"), "cases[0].topology: must be an object");
}

TEST(ScenarioTest, RejectsUnknownFields) {
  expect_error(R"({"name":"t","cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1,"rate_hz":9}]})",
               "cases[0].rate_hz: unknown field");
  expect_error(R"({"name":"t","phase":{},"cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1}]})",
               "phase: unknown field");
  expect_error(R"({"name":"t","generator":{"thread":2},"cases":[{"name":"c","clients":4,"strategies":"polling","rate_per_client_hz":1}]})",
               "generator.thread: unknown field");
}

TEST(ScenarioTest, ReportsAnUnreadableFile) {
  try {
    load_scenario("/nonexistent/scenario.json");
    ADD_FAILURE() << "accepted a missing file";
  } catch (scenario_error const& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read"), std::string::npos) << e.what();
  }
}

// Every shipped scenario validates.
TEST(ScenarioTest, ShippedScenariosValidate) {
  std::filesystem::path const dir = FALLBENCH_SCENARIO_DIR;
  int seen = 0;
  for (auto const& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++seen;
    EXPECT_NO_THROW(load_scenario(entry.path().string())) << entry.path();
  }
  EXPECT_GE(seen, 7);
}

TEST(ScenarioTest, ReadsTargetSettingsAndAnEventMapping) {
  auto const s = parse_scenario(R"({"name":"t","targets":[{"name":"x","kind":"url","url":"https://chat.example.com/app?v=2",
      "namespace":"/chat","headers":{"X-Api-Key":"k"},"cookies":{"session":"s"},"auth":{"token":"t"},"insecure":true,
      "cookie_jar":false,"tls_resume":false}],
    "events":{"join":{"event":"enter","args":[{"channel":"{room}","user":"{name}"}],"confirm":"echo","echo_event":"entered"},
              "chat":{"event":"say","args":[{"channel":"{room}","text":"{msg}"}],"ack":false},
              "delivery":{"event":"said","tag":"text"}},
    "cases":[{"name":"c","clients":2,"strategies":"polling","rate_per_client_hz":1}]})");
  auto const& t = s.targets.at(0);
  EXPECT_EQ(t.settings.nsp, "/chat");
  ASSERT_EQ(t.settings.headers.size(), 1u);
  EXPECT_EQ(t.settings.headers[0].first, "X-Api-Key");
  EXPECT_EQ(t.settings.cookies.at(0).second, "s");
  EXPECT_EQ(t.settings.auth_json, R"({"token":"t"})");
  EXPECT_TRUE(t.settings.insecure);
  EXPECT_FALSE(t.settings.cookie_jar);
  EXPECT_FALSE(t.settings.tls_resume);
  EXPECT_TRUE(parse_scenario(minimal).targets.at(0).settings.tls_resume);
  EXPECT_EQ(s.events.join_event, "enter");
  EXPECT_EQ(s.events.echo_event, "entered");
  EXPECT_EQ(s.events.confirm, chatproto::join_confirm::echo);
  EXPECT_EQ(s.events.chat_event, "say");
  EXPECT_FALSE(s.events.chat_acked);
  EXPECT_EQ(s.events.delivery_event, "said");
  EXPECT_EQ(s.events.tag, chatproto::tag_place::text);
  auto const redacted = redacted_settings(t, s.events).dump();
  for (auto const* secret : {"\"k\"", "\"s\"", "\"t\""}) EXPECT_EQ(redacted.find(secret), std::string::npos) << redacted;
  EXPECT_TRUE(parse_scenario(minimal).events.is_default());
}

TEST(ScenarioTest, RefusesBadTargetsAndMappingsNamingTheField) {
  auto const with_target = [](std::string const& t) {
    return R"({"name":"t","targets":[)" + t + R"(],"cases":[{"name":"c","clients":2,"strategies":"polling","rate_per_client_hz":1}]})";
  };
  expect_error(with_target(R"({"name":"x","kind":"url","url":"http://127.0.0.1:abc"})"), "targets[0].url: bad port 'abc'");
  expect_error(with_target(R"({"name":"x","kind":"url","url":"http://127.0.0.1:99999"})"), "bad port '99999'");
  expect_error(with_target(R"({"name":"x","kind":"url","url":"ftp://h"})"), "unsupported scheme 'ftp'");
  expect_error(with_target(R"({"name":"x","kind":"embedded","namespace":"chat"})"), "targets[0].namespace: namespace 'chat'");
  expect_error(with_target(R"({"name":"x","kind":"embedded","headers":{"Upgrade":"h2c"}})"), "targets[0].headers: header 'Upgrade'");
  expect_error(with_target(R"({"name":"x","kind":"embedded","auth":"token"})"), "targets[0].auth: must be a JSON object");
  expect_error(with_target(R"({"name":"x","kind":"embedded","tls":"yes"})"), "targets[0].tls: must be true or false");
  expect_error(with_target(R"({"name":"x","kind":"embedded","tls":true,"tls_resume":"no"})"),
               R"(targets[0].tls_resume: must be true or false, got "no")");
  expect_error(with_target(R"({"name":"x","kind":"url","url":"http://h:1","tls":true})"),
               "targets[0].tls: a url target is https when its url says https://");
  EXPECT_TRUE(parse_scenario(with_target(R"({"name":"x","kind":"node-peer","tls":true})")).targets[0].tls);
  EXPECT_FALSE(parse_scenario(with_target(R"({"name":"x","kind":"embedded"})")).targets[0].tls);
  auto const with_events = [](std::string const& e) {
    return R"({"name":"t","events":)" + e + R"(,"cases":[{"name":"c","clients":2,"strategies":"polling","rate_per_client_hz":1}]})";
  };
  expect_error(with_events(R"({"join":{"confirm":"maybe"}})"), "events.join.confirm: must be ack, echo");
  expect_error(with_events(R"({"chat":{"args":[{"x":"{room}"}]}})"), "events.chat.args: must carry the message");
  expect_error(with_events(R"({"chat":{"args":[{"x":"{mgs}"}]}})"), "unknown placeholder {mgs}");
  expect_error(with_events(R"({"chat":{"args":["{msg}"]}})"), "first argument must be an object");
  expect_error(with_events(R"({"delivery":{"tag":"nowhere"}})"), "events.delivery.tag");
  expect_error(with_events(R"({"colour":1})"), "events.colour: unknown field");
}

}  // namespace
}  // namespace fallbench::bench
