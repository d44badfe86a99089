#pragma once
// Runs C++ clients on an io_context thread of their own, as the harness does.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <thread>
#include <utility>

namespace fallbench::integration {

/// Stops and joins on destruction.
class client_thread {
 public:
  client_thread() : work_(boost::asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}
  ~client_thread() {
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  client_thread(client_thread const&) = delete;
  client_thread& operator=(client_thread const&) = delete;

  boost::asio::any_io_executor executor() { return ioc_.get_executor(); }

  /// Run `f` on the client thread, wait for it, and return what it returned.
  template <class F>
  auto run(F&& f) {
    std::packaged_task<decltype(f())()> task(std::forward<F>(f));
    auto result = task.get_future();
    boost::asio::post(ioc_, [&] { task(); });
    return result.get();
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace fallbench::integration
