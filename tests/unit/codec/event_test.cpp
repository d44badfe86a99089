// Socket.IO event framing `["name",args…]` (codec::sio::append_event_payload, split_event) and the JSON
// scanner under it (codec::json_scan). Expected bytes are written out, never encoded.

#include "fallbench/codec/json_scan.hpp"
#include "fallbench/codec/socketio.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace fallbench::codec {
namespace {

using namespace std::string_view_literals;

std::string event_payload(std::string_view name, std::string_view args) {
  std::string out;
  sio::append_event_payload(name, args, out);
  return out;
}

TEST(EventFramingTest, BuildsNameThenArguments) {
  EXPECT_EQ(event_payload("chat", R"({"room":"r"})"), R"(["chat",{"room":"r"}])");
  EXPECT_EQ(event_payload("chat", R"(1,"two",[3])"), R"(["chat",1,"two",[3]])");
  EXPECT_EQ(event_payload("ping", ""), R"(["ping"])");
}

TEST(EventFramingTest, EscapesTheNameAsNlohmannDumps) {
  EXPECT_EQ(event_payload("a\"b\\c\n\x01", ""), R"(["a\"b\\c\n\u0001"])");
  EXPECT_EQ(event_payload("caf\xc3\xa9", ""), "[\"caf\xc3\xa9\"]");
}

// The names the server and client wrote were nlohmann's dump: every ASCII byte escapes the same way.
TEST(EventFramingTest, EscapesEveryAsciiByteAsNlohmannDid) {
  for (int c = 0; c < 0x80; ++c) {
    std::string const s = std::string("a") + static_cast<char>(c) + "b";
    std::string out;
    json_scan::append_string(s, out);
    EXPECT_EQ(out, nlohmann::json(s).dump()) << c;
  }
}

TEST(EventFramingTest, SplitsNameAndRawArguments) {
  std::string scratch;
  sio::event_parts parts;
  ASSERT_FALSE(sio::split_event(R"(["chat",{"room":"r","x":[1,"]"]}])", parts, scratch));
  EXPECT_EQ(parts.name, "chat");
  EXPECT_EQ(parts.args, R"({"room":"r","x":[1,"]"]})");

  ASSERT_FALSE(sio::split_event(R"(["ping"])", parts, scratch));
  EXPECT_EQ(parts.name, "ping");
  EXPECT_EQ(parts.args, "");

  ASSERT_FALSE(sio::split_event(R"(["m",1,{"a":2}])", parts, scratch));
  EXPECT_EQ(parts.args, R"(1,{"a":2})");
}

TEST(EventFramingTest, SplitToleratesJsonWhitespace) {
  std::string scratch;
  sio::event_parts parts;
  ASSERT_FALSE(sio::split_event(" [ \"chat\" ,\t{\"a\":1} \n] ", parts, scratch));
  EXPECT_EQ(parts.name, "chat");
  EXPECT_EQ(parts.args, R"({"a":1})");
}

TEST(EventFramingTest, SplitDecodesAnEscapedName) {
  std::string scratch;
  sio::event_parts parts;
  ASSERT_FALSE(sio::split_event(R"(["\u0063h\u0061t",{}])", parts, scratch));
  EXPECT_EQ(parts.name, "chat");
  ASSERT_FALSE(sio::split_event(R"(["\ud83d\ude00"])", parts, scratch));
  EXPECT_EQ(parts.name, "\xf0\x9f\x98\x80");
}

TEST(EventFramingTest, SplitAcceptsANumberNameAsTheReferenceDoes) {
  std::string scratch;
  sio::event_parts parts;
  ASSERT_FALSE(sio::split_event(R"([42,"x"])", parts, scratch));
  EXPECT_EQ(parts.name, "42");
  EXPECT_EQ(parts.args, R"("x")");
}

TEST(EventFramingTest, RoundTripsThroughBuildAndSplit) {
  std::string scratch;
  sio::event_parts parts;
  auto const text = event_payload("we\"ird", R"({"a":"b"},2)");
  ASSERT_FALSE(sio::split_event(text, parts, scratch));
  EXPECT_EQ(parts.name, "we\"ird");
  EXPECT_EQ(parts.args, R"({"a":"b"},2)");
}

TEST(EventFramingTest, SplitRefusesWhatIsNotAnEventArray) {
  std::string scratch;
  for (auto const bad : {""sv, "{}"sv, "[]"sv, "["sv, R"(["chat")"sv, R"(["chat",])"sv, R"(["chat" {}])"sv,
                         R"(["chat",{}]x)"sv, R"(["ch)"sv, R"([true,1])"sv, R"([{"a":1}])"sv, R"(["a\x"])"sv}) {
    sio::event_parts parts;
    EXPECT_TRUE(sio::split_event(bad, parts, scratch)) << bad;
  }
}

TEST(JsonScanTest, SkipsEveryValueType) {
  for (auto const v : {R"("s\"\\\/\b\f\n\r\t\u00e9")"sv, "-0"sv, "12.5e-3"sv, "1E+2"sv, "true"sv, "false"sv,
                       "null"sv, "[]"sv, "{}"sv, R"({"a":[1,{"b":null}],"c":{}})"sv, "[ 1 , [ 2 ] ]"sv}) {
    std::size_t pos = 0;
    EXPECT_EQ(json_scan::skip_value(v, pos, 0, 128), json_scan::scan_error::none) << v;
    EXPECT_EQ(pos, v.size()) << v;
  }
}

TEST(JsonScanTest, RefusesMalformedValues) {
  for (auto const v : {"01"sv, "-"sv, "1."sv, "1e"sv, ".5"sv, "tru"sv, "nul"sv, "truex"sv, "[1,]"sv, "[1 2]"sv,
                       "{\"a\"}"sv, "{\"a\":}"sv, "{a:1}"sv, "{\"a\":1,}"sv, "\"\x01\""sv, "\"\\q\""sv,
                       "\"\\u12g4\""sv, "\"\\ud800\""sv, "\"\\udc00\""sv, "\"\xc3\""sv, "\"\xc0\x80\""sv,
                       "\"\xed\xa0\x80\""sv, "\"\xf5\x80\x80\x80\""sv, "'a'"sv}) {
    std::size_t pos = 0;
    auto const e = json_scan::skip_value(v, pos, 0, 128);
    // "01" and "truex" scan a first value; the caller sees the rest as trailing data.
    EXPECT_TRUE(e != json_scan::scan_error::none || pos != v.size()) << v;
  }
}

// The scanner reads plain ASCII eight bytes at a time: a special byte at any offset of a word is seen.
TEST(JsonScanTest, FindsASpecialByteAtEveryOffset) {
  struct special {
    std::string_view bytes;
    json_scan::scan_error want;
  };
  special const specials[] = {{"\x01", json_scan::scan_error::control_char},
                              {"\x1f", json_scan::scan_error::control_char},
                              {"\xff", json_scan::scan_error::bad_utf8},
                              {"\xc3\xa9", json_scan::scan_error::none},
                              {"\\n", json_scan::scan_error::none},
                              {"\x7f", json_scan::scan_error::none},
                              {" ", json_scan::scan_error::none}};
  for (auto const& sp : specials) {
    for (std::size_t at = 0; at <= 24; ++at) {
      std::string const body = std::string(at, 'a') + std::string(sp.bytes) + std::string(24 - at, 'b');
      std::string const text = "\"" + body + "\"";
      std::size_t pos = 0;
      json_scan::string_token t;
      ASSERT_EQ(json_scan::scan_string(text, pos, t), sp.want) << at;
      if (sp.want == json_scan::scan_error::none) {
        EXPECT_EQ(t.raw, body);
        EXPECT_EQ(pos, text.size());
      }
      // A closing quote at any offset ends the string there.
      std::string const early = "\"" + std::string(at, 'a') + "\"" + std::string(24 - at, 'b');
      pos = 0;
      ASSERT_EQ(json_scan::scan_string(early, pos, t), json_scan::scan_error::none);
      EXPECT_EQ(t.raw.size(), at);
    }
  }
}

TEST(JsonScanTest, BoundsNesting) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  std::size_t pos = 0;
  EXPECT_EQ(json_scan::skip_value(deep, pos, 0, 128), json_scan::scan_error::too_deep);
  pos = 0;
  EXPECT_EQ(json_scan::skip_value(deep, pos, 0, 200), json_scan::scan_error::none);
}

TEST(JsonScanTest, DecodesEscapesOnlyWhenPresent) {
  std::string buffer;
  std::string_view const plain = R"("abc")";
  std::size_t pos = 0;
  json_scan::string_token t;
  ASSERT_EQ(json_scan::scan_string(plain, pos, t), json_scan::scan_error::none);
  EXPECT_FALSE(t.escaped);
  EXPECT_EQ(json_scan::string_value(t, buffer).data(), plain.data() + 1);  // a view, no copy

  std::string_view const esc = R"("\u0061\n\"\u00e9\ud83d\ude00")";
  pos = 0;
  ASSERT_EQ(json_scan::scan_string(esc, pos, t), json_scan::scan_error::none);
  EXPECT_TRUE(t.escaped);
  EXPECT_EQ(json_scan::string_value(t, buffer), "a\n\"\xc3\xa9\xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace fallbench::codec
