// What a connect and a disconnect cost the chat application while many clients are connected: the
// client enters the everyone-list (the audience of the seed page's older form) and leaves it again,
// and a member joins and leaves a room as large. Both must not grow with the number of clients
// already there (docs/relay.md, "Membership"): a burst of connects must not cost the server more per
// connect the more clients it holds. No socket: the sessions are real (session_impl in a
// server_state), the server is never run.

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/rooms.hpp"

#include "server_state.hpp"
#include "session_impl.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <vector>

namespace fallbench::micro {
namespace {

struct no_engine_app final : transport::session_handler {
  void on_open(transport::session_ptr const&) override {}
  void on_message(transport::session_ptr const&, codec::eio::packet&&) override {}
  void on_close(transport::session_ptr const&, transport::close_reason) override {}
};

/// `n` sessions on a server that is never run.
struct sessions_fixture {
  explicit sessions_fixture(std::size_t n)
      : state(std::make_shared<transport::detail::server_state>(ioc, transport::server_options{}, app)) {
    for (std::size_t i = 0; i < n; ++i)
      sessions.push_back(state->create_session(transport::transport_kind::websocket, app, "127.0.0.1"));
  }
  boost::asio::io_context ioc;
  no_engine_app app;
  std::shared_ptr<transport::detail::server_state> state;
  std::vector<transport::session_ptr> sessions;
};

// One more client connects to `/` and disconnects while `connected` clients stay connected.
void chat_connect_disconnect(benchmark::State& state) {
  auto const connected = static_cast<std::size_t>(state.range(0));
  sessions_fixture f(connected + 1);
  chat::chat_app app;
  std::vector<chat::client> clients;
  clients.reserve(connected);
  for (std::size_t i = 0; i < connected; ++i) {
    clients.emplace_back(f.sessions[i]);
    app.on_connect(clients.back(), "/", chat::json::object());
  }
  chat::client newcomer(f.sessions.back());
  for (auto _ : state) {
    app.on_connect(newcomer, "/", chat::json::object());
    app.on_disconnect(newcomer, "/");
  }
  for (auto& c : clients) app.on_disconnect(c, "/");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(chat_connect_disconnect)->Arg(1000)->Arg(8000)->ArgName("connected");

// One more member joins a room of `members` and leaves it again.
void room_join_leave(benchmark::State& state) {
  auto const members = static_cast<std::size_t>(state.range(0));
  sessions_fixture f(members + 1);
  chat::room_registry rooms;
  for (std::size_t i = 0; i < members; ++i) rooms.join("lobby", f.sessions[i]);
  auto const& newcomer = f.sessions.back();
  for (auto _ : state) {
    rooms.join("lobby", newcomer);
    rooms.leave("lobby", newcomer.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(room_join_leave)->Arg(1000)->Arg(8000)->ArgName("members");

}  // namespace
}  // namespace fallbench::micro
