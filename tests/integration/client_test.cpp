// The C++ client (transports/client) against the chat server and against scripted fake servers:
// each strategy end to end, fallback, the upgrade under a burst, silence, bad input, reconnection.

#include "client_thread.hpp"
#include "test_server.hpp"

#include "fallbench/bench/child_process.hpp"
#include "fallbench/proxy/proxy.hpp"
#include "fallbench/transport/client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>

namespace fallbench::integration {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using transport::client;
using transport::client_error;
using transport::client_event;
using transport::strategy;
using json = nlohmann::json;
using namespace std::chrono_literals;

/// Every wait in this file: a test that waits longer has failed.
constexpr auto deadline = 10s;

/// What one client saw, filled on the client thread and read by the test under the lock.
struct observer {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::pair<std::string, json>> events;  // event name, arguments array
  std::vector<std::string> acks;
  std::vector<client_event> transitions;
  int connects = 0;
  int disconnects = 0;
  error_code last_disconnect;

  void attach(client& c) {
    c.on_transition([this](transport::transition const& t) {
      std::lock_guard lock(mutex);
      transitions.push_back(t.event);
      changed.notify_all();
    });
    c.on_event([this](std::string_view event, std::string_view args) {
      auto j = json::parse("[" + std::string(args) + "]", nullptr, false);
      std::lock_guard lock(mutex);
      events.emplace_back(std::string(event), std::move(j));
      changed.notify_all();
    });
    c.on_connect([this] {
      std::lock_guard lock(mutex);
      ++connects;
      changed.notify_all();
    });
    c.on_disconnect([this](error_code ec) {
      std::lock_guard lock(mutex);
      ++disconnects;
      last_disconnect = ec;
      changed.notify_all();
    });
  }

  template <class Pred>
  bool wait(Pred pred, std::chrono::steady_clock::duration d = deadline) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, d, [&] { return pred(); });
  }

  std::size_t count(std::string_view name) {
    return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](auto const& e) { return e.first == name; }));
  }

};

transport::client_options options_for(unsigned short port, strategy s) {
  transport::client_options o;
  o.port = port;
  o.strat = s;
  o.connect_timeout = 5s;
  return o;
}

/// Wait for server-side state that no event announces (its counters), checking every few milliseconds.
template <class Pred>
bool poll_until(Pred pred) {
  auto const end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

bool has_transition(client const& c, client_event e) {
  auto const& t = c.transitions();
  return std::any_of(t.begin(), t.end(), [&](auto const& x) { return x.event == e; });
}

std::string timeline(client const& c) {
  std::string out;
  for (auto const& t : c.transitions()) out += std::string(transport::to_string(t.event)) + "(" + t.detail + ") ";
  return out;
}

std::string const room_r1 = R"({"room":"r1","name":"cpp"})";

// ---- Each strategy against the chat server -------------------------------------------------------

class ClientStrategyTest : public testing::TestWithParam<strategy> {};

/// Connect with `strat`, join, chat with ack (own chat received, extra fields passed through), check
/// the transport it ends on and its wire counters, leave, close. @return after the disconnect.
void join_chat_leave(unsigned short port, strategy strat) {
  client_thread thread;
  observer seen;
  std::shared_ptr<client> c;
  std::promise<std::string> ack;
  thread.run([&] {
    c = client::create(thread.executor(), options_for(port, strat));
    seen.attach(*c);
    c->on_connect([&] {
      std::lock_guard lock(seen.mutex);
      ++seen.connects;
      c->emit("join", room_r1);
      c->emit("chat", R"({"room":"r1","name":"cpp","msg":"hello","seq":1})",
              [&](error_code ec, std::string_view args) { ack.set_value(ec ? ec.message() : std::string(args)); });
      seen.changed.notify_all();
    });
    c->connect();
  });
  auto ack_result = ack.get_future();
  ASSERT_EQ(ack_result.wait_for(deadline), std::future_status::ready) << timeline(*c);
  EXPECT_EQ(ack_result.get(), R"([{"ok":true}])");
  ASSERT_TRUE(seen.wait([&] { return seen.count("chat") == 1 && seen.count("join") == 1; })) << timeline(*c);
  {
    std::lock_guard lock(seen.mutex);
    auto const& chat = std::find_if(seen.events.begin(), seen.events.end(), [](auto& e) { return e.first == "chat"; })->second;
    EXPECT_EQ(chat, json::parse(R"([{"room":"r1","name":"cpp","msg":"hello","seq":1}])")) << "unknown fields pass through";
  }
  if (strat == strategy::upgrade) {
    // The upgrade happens in the background; the test waits for it on the client thread's record.
    ASSERT_TRUE(seen.wait([&] {
      return std::find(seen.transitions.begin(), seen.transitions.end(), client_event::upgraded) != seen.transitions.end();
    })) << timeline(*c);
  }
  thread.run([&] {
    auto const expected = strat == strategy::polling ? transport::transport_kind::polling
                                                          : transport::transport_kind::websocket;
    EXPECT_EQ(c->transport(), expected) << timeline(*c);
    c->emit("leave", room_r1);
  });
  ASSERT_TRUE(seen.wait([&] { return seen.count("leave") == 1; })) << timeline(*c);
  thread.run([&] {
    auto const w = c->counters();
    EXPECT_GT(w.bytes_sent, 0u);
    EXPECT_GT(w.bytes_received, w.bytes_sent / 4);
    if (strat == strategy::polling || strat == strategy::upgrade) {
      EXPECT_GT(w.http_requests, 1u);
    }
    if (strat != strategy::polling) {
      EXPECT_GT(w.ws_frames_received, 0u);
    }
    EXPECT_TRUE(has_transition(*c, client_event::namespace_connected));
    c->close();
  });
  ASSERT_TRUE(seen.wait([&] { return seen.disconnects == 1; }));
  EXPECT_EQ(seen.last_disconnect, client_error::client_close);
}

TEST_P(ClientStrategyTest, JoinsChatsWithAckAndLeaves) {
  test_server server;
  join_chat_leave(server.port(), GetParam());
  // The close packet reached the server: the session ended as a client close, not a timeout.
  EXPECT_TRUE(poll_until([&] { return server.closed(transport::close_reason::client_close) == 1; }))
      << server.closed_by_reason();
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, ClientStrategyTest, testing::ValuesIn(transport::all_strategies),
                         [](auto const& param_info) { return std::string(transport::to_string(param_info.param)); });

TEST(ClientFallbackTest, FallsBackToPollingWhenWebSocketIsDisabled) {
  test_server_config config;
  config.options.allow_websocket = false;
  test_server server(config);
  client_thread thread;
  observer seen;
  std::shared_ptr<client> c;
  thread.run([&] {
    c = client::create(thread.executor(), options_for(server.port(), strategy::fallback));
    seen.attach(*c);
    c->connect();
  });
  ASSERT_TRUE(seen.wait([&] { return seen.connects == 1; })) << timeline(*c);
  thread.run([&] {
    EXPECT_EQ(c->transport(), transport::transport_kind::polling);
    auto const& t = c->transitions();
    std::vector<client_event> order;
    for (auto const& x : t) order.push_back(x.event);
    std::vector<client_event> const expected = {client_event::connecting, client_event::websocket_failed,
                                                client_event::fell_back, client_event::handshake_done,
                                                client_event::namespace_connected};
    EXPECT_EQ(order, expected) << timeline(*c);
    EXPECT_LE(t.front().at, t[2].at);
    c->emit("join", room_r1);
    c->emit("chat", R"({"room":"r1","name":"cpp","msg":"over polling"})");
  });
  ASSERT_TRUE(seen.wait([&] { return seen.count("chat") == 1; }));
  thread.run([&] { c->close(); });
}

/// A `fallbench proxy` in this process between the client and the server, on its own thread.
class proxy_in_front {
 public:
  proxy_in_front(unsigned short upstream_port, std::string const& profile_spec) {
    proxy::proxy_options o;
    o.upstream = net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), upstream_port);
    relay_ = std::make_unique<proxy::proxy>(ioc_, o, proxy::parse_profile(profile_spec));
    port_ = relay_->listen(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)).port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~proxy_in_front() {
    relay_->stop();
    thread_.join();
  }
  unsigned short port() const { return port_; }
  proxy::proxy_stats stats() const { return relay_->stats(); }

 private:
  net::io_context ioc_;
  std::unique_ptr<proxy::proxy> relay_;
  unsigned short port_ = 0;
  std::thread thread_;
};

// A proxy that swallows the WebSocket handshake (blackhole-upgrade): the handshake never completes,
// so after websocket_timeout the fallback strategy falls back to polling and the upgrade strategy
// abandons its probe and goes on polling; both chat, well within the connect timeout.
TEST(ClientWebSocketTimeoutTest, ASwallowedHandshakeCostsTheWebSocketTimeoutThenPollingWorks) {
  test_server server;
  proxy_in_front blackhole(server.port(), "blackhole-upgrade");
  for (auto const strat : {strategy::fallback, strategy::upgrade}) {
    SCOPED_TRACE(std::string(transport::to_string(strat)));
    client_thread thread;
    observer seen;
    std::shared_ptr<client> c;
    auto options = options_for(blackhole.port(), strat);
    options.websocket_timeout = 400ms;
    thread.run([&] {
      c = client::create(thread.executor(), options);
      seen.attach(*c);
      c->connect();
      c->emit("join", room_r1);
      c->emit("chat", R"({"room":"r1","name":"cpp","msg":"through the blackhole"})");
    });
    ASSERT_TRUE(seen.wait([&] { return seen.count("chat") == 1; })) << timeline(*c);
    // The upgrade strategy chats before its probe has failed; wait for the verdict on the probe.
    if (strat == strategy::upgrade) {
      ASSERT_TRUE(poll_until([&] {
        bool failed = false;
        thread.run([&] { failed = has_transition(*c, client_event::upgrade_failed); });
        return failed;
      })) << timeline(*c);
    }
    thread.run([&] {
      EXPECT_EQ(c->transport(), transport::transport_kind::polling) << timeline(*c);
      auto const& t = c->transitions();
      auto const at = [&](client_event e) {
        auto const it = std::find_if(t.begin(), t.end(), [&](auto const& x) { return x.event == e; });
        return it == t.end() ? std::chrono::milliseconds{-1}
                             : std::chrono::duration_cast<std::chrono::milliseconds>(it->at - t.front().at);
      };
      auto const gave_up = at(strat == strategy::fallback ? client_event::fell_back : client_event::upgrade_failed);
      EXPECT_GE(gave_up, 350ms) << timeline(*c);  // whole milliseconds, timers of the same loop
      EXPECT_EQ(timeline(*c).find("HTTP 500"), std::string::npos) << "no response, no status: " << timeline(*c);
      EXPECT_NE(timeline(*c).find("no answer within 400 ms"), std::string::npos) << "a timeout, not a refusal";
      EXPECT_LT(gave_up, 3s) << "the WebSocket timeout, not the connect timeout (5 s), decided: " << timeline(*c);
      EXPECT_FALSE(has_transition(*c, client_event::upgraded)) << timeline(*c);
      c->close();
    });
  }
}

// A middlebox that closes HTTP connections idle for 250 ms (idle-timeout) while a polling client
// chats every 600 ms: its POST connection is closed between chats. The client must notice a kept-
// alive connection closed while idle and send on a fresh one, never into the dead one (a POST must
// not be retried once sent). A WebSocket talker keeps the room busy so the parked GET is never idle.
TEST(ClientPollingTest, AKeepAliveConnectionClosedWhileIdleIsReplacedNotFatal) {
  test_server server;
  proxy_in_front idle_cut(server.port(), "idle-timeout?idle-ms=250");
  client_thread thread;
  observer poller_seen, talker_seen;
  std::shared_ptr<client> poller, talker;
  thread.run([&] {
    talker = client::create(thread.executor(), options_for(server.port(), strategy::websocket));
    talker_seen.attach(*talker);
    talker->connect();
    talker->emit("join", R"({"room":"r1","name":"talker"})");
    poller = client::create(thread.executor(), options_for(idle_cut.port(), strategy::polling));
    poller_seen.attach(*poller);
    poller->connect();
    poller->emit("join", room_r1);
  });
  ASSERT_TRUE(poller_seen.wait([&] { return poller_seen.count("join") >= 1; })) << timeline(*poller);
  // On the client thread's timers: the talker chats every 40 ms until the poller has its three acks;
  // the poller chats every 600 ms (its POST connection idles 600 ms between chats: cut at 250 ms).
  // The talker's 40 ms leave the parked GET six times inside the cut, also under a sanitizer on a
  // loaded machine (at 100 ms, 2.5 times, it was cut there once).
  net::steady_timer talk_timer(thread.executor()), poll_timer(thread.executor());
  bool done = false;  // client thread only
  std::function<void()> talk = [&] {
    if (done) return;
    talker->emit("chat", R"({"room":"r1","name":"talker","msg":"keep the poll busy"})");
    talk_timer.expires_after(40ms);
    talk_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) talk();
    });
  };
  int poller_chats = 0;
  std::function<void()> poll_chat = [&] {
    poll_timer.expires_after(600ms);
    poll_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      poller->emit("chat", R"({"room":"r1","name":"cpp","msg":"after an idle cut )" + std::to_string(poller_chats) + R"("})",
                   [&](error_code ack_ec, std::string_view args) {
                     std::lock_guard lock(poller_seen.mutex);
                     poller_seen.acks.push_back(ack_ec ? "error: " + ack_ec.message() : std::string(args));
                     poller_seen.changed.notify_all();
                   });
      if (++poller_chats < 3) poll_chat();
    });
  };
  thread.run([&] {
    talk();
    poll_chat();
  });
  bool const acked = poller_seen.wait([&] { return poller_seen.acks.size() == 3; });
  thread.run([&] {
    done = true;
    talk_timer.cancel();
    poll_timer.cancel();
  });
  ASSERT_TRUE(acked) << timeline(*poller);
  {
    std::lock_guard lock(poller_seen.mutex);  // released before the client thread runs again
    for (auto const& a : poller_seen.acks) EXPECT_NE(a.find("\"ok\":true"), std::string::npos) << a;
    EXPECT_EQ(poller_seen.disconnects, 0);
  }
  EXPECT_GE(idle_cut.stats().faults, 2u) << "the proxy did cut idle connections";
  thread.run([&] {
    EXPECT_FALSE(has_transition(*poller, client_event::disconnected)) << timeline(*poller);
    EXPECT_EQ(poller->transport(), transport::transport_kind::polling);
    poller->close();
    talker->close();
  });
}

// A middlebox that lets the WebSocket handshake through and cuts the connection at once
// (kill-websocket-after, 0 ms): the session dies before its namespace connects, whether or not the
// Engine.IO open packet got through first. The fallback strategy must not retry WebSocket forever:
// it reconnects on polling, and stays connected there.
TEST(ClientFallbackTest, AWebSocketCutBeforeTheNamespaceConnectsMakesTheReconnectionUsePolling) {
  test_server server;
  proxy_in_front cutter(server.port(), "kill-websocket-after?kill-after-ms=0");
  client_thread thread;
  observer seen;
  std::shared_ptr<client> c;
  auto options = options_for(cutter.port(), strategy::fallback);
  options.reconnect = true;
  options.reconnect_delay = 20ms;
  options.reconnect_delay_max = 100ms;
  thread.run([&] {
    c = client::create(thread.executor(), options);
    seen.attach(*c);
    c->connect();
    c->emit("join", room_r1);
    c->emit("chat", R"({"room":"r1","name":"cpp","msg":"after the cut"})");
  });
  ASSERT_TRUE(seen.wait([&] { return seen.count("chat") == 1; })) << timeline(*c);
  thread.run([&] {
    EXPECT_EQ(c->transport(), transport::transport_kind::polling) << timeline(*c);
    EXPECT_TRUE(has_transition(*c, client_event::fell_back)) << timeline(*c);
    RecordProperty("timeline", timeline(*c));
    c->close();
  });
}

// ---- The upgrade under a burst ------------------------------------------------------------------

// Chats sent while the sender upgrades from polling to WebSocket reach another member once each, in order.
// `sent_before_upgrade` tells whether this run tested it: how many chats went out on polling before
// the switch (0: the upgrade was done before the first chat; -1: not during the burst).
void burst_across_upgrade_once(unsigned short port, int& sent_before_upgrade) {
  constexpr int burst = 300;
  client_thread thread;
  observer receiver_seen;
  observer sender_seen;
  std::shared_ptr<client> receiver, sender;
  sent_before_upgrade = -1;
  int sent = 0;
  thread.run([&] {
    receiver = client::create(thread.executor(), options_for(port, strategy::websocket));
    receiver_seen.attach(*receiver);
    receiver->connect();
  });
  ASSERT_TRUE(receiver_seen.wait([&] { return receiver_seen.connects == 1; }));
  std::promise<void> joined;
  thread.run([&] {
    receiver->emit("join", R"({"room":"burst","name":"receiver"})", [&](error_code, std::string_view) { joined.set_value(); });
  });
  ASSERT_EQ(joined.get_future().wait_for(deadline), std::future_status::ready);
  thread.run([&] {
    sender = client::create(thread.executor(), options_for(port, strategy::upgrade));
    sender_seen.attach(*sender);
    sender->on_connect([&] {
      sender->emit("join", R"({"room":"burst","name":"sender"})");
      // Five chats every half millisecond: the burst lasts ~30 ms, longer than the upgrade's few
      // round trips, so chats go out on polling, are held during the switch, then go on WebSocket.
      auto timer = std::make_shared<net::steady_timer>(thread.executor());
      // The pending wait holds the step, the step only a weak reference to itself: no cycle to leak.
      auto step = std::make_shared<std::function<void()>>();
      *step = [&, weak_step = std::weak_ptr<std::function<void()>>(step), timer] {
        for (int k = 0; k < 5 && sent < burst; ++k, ++sent) {
          if (sent_before_upgrade < 0 && sender->transport() == transport::transport_kind::websocket)
            sent_before_upgrade = sent;
          sender->emit("chat", json{{"room", "burst"}, {"name", "sender"}, {"msg", "m"}, {"seq", sent}}.dump());
        }
        if (sent == burst) return;
        timer->expires_after(500us);
        timer->async_wait([next = weak_step.lock()](error_code ec) {
          if (!ec) (*next)();
        });
      };
      (*step)();
    });
    sender->connect();
  });
  ASSERT_TRUE(receiver_seen.wait([&] { return receiver_seen.count("chat") >= burst; }));
  {
    std::lock_guard lock(receiver_seen.mutex);
    std::vector<int> seqs;
    for (auto const& [name, args] : receiver_seen.events)
      if (name == "chat") seqs.push_back(args.at(0).at("seq").get<int>());
    ASSERT_EQ(seqs.size(), static_cast<std::size_t>(burst));
    for (int i = 0; i < burst; ++i) ASSERT_EQ(seqs[static_cast<std::size_t>(i)], i) << "at position " << i;
  }
  ASSERT_TRUE(sender_seen.wait([&] {
    return std::find(sender_seen.transitions.begin(), sender_seen.transitions.end(), client_event::upgraded) !=
           sender_seen.transitions.end();
  }));
  thread.run([&] {
    sender->close();
    receiver->close();
  });
}

// The burst must straddle the upgrade to test it. Under a sanitizer on a busy machine the upgrade can
// be done before the sender's first chat, so a run that did not straddle it (its delivery still
// checked) is followed by another, at most three in all.
void burst_across_upgrade(unsigned short port) {
  int sent_before_upgrade = -1;
  for (int run = 0; run < 3 && sent_before_upgrade <= 0; ++run) {
    burst_across_upgrade_once(port, sent_before_upgrade);
    if (testing::Test::HasFatalFailure()) return;
  }
  // Evidence that the burst straddled the upgrade: chats went out on polling before the switch.
  testing::Test::RecordProperty("sent_before_upgrade", sent_before_upgrade);
  EXPECT_GT(sent_before_upgrade, 0) << "in three runs the burst never straddled the upgrade: the test did not test it";
}

TEST(ClientUpgradeTest, BurstAcrossUpgradeArrivesOnceInOrder) {
  test_server server;
  burst_across_upgrade(server.port());
}

// ---- The same client against the official socket.io server (tools/peers/socketio-node) ----------

/// The Node peer on an ephemeral port, stopped by its destructor; skips the test when Node or the
/// npm packages are missing (scripts/setup installs them).
class peer_process {
 public:
  peer_process() {
    std::string const source = FALLBENCH_SOURCE_DIR;
    if (!std::filesystem::exists(source + "/node_modules/socket.io/package.json")) return;
    process_ = std::make_unique<bench::child_process>(
        std::vector<std::string>{"node", source + "/tools/peers/socketio-node/server.js", "--port", "0"}, "");
    auto const url = process_->first_line(15s);
    port_ = static_cast<unsigned short>(std::stoi(url.substr(url.rfind(':') + 1)));
  }
  unsigned short port() const { return port_; }
  bool running() const { return process_ != nullptr; }

 private:
  std::unique_ptr<bench::child_process> process_;
  unsigned short port_ = 0;
};

class ClientPeerTest : public testing::TestWithParam<strategy> {};

TEST_P(ClientPeerTest, JoinsChatsWithAckAndLeaves) {
  peer_process peer;
  if (!peer.running()) GTEST_SKIP() << "node_modules/socket.io is missing: run scripts/setup";
  join_chat_leave(peer.port(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, ClientPeerTest, testing::ValuesIn(transport::all_strategies),
                         [](auto const& param_info) { return std::string(transport::to_string(param_info.param)); });

TEST(ClientPeerUpgradeTest, BurstAcrossUpgradeArrivesOnceInOrder) {
  peer_process peer;
  if (!peer.running()) GTEST_SKIP() << "node_modules/socket.io is missing: run scripts/setup";
  burst_across_upgrade(peer.port());
}

// ---- Scripted fake servers: silence, bad input, abrupt close, reconnection -------------------------

/// The listening side of a fake server below, whose own thread does blocking I/O: accept() keeps each
/// connection's descriptor, so that shutdown_all() ends every read still waiting, and the accept too.
class loopback_listener {
 public:
  loopback_listener() : acceptor_(ioc_, {net::ip::address_v4::loopback(), 0}) {}
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  /// The next connection; nullopt once shutdown_all() has run.
  std::optional<net::ip::tcp::socket> accept() {
    boost::system::error_code ec;
    net::ip::tcp::socket socket(ioc_);
    acceptor_.accept(socket, ec);
    if (ec) return std::nullopt;
    std::lock_guard lock(mutex_);
    fds_.push_back(socket.native_handle());
    return socket;
  }
  void shutdown_all() {
    {
      std::lock_guard lock(mutex_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  }

 private:
  net::io_context ioc_;
  net::ip::tcp::acceptor acceptor_;
  std::mutex mutex_;
  std::vector<int> fds_;
};

/// A WebSocket server that runs one script per accepted connection, on its own thread. Blocking I/O;
/// the destructor shuts the sockets down, which ends any read still waiting.
class fake_server {
 public:
  using ws = beast::websocket::stream<net::ip::tcp::socket>;
  using script = std::function<void(ws&)>;

  explicit fake_server(std::vector<script> scripts) : scripts_(std::move(scripts)) {
    thread_ = std::thread([this] {
      for (auto& s : scripts_) {
        auto socket = listener_.accept();
        if (!socket) return;
        boost::system::error_code ec;
        ws stream(std::move(*socket));
        stream.accept(ec);
        if (ec) continue;
        try {
          s(stream);
        } catch (boost::system::system_error const&) {
          // The client went away or the test ended: the next script.
        }
      }
    });
  }
  ~fake_server() {
    listener_.shutdown_all();
    thread_.join();
  }
  unsigned short port() const { return listener_.port(); }

  static std::string open_packet(int ping_interval_ms = 300, int ping_timeout_ms = 300) {
    return R"(0{"sid":"fake","upgrades":[],"pingInterval":)" + std::to_string(ping_interval_ms) +
           R"(,"pingTimeout":)" + std::to_string(ping_timeout_ms) + R"(,"maxPayload":1000000})";
  }
  /// Read frames until `text` arrives.
  static void expect(ws& s, std::string_view text) {
    beast::flat_buffer b;
    while (true) {
      s.read(b);
      if (beast::buffers_to_string(b.data()) == text) return;
      b.consume(b.size());
    }
  }
  static void write(ws& s, std::string_view text) { s.write(net::buffer(text)); }
  /// Wait until the client closes or the test ends.
  static void drain(ws& s) {
    beast::flat_buffer b;
    boost::system::error_code ec;
    while (!ec) s.read(b, ec), b.consume(b.size());
  }

 private:
  loopback_listener listener_;
  std::vector<script> scripts_;
  std::thread thread_;
};

struct fake_case {
  char const* name;
  fake_server::script script;
  client_error expected;
};

// Test names print the case's name, not its bytes.
void PrintTo(fake_case const& c, std::ostream* os) { *os << c.name; }

class ClientBadServerTest : public testing::TestWithParam<fake_case> {};

TEST_P(ClientBadServerTest, EndsWithTypedErrorAndLeavesOtherClientsAlone) {
  fake_server fake({GetParam().script});
  test_server healthy_server;
  client_thread thread;
  observer bad_seen, good_seen;
  std::shared_ptr<client> bad, good;
  thread.run([&] {
    auto o = options_for(fake.port(), strategy::websocket);
    o.max_payload_bytes = 4096;
    bad = client::create(thread.executor(), o);
    bad_seen.attach(*bad);
    bad->connect();
    good = client::create(thread.executor(), options_for(healthy_server.port(), strategy::websocket));
    good_seen.attach(*good);
    good->connect();
  });
  ASSERT_TRUE(bad_seen.wait([&] { return bad_seen.disconnects == 1; })) << timeline(*bad);
  EXPECT_EQ(bad_seen.last_disconnect, GetParam().expected) << bad_seen.last_disconnect.message() << "; " << timeline(*bad);
  ASSERT_TRUE(good_seen.wait([&] { return good_seen.connects == 1; }));
  thread.run([&] {
    EXPECT_TRUE(has_transition(*bad, client_event::disconnected));
    good->emit("join", room_r1);
  });
  EXPECT_TRUE(good_seen.wait([&] { return good_seen.count("join") == 1; }));
  thread.run([&] { good->close(); });
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ClientBadServerTest,
    testing::Values(
        fake_case{"WrongOpenPacket", [](fake_server::ws& s) { fake_server::write(s, R"(0{"sid":1})"); fake_server::drain(s); },
                  client_error::bad_open_packet},
        fake_case{"NotAnOpenPacket", [](fake_server::ws& s) { fake_server::write(s, "4hello"); fake_server::drain(s); },
                  client_error::bad_open_packet},
        fake_case{"UnknownPacketType",
                  [](fake_server::ws& s) {
                    fake_server::write(s, fake_server::open_packet());
                    fake_server::write(s, "9nine");
                    fake_server::drain(s);
                  },
                  client_error::protocol_error},
        fake_case{"MalformedSocketIoPacket",
                  [](fake_server::ws& s) {
                    fake_server::write(s, fake_server::open_packet());
                    fake_server::write(s, "4Xgarbage");
                    fake_server::drain(s);
                  },
                  client_error::protocol_error},
        fake_case{"OversizedFrame",
                  [](fake_server::ws& s) {
                    fake_server::write(s, fake_server::open_packet());
                    fake_server::write(s, "4" + std::string(8192, 'x'));
                    fake_server::drain(s);
                  },
                  client_error::payload_too_large},
        fake_case{"AbruptClose",
                  [](fake_server::ws& s) {
                    fake_server::write(s, fake_server::open_packet());
                    s.next_layer().close();
                  },
                  client_error::transport_closed},
        fake_case{"SilentAfterOpen",
                  [](fake_server::ws& s) {
                    // pingInterval 100 + pingTimeout 100: no ping ever comes.
                    fake_server::write(s, fake_server::open_packet(100, 100));
                    fake_server::drain(s);
                  },
                  client_error::ping_timeout},
        fake_case{"RefusedNamespace",
                  [](fake_server::ws& s) {
                    fake_server::write(s, fake_server::open_packet());
                    fake_server::expect(s, "40");
                    fake_server::write(s, R"(44{"message":"Invalid namespace"})");
                    fake_server::drain(s);
                  },
                  client_error::namespace_refused}),
    [](auto const& param_info) { return std::string(param_info.param.name); });

TEST(ClientHttpErrorTest, PollingHandshakeErrorIsTyped) {
  test_server server;
  client_thread thread;
  observer seen;
  std::shared_ptr<client> c;
  thread.run([&] {
    auto o = options_for(server.port(), strategy::polling);
    o.path = "/not-socket-io/";  // answered 404 by the server's fallback
    c = client::create(thread.executor(), o);
    seen.attach(*c);
    c->connect();
  });
  ASSERT_TRUE(seen.wait([&] { return seen.disconnects == 1; }));
  EXPECT_EQ(seen.last_disconnect, client_error::http_status) << timeline(*c);
  thread.run([&] { EXPECT_NE(c->transitions().back().detail.find("404"), std::string::npos) << timeline(*c); });
}

/// An Engine.IO server over long-polling that answers every poll but never a POST: a handshake GET
/// gets an open packet (pingInterval 100, pingTimeout 100), every later GET a ping after 50 ms (its
/// ping timer: a server holds a poll until it has something to send, so the heartbeat holds), and a
/// POST is read and left unanswered. Shutting it down ends a held poll at once.
class unanswered_post_server {
 public:
  unanswered_post_server() {
    accepting_ = std::thread([this] {
      for (int i = 0; i < 8; ++i) {  // a GET and a POST connection, and a few replaced ones
        auto socket = listener_.accept();
        if (!socket) return;
        serving_.emplace_back([this, s = std::move(*socket)]() mutable { serve(s); });
      }
    });
  }
  ~unanswered_post_server() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    stop_.notify_all();
    listener_.shutdown_all();
    accepting_.join();
    for (auto& t : serving_) t.join();  // accepting_ has ended: nobody adds to serving_ any more
  }
  unsigned short port() const { return listener_.port(); }
  int posts() const { return posts_; }

 private:
  void serve(net::ip::tcp::socket& s) {
    namespace http = beast::http;
    beast::flat_buffer buffer;
    while (true) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(s, buffer, req, ec);
      if (ec) return;
      if (req.method() == http::verb::post) {
        ++posts_;
        continue;  // read, never answered
      }
      bool const handshake = req.target().find("sid=") == std::string_view::npos;
      if (!handshake && !hold_poll()) return;
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "text/plain; charset=UTF-8");
      res.body() = handshake ? fake_server::open_packet(100, 100) : "2";
      res.prepare_payload();
      http::write(s, res, ec);
      if (ec) return;
    }
  }

  /// The ping timer: false when the server is shutting down instead.
  bool hold_poll() {
    std::unique_lock lock(mutex_);
    return !stop_.wait_for(lock, 50ms, [&] { return stopping_; });
  }

  loopback_listener listener_;
  std::atomic<int> posts_{0};
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread accepting_;
  std::vector<std::thread> serving_;
};

// A POST the server reads and never answers ends at the request deadline (once the handshake is read:
// pingInterval + pingTimeout + the client's 5 s of grace, 5.2 s here) as a timed-out post, while the
// polls, answered with pings, keep the heartbeat alive: the session ends by the deadline, not by the
// ping timeout, nor by the connect timeout (8 s here), which the namespace's unanswered CONNECT would
// reach next.
TEST(ClientPollingTest, APostTheServerNeverAnswersEndsAtTheRequestDeadline) {
  unanswered_post_server server;
  client_thread thread;
  observer seen;
  std::shared_ptr<client> c;
  auto const started = std::chrono::steady_clock::now();
  thread.run([&] {
    auto o = options_for(server.port(), strategy::polling);
    o.connect_timeout = 8s;
    c = client::create(thread.executor(), o);
    seen.attach(*c);
    c->connect();
  });
  ASSERT_TRUE(seen.wait([&] { return seen.disconnects == 1; })) << timeline(*c);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 5200ms) << "not before the deadline: " << timeline(*c);
  EXPECT_EQ(seen.last_disconnect, client_error::transport_closed) << timeline(*c);
  EXPECT_GE(server.posts(), 1);
  thread.run([&] {
    auto const& detail = c->transitions().back().detail;
    EXPECT_NE(detail.find("post: "), std::string::npos) << timeline(*c);
    EXPECT_NE(detail.find("due to a timeout"), std::string::npos) << timeline(*c);
    c->close();
  });
}

/// A scripted session that connects the namespace (sid "b") and then stays, reading.
void connected_session(fake_server::ws& s) {
  fake_server::write(s, fake_server::open_packet());
  fake_server::expect(s, "40");
  fake_server::write(s, R"(40{"sid":"b"})");
  fake_server::drain(s);
}

/// A client of `strat` to `port` that reconnects quickly (20 to 50 ms), created and connected on
/// `thread` and watched by `seen`.
std::shared_ptr<client> reconnecting_client(client_thread& thread, observer& seen, unsigned short port, strategy strat) {
  std::shared_ptr<client> c;
  thread.run([&] {
    auto o = options_for(port, strat);
    o.reconnect = true;
    o.reconnect_delay = 20ms;
    o.reconnect_delay_max = 50ms;
    o.seed = 7;
    c = client::create(thread.executor(), o);
    seen.attach(*c);
    c->connect();
  });
  return c;
}

TEST(ClientReconnectTest, ReconnectsAfterAbruptCloseAndConnectsAgain) {
  auto const first = [](fake_server::ws& s) {
    fake_server::write(s, fake_server::open_packet());
    fake_server::expect(s, "40");
    fake_server::write(s, R"(40{"sid":"a"})");
    s.next_layer().close();  // the network drops the connection
  };
  fake_server fake({first, connected_session});
  client_thread thread;
  observer seen;
  auto const c = reconnecting_client(thread, seen, fake.port(), strategy::websocket);
  ASSERT_TRUE(seen.wait([&] { return seen.connects == 2; })) << timeline(*c);
  EXPECT_EQ(seen.disconnects, 1);
  EXPECT_EQ(seen.last_disconnect, client_error::transport_closed);
  thread.run([&] {
    EXPECT_TRUE(has_transition(*c, client_event::reconnecting)) << timeline(*c);
    c->close();
  });
}

// The fallback strategy's decision, without a race: the first WebSocket session gets its open packet
// and is cut before the namespace connects (as a middlebox that kills upgraded connections at once
// does); the reconnection must start on polling, naming why, instead of trying WebSocket again.
TEST(ClientReconnectTest, FallbackReconnectsOnPollingAfterAWebSocketLostBeforeItsNamespace) {
  auto const cut_after_open = [](fake_server::ws& s) {
    fake_server::write(s, fake_server::open_packet());
    s.next_layer().close();
  };
  // A second WebSocket session would connect: the client must not try it.
  fake_server fake({cut_after_open, connected_session});
  client_thread thread;
  observer seen;
  auto const c = reconnecting_client(thread, seen, fake.port(), strategy::fallback);
  ASSERT_TRUE(seen.wait([&] {
    return std::count(seen.transitions.begin(), seen.transitions.end(), client_event::connecting) >= 2 &&
           std::count(seen.transitions.begin(), seen.transitions.end(), client_event::disconnected) >= 2;
  })) << timeline(*c);
  thread.run([&] {
    auto const& t = c->transitions();
    auto const second = std::find_if(std::next(std::find_if(t.begin(), t.end(), [](auto const& x) {
                                       return x.event == client_event::connecting;
                                     })),
                                     t.end(), [](auto const& x) { return x.event == client_event::connecting; });
    ASSERT_NE(second, t.end()) << timeline(*c);
    ASSERT_NE(std::next(second), t.end()) << timeline(*c);
    EXPECT_EQ(std::next(second)->event, client_event::fell_back) << timeline(*c);
    EXPECT_NE(std::next(second)->detail.find("before the namespace connected"), std::string::npos) << timeline(*c);
    EXPECT_EQ(seen.connects, 0) << "the second session went to polling, which this fake cannot serve";
    c->close();
  });
}

// ---- The field's other strategies: race, tryall, remember (docs/strategies.md) -----------------------

/// When `e` first happened, from the client's first transition; -1 ms when it never did.
std::chrono::milliseconds first_at(client const& c, client_event e) {
  auto const& t = c.transitions();
  auto const it = std::find_if(t.begin(), t.end(), [&](auto const& x) { return x.event == e; });
  return it == t.end() ? std::chrono::milliseconds{-1}
                       : std::chrono::duration_cast<std::chrono::milliseconds>(it->at - t.front().at);
}

std::string detail_of(client const& c, client_event e) {
  auto const& t = c.transitions();
  auto const it = std::find_if(t.begin(), t.end(), [&](auto const& x) { return x.event == e; });
  return it == t.end() ? std::string("(none)") : it->detail;
}

// Both lanes of a race open together (no stagger): the server sees two Engine.IO sessions, the winner
// keeps one, and the loser's is ended by its close packet (a client close, not a timeout). Only the
// winner joins, so a member of the room gets each chat once, in order.
TEST(ClientRaceTest, TheLoserIsClosedCleanlyOneSessionStaysAndNothingIsDoubled) {
  test_server server;
  client_thread thread;
  observer racer_seen, member_seen;
  std::shared_ptr<client> racer, member;
  thread.run([&] {
    member = client::create(thread.executor(), options_for(server.port(), strategy::websocket));
    member_seen.attach(*member);
    member->connect();
  });
  ASSERT_TRUE(member_seen.wait([&] { return member_seen.connects == 1; }));
  std::promise<void> member_joined;
  thread.run([&] { member->emit("join", R"({"room":"r1","name":"member"})", [&](error_code, std::string_view) { member_joined.set_value(); }); });
  ASSERT_EQ(member_joined.get_future().wait_for(deadline), std::future_status::ready);

  auto options = options_for(server.port(), strategy::race);
  options.race_stagger = 0ms;
  thread.run([&] {
    racer = client::create(thread.executor(), options);
    racer_seen.attach(*racer);
    racer->connect();
  });
  ASSERT_TRUE(racer_seen.wait([&] { return racer_seen.connects == 1; })) << timeline(*racer);
  // Both lanes had a session (the loser's handshake may still be in flight when the race is settled:
  // it is closed once it opens); in the end one stays, and the other ended as a client close.
  ASSERT_TRUE(poll_until([&] {
    auto const st = server.engine().stats();
    return st.sessions_opened == 3 && st.sessions_open == 2 && server.closed(transport::close_reason::client_close) == 1;
  })) << "opened " << server.engine().stats().sessions_opened << ", open " << server.engine().stats().sessions_open
      << ", client closes " << server.closed(transport::close_reason::client_close) << "; " << timeline(*racer);
  thread.run([&] {
    EXPECT_EQ(std::count_if(racer->transitions().begin(), racer->transitions().end(),
                            [](auto const& x) { return x.event == client_event::race_won; }),
              1)
        << timeline(*racer);
    // With no stagger either lane may win on loopback; the client is on the winner.
    ASSERT_TRUE(racer->transport().has_value());
    EXPECT_EQ(std::string(transport::to_string(*racer->transport())), detail_of(*racer, client_event::race_won))
        << timeline(*racer);
    racer->emit("join", room_r1);
    racer->emit("chat", R"({"room":"r1","name":"cpp","msg":"one","seq":1})");
    racer->emit("chat", R"({"room":"r1","name":"cpp","msg":"two","seq":2})");
  });
  ASSERT_TRUE(member_seen.wait([&] { return member_seen.count("chat") >= 2; })) << timeline(*racer);
  ASSERT_TRUE(racer_seen.wait([&] { return racer_seen.count("chat") >= 2; })) << timeline(*racer);
  // A doubled chat would follow its original within the same few milliseconds: a third chat from the
  // member marks the end of what the racer's chats could bring.
  thread.run([&] { member->emit("chat", R"({"room":"r1","name":"member","msg":"end","seq":3})"); });
  ASSERT_TRUE(member_seen.wait([&] { return member_seen.count("chat") >= 3; }));
  ASSERT_TRUE(racer_seen.wait([&] { return racer_seen.count("chat") >= 3; }));
  for (auto* seen : {&member_seen, &racer_seen}) {
    std::lock_guard lock(seen->mutex);
    std::vector<std::string> msgs;
    for (auto const& [name, args] : seen->events)
      if (name == "chat") msgs.push_back(args[0].value("msg", ""));
    EXPECT_EQ(msgs, (std::vector<std::string>{"one", "two", "end"}));
  }
  thread.run([&] {
    racer->close();
    member->close();
  });
  EXPECT_TRUE(poll_until([&] { return server.engine().stats().sessions_open == 0; }));
  EXPECT_EQ(server.closed(transport::close_reason::client_close), 3u);
}

// A proxy that swallows the WebSocket handshake: the race's polling lane, a stagger behind, connects
// in a fraction of a second where the fallback strategy would wait its WebSocket timeout (10 s here).
TEST(ClientRaceTest, UnderABlackholedUpgradePollingWinsWithinTheStagger) {
  test_server server;
  proxy_in_front blackhole(server.port(), "blackhole-upgrade");
  client_thread thread;
  observer seen;
  std::shared_ptr<client> c;
  auto options = options_for(blackhole.port(), strategy::race);
  options.websocket_timeout = 10s;
  options.connect_timeout = 20s;
  thread.run([&] {
    c = client::create(thread.executor(), options);
    seen.attach(*c);
    c->connect();
    c->emit("join", room_r1);
    c->emit("chat", R"({"room":"r1","name":"cpp","msg":"past the blackhole"})");
  });
  ASSERT_TRUE(seen.wait([&] { return seen.count("chat") == 1; }, 5s)) << timeline(*c);
  thread.run([&] {
    EXPECT_EQ(c->transport(), transport::transport_kind::polling) << timeline(*c);
    EXPECT_EQ(detail_of(*c, client_event::race_won), "polling") << timeline(*c);
    auto const connected = first_at(*c, client_event::namespace_connected);
    EXPECT_GE(connected, 240ms) << "polling waits the 250 ms stagger: " << timeline(*c);
    EXPECT_LT(connected, 2s) << timeline(*c);
    c->close();
  });
  ASSERT_TRUE(seen.wait([&] { return seen.disconnects == 1; }));
  // The swallowed WebSocket never reached the server; the polling session ended with the close.
  EXPECT_TRUE(poll_until([&] { return server.engine().stats().sessions_open == 0; }));
  EXPECT_EQ(server.engine().stats().sessions_opened, 1u);
}

// tryAllTransports is error-driven: a swallowed handshake raises no error, so the client waits the
// whole connect timeout (its WebSocket timeout is not used) before it tries polling, which then gets
// a budget of its own and connects.
TEST(ClientTryAllTest, AHangingWebSocketWaitsForTheConnectTimeoutThenPollingConnects) {
  test_server server;
  proxy_in_front blackhole(server.port(), "blackhole-upgrade");
  client_thread thread;
  observer seen;
  std::shared_ptr<client> c;
  auto options = options_for(blackhole.port(), strategy::tryall);
  options.connect_timeout = 1500ms;
  options.websocket_timeout = 300ms;  // fallback's timer: tryall has none
  thread.run([&] {
    c = client::create(thread.executor(), options);
    seen.attach(*c);
    c->connect();
    c->emit("join", room_r1);
    c->emit("chat", R"({"room":"r1","name":"cpp","msg":"after the timeout"})");
  });
  ASSERT_TRUE(seen.wait([&] { return seen.count("chat") == 1; })) << timeline(*c);
  thread.run([&] {
    EXPECT_EQ(c->transport(), transport::transport_kind::polling) << timeline(*c);
    auto const fell = first_at(*c, client_event::fell_back);
    EXPECT_GE(fell, 1450ms) << "the connect timeout, not the 300 ms WebSocket timeout: " << timeline(*c);
    EXPECT_LT(fell, 3s) << timeline(*c);
    EXPECT_NE(detail_of(*c, client_event::websocket_failed).find("connect timeout"), std::string::npos) << timeline(*c);
    EXPECT_EQ(seen.disconnects, 0) << "the timeout moved on to polling, it did not end the session: " << timeline(*c);
    c->close();
  });
}

// An error (the server refuses WebSocket) moves tryall on to polling at once.
TEST(ClientTryAllTest, ARefusedWebSocketFallsBackAtOnce) {
  test_server_config config;
  config.options.allow_websocket = false;
  test_server server(config);
  client_thread thread;
  observer seen;
  std::shared_ptr<client> c;
  thread.run([&] {
    c = client::create(thread.executor(), options_for(server.port(), strategy::tryall));
    seen.attach(*c);
    c->connect();
  });
  ASSERT_TRUE(seen.wait([&] { return seen.connects == 1; })) << timeline(*c);
  thread.run([&] {
    EXPECT_EQ(c->transport(), transport::transport_kind::polling) << timeline(*c);
    EXPECT_GE(first_at(*c, client_event::fell_back), 0ms) << timeline(*c);
    EXPECT_LT(first_at(*c, client_event::fell_back), 1s) << timeline(*c);
    c->close();
  });
}

/// One remember client's session: connect, wait for the namespace, close. @return its transitions.
std::vector<transport::transition> remember_session(transport::client_options const& o) {
  client_thread thread;
  observer seen;
  std::shared_ptr<client> c;
  thread.run([&] {
    c = client::create(thread.executor(), o);
    seen.attach(*c);
    c->connect();
  });
  EXPECT_TRUE(seen.wait([&] { return seen.connects == 1; })) << timeline(*c);
  std::vector<transport::transition> t;
  thread.run([&] {
    EXPECT_EQ(c->transport(), transport::transport_kind::polling) << timeline(*c);
    t = c->transitions();
    c->close();
  });
  EXPECT_TRUE(seen.wait([&] { return seen.disconnects == 1; }));
  return t;
}

bool happened(std::vector<transport::transition> const& t, client_event e) {
  return std::any_of(t.begin(), t.end(), [&](auto const& x) { return x.event == e; });
}

/// A clock the test moves by hand, for client_options::remember_clock: starts at steady_clock's now,
/// so it keeps that clock's epoch; read on the client's thread, moved on the test's.
struct manual_clock {
  std::atomic<std::chrono::steady_clock::time_point> at{std::chrono::steady_clock::now()};

  void advance(std::chrono::steady_clock::duration d) { at.store(at.load() + d); }
  std::function<std::chrono::steady_clock::time_point()> reader() {
    return [this] { return at.load(); };
  }
};

// Phoenix-style memory: once a client of this process had to fall back to a target, the next ones
// start on polling (no WebSocket attempt) until remember_for has passed. The memory's clock is moved
// on by hand, so the test does not wait out remember_for.
TEST(ClientRememberTest, StartsOnPollingAfterAFallbackAndForgetsAfterTheDuration) {
  test_server_config config;
  config.options.allow_websocket = false;
  test_server server(config);
  manual_clock memory_clock;
  auto options = options_for(server.port(), strategy::remember);
  options.remember_for = 60s;
  options.remember_clock = memory_clock.reader();
  auto const first = remember_session(options);
  EXPECT_TRUE(happened(first, client_event::websocket_failed));
  EXPECT_TRUE(happened(first, client_event::fell_back));
  memory_clock.advance(options.remember_for - 1ms);
  auto const second = remember_session(options);
  EXPECT_TRUE(happened(second, client_event::remembered)) << "still remembered just before remember_for";
  EXPECT_FALSE(happened(second, client_event::websocket_failed)) << "no WebSocket attempt while remembered";
  ASSERT_GE(second.size(), 3u);
  EXPECT_EQ(second[1].event, client_event::remembered);
  EXPECT_EQ(second[2].detail, "polling") << "the first transport opened";
  memory_clock.advance(2ms);
  auto const third = remember_session(options);
  EXPECT_FALSE(happened(third, client_event::remembered)) << "forgotten after remember_for";
  EXPECT_TRUE(happened(third, client_event::websocket_failed)) << "WebSocket is tried again";
}

// The memory is also bounded in sessions: remember_sessions of them start on polling, then WebSocket
// is tried again (and its failure is remembered anew).
TEST(ClientRememberTest, RemembersForRememberSessionsSessions) {
  test_server_config config;
  config.options.allow_websocket = false;
  test_server server(config);
  auto options = options_for(server.port(), strategy::remember);
  options.remember_sessions = 2;
  EXPECT_TRUE(happened(remember_session(options), client_event::fell_back));
  EXPECT_TRUE(happened(remember_session(options), client_event::remembered));
  EXPECT_TRUE(happened(remember_session(options), client_event::remembered));
  auto const fourth = remember_session(options);
  EXPECT_FALSE(happened(fourth, client_event::remembered));
  EXPECT_TRUE(happened(fourth, client_event::fell_back));
  EXPECT_TRUE(happened(remember_session(options), client_event::remembered)) << "the new fallback is remembered";
}

}  // namespace
}  // namespace fallbench::integration
