// Socket.IO v5 codec: every example of the protocol Readme (github socketio/socket.io-protocol) and every
// packet its test-suite sends or expects, the malformed packets a server must refuse, and a fuzz-style sweep.

#include "fallbench/codec/socketio.hpp"

#include "fallbench/codec/engineio.hpp"

#include "codec_testing.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::codec::sio {
namespace {

using namespace std::string_view_literals;
using json = nlohmann::json;
using test_util::escaped;
using test_util::is_codec_error;

constexpr std::optional<std::uint64_t> no_id;

::testing::AssertionResult same_packet(packet const& got, packet const& want) {
  if (got.type == want.type && got.nsp == want.nsp && got.id == want.id && got.attachments == want.attachments &&
      got.data == want.data)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << escaped(encode(got)) << ", want " << escaped(encode(want));
}

struct wire_case {
  packet p;
  std::string_view wire;
};

// Readme, "Packet encoding / Examples", in the order of the Readme.
std::vector<wire_case> readme_examples() {
  return {
      // Connection to a namespace
      {{packet_type::connect, "/", no_id, 0, nullptr}, "0"},
      {{packet_type::connect, "/admin", no_id, 0, {{"sid", "oSO0OpakMV_3jnilAAAA"}}},
       R"(0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"})"},
      {{packet_type::connect_error, "/", no_id, 0, {{"message", "Not authorized"}}},
       R"(4{"message":"Not authorized"})"},
      // Sending and receiving data
      {{packet_type::event, "/", no_id, 0, {"foo"}}, R"(2["foo"])"},
      {{packet_type::event, "/admin", no_id, 0, {"bar"}}, R"(2/admin,["bar"])"},
      {{packet_type::binary_event, "/", no_id, 1, {"baz", placeholder(0)}},
       R"(51-["baz",{"_placeholder":true,"num":0}])"},
      {{packet_type::binary_event, "/admin", no_id, 2, {"baz", placeholder(0), placeholder(1)}},
       R"(52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])"},
      // Acknowledgement (the Readme's `3/admin,13["bar"]` example ends in a stray backtick, a typo)
      {{packet_type::event, "/", 12, 0, {"foo"}}, R"(212["foo"])"},
      {{packet_type::ack, "/admin", 13, 0, {"bar"}}, R"(3/admin,13["bar"])"},
      {{packet_type::binary_ack, "/", 15, 1, {"bar", placeholder(0)}}, R"(61-15["bar",{"_placeholder":true,"num":0}])"},
      // Disconnection from a namespace
      {{packet_type::disconnect, "/", no_id, 0, nullptr}, "1"},
      {{packet_type::disconnect, "/admin", no_id, 0, nullptr}, "1/admin,"},
  };
}

// Readme, "Exchange protocol" (packets shown as objects there) and "Sample session" (shown on the wire,
// after the Engine.IO `4`).
std::vector<wire_case> exchange_and_session_examples() {
  return {
      {{packet_type::connect, "/admin", no_id, 0, nullptr}, "0/admin,"},
      {{packet_type::connect, "/admin", no_id, 0, {{"token", "123"}}}, R"(0/admin,{"token":"123"})"},
      {{packet_type::connect, "/", no_id, 0, {{"sid", "wZX3oN0bSVIhsaknAAAI"}}}, R"(0{"sid":"wZX3oN0bSVIhsaknAAAI"})"},
      {{packet_type::connect, "/admin", no_id, 0, {{"sid", "-G5j-67EZFp-q59rADQM"}}},
       R"(0/admin,{"sid":"-G5j-67EZFp-q59rADQM"})"},
      {{packet_type::ack, "/", 12, 0, json::array()}, "312[]"},
      {{packet_type::event, "/admin", 13, 0, {"foo"}}, R"(2/admin,13["foo"])"},
      {{packet_type::binary_event, "/", 14, 1, {"foo", placeholder(0)}},
       R"(51-14["foo",{"_placeholder":true,"num":0}])"},
      {{packet_type::ack, "/", 14, 0, {"bar"}}, R"(314["bar"])"},
      {{packet_type::event, "/", 15, 0, {"foo"}}, R"(215["foo"])"},
      {{packet_type::event, "/", no_id, 0, {"hey", "Jude"}}, R"(2["hey","Jude"])"},
      {{packet_type::event, "/", no_id, 0, {"hello"}}, R"(2["hello"])"},
      {{packet_type::event, "/admin", 1, 0, {"tellme"}}, R"(2/admin,1["tellme"])"},
      {{packet_type::binary_ack, "/admin", 1, 1, json::array({placeholder(0)})},
       R"(61-/admin,1[{"_placeholder":true,"num":0}])"},
  };
}

// socket.io-protocol test-suite: what it sends (after the Engine.IO `4`) and what it expects back.
std::vector<wire_case> test_suite_packets() {
  json const args = {1, "2", {{"3", {true}}}};
  json const args_false = {1, "2", {{"3", {false}}}};
  return {
      {{packet_type::connect, "/", no_id, 0, {{"token", "123"}}}, R"(0{"token":"123"})"},
      {{packet_type::connect, "/custom", no_id, 0, nullptr}, "0/custom,"},
      {{packet_type::connect, "/custom", no_id, 0, {{"token", "abc"}}}, R"(0/custom,{"token":"abc"})"},
      {{packet_type::event, "/", no_id, 0, {"auth", json::object()}}, R"(2["auth",{}])"},
      {{packet_type::event, "/", no_id, 0, {"auth", {{"token", "123"}}}}, R"(2["auth",{"token":"123"}])"},
      {{packet_type::event, "/custom", no_id, 0, {"auth", json::object()}}, R"(2/custom,["auth",{}])"},
      {{packet_type::event, "/custom", no_id, 0, {"auth", {{"token", "abc"}}}}, R"(2/custom,["auth",{"token":"abc"}])"},
      {{packet_type::connect_error, "/random", no_id, 0, {{"message", "Invalid namespace"}}},
       R"(4/random,{"message":"Invalid namespace"})"},
      {{packet_type::event, "/", no_id, 0, {"message", 1, "2", {{"3", {true}}}}}, R"(2["message",1,"2",{"3":[true]}])"},
      {{packet_type::event, "/", no_id, 0, {"message-back", 1, "2", {{"3", {true}}}}},
       R"(2["message-back",1,"2",{"3":[true]}])"},
      {{packet_type::event, "/", no_id, 0, {"message", "message to main namespace"}},
       R"(2["message","message to main namespace"])"},
      {{packet_type::binary_event, "/", no_id, 2, {"message", placeholder(0), placeholder(1)}},
       R"(52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])"},
      {{packet_type::event, "/", 456, 0, {"message-with-ack", 1, "2", {{"3", {false}}}}},
       R"(2456["message-with-ack",1,"2",{"3":[false]}])"},
      {{packet_type::ack, "/", 456, 0, args_false}, R"(3456[1,"2",{"3":[false]}])"},
      {{packet_type::binary_event, "/", 789, 2, {"message-with-ack", placeholder(0), placeholder(1)}},
       R"(52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])"},
      {{packet_type::binary_ack, "/", 789, 2, {placeholder(0), placeholder(1)}},
       R"(62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])"},
      {{packet_type::event, "/", no_id, 0, args}, R"(2[1,"2",{"3":[true]}])"},
  };
}

void expect_encodes(std::vector<wire_case> const& cases) {
  for (auto const& c : cases) EXPECT_EQ(encode(c.p), c.wire);
}

void expect_decodes(std::vector<wire_case> const& cases) {
  for (auto const& c : cases) {
    packet p;
    auto const ec = decode(c.wire, p);
    ASSERT_FALSE(ec) << c.wire << ": " << ec.message();
    EXPECT_TRUE(same_packet(p, c.p)) << c.wire;
  }
}

// --- Golden vectors -----------------------------------------------------------------------------------

TEST(SocketioEncodeTest, WritesReadmeExamples) { expect_encodes(readme_examples()); }
TEST(SocketioDecodeTest, ReadsReadmeExamples) { expect_decodes(readme_examples()); }
TEST(SocketioEncodeTest, WritesExchangeAndSampleSessionExamples) { expect_encodes(exchange_and_session_examples()); }
TEST(SocketioDecodeTest, ReadsExchangeAndSampleSessionExamples) { expect_decodes(exchange_and_session_examples()); }
TEST(SocketioEncodeTest, WritesTestSuitePackets) { expect_encodes(test_suite_packets()); }
TEST(SocketioDecodeTest, ReadsTestSuitePackets) { expect_decodes(test_suite_packets()); }

TEST(SocketioDecodeTest, ReadsAckIdBeforePayload) {
  packet p;
  ASSERT_FALSE(decode(R"(212["hello"])", p));
  EXPECT_EQ(p.type, packet_type::event);
  EXPECT_EQ(p.id, 12u);
  EXPECT_EQ(p.data, json::array({"hello"}));
}

// DESIGN 4 and the test-suite ("40/custom", "40/random", "41/custom"): a namespace may end at the end of the
// packet, without the comma the encoder writes.
TEST(SocketioDecodeTest, ReadsNamespaceEndingAtEndOfPacket) {
  expect_decodes({
      {{packet_type::connect, "/custom", no_id, 0, nullptr}, "0/custom"},
      {{packet_type::connect, "/random", no_id, 0, nullptr}, "0/random"},
      {{packet_type::disconnect, "/custom", no_id, 0, nullptr}, "1/custom"},
  });
}

// An explicit main namespace is the main namespace; leading zeros in counts and ids are numbers.
TEST(SocketioDecodeTest, ReadsNonCanonicalButValidForms) {
  expect_decodes({
      {{packet_type::event, "/", no_id, 0, {"a"}}, R"(2/,["a"])"},
      {{packet_type::event, "/", 7, 0, {"a"}}, R"(2007["a"])"},
      {{packet_type::binary_event, "/", no_id, 1, {"a", placeholder(0)}},
       R"(5001-["a",{"_placeholder":true,"num":0}])"},
      {{packet_type::binary_event, "/", no_id, 0, {"a"}}, R"(50-["a"])"},
      {{packet_type::event, "/", no_id, 0, {3, "numeric event name"}}, R"(2[3,"numeric event name"])"},
      {{packet_type::connect_error, "/", no_id, 0, "Not authorized"}, R"(4"Not authorized")"},
      {{packet_type::event, "/", no_id, 0, {"a", {{"b", 1}}}}, R"(2 [ "a" , { "b" : 1 } ] )"},
  });
}

TEST(SocketioDecodeTest, ReadsLargestAckIdAndAttachmentCount) {
  packet p;
  ASSERT_FALSE(decode(R"(218446744073709551615["a"])", p));
  EXPECT_EQ(p.id, std::numeric_limits<std::uint64_t>::max());
  ASSERT_FALSE(decode(R"(51000-["a"])", p));
  EXPECT_EQ(p.attachments, max_attachments);
  EXPECT_EQ(max_attachments, 1000u);
}

// Socket.IO is carried in Engine.IO `message` packets: `42["foo"]` on the wire (Readme, end of "Examples").
TEST(SocketioEncodeTest, TravelsInsideEngineioMessages) {
  auto const frame = [](packet const& p) {
    return eio::encode_frame({eio::packet_type::message, false, encode(p)});
  };
  EXPECT_EQ(frame({packet_type::connect, "/", no_id, 0, nullptr}), "40");
  EXPECT_EQ(frame({packet_type::connect, "/custom", no_id, 0, nullptr}), "40/custom,");
  EXPECT_EQ(frame({packet_type::event, "/", no_id, 0, {"foo"}}), R"(42["foo"])");
  EXPECT_EQ(frame({packet_type::disconnect, "/", no_id, 0, nullptr}), "41");
  EXPECT_EQ(frame({packet_type::binary_ack, "/admin", 1, 1, json::array({placeholder(0)})}),
            R"(461-/admin,1[{"_placeholder":true,"num":0}])");
}

TEST(SocketioEncodeTest, AppendsRawPayloadText) {
  std::string out = "4";
  append(packet_type::ack, "/admin", 13, 0, R"(["bar"])", out);
  EXPECT_EQ(out, R"(43/admin,13["bar"])");
  out.clear();
  append(packet_type::binary_event, "/", no_id, 1, R"(["baz",{"_placeholder":true,"num":0}])", out);
  EXPECT_EQ(out, R"(51-["baz",{"_placeholder":true,"num":0}])");
  out.clear();
  append(packet_type::disconnect, "", no_id, 0, "", out);  // an empty namespace is the main one
  EXPECT_EQ(out, "1");
}

TEST(SocketioEncodeTest, WritesPlaceholderAsTheReferenceDoes) {
  EXPECT_EQ(placeholder(0).dump(), R"({"_placeholder":true,"num":0})");
  EXPECT_EQ(placeholder(12).dump(), R"({"_placeholder":true,"num":12})");
  EXPECT_TRUE(is_binary(packet_type::binary_event));
  EXPECT_TRUE(is_binary(packet_type::binary_ack));
  EXPECT_FALSE(is_binary(packet_type::event));
  EXPECT_FALSE(is_binary(packet_type::ack));
}

TEST(SocketioEncodeTest, ReplacesInvalidUtf8InsteadOfThrowing) {
  std::string text;
  ASSERT_NO_THROW(text = encode({packet_type::event, "/", no_id, 0, {"chat", "\xff"}}));
  EXPECT_EQ(text, "2[\"chat\",\"\xef\xbf\xbd\"]");
}

// --- Header -------------------------------------------------------------------------------------------

TEST(SocketioHeaderTest, SplitsEveryPartWithoutParsingJson) {
  header h;
  ASSERT_FALSE(decode_header("62-/admin,15[not json", h));
  EXPECT_EQ(h.type, packet_type::binary_ack);
  EXPECT_EQ(h.attachments, 2u);
  EXPECT_EQ(h.nsp, "/admin");
  EXPECT_EQ(h.id, 15u);
  EXPECT_EQ(h.payload, "[not json");
}

TEST(SocketioHeaderTest, DefaultsToMainNamespaceNoIdNoPayload) {
  header h;
  ASSERT_FALSE(decode_header("0", h));
  EXPECT_EQ(h.type, packet_type::connect);
  EXPECT_EQ(h.nsp, "/");
  EXPECT_FALSE(h.id);
  EXPECT_EQ(h.attachments, 0u);
  EXPECT_TRUE(h.payload.empty());
}

// --- Malformed packets --------------------------------------------------------------------------------

void expect_rejected(std::string_view text, error e, condition c = condition::protocol_violation) {
  packet p;
  EXPECT_TRUE(is_codec_error(decode(text, p), e, c)) << escaped(text);
}

TEST(SocketioDecodeTest, RejectsEmptyPacket) {
  expect_rejected("", error::empty_packet);
  header h;
  EXPECT_TRUE(is_codec_error(decode_header("", h), error::empty_packet, condition::protocol_violation));
}

TEST(SocketioDecodeTest, RejectsUnknownPacketType) {
  for (auto const text : {"abc"sv, "7"sv, "9[]"sv, "a0"sv, "/"sv, "-"sv, "\x00"sv, "\xff"sv})
    expect_rejected(text, error::unknown_packet_type);
}

// Test-suites: the Engine.IO frame `4abc` is a message whose Socket.IO text `abc` has no type. The text `4abc`
// itself would be a CONNECT_ERROR whose payload is not JSON.
TEST(SocketioDecodeTest, RejectsTestSuiteInvalidHandshake) {
  eio::packet frame;
  ASSERT_FALSE(eio::decode_frame("4abc", false, frame));
  ASSERT_EQ(frame.type, eio::packet_type::message);
  expect_rejected(frame.data, error::unknown_packet_type);
  expect_rejected("4abc", error::invalid_json);
}

// Test-suite, "invalid payload format": `42{}`, an EVENT whose payload is not an array. Readme, "Sending and
// receiving data": the payload is mandatory and MUST be a non-empty array.
TEST(SocketioDecodeTest, RejectsEventThatIsNotANonEmptyArray) {
  for (auto const text : {"2{}"sv, "2"sv, "2[]"sv, R"(2"foo")"sv, "2[{}]"sv, "2[null]"sv, "2[true]"sv, R"(2[["a"]])"sv,
                          "2/admin,"sv, "212"sv, "50-{}"sv, "51-"sv, "51-{}"sv})
    expect_rejected(text, error::invalid_payload);
}

// Readme, "Acknowledgement": the payload is mandatory and MUST be an array (possibly empty).
TEST(SocketioDecodeTest, RejectsAckThatIsNotAnArray) {
  for (auto const text : {"3"sv, "312"sv, "3{}"sv, R"(3"x")"sv, "31"sv, "60-"sv, "60-{}"sv})
    expect_rejected(text, error::invalid_payload);
}

TEST(SocketioDecodeTest, RejectsConnectDisconnectAndConnectErrorOfWrongShape) {
  for (auto const text : {"0[]"sv, R"(0"x")"sv, "0true"sv, "1{}"sv, "1[]"sv, R"(1"x")"sv, "4"sv, "4[]"sv, "41"sv,
                          "4/admin,"sv})
    expect_rejected(text, error::invalid_payload);
}

// Found by this review: a literal `null` payload passed as "no payload", so `40null` connected. The reference
// parser refuses it (CONNECT wants an object, DISCONNECT nothing), and so does every other type.
TEST(SocketioDecodeTest, RejectsLiteralNullPayload) {
  for (auto const text : {"0null"sv, "0/admin,null"sv, "1null"sv, "2null"sv, "3null"sv, "4null"sv, "51-null"sv,
                          "60-null"sv, "0 null"sv})
    expect_rejected(text, error::invalid_payload);
}

// Test-suite, "invalid ack id": `42abc[...]` has no id, so `abc[...]` is taken as JSON, and is not.
TEST(SocketioDecodeTest, RejectsLettersWhereAckIdWouldBe) {
  expect_rejected(R"(2abc["message-with-ack",1,"2",{"3":[false]}])", error::invalid_json);
  expect_rejected(R"(2/admin,x1["a"])", error::invalid_json);
}

TEST(SocketioDecodeTest, RejectsAckIdOverflowing64Bits) {
  expect_rejected(R"(218446744073709551616["a"])", error::invalid_ack_id);
  expect_rejected(R"(3/admin,99999999999999999999999[])", error::invalid_ack_id);
  header h;
  EXPECT_TRUE(
      is_codec_error(decode_header("218446744073709551616", h), error::invalid_ack_id, condition::protocol_violation));
}

TEST(SocketioDecodeTest, RejectsAckIdOnConnectDisconnectAndConnectError) {
  for (auto const text : {"07{}"sv, "07"sv, "0/admin,7{}"sv, "13"sv, "1/admin,3"sv, R"(47{"message":"x"})"sv})
    expect_rejected(text, error::invalid_ack_id);
}

// Readme, "Format": binary packets carry `<# of attachments>-` right after the type.
TEST(SocketioDecodeTest, RejectsBinaryPacketWithoutAttachmentCount) {
  for (auto const text : {R"(5["a"])"sv, R"(5-["a"])"sv, R"(51["a"])"sv, "5"sv, "51"sv, R"(5a-["a"])"sv, "6-1-[]"sv,
                          R"(5/admin,["a"])"sv, R"(6 1-["a"])"sv, R"(5+1-["a"])"sv})
    expect_rejected(text, error::invalid_attachments);
}

TEST(SocketioDecodeTest, RejectsAttachmentCountOverMax) {
  expect_rejected(R"(51001-["a"])", error::invalid_attachments);
  expect_rejected(R"(6999999-[])", error::invalid_attachments);
  expect_rejected(R"(518446744073709551616-["a"])", error::invalid_attachments);
  expect_rejected(R"(5999999999999999999999999999-["a"])", error::invalid_attachments);
}

TEST(SocketioDecodeTest, RejectsInvalidJson) {
  for (auto const text : {R"(2["foo")"sv, R"(2["foo"]x)"sv, R"(2["foo"],["bar"])"sv, "2['foo']"sv, "2[\"\xff\"]"sv,
                          "2[\"\xc3\"]"sv, R"(2["a",01])"sv, R"(2["a",])"sv, "2[\"a\x01\"]"sv, "0{sid:1}"sv, "2 "sv,
                          "4abc"sv})
    expect_rejected(text, error::invalid_json);
}

// Found by this review: `3` followed by half a million `[` and as many `]` (under the 1 MB maxPayload)
// decoded fine, and encode() of the result overflowed the stack (nlohmann dumps recursively).
TEST(SocketioDecodeTest, RejectsJsonNestedDeeperThanLimit) {
  auto const nested = [](std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  EXPECT_EQ(max_json_depth, 128u);
  packet p;
  // An ACK's array is the first level: 128 levels in all is fine, and re-encodes.
  std::string const deepest = "3" + nested(max_json_depth);
  ASSERT_FALSE(decode(deepest, p));
  EXPECT_EQ(encode(p), deepest);
  expect_rejected("3" + nested(max_json_depth + 1), error::json_too_deep, condition::limit_exceeded);
  expect_rejected(R"(2["a",)" + std::string(max_json_depth, '{') + "]", error::json_too_deep,
                  condition::limit_exceeded);
  expect_rejected("3" + nested(500'000), error::json_too_deep, condition::limit_exceeded);
}

// Brackets inside strings are text, not nesting, including after escaped quotes and backslashes.
TEST(SocketioDecodeTest, CountsNoBracketsInsideStrings) {
  std::string const brackets(1000, '[');
  for (std::string const& text : {R"(2[")" + brackets + R"("])", R"(2["\")" + brackets + R"("])",
                                  R"(2["\\",")" + brackets + R"("])", R"(2["{\"a\":[)" + brackets + R"("])"}) {
    packet p;
    auto const ec = decode(text, p);
    EXPECT_FALSE(ec) << ec.message() << ' ' << text.substr(0, 12);
  }
}

// --- Binary attachments -------------------------------------------------------------------------------

// Readme, "Sending and receiving data / with binary data": `51-["baz",<placeholder 0>]`, then the buffer
// <01 02 03 04> in the next frame.
TEST(SocketioAttachmentTest, CollectsReadmeBinaryEvent) {
  packet p;
  ASSERT_FALSE(decode(R"(51-["baz",{"_placeholder":true,"num":0}])", p));
  attachment_collector c;
  c.start(std::move(p));
  EXPECT_TRUE(c.waiting());
  EXPECT_FALSE(c.ready());
  ASSERT_FALSE(c.add("\x01\x02\x03\x04"sv));
  EXPECT_FALSE(c.waiting());
  ASSERT_TRUE(c.ready());
  auto [done, buffers] = c.take();
  EXPECT_EQ(done.type, packet_type::binary_event);
  EXPECT_EQ(done.data, (json{"baz", placeholder(0)}));
  EXPECT_EQ(buffers, (std::vector<std::string>{"\x01\x02\x03\x04"}));
  EXPECT_FALSE(c.ready());
  EXPECT_FALSE(c.waiting());
}

// Test-suite, "binary attachments and an ack": `52-789[...]`, then <01 02 03> and <04 05 06>, kept in order.
TEST(SocketioAttachmentTest, CollectsAttachmentsInOrder) {
  packet p;
  ASSERT_FALSE(decode(R"(52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", p));
  attachment_collector c;
  c.start(std::move(p));
  ASSERT_FALSE(c.add("\x01\x02\x03"sv));
  EXPECT_TRUE(c.waiting());
  EXPECT_FALSE(c.ready());
  ASSERT_FALSE(c.add("\x04\x05\x06"sv));
  ASSERT_TRUE(c.ready());
  auto [done, buffers] = c.take();
  EXPECT_EQ(done.id, 789u);
  EXPECT_EQ(buffers, (std::vector<std::string>{"\x01\x02\x03", "\x04\x05\x06"}));
}

TEST(SocketioAttachmentTest, IsReadyAtOnceWithoutAttachments) {
  attachment_collector c;
  c.start({packet_type::event, "/", no_id, 0, {"foo"}});
  EXPECT_FALSE(c.waiting());
  ASSERT_TRUE(c.ready());
  auto [done, buffers] = c.take();
  EXPECT_EQ(done.data, json::array({"foo"}));
  EXPECT_TRUE(buffers.empty());
}

TEST(SocketioAttachmentTest, RejectsBinaryWhenNothingWaits) {
  attachment_collector c;
  EXPECT_TRUE(is_codec_error(c.add("\x01"sv), error::unexpected_binary, condition::protocol_violation));

  c.start({packet_type::binary_event, "/", no_id, 1, {"a", placeholder(0)}});
  ASSERT_FALSE(c.add("\x01"sv));
  // One more than announced.
  EXPECT_TRUE(is_codec_error(c.add("\x02"sv), error::unexpected_binary, condition::protocol_violation));
  auto [done, buffers] = c.take();
  EXPECT_EQ(buffers, (std::vector<std::string>{"\x01"}));
  // And after the packet was taken.
  EXPECT_TRUE(is_codec_error(c.add("\x03"sv), error::unexpected_binary, condition::protocol_violation));
}

TEST(SocketioAttachmentTest, IsReusableAfterTake) {
  attachment_collector c;
  c.start({packet_type::binary_event, "/", no_id, 1, {"a", placeholder(0)}});
  ASSERT_FALSE(c.add("first"));
  (void)c.take();
  c.start({packet_type::binary_ack, "/", 3, 1, json::array({placeholder(0)})});
  EXPECT_TRUE(c.waiting());
  ASSERT_FALSE(c.add("second"));
  auto [done, buffers] = c.take();
  EXPECT_EQ(done.type, packet_type::binary_ack);
  EXPECT_EQ(buffers, (std::vector<std::string>{"second"}));
}

// Each frame is bounded by maxPayload, so the collector bounds their sum: 1000 attachments of a
// megabyte each must not be held for one packet.
TEST(SocketioAttachmentTest, RefusesAttachmentsOverTheByteBudget) {
  attachment_collector c(8);
  c.start({packet_type::binary_event, "/", no_id, 3, {"a", placeholder(0), placeholder(1), placeholder(2)}});
  ASSERT_FALSE(c.add("12345"sv));
  ASSERT_FALSE(c.add("678"sv));  // exactly at the budget
  EXPECT_TRUE(is_codec_error(c.add("9"sv), error::payload_too_large, condition::limit_exceeded));
  // A new packet starts a new budget.
  c.start({packet_type::binary_event, "/", no_id, 1, {"a", placeholder(0)}});
  EXPECT_FALSE(c.add("12345678"sv));
}

// --- Fuzz-style sweep ---------------------------------------------------------------------------------

// Decoding random text never throws and fails only with codec errors; whatever decodes, encodes to text
// that decodes to the same packet.
TEST(SocketioFuzzTest, RandomPacketsNeverThrowAndRoundTrip) {
  constexpr std::uint64_t seed = 0x50c4'e710'0000'0001;
  constexpr int cases = 5000;
  std::vector<std::string> corpus;
  for (auto const& list : {readme_examples(), exchange_and_session_examples(), test_suite_packets()})
    for (auto const& c : list) corpus.emplace_back(c.wire);
  corpus.emplace_back("0/custom");
  corpus.emplace_back(R"(2abc["message-with-ack",1])");
  test_util::random_input gen{seed, std::move(corpus)};
  int decoded = 0;
  for (int i = 0; i < cases; ++i) {
    std::string const input = gen.next();
    header h;
    EXPECT_NO_THROW((void)decode_header(input, h)) << test_util::fuzz_case(seed, i, input);
    packet p;
    error_code ec;
    EXPECT_NO_THROW(ec = decode(input, p)) << test_util::fuzz_case(seed, i, input);
    if (ec) {
      EXPECT_EQ(&ec.category(), &error_category()) << test_util::fuzz_case(seed, i, input);
      continue;
    }
    ++decoded;
    std::string text;
    EXPECT_NO_THROW(text = encode(p)) << test_util::fuzz_case(seed, i, input);
    packet back;
    ec = decode(text, back);
    EXPECT_FALSE(ec) << ec.message() << " re-decoding " << escaped(text) << ' ' << test_util::fuzz_case(seed, i, input);
    EXPECT_TRUE(same_packet(back, p)) << test_util::fuzz_case(seed, i, input);
  }
  EXPECT_GT(decoded, cases / 20) 
      << "seed=0x" << std::hex << seed << ": too few valid inputs to exercise the encoder";
}

}  // namespace
}  // namespace fallbench::codec::sio
