// The load generator's chat path as it runs, with allocations counted: real C++ clients (the
// transport library the generator drives) over loopback WebSocket to the chat server, in process on
// its own thread. Each iteration one member sends a tagged chat with an ack, as the generator's
// send_chat does (the worker's reused buffer, a two-word ack callback), and the benchmark thread runs
// the clients until every member has its copy (each read as the generator reads a delivery: the
// harness tags, with a reused decoder) and the ack is back. Only the benchmark thread's allocations
// are counted (alloc_counter is per thread): the server's are relay_broadcast's business. Once the
// buffers have grown, a chat and its deliveries must allocate nothing; the benchmark fails
// (SkipWithError, and bench-smoke fails on it) if they do.

#include "alloc_counter.hpp"

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/sio_server.hpp"
#include "fallbench/chatproto/mapping.hpp"
#include "fallbench/transport/client.hpp"
#include "fallbench/transport/engine_server.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace fallbench::micro {
namespace {

namespace net = boost::asio;
using std::chrono::steady_clock;

/// The chat server (engine, Socket.IO, chat application) on 127.0.0.1:0, one thread of its own.
class server_thread {
 public:
  server_thread() : sio_(ioc_, chat_), engine_(ioc_, transport::server_options{}, sio_), work_(net::make_work_guard(ioc_)) {
    port_ = engine_.listen({net::ip::address_v4::loopback(), 0}).port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~server_thread() {
    net::post(ioc_, [this] { engine_.shutdown(); });
    work_.reset();
    // Sessions end with their close packets; whatever lingers is stopped with the loop.
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    ioc_.stop();
    thread_.join();
  }
  server_thread(server_thread const&) = delete;
  server_thread& operator=(server_thread const&) = delete;
  std::uint16_t port() const noexcept { return port_; }

  /// Allocations the server's thread has made so far (asked on that thread: the counter is per thread).
  std::uint64_t allocations() {
    std::promise<std::uint64_t> answer;
    net::post(ioc_, [&answer] { answer.set_value(micro::allocations()); });
    return answer.get_future().get();
  }

 private:
  net::io_context ioc_{1};
  chat::chat_app chat_;
  chat::sio_server sio_;
  transport::engine_server engine_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

/// `members` WebSocket clients in one room, driven by the benchmark thread's io_context.
struct room_of_clients {
  explicit room_of_clients(std::uint16_t port, std::size_t members) {
    transport::client_options o;
    o.port = port;
    o.strat = transport::strategy::websocket;
    o.reconnect = false;
    for (std::size_t i = 0; i < members; ++i) {
      auto c = transport::client::create(ioc.get_executor(), o);
      c->on_event([this](std::string_view event, std::string_view args) {
        if (event != mapping.delivery_event) return;
        chatproto::harness_tags tags;
        if (chatproto::read_delivery_tags(mapping, decoder, args, tags)) ++delivered;
      });
      c->on_connect([this, c = c.get(), i] {
        std::string args;
        chatproto::append_join(mapping, "lobby", "c" + std::to_string(i), args);
        c->emit(mapping.join_event, args, [this](boost::system::error_code ec, std::string_view) {
          if (!ec) ++joined;
        });
      });
      c->connect();
      clients.push_back(std::move(c));
    }
    run_until([&] { return joined == members; });
  }
  ~room_of_clients() {
    for (auto& c : clients) c->close();
    ioc.run_for(std::chrono::milliseconds{50});
  }
  room_of_clients(room_of_clients const&) = delete;
  room_of_clients& operator=(room_of_clients const&) = delete;

  /// Run the clients until `done`, or fail after a few seconds (a lost chat must not hang the run).
  template <class Done>
  bool run_until(Done done) {
    auto const give_up = steady_clock::now() + std::chrono::seconds{5};
    while (!done()) {
      if (steady_clock::now() > give_up) return false;
      ioc.run_one_for(std::chrono::milliseconds{10});
    }
    return true;
  }

  /// One chat from member `from`, as the generator's send_chat sends it; true once every member has
  /// its copy and the ack is back.
  bool chat(std::size_t from, std::int64_t seq) {
    auto const now = steady_clock::now().time_since_epoch().count();
    buffer.clear();
    chatproto::append_tagged_chat(mapping, "lobby", names[from % names.size()], filler,
                                  chatproto::harness_tags{static_cast<std::int64_t>(from), seq, now, now}, buffer);
    auto const want = delivered + clients.size();
    bool acked = false;
    auto* const flag = &acked;
    auto const intended = steady_clock::now();
    // Two words, as the generator's ack callback: std::function keeps them without allocating.
    clients[from]->emit(mapping.chat_event, buffer, [flag, intended](boost::system::error_code ec, std::string_view) {
      *flag = !ec && steady_clock::now() >= intended;
    });
    return run_until([&] { return acked && delivered >= want; });
  }

  net::io_context ioc{1};
  chatproto::event_mapping mapping;
  chatproto::decoder decoder;
  std::vector<std::shared_ptr<transport::client>> clients;
  std::vector<std::string> names{"c0", "c1", "c2", "c3"};
  std::string filler = std::string(64, 'x');
  std::string buffer = std::string(512, '\0');  // reserved, as the generator's chat buffer
  std::size_t joined = 0;
  std::size_t delivered = 0;
};

void generator_chat(benchmark::State& state) {
  auto const members = static_cast<std::size_t>(state.range(0));
  server_thread server;
  room_of_clients room(server.port(), members);
  if (room.joined != members) {
    state.SkipWithError("the clients did not all join");
    return;
  }
  // Warm-up: every member sends twice (a client's two write buffers take turns), so every buffer (the
  // client's emit and write buffers, the ack table, the read buffers, the decoder) has grown to its
  // working size, and the operations' memory is in place.
  std::int64_t seq = 0;
  for (std::size_t i = 0; i < 2 * members; ++i) {
    if (!room.chat(i % members, seq++)) {
      state.SkipWithError("a warm-up chat was lost");
      return;
    }
  }
  std::uint64_t allocated = 0;
  std::size_t sender = 0;
  auto const server_before = server.allocations();
  for (auto _ : state) {
    auto const before = allocations();
    bool const ok = room.chat(sender, seq++);
    allocated += allocations() - before;
    if (!ok) {
      state.SkipWithError("a chat was lost");
      return;
    }
    sender = (sender + 1) % members;
  }
  // The server's, for the record (less the one the question itself made): relay_broadcast checks the
  // broadcast path without sockets; this is all of it, reads, wake-ups, the ack and the writes. It
  // stays the same per chat whatever the room's size: nothing per delivery.
  auto const server_allocated = server.allocations() - server_before - 1;
  auto const n = static_cast<double>(state.iterations());
  state.counters["allocs_per_chat"] = static_cast<double>(allocated) / n;
  state.counters["server_allocs_per_chat"] = static_cast<double>(server_allocated) / n;
  state.SetItemsProcessed(state.iterations() * state.range(0));  // deliveries
  if (allocated > 0) state.SkipWithError("the generator's chat path allocated (send, ack or delivery)");
}
// Real time: the benchmark thread waits for the server's thread; CPU time alone would flatter it.
BENCHMARK(generator_chat)->Arg(10)->Arg(100)->ArgName("members")->UseRealTime();

}  // namespace
}  // namespace fallbench::micro
