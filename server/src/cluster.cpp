#include "fallbench/chat/cluster.hpp"

#include <algorithm>
#include <charconv>

namespace fallbench::chat {

namespace {
constexpr std::string_view magic = "fb1 ";
constexpr std::size_t max_node_bytes = 64;
constexpr std::size_t max_room_bytes = 4096;  // far above the protocol's 256: only a sanity bound
}  // namespace

bool valid_node_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= max_node_bytes && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
         });
}

void encode_relay(std::string_view node, bool everyone, std::string_view room, std::string_view packet,
                  std::string& out) {
  char digits[24];
  auto const [end, ec] = std::to_chars(digits, digits + sizeof digits, room.size());
  out.reserve(out.size() + magic.size() + node.size() + 4 + static_cast<std::size_t>(end - digits) + room.size() +
              packet.size());
  out += magic;
  out += node;
  out += everyone ? " a " : " r ";
  out.append(digits, end);
  out += '\n';
  out += room;
  out += packet;
}

std::optional<relay_message> decode_relay(std::string_view m) noexcept {
  if (!m.starts_with(magic)) return std::nullopt;
  m.remove_prefix(magic.size());
  auto const sp = m.find(' ');
  if (sp == std::string_view::npos || !valid_node_id(m.substr(0, sp))) return std::nullopt;
  relay_message r;
  r.node = m.substr(0, sp);
  m.remove_prefix(sp + 1);
  if (m.size() < 2 || (m[0] != 'a' && m[0] != 'r') || m[1] != ' ') return std::nullopt;
  r.everyone = m[0] == 'a';
  m.remove_prefix(2);
  auto const nl = m.find('\n');
  if (nl == std::string_view::npos || nl == 0) return std::nullopt;
  std::size_t room_bytes = 0;
  auto const [end, ec] = std::from_chars(m.data(), m.data() + nl, room_bytes);
  if (ec != std::errc{} || end != m.data() + nl || room_bytes > max_room_bytes) return std::nullopt;
  m.remove_prefix(nl + 1);
  if (m.size() < room_bytes) return std::nullopt;
  r.room = m.substr(0, room_bytes);
  r.packet = m.substr(room_bytes);
  if (r.everyone != r.room.empty()) return std::nullopt;
  if (r.packet.size() < 3 || !r.packet.starts_with("2[") || r.packet.back() != ']') return std::nullopt;
  return r;
}

}  // namespace fallbench::chat
