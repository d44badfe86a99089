// RESP2 parser and command writer (server/src/resp.cpp), and the cluster's relay message
// (server/src/cluster.cpp): what Redis sends, split anywhere, and what it must never be trusted with.

#include "fallbench/chat/cluster.hpp"
#include "fallbench/chat/redis_link.hpp"
#include "fallbench/chat/resp.hpp"

#include <gtest/gtest.h>

#include <string>

namespace resp = fallbench::chat::resp;
using namespace std::string_view_literals;

TEST(Resp, ParsesEachType) {
  resp::value v;
  auto r = resp::parse("+OK\r\n", v);
  EXPECT_EQ(r.status, resp::status::complete);
  EXPECT_EQ(r.consumed, 5u);
  EXPECT_EQ(v.type, resp::type::simple_string);
  EXPECT_EQ(v.text, "OK");

  r = resp::parse("-ERR unknown command\r\n", v);
  EXPECT_EQ(r.status, resp::status::complete);
  EXPECT_EQ(v.type, resp::type::error);
  EXPECT_EQ(v.text, "ERR unknown command");

  r = resp::parse(":-42\r\n", v);
  EXPECT_EQ(r.status, resp::status::complete);
  EXPECT_EQ(v.type, resp::type::integer);
  EXPECT_EQ(v.integer, -42);

  r = resp::parse("$5\r\nhe\r\no\r\n", v);  // bulk strings are binary-safe: CRLF inside is data
  EXPECT_EQ(r.status, resp::status::complete);
  EXPECT_EQ(v.type, resp::type::bulk_string);
  EXPECT_EQ(v.text, "he\r\no");

  r = resp::parse("$-1\r\n", v);
  EXPECT_EQ(r.status, resp::status::complete);
  EXPECT_EQ(v.type, resp::type::null);

  r = resp::parse("$0\r\n\r\n", v);
  EXPECT_EQ(r.status, resp::status::complete);
  EXPECT_EQ(v.type, resp::type::bulk_string);
  EXPECT_EQ(v.text, "");
}

TEST(Resp, ParsesAPubSubMessageAndLeavesTheNext) {
  std::string const two = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n:1\r\n";
  resp::value v;
  auto const r = resp::parse(two, v);
  ASSERT_EQ(r.status, resp::status::complete);
  ASSERT_EQ(v.type, resp::type::array);
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[0].text, "message");
  EXPECT_EQ(v.elements[1].text, "ch");
  EXPECT_EQ(v.elements[2].text, "hello");
  EXPECT_EQ(two.substr(r.consumed), ":1\r\n");
}

TEST(Resp, EveryPrefixIsIncompleteNeverMalformed) {
  std::string const m = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$11\r\nfb1 n r 1\nx\r\n";
  for (std::size_t n = 0; n < m.size(); ++n) {
    resp::value v;
    EXPECT_EQ(resp::parse(std::string_view(m).substr(0, n), v).status, resp::status::incomplete) << "prefix of " << n;
  }
  resp::value v;
  EXPECT_EQ(resp::parse(m, v).status, resp::status::complete);
}

TEST(Resp, RefusesMalformedInput) {
  for (auto bad : {"?what\r\n"sv, ":12x\r\n"sv, ":\r\n"sv, "$-2\r\n"sv, "$abc\r\n"sv, "$3\r\nabcd\r\n"sv,
                   "*-5\r\n"sv, "*1\r\n!x\r\n"sv, ":99999999999999999999999\r\n"sv, "$+\r\n"sv}) {
    resp::value v;
    auto const r = resp::parse(bad, v);
    EXPECT_EQ(r.status, resp::status::malformed) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
}

TEST(Resp, LimitsAreCheckedBeforeTheBytesArrive) {
  resp::limits lim;
  lim.max_bulk_bytes = 10;
  lim.max_elements = 3;
  lim.max_depth = 2;
  lim.max_line_bytes = 16;
  resp::value v;
  auto r = resp::parse("$11\r\n", v, lim);  // refused on the header alone: nothing would be buffered for it
  EXPECT_EQ(r.status, resp::status::malformed);
  EXPECT_EQ(r.error, "bulk length over the limit");
  EXPECT_EQ(resp::parse("*4\r\n", v, lim).status, resp::status::malformed);
  EXPECT_EQ(resp::parse("*1\r\n*1\r\n*1\r\n:1\r\n", v, lim).status, resp::status::malformed);
  EXPECT_EQ(resp::parse("*1\r\n*1\r\n:1\r\n", v, lim).status, resp::status::complete);
  // A line that never ends is refused once it is longer than any valid one, not buffered forever.
  EXPECT_EQ(resp::parse("+" + std::string(40, 'a'), v, lim).status, resp::status::malformed);
  EXPECT_EQ(resp::parse("+" + std::string(10, 'a'), v, lim).status, resp::status::incomplete);
}

TEST(Resp, WritesCommandsAsArraysOfBulkStrings) {
  std::string out;
  resp::append_command(out, {"PUBLISH", "fallbench", "a\r\nb"});
  EXPECT_EQ(out, "*3\r\n$7\r\nPUBLISH\r\n$9\r\nfallbench\r\n$4\r\na\r\nb\r\n");
  resp::value v;
  auto const r = resp::parse(out, v);  // and reads back as the same strings
  ASSERT_EQ(r.status, resp::status::complete);
  EXPECT_EQ(v.elements[2].text, "a\r\nb");
}

TEST(RedisUrl, ParsesHostAndPortAndRefusesTheRest) {
  auto const a = fallbench::chat::parse_redis_url("redis://127.0.0.1:6380");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(fallbench::chat::parse_redis_url("redis://127.0.0.1").port, 6379);
  for (auto bad : {"http://127.0.0.1:1"sv, "redis://localhost:1"sv, "redis://127.0.0.1:0"sv, "redis://127.0.0.1:99999"sv,
                   "redis://u:p@127.0.0.1:1"sv, "redis://127.0.0.1:1/2"sv, "redis://127.0.0.1:x"sv})
    EXPECT_THROW(fallbench::chat::parse_redis_url(bad), std::invalid_argument) << bad;
}

TEST(RelayMessage, RoundTripsTheOriginalPacketBytes) {
  std::string out;
  std::string const packet = R"(2["chat",{"room":"r 1","name":"a","msg":"x\n","zz":[1,2]}])";
  fallbench::chat::encode_relay("node-1", false, "r 1", packet, out);
  EXPECT_EQ(out, "fb1 node-1 r 3\nr 1" + packet);
  auto const m = fallbench::chat::decode_relay(out);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->node, "node-1");
  EXPECT_FALSE(m->everyone);
  EXPECT_EQ(m->room, "r 1");
  EXPECT_EQ(m->packet, packet);

  out.clear();
  fallbench::chat::encode_relay("n2", true, "", R"(2["join","bob"])", out);
  auto const all = fallbench::chat::decode_relay(out);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->everyone);
  EXPECT_EQ(all->room, "");
}

TEST(RelayMessage, RefusesWhatIsNotOne) {
  for (auto bad : {""sv, "hello"sv, "fb1 \n"sv, "fb1 n r 5\nab2[]"sv, "fb1 n x 1\nr2[\"a\"]"sv, "fb1 n a 1\nr2[\"a\"]"sv,
                   "fb1 n r 0\n2[\"a\"]"sv, "fb1 n r 1\nr4hello"sv, "fb1 n!d r 1\nr2[\"a\"]"sv, "fb1 n r -1\nr2[]"sv,
                   "fb1 n r 1\nr2[\"a\""sv})
    EXPECT_FALSE(fallbench::chat::decode_relay(bad)) << bad;
  EXPECT_TRUE(fallbench::chat::decode_relay("fb1 n r 1\nr2[\"a\"]"sv));
}

TEST(RelayMessage, NodeIds) {
  EXPECT_TRUE(fallbench::chat::valid_node_id("node-1.a_B"));
  EXPECT_FALSE(fallbench::chat::valid_node_id(""));
  EXPECT_FALSE(fallbench::chat::valid_node_id("a b"));
  EXPECT_FALSE(fallbench::chat::valid_node_id(std::string(65, 'a')));
}
