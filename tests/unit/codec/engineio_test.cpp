#include "fallbench/codec/engineio.hpp"

#include <gtest/gtest.h>

namespace fallbench::codec::eio {
namespace {

// Engine.IO README, "Packet encoding": a text message is the digit 4 followed by the data.
TEST(EngineioFrameTest, EncodesTextMessageWithTypeDigit) {
  EXPECT_EQ(encode_frame({packet_type::message, false, "hello"}), "4hello");
}

}  // namespace
}  // namespace fallbench::codec::eio
