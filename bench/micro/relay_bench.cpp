// The server's broadcast path as it runs, with allocations counted: one chat framed once
// (transport::frame::message, the WebSocket header in the frame's headroom), handed by the room
// registry to every member session's queue, then taken by each session's writer as one batch of
// buffers for a gather write. No socket: the sessions are real (session_impl in a server_state), the
// writes are not. A delivery must allocate nothing once the queues have grown to their working size;
// the benchmark fails (SkipWithError, and bench-smoke fails on it) if one does.

#include "alloc_counter.hpp"

#include "fallbench/chat/rooms.hpp"
#include "fallbench/chatproto/chat.hpp"

#include "server_state.hpp"
#include "session_impl.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

namespace fallbench::micro {
namespace {

using transport::detail::session_impl;

struct no_app final : transport::session_handler {
  void on_open(transport::session_ptr const&) override {}
  void on_message(transport::session_ptr const&, codec::eio::packet&&) override {}
  void on_close(transport::session_ptr const&, transport::close_reason) override {}
};

/// A room of `members` sessions on a server that is never run.
struct room_fixture {
  explicit room_fixture(std::size_t members)
      : state(std::make_shared<transport::detail::server_state>(ioc, transport::server_options{}, app)) {
    for (std::size_t i = 0; i < members; ++i) {
      sessions.push_back(state->create_session(transport::transport_kind::websocket, app, "127.0.0.1"));
      rooms.join("lobby", sessions.back());
    }
  }

  /// What each session's writer does with its queue: take it as one batch and list its buffers.
  std::size_t drain() {
    std::size_t bytes = 0;
    bool is_close = false;
    for (auto const& s : sessions) {
      // No WebSocket is attached, so the writer's identity is the null connection.
      if (!s->take_frames(nullptr, batch, 256, 256 * 1024, is_close)) continue;
      for (auto const& f : batch) iov.emplace_back(f.websocket_bytes().data(), f.websocket_bytes().size());
      bytes += boost::asio::buffer_size(iov);
      batch.clear();
      iov.clear();
    }
    return bytes;
  }

  boost::asio::io_context ioc;
  no_app app;
  std::shared_ptr<transport::detail::server_state> state;
  std::vector<std::shared_ptr<session_impl>> sessions;
  chat::room_registry rooms;
  std::vector<transport::frame> batch;
  std::vector<boost::asio::const_buffer> iov;
};

/// The Socket.IO text of a chat as chatproto writes it.
std::string chat_text(std::size_t msg_bytes) {
  std::string const msg(msg_bytes, 'x');
  std::string args;
  chatproto::append_chat({"lobby", "n", msg, std::nullopt}, args);
  std::string text;
  chatproto::append_event_packet(chatproto::event_kind::chat, args, text);
  return text;
}

void relay_broadcast(benchmark::State& state) {
  auto const members = static_cast<std::size_t>(state.range(0));
  room_fixture room(members);
  auto const text = chat_text(64);
  // One warm-up broadcast grows every queue and batch to its working size.
  room.rooms.broadcast("lobby", transport::frame::message(text));
  room.drain();
  std::uint64_t per_broadcast = 0;
  std::uint64_t per_delivery = 0;
  std::size_t wire = 0;
  for (auto _ : state) {
    auto const before = allocations();
    auto const f = transport::frame::message(text);
    auto const framed = allocations();
    auto const delivered = room.rooms.broadcast("lobby", f);
    wire += room.drain();
    per_delivery += allocations() - framed;
    per_broadcast += framed - before;
    benchmark::DoNotOptimize(delivered);
  }
  auto const n = static_cast<double>(state.iterations());
  state.counters["allocs_per_broadcast"] = static_cast<double>(per_broadcast) / n;
  state.counters["allocs_per_delivery"] = static_cast<double>(per_delivery) / (n * static_cast<double>(members));
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(static_cast<std::int64_t>(wire));
  if (per_delivery > 0) state.SkipWithError("the broadcast path allocated per delivery");
}
BENCHMARK(relay_broadcast)->Arg(10)->Arg(100)->Arg(1000)->ArgName("members");

}  // namespace
}  // namespace fallbench::micro
