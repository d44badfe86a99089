// What the fuzz targets (fuzz/, docs/fuzzing.md) found, each input as a regression test. The same
// inputs are also in the targets' corpora (fuzz/corpus/<target>/crash-*), replayed by
// unit.fuzz_replay.<target>.

#include "fallbench/codec/engineio.hpp"
#include "fallbench/codec/error.hpp"
#include "fallbench/codec/socketio.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace fallbench::codec {
namespace {

using namespace std::string_view_literals;

// fuzz_chatproto: nlohmann::json stops reading at a NUL byte outside a string, so a Socket.IO payload
// `["a"]` followed by a NUL and junk decoded as the event `a`. A raw NUL is never JSON.
TEST(FuzzFoundTest, SocketioPayloadWithNulAndTrailingBytesIsInvalidJson) {
  sio::packet p;
  EXPECT_EQ(sio::decode("2[\"chat\",{}]\0garbage"sv, p), error::invalid_json);
  EXPECT_EQ(sio::decode("2[\"chat\"]\0"sv, p), error::invalid_json);
  EXPECT_EQ(sio::decode("0\0{}"sv, p), error::invalid_json);
  // Without the NUL the same packets are what they always were.
  EXPECT_FALSE(sio::decode("2[\"chat\",{}]"sv, p));
  EXPECT_EQ(sio::decode("2[\"chat\",{}]garbage"sv, p), error::invalid_json);
}

TEST(FuzzFoundTest, HandshakeWithNulAndTrailingBytesIsInvalid) {
  eio::handshake h;
  auto const good = R"({"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1})"sv;
  EXPECT_FALSE(eio::decode_handshake(good, h));
  std::string bad(good);
  bad += '\0';
  bad += "junk";
  EXPECT_EQ(eio::decode_handshake(bad, h), error::invalid_handshake);
}

}  // namespace
}  // namespace fallbench::codec
