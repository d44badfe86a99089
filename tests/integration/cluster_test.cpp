// Clusters (docs/cluster.md) with a real redis-server and haproxy: two `fallbench serve --redis`
// processes relay a room's chats to each other (and survive Redis going away), and `fallbench run`
// drives 2-node clusters behind haproxy under each stickiness. A test whose redis-server or haproxy is
// not installed exits 77 (ctest: skipped) and says which.

#include "fallbench/bench/child_process.hpp"
#include "fallbench/bench/cluster.hpp"
#include "fallbench/transport/client.hpp"

#include "need_program.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <nlohmann/json.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fallbench::bench {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

using integration::need;

/// A fresh directory under the test's temporary folder, removed afterwards.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = (fs::path(::testing::TempDir()) / "fallbench-cluster-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

/// A `fallbench serve --redis` node on an ephemeral port, stopped by its destructor.
struct node {
  child_process process;
  std::uint16_t port = 0;
  node(std::string const& redis_url, std::string const& id, fs::path const& log_path)
      : process({FALLBENCH_BIN, "serve", "--port", "0", "--threads", "1", "--redis", redis_url, "--node-id", id}, log_path.string()) {
    auto const url = process.first_line(15s);
    port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  }
  json metrics() const {
    auto const r = http_get("127.0.0.1", port, "/metrics", 2s);
    return r && r->first == 200 ? json::parse(r->second) : json();
  }
};

/// Run `io` until `done()` or `limit`; false on the limit.
template <class Done>
bool run_until(boost::asio::io_context& io, Done done, std::chrono::milliseconds limit = 5s) {
  auto const deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_for(10ms);
    io.restart();
  }
  return true;
}

/// A C++ client on one node, in room `room`, recording the chats it receives.
struct member {
  std::shared_ptr<transport::client> client;
  std::vector<std::string> chats;
  bool connected = false;
  int joins_heard = 0;
  member(boost::asio::io_context& io, std::uint16_t port, transport::strategy s) {
    transport::client_options o;
    o.port = port;
    o.strat = s;
    o.connect_timeout = 5s;
    client = transport::client::create(io.get_executor(), o);
    client->on_connect([this] { connected = true; });
    client->on_event([this](std::string_view event, std::string_view args) {
      if (event == "chat") chats.emplace_back(args);
      if (event == "join") ++joins_heard;
    });
    client->connect();
  }
};

// Node 1 and node 2 share room r through Redis: a chat sent by a member on node 1 reaches the member
// on node 2 once, byte for byte as the sender wrote it (unknown fields included); each node counts
// what it published and relayed, and skips its own messages coming back.
TEST(ClusterRelayTest, AChatSentOnNodeOneReachesAMemberOnNodeTwo) {
  need("redis-server");
  temp_dir dir;
  auto redis = start_redis((dir.path / "redis.log").string());
  node n1(redis.url(), "n1", dir.path / "n1.log");
  node n2(redis.url(), "n2", dir.path / "n2.log");
  boost::asio::io_context io;
  member a(io, n1.port, transport::strategy::websocket);
  member b(io, n2.port, transport::strategy::polling);
  ASSERT_TRUE(run_until(io, [&] { return a.connected && b.connected; }));
  b.client->emit("join", R"({"room":"r","name":"b"})");
  ASSERT_TRUE(run_until(io, [&] { return b.joins_heard == 1; }));
  a.client->emit("join", R"({"room":"r","name":"a"})");
  // a's join crosses to node 2: b hears it, so the room spans both nodes from here.
  ASSERT_TRUE(run_until(io, [&] { return b.joins_heard == 2; }));

  std::string const chat = R"({"room":"r","name":"a","msg":"hello","tag":{"seq":1,"x":[1,2]}})";
  bool acked = false;
  a.client->emit("chat", chat, [&](boost::system::error_code ec, std::string_view args) {
    acked = !ec && args == R"([{"ok":true}])";
  });
  ASSERT_TRUE(run_until(io, [&] { return acked && !b.chats.empty() && !a.chats.empty(); }));
  // Another round trip on node 2 before counting: a second copy would have come by then.
  b.client->emit("chat", R"({"room":"r","name":"b","msg":"barrier"})");
  ASSERT_TRUE(run_until(io, [&] { return b.chats.size() >= 2 && a.chats.size() >= 2; }));
  EXPECT_EQ(b.chats.front(), chat) << "relayed as the sender wrote it";
  EXPECT_EQ(std::count(b.chats.begin(), b.chats.end(), chat), 1);
  EXPECT_EQ(std::count(a.chats.begin(), a.chats.end(), chat), 1) << "the sender's node never echoes its own message";

  auto const m1 = n1.metrics();
  auto const m2 = n2.metrics();
  ASSERT_TRUE(m1.contains("cluster")) << m1.dump();
  EXPECT_EQ(m1["cluster"]["node_id"], "n1");
  EXPECT_EQ(m1["cluster"]["published"].get<int>(), 2);  // a's join and chat
  EXPECT_EQ(m2["cluster"]["published"].get<int>(), 2);  // b's join and chat
  EXPECT_EQ(m1["cluster"]["relayed_in"].get<int>(), 2);
  EXPECT_EQ(m2["cluster"]["relayed_in"].get<int>(), 2);
  EXPECT_EQ(m1["cluster"]["own_skipped"].get<int>(), 2);
  EXPECT_EQ(m1["cluster"]["dropped"].get<int>(), 0);
  a.client->close();
  b.client->close();
  io.run_for(100ms);
}

// Redis goes away: local members still get their chats, the publishes are dropped and counted, and
// the nodes reconnect (with backoff) when Redis is back on its port, relaying again.
TEST(ClusterRelayTest, RedisGoingAwayDropsAndCountsThenTheNodesReconnect) {
  need("redis-server");
  temp_dir dir;
  auto redis = start_redis((dir.path / "redis.log").string());
  auto const port = redis.port;
  node n1(redis.url(), "n1", dir.path / "n1.log");
  node n2(redis.url(), "n2", dir.path / "n2.log");
  boost::asio::io_context io;
  member a(io, n1.port, transport::strategy::websocket);
  member b(io, n2.port, transport::strategy::websocket);
  ASSERT_TRUE(run_until(io, [&] { return a.connected && b.connected; }));
  b.client->emit("join", R"({"room":"r","name":"b"})");
  a.client->emit("join", R"({"room":"r","name":"a"})");
  ASSERT_TRUE(run_until(io, [&] { return b.joins_heard == 2 && a.joins_heard >= 1; }));

  redis.process->stop();
  ASSERT_TRUE(run_until(io, [&] { return !n1.metrics()["cluster"]["publisher_up"].get<bool>(); }));
  a.client->emit("chat", R"({"room":"r","name":"a","msg":"while down"})");
  ASSERT_TRUE(run_until(io, [&] { return a.chats.size() == 1; })) << "the local member still gets it";
  ASSERT_TRUE(run_until(io, [&] { return n1.metrics()["cluster"]["dropped"].get<int>() >= 1; }));
  EXPECT_TRUE(b.chats.empty());

  redis_server again;
  try {
    again = start_redis((dir.path / "redis-again.log").string(), port);
  } catch (std::exception const& e) {
    GTEST_SKIP() << "port " << port << " was taken meanwhile: " << e.what();
  }
  ASSERT_TRUE(run_until(io, [&] {
    auto const m1 = n1.metrics()["cluster"], m2 = n2.metrics()["cluster"];
    return m1["subscribed"].get<bool>() && m1["publisher_up"].get<bool>() && m2["subscribed"].get<bool>() &&
           m2["publisher_up"].get<bool>();
  }, 10s)) << "the nodes reconnected";
  EXPECT_GE(n1.metrics()["cluster"]["reconnects"].get<int>(), 2);
  a.client->emit("chat", R"({"room":"r","name":"a","msg":"back"})");
  ASSERT_TRUE(run_until(io, [&] { return b.chats.size() == 1; }));
  EXPECT_NE(b.chats.front().find("back"), std::string::npos);
  a.client->close();
  b.client->close();
  io.run_for(100ms);
}

/// `fallbench run` of one scenario with the given cases (and phases); the result document.
json run_scenario(temp_dir const& dir, std::string const& cases_json,
                  std::string const& phases = R"({"connect_ramp_s":0.5,"warmup_s":0.5,"measure_s":2,"drain_s":1})") {
  auto const scenario = dir.path / "cluster.json";
  std::ofstream(scenario) << R"({"name":"cluster-test",
    "phases":)" << phases << R"(,
    "targets":[{"name":"fallbench","kind":"embedded","threads":1}],
    "defaults":{"clients":18,"rooms":3,"rate_per_client_hz":5,"message_bytes":32,"connect_timeout_ms":4000,
                "websocket_timeout_ms":2000},
    "cases":)" << cases_json << "}";
  auto const result = dir.path / "result.json";
  child_process run({FALLBENCH_BIN, "run", scenario.string(), "--quiet", "--output", result.string()},
                    (dir.path / "run.log").string());
  auto const [status, out] = run.output(60s);
  std::ifstream in(result);
  if (!in) {
    std::ifstream log(dir.path / "run.log");
    std::stringstream text;
    text << log.rdbuf();
    ADD_FAILURE() << "no result; exit " << status << "\n" << out << "\n" << text.str();
    return json();
  }
  return json::parse(in);
}

std::uint64_t count(json const& run, char const* what) { return run["delivery"]["total"].value(what, std::uint64_t{0}); }

// Sticky by source address: each client connects from its own 127.1.x.y, haproxy hashes it to a node,
// and every strategy's session stays on its node. Rooms span both nodes: nothing lost or doubled,
// and a large share of the deliveries crossed nodes through Redis.
TEST(ClusterRunTest, StickyBySourceAllFourStrategiesDeliverEverythingAcrossNodes) {
  need("redis-server");
  need("haproxy");
  temp_dir dir;
  auto const doc = run_scenario(dir, R"([{"name":"source","strategies":{"polling":1,"websocket":1,"upgrade":1,"fallback":1},
    "topology":{"kind":"cluster","nodes":2,"balancer":"haproxy","sticky":"source"}}])");
  ASSERT_EQ(doc["runs"].size(), 1u);
  auto const& run = doc["runs"][0];
  SCOPED_TRACE(run["delivery"].dump() + "\n" + run["topology"].dump());
  EXPECT_TRUE(run["valid"].get<bool>()) << run["invalid_reasons"].dump();
  EXPECT_EQ(run["topology"]["kind"], "cluster");
  EXPECT_EQ(run["topology"]["nodes"], 2);
  EXPECT_EQ(run["topology"]["sticky"], "source");
  EXPECT_GT(count(run, "expected"), 0u);
  EXPECT_EQ(count(run, "lost"), 0u);
  EXPECT_EQ(count(run, "duplicated"), 0u);
  EXPECT_EQ(count(run, "delivered"), count(run, "expected"));
  for (auto const* s : {"polling", "websocket", "upgrade", "fallback"}) {
    ASSERT_TRUE(run["by_strategy"].contains(s)) << s;
    EXPECT_GT(run["by_strategy"][s]["deliveries"].get<std::uint64_t>(), 0u) << s;
    EXPECT_TRUE(run["by_strategy"][s]["errors"].empty()) << s << ": " << run["by_strategy"][s]["errors"].dump();
  }
  // 18 clients hashed over 2 nodes, rooms of 6: a good part of every room is on the other node.
  EXPECT_GT(run["topology"]["crossed_share"].get<double>(), 0.15);
  for (auto const& n : run["topology"]["per_node"]) EXPECT_EQ(n["dropped"].get<int>(), 0) << n.dump();
}

// No stickiness (round robin per request): a polling session's next request lands on the node that
// never heard of it, which answers 400 "Session ID unknown"; upgrade starts on polling and fails the
// same way. A WebSocket-only session is one connection, pinned for its life: it works.
TEST(ClusterRunTest, RoundRobinBreaksPollingAndUpgradeButNotWebSocketOnly) {
  need("redis-server");
  need("haproxy");
  temp_dir dir;
  auto const doc = run_scenario(dir, R"([
    {"name":"polling","strategies":"polling","topology":{"kind":"cluster","nodes":2,"sticky":"none"}},
    {"name":"upgrade","strategies":"upgrade","topology":{"kind":"cluster","nodes":2,"sticky":"none"}},
    {"name":"websocket","strategies":"websocket","topology":{"kind":"cluster","nodes":2,"sticky":"none"}}])");
  ASSERT_EQ(doc["runs"].size(), 3u);
  // The failure by the name users read: the Engine.IO error the other node answered.
  auto session_unknown = [](json const& errors) { return errors.value("HTTP 400: Session ID unknown", std::uint64_t{0}); };
  for (auto const& run : doc["runs"]) {
    std::string const name = run["case"];
    SCOPED_TRACE(name + ": " + run["by_strategy"].dump().substr(0, 2000));
    EXPECT_EQ(run["topology"]["sticky"], "none");
    if (name == "websocket") {
      EXPECT_TRUE(run["valid"].get<bool>()) << run["invalid_reasons"].dump();
      EXPECT_EQ(count(run, "lost"), 0u);
      EXPECT_EQ(count(run, "duplicated"), 0u);
      EXPECT_GT(count(run, "delivered"), 0u);
      EXPECT_GT(run["topology"]["crossed_share"].get<double>(), 0.15);
    } else {
      EXPECT_GT(session_unknown(run["by_strategy"][name]["errors"]), 0u) << "the failure is counted by name";
    }
  }
}

// Sticky by cookie: haproxy inserts `fallbench-node` naming the node on the first response; the
// client's cookie jar sends it back, so polling and upgrade sessions stay on their node.
TEST(ClusterRunTest, StickyByCookieAllFourStrategiesDeliverEverythingAcrossNodes) {
  need("redis-server");
  need("haproxy");
  temp_dir dir;
  auto const doc = run_scenario(dir, R"([{"name":"cookie","strategies":{"polling":1,"websocket":1,"upgrade":1,"fallback":1},
    "topology":{"kind":"cluster","nodes":2,"balancer":"haproxy","sticky":"cookie"}}])");
  ASSERT_EQ(doc["runs"].size(), 1u);
  auto const& run = doc["runs"][0];
  SCOPED_TRACE(run["delivery"].dump() + "\n" + run["topology"].dump());
  EXPECT_TRUE(run["valid"].get<bool>()) << run["invalid_reasons"].dump();
  EXPECT_EQ(count(run, "lost"), 0u);
  EXPECT_EQ(count(run, "duplicated"), 0u);
  EXPECT_EQ(count(run, "delivered"), count(run, "expected"));
  for (auto const* s : {"polling", "websocket", "upgrade", "fallback"})
    EXPECT_TRUE(run["by_strategy"][s]["errors"].empty()) << s << ": " << run["by_strategy"][s]["errors"].dump();
  EXPECT_GT(run["topology"]["crossed_share"].get<double>(), 0.15);
}

// Connection state recovery in a cluster of our servers (docs/recovery.md, "In a cluster"): the proxy
// cuts every WebSocket for 2 s; the WebSocket clients come back through haproxy to their node (the
// cookie sticks), which recovers their sessions and replays what the room got meanwhile, the chats
// sent on the other node included. Nothing lost, nothing missed.
TEST(ClusterRunTest, StickyByCookieAClientCutFromItsNodeRecoversItsSession) {
  need("redis-server");
  need("haproxy");
  temp_dir dir;
  auto const doc = run_scenario(dir, R"([{"name":"recovery","clients":6,"rooms":1,"strategies":{"polling":1,"websocket":1},
    "rate_per_client_hz":5,"recovery_window_ms":120000,
    "fault_schedule":"0s:pass,1500ms:kill-websocket-after?kill-after-ms=0,3500ms:pass",
    "topology":{"kind":"cluster","nodes":2,"balancer":"haproxy","sticky":"cookie"}}])",
                                R"({"connect_ramp_s":0.5,"warmup_s":0.5,"measure_s":4,"drain_s":2.5})");
  ASSERT_EQ(doc["runs"].size(), 1u);
  auto const& run = doc["runs"][0];
  SCOPED_TRACE(run["delivery"].dump() + "\n" + run["by_strategy"].dump().substr(0, 3000) + "\n" + run["topology"].dump());
  EXPECT_EQ(run["topology"]["sticky"], "cookie");
  EXPECT_GT(count(run, "expected"), 0u);
  EXPECT_EQ(count(run, "lost"), 0u);
  EXPECT_EQ(count(run, "missed_disconnected"), 0u);
  EXPECT_EQ(count(run, "duplicated"), 0u);
  auto const& ws = run["by_strategy"]["websocket"]["state_recovery"];
  EXPECT_GE(ws["recovered"].get<int>(), 1);
  EXPECT_EQ(ws["not_recovered"], 0);
  EXPECT_GT(ws["replayed"].get<int>(), 0);
  // 6 clients over 2 nodes in one room: chats crossed nodes, so some replayed ones came from the other.
  EXPECT_GT(run["topology"]["crossed_share"].get<double>(), 0.15);
}

// The balancer's configuration for each stickiness (what docs/cluster.md shows).
TEST(ClusterConfigTest, HaproxyConfigForEachStickiness) {
  std::vector<endpoint> nodes(2);
  nodes[0].port = 4001;
  nodes[1].port = 4002;
  auto const cookie = haproxy_config(nodes, 5000, topology_spec::sticky_kind::cookie, "/health");
  EXPECT_NE(cookie.find("mode http"), std::string::npos);
  EXPECT_NE(cookie.find("timeout tunnel 1h"), std::string::npos);
  EXPECT_NE(cookie.find("bind 127.0.0.1:5000"), std::string::npos);
  EXPECT_NE(cookie.find("cookie fallbench-node insert indirect nocache"), std::string::npos);
  EXPECT_NE(cookie.find("server node2 127.0.0.1:4002 cookie node2"), std::string::npos);
  auto const source = haproxy_config(nodes, 5000, topology_spec::sticky_kind::source, "/health");
  EXPECT_NE(source.find("balance source"), std::string::npos);
  EXPECT_EQ(source.find("cookie"), std::string::npos);
  auto const none = haproxy_config(nodes, 5000, topology_spec::sticky_kind::none, "/health");
  EXPECT_NE(none.find("balance roundrobin"), std::string::npos);
  EXPECT_EQ(none.find("cookie"), std::string::npos);
  EXPECT_EQ(none.find("ssl"), std::string::npos);
  // TLS ends at the balancer: the clients' port speaks https/wss; the health URI on a plain port beside it.
  balancer_tls const tls{"/tmp/x/server-bundle.pem", 5001};
  auto const https = haproxy_config(nodes, 5000, topology_spec::sticky_kind::cookie, "/health", &tls);
  EXPECT_NE(https.find("bind 127.0.0.1:5000 ssl crt /tmp/x/server-bundle.pem\n"), std::string::npos) << https;
  EXPECT_NE(https.find("bind 127.0.0.1:5001\n"), std::string::npos) << https;
  EXPECT_NE(https.find("server node1 127.0.0.1:4001 cookie node1\n"), std::string::npos) << "nodes stay plain: " << https;
}

}  // namespace
}  // namespace fallbench::bench
