// The C++ client's per-message cost, over the codec functions the client calls
// (transports/client/src/client.cpp): an emit of a chat with an ack id, and the handling of a received
// chat event from its WebSocket frame to the event name and the arguments' JSON text (split_event).

#include "chat_event.hpp"

#include "fallbench/codec/engineio.hpp"
#include "fallbench/codec/socketio.hpp"

#include <benchmark/benchmark.h>

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
  std::string const args = chat_args_text(state.range(0));  // the driver encodes its arguments once
  std::string_view const event = "chat";
  std::uint64_t ack_id = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text;
    text.reserve(event.size() + args.size() + 32);
    text += eio::type_char(eio::packet_type::message);
    sio::append(sio::packet_type::event, "/", ack_id++, 0, {}, text);
    sio::append_event_payload(event, args, text);
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
  std::string_view name, args;
  for (auto _ : state) {
    if (eio::decode_frame(frame, false, p) || sio::decode_header(p.data, h)) {
      state.SkipWithError("decode failed");
      break;
    }
    sio::event_parts ev;
    if (sio::split_event(h.payload, ev, event_name)) {
      state.SkipWithError("the payload is not [\"name\", ...]");
      break;
    }
    name = ev.name;
    args = ev.args;
    benchmark::DoNotOptimize(name.data());
    benchmark::DoNotOptimize(args.data());
    benchmark::ClobberMemory();
  }
  if (!state.error_occurred() && name != "chat") state.SkipWithError("wrong event name");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(client_receive_chat)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

}  // namespace
}  // namespace fallbench::micro
