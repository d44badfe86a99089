// TLS end to end (docs/tls.md): the chat server with a TLS context and the C++ client over https/wss,
// for each strategy; the typed error of a failed verification; a plain HTTP request to the TLS port;
// `fallbench serve` refusing a bad certificate. The certificates are made at test time by
// the throwaway PKI of test_pki.hpp (nothing secret is committed).

#include "client_thread.hpp"
#include "test_pki.hpp"
#include "test_clients.hpp"
#include "test_server.hpp"

#include "fallbench/transport/client.hpp"
#include "fallbench/transport/tls.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>

namespace fallbench::integration {
namespace {

namespace net = boost::asio;
namespace fs = std::filesystem;
using transport::client;
using transport::client_error;
using transport::client_event;
using transport::strategy;
using namespace std::chrono_literals;

constexpr auto deadline = 10s;

using pki = fallbench::test::test_pki;

/// Two PKIs for the whole suite: the server's, and another CA that did not sign it.
pki& server_pki() {
  static pki p;
  return p;
}
pki& other_pki() {
  static pki p;
  return p;
}

#define REQUIRE_PKI()                                                            \
  do {                                                                           \
    if (!server_pki().ok()) GTEST_SKIP() << server_pki().why();                    \
  } while (0)

test_server_config tls_config() {
  test_server_config config;
  config.options.tls = transport::make_server_tls_context(server_pki().cert(), server_pki().key());
  return config;
}

std::string timeline(client const& c) {
  std::string out;
  for (auto const& t : c.transitions()) out += std::string(transport::to_string(t.event)) + "(" + t.detail + ") ";
  return out;
}

transport::client_options tls_options(unsigned short port, strategy s, std::string ca) {
  transport::client_options o;
  o.port = port;
  o.strat = s;
  o.tls = true;
  o.tls_ca_file = std::move(ca);
  o.connect_timeout = 5s;
  o.websocket_timeout = 3s;
  return o;
}

// ---- Each strategy over https/wss: connect, join, chat with its ack, the own copy, leave ----------

class TlsStrategyTest : public testing::TestWithParam<strategy> {};

TEST_P(TlsStrategyTest, JoinsChatsWithAckAndLeavesOverTls) {
  REQUIRE_PKI();
  auto const strat = GetParam();
  test_server server(tls_config());
  client_thread thread;
  std::promise<std::string> ack;
  std::promise<std::string> own_copy;
  std::promise<void> left;
  std::promise<error_code> ended;
  std::shared_ptr<client> c;
  // By host name, so that SNI is sent and the certificate's DNS name is what is checked.
  auto options = tls_options(server.port(), strat, server_pki().ca());
  options.host = "localhost";
  thread.run([&] {
    c = client::create(thread.executor(), options);
    c->on_event([&](std::string_view event, std::string_view args) {
      if (event == "chat") own_copy.set_value(std::string(args));
      if (event == "leave") left.set_value();
    });
    c->on_disconnect([&](error_code ec) { ended.set_value(ec); });
    c->on_connect([&] {
      c->emit("join", R"({"room":"r1","name":"tls"})");
      c->emit("chat", R"({"room":"r1","name":"tls","msg":"over TLS","seq":7})",
              [&](error_code ec, std::string_view args) { ack.set_value(ec ? ec.message() : std::string(args)); });
    });
    c->connect();
  });
  auto ack_result = ack.get_future();
  ASSERT_EQ(ack_result.wait_for(deadline), std::future_status::ready) << thread.run([&] { return timeline(*c); });
  EXPECT_EQ(ack_result.get(), R"([{"ok":true}])");
  auto copy = own_copy.get_future();
  ASSERT_EQ(copy.wait_for(deadline), std::future_status::ready);
  EXPECT_EQ(copy.get(), R"({"room":"r1","name":"tls","msg":"over TLS","seq":7})");
  if (strat == strategy::upgrade) {
    ASSERT_TRUE(wait_for_condition(
        [&] { return thread.run([&] { return c->transport() == transport::transport_kind::websocket; }); }, 10s))
        << thread.run([&] { return timeline(*c); });
  }
  auto const wire = thread.run([&] {
    EXPECT_EQ(c->transport(), strat == strategy::polling ? transport::transport_kind::polling
                                                         : transport::transport_kind::websocket);
    c->emit("leave", R"({"room":"r1","name":"tls"})");
    return c->counters();
  });
  ASSERT_EQ(left.get_future().wait_for(deadline), std::future_status::ready);
  // The bytes are TCP payload, so the TLS handshake is in them: a certificate chain alone is more
  // than the whole plain exchange of a few hundred bytes.
  EXPECT_GT(wire.bytes_received, 1000u);
  EXPECT_GT(wire.bytes_sent, 300u);
  thread.run([&] { c->close(); });
  auto end = ended.get_future();
  ASSERT_EQ(end.wait_for(deadline), std::future_status::ready);
  EXPECT_EQ(end.get(), client_error::client_close);
  EXPECT_TRUE(wait_for_condition([&] { return server.closed(transport::close_reason::client_close) == 1; }, 10s));
  EXPECT_GE(server.engine().stats().tls_handshakes, 1u);
  EXPECT_EQ(server.engine().stats().tls_handshake_failures, 0u);
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, TlsStrategyTest,
                         testing::Values(strategy::polling, strategy::websocket, strategy::upgrade, strategy::fallback),
                         [](auto const& param_info) { return std::string(transport::to_string(param_info.param)); });

// ---- Verification ---------------------------------------------------------------------------------

class TlsVerifyTest : public testing::TestWithParam<strategy> {};

/// A server certificate signed by a CA the client does not trust ends the session with the typed
/// error, whose detail is OpenSSL's reason; the server counts a failed handshake and nothing else.
TEST_P(TlsVerifyTest, AnUntrustedCertificateIsATypedError) {
  REQUIRE_PKI();
  if (!other_pki().ok()) GTEST_SKIP() << other_pki().why();
  test_server server(tls_config());
  client_thread thread;
  std::promise<error_code> ended;
  std::shared_ptr<client> c;
  thread.run([&] {
    c = client::create(thread.executor(), tls_options(server.port(), GetParam(), other_pki().ca()));
    c->on_disconnect([&](error_code ec) { ended.set_value(ec); });
    c->connect();
  });
  auto end = ended.get_future();
  ASSERT_EQ(end.wait_for(deadline), std::future_status::ready);
  EXPECT_EQ(end.get(), client_error::tls_handshake_failed);
  auto const detail = thread.run([&] { return c->transitions().back().detail; });
  EXPECT_EQ(detail.rfind("TLS handshake failed: certificate verify failed", 0), 0u) << detail;
  EXPECT_TRUE(wait_for_condition([&] { return server.engine().stats().tls_handshake_failures >= 1; }, 10s));
  EXPECT_EQ(server.engine().stats().sessions_opened, 0u);
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, TlsVerifyTest,
                         testing::Values(strategy::polling, strategy::websocket, strategy::upgrade, strategy::fallback),
                         [](auto const& param_info) { return std::string(transport::to_string(param_info.param)); });

/// With verification off (`--insecure`) the same untrusted certificate is accepted.
TEST(TlsVerifyTest, InsecureAcceptsAnUntrustedCertificate) {
  REQUIRE_PKI();
  if (!other_pki().ok()) GTEST_SKIP() << other_pki().why();
  test_server server(tls_config());
  client_thread thread;
  std::promise<void> connected;
  std::shared_ptr<client> c;
  auto options = tls_options(server.port(), strategy::websocket, other_pki().ca());
  options.tls_verify = false;
  thread.run([&] {
    c = client::create(thread.executor(), options);
    c->on_connect([&] { connected.set_value(); });
    c->connect();
  });
  ASSERT_EQ(connected.get_future().wait_for(deadline), std::future_status::ready)
      << thread.run([&] { return timeline(*c); });
  thread.run([&] { c->close(); });
  EXPECT_TRUE(wait_for_condition([&] { return server.engine().stats().sessions_open == 0; }, 10s));
}

/// A CA file that cannot be loaded is a startup error naming the file, not a per-client failure.
TEST(TlsVerifyTest, AnUnreadableCaFileThrowsNamingIt) {
  transport::client_options o;
  o.tls = true;
  o.tls_ca_file = "/nonexistent/ca.pem";
  try {
    transport::client_tls_context(o);
    FAIL() << "no exception";
  } catch (transport::tls_config_error const& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ca.pem"), std::string::npos) << e.what();
  }
}

// ---- Session resumption ----------------------------------------------------------------------------

/// `rounds` sessions of one client, one after another on the client thread: connect, chat with its
/// ack (a polling client's POST channel is its second connection), close. @return the client's counters.
transport::wire_counters sessions_of(client_thread& thread, std::shared_ptr<client> const& c, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    std::promise<std::string> ack;
    std::promise<error_code> ended;
    thread.run([&] {
      c->on_connect([&] {
        c->emit("chat", R"({"room":"r1","name":"tls","msg":"resume"})",
                [&](error_code ec, std::string_view args) { ack.set_value(ec ? ec.message() : std::string(args)); });
      });
      c->on_disconnect([&](error_code ec) { ended.set_value(ec); });
      c->connect();
    });
    auto acked = ack.get_future();
    if (acked.wait_for(deadline) != std::future_status::ready) {
      ADD_FAILURE() << "session " << i << " got no ack: " << thread.run([&] { return timeline(*c); });
      thread.run([&] { c->close(); });
      ended.get_future().wait_for(deadline);
      break;
    }
    thread.run([&] { c->close(); });
    EXPECT_EQ(ended.get_future().wait_for(deadline), std::future_status::ready);
  }
  return thread.run([&] {
    c->on_connect({});
    c->on_disconnect({});
    return c->counters();
  });
}

class TlsResumeTest : public testing::TestWithParam<strategy> {};

/// With resumption on (the default), every TLS connection of a client after its first resumes the
/// session its first one got: for polling the POST channel already, for the others the next
/// session. Another client, even in the same process with the same context, starts with a full
/// handshake: sessions are a client's own. With resumption off, nothing is resumed.
TEST_P(TlsResumeTest, LaterConnectionsOfAClientResumeAndOthersDoNot) {
  REQUIRE_PKI();
  test_server server(tls_config());
  client_thread thread;
  auto const options = tls_options(server.port(), GetParam(), server_pki().ca());
  auto first = thread.run([&] { return client::create(thread.executor(), options); });
  auto const on = sessions_of(thread, first, 3);
  EXPECT_GE(on.tls_handshakes, 3u);
  EXPECT_EQ(on.tls_handshakes, on.tcp_connections);
  EXPECT_EQ(on.tls_resumed, on.tls_handshakes - 1);

  auto second = thread.run([&] { return client::create(thread.executor(), options); });
  auto const other = sessions_of(thread, second, 1);
  EXPECT_GE(other.tls_handshakes, 1u);
  EXPECT_EQ(other.tls_resumed, other.tls_handshakes - 1) << "the first handshake of a new client resumed";

  auto off_options = options;
  off_options.tls_resume = false;
  auto third = thread.run([&] { return client::create(thread.executor(), off_options); });
  auto const off = sessions_of(thread, third, 3);
  EXPECT_EQ(off.tls_handshakes, on.tls_handshakes);
  EXPECT_EQ(off.tls_resumed, 0u);
  EXPECT_EQ(server.engine().stats().tls_handshakes, on.tls_handshakes + other.tls_handshakes + off.tls_handshakes);
  thread.run([&] {
    first.reset();
    second.reset();
    third.reset();
  });
}

INSTANTIATE_TEST_SUITE_P(PollingAndWebSocket, TlsResumeTest, testing::Values(strategy::polling, strategy::websocket),
                         [](auto const& param_info) { return std::string(transport::to_string(param_info.param)); });

/// Over plain http nothing is counted as TLS.
TEST(TlsResumeTest, PlainConnectionsCountNoHandshakes) {
  test_server server;
  client_thread thread;
  transport::client_options o;
  o.port = server.port();
  o.strat = strategy::polling;
  o.connect_timeout = 5s;
  auto const c = thread.run([&] { return client::create(thread.executor(), o); });
  auto const plain = sessions_of(thread, c, 1);
  EXPECT_GE(plain.tcp_connections, 2u);
  EXPECT_EQ(plain.tls_handshakes, 0u);
  EXPECT_EQ(plain.tls_resumed, 0u);
}

// ---- Plain HTTP to the TLS port --------------------------------------------------------------------

/// The connection is closed without an HTTP answer (there is no TLS channel to answer on); the server
/// counts it and goes on serving TLS clients.
TEST(TlsPlainRequestTest, APlainHttpRequestIsClosedCleanly) {
  REQUIRE_PKI();
  test_server server(tls_config());
  {
    net::io_context ioc;
    net::ip::tcp::socket socket(ioc);
    socket.connect({net::ip::address_v4::loopback(), server.port()});
    timeval tv{5, 0};  // a bounded read: a server that never closes fails the test, not hangs it
    ASSERT_EQ(::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    std::string const request = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    net::write(socket, net::buffer(request));
    std::string answer;
    boost::system::error_code ec;
    net::read(socket, net::dynamic_buffer(answer), ec);
    EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
    // Whatever came back (an alert at most) is not HTTP.
    EXPECT_EQ(answer.find("HTTP/"), std::string::npos) << answer;
  }
  EXPECT_TRUE(wait_for_condition([&] { return server.engine().stats().tls_handshake_failures == 1; }, 10s));
  EXPECT_EQ(server.engine().stats().http_requests, 0u);

  client_thread thread;
  std::promise<void> connected;
  std::shared_ptr<client> c;
  thread.run([&] {
    c = client::create(thread.executor(), tls_options(server.port(), strategy::polling, server_pki().ca()));
    c->on_connect([&] { connected.set_value(); });
    c->connect();
  });
  ASSERT_EQ(connected.get_future().wait_for(deadline), std::future_status::ready);
  thread.run([&] { c->close(); });
  EXPECT_TRUE(wait_for_condition([&] { return server.engine().stats().sessions_open == 0; }, 10s));
}

// ---- `fallbench serve` -----------------------------------------------------------------------------

#ifdef FALLBENCH_BIN
/// Run `fallbench ARGS` to its end (at most `limit_s` seconds); @return its exit status and stderr.
std::pair<int, std::string> fallbench(std::string const& args, int limit_s = 60) {
  auto const err = fs::temp_directory_path() / ("fallbench-tls-" + std::to_string(::getpid()) + ".err");
  std::string const cmd =
      "timeout " + std::to_string(limit_s) + " '" FALLBENCH_BIN "' " + args + " >/dev/null 2>'" + err.string() + "'";
  int const status = std::system(cmd.c_str());
  std::ifstream in(err);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(err);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

/// Run `fallbench serve ARGS` expecting it to stop by itself; @return its exit status and stderr.
std::pair<int, std::string> serve_fails(std::string const& args) { return fallbench("serve --port 0 " + args, 10); }

TEST(TlsServeTest, AMissingCertificateIsExit2WithTheReason) {
  auto const [status, err] = serve_fails("--tls-cert /nonexistent/server.pem --tls-key /nonexistent/key.pem");
  EXPECT_EQ(status, 2) << err;
  EXPECT_NE(err.find("/nonexistent/server.pem"), std::string::npos) << err;
}

TEST(TlsServeTest, AKeyThatIsNotTheCertificatesIsExit2WithTheReason) {
  REQUIRE_PKI();
  if (!other_pki().ok()) GTEST_SKIP() << other_pki().why();
  auto const [status, err] =
      serve_fails("--tls-cert '" + server_pki().cert() + "' --tls-key '" + other_pki().key() + "'");
  EXPECT_EQ(status, 2) << err;
  EXPECT_NE(err.find(other_pki().key()), std::string::npos) << err;
  EXPECT_NE(err.find("key values mismatch"), std::string::npos) << "OpenSSL's reason: " << err;
}

// `fallbench run --url https://...` with the test CA: the smoke study over https/wss, valid, every
// strategy delivering; the same with a CA file that does not exist is exit 2 naming it, before any run.
TEST(TlsRunTest, AStudyOverHttpsIsValidAndAMissingCaFileIsExit2) {
  REQUIRE_PKI();
  test_server server(tls_config());
  auto const out = server_pki().dir() / "smoke-over-tls.json";
  std::string const url = "https://127.0.0.1:" + std::to_string(server.port());
  std::string const scenario = "'" FALLBENCH_SOURCE_DIR "/bench/scenarios/smoke.json'";
  auto const [status, err] = fallbench("run --quiet " + scenario + " --url " + url + " --ca-file '" + server_pki().ca() +
                                       "' --measure 1 --output '" + out.string() + "'");
  ASSERT_EQ(status, 0) << err;
  std::ifstream in(out);
  auto const doc = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << "no result at " << out;
  ASSERT_EQ(doc["runs"].size(), 1u);
  auto const& run = doc["runs"][0];
  EXPECT_TRUE(run["valid"].get<bool>()) << run["invalid_reasons"].dump();
  for (auto const& [name, st] : run["by_strategy"].items()) {
    EXPECT_GT(st["deliveries"].get<std::uint64_t>(), 0u) << name;
    EXPECT_TRUE(st["errors"].empty()) << name << ": " << st["errors"].dump();
  }
  EXPECT_EQ(run["target_settings"]["url"], url + "/socket.io/");

  auto const [bad, why] = fallbench("run --quiet " + scenario + " --url " + url + " --ca-file /nonexistent/ca.pem");
  EXPECT_EQ(bad, 2) << why;
  EXPECT_NE(why.find("/nonexistent/ca.pem"), std::string::npos) << why;
}

bool have_program(char const* program) {
  return std::system((std::string("command -v ") + program + " >/dev/null 2>&1").c_str()) == 0;
}

/// `fallbench run` of `scenario` (JSON text) written beside the result; @return the result document.
nlohmann::json run_scenario(pki const& dir, std::string const& name, std::string const& scenario) {
  auto const file = dir.dir() / (name + ".json");
  auto const out = dir.dir() / (name + "-result.json");
  std::ofstream(file) << scenario;
  auto const [status, err] = fallbench("run --quiet '" + file.string() + "' --output '" + out.string() + "'", 120);
  EXPECT_EQ(status, 0) << err;
  std::ifstream in(out);
  auto doc = nlohmann::json::parse(in, nullptr, false);
  EXPECT_TRUE(doc.is_object()) << "no result at " << out << "\n" << err;
  return doc;
}

void expect_everything_delivered(nlohmann::json const& run) {
  auto const& total = run["delivery"]["total"];
  EXPECT_TRUE(run["valid"].get<bool>()) << run["invalid_reasons"].dump();
  EXPECT_GT(total.value("expected", 0), 0);
  EXPECT_EQ(total.value("lost", -1), 0);
  EXPECT_EQ(total.value("duplicated", -1), 0);
  for (auto const& [name, st] : run["by_strategy"].items()) {
    EXPECT_GT(st["deliveries"].get<std::uint64_t>(), 0u) << name;
    EXPECT_TRUE(st["errors"].empty()) << name << ": " << st["errors"].dump();
  }
}

std::string tls_scenario(std::string const& target, std::string const& cases) {
  return R"({"name":"tls-targets","seed":3,"targets":[)" + target + R"(],
    "phases":{"connect_ramp_s":0.3,"warmup_s":0.3,"measure_s":1,"drain_s":0.5},
    "defaults":{"clients":8,"rooms":2,"rate_per_client_hz":5,"message_bytes":32,"connect_timeout_ms":5000,
                "websocket_timeout_ms":2000},
    "cases":)" + cases + "}";
}

// A scenario's `"tls": true` target: the run makes a throwaway CA, serves https/wss with it and trusts
// it, wherever TLS ends: at our server (every strategy), at the fault proxy in front of a plain server
// (which refuses the upgrade here, so fallback lands on polling), and at haproxy in front of a
// 2-node cluster (when redis-server and haproxy are installed). Nothing lost, and the result says
// where TLS ended.
TEST(TlsRunTest, AScenarioTlsTargetIsServedWithAThrowawayCaWhereverTlsEnds) {
  REQUIRE_PKI();
  bool const cluster = have_program("redis-server") && have_program("haproxy");
  std::string cases = R"([{"name":"server","strategies":{"polling":1,"websocket":1,"upgrade":1,"fallback":1}},
    {"name":"proxy","strategies":"fallback","fault":"refuse-upgrade"})";
  if (cluster)
    cases += R"(,{"name":"balancer","strategies":{"polling":1,"upgrade":1},
      "topology":{"kind":"cluster","nodes":2,"balancer":"haproxy","sticky":"cookie"}})";
  else
    std::cerr << "note: redis-server or haproxy is not installed; the balancer case is left out\n";
  cases += "]";
  auto const doc = run_scenario(server_pki(), "embedded-tls",
                                tls_scenario(R"({"name":"fallbench-tls","kind":"embedded","threads":1,"tls":true})", cases));
  ASSERT_TRUE(doc.is_object());
  ASSERT_EQ(doc["runs"].size(), cluster ? 3u : 2u);
  std::map<std::string, std::string> ends = {{"server", "server"}, {"proxy", "fault proxy"}, {"balancer", "balancer"}};
  for (auto const& run : doc["runs"]) {
    std::string const name = run["case"];
    SCOPED_TRACE(name + ": " + run["delivery"].dump() + " " + run["by_strategy"].dump().substr(0, 1500));
    expect_everything_delivered(run);
    ASSERT_TRUE(run.contains("tls"));
    EXPECT_EQ(run["tls"]["terminated_by"], ends[name]);
    for (auto const& [strategy_name, st] : run["by_strategy"].items())
      EXPECT_GE(st["wire"].value("tls_handshakes", 0), st["clients"].get<int>()) << strategy_name;
  }
}

// A study's clients resume their TLS sessions unless the target says `"tls_resume": false`: the
// result counts the handshakes and the resumed ones per strategy, and records the setting.
TEST(TlsRunTest, ATargetWithoutResumptionResumesNothing) {
  REQUIRE_PKI();
  auto const doc = run_scenario(
      server_pki(), "tls-resume",
      tls_scenario(R"({"name":"resume","kind":"embedded","threads":1,"tls":true},
                   {"name":"full","kind":"embedded","threads":1,"tls":true,"tls_resume":false})",
                   R"([{"name":"server","clients":4,"strategies":{"polling":1,"upgrade":1}}])"));
  ASSERT_TRUE(doc.is_object());
  ASSERT_EQ(doc["runs"].size(), 2u);
  for (auto const& run : doc["runs"]) {
    bool const resume = run["target"] == "resume";
    SCOPED_TRACE(run["target"].dump() + ": " + run["by_strategy"].dump().substr(0, 1500));
    expect_everything_delivered(run);
    EXPECT_EQ(run["target_settings"]["tls_resume"], resume);
    for (auto const& [name, st] : run["by_strategy"].items()) {
      auto const handshakes = st["wire"].value("tls_handshakes", 0);
      auto const resumed = st["wire"].value("tls_resumed", -1);
      // Polling's POST channel is each client's second connection (and upgrade's WebSocket its third).
      EXPECT_GE(handshakes, 2 * st["clients"].get<int>()) << name;
      if (resume) {
        EXPECT_GE(resumed, st["clients"].get<int>()) << name;
        EXPECT_LT(resumed, handshakes) << name;
      } else {
        EXPECT_EQ(resumed, 0) << name;
      }
    }
  }
}

// The Node peer served over https with the run's throwaway CA (`--tls-cert/--tls-key` of its own).
TEST(TlsRunTest, TheNodePeerAsATlsTargetDeliversEverything) {
  REQUIRE_PKI();
  if (!fs::exists(FALLBENCH_SOURCE_DIR "/node_modules/socket.io/package.json"))
    GTEST_SKIP() << "node_modules/socket.io is missing: run scripts/setup";
  auto const doc = run_scenario(
      server_pki(), "node-tls",
      tls_scenario(R"({"name":"socketio-node-tls","kind":"node-peer","tls":true})",
                   R"([{"name":"server","strategies":{"polling":1,"websocket":1,"upgrade":1,"fallback":1}}])"));
  ASSERT_TRUE(doc.is_object());
  ASSERT_EQ(doc["runs"].size(), 1u);
  auto const& run = doc["runs"][0];
  SCOPED_TRACE(run["delivery"].dump());
  expect_everything_delivered(run);
  EXPECT_EQ(run["tls"]["terminated_by"], "server");
}

TEST(TlsServeTest, ACertificateWithoutItsKeyIsExit2) {
  auto const [status, err] = serve_fails("--tls-cert /nonexistent/server.pem");
  EXPECT_EQ(status, 2) << err;
  EXPECT_NE(err.find("--tls-key"), std::string::npos) << err;
}
#endif

}  // namespace
}  // namespace fallbench::integration
