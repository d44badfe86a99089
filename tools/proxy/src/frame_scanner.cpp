#include "frame_scanner.hpp"

#include <algorithm>

namespace fallbench::proxy::detail {

namespace ws = codec::ws;

bool frame_scanner::feed(std::string_view bytes) {
  if (broken_) return !bytes.empty();
  bool data = false;
  while (!bytes.empty()) {
    if (!in_frame_) {
      // Gather a whole header (at most 14 bytes) before parsing it.
      auto const take = std::min(bytes.size(), ws::max_header_bytes - header_.size());
      header_.append(bytes.substr(0, take));
      auto const r = ws::parse_header(header_, from_client_, frame_);
      if (r == ws::parse_result::protocol_error) {
        broken_ = true;
        return true;
      }
      if (r == ws::parse_result::need_more) {
        bytes.remove_prefix(take);
        continue;
      }
      // The header ends inside what was appended: the rest of `bytes` is payload and beyond.
      auto const used = frame_.size - (header_.size() - take);
      bytes.remove_prefix(used);
      header_.clear();
      in_frame_ = true;
      remaining_ = frame_.length;
      one_byte_text_ = frame_.opcode == ws::text && frame_.fin && frame_.length == 1;
      heartbeat_ = frame_.opcode == ws::ping || frame_.opcode == ws::pong || one_byte_text_;
      if (!heartbeat_) data = true;
    }
    if (remaining_ > 0 && !bytes.empty()) {
      if (one_byte_text_) {
        char c = bytes.front();
        if (frame_.masked) c = static_cast<char>(c ^ frame_.mask[0]);
        if (c != '2' && c != '3') data = true;  // a one-character message that is not a heartbeat
        one_byte_text_ = false;
      }
      auto const n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size()));
      remaining_ -= n;
      bytes.remove_prefix(n);
    }
    if (remaining_ == 0) in_frame_ = false;
  }
  return data;
}

}  // namespace fallbench::proxy::detail
