#pragma once
// The chat the benchmarks encode and decode, as the load harness sends it: written by the chat
// protocol module (transports/chatproto), room `r0`, name `c7`, a message of `msg_bytes` and the
// harness's tags k/q/t/a. The DOM form exists only for the benchmarks of the DOM path it replaces.

#include "fallbench/chatproto/chat.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace fallbench::micro {

/// The chat's arguments object `{"room":"r0","name":"c7","msg":"xx…","k":…,"q":…,"t":…,"a":…}`.
inline std::string chat_args_text(std::int64_t msg_bytes) {
  std::string const msg(static_cast<std::size_t>(msg_bytes), 'x');
  std::string text;
  chatproto::append_chat({"r0", "c7", msg, chatproto::harness_tags{3, 123, 1'718'000'000'123, 1'718'000'000'456}},
                         text);
  return text;
}

/// The Socket.IO packet text `2["chat",{...}]` (an Engine.IO message's data).
inline std::string chat_event_text(std::int64_t msg_bytes) {
  std::string text;
  chatproto::append_event_packet(chatproto::event_kind::chat, chat_args_text(msg_bytes), text);
  return text;
}

/// `["chat",{...}]` as JSON text (the packet's payload).
inline std::string chat_payload_text(std::int64_t msg_bytes) { return chat_event_text(msg_bytes).substr(1); }

/// `["chat",{...}]` as a DOM.
inline nlohmann::json chat_event_json(std::int64_t msg_bytes) {
  return nlohmann::json::parse(chat_payload_text(msg_bytes));
}

}  // namespace fallbench::micro
