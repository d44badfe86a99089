// Broadcast fan-out into a room of N members: encode the chat once and hand the same shared frame to
// every member's queue (what server/ does, docs/conventions.md section 5), against encoding it per member. The
// queues are fake: a std::deque<transport::frame> each, drained after every broadcast as the writes
// would drain them. No locking or session lookup: this isolates the encoding and sharing cost.

#include "chat_event.hpp"

#include "fallbench/codec/engineio.hpp"
#include "fallbench/transport/session.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace fallbench::micro {
namespace {

/// The chat as the server relays it: the sender's arguments text in a Socket.IO EVENT
/// (chatproto::append_event_packet, what chat_app calls) in an Engine.IO message frame, framed once
/// (transport::frame::message, the WebSocket header in its headroom).
transport::frame encode_chat(std::string_view args) {
  std::string text;
  text.reserve(args.size() + 16);
  chatproto::append_event_packet(chatproto::event_kind::chat, args, text);
  return transport::frame::message(text);
}

void drain(std::vector<std::deque<transport::frame>>& queues) {
  for (auto& q : queues) q.pop_front();
}

void broadcast_encode_once(benchmark::State& state) {
  auto const args = chat_args_text(256);
  std::vector<std::deque<transport::frame>> queues(static_cast<std::size_t>(state.range(0)));
  std::size_t frame_bytes = 0;
  for (auto _ : state) {
    transport::frame const f = encode_chat(args);
    frame_bytes = f.size();
    for (auto& q : queues) q.push_back(f);
    benchmark::ClobberMemory();
    drain(queues);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) * static_cast<std::int64_t>(frame_bytes));
}
BENCHMARK(broadcast_encode_once)->Arg(10)->Arg(100)->Arg(1000)->ArgName("members");

void broadcast_encode_per_member(benchmark::State& state) {
  auto const args = chat_args_text(256);
  std::vector<std::deque<transport::frame>> queues(static_cast<std::size_t>(state.range(0)));
  std::size_t frame_bytes = 0;
  for (auto _ : state) {
    for (auto& q : queues) {
      q.push_back(encode_chat(args));
      frame_bytes = q.back().size();
    }
    benchmark::ClobberMemory();
    drain(queues);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) * static_cast<std::int64_t>(frame_bytes));
}
BENCHMARK(broadcast_encode_per_member)->Arg(10)->Arg(100)->Arg(1000)->ArgName("members");

}  // namespace
}  // namespace fallbench::micro
