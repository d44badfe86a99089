// codec::ws: WebSocket frame headers, masking and the checks of RFC 6455 section 5, with frames
// written out byte by byte (the examples of section 5.7 among them).

#include "fallbench/codec/websocket.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fallbench::codec::ws {
namespace {

std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (auto v : values) out += static_cast<char>(v);
  return out;
}

TEST(WebSocketFrameTest, ParsesTheRfcExamples) {
  frame_header h;
  // 5.7: a single-frame unmasked text message "Hello", as a client reads it.
  auto const unmasked = bytes({0x81, 0x05}) + "Hello";
  ASSERT_EQ(parse_header(unmasked, false, h), parse_result::complete);
  EXPECT_TRUE(h.fin);
  EXPECT_EQ(h.opcode, text);
  EXPECT_FALSE(h.masked);
  EXPECT_EQ(h.length, 5u);
  EXPECT_EQ(h.size, 2u);
  // 5.7: the same message masked, as a server reads it.
  auto masked = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  ASSERT_EQ(parse_header(masked, true, h), parse_result::complete);
  EXPECT_TRUE(h.masked);
  EXPECT_EQ(h.size, 6u);
  unmask(masked.data() + h.size, 5, h.mask);
  EXPECT_EQ(masked.substr(h.size), "Hello");
  // 5.7: a fragmented message's first frame, and a 256-byte binary frame's 16-bit length.
  ASSERT_EQ(parse_header(bytes({0x01, 0x03}) + "Hel", false, h), parse_result::complete);
  EXPECT_FALSE(h.fin);
  ASSERT_EQ(parse_header(bytes({0x82, 0x7E, 0x01, 0x00}), false, h), parse_result::complete);
  EXPECT_EQ(h.length, 256u);
  ASSERT_EQ(parse_header(bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}), false, h), parse_result::complete);
  EXPECT_EQ(h.length, 65536u);
}

TEST(WebSocketFrameTest, WantsMoreUntilTheHeaderIsWhole) {
  auto const whole = bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4});
  frame_header h;
  for (std::size_t n = 0; n < whole.size(); ++n)
    EXPECT_EQ(parse_header(whole.substr(0, n), true, h), parse_result::need_more) << n << " bytes";
  EXPECT_EQ(parse_header(whole, true, h), parse_result::complete);
  EXPECT_EQ(h.size, 14u);
}

TEST(WebSocketFrameTest, RefusesWhatTheRfcForbids) {
  frame_header h;
  EXPECT_EQ(parse_header(bytes({0x81, 0x05}), true, h), parse_result::protocol_error) << "unmasked client frame";
  EXPECT_EQ(parse_header(bytes({0x81, 0x85, 1, 2, 3, 4}), false, h), parse_result::protocol_error) << "masked server frame";
  EXPECT_EQ(parse_header(bytes({0xC1, 0x00}), false, h), parse_result::protocol_error) << "RSV1 without an extension";
  EXPECT_EQ(parse_header(bytes({0x83, 0x00}), false, h), parse_result::protocol_error) << "reserved data opcode";
  EXPECT_EQ(parse_header(bytes({0x8B, 0x00}), false, h), parse_result::protocol_error) << "reserved control opcode";
  EXPECT_EQ(parse_header(bytes({0x09, 0x00}), false, h), parse_result::protocol_error) << "fragmented ping";
  EXPECT_EQ(parse_header(bytes({0x89, 0x7E, 0x00, 0x7E}), false, h), parse_result::protocol_error) << "126-byte ping";
  EXPECT_EQ(parse_header(bytes({0x81, 0x7E, 0x00, 0x05}), false, h), parse_result::protocol_error) << "16-bit form for 5";
  EXPECT_EQ(parse_header(bytes({0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}), false, h), parse_result::protocol_error)
      << "64-bit form for 65535";
  EXPECT_EQ(parse_header(bytes({0x81, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}), false, h), parse_result::protocol_error)
      << "most significant bit set";
}

TEST(WebSocketFrameTest, WritesHeadersInTheShortestForm) {
  unsigned char out[max_header_bytes];
  EXPECT_EQ(write_header(out, text, 125), 2u);
  EXPECT_EQ(out[0], 0x81);
  EXPECT_EQ(out[1], 125);
  EXPECT_EQ(write_header(out, binary, 126), 4u);
  EXPECT_EQ(out[0], 0x82);
  EXPECT_EQ(out[1], 126);
  EXPECT_EQ(out[3], 126);
  EXPECT_EQ(write_header(out, text, 0x10000), 10u);
  EXPECT_EQ(out[1], 127);
  EXPECT_EQ(out[7], 1);
}

TEST(WebSocketFrameTest, AMaskedFrameReadsBack) {
  for (std::size_t size : {0u, 5u, 125u, 126u, 70000u}) {
    std::string const payload(size, 'p');
    unsigned char const mask[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    std::string frame;
    append_frame(text, payload, mask, frame);
    frame_header h;
    ASSERT_EQ(parse_header(frame, true, h), parse_result::complete) << size;
    ASSERT_EQ(h.length, size);
    ASSERT_EQ(frame.size(), h.size + size);
    if (size > 0) {
      EXPECT_NE(frame.substr(h.size), payload) << "masked on the wire";
    }
    unmask(frame.data() + h.size, size, h.mask);
    EXPECT_EQ(frame.substr(h.size), payload) << size;
  }
}

TEST(WebSocketFrameTest, Utf8AndCloseCodes) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xC3\x28")) << "bad continuation";
  EXPECT_FALSE(valid_utf8("\xC0\xAF")) << "overlong";
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80")) << "surrogate";
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80")) << "above U+10FFFF";
  EXPECT_FALSE(valid_utf8("\xE2\x82")) << "truncated";
  EXPECT_TRUE(valid_close_code(1000));
  EXPECT_TRUE(valid_close_code(4000));
  EXPECT_FALSE(valid_close_code(1005)) << "reserved, never sent";
  EXPECT_FALSE(valid_close_code(999));
  EXPECT_FALSE(valid_close_code(5000));
}

}  // namespace
}  // namespace fallbench::codec::ws
