// The chat protocol of docs/design.md section 3 over the real server, the Socket.IO layer around it,
// and many clients at once. Expected bytes are written out, never encoded.

#include "test_clients.hpp"
#include "test_server.hpp"

#include <atomic>
#include <barrier>
#include <map>
#include <set>
#include <thread>

namespace fallbench::integration {
namespace {

using namespace std::chrono_literals;

// Join `room` as `name` with ack `id`, and expect exactly the join event then the ack.
testing::AssertionResult join(ws_client& ws, std::string_view room, std::string_view name, std::string_view id) {
  if (auto ec = ws.send(emit_join(room, name, id))) return testing::AssertionFailure() << "send: " << ec.message();
  if (auto r = expect_message(ws, join_event(room, name)); !r) return r;
  return expect_message(ws, ok_ack(id));
}

// Chat and expect exactly the client's own chat event then the ack.
testing::AssertionResult chat(ws_client& ws, std::string_view room, std::string_view name, std::string_view msg,
                              std::string_view id) {
  if (auto ec = ws.send(emit_chat(room, name, msg, id))) return testing::AssertionFailure() << "send: " << ec.message();
  if (auto r = expect_message(ws, chat_event(room, name, msg)); !r) return r;
  return expect_message(ws, ok_ack(id));
}

// Connect `a` and `b` over WebSocket and join both to room r (acks "1"); `a` has read b's join.
testing::AssertionResult two_members_of_r(test_server& srv, ws_client& a, ws_client& b) {
  for (auto* ws : {&a, &b})
    if (auto r = ws_connect(*ws, srv.port()); !r) return r;
  if (auto r = join(a, "r", "a", "1"); !r) return r;
  if (auto r = join(b, "r", "b", "1"); !r) return r;
  return expect_message(a, join_event("r", "b"));
}

// ---------------------------------------------------------------------------------------------------
// join / chat / leave in rooms

TEST(ChatProtocolTest, JoinIsAnnouncedToTheRoomJoinerIncluded) {
  test_server srv;
  ws_client a, b, c;
  ASSERT_TRUE(ws_connect(a, srv.port()));
  ASSERT_TRUE(ws_connect(b, srv.port()));
  ASSERT_TRUE(ws_connect(c, srv.port()));
  ASSERT_TRUE(no_error(a.send(R"(42["join",{"room":"r1","name":"a"}])")));
  EXPECT_TRUE(expect_message(a, R"(42["join",{"room":"r1","name":"a"}])"));
  ASSERT_TRUE(no_error(b.send(R"(42["join",{"room":"r1","name":"b"}])")));
  EXPECT_TRUE(expect_message(b, R"(42["join",{"room":"r1","name":"b"}])"));
  EXPECT_TRUE(expect_message(a, R"(42["join",{"room":"r1","name":"b"}])"));
  EXPECT_TRUE(join(c, "r2", "c", "1"));
  // c's join went to r2 only: the next message a and b get is a's chat.
  EXPECT_TRUE(chat(a, "r1", "a", "hi", "1"));
  EXPECT_TRUE(expect_message(b, chat_event("r1", "a", "hi")));
  auto const st = srv.chat().stats();
  EXPECT_EQ(st.joins, 3u);
  EXPECT_EQ(st.rooms, 2u);
  EXPECT_EQ(st.deliveries, 1u + 2u + 1u + 2u);  // a, b and c joining, then a's chat
}

TEST(ChatProtocolTest, RoomsAreIsolated) {
  test_server srv;
  ws_client a, b;
  ASSERT_TRUE(ws_connect(a, srv.port()));
  ASSERT_TRUE(ws_connect(b, srv.port()));
  ASSERT_TRUE(join(a, "r1", "a", "1"));
  ASSERT_TRUE(join(b, "r2", "b", "1"));
  EXPECT_TRUE(chat(a, "r1", "a", "for r1", "2"));
  // b's next message is its own chat, not a's; and a's next is its own.
  EXPECT_TRUE(chat(b, "r2", "b", "for r2", "2"));
  EXPECT_TRUE(chat(a, "r1", "a", "again", "3"));
  EXPECT_EQ(srv.chat().stats().deliveries, 2u + 3u);
}

TEST(ChatProtocolTest, ChatWithoutMembershipGetsNegativeAck) {
  test_server srv;
  ws_client a, b;
  ASSERT_TRUE(ws_connect(a, srv.port()));
  ASSERT_TRUE(ws_connect(b, srv.port()));
  ASSERT_TRUE(join(a, "r1", "a", "1"));
  ASSERT_TRUE(join(b, "r2", "b", "1"));
  ASSERT_TRUE(no_error(b.send(emit_chat("r1", "b", "intruding", "5"))));
  EXPECT_TRUE(is_negative_ack(next_message(b), "5"));
  ASSERT_TRUE(no_error(b.send(emit_chat("nowhere", "b", "void", "6"))));
  EXPECT_TRUE(is_negative_ack(next_message(b), "6"));
  // Nothing reached r1: a's next message is its own chat.
  EXPECT_TRUE(chat(a, "r1", "a", "alone", "2"));
  auto const st = srv.chat().stats();
  EXPECT_EQ(st.rejected_chats, 2u);
  EXPECT_EQ(st.chats, 1u);
}

TEST(ChatProtocolTest, InvalidChatGetsNegativeAckAndIsCounted) {
  test_server srv;
  ws_client a;
  ASSERT_TRUE(ws_connect(a, srv.port()));
  ASSERT_TRUE(join(a, "r", "a", "1"));
  std::vector<std::string> const invalid{
      R"(["chat",{"room":"r","name":"a","msg":5}])",
      R"(["chat",{"room":"r","name":"a","msg":null}])",
      R"(["chat",{"room":"r","name":"a","msg":{"text":"hi"}}])",
      R"(["chat",{"room":"r","name":"a"}])",
      R"(["chat",{"room":"r","msg":"hi"}])",
      R"(["chat",{"room":"r","name":"","msg":"hi"}])",
      R"(["chat",{"room":"r","name":7,"msg":"hi"}])",
      R"(["chat",{"room":3,"name":"a","msg":"hi"}])",
      R"(["chat",{"room":"","name":"a","msg":"hi"}])",
      R"(["chat",{"room":"r","name":")" + std::string(257, 'n') + R"(","msg":"hi"}])",
      R"(["chat","hi"])",
      R"(["chat",["r","a","hi"]])",
      R"(["chat"])",
  };
  for (std::size_t i = 0; i < invalid.size(); ++i) {
    SCOPED_TRACE(invalid[i]);
    auto const id = std::to_string(i + 10);
    ASSERT_TRUE(no_error(a.send("42" + id + invalid[i])));
    EXPECT_TRUE(is_negative_ack(next_message(a), id));
  }
  // Without an ack id it is dropped silently, and still counted.
  ASSERT_TRUE(no_error(a.send("42" + invalid[0])));
  // None was broadcast, and the session lives on: a's next message is its own chat.
  EXPECT_TRUE(chat(a, "r", "a", "valid", "2"));
  auto const st = srv.chat().stats();
  EXPECT_EQ(st.rejected_chats, invalid.size() + 1);
  EXPECT_EQ(st.invalid_events, invalid.size() + 1);
  EXPECT_EQ(st.chats, 1u);
  EXPECT_EQ(srv.engine().stats().sessions_open, 1u);
}

TEST(ChatProtocolTest, LeaveStopsDeliveryAndTheLeaverGetsItsOwnLeave) {
  test_server srv;
  ws_client a, b;
  ASSERT_TRUE(two_members_of_r(srv, a, b));

  ASSERT_TRUE(no_error(b.send(emit_leave("r", "b", "3"))));
  EXPECT_TRUE(expect_message(b, R"(42["leave",{"room":"r","name":"b"}])"));
  EXPECT_TRUE(expect_message(b, ok_ack("3")));
  EXPECT_TRUE(expect_message(a, R"(42["leave",{"room":"r","name":"b"}])"));

  EXPECT_TRUE(chat(a, "r", "a", "b is gone", "2"));
  // b gets nothing more from r: its next message answers its own chat there, which it may no longer send.
  ASSERT_TRUE(no_error(b.send(emit_chat("r", "b", "let me in", "4"))));
  EXPECT_TRUE(is_negative_ack(next_message(b), "4"));

  // Leaving again is invalid input, ignored (b's next refused chat shows it has been handled).
  ASSERT_TRUE(no_error(b.send(emit_leave("r", "b"))));
  ASSERT_TRUE(no_error(b.send(emit_chat("r", "b", "still out", "7"))));
  EXPECT_TRUE(is_negative_ack(next_message(b), "7"));
  EXPECT_TRUE(chat(a, "r", "a", "still alone", "5"));
  auto const st = srv.chat().stats();
  EXPECT_EQ(st.leaves, 1u);
  EXPECT_EQ(st.rejected_chats, 2u);
  EXPECT_EQ(st.invalid_events, 3u);  // the two refused chats and the second leave
  EXPECT_EQ(st.rooms, 1u);
}

TEST(ChatProtocolTest, LegacyFormsBroadcastToEveryoneAndLegacyLeaveDisconnects) {
  test_server srv;
  ws_client a, b, c;
  ASSERT_TRUE(ws_connect(a, srv.port()));
  ASSERT_TRUE(ws_connect(b, srv.port()));
  ASSERT_TRUE(ws_connect(c, srv.port()));
  ASSERT_TRUE(join(c, "x", "c", "1"));  // rooms do not matter to the older form

  ASSERT_TRUE(no_error(a.send(R"(42["join","alice"])")));
  for (auto* ws : {&a, &b, &c}) EXPECT_TRUE(expect_message(*ws, R"(42["join","alice"])"));
  ASSERT_TRUE(no_error(a.send(R"(421["chat",{"name":"alice","msg":"hi all"}])")));
  for (auto* ws : {&a, &b, &c}) EXPECT_TRUE(expect_message(*ws, R"(42["chat",{"name":"alice","msg":"hi all"}])"));
  EXPECT_TRUE(expect_message(a, R"(431[{"ok":true}])"));

  ASSERT_TRUE(no_error(a.send(R"(42["leave","alice"])")));
  for (auto* ws : {&b, &c}) EXPECT_TRUE(expect_message(*ws, R"(42["leave","alice"])"));
  // The leaver gets the leave too, then DISCONNECT, the close packet and the close frame.
  EXPECT_TRUE(expect_closed(a, {R"(42["leave","alice"])", "41", "1"}));

  // The others carry on, without a.
  ASSERT_TRUE(no_error(b.send(R"(422["chat",{"name":"bob","msg":"bye alice"}])")));
  for (auto* ws : {&b, &c}) EXPECT_TRUE(expect_message(*ws, R"(42["chat",{"name":"bob","msg":"bye alice"}])"));
  EXPECT_TRUE(expect_message(b, R"(432[{"ok":true}])"));
  EXPECT_TRUE(wait_for_condition([&] { return srv.engine().stats().sessions_open == 2; }));
  auto const st = srv.chat().stats();
  EXPECT_EQ(st.joins, 2u);
  EXPECT_EQ(st.leaves, 1u);
  EXPECT_EQ(st.chats, 2u);
}

TEST(ChatProtocolTest, LegacyLeaveOverPollingEndsWithDisconnectAndClose) {
  test_server_config cfg;
  cfg.options.lim.close_timeout = 10s;  // however slow the machine, the close packet waits for our GET
  test_server srv(cfg);
  polling_client p(srv.port());
  ASSERT_TRUE(p.connect());
  ASSERT_TRUE(p.send(R"(42["join","alice"])"));
  ASSERT_TRUE(p.send(R"(42["leave","alice"])"));
  EXPECT_EQ(p.poll(), (std::vector<std::string>{R"(42["join","alice"])", R"(42["leave","alice"])", "41", "1"}));
  EXPECT_TRUE(wait_for_condition([&] { return srv.engine().stats().sessions_open == 0; }));
  EXPECT_TRUE(is_engine_error(p.get(), 400, 1));
  p.forget();
}

TEST(ChatProtocolTest, InvalidJoinAndLeaveAreIgnoredAndCounted) {
  test_server srv;
  ws_client a;
  ASSERT_TRUE(ws_connect(a, srv.port()));
  std::vector<std::string> const invalid{
      R"(42["join",{"room":5,"name":"a"}])",
      R"(42["join",{"room":"r"}])",
      R"(42["join",{"name":"a"}])",
      R"(42["join",{"room":"r","name":""}])",
      R"(42["join",{"room":"r","name":")" + std::string(257, 'n') + R"("}])",
      R"(42["join",{}])",
      R"(42["join",[]])",
      R"(42["join",""])",
      R"(42["join",42])",
      R"(42["join"])",
      R"(42["leave",{"room":"r","name":"a"}])",  // not a member
      R"(42["leave",{"room":"r"}])",
      R"(42["leave",5])",
      R"(42["leave",""])",
      R"(42["dance",{"room":"r"}])",  // unknown event
  };
  for (auto const& packet : invalid) ASSERT_TRUE(no_error(a.send(packet))) << packet;
  // Asked for an ack, they answer a negative one.
  std::vector<std::string> const with_ack{
      R"(4220["join",{"room":5,"name":"a"}])",
      R"(4221["leave",{"room":"r","name":"a"}])",
      R"(4222["dance",{"room":"r"}])",
  };
  for (std::size_t i = 0; i < with_ack.size(); ++i) {
    SCOPED_TRACE(with_ack[i]);
    ASSERT_TRUE(no_error(a.send(with_ack[i])));
    EXPECT_TRUE(is_negative_ack(next_message(a), std::to_string(20 + i)));
  }
  // None had an effect: a's next message answers its valid join.
  EXPECT_TRUE(join(a, "r", "a", "1"));
  auto const st = srv.chat().stats();
  EXPECT_EQ(st.invalid_events, invalid.size() + with_ack.size());
  EXPECT_EQ(st.joins, 1u);
  EXPECT_EQ(st.leaves, 0u);
  EXPECT_EQ(st.rooms, 1u);
  EXPECT_EQ(srv.engine().stats().sessions_open, 1u);
}

TEST(ChatProtocolTest, UnknownFieldsPassThrough) {
  test_server srv;
  ws_client a;
  ASSERT_TRUE(ws_connect(a, srv.port()));
  ASSERT_TRUE(no_error(a.send(R"(421["join",{"room":"r","name":"a","client":"h1"}])")));
  EXPECT_TRUE(expect_message(a, R"(42["join",{"room":"r","name":"a","client":"h1"}])"));
  EXPECT_TRUE(expect_message(a, ok_ack("1")));
  // The harness's own fields (sender, sequence number, send time) come back unchanged, in their order.
  ASSERT_TRUE(no_error(
      a.send(R"(422["chat",{"room":"r","name":"a","msg":"x","seq":42,"sent_at":1712345678901,"from":"h1/7"}])")));
  EXPECT_TRUE(expect_message(
      a, R"(42["chat",{"room":"r","name":"a","msg":"x","seq":42,"sent_at":1712345678901,"from":"h1/7"}])"));
  EXPECT_TRUE(expect_message(a, ok_ack("2")));
}

TEST(ChatProtocolTest, ChatIsRelayedByteForByte) {
  test_server srv;
  ws_client a, b;
  ASSERT_TRUE(ws_connect(a, srv.port()));
  ASSERT_TRUE(ws_connect(b, srv.port()));
  ASSERT_TRUE(join(a, "a", "a", "1"));
  ASSERT_TRUE(join(b, "a", "b", "1"));
  EXPECT_TRUE(expect_message(a, join_event("a", "b")));
  // Odd whitespace, \u escapes (the room spelled `\u0061` is room "a"), escaped quotes and slashes,
  // non-ASCII text, unknown fields nested in objects and arrays, numbers a DOM would rewrite
  // (1.0, 1E2, -0), duplicate keys, and a second argument the relay drops: the receivers get the first
  // argument exactly as it was sent.
  std::string const payload =
      "{ \"room\" : \"\\u0061\",\n\t\"name\":\"\\u0061\", \"msg\" : \"caf\\u00e9 \\\"q\\\" \\/ \xc3\xa9\\n\" ,"
      " \"z\":{\"a\":[1.0, 1E2, -0, {\"room\":5}], \"b\":null},\"seq\":  7 , \"x\":\"1\",\"x\":\"2\" }";
  ASSERT_TRUE(no_error(a.send(R"(423[ "chat" , )" + payload + R"( , "dropped" ])")));
  std::string const relayed = R"(42["chat",)" + payload + "]";
  EXPECT_TRUE(expect_message(a, relayed));
  EXPECT_TRUE(expect_message(a, ok_ack("3")));
  EXPECT_TRUE(expect_message(b, relayed));
  EXPECT_EQ(srv.chat().stats().chats, 1u);
}

TEST(ChatProtocolTest, ChatSentAsBinaryEventTakesTheSamePath) {
  test_server srv;
  ws_client a;
  ASSERT_TRUE(ws_connect(a, srv.port()));
  ASSERT_TRUE(join(a, "r", "a", "1"));
  // A BINARY_EVENT is decoded on the DOM path (its attachments must be gathered), then written back
  // to text for the chat decoder: relayed as that text (keys sorted, the attachment not forwarded),
  // acked as any chat.
  ASSERT_TRUE(no_error(a.send(R"(451-7["chat",{"room":"r","name":"a","msg":"x","bin":{"_placeholder":true,"num":0}}])")));
  ASSERT_TRUE(no_error(a.send_binary("\x01\x02")));
  EXPECT_TRUE(expect_message(a, R"(42["chat",{"bin":{"_placeholder":true,"num":0},"msg":"x","name":"a","room":"r"}])"));
  EXPECT_TRUE(expect_message(a, ok_ack("7")));
  // Refused the same way too.
  ASSERT_TRUE(no_error(a.send(R"(451-8["chat",{"room":"elsewhere","name":"a","msg":"x","bin":{"_placeholder":true,"num":0}}])")));
  ASSERT_TRUE(no_error(a.send_binary("\x01\x02")));
  EXPECT_TRUE(is_negative_ack(next_message(a), "8"));
  EXPECT_EQ(srv.chat().stats().chats, 1u);
  EXPECT_EQ(srv.chat().stats().rejected_chats, 1u);
}

TEST(ChatProtocolTest, MalformedChatClosesTheSessionAsAnyUnparsablePacket) {
  test_server srv;
  ws_client a, b;
  ASSERT_TRUE(two_members_of_r(srv, a, b));
  // Trailing garbage after the first argument: not JSON, so no ack and no relay; the session ends.
  ASSERT_TRUE(no_error(a.send(R"(425["chat",{"room":"r","name":"a","msg":"x"} x])")));
  EXPECT_TRUE(wait_for_condition([&] { return srv.engine().stats().sessions_open == 1; }));
  EXPECT_EQ(srv.sio().stats().parse_errors, 1u);
  // b got nothing from it: its next message is its own chat.
  EXPECT_TRUE(chat(b, "r", "b", "still here", "2"));
  EXPECT_EQ(srv.chat().stats().chats, 1u);
}

TEST(ChatProtocolTest, PollingAndWebSocketMembersShareARoom) {
  test_server srv;
  polling_client p(srv.port());
  ws_client w;
  ASSERT_TRUE(p.connect());
  ASSERT_TRUE(p.send(emit_join("r", "p")));
  ASSERT_TRUE(ws_connect(w, srv.port()));
  ASSERT_TRUE(join(w, "r", "w", "1"));
  EXPECT_EQ(p.poll(), (std::vector<std::string>{join_event("r", "p"), join_event("r", "w")}));
  EXPECT_TRUE(chat(w, "r", "w", "from ws", "2"));
  EXPECT_EQ(p.poll(), std::vector<std::string>{chat_event("r", "w", "from ws")});
  ASSERT_TRUE(p.send(emit_chat("r", "p", "from polling", "5")));
  EXPECT_EQ(p.poll(), (std::vector<std::string>{chat_event("r", "p", "from polling"), ok_ack("5")}));
  EXPECT_TRUE(expect_message(w, chat_event("r", "p", "from polling")));
}

TEST(ChatProtocolTest, APollingChatsCopyAndAckLeaveInOneResponse) {
  // Corked: what one POST makes the sender's session send goes out together, so the ack costs no
  // second poll (session_impl::cork).
  test_server srv;
  polling_client p(srv.port());
  ASSERT_TRUE(p.connect());
  ASSERT_TRUE(p.send(emit_join("r", "p", "1")));
  ASSERT_EQ(p.poll(), (std::vector<std::string>{join_event("r", "p"), ok_ack("1")}));
  auto parked = park_poll(srv, p);
  ASSERT_TRUE(p.send(emit_chat("r", "p", "corked", "2")));
  auto const res = parked.get();
  ASSERT_TRUE(res && res->status == 200) << describe(res);
  EXPECT_EQ(split_payload(res->body), (std::vector<std::string>{chat_event("r", "p", "corked"), ok_ack("2")}));
}

// ---------------------------------------------------------------------------------------------------
// The Socket.IO layer around the chat

TEST(SocketIoTest, ConnectToUnknownNamespaceGetsConnectError) {
  test_server srv;
  ws_client ws;
  ASSERT_FALSE(ws_open(ws, srv.port()).is_null());
  ASSERT_TRUE(no_error(ws.send("40/nope,")));
  EXPECT_TRUE(expect_message(ws, R"(44/nope,{"message":"Invalid namespace"})"));
  ASSERT_TRUE(no_error(ws.send("40")));
  auto const m = next_message(ws);
  EXPECT_TRUE(m.starts_with(R"(40{"sid":")")) << m;
  EXPECT_EQ(srv.sio().stats().connect_errors, 1u);
  EXPECT_EQ(srv.sio().stats().connects, 1u);
}

TEST(SocketIoTest, SessionThatNeverConnectsIsClosedAfterConnectTimeout) {
  test_server_config cfg;
  cfg.connect_timeout = 200ms;
  test_server srv(cfg);
  ws_client ws;
  ASSERT_FALSE(ws_open(ws, srv.port()).is_null());
  EXPECT_TRUE(expect_closed(ws, {"1"}));
  EXPECT_TRUE(wait_for_condition([&] { return srv.engine().stats().sessions_open == 0; }));
}

// ---------------------------------------------------------------------------------------------------
// Many clients at once

TEST(ChatConcurrencyTest, ManyWebSocketClientsGetEveryChatOfTheirRoomExactlyOnce) {
  constexpr int rooms = 5;
  constexpr int clients = 50;
  constexpr int chats_each = 20;
  constexpr int per_room = clients / rooms;
  test_server_config cfg;
  cfg.threads = 4;
  test_server srv(cfg);

  auto const name_of = [](int id) { return "c" + std::to_string(id); };
  auto const room_of = [](int id) { return "room" + std::to_string(id % rooms); };
  auto const msg_of = [](int seq) { return "m" + std::to_string(seq); };

  // Counters at the end of the chat phase, taken while every client waits at the barrier.
  chat::chat_stats chat_after_chats{};
  transport::server_stats engine_after_chats{};
  int phase = 0;
  std::barrier sync(clients, [&]() noexcept {
    if (++phase == 2) {
      chat_after_chats = srv.chat().stats();
      engine_after_chats = srv.engine().stats();
    }
  });
  std::atomic<int> failed{0};
  std::atomic<std::uint64_t> joins_seen{0};
  std::atomic<std::uint64_t> chats_seen{0};

  auto const run = [&](int id) {
    auto const name = name_of(id);
    auto const room = room_of(id);
    ws_client ws;
    // On failure: report, and leave the barrier so that no other client waits for this one.
    auto const fail = [&](std::string const& what) {
      ADD_FAILURE() << name << ": " << what;
      ++failed;
      sync.arrive_and_drop();
    };
    std::string m;

    // 1. Connect and join; other members' join events may come before and after the ack.
    if (auto r = ws_connect(ws, srv.port()); !r) return fail(r.message());
    if (auto ec = ws.send(emit_join(room, name, "1"))) return fail("join: " + ec.message());
    std::uint64_t joins = 0;
    auto const is_room_join = [&](std::string const& msg) {
      return msg.starts_with(R"(42["join",{"room":")" + room + R"(","name":")") && msg.ends_with(R"("}])");
    };
    for (;;) {
      if (auto ec = ws.read(m)) return fail("read before join ack: " + ec.message());
      if (m == ok_ack("1")) break;
      if (!is_room_join(m)) return fail("unexpected before join ack: " + m);
      ++joins;
    }
    sync.arrive_and_wait();  // every client is a member of its room

    // 2. Chat: send all, then read until every chat of the room and every own ack has come.
    std::map<std::string, int> want;  // expected chat event -> times seen
    for (int member = id % rooms; member < clients; member += rooms)
      for (int seq = 0; seq < chats_each; ++seq) want[chat_event(room, name_of(member), msg_of(seq))] = 0;
    std::set<std::string> acks_due;
    for (int seq = 0; seq < chats_each; ++seq) {
      auto const ack = std::to_string(seq + 2);
      acks_due.insert(ok_ack(ack));
      if (auto ec = ws.send(emit_chat(room, name, msg_of(seq), ack))) return fail("chat: " + ec.message());
    }
    std::size_t chats = 0;
    while (chats < want.size() || !acks_due.empty()) {
      if (auto ec = ws.read(m)) {
        return fail("read in chat phase after " + std::to_string(chats) + " chats, " +
                    std::to_string(acks_due.size()) + " acks due: " + ec.message());
      }
      if (auto it = want.find(m); it != want.end()) {
        if (++it->second != 1) return fail("chat twice: " + m);
        ++chats;
      } else if (acks_due.erase(m) == 1) {
        continue;
      } else if (is_room_join(m)) {
        ++joins;
      } else {
        return fail("unexpected in chat phase: " + m);
      }
    }
    joins_seen += joins;
    chats_seen += chats;
    sync.arrive_and_wait();  // every client has every chat of its room

    // 3. Leave; others' leave events may come first. The leaver gets its own.
    if (auto ec = ws.send(emit_leave(room, name, "99"))) return fail("leave: " + ec.message());
    bool own_leave = false;
    for (;;) {
      if (auto ec = ws.read(m)) return fail("read in leave phase: " + ec.message());
      if (m == leave_event(room, name)) {
        own_leave = true;
      } else if (m == ok_ack("99")) {
        break;
      } else if (!(m.starts_with(R"(42["leave",{"room":")" + room + R"(","name":")") && m.ends_with(R"("}])"))) {
        return fail("unexpected in leave phase: " + m);
      }
    }
    if (!own_leave) return fail("no leave event of its own before the ack");
    sync.arrive_and_wait();  // every client has left
    if (auto ec = ws.close()) ADD_FAILURE() << name << ": close: " << ec.message();
  };

  auto const start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int id = 0; id < clients; ++id) threads.emplace_back(run, id);
  for (auto& t : threads) t.join();
  auto const elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(failed.load(), 0);
  EXPECT_LT(elapsed, 20s);

  // Counters agree with what the clients saw.
  std::uint64_t const total_chats = std::uint64_t{clients} * chats_each;
  EXPECT_EQ(chat_after_chats.joins, std::uint64_t{clients});
  EXPECT_EQ(chat_after_chats.chats, total_chats);
  EXPECT_EQ(chats_seen.load(), total_chats * per_room);
  EXPECT_EQ(chat_after_chats.deliveries, joins_seen.load() + chats_seen.load());
  EXPECT_EQ(chat_after_chats.rooms, std::uint64_t{rooms});
  EXPECT_EQ(chat_after_chats.invalid_events, 0u);
  EXPECT_EQ(chat_after_chats.rejected_chats, 0u);
  // Each room's joins were seen at least as often as one after another would give: n(n+1)/2.
  EXPECT_GE(joins_seen.load(), std::uint64_t{rooms} * per_room * (per_room + 1) / 2);
  EXPECT_EQ(engine_after_chats.sessions_opened, std::uint64_t{clients});
  EXPECT_EQ(engine_after_chats.sessions_open, std::uint64_t{clients});
  EXPECT_EQ(engine_after_chats.upgrades, 0u);
  EXPECT_EQ(engine_after_chats.dropped_packets, 0u);
  for (auto const closed : engine_after_chats.sessions_closed) EXPECT_EQ(closed, 0u);

  auto const end = srv.chat().stats();
  EXPECT_EQ(end.leaves, std::uint64_t{clients});
  EXPECT_EQ(end.rooms, 0u);
  auto const sio = srv.sio().stats();
  EXPECT_EQ(sio.connects, std::uint64_t{clients});
  EXPECT_EQ(sio.events, std::uint64_t{clients} * (2 + chats_each));
  EXPECT_EQ(sio.parse_errors, 0u);
}

}  // namespace
}  // namespace fallbench::integration
