// Integration tests of the fault proxy (tools/proxy): each profile does what it claims, against an
// upstream that lives in the test (a Beast HTTP/WebSocket server on its own thread). Loopback only,
// port 0, every wait bounded by a deadline. Timing assertions are lower bounds that follow from what
// the proxy must do (a loaded machine can only make them hold more), with generous upper bounds.

#include "test_pki.hpp"

#include "fallbench/cli/args.hpp"
#include "fallbench/proxy/proxy.hpp"
#include "proxy_command.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <condition_variable>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace fp = fallbench::proxy;
using fallbench::cli::proxy_main;  // `fallbench proxy`'s command line (cli/proxy_command.cpp)
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

/// The deadline of every connect, read and write in this suite: a test that waits longer has failed.
constexpr milliseconds io_deadline{5'000};

milliseconds since(clock_type::time_point t) {
  return std::chrono::duration_cast<milliseconds>(clock_type::now() - t);
}

tcp::endpoint loopback(unsigned short port) { return {net::ip::address_v4::loopback(), port}; }

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

std::string get_request(std::string const& target, bool keep_alive = true) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
}

// ---- the upstream: a Beast server on its own thread ----

/// One request as the upstream saw it.
struct seen_request {
  std::uint64_t connection = 0;
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> fields;
  std::size_t body_bytes = 0;

  bool has(std::string_view name) const {
    return std::any_of(fields.begin(), fields.end(), [&](auto const& f) { return beast::iequals(f.first, name); });
  }
  std::string value(std::string_view name) const {
    for (auto const& [n, v] : fields)
      if (beast::iequals(n, name)) return v;
    return {};
  }
};

/// An HTTP/1.1 and WebSocket server for the tests, recording every request head. Routes:
///   /hello            200 "hello"
///   /echo             200 with the request body
///   /bytes?n=N        200 with N bytes
///   /sink             200 with the request body's size; a chunked body is counted as its chunks
///                     arrive (sink(), wait_sink())
///   /poll?delay_ms=T  200 "polled" after T ms (a long-poll)
///   /slow?chunks=K&interval_ms=T  a chunked response, one chunk every T ms
///   /ws               WebSocket echo (an upgrade), 400 for a plain GET
/// Every response carries X-Upstream-Connection: the id of the connection it came on.
class test_upstream {
 public:
  test_upstream() : acceptor_(ioc_, loopback(0)) {
    net::co_spawn(ioc_, accept_loop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~test_upstream() {
    ioc_.stop();
    thread_.join();
  }
  test_upstream(test_upstream const&) = delete;
  test_upstream& operator=(test_upstream const&) = delete;

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::vector<seen_request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  /// Chunked /sink body bytes received so far, and /sink requests ended (answered, or their
  /// connection closed), over the upstream's life.
  struct sink_count {
    std::size_t bytes = 0;
    std::size_t ended = 0;
  };
  sink_count sink() const {
    std::lock_guard lock(mutex_);
    return sink_;
  }
  /// Wait until the chunked /sink bodies have brought `bytes` in all, or a /sink request ended after
  /// `before` was read, or `deadline`. True when the bytes are in.
  bool wait_sink(std::size_t bytes, sink_count before, milliseconds deadline = io_deadline) {
    std::unique_lock lock(mutex_);
    sink_changed_.wait_for(lock, deadline, [&] { return sink_.bytes >= bytes || sink_.ended > before.ended; });
    return sink_.bytes >= bytes;
  }

 private:
  static std::string query_value(std::string_view target, std::string_view key) {
    auto const q = target.find('?');
    if (q == std::string_view::npos) return {};
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      auto const amp = query.find('&');
      auto const pair = query.substr(0, amp);
      if (auto const eq = pair.find('='); pair.substr(0, eq) == key && eq != std::string_view::npos)
        return std::string(pair.substr(eq + 1));
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    }
    return {};
  }
  static std::size_t query_number(std::string_view target, std::string_view key) {
    auto const v = query_value(target, key);
    return v.empty() ? 0 : static_cast<std::size_t>(std::stoull(v));
  }

  net::awaitable<void> accept_loop() {
    for (std::uint64_t id = 1;; ++id) {
      auto socket = co_await acceptor_.async_accept(net::use_awaitable);
      net::co_spawn(ioc_, serve(std::move(socket), id), net::detached);
    }
  }

  net::awaitable<void> serve(tcp::socket socket, std::uint64_t id) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    try {
      for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(16u << 20);
        stream.expires_after(io_deadline * 2);
        co_await http::async_read_header(stream, buffer, parser, net::use_awaitable);
        sink_guard sink(*this, parser.get().target().starts_with("/sink"));
        std::size_t sunk = 0;
        // A chunked /sink body is counted chunk by chunk as the parser meets it, not stored.
        auto count = [&](std::uint64_t, std::string_view body, boost::system::error_code&) {
          sunk += body.size();
          sink.add(body.size());
          return body.size();
        };
        if (sink.on()) parser.on_chunk_body(count);
        if (!parser.is_done()) co_await http::async_read(stream, buffer, parser, net::use_awaitable);
        auto req = parser.release();
        std::string const target(req.target());
        std::string const path = target.substr(0, target.find('?'));
        {
          seen_request seen{id, std::string(req.method_string()), target, {}, req.body().size()};
          for (auto const& f : req) seen.fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
          std::lock_guard lock(mutex_);
          requests_.push_back(std::move(seen));
        }
        if (path == "/ws" && websocket::is_upgrade(req)) {
          co_await serve_websocket(std::move(stream), std::move(req));
          co_return;
        }
        if (path == "/slow") {
          co_await serve_slow(stream, id, query_number(target, "chunks"), milliseconds{query_number(target, "interval_ms")});
          continue;
        }
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.set("X-Upstream-Connection", std::to_string(id));
        res.keep_alive(req.keep_alive());
        if (path == "/hello") {
          res.body() = "hello";
        } else if (path == "/echo") {
          res.body() = req.body();
        } else if (path == "/bytes") {
          res.body() = std::string(query_number(target, "n"), 'x');
        } else if (path == "/sink") {
          res.body() = std::to_string(req.body().size() + sunk);
        } else if (path == "/poll") {
          net::steady_timer timer(co_await net::this_coro::executor);
          timer.expires_after(milliseconds{query_number(target, "delay_ms")});
          co_await timer.async_wait(net::use_awaitable);
          res.body() = "polled";
        } else if (path == "/ws") {
          res.result(http::status::bad_request);
          res.body() = "not a WebSocket request";
        } else {
          res.result(http::status::not_found);
        }
        res.prepare_payload();
        stream.expires_after(io_deadline * 2);
        co_await http::async_write(stream, res, net::use_awaitable);
        if (!res.keep_alive()) {
          stream.socket().shutdown(tcp::socket::shutdown_send);
          co_return;
        }
      }
    } catch (std::exception const&) {
      // The peer left, or a deadline passed: this connection is over, which is all the tests need.
    }
  }

  net::awaitable<void> serve_slow(beast::tcp_stream& stream, std::uint64_t id, std::size_t chunks, milliseconds interval) {
    std::string head = "HTTP/1.1 200 OK\r\nX-Upstream-Connection: " + std::to_string(id) +
                       "\r\nTransfer-Encoding: chunked\r\n\r\n";
    co_await net::async_write(stream, net::buffer(head), net::use_awaitable);
    net::steady_timer timer(co_await net::this_coro::executor);
    for (std::size_t i = 0; i < chunks; ++i) {
      if (i > 0) {
        timer.expires_after(interval);
        co_await timer.async_wait(net::use_awaitable);
      }
      std::string const data = "chunk " + std::to_string(i) + "\n";
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      std::string const chunk = size + data + "\r\n";
      co_await net::async_write(stream, net::buffer(chunk), net::use_awaitable);
    }
    co_await net::async_write(stream, net::buffer(std::string_view("0\r\n\r\n")), net::use_awaitable);
  }

  static net::awaitable<void> serve_websocket(beast::tcp_stream stream, http::request<http::string_body> req) {
    stream.expires_never();
    websocket::stream<beast::tcp_stream> ws(std::move(stream));
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = io_deadline;
    timeouts.idle_timeout = io_deadline * 2;
    timeouts.keep_alive_pings = false;
    ws.set_option(timeouts);
    co_await ws.async_accept(req, net::use_awaitable);
    beast::flat_buffer buffer;
    for (;;) {
      co_await ws.async_read(buffer, net::use_awaitable);
      ws.binary(ws.got_binary());
      co_await ws.async_write(buffer.data(), net::use_awaitable);
      buffer.consume(buffer.size());
    }
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  /// Counts one /sink request's body bytes into the upstream's total, and says when it ended.
  class sink_guard {
   public:
    sink_guard(test_upstream& up, bool on) : up_(up), on_(on) {}
    ~sink_guard() {
      if (!on_) return;
      {
        std::lock_guard lock(up_.mutex_);
        ++up_.sink_.ended;
      }
      up_.sink_changed_.notify_all();
    }
    sink_guard(sink_guard const&) = delete;
    sink_guard& operator=(sink_guard const&) = delete;
    bool on() const noexcept { return on_; }
    void add(std::size_t n) {
      {
        std::lock_guard lock(up_.mutex_);
        up_.sink_.bytes += n;
      }
      up_.sink_changed_.notify_all();
    }

   private:
    test_upstream& up_;
    bool on_;
  };

  mutable std::mutex mutex_;
  std::vector<seen_request> requests_;
  std::condition_variable sink_changed_;
  sink_count sink_;
};

/// An upstream that reads exactly `expect` bytes from one connection, then writes `reply` and closes:
/// it sees the relayed bytes as they are, with no parser in between.
class raw_upstream {
 public:
  raw_upstream(std::size_t expect, std::string reply) : acceptor_(ioc_, loopback(0)) {
    result_ = received_.get_future();
    net::co_spawn(ioc_, run(expect, std::move(reply)), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~raw_upstream() {
    ioc_.stop();
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  /// What arrived, once `expect` bytes did (or an empty optional after the deadline).
  std::optional<std::string> received() {
    if (result_.wait_for(io_deadline) != std::future_status::ready) return std::nullopt;
    return result_.get();
  }

 private:
  net::awaitable<void> run(std::size_t expect, std::string reply) {
    std::string data(expect, '\0');
    try {
      auto socket = co_await acceptor_.async_accept(net::use_awaitable);
      co_await net::async_read(socket, net::buffer(data), net::use_awaitable);
      received_.set_value(data);
      co_await net::async_write(socket, net::buffer(reply), net::use_awaitable);
      socket.shutdown(tcp::socket::shutdown_send);
      char sink[256];
      for (;;) co_await socket.async_read_some(net::buffer(sink), net::use_awaitable);
    } catch (std::exception const&) {
      // The test's deadline reports what did not arrive.
    }
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::promise<std::string> received_;
  std::future<std::string> result_;
  std::thread thread_;
};

/// An upstream that accepts connections, reads whatever comes and records when each one ends: it
/// shows how long the proxy keeps its side of a connection open.
class watching_upstream {
 public:
  watching_upstream() : acceptor_(ioc_, loopback(0)) {
    net::co_spawn(ioc_, accept_loop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~watching_upstream() {
    ioc_.stop();
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  /// Wait until `accepted` connections were accepted and `closed` of them ended; false after the deadline.
  bool wait(std::size_t accepted, std::size_t closed, milliseconds deadline = io_deadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, deadline, [&] { return accepted_ >= accepted && closed_ >= closed; });
  }
  std::size_t closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  std::string received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  net::awaitable<void> accept_loop() {
    for (;;) {
      auto socket = co_await acceptor_.async_accept(net::use_awaitable);
      {
        std::lock_guard lock(mutex_);
        ++accepted_;
      }
      changed_.notify_all();
      net::co_spawn(ioc_, watch(std::move(socket)), net::detached);
    }
  }
  net::awaitable<void> watch(tcp::socket socket) {
    char data[4096];
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(net::buffer(data), net::as_tuple(net::use_awaitable));
      std::lock_guard lock(mutex_);
      received_.append(data, n);
      if (ec) {
        ++closed_;
        changed_.notify_all();
        co_return;
      }
    }
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t accepted_ = 0, closed_ = 0;
  std::string received_;
};

// ---- the proxy under test ----

/// A proxy in process on 127.0.0.1:0 with two I/O threads; the destructor stops it and joins them,
/// which also checks that stop() leaves no work behind. Records the proxy's events for wait_event().
class running_proxy {
 public:
  running_proxy(unsigned short upstream_port, fp::profile const& initial, fp::proxy_options options = {})
      : work_(net::make_work_guard(ioc_)) {
    options.upstream = loopback(upstream_port);
    proxy_.emplace(ioc_, options, initial);
    proxy_->on_event([this](fp::fault_event const& e) {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
      changed_.notify_all();
    });
    port_ = proxy_->listen(loopback(0)).port();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  running_proxy(unsigned short upstream_port, std::string_view spec, fp::proxy_options options = {})
      : running_proxy(upstream_port, fp::parse_profile(spec), options) {}
  ~running_proxy() {
    proxy_->stop();
    work_.reset();
    for (auto& t : threads_) t.join();
  }
  running_proxy(running_proxy const&) = delete;
  running_proxy& operator=(running_proxy const&) = delete;

  unsigned short port() const { return port_; }
  fp::proxy& operator*() { return *proxy_; }
  fp::proxy* operator->() { return &*proxy_; }

  /// Wait until an event matching `match` has been logged; @return it, or nothing after `deadline`.
  std::optional<fp::fault_event> wait_event(std::function<bool(fp::fault_event const&)> const& match,
                                            milliseconds deadline = io_deadline) {
    std::unique_lock lock(mutex_);
    std::optional<fp::fault_event> found;
    changed_.wait_for(lock, deadline, [&] {
      for (auto const& e : events_)
        if (match(e)) {
          found = e;
          return true;
        }
      return false;
    });
    return found;
  }
  /// Wait until the proxy's counters satisfy `done` (they change after the bytes they count moved).
  bool wait_stats(std::function<bool(fp::proxy_stats const&)> const& done) {
    // No event signals a counter; the events that do move are waited on instead where there is one.
    auto const until = clock_type::now() + io_deadline;
    while (!done(proxy_->stats())) {
      if (clock_type::now() > until) return false;
      std::this_thread::yield();
    }
    return true;
  }

 private:
  net::io_context ioc_;
  std::optional<fp::proxy> proxy_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  unsigned short port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<fp::fault_event> events_;
};

bool has_event(std::vector<fp::fault_event> const& log, std::uint64_t connection, std::string_view profile,
               std::string_view what) {
  return std::any_of(log.begin(), log.end(), [&](fp::fault_event const& e) {
    return e.connection == connection && e.profile == profile && e.what.find(what) != std::string::npos;
  });
}

std::string dump(std::vector<fp::fault_event> const& log) {
  std::string out;
  for (auto const& e : log) out += "\n  " + fp::to_string(e);
  return out.empty() ? " (empty)" : out;
}

// ---- clients: blocking calls over their own io_context, each bounded by a deadline ----

/// Run the operation `start` begins until it completes or `deadline` passes; then cancel the
/// socket's operations and report beast::error::timeout.
template <class Start>
error_code run_bounded(net::io_context& ioc, tcp::socket& socket, milliseconds deadline, Start&& start) {
  std::optional<error_code> result;
  start([&](error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run_for(deadline);
  if (result) return *result;
  error_code ignored;
  socket.cancel(ignored);
  ioc.restart();
  ioc.run_for(io_deadline);
  return beast::error::timeout;
}

/// A plain TCP client speaking raw bytes, or HTTP through Beast's parser.
class tcp_client {
 public:
  error_code connect(unsigned short port) {
    return run_bounded(ioc_, socket_, io_deadline, [&](auto h) { socket_.async_connect(loopback(port), h); });
  }
  error_code write(std::string_view bytes) {
    return run_bounded(ioc_, socket_, io_deadline,
                       [&](auto h) { net::async_write(socket_, net::buffer(bytes.data(), bytes.size()), h); });
  }
  /// Append what one read returns to `out` (bytes the HTTP parser left over come first).
  error_code read_some(std::string& out, milliseconds deadline = io_deadline) {
    if (buffer_.size() > 0) {
      out += beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      return {};
    }
    char data[65536];
    return run_bounded(ioc_, socket_, deadline, [&](auto h) {
      socket_.async_read_some(net::buffer(data), [&, h](error_code ec, std::size_t n) mutable {
        out.append(data, n);
        h(ec);
      });
    });
  }
  /// Read until `done(out)`, an error or the deadline.
  error_code read_until(std::string& out, std::function<bool(std::string const&)> const& done,
                        milliseconds deadline = io_deadline) {
    auto const until = clock_type::now() + deadline;
    while (!done(out)) {
      auto const left = std::chrono::duration_cast<milliseconds>(until - clock_type::now());
      if (left <= 0ms) return beast::error::timeout;
      if (auto ec = read_some(out, left)) return ec;
    }
    return {};
  }
  /// Read until the peer ends the connection: @return eof, connection_reset, or timeout.
  error_code read_to_end(std::string& out, milliseconds deadline = io_deadline) {
    auto const until = clock_type::now() + deadline;
    for (;;) {
      auto const left = std::chrono::duration_cast<milliseconds>(until - clock_type::now());
      if (left <= 0ms) return beast::error::timeout;
      if (auto ec = read_some(out, left)) return ec;
    }
  }
  /// End the stream toward the peer (a half-close: reading goes on).
  void shutdown_send() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
  }
  /// Write `request` and read one response.
  error_code exchange(std::string_view request, http::response<http::string_body>& res) {
    if (auto ec = write(request)) return ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16u << 20);
    auto const ec = run_bounded(ioc_, socket_, io_deadline, [&](auto h) { http::async_read(socket_, buffer_, parser, h); });
    res = parser.release();
    return ec;
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_{ioc_};
  beast::flat_buffer buffer_;
};

/// A WebSocket client (Beast) over its own io_context.
class ws_client {
 public:
  error_code connect(unsigned short port, milliseconds deadline = io_deadline) {
    auto& socket = ws_.next_layer();
    if (auto ec = run_bounded(ioc_, socket, io_deadline, [&](auto h) { socket.async_connect(loopback(port), h); }))
      return ec;
    return run_bounded(ioc_, socket, deadline, [&](auto h) { ws_.async_handshake(response_, "127.0.0.1", "/ws", h); });
  }
  /// The answer to the handshake (the refusal, when there was one).
  websocket::response_type const& response() const { return response_; }
  error_code write(std::string_view bytes, bool binary) {
    ws_.binary(binary);
    return run_bounded(ioc_, ws_.next_layer(), io_deadline,
                       [&](auto h) { ws_.async_write(net::buffer(bytes.data(), bytes.size()), h); });
  }
  error_code read(std::string& out, milliseconds deadline = io_deadline) {
    beast::flat_buffer buffer;
    auto const ec = run_bounded(ioc_, ws_.next_layer(), deadline, [&](auto h) { ws_.async_read(buffer, h); });
    out = beast::buffers_to_string(buffer.data());
    return ec;
  }
  /// Send a WebSocket ping (a control frame; the upstream answers with a pong, which a later read
  /// consumes without returning it).
  error_code ping() {
    return run_bounded(ioc_, ws_.next_layer(), io_deadline, [&](auto h) { ws_.async_ping({}, h); });
  }

 private:
  net::io_context ioc_;
  websocket::stream<tcp::socket> ws_{ioc_};
  websocket::response_type response_;
};

/// GET `target` on `client` and expect 200; @return the upstream connection it was served on.
std::string get_ok(tcp_client& client, std::string const& target, std::string_view body) {
  http::response<http::string_body> res;
  auto const ec = client.exchange(get_request(target), res);
  EXPECT_FALSE(ec) << "GET " << target << ": " << ec.message();
  EXPECT_EQ(res.result_int(), 200u) << "GET " << target;
  EXPECT_EQ(res.body(), body) << "GET " << target;
  return std::string(res["X-Upstream-Connection"]);
}

// ---- pass ----

TEST(ProxyPassTest, RelaysPipelinedHttpByteForByte) {
  std::uint64_t const seed = 20240611;
  std::mt19937_64 rng(seed);
  auto const body_a = random_bytes(rng, 3000);
  auto const chunk_b = random_bytes(rng, 10);
  auto const body_c = random_bytes(rng, 2000);
  // Odd spacing and case, a chunk extension and a trailer: a relay passes them on as they are.
  std::string const requests = "POST /a HTTP/1.1\r\nHost: x\r\nx-ODD-case:   spaced  \r\nContent-Length: 3000\r\n\r\n" +
                               body_a + "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na;ext=1\r\n" +
                               chunk_b + "\r\n0\r\nX-Trailer: t\r\n\r\n";
  std::string const replies = "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + body_c +
                              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
  raw_upstream upstream(requests.size(), replies);
  running_proxy proxy(upstream.port(), "pass");

  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  ASSERT_FALSE(client.write(requests));
  auto const seen = upstream.received();
  ASSERT_TRUE(seen) << "the upstream did not get " << requests.size() << " bytes; seed " << seed;
  EXPECT_TRUE(*seen == requests) << "the upstream got different bytes; seed " << seed;
  std::string got;
  auto const ec = client.read_until(got, [&](std::string const& s) { return s.size() >= replies.size(); });
  ASSERT_FALSE(ec) << ec.message() << "; got " << got.size() << " of " << replies.size() << " bytes; seed " << seed;
  EXPECT_TRUE(got == replies) << "the client got different bytes; seed " << seed;

  EXPECT_TRUE(proxy.wait_stats([&](fp::proxy_stats const& s) {
    return s.bytes_up == requests.size() && s.bytes_down == replies.size() && s.http_requests == 2 &&
           s.http_responses == 2;
  })) << "bytes up " << proxy->stats().bytes_up << ", down " << proxy->stats().bytes_down;
  EXPECT_EQ(proxy->stats().connections_accepted, 1u);
  EXPECT_EQ(proxy->stats().faults, 0u);
}

TEST(ProxyPassTest, RelaysWebSocketMessagesByteForByte) {
  std::uint64_t const seed = 77;
  std::mt19937_64 rng(seed);
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "pass");
  ws_client ws;
  auto const ec = ws.connect(proxy.port());
  ASSERT_FALSE(ec) << ec.message();
  for (int i = 0; i < 20; ++i) {
    auto const message = random_bytes(rng, 1 + rng() % 70'000);
    ASSERT_FALSE(ws.write(message, true));
    std::string echo;
    auto const read_ec = ws.read(echo);
    ASSERT_FALSE(read_ec) << read_ec.message() << "; message " << i << ", seed " << seed;
    ASSERT_TRUE(echo == message) << "message " << i << " of " << message.size() << " bytes differs; seed " << seed;
  }
  auto const s = proxy->stats();
  EXPECT_EQ(s.upgrades_seen, 1u);
  EXPECT_EQ(s.upgrades_completed, 1u);
}

// ---- strip-upgrade ----

TEST(ProxyStripUpgradeTest, UpstreamSeesAPlainGetAndTheHandshakeFails) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "strip-upgrade");
  ws_client ws;
  auto const ec = ws.connect(proxy.port());
  EXPECT_EQ(ec, websocket::error::upgrade_declined) << ec.message();
  EXPECT_EQ(ws.response().result_int(), 400u) << "the upstream's answer to a plain GET /ws";

  auto const requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  auto const& r = requests[0];
  EXPECT_EQ(r.target, "/ws");
  EXPECT_FALSE(r.has("Upgrade"));
  EXPECT_FALSE(r.has("Sec-WebSocket-Key"));
  EXPECT_FALSE(r.has("Sec-WebSocket-Version"));
  EXPECT_EQ(r.value("Connection").find("pgrade"), std::string::npos) << r.value("Connection");
  EXPECT_TRUE(r.has("Host"));

  auto const s = proxy->stats();
  EXPECT_EQ(s.upgrades_seen, 1u);
  EXPECT_EQ(s.upgrades_completed, 0u);
  EXPECT_TRUE(has_event(proxy->log(), 1, "strip-upgrade", "removed Upgrade")) << dump(proxy->log());
}

// ---- refuse-upgrade ----

TEST(ProxyRefuseUpgradeTest, Answers403AndNeverForwardsTheUpgrade) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "refuse-upgrade");
  ws_client ws;
  auto const ec = ws.connect(proxy.port());
  EXPECT_EQ(ec, websocket::error::upgrade_declined) << ec.message();
  EXPECT_EQ(ws.response().result_int(), 403u);
  EXPECT_TRUE(upstream.requests().empty()) << "the upstream saw " << upstream.requests().size() << " request(s)";
  EXPECT_TRUE(has_event(proxy->log(), 1, "refuse-upgrade", "answered 403")) << dump(proxy->log());

  // Polling is untouched.
  tcp_client poll;
  ASSERT_FALSE(poll.connect(proxy.port()));
  get_ok(poll, "/hello", "hello");
  ASSERT_EQ(upstream.requests().size(), 1u);
  EXPECT_EQ(upstream.requests()[0].target, "/hello");
}

TEST(ProxyRefuseUpgradeTest, AnswersTheConfiguredStatus) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "refuse-upgrade?refuse-status=400");
  ws_client ws;
  EXPECT_EQ(ws.connect(proxy.port()), websocket::error::upgrade_declined);
  EXPECT_EQ(ws.response().result_int(), 400u);
  EXPECT_TRUE(upstream.requests().empty());
}

// ---- blackhole-upgrade ----

TEST(ProxyBlackholeUpgradeTest, HandshakeNeverCompletesWhilePollingPasses) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "blackhole-upgrade");
  ws_client ws;
  auto const ec = ws.connect(proxy.port(), 700ms);
  EXPECT_EQ(ec, beast::error::timeout) << "the handshake ended with: " << ec.message();

  tcp_client poll;
  ASSERT_FALSE(poll.connect(proxy.port()));
  get_ok(poll, "/hello", "hello");
  for (auto const& r : upstream.requests()) EXPECT_NE(r.target, "/ws") << "the upgrade reached the upstream";
  EXPECT_TRUE(has_event(proxy->log(), 1, "blackhole-upgrade", "swallowed GET /ws")) << dump(proxy->log());
}

TEST(ProxyBlackholeUpgradeTest, ClosesTheHeldConnectionAfterTheHoldTime) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "blackhole-upgrade?hold-ms=600");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  auto const start = clock_type::now();
  ASSERT_FALSE(client.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
  std::string got;
  auto const ec = client.read_to_end(got);
  auto const held = since(start);
  EXPECT_EQ(ec, net::error::eof) << ec.message();
  EXPECT_EQ(got, "") << "the proxy answered a swallowed upgrade";
  EXPECT_GE(held, 600ms);
  EXPECT_LT(held, 600ms + io_deadline);
}

// ---- kill-websocket-after ----

TEST(ProxyKillWebSocketTest, CutsUpgradedConnectionsNotBeforeTheDelayAndSparesPolling) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "kill-websocket-after?kill-after-ms=400");
  tcp_client poll;
  ASSERT_FALSE(poll.connect(proxy.port()));
  auto const poll_connection = get_ok(poll, "/hello", "hello");

  auto const start = clock_type::now();
  ws_client ws;
  ASSERT_FALSE(ws.connect(proxy.port()));
  ASSERT_FALSE(ws.write("before the cut", false));
  std::string echo;
  ASSERT_FALSE(ws.read(echo));
  EXPECT_EQ(echo, "before the cut");
  auto const ec = ws.read(echo);
  auto const lived = since(start);
  EXPECT_TRUE(ec && ec != beast::error::timeout) << "want the connection cut, got: " << ec.message();
  EXPECT_GE(lived, 400ms) << "cut before the delay";
  EXPECT_LT(lived, 400ms + io_deadline);
  EXPECT_TRUE(has_event(proxy->log(), 2, "kill-websocket-after", "cut the upgraded connection")) << dump(proxy->log());

  // The polling connection, older than the delay, is still the same connection.
  EXPECT_EQ(get_ok(poll, "/hello", "hello"), poll_connection);
}

// ---- idle-timeout ----

TEST(ProxyIdleTimeoutTest, CutsIdleConnectionsAndKeepsBusyOnes) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "idle-timeout?idle-ms=500");

  tcp_client idle;
  ASSERT_FALSE(idle.connect(proxy.port()));
  auto const start = clock_type::now();
  get_ok(idle, "/hello", "hello");
  std::string rest;
  auto const ec = idle.read_to_end(rest);
  auto const lived = since(start);
  EXPECT_EQ(ec, net::error::eof) << ec.message();
  EXPECT_GE(lived, 500ms) << "cut before idle-ms";
  EXPECT_LT(lived, 500ms + io_deadline);
  EXPECT_TRUE(has_event(proxy->log(), 1, "idle-timeout", "without a byte either way")) << dump(proxy->log());

  // Back-to-back requests for three times idle-ms: never idle, never cut, always the same connection.
  tcp_client busy;
  ASSERT_FALSE(busy.connect(proxy.port()));
  auto const first = get_ok(busy, "/hello", "hello");
  auto const busy_start = clock_type::now();
  int requests = 0;
  while (since(busy_start) < 1500ms && !testing::Test::HasFailure()) {
    EXPECT_EQ(get_ok(busy, "/hello", "hello"), first);
    ++requests;
  }
  EXPECT_GT(requests, 0);
}

// ---- buffer-responses ----

TEST(ProxyBufferResponsesTest, ASlowChunkedResponseArrivesAllAtOnce) {
  test_upstream upstream;
  std::string const slow = get_request("/slow?chunks=4&interval_ms=200");
  auto const complete = [](std::string const& s) { return s.ends_with("0\r\n\r\n"); };
  {
    // Control: through `pass` the chunks stream, spread over the upstream's 600 ms.
    running_proxy proxy(upstream.port(), "pass");
    tcp_client client;
    ASSERT_FALSE(client.connect(proxy.port()));
    ASSERT_FALSE(client.write(slow));
    std::string got;
    ASSERT_FALSE(client.read_some(got));
    auto const first = clock_type::now();
    auto const ec = client.read_until(got, complete);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_GE(since(first), 200ms) << "the control did not stream";
  }
  running_proxy proxy(upstream.port(), "buffer-responses");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  auto const start = clock_type::now();
  ASSERT_FALSE(client.write(slow));
  std::string got;
  ASSERT_FALSE(client.read_some(got));
  EXPECT_GE(since(start), 600ms) << "bytes arrived before the upstream's last chunk was sent";
  EXPECT_TRUE(complete(got)) << "the first read held only part of the response: '" << got << "'";
  EXPECT_NE(got.find("chunk 3\n"), std::string::npos);
  EXPECT_TRUE(has_event(proxy->log(), 1, "buffer-responses", "held a 200 response")) << dump(proxy->log());

  // A long-poll still completes; it just arrives when it is whole, as it would anyway.
  get_ok(client, "/poll?delay_ms=300", "polled");
}

// ---- latency ----

TEST(ProxyLatencyTest, RoundTripGrowsByTheConfiguredDelay) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "latency?up-ms=100&down-ms=150");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  for (int i = 0; i < 3; ++i) {
    auto const start = clock_type::now();
    get_ok(client, "/hello", "hello");
    auto const rtt = since(start);
    EXPECT_GE(rtt, 250ms) << "round trip " << i;
    EXPECT_LT(rtt, 250ms + io_deadline) << "round trip " << i;
  }
}

TEST(ProxyLatencyTest, JitterKeepsByteOrder) {
  std::uint64_t const seed = 4242;
  std::mt19937_64 rng(seed);
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "latency?up-ms=1&down-ms=1&jitter-ms=30&seed=" + std::to_string(seed));
  ws_client ws;
  ASSERT_FALSE(ws.connect(proxy.port()));
  std::vector<std::string> sent;
  for (int i = 0; i < 100; ++i) {
    sent.push_back(random_bytes(rng, 1 + rng() % 2000));
    ASSERT_FALSE(ws.write(sent.back(), true));
  }
  for (std::size_t i = 0; i < sent.size(); ++i) {
    std::string echo;
    auto const ec = ws.read(echo);
    ASSERT_FALSE(ec) << ec.message() << "; message " << i << ", seed " << seed;
    ASSERT_TRUE(echo == sent[i]) << "message " << i << " differs or is out of order; seed " << seed;
  }
}

// ---- bandwidth ----

TEST(ProxyBandwidthTest, CapsEachDirection) {
  constexpr std::size_t n = 300'000;
  constexpr double rate = 200'000;
  constexpr double burst = 16'384;
  // N bytes through a bucket of depth B at R bytes/s take at least (N - B) / R.
  auto const floor = milliseconds{static_cast<std::int64_t>((static_cast<double>(n) - burst) / rate * 1000)};
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "bandwidth?up-bytes-per-s=200000&down-bytes-per-s=200000&burst-bytes=16384");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));

  auto start = clock_type::now();
  get_ok(client, "/bytes?n=" + std::to_string(n), std::string(n, 'x'));
  auto const down = since(start);
  EXPECT_GE(down, floor) << "downstream faster than the cap";
  EXPECT_LT(down, floor + 10s);

  start = clock_type::now();
  http::response<http::string_body> res;
  auto const ec = client.exchange("POST /sink HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(n) +
                                      "\r\n\r\n" + std::string(n, 'y'),
                                  res);
  auto const up = since(start);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.body(), std::to_string(n));
  EXPECT_GE(up, floor) << "upstream faster than the cap";
  EXPECT_LT(up, floor + 10s);
}

// ---- reset ----

TEST(ProxyResetTest, ResetsAConnectionWithProbabilityOne) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "reset?reset-probability=1&reset-max-bytes=5000&reset-max-ms=0&seed=3");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  ASSERT_FALSE(client.write(get_request("/bytes?n=1000000")));
  std::string got;
  auto const ec = client.read_to_end(got);
  EXPECT_EQ(ec, net::error::connection_reset) << ec.message() << "; seed 3";
  EXPECT_LT(got.size(), 1'000'000u);
  EXPECT_TRUE(has_event(proxy->log(), 1, "reset", "RST")) << dump(proxy->log());
}

TEST(ProxyResetTest, TheSameSeedResetsTheSameConnections) {
  test_upstream upstream;
  auto const run = [&](std::uint64_t seed) {
    running_proxy proxy(upstream.port(), "reset?reset-probability=0.5&reset-max-bytes=300&reset-max-ms=0&seed=" +
                                             std::to_string(seed));
    std::vector<bool> reset;
    // One connection after the other, so connection ids (which the draws depend on) are 1, 2, ...
    for (int i = 0; i < 16; ++i) {
      tcp_client client;
      EXPECT_FALSE(client.connect(proxy.port()));
      EXPECT_FALSE(client.write(get_request("/bytes?n=20000", false)));
      std::string got;
      auto const ec = client.read_to_end(got);
      bool const was_reset = ec == net::error::connection_reset;
      EXPECT_TRUE(was_reset || (ec == net::error::eof && got.ends_with(std::string(20000, 'x'))))
          << "connection " << i + 1 << ": " << ec.message() << ", " << got.size() << " bytes; seed " << seed;
      reset.push_back(was_reset);
    }
    // The log names exactly the connections that were reset.
    auto const log = proxy->log();
    for (std::size_t i = 0; i < reset.size(); ++i)
      EXPECT_EQ(has_event(log, i + 1, "reset", "RST"), reset[i]) << "connection " << i + 1 << "; seed " << seed << dump(log);
    return reset;
  };
  std::uint64_t const seed = 7;
  auto const first = run(seed);
  auto const second = run(seed);
  EXPECT_EQ(first, second) << "seed " << seed;
  auto const resets = std::count(first.begin(), first.end(), true);
  EXPECT_GT(resets, 0) << "seed " << seed;
  EXPECT_LT(resets, 16) << "seed " << seed;
}

// ---- schedule and set_profile ----

TEST(ProxyScheduleTest, SwitchesProfilesAtTheirOffsets) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "pass");
  auto const start = clock_type::now();
  proxy->run_schedule(fp::parse_schedule("0ms:refuse-upgrade, 1.5s:pass"));
  auto const is_set = [](std::string_view name) {
    return [name](fp::fault_event const& e) { return e.connection == 0 && e.profile == name; };
  };
  ASSERT_TRUE(proxy.wait_event(is_set("refuse-upgrade"))) << dump(proxy->log());
  {
    ws_client ws;
    EXPECT_EQ(ws.connect(proxy.port()), websocket::error::upgrade_declined);
    EXPECT_EQ(ws.response().result_int(), 403u);
  }
  auto const back = proxy.wait_event(is_set("pass"), 1500ms + io_deadline);
  ASSERT_TRUE(back) << dump(proxy->log());
  // The schedule started after `start`, so its 1.5 s entry cannot have been applied before start + 1.5 s.
  EXPECT_GE(back->at - start, 1500ms) << dump(proxy->log());
  EXPECT_EQ(proxy->current_profile().kind, fp::profile_kind::pass);
  ws_client ws;
  auto const ec = ws.connect(proxy.port());
  EXPECT_FALSE(ec) << ec.message();
}

TEST(ProxyScheduleTest, CountsOffsetsFromAGivenOrigin) {
  // A harness starts the proxy ahead of its run and passes the run's start as the origin: the
  // entries apply at origin + offset, not at the call; entries already due apply at once, in order.
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "pass");
  auto const origin = clock_type::now() + 800ms;
  proxy->run_schedule(fp::parse_schedule("0s:refuse-upgrade,500ms:pass"), origin);
  auto const is_set = [](std::string_view name) {
    return [name](fp::fault_event const& e) { return e.connection == 0 && e.profile == name; };
  };
  auto const refused = proxy.wait_event(is_set("refuse-upgrade"), 800ms + io_deadline);
  ASSERT_TRUE(refused) << dump(proxy->log());
  EXPECT_GE(refused->at, origin) << "applied before the origin";
  auto const back = proxy.wait_event(is_set("pass"), 500ms + io_deadline);
  ASSERT_TRUE(back) << dump(proxy->log());
  EXPECT_GE(back->at - origin, 500ms);

  // An origin in the past: both entries are due, so the last one is in force at once.
  running_proxy late(upstream.port(), "pass");
  late->run_schedule(fp::parse_schedule("0s:refuse-upgrade,1s:strip-upgrade"), clock_type::now() - 5s);
  ASSERT_TRUE(late.wait_event(is_set("strip-upgrade"))) << dump(late->log());
  EXPECT_EQ(late->current_profile().kind, fp::profile_kind::strip_upgrade);
}

TEST(ProxyScheduleTest, SetProfileReachesOpenConnections) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "pass");
  ws_client ws;
  ASSERT_FALSE(ws.connect(proxy.port()));
  ASSERT_FALSE(ws.write("hi", false));
  std::string echo;
  ASSERT_FALSE(ws.read(echo));
  auto const start = clock_type::now();
  proxy->set_profile(fp::parse_profile("kill-websocket-after?kill-after-ms=200"));
  auto const ec = ws.read(echo);
  EXPECT_TRUE(ec && ec != beast::error::timeout) << ec.message();
  EXPECT_GE(since(start), 200ms);
  EXPECT_TRUE(has_event(proxy->log(), 1, "kill-websocket-after", "cut")) << dump(proxy->log());
}

// ---- proxy robustness ----

TEST(ProxyLimitsTest, AnswersMalformedRequestsWith400AndUnreachableUpstreamsWith502) {
  test_upstream upstream;
  {
    running_proxy proxy(upstream.port(), "pass");
    tcp_client client;
    ASSERT_FALSE(client.connect(proxy.port()));
    http::response<http::string_body> res;
    ASSERT_FALSE(client.exchange("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", res));
    EXPECT_EQ(res.result_int(), 400u);
    EXPECT_EQ(proxy->stats().protocol_errors, 1u);
  }
  // A port nobody listens on: bind one, note it, close it.
  unsigned short dead_port = 0;
  {
    net::io_context ioc;
    tcp::acceptor a(ioc, loopback(0));
    dead_port = a.local_endpoint().port();
  }
  running_proxy proxy(dead_port, "pass");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.exchange(get_request("/hello"), res));
  EXPECT_EQ(res.result_int(), 502u);
  EXPECT_EQ(proxy->stats().upstream_failures, 1u);
}

TEST(ProxyLimitsTest, AHalfHeadThenEndOfStreamClosesBothSidesAtOnce) {
  watching_upstream upstream;
  running_proxy proxy(upstream.port(), "pass");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  ASSERT_TRUE(upstream.wait(1, 0));
  ASSERT_FALSE(client.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Ag"));
  client.shutdown_send();
  auto const t0 = clock_type::now();
  std::string rest;
  EXPECT_EQ(client.read_to_end(rest, 2'000ms), net::error::eof) << "the client's side stayed open";
  EXPECT_TRUE(upstream.wait(1, 1, 2'000ms)) << "the upstream's side stayed open";
  EXPECT_LT(since(t0), 2'000ms);
  EXPECT_EQ(rest, "");
  EXPECT_EQ(upstream.received(), "") << "half a head was forwarded";
  EXPECT_EQ(proxy->stats().truncated_requests, 1u);
  EXPECT_EQ(proxy->stats().header_timeouts, 0u);
}

TEST(ProxyLimitsTest, AHeadNotWholeByTheHeaderTimeoutGets408AndBothSidesClose) {
  fp::proxy_options options;
  options.header_timeout = 300ms;
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "pass", options);
  tcp_client slow;
  ASSERT_FALSE(slow.connect(proxy.port()));
  auto const t0 = clock_type::now();
  ASSERT_FALSE(slow.write("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  // Meanwhile a legit client is served through the same proxy, on its own connection and on a
  // keep-alive one that stays idle between requests.
  tcp_client legit;
  ASSERT_FALSE(legit.connect(proxy.port()));
  get_ok(legit, "/hello", "hello");
  std::string answer;
  EXPECT_EQ(slow.read_to_end(answer, 3'000ms), net::error::eof);
  auto const waited = since(t0);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_GE(waited, 290ms);
  EXPECT_LT(waited, 3'000ms);
  EXPECT_EQ(proxy->stats().header_timeouts, 1u);
  EXPECT_EQ(upstream.requests().size(), 1u) << "only the legit GET reached the upstream";
  // Idle between requests: no head is being read, so no deadline. A witness whose head stops halfway,
  // opened now, is timed out one header timeout later: by then the idle legit connection would have been.
  tcp_client witness;
  ASSERT_FALSE(witness.connect(proxy.port()));
  ASSERT_FALSE(witness.write("GET /hello HTTP/1.1\r\n"));
  std::string witness_answer;
  EXPECT_EQ(witness.read_to_end(witness_answer, 3'000ms), net::error::eof);
  EXPECT_TRUE(witness_answer.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << witness_answer;
  get_ok(legit, "/hello", "hello");
  EXPECT_EQ(proxy->stats().header_timeouts, 2u) << "the slow client and the witness, not the idle legit connection";
}

TEST(ProxyLimitsTest, TheHeaderTimeoutClosesASilentConnectionAndItsUpstreamSide) {
  fp::proxy_options options;
  options.header_timeout = 300ms;
  watching_upstream upstream;
  running_proxy proxy(upstream.port(), "pass", options);
  tcp_client silent;
  ASSERT_FALSE(silent.connect(proxy.port()));
  auto const t0 = clock_type::now();
  ASSERT_TRUE(upstream.wait(1, 0));
  std::string answer;
  // A connection that never sent a byte gets no 408: there is no request to answer.
  EXPECT_EQ(silent.read_to_end(answer, 3'000ms), net::error::eof);
  EXPECT_EQ(answer, "");
  EXPECT_TRUE(upstream.wait(1, 1, 3'000ms));
  EXPECT_GE(since(t0), 290ms);
  EXPECT_EQ(proxy->stats().header_timeouts, 1u);
}

TEST(ProxyLimitsTest, AMalformedChunkedBodyGets400AndLegitRequestsPass) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "pass");
  tcp_client legit;
  ASSERT_FALSE(legit.connect(proxy.port()));
  get_ok(legit, "/hello", "hello");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.exchange("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n",
                               res));
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_NE(res.body().find("bad chunk size 'zz'"), std::string::npos) << res.body();
  EXPECT_FALSE(res.keep_alive());
  std::string rest;
  EXPECT_EQ(client.read_to_end(rest), net::error::eof);
  EXPECT_EQ(rest, "") << "the upstream's answer to half a body reached the client";
  EXPECT_EQ(proxy->stats().bad_requests, 1u);
  EXPECT_EQ(proxy->stats().protocol_errors, 1u);
  // A well-formed chunked body passes on another connection, and the first is untouched.
  tcp_client good;
  ASSERT_FALSE(good.connect(proxy.port()));
  ASSERT_FALSE(good.exchange("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                             res));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "hello world");
  get_ok(legit, "/hello", "hello");
  EXPECT_EQ(proxy->stats().bad_requests, 1u);
}

// ---- the command line ----

TEST(ProxyCliTest, RejectsBadCommandLines) {
  using args = std::vector<std::string_view>;
  using fallbench::cli::usage_error;
  EXPECT_THROW(proxy_main(args{}), usage_error) << "no --upstream";
  EXPECT_THROW(proxy_main(args{"--upstream", "https://127.0.0.1:1"}), usage_error);
  EXPECT_THROW(proxy_main(args{"--upstream", "http://127.0.0.1:1/path"}), usage_error);
  EXPECT_THROW(proxy_main(args{"--upstream", "http://127.0.0.1:1", "--profile", "nope"}), usage_error);
  EXPECT_THROW(proxy_main(args{"--upstream", "http://127.0.0.1:1", "--profile", "latency?status=1"}), usage_error);
  EXPECT_THROW(proxy_main(args{"--upstream", "http://127.0.0.1:1", "--up-ms", "5"}), usage_error)
      << "--up-ms without a latency profile";
  EXPECT_THROW(proxy_main(args{"--upstream", "http://127.0.0.1:1", "--schedule", "5s:pass,1s:pass"}), usage_error);
  EXPECT_THROW(proxy_main(args{"--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1"}), usage_error);
  EXPECT_THROW(proxy_main(args{"--upstream", "http://127.0.0.1:1", "--profile", "latency", "--up-ms", "-1"}),
               usage_error);
  EXPECT_THROW(proxy_main(args{"--upstream", "http://127.0.0.1:1", "--schedule-origin", "5"}), usage_error)
      << "an origin without a schedule";
  EXPECT_THROW(proxy_main(args{"--check", "--schedule", "0s:pass,1s:latncy"}), usage_error);
  EXPECT_THROW(proxy_main(args{"--upstream", "http://127.0.0.1:1", "--header-timeout", "0"}), usage_error);
  EXPECT_EQ(proxy_main(args{"--help"}), 0);
}

TEST(ProxyCliTest, CheckPrintsTheTimelineWithoutListening) {
  using args = std::vector<std::string_view>;
  auto const check = [](args a) {
    std::ostringstream out;
    auto* const saved = std::cout.rdbuf(out.rdbuf());
    int rc = -1;
    try {
      rc = proxy_main(a);
    } catch (...) {
      std::cout.rdbuf(saved);
      throw;
    }
    std::cout.rdbuf(saved);
    EXPECT_EQ(rc, 0);
    return out.str();
  };
  EXPECT_EQ(check({"--check", "--schedule", "0s:pass,3s:kill-websocket-after?kill-after-ms=0,5s:pass"}),
            "0\tpass\n3000\tkill-websocket-after?kill-after-ms=0\n5000\tpass\n");
  // The initial profile holds until the schedule's first entry; parameters are spelled out.
  EXPECT_EQ(check({"--check", "--profile", "refuse-upgrade", "--schedule", "2s:pass"}),
            "0\trefuse-upgrade?refuse-status=403\n2000\tpass\n");
  EXPECT_EQ(check({"--check", "--profile", "latency?up-ms=20"}), "0\tlatency?up-ms=20&down-ms=50&jitter-ms=0&seed=1\n");
}


// ---- request-deadline ----

TEST(ProxyRequestDeadlineTest, AnswersALongPollItselfOnceTheDeadlinePasses) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "request-deadline?deadline-ms=300");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  get_ok(client, "/hello", "hello");  // a quick answer passes untouched
  auto const start = clock_type::now();
  http::response<http::string_body> res;
  ASSERT_FALSE(client.exchange(get_request("/poll?delay_ms=2000"), res));
  auto const waited = since(start);
  EXPECT_EQ(res.result_int(), 504u);
  EXPECT_GE(waited, 300ms) << "answered before deadline-ms";
  EXPECT_LT(waited, 2000ms) << "the upstream's own answer came first";
  std::string rest;
  EXPECT_EQ(client.read_to_end(rest), net::error::eof) << "the proxy closes after its answer";
  EXPECT_EQ(rest, "") << "the upstream's late answer must not follow";
  EXPECT_TRUE(has_event(proxy->log(), 1, "request-deadline", "answered 504 to GET /poll?delay_ms=2000"))
      << dump(proxy->log());
}

TEST(ProxyRequestDeadlineTest, PresetsAnswerTheirVendorsStatusAfterTheScaledDeadline) {
  struct preset_case {
    char const* spec;
    unsigned status;
    milliseconds deadline;
  };
  for (auto const& c : {preset_case{"envoy-route-timeout?scale=0.02", 504, 300ms},
                        preset_case{"heroku-router-timeout?scale=0.01", 503, 300ms},
                        preset_case{"cloudflare-origin-timeout?scale=0.003", 524, 300ms}}) {
    SCOPED_TRACE(c.spec);
    test_upstream upstream;
    running_proxy proxy(upstream.port(), c.spec);
    tcp_client client;
    ASSERT_FALSE(client.connect(proxy.port()));
    auto const start = clock_type::now();
    http::response<http::string_body> res;
    ASSERT_FALSE(client.exchange(get_request("/poll?delay_ms=2000"), res));
    EXPECT_EQ(res.result_int(), c.status);
    EXPECT_GE(since(start), c.deadline);
    EXPECT_LT(since(start), 2000ms);
  }
}

// ---- max-lifetime ----

TEST(ProxyMaxLifetimeTest, ClosesABusyConnectionAfterItsLifetime) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "max-lifetime?lifetime-ms=400");
  tcp_client busy;
  auto const start = clock_type::now();
  ASSERT_FALSE(busy.connect(proxy.port()));
  // Requests back to back until the proxy closes the connection: busy or not, it ends at 400 ms.
  error_code ec;
  while (!ec && since(start) < io_deadline) {
    http::response<http::string_body> res;
    ec = busy.exchange(get_request("/hello"), res);
  }
  auto const lived = since(start);
  EXPECT_TRUE(ec && ec != beast::error::timeout) << ec.message();
  EXPECT_GE(lived, 400ms);
  EXPECT_LT(lived, 400ms + io_deadline);
  EXPECT_TRUE(has_event(proxy->log(), 1, "max-lifetime", "after it opened, busy or not")) << dump(proxy->log());
}

TEST(ProxyMaxLifetimeTest, GcpPresetCutsAnActiveWebSocketButNotPolling) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "gcp-backend-timeout?scale=0.01");  // 300 ms, upgraded connections
  tcp_client poll;
  ASSERT_FALSE(poll.connect(proxy.port()));
  auto const poll_connection = get_ok(poll, "/hello", "hello");
  ws_client ws;
  ASSERT_FALSE(ws.connect(proxy.port()));
  auto const start = clock_type::now();
  error_code ec;
  int echoes = 0;
  while (!ec && since(start) < io_deadline) {
    std::string echo;
    ec = ws.write("busy", false);
    if (!ec) ec = ws.read(echo);
    if (!ec) ++echoes;
  }
  auto const lived = since(start);
  EXPECT_TRUE(ec && ec != beast::error::timeout) << ec.message();
  EXPECT_GT(echoes, 1) << "the WebSocket was busy";
  EXPECT_GE(lived, 290ms) << "counted from the 101, a moment before `start`";
  EXPECT_LT(lived, 300ms + io_deadline);
  EXPECT_TRUE(has_event(proxy->log(), 2, "max-lifetime", "after the upgrade, busy or not")) << dump(proxy->log());
  // The keep-alive HTTP connection, older than the lifetime, is untouched.
  EXPECT_EQ(get_ok(poll, "/hello", "hello"), poll_connection);
}

// ---- idle-timeout: which activity counts ----

/// POST /sink with a chunked body of one-byte chunks for `span`: bytes flow up only. Each chunk goes
/// once the upstream has the one before (nothing comes back on this channel to wait for, and an
/// upload that ran ahead would fill the socket buffers faster than the upstream parses one-byte
/// chunks, so the control's answer would come late). A cut connection ends the wait at once; the
/// next writes then fail.
error_code trickle_up(tcp_client& client, test_upstream& upstream, milliseconds span) {
  if (auto ec = client.write("POST /sink HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")) return ec;
  auto const before = upstream.sink();
  auto const start = clock_type::now();
  for (std::size_t sent = before.bytes; since(start) < span;) {
    if (auto ec = client.write("1\r\nx\r\n")) return ec;
    upstream.wait_sink(++sent, before);
  }
  return client.write("0\r\n\r\n");
}

TEST(ProxyIdleCountsTest, NginxReadTimeoutCountsOnlyTheUpstreamsBytes) {
  test_upstream upstream;
  {
    // Bytes flowing up only: nginx's proxy_read_timeout still fires (scaled 60 s -> 300 ms).
    running_proxy proxy(upstream.port(), "nginx-read-timeout?scale=0.005");
    tcp_client client;
    ASSERT_FALSE(client.connect(proxy.port()));
    auto const start = clock_type::now();
    auto const ec = trickle_up(client, upstream, 1500ms);
    EXPECT_TRUE(ec) << "the upload outlived the read timeout";
    EXPECT_GE(since(start), 300ms);
    EXPECT_TRUE(proxy.wait_event([](fp::fault_event const& e) {
      return e.what.find("without a byte from the upstream") != std::string::npos;
    })) << dump(proxy->log());
  }
  {
    // Control: the same upload where bytes either way count is never idle.
    running_proxy proxy(upstream.port(), "idle-timeout?idle-ms=300&idle-counts=both");
    tcp_client client;
    ASSERT_FALSE(client.connect(proxy.port()));
    ASSERT_FALSE(trickle_up(client, upstream, 900ms));
    std::string got;
    ASSERT_FALSE(client.read_until(got, [](std::string const& s) { return s.find("\r\n\r\n") != std::string::npos; }));
    EXPECT_TRUE(got.starts_with("HTTP/1.1 200")) << got;
    EXPECT_EQ(proxy->stats().faults, 0u) << dump(proxy->log());
  }
}

TEST(ProxyIdleCountsTest, CountingTheClientOnlyCutsADownloadTheClientIsSilentIn) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "idle-timeout?idle-ms=300&idle-counts=up");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  auto const start = clock_type::now();
  // A chunked response streaming for 1.5 s while the client says nothing after its request.
  ASSERT_FALSE(client.write(get_request("/slow?chunks=15&interval_ms=100")));
  std::string got;
  auto const ec = client.read_to_end(got);
  EXPECT_EQ(ec, net::error::eof) << ec.message();
  EXPECT_GE(since(start), 300ms);
  EXPECT_LT(since(start), 1400ms) << "the stream ran to its end";
  EXPECT_FALSE(got.ends_with("0\r\n\r\n")) << "the response was complete";
  EXPECT_TRUE(has_event(proxy->log(), 1, "idle-timeout", "without a byte from the client")) << dump(proxy->log());
}

TEST(ProxyIdleCountsTest, IgnoringPingsCutsAWebSocketKeptAliveByHeartbeatsOnly) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "idle-timeout?idle-ms=300&idle-pings=ignore");
  // Heartbeats only: WebSocket pings (the upstream pongs) and Engine.IO's "2"/"3" packets.
  // From before the connect: the proxy's idle timer starts a moment after, and with heartbeats back
  // to back the cut is seen as soon as it comes.
  auto const start = clock_type::now();
  ws_client heartbeats;
  ASSERT_FALSE(heartbeats.connect(proxy.port()));
  error_code ec;
  for (int i = 0; !ec && since(start) < 1500ms; ++i) {
    std::string echo;
    if (i % 3 == 0) {
      ec = heartbeats.ping();
    } else {
      ec = heartbeats.write(i % 3 == 1 ? "2" : "3", false);
      if (!ec) ec = heartbeats.read(echo);
    }
  }
  EXPECT_TRUE(ec && ec != beast::error::timeout) << "heartbeats kept it alive: " << ec.message();
  EXPECT_GE(since(start), 300ms);
  EXPECT_TRUE(has_event(proxy->log(), 1, "idle-timeout", "heartbeats not counted")) << dump(proxy->log());

  // Chat traffic, back to back like the heartbeats, keeps a connection alive.
  ws_client chatty;
  ASSERT_FALSE(chatty.connect(proxy.port()));
  auto const chat_start = clock_type::now();
  while (since(chat_start) < 900ms && !testing::Test::HasFailure()) {
    std::string echo;
    ASSERT_FALSE(chatty.write("42[\"chat\",{}]", false));
    ASSERT_FALSE(chatty.read(echo));
  }
}

TEST(ProxyIdleCountsTest, CountingPingsKeepsAWebSocketOfHeartbeatsAlive) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "idle-timeout?idle-ms=300&idle-pings=count");
  ws_client ws;
  ASSERT_FALSE(ws.connect(proxy.port()));
  auto const start = clock_type::now();
  while (since(start) < 900ms && !testing::Test::HasFailure()) {
    std::string echo;
    ASSERT_FALSE(ws.write("2", false));
    ASSERT_FALSE(ws.read(echo));
    EXPECT_EQ(echo, "2");
  }
  EXPECT_EQ(proxy->stats().faults, 0u) << dump(proxy->log());
}

// ---- upgrade-then-stall ----

TEST(ProxyUpgradeStallTest, AntivirusStallLetsTheUpgradeThroughThenHoldsFrames) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "antivirus-stall?scale=0.02");  // 25 s -> 500 ms
  ws_client ws;
  auto const start = clock_type::now();
  ASSERT_FALSE(ws.connect(proxy.port())) << "the handshake itself is not held";
  EXPECT_LT(since(start), 500ms);
  ASSERT_FALSE(ws.write("held", false));
  std::string echo;
  ASSERT_FALSE(ws.read(echo));
  EXPECT_EQ(echo, "held") << "held, not lost";
  EXPECT_GE(since(start), 500ms) << "the echo came through during the stall";
  // After the stall frames flow again at once.
  auto const after = clock_type::now();
  ASSERT_FALSE(ws.write("free", false));
  ASSERT_FALSE(ws.read(echo));
  EXPECT_EQ(echo, "free");
  EXPECT_LT(since(after), 400ms);
  EXPECT_TRUE(has_event(proxy->log(), 1, "upgrade-then-stall", "holding the frames both ways")) << dump(proxy->log());
}

TEST(ProxyUpgradeStallTest, AntivirusOneWayDropsTheClientsFrames) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "antivirus-one-way");
  ws_client ws;
  ASSERT_FALSE(ws.connect(proxy.port()));
  ASSERT_FALSE(ws.write("never arrives", false));
  std::string echo;
  EXPECT_EQ(ws.read(echo, 600ms), beast::error::timeout) << "got '" << echo << "'";
  EXPECT_TRUE(has_event(proxy->log(), 1, "upgrade-then-stall", "dropping the client -> upstream bytes"))
      << dump(proxy->log());
}

TEST(ProxyUpgradeStallTest, SwitchingToPassReleasesWhatWasHeld) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "upgrade-then-stall?stall-ms=0");  // held until the connection ends
  ws_client ws;
  ASSERT_FALSE(ws.connect(proxy.port()));
  ASSERT_FALSE(ws.write("held", false));
  std::string echo;
  EXPECT_EQ(ws.read(echo, 300ms), beast::error::timeout);
  // Held: the frame has not reached the upstream (the handshake is all it got so far).
  auto const before = proxy->stats();
  proxy->set_profile(fp::parse_profile("pass"));
  // The timed-out read left the client's stream unusable (Beast), so the counters show the release:
  // the frame goes up and its echo comes down.
  EXPECT_TRUE(proxy.wait_stats([&](fp::proxy_stats const& s) {
    return s.bytes_up > before.bytes_up && s.bytes_down > before.bytes_down;
  })) << "bytes up " << proxy->stats().bytes_up << " (was " << before.bytes_up << ")";
}

// ---- rewrite-headers ----

TEST(ProxyRewriteHeadersTest, ForceCloseSaysConnectionCloseAndCloses) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "force-close");
  tcp_client client;
  ASSERT_FALSE(client.connect(proxy.port()));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.exchange(get_request("/hello"), res));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "hello");
  EXPECT_EQ(res[http::field::connection], "close");
  std::string rest;
  EXPECT_EQ(client.read_to_end(rest), net::error::eof) << "the proxy must close what it said it closes";
  ASSERT_EQ(upstream.requests().size(), 1u);
  EXPECT_FALSE(upstream.requests()[0].has("Connection")) << "the upstream saw a keep-alive request";
  EXPECT_TRUE(has_event(proxy->log(), 1, "rewrite-headers", "closed the connection after a response")) << dump(proxy->log());

  // The upgrade still passes: a 101 is not rewritten.
  ws_client ws;
  ASSERT_FALSE(ws.connect(proxy.port()));
  ASSERT_FALSE(ws.write("through", false));
  std::string echo;
  ASSERT_FALSE(ws.read(echo));
  EXPECT_EQ(echo, "through");
}

TEST(ProxyRewriteHeadersTest, RequestRewritesReachTheUpstreamAndDecideTheUpgrade) {
  test_upstream upstream;
  running_proxy proxy(upstream.port(), "rewrite-headers?request-remove=Upgrade&request-set=X-Forwarded-Proto:https");
  ws_client ws;
  EXPECT_EQ(ws.connect(proxy.port()), websocket::error::upgrade_declined);
  EXPECT_EQ(ws.response().result_int(), 400u) << "the upstream's answer to a GET /ws without Upgrade";
  auto const requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].has("Upgrade"));
  EXPECT_EQ(requests[0].value("X-Forwarded-Proto"), "https");
  EXPECT_EQ(proxy->stats().upgrades_seen, 0u) << "without Upgrade it is no upgrade";
}

// ---- TLS ----

using fallbench::test::test_pki;

#define REQUIRE_PKI(pki)                                                                      \
  test_pki pki;                                                                               \
  if (!pki.ok()) GTEST_SKIP() << pki.why()

/// An HTTPS client that verifies the proxy's certificate against the test CA and the name 127.0.0.1.
class tls_client {
 public:
  explicit tls_client(std::string const& ca_file) {
    ctx_.load_verify_file(ca_file);
    ctx_.set_verify_mode(net::ssl::verify_peer);
    stream_.set_verify_callback(net::ssl::host_name_verification("127.0.0.1"));
  }
  error_code connect(unsigned short port) {
    auto& socket = stream_.next_layer();
    if (auto ec = run_bounded(ioc_, socket, io_deadline, [&](auto h) { socket.async_connect(loopback(port), h); }))
      return ec;
    return run_bounded(ioc_, socket, io_deadline,
                       [&](auto h) { stream_.async_handshake(net::ssl::stream_base::client, h); });
  }
  error_code exchange(std::string_view request, http::response<http::string_body>& res) {
    auto& socket = stream_.next_layer();
    if (auto ec = run_bounded(ioc_, socket, io_deadline,
                              [&](auto h) { net::async_write(stream_, net::buffer(request.data(), request.size()), h); }))
      return ec;
    http::response_parser<http::string_body> parser;
    auto const ec = run_bounded(ioc_, socket, io_deadline, [&](auto h) { http::async_read(stream_, buffer_, parser, h); });
    res = parser.release();
    return ec;
  }

 private:
  net::io_context ioc_;
  net::ssl::context ctx_{net::ssl::context::tls_client};
  net::ssl::stream<tcp::socket> stream_{ioc_, ctx_};
  beast::flat_buffer buffer_;
};

/// A WebSocket client over TLS (wss), verifying as tls_client does.
class wss_client {
 public:
  explicit wss_client(std::string const& ca_file) {
    ctx_.load_verify_file(ca_file);
    ctx_.set_verify_mode(net::ssl::verify_peer);
    ws_.next_layer().set_verify_callback(net::ssl::host_name_verification("127.0.0.1"));
  }
  error_code connect(unsigned short port) {
    auto& socket = ws_.next_layer().next_layer();
    if (auto ec = run_bounded(ioc_, socket, io_deadline, [&](auto h) { socket.async_connect(loopback(port), h); }))
      return ec;
    if (auto ec = run_bounded(ioc_, socket, io_deadline,
                              [&](auto h) { ws_.next_layer().async_handshake(net::ssl::stream_base::client, h); }))
      return ec;
    return run_bounded(ioc_, socket, io_deadline, [&](auto h) { ws_.async_handshake("127.0.0.1", "/ws", h); });
  }
  error_code echo(std::string const& message, std::string& out) {
    auto& socket = ws_.next_layer().next_layer();
    if (auto ec = run_bounded(ioc_, socket, io_deadline, [&](auto h) { ws_.async_write(net::buffer(message), h); }))
      return ec;
    beast::flat_buffer buffer;
    auto const ec = run_bounded(ioc_, socket, io_deadline, [&](auto h) { ws_.async_read(buffer, h); });
    out = beast::buffers_to_string(buffer.data());
    return ec;
  }

 private:
  net::io_context ioc_;
  net::ssl::context ctx_{net::ssl::context::tls_client};
  websocket::stream<net::ssl::stream<tcp::socket>> ws_{ioc_, ctx_};
};

/// An HTTPS upstream (for passthrough): answers every GET with 200 "secure <target>".
class tls_upstream {
 public:
  explicit tls_upstream(test_pki const& pki) : acceptor_(ioc_, loopback(0)) {
    ctx_.use_certificate_chain_file(pki.cert());
    ctx_.use_private_key_file(pki.key(), net::ssl::context::pem);
    net::co_spawn(ioc_, accept_loop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~tls_upstream() {
    ioc_.stop();
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

 private:
  net::awaitable<void> accept_loop() {
    for (;;) {
      auto socket = co_await acceptor_.async_accept(net::use_awaitable);
      net::co_spawn(ioc_, serve(std::move(socket)), net::detached);
    }
  }
  net::awaitable<void> serve(tcp::socket socket) {
    try {
      net::ssl::stream<tcp::socket> stream(std::move(socket), ctx_);
      co_await stream.async_handshake(net::ssl::stream_base::server, net::use_awaitable);
      beast::flat_buffer buffer;
      for (;;) {
        http::request<http::string_body> req;
        co_await http::async_read(stream, buffer, req, net::use_awaitable);
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.body() = "secure " + std::string(req.target());
        res.prepare_payload();
        co_await http::async_write(stream, res, net::use_awaitable);
      }
    } catch (std::exception const&) {
      // The client left: that connection is over.
    }
  }

  net::io_context ioc_;
  net::ssl::context ctx_{net::ssl::context::tls_server};
  tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST(ProxyTlsTest, TerminatesHttpsAndWssAndRelaysPlainHttpUpstream) {
  REQUIRE_PKI(pki);
  test_upstream upstream;
  fp::proxy_options options;
  options.tls_cert_file = pki.cert();
  options.tls_key_file = pki.key();
  running_proxy proxy(upstream.port(), "pass", options);

  tls_client client(pki.ca());
  auto const ec = client.connect(proxy.port());
  ASSERT_FALSE(ec) << "TLS handshake: " << ec.message();
  for (int i = 0; i < 3; ++i) {
    http::response<http::string_body> res;
    ASSERT_FALSE(client.exchange(get_request("/hello"), res));
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), "hello");
  }
  wss_client ws(pki.ca());
  ASSERT_FALSE(ws.connect(proxy.port()));
  std::string echo;
  ASSERT_FALSE(ws.echo("over wss", echo));
  EXPECT_EQ(echo, "over wss");
  EXPECT_EQ(upstream.requests().size(), 4u) << "the upstream saw plain HTTP";
  EXPECT_EQ(proxy->stats().upgrades_completed, 1u);
}

TEST(ProxyTlsTest, FaultsApplyInsideTerminatedTls) {
  REQUIRE_PKI(pki);
  test_upstream upstream;
  fp::proxy_options options;
  options.tls_cert_file = pki.cert();
  options.tls_key_file = pki.key();
  running_proxy proxy(upstream.port(), "envoy-route-timeout?scale=0.02", options);
  tls_client client(pki.ca());
  ASSERT_FALSE(client.connect(proxy.port()));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.exchange(get_request("/poll?delay_ms=2000"), res));
  EXPECT_EQ(res.result_int(), 504u);
}

TEST(ProxyTlsTest, PlainHttpToTheTlsPortIsClosedCleanly) {
  REQUIRE_PKI(pki);
  test_upstream upstream;
  fp::proxy_options options;
  options.tls_cert_file = pki.cert();
  options.tls_key_file = pki.key();
  running_proxy proxy(upstream.port(), "pass", options);
  tcp_client plain;
  ASSERT_FALSE(plain.connect(proxy.port()));
  ASSERT_FALSE(plain.write(get_request("/hello")));
  std::string got;
  auto const ec = plain.read_to_end(got);
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  EXPECT_TRUE(proxy.wait_stats([](fp::proxy_stats const& s) { return s.tls_failures == 1; }));
  EXPECT_TRUE(upstream.requests().empty());
  // The proxy goes on serving TLS clients.
  tls_client client(pki.ca());
  ASSERT_FALSE(client.connect(proxy.port()));
}

TEST(ProxyTlsTest, PassthroughRelaysTlsBytesItNeverReads) {
  REQUIRE_PKI(pki);
  tls_upstream upstream(pki);
  fp::proxy_options options;
  options.tls_passthrough = true;
  running_proxy proxy(upstream.port(), "latency?up-ms=100&down-ms=0", options);
  tls_client client(pki.ca());
  auto const start = clock_type::now();
  ASSERT_FALSE(client.connect(proxy.port())) << "the upstream's certificate, through the proxy";
  http::response<http::string_body> res;
  ASSERT_FALSE(client.exchange(get_request("/x"), res));
  EXPECT_EQ(res.body(), "secure /x");
  EXPECT_GE(since(start), 200ms) << "the latency applied to the opaque bytes (two flights up)";
  auto const s = proxy->stats();
  EXPECT_EQ(s.http_requests, 0u) << "the proxy parsed nothing";
  EXPECT_GT(s.bytes_up, 0u);

  // Profiles that read HTTP are refused, with the reason.
  EXPECT_THROW(proxy->set_profile(fp::parse_profile("refuse-upgrade")), std::invalid_argument);
  EXPECT_THROW(proxy->set_profile(fp::parse_profile("idle-timeout?idle-pings=ignore")), std::invalid_argument);
  EXPECT_NO_THROW(proxy->set_profile(fp::parse_profile("idle-timeout?idle-ms=1000")));
  net::io_context ioc;
  fp::proxy_options bad = options;
  bad.upstream = loopback(1);
  EXPECT_THROW(fp::proxy(ioc, bad, fp::parse_profile("envoy-route-timeout")), std::invalid_argument);
}

TEST(ProxyTlsTest, TheCommandLineRefusesTlsMisuseWithTheReason) {
  using args = std::vector<std::string_view>;
  using fallbench::cli::usage_error;
  auto const message = [](args a) {
    try {
      proxy_main(a);
    } catch (usage_error const& e) {
      return std::string(e.what());
    }
    return std::string("no usage_error");
  };
  EXPECT_NE(message({"--upstream", "http://127.0.0.1:1", "--tls-cert", "a.pem"}).find("go together"), std::string::npos);
  EXPECT_NE(message({"--upstream", "https://127.0.0.1:1"}).find("--tls-passthrough"), std::string::npos);
  EXPECT_NE(message({"--upstream", "http://127.0.0.1:1", "--tls-passthrough"}).find("https://"), std::string::npos);
  EXPECT_NE(message({"--upstream", "https://127.0.0.1:1", "--tls-passthrough", "--profile", "envoy-route-timeout"})
                .find("needs to read HTTP"),
            std::string::npos);
  EXPECT_NE(message({"--upstream", "https://127.0.0.1:1", "--tls-passthrough", "--schedule", "0s:pass,1s:force-close"})
                .find("needs to read HTTP"),
            std::string::npos);
  auto const missing = message({"--upstream", "http://127.0.0.1:1", "--tls-cert", "/nonexistent/cert.pem", "--tls-key",
                                "/nonexistent/key.pem"});
  EXPECT_NE(missing.find("/nonexistent/cert.pem"), std::string::npos) << missing;
}

TEST(ProxyCliTest, CheckExpandsPresetsAsTheHarnessReadsThem) {
  using args = std::vector<std::string_view>;
  std::ostringstream out;
  auto* const saved = std::cout.rdbuf(out.rdbuf());
  int rc = -1;
  try {
    rc = proxy_main(args{"--check", "--schedule", "0s:pass,2s:envoy-route-timeout?scale=0.1,4s:antivirus-stall?scale=0.5"});
  } catch (...) {
    std::cout.rdbuf(saved);
    throw;
  }
  std::cout.rdbuf(saved);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out.str(),
            "0\tpass\n2000\trequest-deadline?deadline-ms=1500&deadline-status=504\n"
            "4000\tupgrade-then-stall?stall-mode=hold&stall-after-ms=0&stall-ms=12500\n");
  EXPECT_THROW(proxy_main(args{"--check", "--profile", "envoy-route-timeout?scale=-1"}), fallbench::cli::usage_error);
}

#ifdef FALLBENCH_BIN
/// `fallbench proxy` as a process: stdout and stderr are pipes read with deadlines.
class proxy_process {
 public:
  explicit proxy_process(std::vector<std::string> args) {
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    posix_spawn_file_actions_addclose(&actions, err[0]);
    args.insert(args.begin(), {FALLBENCH_BIN, "proxy"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, FALLBENCH_BIN, &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  ~proxy_process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
    close(err_);
  }
  bool started() const { return pid_ > 0; }
  /// The first line of stdout, within the deadline.
  std::string first_line() { return read_until(out_, out_text_, [](std::string const& s) { return s.find('\n') != std::string::npos; }); }
  /// Everything on stderr until the process closes it (exits), within the deadline.
  std::string stderr_to_end() { return read_until(err_, err_text_, [](std::string const&) { return false; }); }
  void signal(int sig) { kill(pid_, sig); }
  /// The exit status after stderr closed; -1 if it has not exited.
  int wait_exit() {
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  static std::string read_until(int fd, std::string& text, std::function<bool(std::string const&)> const& done) {
    auto const until = clock_type::now() + io_deadline;
    while (!done(text)) {
      auto const left = std::chrono::duration_cast<milliseconds>(until - clock_type::now()).count();
      if (left <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) break;
      char data[4096];
      auto const n = read(fd, data, sizeof data);
      if (n <= 0) break;
      text.append(data, static_cast<std::size_t>(n));
    }
    return text;
  }

  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  bool exited_ = false;
  std::string out_text_, err_text_;
};

TEST(ProxyCliTest, PrintsItsUrlLogsFaultsAndStopsOnSigterm) {
  test_upstream upstream;
  proxy_process proc({"--upstream", "http://127.0.0.1:" + std::to_string(upstream.port()), "--profile",
                      "refuse-upgrade"});
  ASSERT_TRUE(proc.started());
  auto const line = proc.first_line();
  ASSERT_TRUE(line.starts_with("http://127.0.0.1:") && line.ends_with("\n")) << "first line: '" << line << "'";
  auto const port = static_cast<unsigned short>(std::stoi(line.substr(line.rfind(':') + 1)));
  ws_client ws;
  EXPECT_EQ(ws.connect(port), websocket::error::upgrade_declined);
  EXPECT_EQ(ws.response().result_int(), 403u);
  proc.signal(SIGTERM);
  auto const err = proc.stderr_to_end();
  EXPECT_EQ(proc.wait_exit(), 0) << err;
  EXPECT_NE(err.find("conn 1 refuse-upgrade: answered 403 to GET /ws"), std::string::npos) << err;
  EXPECT_NE(err.find("stopped; connections 1"), std::string::npos) << err;
}
TEST(ProxyCliTest, TerminatesTlsAndPrintsThePresetsEffectiveValues) {
  test_pki pki;
  if (!pki.ok()) GTEST_SKIP() << pki.why();
  test_upstream upstream;
  proxy_process proc({"--upstream", "http://127.0.0.1:" + std::to_string(upstream.port()), "--profile",
                      "envoy-route-timeout?scale=0.02", "--tls-cert", pki.cert(), "--tls-key",
                      pki.key()});
  ASSERT_TRUE(proc.started());
  auto const line = proc.first_line();
  ASSERT_TRUE(line.starts_with("https://127.0.0.1:")) << "first line: '" << line << "'";
  auto const port = static_cast<unsigned short>(std::stoi(line.substr(line.rfind(':') + 1)));
  tls_client client(pki.ca());
  ASSERT_FALSE(client.connect(port));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.exchange(get_request("/poll?delay_ms=2000"), res));
  EXPECT_EQ(res.result_int(), 504u);
  proc.signal(SIGTERM);
  auto const err = proc.stderr_to_end();
  EXPECT_EQ(proc.wait_exit(), 0) << err;
  EXPECT_NE(err.find("envoy-route-timeout?scale=0.02 = request-deadline?deadline-ms=300&deadline-status=504"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("(TLS terminated here)"), std::string::npos) << err;
  EXPECT_NE(err.find("request-deadline: answered 504 to GET /poll?delay_ms=2000"), std::string::npos) << err;
}
#endif

}  // namespace
