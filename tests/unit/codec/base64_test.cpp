#include "fallbench/codec/base64.hpp"

#include "codec_testing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

namespace fallbench::codec {
namespace {

using namespace std::string_view_literals;
using test_util::escaped;

// RFC 4648 section 10 test vectors.
TEST(Base64Test, EncodesRfc4648Vectors) {
  std::pair<char const*, char const*> const vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (auto const& [plain, encoded] : vectors) {
    std::string out;
    base64_encode(plain, out);
    EXPECT_EQ(out, encoded);
    std::string back;
    ASSERT_TRUE(base64_decode(encoded, back)) << encoded;
    EXPECT_EQ(back, plain);
  }
}

// Engine.IO README, "Packet encoding / HTTP long-polling": the buffer <01 02 03 04> is AQIDBA==.
TEST(Base64Test, EncodesEngineioSpecBuffer) {
  std::string out;
  base64_encode("\x01\x02\x03\x04"sv, out);
  EXPECT_EQ(out, "AQIDBA==");
  std::string back;
  ASSERT_TRUE(base64_decode("AQIDBA==", back));
  EXPECT_EQ(back, "\x01\x02\x03\x04"sv);
}

// Bytes with the high bit set, NUL bytes, and the two non-alphanumeric digits `+` and `/`
// (RFC 4648 section 4, table 1: values 62 and 63).
TEST(Base64Test, EncodesHighBytesZerosAndPunctuationDigits) {
  std::pair<std::string_view, std::string_view> const vectors[] = {
      {"\xff\xfe\xfd"sv, "//79"sv},
      {"\xfb\xff"sv, "+/8="sv},
      {"\x00"sv, "AA=="sv},
      {"\x00\x00"sv, "AAA="sv},
      {"\x00\x00\x00"sv, "AAAA"sv},
      {"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"sv, "AAECAwQFBgcICQoL"sv}};
  for (auto const& [plain, encoded] : vectors) {
    std::string out;
    base64_encode(plain, out);
    EXPECT_EQ(out, encoded) << escaped(plain);
    std::string back;
    ASSERT_TRUE(base64_decode(encoded, back)) << encoded;
    EXPECT_EQ(back, plain) << encoded;
  }
}

TEST(Base64Test, RoundTripsEveryByteValueAtEveryLengthModuloThree) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t len = 253; len <= 256; ++len) {
    std::string_view const plain = std::string_view{all}.substr(0, len);
    std::string encoded;
    base64_encode(plain, encoded);
    EXPECT_EQ(encoded.size(), (len + 2) / 3 * 4);
    std::string back;
    ASSERT_TRUE(base64_decode(encoded, back)) << encoded;
    EXPECT_EQ(back, plain);
  }
}

TEST(Base64Test, AppendsToExistingOutput) {
  std::string out = "b";
  base64_encode("\x01\x02\x03\x04"sv, out);
  EXPECT_EQ(out, "bAQIDBA==");
  std::string bytes = "x";
  ASSERT_TRUE(base64_decode("Zm9v", bytes));
  EXPECT_EQ(bytes, "xfoo");
}

TEST(Base64Test, DecodesEmptyTextToNoBytes) {
  std::string out;
  EXPECT_TRUE(base64_decode("", out));
  EXPECT_TRUE(out.empty());
}

TEST(Base64Test, RejectsLengthNotMultipleOfFour) {
  for (std::string_view const text : {"A"sv, "AB"sv, "ABC"sv, "ABCDE"sv, "AQIDBA="sv, "AQIDBA"sv, "AQIDBA==="sv}) {
    std::string out;
    EXPECT_FALSE(base64_decode(text, out)) << escaped(text);
  }
}

TEST(Base64Test, RejectsCharactersOutsideAlphabet) {
  // The base64url digits `-` and `_` (RFC 4648 section 5) are not standard base64; neither are spaces,
  // line breaks, NUL or bytes above 0x7F.
  for (std::string_view const text :
       {"AQID-A=="sv, "AQID_A=="sv, "AQ D"sv, "AQI\n"sv, "AQ\r\n"sv, "AQI\x80"sv, "AQI\0"sv, "AQI*"sv, "AQI."sv}) {
    std::string out;
    EXPECT_FALSE(base64_decode(text, out)) << escaped(text);
  }
}

TEST(Base64Test, RejectsMisplacedPadding) {
  // Padding only at the very end, at most two characters, and never a data character after it.
  for (std::string_view const text :
       {"===="sv, "A==="sv, "=AAA"sv, "A=AA"sv, "AA=A"sv, "AQ=D"sv, "AA==AAAA"sv, "AAA=AAAA"sv, "Zg==Zg=="sv}) {
    std::string out;
    EXPECT_FALSE(base64_decode(text, out)) << escaped(text);
  }
}

TEST(Base64Test, RejectsNonZeroBitsUnderPadding) {
  // Canonical encoding (RFC 4648 section 3.5): "f" is Zg==, "fo" is Zm8=, <01 02 03 04> is AQIDBA==.
  for (std::string_view const text : {"Zh=="sv, "Zv=="sv, "Zm9="sv, "AQIDBB=="sv, "AQIDBP=="sv}) {
    std::string out;
    EXPECT_FALSE(base64_decode(text, out)) << escaped(text);
  }
}

}  // namespace
}  // namespace fallbench::codec
