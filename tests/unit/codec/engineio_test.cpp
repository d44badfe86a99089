// Engine.IO v4 codec: golden vectors from the protocol README (github socketio/engine.io-protocol) and the
// inputs its test-suite sends, the malformed inputs a server must refuse, and a fuzz-style sweep.
// The codec's error category is tested here too (it has no source of its own besides error.cpp).

#include "fallbench/codec/engineio.hpp"

#include "codec_testing.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <initializer_list>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::codec::eio {
namespace {

using namespace std::string_view_literals;
using namespace std::chrono_literals;
using test_util::escaped;
using test_util::is_codec_error;

struct wire_case {
  packet p;
  std::string_view wire;
};

// README, "Protocol": the packet type table (open 0 ... noop 6), each written as its ASCII digit
// ("Packet encoding / WebSocket": <packet type>[<data>]).
std::vector<wire_case> every_type() {
  return {
      {{packet_type::open, false, R"({"sid":"abc"})"}, R"(0{"sid":"abc"})"sv},
      {{packet_type::close, false, ""}, "1"sv},
      {{packet_type::ping, false, ""}, "2"sv},
      {{packet_type::pong, false, ""}, "3"sv},
      {{packet_type::message, false, "hello"}, "4hello"sv},
      {{packet_type::upgrade, false, ""}, "5"sv},
      {{packet_type::noop, false, ""}, "6"sv},
  };
}

// --- WebSocket frames ------------------------------------------------------------------------------

TEST(EngineioFrameTest, EncodesTextMessageWithTypeDigit) {
  EXPECT_EQ(encode_frame({packet_type::message, false, "hello"}), "4hello");
}

TEST(EngineioFrameTest, TypeCharIsTheDigitOfTheSpecTable) {
  EXPECT_EQ(type_char(packet_type::open), '0');
  EXPECT_EQ(type_char(packet_type::close), '1');
  EXPECT_EQ(type_char(packet_type::ping), '2');
  EXPECT_EQ(type_char(packet_type::pong), '3');
  EXPECT_EQ(type_char(packet_type::message), '4');
  EXPECT_EQ(type_char(packet_type::upgrade), '5');
  EXPECT_EQ(type_char(packet_type::noop), '6');
}

TEST(EngineioFrameTest, EncodesEveryPacketTypeAsItsDigit) {
  for (auto const& c : every_type()) EXPECT_EQ(encode_frame(c.p), c.wire);
}

TEST(EngineioFrameTest, DecodesEveryPacketTypeDigit) {
  for (auto const& c : every_type()) {
    packet p;
    ASSERT_FALSE(decode_frame(c.wire, false, p)) << c.wire;
    EXPECT_EQ(p, c.p) << c.wire;
  }
}

// README, "Upgrade": the client pings `2probe` on the new WebSocket, the server answers `3probe`.
TEST(EngineioFrameTest, EncodesProbePingAndPong) {
  EXPECT_EQ(encode_frame({packet_type::ping, false, "probe"}), "2probe");
  EXPECT_EQ(encode_frame({packet_type::pong, false, "probe"}), "3probe");
}

TEST(EngineioFrameTest, DecodesProbePingAndPong) {
  packet p;
  ASSERT_FALSE(decode_frame("2probe", false, p));
  EXPECT_EQ(p, (packet{packet_type::ping, false, "probe"}));
  ASSERT_FALSE(decode_frame("3probe", false, p));
  EXPECT_EQ(p, (packet{packet_type::pong, false, "probe"}));
}

// README, "Packet encoding / WebSocket": binary payloads are sent as is, without a type digit.
TEST(EngineioFrameTest, SendsBinaryMessageAsRawBytes) {
  EXPECT_EQ(encode_frame({packet_type::message, true, "\x01\x02\x03\x04"}), "\x01\x02\x03\x04"sv);
}

TEST(EngineioFrameTest, DecodesBinaryFrameAsBinaryMessageWithoutParsingIt) {
  packet p;
  ASSERT_FALSE(decode_frame("\x01\x02\x03\x04"sv, true, p));
  EXPECT_EQ(p, (packet{packet_type::message, true, "\x01\x02\x03\x04"}));
  // A binary frame is never read as a type digit, even when it starts with one, and may be empty.
  ASSERT_FALSE(decode_frame("2probe", true, p));
  EXPECT_EQ(p, (packet{packet_type::message, true, "2probe"}));
  ASSERT_FALSE(decode_frame("", true, p));
  EXPECT_EQ(p, (packet{packet_type::message, true, ""}));
}

TEST(EngineioFrameTest, KeepsUtf8AndSeparatorBytesInWebsocketText) {
  // Only polling payloads split on 0x1E; a WebSocket frame is one packet whatever it holds.
  packet p;
  ASSERT_FALSE(decode_frame("4\xe2\x82\xac\x1e"sv, false, p));
  EXPECT_EQ(p, (packet{packet_type::message, false, "\xe2\x82\xac\x1e"}));
}

TEST(EngineioFrameTest, RejectsEmptyTextFrame) {
  packet p;
  EXPECT_TRUE(is_codec_error(decode_frame("", false, p), error::empty_packet, condition::protocol_violation));
}

// Engine.IO test-suite, "closes the session upon invalid packet format": the frame `abc`.
TEST(EngineioFrameTest, RejectsUnknownPacketType) {
  for (std::string_view const frame : {"abc"sv, "7"sv, "9hello"sv, "/"sv, " 4hello"sv, "\xff"sv}) {
    packet p;
    EXPECT_TRUE(is_codec_error(decode_frame(frame, false, p), error::unknown_packet_type,
                               condition::protocol_violation))
        << escaped(frame);
  }
}

TEST(EngineioFrameTest, RejectsFrameOverMaxBytes) {
  packet p;
  EXPECT_FALSE(decode_frame("4hello", false, p, 6));
  auto ec = decode_frame("4hello!", false, p, 6);
  EXPECT_TRUE(is_codec_error(ec, error::payload_too_large, condition::limit_exceeded));
  EXPECT_NE(ec, condition::protocol_violation);
  EXPECT_FALSE(decode_frame("\x01\x02"sv, true, p, 2));
  EXPECT_TRUE(is_codec_error(decode_frame("\x01\x02\x03"sv, true, p, 2), error::payload_too_large,
                             condition::limit_exceeded));
}

// --- HTTP long-polling payloads -----------------------------------------------------------------------

// README, "Packet encoding / HTTP long-polling": 4hello \x1e 2 \x1e 4world.
TEST(EngineioPayloadTest, SplitsOnRecordSeparator) {
  std::vector<packet> out;
  ASSERT_FALSE(decode_payload("4hello\x1e"
                              "2\x1e"
                              "4world",
                              out));
  EXPECT_EQ(out, (std::vector<packet>{{packet_type::message, false, "hello"},
                                      {packet_type::ping, false, ""},
                                      {packet_type::message, false, "world"}}));
}

TEST(EngineioPayloadTest, JoinsPacketsWithRecordSeparator) {
  std::string body;
  append_payload({packet_type::message, false, "hello"}, body);
  append_payload({packet_type::ping, false, ""}, body);
  append_payload({packet_type::message, false, "world"}, body);
  EXPECT_EQ(body, "4hello\x1e"
                  "2\x1e"
                  "4world");
  EXPECT_EQ(record_separator, '\x1e');
}

// README, same section: 4hello \x1e b AQIDBA== (the buffer <01 02 03 04>); the test-suite posts this body
// and expects it back byte for byte.
TEST(EngineioPayloadTest, DecodesBinaryAsPrefixedBase64) {
  std::vector<packet> out;
  ASSERT_FALSE(decode_payload("4hello\x1e"
                              "bAQIDBA==",
                              out));
  EXPECT_EQ(out, (std::vector<packet>{{packet_type::message, false, "hello"},
                                      {packet_type::message, true, "\x01\x02\x03\x04"}}));
}

TEST(EngineioPayloadTest, EncodesBinaryAsPrefixedBase64) {
  std::string body;
  append_payload({packet_type::message, false, "hello"}, body);
  append_payload({packet_type::message, true, "\x01\x02\x03\x04"}, body);
  EXPECT_EQ(body, "4hello\x1e"
                  "bAQIDBA==");
}

TEST(EngineioPayloadTest, EncodesBinaryFirstAndEmptyBinary) {
  std::string body;
  append_payload({packet_type::message, true, "\x01\x02\x03\x04"}, body);
  append_payload({packet_type::message, true, ""}, body);
  EXPECT_EQ(body, "bAQIDBA==\x1e"
                  "b");
  std::vector<packet> out;
  ASSERT_FALSE(decode_payload(body, out));
  EXPECT_EQ(out, (std::vector<packet>{{packet_type::message, true, "\x01\x02\x03\x04"},
                                      {packet_type::message, true, ""}}));
}

// append_payload_frame takes frames already encoded for WebSocket (append_frame) and gives the same body.
TEST(EngineioPayloadTest, AppendsEncodedFramesAsAppendPayloadDoes) {
  std::string body;
  append_payload_frame(encode_frame({packet_type::message, false, "hello"}), false, body);
  append_payload_frame(encode_frame({packet_type::message, true, "\x01\x02\x03\x04"}), true, body);
  append_payload_frame("6", false, body);
  EXPECT_EQ(body, "4hello\x1e"
                  "bAQIDBA==\x1e"
                  "6");
}

// Engine.IO test-suite, "several plain text packets": 4test1 \x1e 4test2 \x1e 4test3 both ways.
TEST(EngineioPayloadTest, RoundTripsTestSuiteTextBody) {
  constexpr std::string_view body = "4test1\x1e"
                                    "4test2\x1e"
                                    "4test3";
  std::vector<packet> out;
  ASSERT_FALSE(decode_payload(body, out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2], (packet{packet_type::message, false, "test3"}));
  std::string again;
  for (auto const& p : out) append_payload(p, again);
  EXPECT_EQ(again, body);
}

// Bodies of one packet, as the test-suites expect them: the ping `2`, the pong `3`, close `1`, noop `6`.
TEST(EngineioPayloadTest, DecodesSinglePacketBodies) {
  for (auto const& c : every_type()) {
    std::vector<packet> out;
    ASSERT_FALSE(decode_payload(c.wire, out)) << c.wire;
    ASSERT_EQ(out.size(), 1u) << c.wire;
    EXPECT_EQ(out[0], c.p) << c.wire;
    std::string body;
    append_payload(c.p, body);
    EXPECT_EQ(body, c.wire);
  }
}

// Socket.IO README, "Sample session", request 5: two EVENTs in one POST body.
TEST(EngineioPayloadTest, CarriesSocketioPacketsAsMessages) {
  std::vector<packet> out;
  ASSERT_FALSE(decode_payload("42[\"hello\"]\x1e"
                              "42[\"world\"]",
                              out));
  EXPECT_EQ(out, (std::vector<packet>{{packet_type::message, false, R"(2["hello"])"},
                                      {packet_type::message, false, R"(2["world"])"}}));
}

TEST(EngineioPayloadTest, AppendsToExistingPackets) {
  std::vector<packet> out{{packet_type::noop, false, ""}};
  ASSERT_FALSE(decode_payload("2", out));
  EXPECT_EQ(out, (std::vector<packet>{{packet_type::noop, false, ""}, {packet_type::ping, false, ""}}));
}

// Every payload holds at least one packet; an empty body is an empty packet, not an empty list.
TEST(EngineioPayloadTest, RejectsEmptyBody) {
  std::vector<packet> out;
  EXPECT_TRUE(is_codec_error(decode_payload("", out), error::empty_packet, condition::protocol_violation));
  EXPECT_TRUE(out.empty());
}

TEST(EngineioPayloadTest, RejectsEmptyPacketAroundSeparators) {
  for (std::string_view const body : {"4a\x1e"sv, "\x1e"
                                                  "4a"sv,
                                      "4a\x1e\x1e"
                                      "4b"sv,
                                      "\x1e"sv}) {
    std::vector<packet> out;
    EXPECT_TRUE(is_codec_error(decode_payload(body, out), error::empty_packet, condition::protocol_violation))
        << escaped(body);
  }
}

// A trailing separator fails after the packet before it; that packet stays in `out`, as documented.
TEST(EngineioPayloadTest, KeepsPacketsDecodedBeforeAnError) {
  std::vector<packet> out;
  EXPECT_TRUE(
      is_codec_error(decode_payload("4hello\x1e", out), error::empty_packet, condition::protocol_violation));
  EXPECT_EQ(out, (std::vector<packet>{{packet_type::message, false, "hello"}}));
}

// Engine.IO test-suite, "closes the session upon invalid packet format": the POST body `abc`.
TEST(EngineioPayloadTest, RejectsUnknownPacketType) {
  for (std::string_view const body : {"abc"sv, "7"sv, "4hello\x1e"
                                                      "7"sv,
                                      "4hello\x1e"
                                      "Bhello"sv}) {
    std::vector<packet> out;
    EXPECT_TRUE(is_codec_error(decode_payload(body, out), error::unknown_packet_type,
                               condition::protocol_violation))
        << escaped(body);
  }
}

TEST(EngineioPayloadTest, RejectsBadBase64) {
  for (std::string_view const body : {
           "bAQIDBA="sv,    // length not a multiple of 4
           "bAQIDBA"sv,     // unpadded
           "bAQID*A=="sv,   // outside the alphabet
           "bAQID-A=="sv,   // base64url, not base64
           "bAQIDBA==="sv,  // too much padding
           "bAQ=DBA=="sv,   // padding in the middle
           "bAQIDBB=="sv,   // non-zero bits under the padding
           "4hello\x1e"
           "bAQIDBA"sv,  // bad after a good packet
       }) {
    std::vector<packet> out;
    EXPECT_TRUE(is_codec_error(decode_payload(body, out), error::invalid_base64, condition::protocol_violation))
        << escaped(body);
  }
}

TEST(EngineioPayloadTest, RejectsBodyOverMaxBytes) {
  std::vector<packet> out;
  constexpr std::string_view body = "4hello\x1e"
                                    "2";
  EXPECT_FALSE(decode_payload(body, out, body.size()));
  out.clear();
  auto const ec = decode_payload(body, out, body.size() - 1);
  EXPECT_TRUE(is_codec_error(ec, error::payload_too_large, condition::limit_exceeded));
  EXPECT_NE(ec, condition::protocol_violation);
  EXPECT_TRUE(out.empty());
}

// --- Open packet (handshake) --------------------------------------------------------------------------

// README, "Handshake": the example open packet. The five fields, in this order, and nothing else.
TEST(EngineioHandshakeTest, EncodesFiveFieldsInSpecOrder) {
  handshake const h{"lv_VI97HAXpY6yYWAAAC", {"websocket"}, 25000ms, 20000ms, 1000000};
  EXPECT_EQ(encode_handshake(h),
            R"({"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,)"
            R"("maxPayload":1000000})");
}

// The test-suites' reference configuration, over a WebSocket-only session (no upgrades), as an open frame.
TEST(EngineioHandshakeTest, EncodesTestSuiteConfigurationAsOpenFrame) {
  handshake const h{"s1", {}, 300ms, 200ms, 1000000};
  EXPECT_EQ(encode_frame({packet_type::open, false, encode_handshake(h)}),
            R"(0{"sid":"s1","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})");
}

// Socket.IO README, "Sample session", request 1.
TEST(EngineioHandshakeTest, DecodesSampleSessionOpenPacket) {
  std::vector<packet> out;
  ASSERT_FALSE(decode_payload(R"(0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,)"
                              R"("pingTimeout":5000,"maxPayload":1000000})",
                              out));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].type, packet_type::open);
  handshake h;
  ASSERT_FALSE(decode_handshake(out[0].data, h));
  EXPECT_EQ(h, (handshake{"lv_VI97HAXpY6yYWAAAC", {"websocket"}, 25000ms, 5000ms, 1000000}));
}

// JSON is JSON: the README shows the example pretty-printed; order and whitespace do not matter on input,
// and unknown fields are ignored.
TEST(EngineioHandshakeTest, DecodesAnyFieldOrderAndWhitespace) {
  handshake h;
  ASSERT_FALSE(decode_handshake(R"(
    { "maxPayload": 42, "pingTimeout": 2, "pingInterval": 1,
      "upgrades": ["websocket", "webtransport"], "sid": "x", "extra": {"a": [1]} })",
                                h));
  EXPECT_EQ(h, (handshake{"x", {"websocket", "webtransport"}, 1ms, 2ms, 42}));
}

TEST(EngineioHandshakeTest, RoundTrips) {
  handshake const h{"\xc3\xa9t\xc3\xa9", {"websocket"}, 0ms, 1ms, 18446744073709551615u};
  handshake back;
  ASSERT_FALSE(decode_handshake(encode_handshake(h), back));
  EXPECT_EQ(back, h);
}

TEST(EngineioHandshakeTest, RejectsMissingOrMistypedFields) {
  constexpr std::string_view good = R"("upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000)";
  std::string const cases[] = {
      "",
      "not json",
      "[]",
      "null",
      R"("sid")",
      "{}",
      // each field missing
      R"({"upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})",
      R"({"sid":"a","pingInterval":300,"pingTimeout":200,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[],"pingTimeout":200,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[],"pingInterval":300,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200})",
      // each field of the wrong type or range
      std::string{R"({"sid":1,)"} + std::string{good} + "}",
      std::string{R"({"sid":"",)"} + std::string{good} + "}",
      std::string{R"({"sid":null,)"} + std::string{good} + "}",
      R"({"sid":"a","upgrades":"websocket","pingInterval":300,"pingTimeout":200,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[1],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":["websocket",null],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[],"pingInterval":"300","pingTimeout":200,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[],"pingInterval":-300,"pingTimeout":200,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[],"pingInterval":300.5,"pingTimeout":200,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":true,"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":{},"maxPayload":1000000})",
      R"({"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":null})",
      R"({"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":-1})",
      R"({"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1e6})",
      // trailing garbage after the object
      std::string{R"({"sid":"a",)"} + std::string{good} + "}x",
  };
  for (auto const& data : cases) {
    handshake h;
    EXPECT_TRUE(is_codec_error(decode_handshake(data, h), error::invalid_handshake, condition::protocol_violation))
        << escaped(data);
  }
}

// Found by this test: 2^64-1 passed is_number_unsigned() and became -1 ms through get<int64_t>(). The
// durations now have to fit steady_clock::duration (nanoseconds in int64: 9223372036854 ms).
TEST(EngineioHandshakeTest, RejectsHeartbeatTooLargeForSteadyClock) {
  auto const with = [](std::string_view interval, std::string_view timeout) {
    return std::string{R"({"sid":"a","upgrades":[],"pingInterval":)"} + std::string{interval} +
           R"(,"pingTimeout":)" + std::string{timeout} + R"(,"maxPayload":1})";
  };
  handshake h;
  ASSERT_FALSE(decode_handshake(with("9223372036854", "9223372036854"), h));
  EXPECT_EQ(h.ping_interval, 9223372036854ms);
  for (auto const& data : {with("9223372036855", "1"), with("1", "9223372036855"),
                           with("9223372036854775808", "1"), with("18446744073709551615", "1")}) {
    h = {};
    EXPECT_TRUE(is_codec_error(decode_handshake(data, h), error::invalid_handshake, condition::protocol_violation))
        << data;
    EXPECT_GE(h.ping_interval.count(), 0);
  }
}

// Found by this review: encode_handshake threw nlohmann::type_error on a sid that is not UTF-8.
TEST(EngineioHandshakeTest, EncodesInvalidUtf8WithoutThrowing) {
  handshake const h{"\xff", {"\xc3"}, 1ms, 1ms, 1};
  std::string data;
  ASSERT_NO_THROW(data = encode_handshake(h));
  handshake back;
  ASSERT_FALSE(decode_handshake(data, back)) << escaped(data);
  EXPECT_EQ(back.sid, "\xef\xbf\xbd");  // U+FFFD REPLACEMENT CHARACTER
}

// --- Error category -----------------------------------------------------------------------------------

TEST(CodecErrorTest, EveryErrorComparesEqualToItsCondition) {
  struct {
    error e;
    condition c;
  } const table[] = {
      {error::empty_packet, condition::protocol_violation},
      {error::unknown_packet_type, condition::protocol_violation},
      {error::invalid_base64, condition::protocol_violation},
      {error::payload_too_large, condition::limit_exceeded},
      {error::invalid_namespace, condition::protocol_violation},
      {error::invalid_ack_id, condition::protocol_violation},
      {error::invalid_attachments, condition::protocol_violation},
      {error::invalid_json, condition::protocol_violation},
      {error::invalid_payload, condition::protocol_violation},
      {error::unexpected_binary, condition::protocol_violation},
      {error::invalid_handshake, condition::protocol_violation},
      {error::json_too_deep, condition::limit_exceeded},
  };
  std::set<std::string> messages;
  for (auto const& [e, c] : table) {
    error_code const ec = e;
    EXPECT_TRUE(is_codec_error(ec, e, c));
    EXPECT_NE(ec, c == condition::protocol_violation ? condition::limit_exceeded : condition::protocol_violation)
        << ec.message();
    EXPECT_EQ(&ec.category(), &error_category());
    EXPECT_TRUE(messages.insert(ec.message()).second) << "duplicate message " << ec.message();
  }
}

TEST(CodecErrorTest, SuccessMatchesNoCondition) {
  error_code const ok;
  EXPECT_NE(ok, condition::protocol_violation);
  EXPECT_NE(ok, condition::limit_exceeded);
  EXPECT_NE(ok, error::empty_packet);
}

TEST(CodecErrorTest, CategoriesAreNamed) {
  EXPECT_STREQ(error_category().name(), "fallbench.codec");
  EXPECT_STREQ(condition_category().name(), "fallbench.codec.condition");
  EXPECT_EQ(make_error_condition(condition::protocol_violation).message(), "protocol violation");
  EXPECT_EQ(make_error_condition(condition::limit_exceeded).message(), "limit exceeded");
}

// --- Fuzz-style sweep ---------------------------------------------------------------------------------

constexpr int fuzz_cases = 4000;

// Decoding random bodies never throws, fails only with codec errors, and whatever decodes re-encodes to the
// very same bytes (base64 is canonical and text is kept verbatim), so encode and decode agree.
TEST(EngineioFuzzTest, RandomPayloadsNeverThrowAndReencodeExactly) {
  constexpr std::uint64_t seed = 0xfa11'be4c'0000'0001;
  auto const joined = [](std::initializer_list<std::string_view> packets) {
    std::string body;
    for (auto const p : packets) {
      if (!body.empty()) body += record_separator;
      body += p;
    }
    return body;
  };
  test_util::random_input gen{seed,
                              {joined({"4hello", "2", "4world"}), joined({"4hello", "bAQIDBA=="}),
                               joined({"4test1", "4test2", "4test3"}), "2probe", "6", "b",
                               joined({"bZm9vYmFy", "3probe"}), joined({R"(42["hello"])", R"(42["world"])"})}};
  int decoded = 0;
  for (int i = 0; i < fuzz_cases; ++i) {
    std::string const input = gen.next();
    std::vector<packet> out;
    error_code ec;
    EXPECT_NO_THROW(ec = decode_payload(input, out, 64)) << test_util::fuzz_case(seed, i, input);
    if (ec) {
      EXPECT_EQ(&ec.category(), &error_category()) << test_util::fuzz_case(seed, i, input);
      continue;
    }
    ++decoded;
    std::string body;
    for (auto const& p : out) append_payload(p, body);
    EXPECT_EQ(body, input) << test_util::fuzz_case(seed, i, input);
  }
  EXPECT_GT(decoded, fuzz_cases / 20) 
      << "seed=0x" << std::hex << seed << ": too few valid inputs to exercise the encoder";
}

TEST(EngineioFuzzTest, RandomFramesNeverThrowAndReencodeExactly) {
  constexpr std::uint64_t seed = 0xfa11'be4c'0000'0002;
  test_util::random_input gen{seed, {"4hello", "2probe", "3probe", "5", "6", "1", R"(0{"sid":"x"})", "\x01\x02"}};
  for (int i = 0; i < fuzz_cases; ++i) {
    std::string const input = gen.next();
    for (bool const binary : {false, true}) {
      packet p;
      error_code ec;
      EXPECT_NO_THROW(ec = decode_frame(input, binary, p, 32)) << test_util::fuzz_case(seed, i, input);
      if (!ec) {
        EXPECT_EQ(encode_frame(p), input) << test_util::fuzz_case(seed, i, input);
      }
    }
  }
}

TEST(EngineioFuzzTest, RandomHandshakesNeverThrowAndRoundTrip) {
  constexpr std::uint64_t seed = 0xfa11'be4c'0000'0003;
  test_util::random_input gen{
      seed,
      {R"({"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,)"
       R"("maxPayload":1000000})",
       R"({"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})",
       R"({ "maxPayload": 1, "pingTimeout": 2, "pingInterval": 3, "upgrades": [ ], "sid": "b" })"}};
  int decoded = 0;
  for (int i = 0; i < fuzz_cases; ++i) {
    std::string const input = gen.next();
    handshake h;
    error_code ec;
    EXPECT_NO_THROW(ec = decode_handshake(input, h)) << test_util::fuzz_case(seed, i, input);
    if (ec) {
      EXPECT_TRUE(is_codec_error(ec, error::invalid_handshake, condition::protocol_violation))
          << test_util::fuzz_case(seed, i, input);
      continue;
    }
    ++decoded;
    handshake back;
    std::string data;
    EXPECT_NO_THROW(data = encode_handshake(h)) << test_util::fuzz_case(seed, i, input);
    EXPECT_FALSE(decode_handshake(data, back)) << test_util::fuzz_case(seed, i, input);
    EXPECT_EQ(back, h) << test_util::fuzz_case(seed, i, input);
  }
  EXPECT_GT(decoded, 0) << "seed=0x" << std::hex << seed;
}

}  // namespace
}  // namespace fallbench::codec::eio
