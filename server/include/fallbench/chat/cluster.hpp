#pragma once
/// The message a node of a cluster publishes on the Redis channel for each broadcast, and reads back
/// (docs/cluster.md, "Message format"):
///
///     fb1 <node-id> <scope> <room-bytes>\n<room><packet>
///
/// `scope` is `r` (the members of <room>) or `a` (every client: the seed page's older form, room
/// empty); <packet> is the Socket.IO packet exactly as the sending node framed it for its own
/// members, so a receiving node frames those bytes as they are and re-serialises nothing.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fallbench::chat {

struct relay_message {
  std::string_view node;
  bool everyone = false;
  std::string_view room;
  std::string_view packet;
};

/// A node id: 1 to 64 of [A-Za-z0-9._-] (it is written unquoted into every message).
bool valid_node_id(std::string_view id) noexcept;

/// Append the message for one broadcast to `out`.
void encode_relay(std::string_view node, bool everyone, std::string_view room, std::string_view packet,
                  std::string& out);

/// Read a message; nothing when it is not one (another program on the channel, or damage). The
/// packet must be a Socket.IO EVENT (`2[` ... `]`) since it is relayed to clients as it is.
std::optional<relay_message> decode_relay(std::string_view message) noexcept;

}  // namespace fallbench::chat
