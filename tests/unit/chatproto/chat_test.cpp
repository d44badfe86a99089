// The chat protocol module (transports/chatproto): the DOM-free decoder (valid events, each refusal,
// escapes, unknown nested fields, bounds, truncation at every byte) and the wire form it writes.
// Expected bytes are written out, never encoded.

#include "fallbench/chatproto/chat.hpp"

#include "fallbench/codec/json_scan.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

#include <string>
#include <string_view>

namespace fallbench::chatproto {
namespace {

using namespace std::string_view_literals;

decode_error decode(event_kind kind, std::string_view args, message& out) {
  static thread_local decoder d;
  return d.decode(kind, args, out);
}

TEST(ChatDecoderTest, ReadsAChatAndKeepsItsPayloadAsAView) {
  std::string const args = R"({"room":"r1","name":"alice","msg":"hello"})";
  message m;
  ASSERT_EQ(decode(event_kind::chat, args, m), decode_error::none);
  EXPECT_EQ(m.room, "r1");
  EXPECT_EQ(m.name, "alice");
  EXPECT_EQ(m.msg, "hello");
  EXPECT_FALSE(m.legacy);
  EXPECT_FALSE(m.tags);
  EXPECT_EQ(m.payload, args);
  EXPECT_EQ(m.payload.data(), args.data());
  EXPECT_EQ(m.room.data(), args.data() + 9);  // unescaped: a view into the input
}

TEST(ChatDecoderTest, ReadsTheHarnessTags) {
  message m;
  ASSERT_EQ(decode(event_kind::chat, R"({"room":"r0","name":"c7","msg":"xx","k":3,"q":41,"t":1000,"a":-5})", m),
            decode_error::none);
  ASSERT_TRUE(m.tags);
  EXPECT_EQ(m.tags->stream, 3);
  EXPECT_EQ(m.tags->seq, 41);
  EXPECT_EQ(m.tags->intended_ns, 1000);
  EXPECT_EQ(m.tags->sent_ns, -5);
  // A tag that is not an integer, or a missing one, means no tags (the chat itself stays valid).
  ASSERT_EQ(decode(event_kind::chat, R"({"room":"r","name":"c","msg":"","k":3,"q":4.5,"t":1,"a":2})", m),
            decode_error::none);
  EXPECT_FALSE(m.tags);
  ASSERT_EQ(decode(event_kind::chat, R"({"room":"r","name":"c","msg":"","k":3,"q":4,"t":1})", m), decode_error::none);
  EXPECT_FALSE(m.tags);
}

TEST(ChatDecoderTest, EscapedFieldsCompareDecoded) {
  message m;
  ASSERT_EQ(decode(event_kind::chat, R"({"room":"\u0061","name":"b\"\\","msg":"\n"})", m), decode_error::none);
  EXPECT_EQ(m.room, "a");
  EXPECT_EQ(m.name, "b\"\\");
  EXPECT_EQ(m.msg, R"(\n)");
  EXPECT_TRUE(m.msg_escaped);
  std::string buffer;
  EXPECT_EQ(codec::json_scan::string_value({m.msg, m.msg_escaped}, buffer), "\n");
  // An escaped key is the key it spells.
  ASSERT_EQ(decode(event_kind::join, R"({"r\u006fom":"x","\u006eame":"y"})", m), decode_error::none);
  EXPECT_EQ(m.room, "x");
  EXPECT_EQ(m.name, "y");
}

TEST(ChatDecoderTest, SkipsUnknownFieldsOfEveryType) {
  std::string const args =
      R"({ "x" : {"room":"no","a":[1,{"name":""}],"b":{}} , "room" : "r", "y":[[],[{"msg":5}]],"z":null,)"
      R"("n":-1.5e3,"t2":true,"f":false,"s":"}]\"","name":"a","msg":"m"  })";
  message m;
  ASSERT_EQ(decode(event_kind::chat, args, m), decode_error::none);
  EXPECT_EQ(m.room, "r");
  EXPECT_EQ(m.name, "a");
  EXPECT_EQ(m.msg, "m");
  EXPECT_EQ(m.payload, args);
}

TEST(ChatDecoderTest, ReadsJoinLeaveAndTheOlderForms) {
  message m;
  ASSERT_EQ(decode(event_kind::join, R"({"room":"r","name":"a","client":"h1"})", m), decode_error::none);
  EXPECT_EQ(m.kind, event_kind::join);
  EXPECT_EQ(m.room, "r");
  ASSERT_EQ(decode(event_kind::leave, R"("alice")", m), decode_error::none);
  EXPECT_TRUE(m.legacy);
  EXPECT_EQ(m.name, "alice");
  EXPECT_EQ(m.payload, R"("alice")");
  ASSERT_EQ(decode(event_kind::chat, R"({"name":"alice","msg":"hi"})", m), decode_error::none);
  EXPECT_TRUE(m.legacy);
  EXPECT_EQ(m.room, "");
  // Later arguments are checked as JSON and otherwise ignored; the payload is the first one.
  ASSERT_EQ(decode(event_kind::join, R"({"room":"r","name":"a"} , [1,{"b":2}],"x")", m), decode_error::none);
  EXPECT_EQ(m.payload, R"({"room":"r","name":"a"})");
}

TEST(ChatDecoderTest, RefusesWhatTheProtocolForbids) {
  std::string const long_name(max_name_bytes + 1, 'n');
  struct refusal {
    event_kind kind;
    std::string args;
    decode_error want;
  };
  refusal const cases[] = {
      {event_kind::chat, "", decode_error::missing_argument},
      {event_kind::chat, R"({"room":"r","name":"a","msg":5})", decode_error::invalid_msg},
      {event_kind::chat, R"({"room":"r","name":"a","msg":null})", decode_error::invalid_msg},
      {event_kind::chat, R"({"room":"r","name":"a","msg":{"text":"hi"}})", decode_error::invalid_msg},
      {event_kind::chat, R"({"room":"r","name":"a"})", decode_error::invalid_msg},
      {event_kind::chat, R"({"room":"r","msg":"hi"})", decode_error::invalid_name},
      {event_kind::chat, R"({"room":"r","name":"","msg":"hi"})", decode_error::invalid_name},
      {event_kind::chat, R"({"room":"r","name":7,"msg":"hi"})", decode_error::invalid_name},
      {event_kind::chat, R"({"room":3,"name":"a","msg":"hi"})", decode_error::invalid_room},
      {event_kind::chat, R"({"room":"","name":"a","msg":"hi"})", decode_error::invalid_room},
      {event_kind::chat, R"({"room":"r","name":")" + long_name + R"(","msg":"hi"})", decode_error::invalid_name},
      {event_kind::chat, R"({"room":")" + long_name + R"(","name":"a","msg":"hi"})", decode_error::invalid_room},
      {event_kind::chat, R"("hi")", decode_error::not_an_object},
      {event_kind::chat, R"(["r","a","hi"])", decode_error::not_an_object},
      {event_kind::join, R"({"room":5,"name":"a"})", decode_error::invalid_room},
      {event_kind::join, R"({"name":"a"})", decode_error::invalid_room},
      {event_kind::join, R"({"room":"r"})", decode_error::invalid_name},
      {event_kind::join, R"({})", decode_error::invalid_room},
      {event_kind::join, R"([])", decode_error::not_an_object},
      {event_kind::join, R"("")", decode_error::invalid_name},
      {event_kind::join, R"(42)", decode_error::not_an_object},
      {event_kind::leave, "", decode_error::missing_argument},
      {event_kind::leave, R"(")" + long_name + R"(")", decode_error::invalid_name},
  };
  for (auto const& c : cases) {
    message m;
    auto const got = decode(c.kind, c.args, m);
    EXPECT_EQ(got, c.want) << c.args << ": " << to_string(got);
    EXPECT_FALSE(is_malformed(got)) << c.args;
  }
  // Exactly max_name_bytes is fine.
  message m;
  std::string const longest(max_name_bytes, 'n');
  EXPECT_EQ(decode(event_kind::chat, R"({"room":"r","name":")" + longest + R"(","msg":""})", m), decode_error::none);
}

TEST(ChatDecoderTest, RefusesMalformedJson) {
  struct malformed {
    std::string_view args;
    decode_error want;
  };
  malformed const cases[] = {
      {R"({"room":"r","name":"a","msg":"hi"} x)", decode_error::syntax},
      {R"({"room":"r","name":"a","msg":"hi"}})", decode_error::syntax},
      {R"({"room":"r","name":"a","msg":"hi"},)", decode_error::truncated},
      {R"({"room":"r","name":"a","msg":"hi",})", decode_error::syntax},
      {R"({"room":"r" "name":"a"})", decode_error::syntax},
      {R"({'room':"r"})", decode_error::syntax},
      {R"({"room":"r","name":"a","msg":"hi","x":[1,2})", decode_error::syntax},
      {R"({"room":"r","name":"a","msg":"hi","x":tru})", decode_error::syntax},
      {R"({"room":"\q","name":"a","msg":"hi"})", decode_error::bad_string},
      {R"({"room":"\ud800","name":"a","msg":"hi"})", decode_error::bad_string},
      {"{\"room\":\"r\",\"name\":\"a\",\"msg\":\"\xff\"}", decode_error::bad_string},
      {"{\"room\":\"r\",\"name\":\"a\",\"msg\":\"\x01\"}", decode_error::bad_string},
      {R"({"room":"r","name":"a","msg":"hi"}, 01)", decode_error::syntax},
  };
  for (auto const& c : cases) {
    message m;
    auto const got = decode(event_kind::chat, c.args, m);
    EXPECT_EQ(got, c.want) << c.args << ": " << to_string(got);
    EXPECT_TRUE(is_malformed(got)) << c.args;
  }
  std::string deep = R"({"room":"r","name":"a","msg":"hi","x":)" + std::string(200, '[') + std::string(200, ']') + "}";
  message m;
  EXPECT_EQ(decode(event_kind::chat, deep, m), decode_error::too_deep);
}

TEST(ChatDecoderTest, EveryTruncationIsAnErrorNotACrash) {
  std::string const args =
      R"({"room":"r\u00e9\ud83d\ude00","name":"n","x":{"y":[1,-2.5e+3,true,false,null,"s"]},"msg":"caf\u00e9)"
      "\xc3\xa9"
      R"(","k":1,"q":2,"t":3,"a":4})";
  message whole;
  ASSERT_EQ(decode(event_kind::chat, args, whole), decode_error::none);
  for (std::size_t n = 0; n < args.size(); ++n) {
    // A copy of exactly n bytes, so a read past the end is caught by sanitizers.
    std::string const cut = args.substr(0, n);
    message m;
    auto const got = decode(event_kind::chat, cut, m);
    EXPECT_NE(got, decode_error::none) << "at " << n;
    if (n > 0) {
      EXPECT_TRUE(is_malformed(got)) << "at " << n << ": " << to_string(got);
    }
  }
}

// Differential check against nlohmann::json, the parser the server used before: over seeded random
// mutations of a valid chat (byte changes, insertions, deletions), the decoder calls the text
// malformed exactly when nlohmann refuses it as JSON.
TEST(ChatDecoderTest, AgreesWithNlohmannOnWhatIsJson) {
  std::string const base =
      R"({"room":"r\u00e9","name":"n","x":{"y":[1,-2.5e+3,true,false,null,"s\ud83d\ude00"]},"msg":"caf)"
      "\xc3\xa9"
      R"( \"q\"","k":1,"q":2,"t":3,"a":4},[0.5,{}])";
  std::string_view const alphabet = "{}[]\",:\\/u0123456789abcdefeEtrn+-. \t\n\x01\x7f\xc3\xa9\xed\xa0\xff";
  std::uint32_t const seed = 20261204;
  std::mt19937 rng(seed);
  decoder d;
  for (int i = 0; i < 5000; ++i) {
    std::string text = base;
    int const edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      std::size_t const at = rng() % (text.size() + 1);
      char const c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          if (at < text.size()) text[at] = c;
          break;
        case 1: text.insert(at, 1, c); break;
        default:
          if (at < text.size()) text.erase(at, 1);
      }
    }
    message m;
    bool const malformed = is_malformed(d.decode(event_kind::chat, text, m));
    bool const nlohmann_refuses = nlohmann::json::parse("[" + text + "]", nullptr, false).is_discarded();
    ASSERT_EQ(malformed, nlohmann_refuses) << "seed " << seed << ", case " << i << ": " << text;
  }
}

TEST(ChatDecoderTest, DuplicateKeysTakeTheLast) {
  message m;
  ASSERT_EQ(decode(event_kind::chat, R"({"room":"a","room":"b","name":"n","msg":"m"})", m), decode_error::none);
  EXPECT_EQ(m.room, "b");
  EXPECT_EQ(decode(event_kind::chat, R"({"room":"a","room":5,"name":"n","msg":"m"})", m), decode_error::invalid_room);
}

TEST(ChatDecoderTest, ReasonsAreTheServersWireTexts) {
  EXPECT_EQ(reason(event_kind::chat, decode_error::invalid_msg), "invalid chat: msg must be a string");
  EXPECT_EQ(reason(event_kind::chat, decode_error::not_an_object), "invalid chat: name must be a non-empty string");
  EXPECT_EQ(reason(event_kind::join, decode_error::invalid_name),
            "invalid join: room and name must be non-empty strings");
}

TEST(ChatEncoderTest, WritesTheWireForm) {
  std::string out;
  append_chat({"r0", "c1", "hi \"x\"", harness_tags{2, 3, 4, 5}}, out);
  EXPECT_EQ(out, R"({"room":"r0","name":"c1","msg":"hi \"x\"","k":2,"q":3,"t":4,"a":5})");
  out.clear();
  append_chat({"", "alice", "yo", std::nullopt}, out);
  EXPECT_EQ(out, R"({"name":"alice","msg":"yo"})");
  out.clear();
  append_membership("r", "a", out);
  EXPECT_EQ(out, R"({"room":"r","name":"a"})");
  out.clear();
  append_event_packet(event_kind::join, R"({"room":"r","name":"a"})", out);
  EXPECT_EQ(out, R"(2["join",{"room":"r","name":"a"}])");
  out.clear();
  append_ack_packet(17, ok_ack_args, out);
  EXPECT_EQ(out, R"(317[{"ok":true}])");
  out.clear();
  append_reject_args("not a member of room", out);
  EXPECT_EQ(out, R"([{"error":"not a member of room","ok":false}])");
}

TEST(ChatEncoderTest, WhatItWritesDecodesBack) {
  std::string out;
  append_chat({"r\n", "c\"1", "\x01", harness_tags{1, 2, 3, 4}}, out);
  message m;
  ASSERT_EQ(decode(event_kind::chat, out, m), decode_error::none);
  EXPECT_EQ(m.room, "r\n");
  EXPECT_EQ(m.name, "c\"1");
  ASSERT_TRUE(m.tags);
  EXPECT_EQ(m.tags->seq, 2);
}

TEST(ChatAckTest, ReadsOkAndRefusals) {
  ack a;
  ASSERT_EQ(decode_ack(R"([{"ok":true}])", a), decode_error::none);
  EXPECT_TRUE(a.ok);
  ASSERT_EQ(decode_ack(R"([{"error":"not a member of room","ok":false}])", a), decode_error::none);
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.error, "not a member of room");
  ASSERT_EQ(decode_ack(R"( [ { "x" : [1,{"ok":false}], "ok" : true } ] )", a), decode_error::none);
  EXPECT_TRUE(a.ok);
  EXPECT_EQ(decode_ack("[]", a), decode_error::missing_argument);
  EXPECT_EQ(decode_ack(R"([{"ok":1}])", a), decode_error::not_an_object);
  EXPECT_EQ(decode_ack(R"(["ok"])", a), decode_error::not_an_object);
  EXPECT_TRUE(is_malformed(decode_ack(R"([{"ok":true})", a)));
  EXPECT_TRUE(is_malformed(decode_ack(R"([{"ok":true}]x)", a)));
  EXPECT_TRUE(is_malformed(decode_ack("", a)));
}

}  // namespace
}  // namespace fallbench::chatproto
