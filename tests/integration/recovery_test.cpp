// Connection state recovery (docs/recovery.md): the server's side on raw WebSocket clients (what the
// wire carries: pid, offsets, the replay), and the C++ client's side (transports/client, option
// `recovery`) through a fault proxy that cuts its WebSocket.

#include "client_thread.hpp"
#include "test_server.hpp"

#include "fallbench/bench/child_process.hpp"
#include "fallbench/proxy/proxy.hpp"
#include "fallbench/transport/client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

namespace fallbench::integration {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using json = nlohmann::json;

test_server_config with_recovery(std::chrono::milliseconds window = 120'000ms) {
  test_server_config config;
  config.recovery.window = window;
  return config;
}

/// A broadcast as recovery sends it: `42[...,"<offset>"]`, split into the packet without its offset
/// (what the server sends with recovery off) and the offset.
struct offset_packet {
  std::string packet;
  std::string offset;
};
std::optional<offset_packet> split_offset(std::string_view message) {
  if (!message.starts_with("42[") || !message.ends_with("\"]")) return std::nullopt;
  auto const open = message.rfind(",\"", message.size() - 3);
  if (open == std::string_view::npos) return std::nullopt;
  auto offset = std::string(message.substr(open + 2, message.size() - 2 - (open + 2)));
  return offset_packet{std::string(message.substr(0, open)) + "]", std::move(offset)};
}

/// A raw WebSocket Socket.IO client: ws_open, then CONNECT with `auth`; the CONNECT answer's data.
json connect_with(ws_client& ws, unsigned short port, json const& auth = nullptr) {
  if (ws_open(ws, port).is_null()) return nullptr;
  if (!no_error(ws.send(auth.is_null() ? std::string("40") : "40" + auth.dump()))) return nullptr;
  auto const answer = next_message(ws);
  EXPECT_TRUE(answer.starts_with("40{")) << answer;
  if (!answer.starts_with("40{")) return nullptr;
  return json::parse(answer.substr(2), nullptr, false);
}

/// split_offset, or the message as it is (no offset) when the server has recovery off.
offset_packet packet_of(std::string const& message, bool offsets) {
  if (!offsets) return {message, {}};
  auto p = split_offset(message);
  EXPECT_TRUE(p.has_value()) << message;
  return p ? *p : offset_packet{message, {}};
}

/// Join `room` (with ack 1) and read the joiner's own join (returning its offset) and the ack.
std::string join(ws_client& ws, std::string_view room, std::string_view name, bool offsets = true) {
  EXPECT_TRUE(no_error(ws.send(emit_join(room, name, "1"))));
  auto const own = std::optional<offset_packet>(packet_of(next_message(ws), offsets));
  EXPECT_EQ(own->packet, join_event(room, name));
  EXPECT_TRUE(expect_message(ws, ok_ack("1")));
  return own->offset;
}

std::uint64_t persisted(test_server& srv) { return srv.chat().recovery_counters()->sessions_persisted; }

/// Chat `count` times in `room` as `name` ("m0", "m1", ...; another `prefix` for "live0", ...), back to
/// back, reading each own copy and ack.
void chat_burst(ws_client& ws, std::string_view room, std::string_view name, int count, bool offsets = true,
                std::string_view prefix = "m") {
  for (int i = 0; i < count; ++i) {
    auto const msg = std::string(prefix) + std::to_string(i);
    ASSERT_TRUE(no_error(ws.send(emit_chat(room, name, msg, "7"))));
    auto const own = packet_of(next_message(ws), offsets);
    EXPECT_EQ(own.packet, chat_event(room, name, msg));
    ASSERT_TRUE(expect_message(ws, ok_ack("7")));
  }
}

TEST(RecoveryServerTest, RecoveryOffSendsNoPidAndNoOffset) {
  test_server server;
  ws_client ws;
  auto const answer = connect_with(ws, server.port());
  ASSERT_TRUE(answer.is_object());
  EXPECT_TRUE(answer.contains("sid"));
  EXPECT_FALSE(answer.contains("pid"));
  ASSERT_TRUE(no_error(ws.send(emit_join("r1", "a", "1"))));
  EXPECT_TRUE(expect_message(ws, join_event("r1", "a")));
  EXPECT_FALSE(server.chat().recovery_counters().has_value());
}

// The victim's TCP connection is dropped (no close packet: transport close); the room chats for about a
// second, another room too; the victim comes back with its pid and last offset and gets its socket id,
// then the room's missed chats, each once and in order, none of the other room's, then live chats again.
TEST(RecoveryServerTest, ALostConnectionIsRecoveredWithEveryMissedChatOnce) {
  test_server server(with_recovery());
  auto victim = std::make_unique<ws_client>();
  auto const first = connect_with(*victim, server.port());
  ASSERT_TRUE(first.is_object());
  ASSERT_TRUE(first.contains("pid")) << first;
  auto const pid = first["pid"].get<std::string>();
  auto const sid = first["sid"].get<std::string>();
  EXPECT_NE(pid, sid);
  auto const last = join(*victim, "r1", "victim");
  ASSERT_FALSE(last.empty());

  ws_client other, elsewhere;
  ASSERT_TRUE(connect_with(other, server.port()).is_object());
  ASSERT_TRUE(connect_with(elsewhere, server.port()).is_object());
  join(other, "r1", "other");
  join(elsewhere, "r2", "elsewhere");
  // The victim reads the other's join: its last offset is now that one.
  auto const seen = split_offset(next_message(*victim));
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->packet, join_event("r1", "other"));

  victim.reset();  // the connection drops, no close packet
  ASSERT_TRUE(wait_for_condition([&] { return persisted(server) == 1; }));
  EXPECT_EQ(server.closed(transport::close_reason::transport_close), 1u);

  constexpr int missed = 20;
  chat_burst(elsewhere, "r2", "elsewhere", 3);
  chat_burst(other, "r1", "other", missed);  // while the victim is away

  ws_client back;
  auto const answer = connect_with(back, server.port(), json{{"pid", pid}, {"offset", seen->offset}});
  ASSERT_TRUE(answer.is_object());
  EXPECT_EQ(answer.value("sid", ""), sid) << "the same socket id";
  EXPECT_EQ(answer.value("pid", ""), pid);
  std::uint64_t previous = std::stoull(seen->offset);
  for (int i = 0; i < missed; ++i) {
    auto const m = split_offset(next_message(back));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->packet, chat_event("r1", "other", "m" + std::to_string(i)));
    EXPECT_GT(std::stoull(m->offset), previous) << "offsets increase";
    previous = std::stoull(m->offset);
  }
  // Still in r1: a live chat arrives once, and is the next message (nothing more was replayed).
  chat_burst(other, "r1", "other", 1);
  auto const live = split_offset(next_message(back));
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->packet, chat_event("r1", "other", "m0"));
  // (Read before the timed-out read below: a WebSocket read that times out drops the connection.)
  auto const stats = *server.chat().recovery_counters();
  EXPECT_EQ(stats.recovered, 1u);
  EXPECT_EQ(stats.replayed_packets, static_cast<std::uint64_t>(missed));
  EXPECT_EQ(stats.sessions_kept, 0u) << "a pid recovers once; persisted " << stats.sessions_persisted
                                     << ", not recovered " << stats.not_recovered;
  std::string extra;
  EXPECT_TRUE(is_timeout(back.read(extra, 200ms))) << extra;
}

// socket.disconnect() on the client (a Socket.IO DISCONNECT) and an Engine.IO close packet are goodbyes:
// nothing is kept, and coming back with the pid gives a fresh session.
TEST(RecoveryServerTest, AClientInitiatedDisconnectIsNotRecoverable) {
  test_server server(with_recovery());
  for (std::string const goodbye : {"41", "1"}) {
    SCOPED_TRACE(goodbye);
    auto const persisted_before = persisted(server);
    std::string pid, sid, last;
    {
      ws_client ws;
      auto const first = connect_with(ws, server.port());
      ASSERT_TRUE(first.is_object());
      pid = first.value("pid", "");
      sid = first.value("sid", "");
      last = join(ws, "r1", "leaver");
      ASSERT_TRUE(no_error(ws.send(goodbye)));
      if (goodbye == "41") {
        ASSERT_TRUE(no_error(ws.send("1")));
      }
      std::string ignored;
      ws.read(ignored, 1s);  // the server closes
    }
    ASSERT_TRUE(wait_for_condition([&] { return server.engine().stats().sessions_open == 0; }));
    EXPECT_EQ(persisted(server), persisted_before);
    ws_client back;
    auto const answer = connect_with(back, server.port(), json{{"pid", pid}, {"offset", last}});
    ASSERT_TRUE(answer.is_object());
    EXPECT_NE(answer.value("pid", ""), pid);
    EXPECT_NE(answer.value("sid", ""), sid);
    // Nothing replayed: the next message is the broadcast of this client's own join.
    ASSERT_TRUE(no_error(back.send(emit_join("r9", "back", "2"))));
    auto const next = split_offset(next_message(back));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->packet, join_event("r9", "back")) << "nothing replayed before it";
    ASSERT_TRUE(no_error(back.send("1")));  // a goodbye, so that this session is not kept either
    ASSERT_TRUE(wait_for_condition([&] { return server.engine().stats().sessions_open == 0; }));
  }
  EXPECT_EQ(server.chat().recovery_counters()->recovered, 0u);
  EXPECT_EQ(server.chat().recovery_counters()->not_recovered, 2u);
}

// After the window, the pid is forgotten: a fresh session, no rooms, nothing replayed. The store's
// clock is moved past the window rather than waited for.
TEST(RecoveryServerTest, AnExpiredPidGetsAFreshSession) {
  std::atomic<std::chrono::steady_clock::rep> moved_on{0};
  auto config = with_recovery(300ms);
  config.recovery.clock = [&moved_on] {
    return std::chrono::steady_clock::now() + std::chrono::steady_clock::duration{moved_on.load()};
  };
  test_server server(config);
  auto victim = std::make_unique<ws_client>();
  auto const first = connect_with(*victim, server.port());
  ASSERT_TRUE(first.is_object());
  auto const last = join(*victim, "r1", "victim");
  victim.reset();
  ASSERT_TRUE(wait_for_condition([&] { return persisted(server) == 1; }));
  ws_client other;
  ASSERT_TRUE(connect_with(other, server.port()).is_object());
  join(other, "r1", "other");
  moved_on = std::chrono::steady_clock::duration{500ms}.count();
  ws_client back;
  auto const answer = connect_with(back, server.port(), json{{"pid", first["pid"]}, {"offset", last}});
  ASSERT_TRUE(answer.is_object());
  EXPECT_NE(answer.value("sid", ""), first.value("sid", ""));
  EXPECT_NE(answer.value("pid", ""), first.value("pid", ""));
  chat_burst(other, "r1", "other", 1);
  std::string extra;
  EXPECT_TRUE(is_timeout(back.read(extra, 300ms))) << "not in r1 any more, nothing replayed; got " << extra;
  EXPECT_EQ(server.chat().recovery_counters()->recovered, 0u);
}

// The buffer is bounded: past max_packets the oldest are evicted (counted), and a client whose offset
// is older than what is kept cannot be recovered exactly, so it gets a fresh session.
TEST(RecoveryServerTest, TheBufferIsBoundedAndAnEvictedOffsetIsNotRecovered) {
  auto config = with_recovery();
  config.recovery.max_packets = 5;
  test_server server(config);
  auto victim = std::make_unique<ws_client>();
  auto const first = connect_with(*victim, server.port());
  ASSERT_TRUE(first.is_object());
  auto const last = join(*victim, "r1", "victim");
  victim.reset();
  ASSERT_TRUE(wait_for_condition([&] { return persisted(server) == 1; }));
  ws_client other;
  ASSERT_TRUE(connect_with(other, server.port()).is_object());
  join(other, "r1", "other");
  chat_burst(other, "r1", "other", 10);
  auto const stats = *server.chat().recovery_counters();
  EXPECT_EQ(stats.buffered_packets, 5u);
  EXPECT_EQ(stats.evicted_packets, 7u);  // 2 joins + 10 chats, 5 kept
  ws_client back;
  auto const answer = connect_with(back, server.port(), json{{"pid", first["pid"]}, {"offset", last}});
  ASSERT_TRUE(answer.is_object());
  EXPECT_NE(answer.value("sid", ""), first.value("sid", ""));
  EXPECT_EQ(server.chat().recovery_counters()->not_recovered, 1u);
}

// Two nodes of a cluster, wired as serve wires them through Redis (each broadcast handed to the other
// node's deliver_relayed) without the Redis in between: ClusterRelayTest covers that hop.
struct relay_bus {
  std::atomic<chat::chat_app*> to_a{nullptr}, to_b{nullptr};
  static test_server_config node(std::string id, std::atomic<chat::chat_app*>& peer) {
    auto config = with_recovery();
    config.setup = [id = std::move(id), &peer](chat::chat_app& app) {
      app.set_relay(id, [&peer](std::string_view message) {
        if (auto* p = peer.load()) p->deliver_relayed(message);
      });
    };
    return config;
  }
};

// In a cluster each node keeps, with its own offsets, what it delivered to its members, the broadcasts
// that came from other nodes included, so a client that comes back to its node (a sticky balancer)
// recovers the chats sent on another node while it was away, each once and in order.
TEST(RecoveryServerTest, InAClusterTheChatsSentOnAnotherNodeAreRecovered) {
  relay_bus bus;
  test_server a(relay_bus::node("a", bus.to_b));
  test_server b(relay_bus::node("b", bus.to_a));
  bus.to_a = &a.chat();
  bus.to_b = &b.chat();
  struct unwire {
    relay_bus& bus;
    ~unwire() {
      bus.to_a = nullptr;
      bus.to_b = nullptr;
    }
  } const unwired_before_the_nodes_stop{bus};

  auto victim = std::make_unique<ws_client>();
  auto const first = connect_with(*victim, a.port());
  ASSERT_TRUE(first.is_object());
  ASSERT_TRUE(first.contains("pid")) << first;
  join(*victim, "r1", "victim");
  ws_client other;  // on node b
  ASSERT_TRUE(connect_with(other, b.port()).is_object());
  join(other, "r1", "other");
  // The other's join reaches the victim from node b, with node a's offset.
  auto const seen = split_offset(next_message(*victim));
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->packet, join_event("r1", "other"));

  victim.reset();
  ASSERT_TRUE(wait_for_condition([&] { return persisted(a) == 1; }));
  constexpr int missed = 10;
  chat_burst(other, "r1", "other", missed);
  ASSERT_TRUE(wait_for_condition([&] { return a.chat().relay_counters().relayed_in >= 1 + missed; }));

  ws_client back;
  auto const answer = connect_with(back, a.port(), json{{"pid", first["pid"]}, {"offset", seen->offset}});
  ASSERT_TRUE(answer.is_object());
  EXPECT_EQ(answer.value("sid", ""), first.value("sid", "")) << "recovered on its node";
  std::uint64_t previous = std::stoull(seen->offset);
  for (int i = 0; i < missed; ++i) {
    auto const m = split_offset(next_message(back));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->packet, chat_event("r1", "other", "m" + std::to_string(i)));
    EXPECT_GT(std::stoull(m->offset), previous);
    previous = std::stoull(m->offset);
  }
  // Back in r1 across nodes: a live chat from node b arrives once, with node a's next offset.
  chat_burst(other, "r1", "other", 1);
  auto const live = split_offset(next_message(back));
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->packet, chat_event("r1", "other", "m0"));
  EXPECT_GT(std::stoull(live->offset), previous);
  EXPECT_EQ(a.chat().recovery_counters()->replayed_packets, static_cast<std::uint64_t>(missed));
  // The relay carries packets without offsets: node b's member saw node a's broadcasts unchanged.
  EXPECT_EQ(a.chat().relay_counters().malformed, 0u);
}

// ---- The C++ client -------------------------------------------------------------------------------

class proxy_in_front {
 public:
  explicit proxy_in_front(unsigned short upstream_port) {
    proxy::proxy_options o;
    o.upstream = net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), upstream_port);
    relay_ = std::make_unique<proxy::proxy>(ioc_, o, proxy::parse_profile("pass"));
    port_ = relay_->listen(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)).port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~proxy_in_front() {
    relay_->stop();
    thread_.join();
  }
  unsigned short port() const { return port_; }
  void set(std::string_view spec) { relay_->set_profile(proxy::parse_profile(spec)); }

 private:
  net::io_context ioc_;
  std::unique_ptr<proxy::proxy> relay_;
  unsigned short port_ = 0;
  std::thread thread_;
};

struct observer {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::pair<std::string, json>> events;
  int connects = 0;
  int disconnects = 0;

  void attach(transport::client& c) {
    c.on_event([this](std::string_view event, std::string_view args) {
      auto j = json::parse("[" + std::string(args) + "]", nullptr, false);
      std::lock_guard lock(mutex);
      events.emplace_back(std::string(event), std::move(j));
      changed.notify_all();
    });
    c.on_disconnect([this](error_code) {
      std::lock_guard lock(mutex);
      ++disconnects;
      changed.notify_all();
    });
  }
  template <class Pred>
  bool wait(Pred pred, std::chrono::steady_clock::duration d = 10s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, d, [&] { return pred(); });
  }
  std::vector<json> chats() {
    std::vector<json> out;
    for (auto const& [name, args] : events)
      if (name == "chat") out.push_back(args);
    return out;
  }
};

std::string timeline(transport::client const& c) {
  std::string out;
  for (auto const& t : c.transitions()) out += std::string(transport::to_string(t.event)) + "(" + t.detail + ") ";
  return out;
}

/// The C++ client with `recovery` and reconnection, through a proxy that cuts its WebSocket; a member
/// of the room chats for a second meanwhile. `expect_recovered`: whether the server has recovery on.
void cut_and_come_back(unsigned short server_port, unsigned short proxy_port, proxy_in_front& cutter,
                       bool expect_recovered) {
  client_thread thread;
  observer seen;
  std::shared_ptr<transport::client> victim, other;
  auto o = transport::client_options{};
  o.port = proxy_port;
  o.strat = transport::strategy::websocket;
  o.connect_timeout = 5s;
  o.reconnect = true;
  o.reconnect_delay = 1'300ms;  // back after the burst below
  o.reconnect_delay_max = 1'300ms;
  o.randomization_factor = 0;
  o.recovery = true;
  std::promise<void> joined;
  thread.run([&] {
    victim = transport::client::create(thread.executor(), o);
    seen.attach(*victim);
    victim->on_connect([&] {
      std::lock_guard lock(seen.mutex);
      ++seen.connects;
      // The application joins on a fresh connection only: a recovered one is still in its rooms.
      if (!victim->recovered())
        victim->emit("join", R"({"room":"r1","name":"victim"})", [&, n = seen.connects](error_code, std::string_view) {
          if (n == 1) joined.set_value();
        });
      seen.changed.notify_all();
    });
    victim->connect();
  });
  ASSERT_EQ(joined.get_future().wait_for(10s), std::future_status::ready) << timeline(*victim);
  std::string first_sid;
  thread.run([&] { first_sid = victim->socket_id(); });
  ASSERT_FALSE(first_sid.empty());

  ws_client member;
  ASSERT_TRUE(connect_with(member, server_port).is_object());
  join(member, "r1", "member", expect_recovered);
  ASSERT_TRUE(seen.wait([&] { return seen.events.size() == 2; }));
  {
    std::lock_guard lock(seen.mutex);
    EXPECT_EQ(seen.events[1].second, json::array({json{{"room", "r1"}, {"name", "member"}}})) << "offset stripped";
  }

  cutter.set("kill-websocket-after?kill-after-ms=0");
  ASSERT_TRUE(seen.wait([&] { return seen.disconnects == 1; })) << timeline(*victim);
  cutter.set("pass");
  constexpr int missed = 20;
  chat_burst(member, "r1", "member", missed, expect_recovered);
  ASSERT_TRUE(seen.wait([&] { return seen.connects == 2; })) << timeline(*victim);
  if (!expect_recovered) {
    thread.run([&] {
      EXPECT_FALSE(victim->recovered());
      EXPECT_NE(victim->socket_id(), first_sid);
      victim->close();
    });
    return;
  }
  ASSERT_TRUE(seen.wait([&] { return seen.chats().size() >= missed; })) << timeline(*victim);
  // A live chat after the replay is the barrier: the replay was queued before it on the same ordered
  // connection, so a replayed chat sent twice would arrive ahead of it and be counted below.
  chat_burst(member, "r1", "member", 1, true, "live");
  auto const live = json::array({json{{"room", "r1"}, {"name", "member"}, {"msg", "live0"}}});
  ASSERT_TRUE(seen.wait([&] {
    auto const chats = seen.chats();
    return std::find(chats.begin(), chats.end(), live) != chats.end();
  })) << timeline(*victim);
  {
    std::lock_guard lock(seen.mutex);
    auto const chats = seen.chats();
    ASSERT_EQ(chats.size(), static_cast<std::size_t>(missed + 1)) << "each missed chat once, then the live one";
    for (int i = 0; i < missed; ++i)
      EXPECT_EQ(chats[static_cast<std::size_t>(i)],
                json::array({json{{"room", "r1"}, {"name", "member"}, {"msg", "m" + std::to_string(i)}}}));
    EXPECT_EQ(chats.back(), live);
  }
  thread.run([&] {
    EXPECT_TRUE(victim->recovered()) << timeline(*victim);
    EXPECT_EQ(victim->socket_id(), first_sid);
    auto const& t = victim->transitions();
    EXPECT_TRUE(std::any_of(t.begin(), t.end(), [](auto const& x) { return x.event == transport::client_event::recovered; }))
        << timeline(*victim);
    victim->close();
  });
}

TEST(RecoveryClientTest, TheCppClientRecoversItsSessionAndEveryMissedChatOnce) {
  test_server server(with_recovery());
  proxy_in_front cutter(server.port());
  cut_and_come_back(server.port(), cutter.port(), cutter, true);
  EXPECT_EQ(server.chat().recovery_counters()->recovered, 1u);
}

TEST(RecoveryClientTest, AgainstAServerWithoutRecoveryTheClientGetsAFreshSession) {
  test_server server;
  proxy_in_front cutter(server.port());
  cut_and_come_back(server.port(), cutter.port(), cutter, false);
}

// The C++ client against the official socket.io 4.8 server with connectionStateRecovery (the reference
// peer, tools/peers/socketio-node, --recovery-window): its pid and offsets are understood the same way.
TEST(RecoveryClientTest, TheCppClientRecoversOnTheOfficialServer) {
  std::string const source = FALLBENCH_SOURCE_DIR;
  if (!std::filesystem::exists(source + "/node_modules/socket.io/package.json"))
    GTEST_SKIP() << "node_modules/socket.io is missing: run scripts/setup";
  bench::child_process peer({"node", source + "/tools/peers/socketio-node/server.js", "--port", "0",
                             "--recovery-window", "120000"},
                            "");
  auto const url = peer.first_line(15s);
  auto const port = static_cast<unsigned short>(std::stoi(url.substr(url.rfind(':') + 1)));
  proxy_in_front cutter(port);
  cut_and_come_back(port, cutter.port(), cutter, true);
}

}  // namespace
}  // namespace fallbench::integration
