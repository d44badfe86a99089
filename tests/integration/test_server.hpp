#pragma once
/// The chat server of `fallbench serve`, in process on 127.0.0.1 and an ephemeral port, for one test.
/// Owned by the test; its destructor is the scope guard that stops the server and joins its threads.

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/sio_server.hpp"
#include "fallbench/transport/engine_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <thread>
#include <vector>

namespace fallbench::integration {

/// How a test_server is set up; the defaults are the server's own unless a comment says otherwise.
struct test_server_config {
  transport::server_options options;
  int threads = 2;
  /// The server closes sessions that join no namespace by then (sio_server's connect_timeout).
  std::chrono::milliseconds connect_timeout{45'000};
};

/// engine_server + sio_server + chat_app wired as server/src/serve.cpp does, listening on port 0.
class test_server {
 public:
  explicit test_server(test_server_config config = {})
      : ioc_(config.threads),
        sio_(ioc_, chat_, config.connect_timeout),
        engine_(ioc_, config.options, sio_),
        work_(boost::asio::make_work_guard(ioc_)) {
    // listen() has bound and is listening when it returns: connections made from now on wait in the
    // backlog, so no ready signal beyond its return is needed.
    port_ = engine_.listen({boost::asio::ip::address_v4::loopback(), 0}).port();
    for (int i = 0; i < config.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  ~test_server() {
    // Shutdown order of shared/STYLE.md 2.5: stop accepting and close every session, let the sessions
    // end (a session still in the table at ioc.stop() would be leaked with the table), then stop.
    engine_.shutdown();
    auto const deadline = engine_.options().lim.close_timeout + std::chrono::seconds{1};
    std::promise<void> drained;
    auto done = drained.get_future();
    boost::asio::steady_timer timer(ioc_);
    // No event signals an empty session table, so check it on the server's own clock, as serve.cpp does.
    std::function<void()> check = [&] {
      if (engine_.stats().sessions_open == 0) {
        drained.set_value();
        return;
      }
      timer.expires_after(std::chrono::milliseconds{5});
      timer.async_wait([&](boost::system::error_code ec) {
        if (!ec) check();
      });
    };
    boost::asio::post(timer.get_executor(), check);
    done.wait_for(deadline);
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

 private:
  boost::asio::io_context ioc_;
  chat::chat_app chat_;
  chat::sio_server sio_;
  transport::engine_server engine_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  unsigned short port_ = 0;
};

}  // namespace fallbench::integration
