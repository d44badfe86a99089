#pragma once
/// Accepts clients and starts a connection for each, runs the fault schedule, and knows the open
/// connections (weakly) so a profile change or stop() reaches them. Owned by the proxy facade and by
/// its own pending handlers; its acceptor and timer live on one strand.

#include "proxy_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace fallbench::proxy::detail {

class connection;

class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(boost::asio::io_context& ioc, std::shared_ptr<proxy_state> state);

  boost::asio::ip::tcp::endpoint listen(boost::asio::ip::tcp::endpoint const& at);
  boost::asio::ip::tcp::endpoint endpoint() const;
  void set_profile(profile p);
  void run_schedule(std::vector<schedule_entry> entries, std::chrono::steady_clock::time_point origin);
  void stop();

  proxy_state& state() noexcept { return *state_; }

 private:
  using error_code = boost::system::error_code;

  void do_accept();
  void on_accept(error_code ec, boost::asio::ip::tcp::socket socket);
  void start_schedule(std::vector<schedule_entry> entries, std::chrono::steady_clock::time_point origin);
  void next_entry();
  /// Snapshot of the open connections (the registry never keeps one alive).
  std::vector<std::shared_ptr<connection>> open_connections();

  boost::asio::io_context& ioc_;
  std::shared_ptr<proxy_state> state_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer schedule_timer_;
  boost::asio::steady_timer retry_timer_;  ///< Paces accepting again after an accept error.
  std::vector<schedule_entry> schedule_;
  std::size_t next_ = 0;
  std::chrono::steady_clock::time_point schedule_start_{};
  std::uint64_t next_id_ = 1;

  mutable std::mutex mutex_;
  boost::asio::ip::tcp::endpoint bound_;
  bool stopped_ = false;
  std::vector<std::weak_ptr<connection>> connections_;
  std::size_t prune_at_ = 64;
};

}  // namespace fallbench::proxy::detail
