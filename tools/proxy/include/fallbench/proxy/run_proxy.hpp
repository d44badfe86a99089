#pragma once
/// `fallbench proxy`'s process: a proxy listening until SIGINT/SIGTERM, applying a profile and a
/// schedule. Typed options only: the flags that fill them are parsed in cli/ (cli/proxy_command.cpp).

#include "fallbench/proxy/profile.hpp"
#include "fallbench/proxy/proxy.hpp"
#include "fallbench/proxy/schedule.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fallbench::proxy {

/// What run_proxy runs.
struct proxy_run_options {
  proxy_options proxy;                          ///< The upstream (resolved), timeouts, TLS.
  std::string upstream_name;                    ///< The upstream as the user named it, for the log.
  boost::asio::ip::tcp::endpoint listen;        ///< Port 0 picks a free one.
  profile initial;                              ///< Applied from the start.
  std::vector<schedule_entry> schedule;         ///< Profiles switched to, by offset from the origin.
  /// The instant the schedule's offsets count from (a harness's run start); none: the proxy's start.
  std::optional<std::chrono::steady_clock::time_point> schedule_origin;
  int threads = 1;                              ///< I/O threads.
};

/// The TLS certificate or key of proxy_options cannot be used (what: OpenSSL's reason).
class tls_setup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Run the proxy until SIGINT or SIGTERM. Prints its URL as the first line of stdout and each fault
/// to stderr. Throws tls_setup_error for an unusable certificate or key, std::runtime_error when it
/// cannot listen. @return the exit status.
int run_proxy(proxy_run_options options);

}  // namespace fallbench::proxy
