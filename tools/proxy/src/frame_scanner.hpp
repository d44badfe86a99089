#pragma once
/// Tells heartbeats from data in one direction of an upgraded connection, for idle-timeout's
/// `idle-pings=ignore` (an idle timer that WebSocket ping/pong does not reset, as some load balancers
/// have). Reads only the frame headers (and a one-byte payload) with the codec; relays nothing.

#include "fallbench/codec/websocket.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace fallbench::proxy::detail {

class frame_scanner {
 public:
  /// `from_client`: the direction's frames are masked (RFC 6455 section 5.1).
  explicit frame_scanner(bool from_client) noexcept : from_client_(from_client) {}

  /// Feed the next bytes of the direction. @return whether they hold any of a frame that is not a
  /// heartbeat: a WebSocket ping or pong (control frames, RFC 6455 section 5.5.2) or an Engine.IO
  /// ping or pong packet ("2" or "3" alone in a text frame, Engine.IO v4). Bytes that are not
  /// WebSocket at all (a broken stream, another protocol) always count as data.
  bool feed(std::string_view bytes);

 private:
  bool from_client_;
  bool broken_ = false;
  std::string header_;                 ///< a header split across reads
  codec::ws::frame_header frame_{};
  std::uint64_t remaining_ = 0;        ///< payload bytes of the current frame still to come
  bool in_frame_ = false;
  bool heartbeat_ = false;             ///< the current frame is a heartbeat (so far)
  bool one_byte_text_ = false;         ///< a one-byte text frame: its payload decides
};

}  // namespace fallbench::proxy::detail
