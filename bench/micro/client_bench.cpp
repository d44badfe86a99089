// The C++ client's per-message cost (issue 3), over the codec's public functions the client uses
// (transports/client/src/client.cpp): an emit of a chat with an ack id, and the handling of a received
// chat event from its WebSocket frame to the event name and the arguments' JSON text.
//
// The receive side stops short of the client's own split_event (anonymous namespace in client.cpp):
// it takes the event name by scanning to the closing quote, which is split_event's path for a name
// without escapes (the chat event's case). Moving split_event into the codec would let this benchmark
// call the real thing.

#include "chat_event.hpp"

#include "fallbench/codec/engineio.hpp"
#include "fallbench/codec/socketio.hpp"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fallbench::micro {
namespace {

namespace eio = codec::eio;
namespace sio = codec::sio;

/// client::emit("chat", args_json, ack): the Engine.IO frame text of an EVENT with an ack id.
void client_emit_chat(benchmark::State& state) {
  std::string const args = chat_args(state.range(0)).dump();  // the driver encodes its arguments once
  std::string_view const event = "chat";
  std::uint64_t ack_id = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text;
    text.reserve(event.size() + args.size() + 32);
    text += eio::type_char(eio::packet_type::message);
    std::string payload = "[";
    payload += nlohmann::json(event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    payload += ',';
    payload += args;
    payload += ']';
    sio::append(sio::packet_type::event, "/", ack_id++, 0, payload, text);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}
BENCHMARK(client_emit_chat)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

/// A received WebSocket frame `42["chat",{...}]` to (event name, arguments' JSON text).
void client_receive_chat(benchmark::State& state) {
  std::string const frame = eio::encode_frame({eio::packet_type::message, false, chat_event_text(state.range(0))});
  eio::packet p;
  sio::header h;
  std::string event_name;  // reused across messages, as the client's member is
  for (auto _ : state) {
    if (eio::decode_frame(frame, false, p) || sio::decode_header(p.data, h)) {
      state.SkipWithError("decode failed");
      break;
    }
    auto const end = h.payload.find('"', 2);
    if (h.payload.size() < 4 || h.payload[0] != '[' || h.payload[1] != '"' || end == std::string_view::npos) {
      state.SkipWithError("the payload is not [\"name\", ...]");
      break;
    }
    event_name.assign(h.payload.substr(2, end - 2));
    std::string_view const args = h.payload.substr(end + 2, h.payload.size() - end - 3);
    benchmark::DoNotOptimize(event_name.data());
    benchmark::DoNotOptimize(args.data());
    benchmark::ClobberMemory();
  }
  if (!state.error_occurred() && event_name != "chat") state.SkipWithError("wrong event name");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(client_receive_chat)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

}  // namespace
}  // namespace fallbench::micro
