#pragma once
/// The chat server of `fallbench serve`, in process on 127.0.0.1 and an ephemeral port, for one test.
/// Owned by the test; its destructor is the scope guard that stops the server and joins its threads.

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/sio_server.hpp"
#include "fallbench/transport/engine_server.hpp"

#include "test_clients.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fallbench::integration {

/// How a test_server is set up; the defaults are the server's own unless a comment says otherwise.
struct test_server_config {
  transport::server_options options;
  int threads = 2;
  /// The server closes sessions that join no namespace by then (sio_server's connect_timeout).
  std::chrono::milliseconds connect_timeout{45'000};
  /// chat_app::set_max_rooms_per_client.
  std::size_t max_rooms_per_client = chat::default_max_rooms_per_client;
  /// chat_app::enable_recovery (a window of 0: off, the default).
  chat::recovery_options recovery;
  /// Anything else to set on the application before the server starts (e.g. chat_app::set_relay).
  std::function<void(chat::chat_app&)> setup;
};

/// Forwards to the application and counts on_open and on_close, so that the fixture can wait until
/// every session has been told of its end: on_close runs posted after the session leaves the table,
/// and a handler still queued at ioc.stop() would leave the Socket.IO state of its session leaked.
class counting_handler final : public transport::session_handler {
 public:
  explicit counting_handler(transport::session_handler& next) : next_(next) {}

  void on_open(transport::session_ptr const& s) override {
    {
      std::lock_guard lock(mutex_);
      ++opened_;
    }
    next_.on_open(s);
  }
  void on_message(transport::session_ptr const& s, codec::eio::packet&& p) override {
    next_.on_message(s, std::move(p));
  }
  void on_close(transport::session_ptr const& s, transport::close_reason why) override {
    next_.on_close(s, why);
    {
      std::lock_guard lock(mutex_);
      ++closed_;
    }
    changed_.notify_all();
  }

  /// Wait until every session opened has been closed and `table_empty()` holds, or `deadline`.
  bool wait_all_closed(std::chrono::milliseconds deadline, std::function<bool()> const& table_empty) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, deadline, [&] { return closed_ == opened_ && table_empty(); });
  }
  std::string counts() {
    std::lock_guard lock(mutex_);
    return std::to_string(opened_) + " opened, " + std::to_string(closed_) + " closed";
  }

 private:
  transport::session_handler& next_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t opened_ = 0;
  std::uint64_t closed_ = 0;
};

/// engine_server + sio_server + chat_app wired as server/src/serve.cpp does, listening on port 0.
class test_server {
 public:
  explicit test_server(test_server_config config = {})
      : ioc_(config.threads),
        sio_(ioc_, chat_, config.connect_timeout),
        counter_(sio_),
        engine_(ioc_, config.options, counter_),
        work_(boost::asio::make_work_guard(ioc_)) {
    chat_.set_max_rooms_per_client(config.max_rooms_per_client);
    chat_.enable_recovery(config.recovery);
    if (config.setup) config.setup(chat_);
    // listen() has bound and is listening when it returns: connections made from now on wait in the
    // backlog, so no ready signal beyond its return is needed.
    port_ = engine_.listen({boost::asio::ip::address_v4::loopback(), 0}).port();
    for (int i = 0; i < config.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  ~test_server() {
    // Shutdown order of docs/conventions.md section 5: stop accepting and close every session with a close
    // packet, wait until each has ended and been told so, then stop and join. Polling sessions whose
    // client does not fetch the close packet end after close_timeout.
    engine_.shutdown();
    auto const deadline = engine_.options().lim.close_timeout + std::chrono::seconds{2};
    if (!counter_.wait_all_closed(deadline, [this] { return engine_.stats().sessions_open == 0; })) {
      ADD_FAILURE() << "test_server teardown: sessions did not end within " << deadline.count() << " ms ("
                    << counter_.counts() << ", " << engine_.stats().sessions_open << " in the table)";
    }
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  test_server(test_server const&) = delete;
  test_server& operator=(test_server const&) = delete;

  unsigned short port() const noexcept { return port_; }
  transport::engine_server& engine() noexcept { return engine_; }
  chat::sio_server& sio() noexcept { return sio_; }
  chat::chat_app& chat() noexcept { return chat_; }
  /// Sessions closed so far for `why`.
  std::uint64_t closed(transport::close_reason why) const {
    return engine_.stats().sessions_closed[static_cast<std::size_t>(why)];
  }
  /// Every close reason counted so far, as "reason=count ..." (for a failed expectation's message).
  std::string closed_by_reason() const {
    auto const stats = engine_.stats();
    std::string out;
    for (std::size_t i = 0; i < stats.sessions_closed.size(); ++i) {
      if (stats.sessions_closed[i] == 0) continue;
      out += std::string(transport::to_string(static_cast<transport::close_reason>(i))) + "=" +
             std::to_string(stats.sessions_closed[i]) + " ";
    }
    return out.empty() ? "none closed" : out;
  }

 private:
  boost::asio::io_context ioc_;
  chat::chat_app chat_;
  chat::sio_server sio_;
  counting_handler counter_;
  transport::engine_server engine_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  unsigned short port_ = 0;
};

/// The number of HTTP requests the server has read, to know that a GET has reached it (and parked).
inline std::uint64_t requests_read(test_server& srv) { return srv.engine().stats().http_requests; }

/// Start a GET in the background and return once the server has read it: the GET is then parked.
inline std::future<httplib::Result> park_poll(test_server& srv, polling_client const& c) {
  auto const before = requests_read(srv);
  auto parked = std::async(std::launch::async, [&c] { return c.get(); });
  EXPECT_TRUE(wait_for_condition([&] { return requests_read(srv) > before; })) << "the GET never reached the server";
  return parked;
}

}  // namespace fallbench::integration
