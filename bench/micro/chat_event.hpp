#pragma once
// The chat event the benchmarks encode and decode, as the harness sends it (shared/DESIGN.md
// section 3 plus the harness's seq and send time): ["chat",{"room","name","msg","seq","t"}].

#include "fallbench/codec/socketio.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace fallbench::micro {

/// The event's arguments object with a `msg_bytes`-long message.
inline nlohmann::json chat_args(std::int64_t msg_bytes) {
  return {{"room", "r"},
          {"name", "n"},
          {"msg", std::string(static_cast<std::size_t>(msg_bytes), 'x')},
          {"seq", 123},
          {"t", 1'718'000'000'123}};
}

/// ["chat", {...}] as a DOM.
inline nlohmann::json chat_event_json(std::int64_t msg_bytes) {
  return nlohmann::json::array({"chat", chat_args(msg_bytes)});
}

/// ["chat", {...}] as JSON text.
inline std::string chat_payload_text(std::int64_t msg_bytes) { return chat_event_json(msg_bytes).dump(); }

/// The Socket.IO packet text: 2["chat", {...}] (an Engine.IO message's data).
inline std::string chat_event_text(std::int64_t msg_bytes) {
  std::string text;
  codec::sio::append(codec::sio::packet_type::event, "/", std::nullopt, 0, chat_payload_text(msg_bytes), text);
  return text;
}

}  // namespace fallbench::micro
