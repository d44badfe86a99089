// Engine.IO over the real server: handshakes, HTTP errors, polling, the upgrade, heartbeat, close,
// malformed input and the outbound queue bound. Expected bytes are written out, never encoded.

#include "test_clients.hpp"
#include "test_server.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <set>
#include <thread>

namespace fallbench::integration {
namespace {

using namespace std::chrono_literals;
using transport::close_reason;
using std::chrono::steady_clock;

// A heartbeat short enough for tests that wait for it: ping every 200 ms, pong due within 300 ms (room
// for a client on a loaded 2-core machine to answer in time).
constexpr auto fast_ping_interval = 200ms;
constexpr auto fast_ping_timeout = 300ms;
// How late a heartbeat close may come on a loaded 2-core machine.
constexpr auto heartbeat_margin = 1500ms;

test_server_config fast_heartbeat() {
  test_server_config cfg;
  cfg.options.lim.ping_interval = fast_ping_interval;
  cfg.options.lim.ping_timeout = fast_ping_timeout;
  return cfg;
}

// The open packet has exactly sid, upgrades, pingInterval, pingTimeout and maxPayload, with `lim`'s values.
void expect_open_packet(json const& open, json const& upgrades, transport::limits const& lim) {
  ASSERT_TRUE(open.is_object()) << open.dump();
  std::set<std::string> keys;
  for (auto const& [key, value] : open.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}))
      << open.dump();
  auto const sid = open.value("sid", json());
  EXPECT_TRUE(sid.is_string() && !sid.get_ref<std::string const&>().empty()) << open.dump();
  EXPECT_EQ(open.value("upgrades", json()), upgrades) << open.dump();
  EXPECT_EQ(open.value("pingInterval", json()), json(lim.ping_interval.count())) << open.dump();
  EXPECT_EQ(open.value("pingTimeout", json()), json(lim.ping_timeout.count())) << open.dump();
  EXPECT_EQ(open.value("maxPayload", json()), json(lim.max_payload_bytes)) << open.dump();
}

test_server_config custom_limits() {
  test_server_config cfg;
  cfg.options.lim.ping_interval = 1234ms;
  cfg.options.lim.ping_timeout = 567ms;
  cfg.options.lim.max_payload_bytes = 8910;
  return cfg;
}


// ---------------------------------------------------------------------------------------------------
// Handshake

TEST(HandshakeTest, PollingOpenPacketHasExactlyTheConfiguredFields) {
  auto const cfg = custom_limits();
  test_server srv(cfg);
  auto const res = http_get(srv.port(), engine_target("EIO=4&transport=polling"));
  ASSERT_TRUE(res && res->status == 200) << describe(res);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=UTF-8");
  ASSERT_TRUE(res->body.starts_with('0')) << describe(res);
  auto const open = json::parse(res->body.substr(1), nullptr, false);
  expect_open_packet(open, json::array({"websocket"}), cfg.options.lim);
  EXPECT_EQ(srv.engine().stats().sessions_opened, 1u);
  // Close it, so that the server need not wait for the close packet to be fetched.
  auto const target = engine_target("EIO=4&transport=polling&sid=") + open.value("sid", "");
  EXPECT_TRUE(is_ok(http_post(srv.port(), target, "1"), "ok"));
}

TEST(HandshakeTest, WebSocketOpenPacketHasExactlyTheConfiguredFields) {
  auto const cfg = custom_limits();
  test_server srv(cfg);
  ws_client ws;
  auto const open = ws_open(ws, srv.port());
  ASSERT_FALSE(open.is_null());
  expect_open_packet(open, json::array(), cfg.options.lim);
  EXPECT_EQ(srv.engine().stats().sessions_opened, 1u);
}

TEST(HandshakeTest, PollingOffersNoUpgradeWhenWebSocketIsDisabled) {
  auto cfg = custom_limits();
  cfg.options.allow_websocket = false;
  test_server srv(cfg);
  polling_client c(srv.port());
  expect_open_packet(c.open(), json::array(), cfg.options.lim);
}

TEST(HandshakeTest, EverySessionGetsItsOwnId) {
  test_server srv;
  polling_client a(srv.port());
  polling_client b(srv.port());
  ws_client ws;
  auto const ja = a.open();
  auto const jb = b.open();
  auto const jw = ws_open(ws, srv.port());
  ASSERT_FALSE(ja.is_null() || jb.is_null() || jw.is_null());
  EXPECT_EQ((std::set<std::string>{a.sid(), b.sid(), jw.at("sid").get<std::string>()}).size(), 3u);
}

// ---------------------------------------------------------------------------------------------------
// HTTP errors: JSON {code, message} with the reference server's codes

TEST(HttpErrorTest, MissingOrUnsupportedProtocolVersionIs400Code5) {
  test_server srv;
  for (auto const* query : {"transport=polling", "EIO=3&transport=polling", "EIO=5&transport=polling",
                            "EIO=&transport=polling", "EIO=4x&transport=polling", "eio=4&transport=polling"}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(is_engine_error(http_get(srv.port(), engine_target(query)), 400, 5));
  }
  ws_client ws;
  EXPECT_TRUE(is_declined(ws, ws.connect(srv.port(), engine_target("EIO=3&transport=websocket")), 5));
  EXPECT_EQ(srv.engine().stats().sessions_opened, 0u);
}

TEST(HttpErrorTest, UnknownTransportIs400Code0) {
  test_server srv;
  for (auto const* query : {"EIO=4", "EIO=4&transport=", "EIO=4&transport=flashsocket", "EIO=4&transport=Polling"}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(is_engine_error(http_get(srv.port(), engine_target(query)), 400, 0));
  }
  EXPECT_EQ(srv.engine().stats().sessions_opened, 0u);
}

TEST(HttpErrorTest, DisabledWebSocketIsRefusedWithCode0) {
  test_server_config cfg;
  cfg.options.allow_websocket = false;
  test_server srv(cfg);
  auto const target = engine_target("EIO=4&transport=websocket");
  EXPECT_TRUE(is_engine_error(http_get(srv.port(), target), 400, 0));
  EXPECT_TRUE(is_engine_error(
      http_get(srv.port(), target,
               {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"},
                {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}}),
      400, 0));
  ws_client ws;
  EXPECT_TRUE(is_declined(ws, ws.connect(srv.port(), ws_target()), 0));

  // Nor can a polling session upgrade; it carries on over polling.
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  ws_client probe;
  EXPECT_TRUE(is_declined(probe, probe.connect(srv.port(), ws_target(c.sid())), 0));
  ASSERT_TRUE(c.send("40"));
  auto const packets = c.poll();
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_TRUE(packets[0].starts_with("40{")) << packets[0];
  EXPECT_EQ(srv.engine().stats().sessions_opened, 1u);
}

TEST(HttpErrorTest, DisabledPollingIsRefusedWithCode0) {
  test_server_config cfg;
  cfg.options.allow_polling = false;
  test_server srv(cfg);
  EXPECT_TRUE(is_engine_error(http_get(srv.port(), engine_target("EIO=4&transport=polling")), 400, 0));
  ws_client ws;
  EXPECT_FALSE(ws_open(ws, srv.port()).is_null());
}

TEST(HttpErrorTest, UnknownSessionIdIs400Code1) {
  test_server srv;
  auto const target = engine_target("EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA");
  EXPECT_TRUE(is_engine_error(http_get(srv.port(), target), 400, 1));
  EXPECT_TRUE(is_engine_error(http_post(srv.port(), target, "40"), 400, 1));
  ws_client ws;
  EXPECT_TRUE(is_declined(ws, ws.connect(srv.port(), ws_target("AAAAAAAAAAAAAAAAAAAA")), 1));

  // The id of a session that has ended is unknown too.
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  ASSERT_TRUE(c.send("1"));
  EXPECT_TRUE(is_engine_error(c.get(), 400, 1));
  EXPECT_TRUE(is_engine_error(c.post("40"), 400, 1));
  c.forget();
}

TEST(HttpErrorTest, HandshakeWithPostOrPutIs400Code2) {
  test_server srv;
  auto const target = engine_target("EIO=4&transport=polling");
  EXPECT_TRUE(is_engine_error(http_post(srv.port(), target, "40"), 400, 2));
  EXPECT_TRUE(is_engine_error(http_put(srv.port(), target, "40"), 400, 2));
  EXPECT_EQ(srv.engine().stats().sessions_opened, 0u);
}

TEST(HttpErrorTest, PollingGetWithUpgradeHeaderIs400Code3) {
  test_server srv;
  httplib::Headers const upgrade{{"Connection", "Upgrade"}, {"Upgrade", "websocket"}};
  EXPECT_TRUE(is_engine_error(http_get(srv.port(), engine_target("EIO=4&transport=polling"), upgrade), 400, 3));
  EXPECT_EQ(srv.engine().stats().sessions_opened, 0u);

  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  EXPECT_TRUE(is_engine_error(c.get(upgrade), 400, 3));
  // A refused request leaves the session as it was.
  ASSERT_TRUE(c.send("40"));
  auto const packets = c.poll();
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_TRUE(packets[0].starts_with("40{")) << packets[0];
}

TEST(HttpErrorTest, PutWithSessionIdIs400Code3) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  EXPECT_TRUE(is_engine_error(http_put(srv.port(), c.target(), "40"), 400, 3));
  ASSERT_TRUE(c.send("40"));
  EXPECT_EQ(c.poll().size(), 1u);
}

TEST(HttpErrorTest, WebSocketTransportWithoutUpgradeIs400Code3) {
  test_server srv;
  EXPECT_TRUE(is_engine_error(http_get(srv.port(), engine_target("EIO=4&transport=websocket")), 400, 3));
  EXPECT_EQ(srv.engine().stats().sessions_opened, 0u);
}

TEST(HttpErrorTest, PostOverMaxPayloadIs413AndClosesSession) {
  test_server_config cfg;
  cfg.options.lim.max_payload_bytes = 1000;
  test_server srv(cfg);
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  // At the limit is fine: a 1000-byte ping comes back as a 1000-byte pong.
  ASSERT_TRUE(c.send("2" + std::string(999, 'p')));
  EXPECT_TRUE(is_ok(c.get(), "3" + std::string(999, 'p')));
  // One byte over is not, and ends the session.
  EXPECT_TRUE(is_engine_error(c.post("2" + std::string(1000, 'p')), 413, 3));
  EXPECT_TRUE(is_engine_error(c.get(), 400, 1));
  EXPECT_EQ(srv.closed(close_reason::payload_too_large), 1u);
  c.forget();
}

TEST(HttpErrorTest, DuplicateGetReleasesTheParkedOneWithCloseAndEndsSession) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  // Nothing is queued, so whichever GET arrives first parks until the other arrives.
  auto first = std::async(std::launch::async, [&] { return c.get(); });
  auto second = std::async(std::launch::async, [&] { return c.get(); });
  auto const r1 = first.get();
  auto const r2 = second.get();
  auto const released = [](httplib::Result const& r) { return r && r->status == 200 && r->body == "1"; };
  EXPECT_TRUE((released(r1) && is_engine_error(r2, 400, 1)) || (released(r2) && is_engine_error(r1, 400, 1)))
      << "first: " << describe(r1) << "; second: " << describe(r2);
  EXPECT_TRUE(is_engine_error(c.get(), 400, 1));
  EXPECT_EQ(srv.closed(close_reason::duplicate_poll), 1u);
  c.forget();
}

TEST(HttpErrorTest, MalformedPostBodyIs400AndClosesSession) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  EXPECT_TRUE(is_engine_error(c.post("abc"), 400, 3));
  EXPECT_TRUE(is_engine_error(c.get(), 400, 1));
  EXPECT_EQ(srv.closed(close_reason::parse_error), 1u);
  c.forget();
}

TEST(HttpErrorTest, OtherPathsGetTheFallback) {
  test_server srv;
  auto const res = http_get(srv.port(), "/nowhere");
  ASSERT_TRUE(res) << describe(res);
  EXPECT_EQ(res->status, 404) << describe(res);
  EXPECT_EQ(srv.engine().stats().sessions_opened, 0u);
}

// ---------------------------------------------------------------------------------------------------
// Polling

TEST(PollingTest, MessagesRoundTripThroughTheChatApp) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  ASSERT_TRUE(c.send("40"));
  auto const connected = c.poll();
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_TRUE(connected[0].starts_with(R"(40{"sid":")") && connected[0].ends_with(R"("})")) << connected[0];
  EXPECT_EQ(json::parse(connected[0].substr(2), nullptr, false).size(), 1u) << connected[0];

  ASSERT_TRUE(c.send(R"(42["join",{"room":"lobby","name":"alice"}])"));
  ASSERT_TRUE(c.send(R"(427["chat",{"room":"lobby","name":"alice","msg":"hello"}])"));
  EXPECT_EQ(c.poll(), (std::vector<std::string>{R"(42["join",{"room":"lobby","name":"alice"}])",
                                                R"(42["chat",{"room":"lobby","name":"alice","msg":"hello"}])",
                                                R"(437[{"ok":true}])"}));
  auto const chat = srv.chat().stats();
  EXPECT_EQ(chat.joins, 1u);
  EXPECT_EQ(chat.chats, 1u);
  EXPECT_EQ(chat.deliveries, 2u);
}

TEST(PollingTest, OnePostCarriesSeveralPacketsAndOneGetReturnsSeveral) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  ASSERT_TRUE(c.send("40\x1e" + emit_join("r", "bob", "1") + "\x1e" + emit_chat("r", "bob", "one", "2") + "\x1e" +
                     emit_chat("r", "bob", "two", "3")));
  auto const res = c.get();
  ASSERT_TRUE(res && res->status == 200) << describe(res);
  auto const packets = split_payload(res->body);
  ASSERT_EQ(packets.size(), 7u) << res->body;
  EXPECT_TRUE(packets[0].starts_with(R"(40{"sid":")")) << packets[0];
  EXPECT_EQ(std::vector<std::string>(packets.begin() + 1, packets.end()),
            (std::vector<std::string>{join_event("r", "bob"), ok_ack("1"), chat_event("r", "bob", "one"), ok_ack("2"),
                                      chat_event("r", "bob", "two"), ok_ack("3")}));
  EXPECT_EQ(std::count(res->body.begin(), res->body.end(), '\x1e'), 6);
  EXPECT_EQ(srv.engine().stats().packets_in, 4u);
}

TEST(PollingTest, PingFromTheClientGetsPong) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  ASSERT_TRUE(c.send("2probe"));
  EXPECT_TRUE(is_ok(c.get(), "3probe"));
}

// ---------------------------------------------------------------------------------------------------
// Upgrade from polling to WebSocket

TEST(UpgradeTest, ProbeReleasesParkedGetWithNoopAndUpgradePacketCompletesIt) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_TRUE(c.connect());
  auto parked = park_poll(srv, c);

  ws_client ws;
  ASSERT_TRUE(no_error(ws.connect(srv.port(), ws_target(c.sid()))));
  ASSERT_TRUE(no_error(ws.send("2probe")));
  EXPECT_TRUE(expect_message(ws, "3probe"));
  EXPECT_TRUE(is_ok(parked.get(), "6"));
  ASSERT_TRUE(no_error(ws.send("5")));

  // The session now runs over the WebSocket.
  ASSERT_TRUE(no_error(ws.send(emit_join("r", "alice", "1"))));
  EXPECT_TRUE(expect_message(ws, join_event("r", "alice")));
  EXPECT_TRUE(expect_message(ws, ok_ack("1")));
  EXPECT_EQ(srv.engine().stats().upgrades, 1u);

  // Polling is over for it.
  EXPECT_TRUE(is_engine_error(c.get(), 400, 3));
  EXPECT_TRUE(is_engine_error(c.post(emit_chat("r", "alice", "late")), 400, 3));

  // A second WebSocket for the same session is refused (accepted, then closed at once).
  ws_client second;
  if (auto ec = second.connect(srv.port(), ws_target(c.sid()))) {
    EXPECT_EQ(second.declined_status(), 400u) << ec.message();
  } else {
    ASSERT_TRUE(no_error(second.send("2probe")));
    EXPECT_TRUE(expect_closed(second));
  }

  // The first one is unaffected.
  ASSERT_TRUE(no_error(ws.send(emit_chat("r", "alice", "still here", "2"))));
  EXPECT_TRUE(expect_message(ws, chat_event("r", "alice", "still here")));
  EXPECT_TRUE(expect_message(ws, ok_ack("2")));
  EXPECT_EQ(srv.engine().stats().upgrades, 1u);
  EXPECT_EQ(srv.engine().stats().sessions_open, 1u);
  c.forget();
}

// The first index where `got` and `want` differ, for a short failure message.
std::string first_difference(std::vector<std::string> const& got, std::vector<std::string> const& want) {
  for (std::size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    auto const g = i < got.size() ? got[i] : "<none>";
    auto const w = i < want.size() ? want[i] : "<none>";
    if (g != w) return "at " + std::to_string(i) + ": got '" + g + "', want '" + w + "'";
  }
  return "none";
}

TEST(UpgradeTest, PacketsSentDuringTheUpgradeArriveExactlyOnceInOrder) {
  test_server srv;
  polling_client a(srv.port());
  ASSERT_TRUE(a.connect());
  ASSERT_TRUE(a.send(emit_join("r", "a")));
  ASSERT_EQ(a.poll(), std::vector<std::string>{join_event("r", "a")});

  ws_client b;
  ASSERT_TRUE(ws_connect(b, srv.port()));
  ASSERT_TRUE(no_error(b.send(emit_join("r", "b", "1"))));
  ASSERT_TRUE(expect_message(b, join_event("r", "b")));
  ASSERT_TRUE(expect_message(b, ok_ack("1")));

  // B chats in bursts of `burst` (then reads their echoes and acks) until A has seen one chat over the
  // WebSocket: chats keep coming throughout the upgrade, several in flight at any moment.
  std::atomic<bool> stop{false};
  constexpr int burst = 20;
  constexpr int max_chats = 20'000;
  auto sender = std::async(std::launch::async, [&] {
    int sent = 0;
    while (sent < max_chats && !stop.load()) {
      for (int i = sent; i < sent + burst; ++i) {
        if (auto ec = b.send(emit_chat("r", "b", std::to_string(i), std::to_string(i + 2)))) {
          ADD_FAILURE() << "B send: " << ec.message();
          return -1;
        }
      }
      for (int i = sent; i < sent + burst; ++i) {
        auto r = expect_message(b, chat_event("r", "b", std::to_string(i)));
        if (r) r = expect_message(b, ok_ack(std::to_string(i + 2)));
        if (!r) {
          ADD_FAILURE() << "B: " << r.message();
          return -1;
        }
      }
      sent += burst;
    }
    return sent;
  });

  // A polls until told to pause, as a client does between "3probe" and "5".
  std::vector<std::string> via_polling;
  std::vector<std::string> via_websocket;
  std::atomic<bool> pause{false};
  std::promise<void> first_chat;
  auto chatting = first_chat.get_future();
  std::thread poller([&] {
    bool signalled = false;
    while (!pause.load()) {
      auto const res = a.get();
      if (!res || res->status != 200) {
        ADD_FAILURE() << "A poll: " << describe(res);
        break;
      }
      for (auto& p : split_payload(res->body)) {
        if (p != "6") via_polling.push_back(std::move(p));
      }
      if (!signalled && via_polling.size() > 1) {
        signalled = true;
        first_chat.set_value();
      }
    }
  });
  // Stop B and the poller on every way out, failures included.
  int total = -1;
  auto finish = [&, finished = false]() mutable {
    if (finished) return;
    finished = true;
    stop = true;
    pause = true;
    if (poller.joinable()) poller.join();
    total = sender.get();
  };
  struct scope_exit {
    std::function<void()> f;
    ~scope_exit() { f(); }
  } const finally{std::ref(finish)};

  ASSERT_EQ(chatting.wait_for(io_deadline), std::future_status::ready) << "no chat reached A over polling";
  ws_client aws;
  ASSERT_TRUE(no_error(aws.connect(srv.port(), ws_target(a.sid()))));
  ASSERT_TRUE(no_error(aws.send("2probe")));
  EXPECT_TRUE(expect_message(aws, "3probe"));
  pause = true;
  poller.join();
  ASSERT_TRUE(no_error(aws.send("5")));

  std::string m;
  auto const ec = aws.read(m);
  if (!ec) via_websocket.push_back(m);
  finish();
  ASSERT_FALSE(ec) << "A WebSocket read: " << ec.message();
  ASSERT_GT(total, 0);

  std::vector<std::string> want{join_event("r", "b")};
  for (int i = 0; i < total; ++i) want.push_back(chat_event("r", "b", std::to_string(i)));
  while (via_polling.size() + via_websocket.size() < want.size()) {
    if (auto rec = aws.read(m)) {
      ADD_FAILURE() << "A WebSocket read: " << rec.message();
      break;
    }
    via_websocket.push_back(m);
  }
  auto got = via_polling;
  got.insert(got.end(), via_websocket.begin(), via_websocket.end());
  EXPECT_TRUE(got == want) << "polling " << via_polling.size() << " + websocket " << via_websocket.size()
                           << " packets for " << want.size() << " sent; first difference "
                           << first_difference(got, want);
  EXPECT_GT(via_polling.size(), 1u);
  EXPECT_GE(via_websocket.size(), 1u);
  RecordProperty("via_polling", static_cast<int>(via_polling.size()));
  RecordProperty("via_websocket", static_cast<int>(via_websocket.size()));
  EXPECT_EQ(srv.engine().stats().upgrades, 1u);
  EXPECT_EQ(srv.engine().stats().dropped_packets, 0u);
  a.forget();
}

TEST(UpgradeTest, UnfinishedProbeTimesOutAndSessionStaysOnPolling) {
  test_server_config cfg;
  cfg.options.lim.upgrade_timeout = 200ms;
  test_server srv(cfg);
  polling_client c(srv.port());
  ASSERT_TRUE(c.connect());
  ws_client ws;
  ASSERT_TRUE(no_error(ws.connect(srv.port(), ws_target(c.sid()))));
  ASSERT_TRUE(no_error(ws.send("2probe")));
  EXPECT_TRUE(expect_message(ws, "3probe"));
  // No "5": the server drops the probe after upgrade_timeout.
  EXPECT_TRUE(expect_closed(ws));
  ASSERT_TRUE(c.send(emit_join("r", "c")));
  EXPECT_EQ(c.poll(), std::vector<std::string>{join_event("r", "c")});
  EXPECT_EQ(srv.engine().stats().upgrades, 0u);
}

TEST(UpgradeTest, SecondProbeWhileProbingIsRefused) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_TRUE(c.connect());
  ws_client first;
  ASSERT_TRUE(no_error(first.connect(srv.port(), ws_target(c.sid()))));
  ASSERT_TRUE(no_error(first.send("2probe")));
  EXPECT_TRUE(expect_message(first, "3probe"));
  ws_client second;
  if (auto ec = second.connect(srv.port(), ws_target(c.sid()))) {
    EXPECT_EQ(second.declined_status(), 400u) << ec.message();
  } else {
    EXPECT_TRUE(expect_closed(second));
  }
  ASSERT_TRUE(no_error(first.send("5")));
  ASSERT_TRUE(no_error(first.send(emit_join("r", "c"))));
  EXPECT_TRUE(expect_message(first, join_event("r", "c")));
  EXPECT_EQ(srv.engine().stats().upgrades, 1u);
  c.forget();
}

// ---------------------------------------------------------------------------------------------------
// Heartbeat

TEST(HeartbeatTest, PollingClientThatAnswersPingsKeepsItsSession) {
  test_server srv(fast_heartbeat());
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  // Three rounds last longer than pingInterval + pingTimeout.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(is_ok(c.get(), "2")) << "round " << i;
    ASSERT_TRUE(c.send("3")) << "round " << i;
  }
  EXPECT_EQ(srv.engine().stats().sessions_open, 1u);
  EXPECT_EQ(srv.closed(close_reason::ping_timeout), 0u);
}

TEST(HeartbeatTest, PollingClientThatNeverAnswersIsClosed) {
  test_server srv(fast_heartbeat());
  polling_client c(srv.port());
  auto const start = steady_clock::now();
  ASSERT_FALSE(c.open().is_null());
  EXPECT_TRUE(is_ok(c.get(), "2"));
  // No pong. The next poll is released with the close packet at pingTimeout, or finds the session gone.
  auto const res = c.get();
  auto const elapsed = steady_clock::now() - start;
  bool const released = res && res->status == 200 && res->body == "1";
  EXPECT_TRUE(released || is_engine_error(res, 400, 1)) << describe(res);
  EXPECT_GE(elapsed, fast_ping_interval + fast_ping_timeout);
  EXPECT_LT(elapsed, fast_ping_interval + fast_ping_timeout + heartbeat_margin);
  EXPECT_TRUE(is_engine_error(c.get(), 400, 1));
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(close_reason::ping_timeout) == 1; }));
  c.forget();
}

TEST(HeartbeatTest, WebSocketClientThatAnswersPingsKeepsItsSession) {
  test_server srv(fast_heartbeat());
  ws_client ws;
  ASSERT_FALSE(ws_open(ws, srv.port()).is_null());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(expect_message(ws, "2")) << "round " << i;
    ASSERT_TRUE(no_error(ws.send("3"))) << "round " << i;
  }
  EXPECT_EQ(srv.engine().stats().sessions_open, 1u);
  EXPECT_EQ(srv.closed(close_reason::ping_timeout), 0u);
}

// With pingTimeout shorter than pingInterval (as the defaults are, 20 s and 25 s), a pong leaves the
// wait for its deadline pending, and the next ping is aimed again when that wait wakes early: pings
// still come a whole interval after each pong, and an answering client keeps its session.
TEST(HeartbeatTest, PingsComeAWholeIntervalAfterEachPongWhenTheTimeoutIsShorter) {
  constexpr auto interval = 300ms;
  test_server_config cfg;
  cfg.options.lim.ping_interval = interval;
  cfg.options.lim.ping_timeout = 150ms;
  test_server srv(cfg);
  ws_client ws;
  ASSERT_FALSE(ws_open(ws, srv.port()).is_null());
  ASSERT_TRUE(expect_message(ws, "2"));
  for (int i = 0; i < 3; ++i) {
    auto const pong_at = steady_clock::now();
    ASSERT_TRUE(no_error(ws.send("3"))) << "round " << i;
    ASSERT_TRUE(expect_message(ws, "2")) << "round " << i;
    auto const elapsed = steady_clock::now() - pong_at;
    EXPECT_GE(elapsed, interval) << "round " << i;
    EXPECT_LT(elapsed, interval + heartbeat_margin) << "round " << i;
  }
  EXPECT_EQ(srv.engine().stats().sessions_open, 1u);
  EXPECT_EQ(srv.closed(close_reason::ping_timeout), 0u);
}

TEST(HeartbeatTest, WebSocketClientThatNeverAnswersIsClosed) {
  test_server srv(fast_heartbeat());
  ws_client ws;
  auto const start = steady_clock::now();
  ASSERT_FALSE(ws_open(ws, srv.port()).is_null());
  EXPECT_TRUE(expect_message(ws, "2"));
  EXPECT_TRUE(expect_closed(ws));
  auto const elapsed = steady_clock::now() - start;
  EXPECT_GE(elapsed, fast_ping_interval + fast_ping_timeout);
  EXPECT_LT(elapsed, fast_ping_interval + fast_ping_timeout + heartbeat_margin);
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(close_reason::ping_timeout) == 1; }));
  EXPECT_EQ(srv.engine().stats().sessions_open, 0u);
}

// ---------------------------------------------------------------------------------------------------
// Close

TEST(CloseTest, WebSocketClosePacketEndsTheSession) {
  test_server srv;
  ws_client ws;
  ASSERT_TRUE(ws_connect(ws, srv.port()));
  ASSERT_TRUE(no_error(ws.send("1")));
  EXPECT_TRUE(expect_closed(ws));
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(close_reason::client_close) == 1; }));
  EXPECT_EQ(srv.engine().stats().sessions_open, 0u);
}

TEST(CloseTest, PollingClosePacketReleasesParkedGetWithNoop) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_TRUE(c.connect());
  auto parked = park_poll(srv, c);
  ASSERT_TRUE(c.send("1"));
  EXPECT_TRUE(is_ok(parked.get(), "6"));
  EXPECT_TRUE(is_engine_error(c.get(), 400, 1));
  EXPECT_EQ(srv.closed(close_reason::client_close), 1u);
  c.forget();
}

TEST(CloseTest, ServerShutdownSendsTheClosePacket) {
  test_server srv;
  ws_client ws;
  ASSERT_TRUE(ws_connect(ws, srv.port()));
  polling_client c(srv.port());
  ASSERT_TRUE(c.connect());
  auto parked = park_poll(srv, c);
  srv.engine().shutdown();
  EXPECT_TRUE(is_ok(parked.get(), "1"));
  EXPECT_TRUE(expect_closed(ws, {"1"}));
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(close_reason::server_close) == 2; }));
  // No new sessions once stopping.
  EXPECT_FALSE(is_ok(http_get(srv.port(), engine_target("EIO=4&transport=polling")), ""));
  c.forget();
}

// ---------------------------------------------------------------------------------------------------
// Malformed input: never a crash, the server keeps serving the others.

/// A WebSocket client in room "steady" chatting on its own thread, each chat checked and paced by its
/// ack, until stopped (after at least one chat).
class background_chatter {
 public:
  explicit background_chatter(unsigned short port) {
    ready_ = ws_connect(ws_, port) && !ws_.send(emit_join("steady", "bg", "1")) &&
             expect_message(ws_, join_event("steady", "bg")) && expect_message(ws_, ok_ack("1"));
    thread_ = std::thread([this] { run(); });
  }
  ~background_chatter() {
    if (thread_.joinable()) stop();
  }
  background_chatter(background_chatter const&) = delete;
  background_chatter& operator=(background_chatter const&) = delete;

  /// Stop; @return how many chats went round, or -1 after a failure (already reported).
  int stop() {
    stop_ = true;
    thread_.join();
    return failed_ ? -1 : count_;
  }

 private:
  void run() {
    if (!ready_) {
      ADD_FAILURE() << "background chatter could not join";
      failed_ = true;
      return;
    }
    while (!stop_.load() || count_ == 0) {
      auto const msg = std::to_string(count_);
      auto const id = std::to_string(count_ + 2);
      testing::AssertionResult r = testing::AssertionSuccess();
      if (auto ec = ws_.send(emit_chat("steady", "bg", msg, id))) r = testing::AssertionFailure() << ec.message();
      if (r) r = expect_message(ws_, chat_event("steady", "bg", msg));
      if (r) r = expect_message(ws_, ok_ack(id));
      if (!r) {
        ADD_FAILURE() << "background chat " << count_ << ": " << r.message();
        failed_ = true;
        return;
      }
      ++count_;
    }
  }

  ws_client ws_;
  bool ready_ = false;
  bool failed_ = false;
  int count_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(MalformedInputTest, GarbageOnTheWireNeverStopsTheServer) {
  test_server srv;
  background_chatter chatter(srv.port());

  struct garbage {
    char const* what;
    std::string bytes;
    bool half_close;           // send FIN after the bytes (the request is incomplete on purpose)
    char const* answer_prefix;  // what the server must answer, or "" for anything (it must close)
  };
  std::string binary;
  for (int i = 0; i < 512; ++i) binary += static_cast<char>((i * 151 + 7) & 0xff);
  std::vector<garbage> const cases{
      {"TLS-like binary", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + binary, false, "HTTP/1.1 400"},
      {"binary then FIN", binary, true, ""},
      {"no request line", "\r\n\r\n\r\n\r\n", true, ""},
      {"bad request line", "GARBAGE\r\n\r\n", false, "HTTP/1.1 400"},
      {"bad version", "GET /socket.io/?EIO=4&transport=polling HTTP/9.x\r\n\r\n", false, "HTTP/1.1 400"},
      {"truncated headers", "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le", true, ""},
      {"truncated body",
       "POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n40", true, ""},
      {"bad content length",
       "POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n", false,
       "HTTP/1.1 400"},
      {"bad chunk",
       "POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       false, "HTTP/1.1 400"},
      {"huge header",
       "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(16 * 1024, 'a') +
           "\r\n\r\n",
       false, "HTTP/1.1 431"},
      {"bad websocket upgrade",
       "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n",
       false, "HTTP/1.1 400"},
  };
  for (auto const& g : cases) {
    SCOPED_TRACE(g.what);
    auto const r = raw_exchange(srv.port(), g.bytes, g.half_close);
    EXPECT_FALSE(is_timeout(r.ec)) << "the server did not end the connection; got '" << r.received << "'";
    EXPECT_TRUE(r.received.starts_with(g.answer_prefix)) << "got '" << r.received.substr(0, 200) << "'";
  }
  EXPECT_GT(chatter.stop(), 0);
  EXPECT_EQ(srv.engine().stats().sessions_opened, 1u);  // the chatter's only

  // And new clients are served.
  polling_client c(srv.port());
  EXPECT_TRUE(c.connect());
}

// A connection that sends nothing, or idles after a kept-alive answer, is closed at the HTTP deadline:
// the server waits for its next request without a pending read, on a timer of its own.
TEST(HttpDeadlineTest, IdleConnectionsAreClosedAtTheDeadline) {
  test_server_config cfg;
  cfg.options.lim.http_timeout = 300ms;
  test_server srv(cfg);
  auto const silent = raw_exchange(srv.port(), "", false);
  EXPECT_FALSE(is_timeout(silent.ec)) << "a silent connection was never closed";
  EXPECT_TRUE(silent.received.empty()) << silent.received;
  auto const kept_alive =
      raw_exchange(srv.port(), "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", false);
  EXPECT_FALSE(is_timeout(kept_alive.ec)) << "an idle keep-alive connection was never closed";
  EXPECT_TRUE(kept_alive.received.starts_with("HTTP/1.1 200")) << kept_alive.received.substr(0, 200);
}

TEST(MalformedInputTest, InvalidPacketsCloseOnlyTheirOwnSession) {
  test_server_config cfg;
  cfg.options.lim.max_payload_bytes = 1000;
  test_server srv(cfg);
  background_chatter chatter(srv.port());

  // Socket.IO-level errors: the session is closed gracefully, with the close packet.
  struct bad_frame {
    char const* what;
    std::string bytes;
    bool binary;
    std::string follow_up;  // a text frame sent next, if any
  };
  std::vector<bad_frame> const sio_errors{
      {"not a Socket.IO packet", "4abc", false, {}},
      {"event not an array", R"(42{})", false, {}},
      {"empty Socket.IO packet", "4", false, {}},
      {"binary frame with no pending attachment", std::string("\x01\x02\x03", 3), true, {}},
      {"text while an attachment is due", R"(451-["upload",{"_placeholder":true,"num":0}])", false, R"(42["x"])"},
  };
  for (auto const& f : sio_errors) {
    SCOPED_TRACE(f.what);
    ws_client ws;
    ASSERT_TRUE(ws_connect(ws, srv.port()));
    ASSERT_TRUE(no_error(f.binary ? ws.send_binary(f.bytes) : ws.send(f.bytes)));
    if (!f.follow_up.empty()) {
      ASSERT_TRUE(no_error(ws.send(f.follow_up)));
    }
    EXPECT_TRUE(expect_closed(ws, {"1"}));
  }
  auto const sio_parse_errors = srv.sio().stats().parse_errors;
  EXPECT_EQ(sio_parse_errors, sio_errors.size());

  // Engine.IO-level errors: the WebSocket is dropped.
  std::vector<bad_frame> const eio_errors{
      {"unknown packet type", "9", false, {}},
      {"empty frame", "", false, {}},
      {"open packet from the client", "0{}", false, {}},
      {"frame over maxPayload", "4" + std::string(1000, 'x'), false, {}},
  };
  for (auto const& f : eio_errors) {
    SCOPED_TRACE(f.what);
    ws_client ws;
    ASSERT_TRUE(ws_connect(ws, srv.port()));
    ASSERT_TRUE(no_error(ws.send(f.bytes)));
    std::string m;
    auto ec = ws.read(m);
    EXPECT_TRUE(ec) << "got '" << m << "'";
    EXPECT_FALSE(is_timeout(ec));
  }
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(close_reason::parse_error) == 3; }))
      << srv.closed(close_reason::parse_error);
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(close_reason::payload_too_large) == 1; }));

  // Over polling, a bad Socket.IO packet closes its session the same way.
  polling_client c(srv.port());
  ASSERT_TRUE(c.connect());
  ASSERT_TRUE(c.send("4abc"));
  EXPECT_EQ(c.poll(), std::vector<std::string>{"1"});
  // The session ends once that response is written; then its id is unknown.
  EXPECT_TRUE(wait_for_condition([&] { return srv.engine().stats().sessions_open == 1; }));
  EXPECT_TRUE(is_engine_error(c.get(), 400, 1));
  c.forget();

  EXPECT_GT(chatter.stop(), 0);
  ws_client fresh;
  ASSERT_TRUE(ws_connect(fresh, srv.port()));
  ASSERT_TRUE(no_error(fresh.send(emit_join("steady", "fresh", "1"))));
  EXPECT_TRUE(expect_message(fresh, join_event("steady", "fresh")));
  EXPECT_TRUE(expect_message(fresh, ok_ack("1")));
}

// ---------------------------------------------------------------------------------------------------
// The outbound queue bound: a client that stops reading while others broadcast

constexpr std::size_t tiny_queue_bytes = 1024;
constexpr int overflow_chats = 20;

test_server_config tiny_queue(transport::overflow_policy policy) {
  test_server_config cfg;
  cfg.options.lim.max_queued_bytes = tiny_queue_bytes;
  cfg.options.lim.on_overflow = policy;
  return cfg;
}

// `slow` (polling, never polls) and `fast` (WebSocket) in room "r"; fast sends overflow_chats chats of
// 200 bytes, each checked and acked.
void flood(test_server& srv, polling_client& slow, ws_client& fast) {
  ASSERT_TRUE(slow.connect());
  ASSERT_TRUE(slow.send(emit_join("r", "slow")));
  ASSERT_TRUE(ws_connect(fast, srv.port()));
  ASSERT_TRUE(no_error(fast.send(emit_join("r", "fast", "1"))));
  ASSERT_TRUE(expect_message(fast, join_event("r", "fast")));
  ASSERT_TRUE(expect_message(fast, ok_ack("1")));
  for (int i = 0; i < overflow_chats; ++i) {
    auto const msg = std::string(200, 'm') + std::to_string(i);
    auto const id = std::to_string(i + 2);
    ASSERT_TRUE(no_error(fast.send(emit_chat("r", "fast", msg, id))));
    ASSERT_TRUE(expect_message(fast, chat_event("r", "fast", msg)));
    ASSERT_TRUE(expect_message(fast, ok_ack(id)));
  }
}

TEST(OverflowTest, ClosePolicyClosesASessionThatStopsPolling) {
  test_server srv(tiny_queue(transport::overflow_policy::close));
  polling_client slow(srv.port());
  ws_client fast;
  ASSERT_NO_FATAL_FAILURE(flood(srv, slow, fast));
  EXPECT_EQ(srv.closed(close_reason::overflow), 1u);
  EXPECT_EQ(srv.engine().stats().dropped_packets, 0u);
  EXPECT_TRUE(is_engine_error(slow.get(), 400, 1));
  EXPECT_EQ(srv.engine().stats().sessions_open, 1u);
  slow.forget();
}

TEST(OverflowTest, DropPolicyKeepsTheSessionAndCountsDrops) {
  test_server srv(tiny_queue(transport::overflow_policy::drop));
  polling_client slow(srv.port());
  ws_client fast;
  ASSERT_NO_FATAL_FAILURE(flood(srv, slow, fast));
  EXPECT_EQ(srv.closed(close_reason::overflow), 0u);
  EXPECT_EQ(srv.engine().stats().sessions_open, 2u);
  auto const dropped = srv.engine().stats().dropped_packets;
  EXPECT_GT(dropped, 0u);

  // What was queued comes out in order: the joins, then the first chats; the rest were dropped.
  auto const res = slow.get();
  ASSERT_TRUE(res && res->status == 200) << describe(res);
  EXPECT_LE(res->body.size(), tiny_queue_bytes + 64);
  auto const packets = split_payload(res->body);
  std::vector<std::string> want{join_event("r", "slow"), join_event("r", "fast")};
  for (std::size_t i = 0; want.size() < packets.size(); ++i)
    want.push_back(chat_event("r", "fast", std::string(200, 'm') + std::to_string(i)));
  EXPECT_EQ(packets, want);
  EXPECT_EQ(packets.size() - 2 + dropped, static_cast<std::size_t>(overflow_chats));

  // Drained, the session takes new packets again.
  ASSERT_TRUE(no_error(fast.send(emit_chat("r", "fast", "after", "99"))));
  EXPECT_TRUE(expect_message(fast, chat_event("r", "fast", "after")));
  EXPECT_TRUE(expect_message(fast, ok_ack("99")));
  EXPECT_EQ(slow.poll(), std::vector<std::string>{chat_event("r", "fast", "after")});
}

}  // namespace
}  // namespace fallbench::integration
