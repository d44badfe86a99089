#include "fallbench/bench/fd_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

namespace fallbench::bench {

std::uint64_t sockets_per_client(transport::strategy s) noexcept {
  switch (s) {
    case transport::strategy::websocket: return 1;
    case transport::strategy::polling:
    case transport::strategy::fallback: return 2;  // the WebSocket is closed before polling opens
    default: return 3;
  }
}

std::uint64_t descriptors_needed(case_spec const& c) {
  double total_weight = 0;
  for (auto const& [s, w] : c.mix) total_weight += w;
  std::uint64_t sockets = 0;
  for (auto const& [s, w] : c.mix) {
    // Each strategy's share of the clients rounded up, so the sum never falls short of the driver's
    // assignment (which rounds the running total).
    auto const clients = total_weight > 0 ? static_cast<std::uint64_t>(std::ceil(w / total_weight * c.clients)) : 0;
    sockets += clients * sockets_per_client(s);
  }
  bool const both_ends = !c.fault.empty() || !c.fault_schedule.empty() || c.topology.type == topology_spec::kind::cluster;
  return sockets * (both_ends ? 2 : 1) + fd_margin;
}

fd_limit_change raise_fd_limit(std::uint64_t needed, std::string const& what) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0)
    throw fd_limit_error(std::string("cannot read the file descriptor limit: ") + std::strerror(errno));
  fd_limit_change change{r.rlim_cur, r.rlim_cur};
  if (r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= needed) return change;
  if (r.rlim_max != RLIM_INFINITY && r.rlim_max < needed)
    throw fd_limit_error(what + " need " + std::to_string(needed) + " file descriptors, but the hard limit is " +
                         std::to_string(r.rlim_max) + ": raise it to at least " + std::to_string(needed) +
                         " (`ulimit -n " + std::to_string(needed) + "` in a shell allowed to, or LimitNOFILE / "
                         "limits.conf), or run fewer clients");
  r.rlim_cur = needed;
  if (::setrlimit(RLIMIT_NOFILE, &r) != 0)
    throw fd_limit_error(what + " need " + std::to_string(needed) + " file descriptors; raising the soft limit from " +
                         std::to_string(change.before) + " failed: " + std::strerror(errno));
  change.after = needed;
  return change;
}

}  // namespace fallbench::bench
