// The load driver against a real `fallbench serve` process: the schedule under a server stall.

#include "fallbench/bench/child_process.hpp"
#include "fallbench/bench/driver.hpp"
#include "fallbench/bench/scenario.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <signal.h>

#include <thread>

namespace fallbench::bench {
namespace {

using namespace std::chrono_literals;

/// A `fallbench serve` child on an ephemeral port, stopped by its destructor.
struct server_child {
  child_process process{{FALLBENCH_BIN, "serve", "--port", "0", "--threads", "1"}, ""};
  endpoint at;
  server_child() {
    auto const url = process.first_line(10s);
    auto const colon = url.rfind(':');
    at.port = static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
  }
};

// A server that stops answering for half a second mid-measurement: the generator keeps its intended
// send times, the corrected latency (from the intended time) shows the stall across the chats due
// during it, the uncorrected one (what a closed-loop generator would see) does not.
TEST(DriverStallTest, CorrectedLatencyShowsAServerStallTheUncorrectedDoesNot) {
  auto const s = parse_scenario(R"({"name":"stall","phases":{"connect_ramp_s":0.3,"warmup_s":0.3,"measure_s":3,"drain_s":1},
    "generator":{"max_lag_ms":100},
    "cases":[{"name":"ws","clients":10,"rooms":1,"strategies":"websocket","rate_per_client_hz":20,"message_bytes":32}]})");
  server_child server;
  constexpr auto stall = 500ms;
  // The stall itself is a timer on its own thread: SIGSTOP when the measure phase is first reported,
  // SIGCONT `stall` later.
  boost::asio::io_context timers;
  boost::asio::steady_timer resume(timers);
  std::thread stall_thread;
  bool stalled = false;
  auto const pid = server.process.pid();
  auto const run = run_case(s, s.cases[0], server.at, {pid}, [&](progress const& p) {
    if (stalled || p.phase != "measure") return;
    stalled = true;
    ::kill(pid, SIGSTOP);
    resume.expires_after(stall);
    resume.async_wait([pid](boost::system::error_code) { ::kill(pid, SIGCONT); });
    stall_thread = std::thread([&] { timers.run(); });
  });
  if (stall_thread.joinable()) stall_thread.join();
  ASSERT_TRUE(stalled) << "the measure phase was never reported";

  auto const& corrected = run["latency"]["fanout_corrected"];
  auto const& uncorrected = run["latency"]["fanout_uncorrected"];
  SCOPED_TRACE("corrected " + corrected.dump().substr(0, 300) + "\nuncorrected " + uncorrected.dump().substr(0, 300));
  double const stall_us = std::chrono::duration<double, std::micro>(stall).count();
  RecordProperty("corrected_p90_us", std::to_string(corrected["p90_us"].get<double>()));
  RecordProperty("uncorrected_p90_us", std::to_string(uncorrected["p90_us"].get<double>()));
  RecordProperty("corrected_max_us", std::to_string(corrected["max_us"].get<double>()));
  // A chat due at the start of the stall waited all of it.
  EXPECT_GE(corrected["max_us"].get<double>(), 0.8 * stall_us);
  // About a sixth of the measured chats were due during the stall: the p90 shows it...
  EXPECT_GE(corrected["p90_us"].get<double>(), 0.1 * stall_us);
  // ...while the closed-loop view sees one late chat per stream and calls the rest fast.
  EXPECT_LT(uncorrected["p90_us"].get<double>(), 0.1 * stall_us);
  // The schedule held: the generator sent on time whatever the server did.
  EXPECT_LT(run["generator"]["send_lag"]["p99_us"].get<double>(), 100'000.0);
  // Nothing was lost: the chats were only late.
  EXPECT_EQ(run["delivery"]["total"]["lost"].get<std::uint64_t>(), 0u) << run["delivery"].dump();
}

}  // namespace
}  // namespace fallbench::bench
