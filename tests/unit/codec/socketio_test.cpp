#include "fallbench/codec/socketio.hpp"

#include <gtest/gtest.h>

namespace fallbench::codec::sio {
namespace {

// Socket.IO README, "Packet encoding": EVENT in the main namespace with an ack id.
TEST(SocketioDecodeTest, ReadsAckIdBeforePayload) {
  packet p;
  ASSERT_FALSE(decode(R"(212["hello"])", p));
  EXPECT_EQ(p.type, packet_type::event);
  EXPECT_EQ(p.id, 12u);
  EXPECT_EQ(p.data, nlohmann::json::array({"hello"}));
}

}  // namespace
}  // namespace fallbench::codec::sio
