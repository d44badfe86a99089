// The server's own WebSocket framing (RFC 6455 after Beast's handshake): fragments, control frames,
// the close handshake, protocol violations and limits, driven by a raw client that writes frame bytes
// itself, so that it can write what no well-behaved client library would.

#include "test_clients.hpp"
#include "test_server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <optional>

namespace fallbench::integration {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

/// One client frame: FIN and opcode, masked with a fixed key (RFC 6455 5.3).
std::string client_frame(unsigned opcode, std::string_view payload, bool fin = true) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0x00) | opcode);
  if (payload.size() < 126) {
    out += static_cast<char>(0x80 | payload.size());
  } else if (payload.size() <= 0xFFFF) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xFF);
  }
  char const mask[4] = {0x12, 0x34, 0x56, 0x78};
  out.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) out += static_cast<char>(payload[i] ^ mask[i & 3]);
  return out;
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string out{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  return out + std::string(reason);
}

/// A frame the server sent.
struct server_frame {
  unsigned opcode = 0;
  bool fin = false;
  bool masked = false;
  std::string payload;
  /// The status code of a close frame, 0 without one.
  unsigned close_code() const {
    return payload.size() >= 2 ? (unsigned{static_cast<unsigned char>(payload[0])} << 8U) |
                                     unsigned{static_cast<unsigned char>(payload[1])}
                               : 0U;
  }
};

/// A WebSocket client that writes raw bytes and reads the server's frames one by one, every operation
/// within a deadline.
class raw_ws {
 public:
  /// Connect and send the upgrade request for a new session, with `after_request` written in the same
  /// write (frames sent without waiting for the answer); read the 101 answer.
  raw_ws(unsigned short port, std::string_view after_request = {}) : stream_(ioc_) {
    std::string request = "GET " + ws_target() +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    request += after_request;
    ec_ = run([&](auto h) { stream_.async_connect(tcp::endpoint{net::ip::address_v4::loopback(), port}, h); });
    if (!ec_) ec_ = write(request);
    if (!ec_) ec_ = run([&](auto h) { net::async_read_until(stream_, net::dynamic_buffer(buffer_), "\r\n\r\n", h); });
    if (!ec_) {
      auto const end = buffer_.find("\r\n\r\n") + 4;
      head_ = buffer_.substr(0, end);
      buffer_.erase(0, end);
    }
  }

  /// The handshake's answer took place.
  testing::AssertionResult upgraded() const {
    if (ec_) return testing::AssertionFailure() << ec_.message();
    if (head_.rfind("HTTP/1.1 101", 0) != 0) return testing::AssertionFailure() << head_;
    return testing::AssertionSuccess();
  }

  error_code write(std::string_view bytes) {
    return run([&](auto h) { net::async_write(stream_, net::buffer(bytes.data(), bytes.size()), h); });
  }

  /// The next frame, or nullopt at the end of the stream or the deadline (`error()` says which).
  std::optional<server_frame> next() {
    if (!fill(2)) return std::nullopt;
    auto const b1 = static_cast<unsigned char>(buffer_[1]);
    std::size_t header = 2;
    std::uint64_t length = b1 & 0x7F;
    if (length == 126) {
      if (!fill(4)) return std::nullopt;
      length = (std::uint64_t{static_cast<unsigned char>(buffer_[2])} << 8U) | static_cast<unsigned char>(buffer_[3]);
      header = 4;
    } else if (length == 127) {
      if (!fill(10)) return std::nullopt;
      length = 0;
      for (std::size_t i = 0; i < 8; ++i) length = (length << 8) | static_cast<unsigned char>(buffer_[2 + i]);
      header = 10;
    }
    if (!fill(header + length)) return std::nullopt;
    server_frame f;
    f.fin = (buffer_[0] & 0x80) != 0;
    f.opcode = buffer_[0] & 0x0F;
    f.masked = (b1 & 0x80) != 0;
    f.payload = buffer_.substr(header, length);
    buffer_.erase(0, header + length);
    return f;
  }

  /// The next data frame's text (skipping nothing), or a failure.
  std::string next_text() {
    auto f = next();
    if (!f) return "<" + ec_.message() + ">";
    if (f->opcode != 0x1) return "<opcode " + std::to_string(f->opcode) + ">";
    return f->payload;
  }

  /// The server closes the connection (end of stream) within the deadline, sending nothing more.
  testing::AssertionResult ends() {
    if (auto f = next()) return testing::AssertionFailure() << "another frame, opcode " << f->opcode;
    if (ec_ != net::error::eof && ec_ != net::error::connection_reset) return testing::AssertionFailure() << ec_.message();
    return testing::AssertionSuccess();
  }

  error_code error() const { return ec_; }

 private:
  template <class Start>
  error_code run(Start start) {
    error_code result = net::error::would_block;
    stream_.expires_after(io_deadline);
    start([&](error_code ec, auto...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  bool fill(std::size_t bytes) {
    while (buffer_.size() < bytes) {
      std::array<char, 4096> chunk{};
      std::size_t got = 0;
      ec_ = run([&](auto h) {
        stream_.async_read_some(net::buffer(chunk), [&, h](error_code ec, std::size_t n) mutable {
          got = n;
          h(ec);
        });
      });
      buffer_.append(chunk.data(), got);
      if (ec_) return false;
    }
    return true;
  }

  net::io_context ioc_{1};
  beast::tcp_stream stream_;
  error_code ec_;
  std::string head_;
  std::string buffer_;
};

/// The open packet arrives first, as one unmasked final text frame.
testing::AssertionResult opened(raw_ws& ws) {
  if (auto r = ws.upgraded(); !r) return r;
  auto f = ws.next();
  if (!f) return testing::AssertionFailure() << "no open packet: " << ws.error().message();
  if (f->opcode != 0x1 || !f->fin || f->masked || f->payload.rfind("0{\"sid\":", 0) != 0)
    return testing::AssertionFailure() << "opcode " << f->opcode << " fin " << f->fin << " masked " << f->masked
                                       << ": " << f->payload;
  return testing::AssertionSuccess();
}

/// The server's next frame is a close frame with `code`, then the connection ends.
testing::AssertionResult closes_with(raw_ws& ws, unsigned code) {
  auto f = ws.next();
  // Frames queued before the violation (a ping of the heartbeat, say) may come first.
  while (f && f->opcode != 0x8) f = ws.next();
  if (!f) return testing::AssertionFailure() << "no close frame: " << ws.error().message();
  if (f->close_code() != code) return testing::AssertionFailure() << "close code " << f->close_code();
  return ws.ends();
}

TEST(WebSocketFramingTest, AFragmentedMessageIsOneMessage) {
  test_server srv;
  raw_ws ws(srv.port());
  ASSERT_TRUE(opened(ws));
  ASSERT_TRUE(no_error(ws.write(client_frame(0x1, "4", false))));
  ASSERT_TRUE(no_error(ws.write(client_frame(0x9, "between fragments") + client_frame(0x0, "0"))));
  // The ping, answered between the fragments, then the CONNECT's answer.
  auto pong = ws.next();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->opcode, 0xAu);
  EXPECT_EQ(pong->payload, "between fragments");
  EXPECT_EQ(ws.next_text().rfind("40{\"sid\":", 0), 0u);
}

TEST(WebSocketFramingTest, FramesSentWithTheUpgradeRequestAreRead) {
  test_server srv;
  raw_ws ws(srv.port(), client_frame(0x1, "40"));
  ASSERT_TRUE(opened(ws));
  EXPECT_EQ(ws.next_text().rfind("40{\"sid\":", 0), 0u);
}

TEST(WebSocketFramingTest, LengthsOfSixteenAndSixtyFourBitsBothWays) {
  test_server srv;
  raw_ws ws(srv.port(), client_frame(0x1, "40"));
  ASSERT_TRUE(opened(ws));
  ASSERT_EQ(ws.next_text().rfind("40{\"sid\":", 0), 0u);
  for (std::size_t size : {200u, 70'000u}) {
    std::string const msg(size, 'm');
    ASSERT_TRUE(no_error(ws.write(client_frame(0x1, emit_join("r" + std::to_string(size), "a", "1")))));
    ASSERT_EQ(ws.next_text(), join_event("r" + std::to_string(size), "a"));
    ASSERT_EQ(ws.next_text(), ok_ack("1"));
    ASSERT_TRUE(no_error(ws.write(client_frame(0x1, emit_chat("r" + std::to_string(size), "a", msg, "2")))));
    EXPECT_EQ(ws.next_text(), chat_event("r" + std::to_string(size), "a", msg));
    EXPECT_EQ(ws.next_text(), ok_ack("2"));
  }
}

TEST(WebSocketFramingTest, ACloseFrameIsAnsweredWithItsCode) {
  test_server srv;
  raw_ws ws(srv.port());
  ASSERT_TRUE(opened(ws));
  ASSERT_TRUE(no_error(ws.write(client_frame(0x8, close_payload(4000, "bye")))));
  EXPECT_TRUE(closes_with(ws, 4000));
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(transport::close_reason::transport_close) == 1; }));
}

TEST(WebSocketFramingTest, TheEngineClosePacketEndsWithACloseHandshake) {
  test_server srv;
  raw_ws ws(srv.port());
  ASSERT_TRUE(opened(ws));
  ASSERT_TRUE(no_error(ws.write(client_frame(0x1, "1"))));
  auto f = ws.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 0x8u);
  EXPECT_EQ(f->close_code(), 1000u);
  // The server waits for our close frame, then ends the connection.
  ASSERT_TRUE(no_error(ws.write(client_frame(0x8, close_payload(1000)))));
  EXPECT_TRUE(ws.ends());
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(transport::close_reason::client_close) == 1; }));
}

struct violation {
  char const* name;
  std::string bytes;
  unsigned code;
  transport::close_reason why;
};

class WebSocketViolationTest : public testing::TestWithParam<violation> {};

TEST_P(WebSocketViolationTest, ClosesWithItsCodeAndEndsTheSession) {
  test_server_config cfg;
  cfg.options.lim.max_payload_bytes = 1000;
  test_server srv(cfg);
  raw_ws ws(srv.port());
  ASSERT_TRUE(opened(ws));
  ASSERT_TRUE(no_error(ws.write(GetParam().bytes)));
  EXPECT_TRUE(closes_with(ws, GetParam().code));
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(GetParam().why) == 1; }));
}

std::string unmasked(std::string_view payload) {
  return std::string{static_cast<char>(0x81), static_cast<char>(payload.size())} + std::string(payload);
}

std::string with_first_byte(std::string frame, char b0) {
  frame[0] = b0;
  return frame;
}

std::string non_minimal_length() {
  // 5 bytes announced in the 16-bit form.
  std::string out{static_cast<char>(0x81), static_cast<char>(0x80 | 126), 0, 5, 1, 2, 3, 4};
  return out + "abcde";
}

using transport::close_reason;
INSTANTIATE_TEST_SUITE_P(
    Rfc6455, WebSocketViolationTest,
    testing::Values(
        violation{"UnmaskedFrame", unmasked("40"), 1002, close_reason::parse_error},
        violation{"ReservedBit", with_first_byte(client_frame(0x1, "40"), static_cast<char>(0xC1)), 1002,
                  close_reason::parse_error},
        violation{"UnknownOpcode", client_frame(0x3, "40"), 1002, close_reason::parse_error},
        violation{"ContinuationWithoutStart", client_frame(0x0, "40"), 1002, close_reason::parse_error},
        violation{"NewMessageInsideAFragmentedOne", client_frame(0x1, "4", false) + client_frame(0x1, "0"), 1002,
                  close_reason::parse_error},
        violation{"FragmentedControlFrame", client_frame(0x9, "x", false), 1002, close_reason::parse_error},
        violation{"LongControlFrame", client_frame(0x9, std::string(126, 'x')), 1002, close_reason::parse_error},
        violation{"NonMinimalLength", non_minimal_length(), 1002, close_reason::parse_error},
        violation{"InvalidUtf8", client_frame(0x1, "4\xC3\x28"), 1007, close_reason::parse_error},
        violation{"Surrogate", client_frame(0x1, "4\xED\xA0\x80"), 1007, close_reason::parse_error},
        violation{"OverMaxPayload", client_frame(0x1, "4" + std::string(1000, 'x')), 1009,
                  close_reason::payload_too_large},
        violation{"FragmentsOverMaxPayload",
                  client_frame(0x1, "4" + std::string(600, 'x'), false) + client_frame(0x0, std::string(600, 'x')),
                  1009, close_reason::payload_too_large},
        violation{"AnnouncedOverMaxPayload",
                  std::string{static_cast<char>(0x81), static_cast<char>(0x80 | 127), 0, 0, 0, 0, 0x7F, 0, 0, 0, 1, 2, 3, 4},
                  1009, close_reason::payload_too_large}),
    [](auto const& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace fallbench::integration
