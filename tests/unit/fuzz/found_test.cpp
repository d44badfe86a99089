// What the fuzz targets (fuzz/, docs/fuzzing.md) found, each input as a regression test. The same
// inputs are also in the targets' corpora (fuzz/corpus/<target>/crash-*), replayed by
// unit.fuzz_replay.<target>.

#include "fallbench/chatproto/chat.hpp"
#include "fallbench/codec/engineio.hpp"
#include "fallbench/codec/error.hpp"
#include "fallbench/codec/socketio.hpp"

#include "http_framer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace fallbench::codec {
namespace {

using namespace std::string_view_literals;

// fuzz_chatproto (its oracle, not the decoder): a number beyond a double's range (`22221.444E4422`)
// is JSON by RFC 8259's grammar, which leaves the range to the reader (section 6). nlohmann::json
// refuses it; the chat decoder does not read numbers it does not need, accepts it, and the relay
// forwards the payload as it came. The target now skips the comparison where nlohmann cannot tell.
TEST(FuzzFoundTest, ChatNumberBeyondADoubleIsJsonAndRelayedAsItCame) {
  chatproto::decoder decoder;
  chatproto::message m;
  auto const args = R"({"room":"r","name":"n","msg":"hi","x":22221.444E4422})"sv;
  ASSERT_EQ(decoder.decode(chatproto::event_kind::chat, args, m), chatproto::decode_error::none);
  EXPECT_EQ(m.payload, args);
  EXPECT_EQ(m.msg, "hi");
  // The crashing input: a bare number as a leave's argument, refused for the protocol, not as JSON.
  auto const e = decoder.decode(chatproto::event_kind::leave, "22221.444E4422"sv, m);
  EXPECT_NE(e, chatproto::decode_error::none);
  EXPECT_FALSE(chatproto::is_malformed(e));
}

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

// fuzz_proxy_http: a response status line shorter than its 3-digit code ("HTTP/1.1 96") was read one
// byte past its end (AddressSanitizer: heap-buffer-overflow in http_framer::parse_head).
TEST(FuzzFoundTest, ProxyFramerRefusesAStatusLineShorterThanItsCode) {
  using proxy::detail::http_framer;
  for (std::string_view const head : {"HTTP/1.1 96\r\n\r\n"sv, "HTTP/1.1 9\r\n\r\n"sv, "HTTP/1.1 \r\n\r\n"sv}) {
    http_framer framer(http_framer::role::response, 8192);
    EXPECT_EQ(framer.step(head).what, http_framer::event::error) << head;
  }
  http_framer framer(http_framer::role::response, 8192);
  auto const r = framer.step("HTTP/1.1 204\r\n\r\n");
  EXPECT_EQ(r.what, http_framer::event::head);
  EXPECT_EQ(framer.head().status, 204u);
}

}  // namespace
}  // namespace fallbench::codec
