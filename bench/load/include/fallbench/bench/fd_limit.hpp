#pragma once
/// File descriptors for a run: how many its clients need, and the soft RLIMIT_NOFILE raised to that
/// before any target starts, so the harness and every process it starts (servers, the fault proxy,
/// a cluster's nodes and balancer, which inherit the limit at their fork) can hold them
/// (docs/soak.md, "Descriptors"). Startup code: throws.

#include "fallbench/bench/scenario.hpp"

#include <cstdint>
#include <stdexcept>

namespace fallbench::bench {

/// Descriptors each process needs beyond its clients' sockets: listeners, the event loop, pipes, logs;
/// `fallbench serve` keeps 64 of its own limit apart from its connections (docs/hardening.md).
constexpr std::uint64_t fd_margin = 256;

/// Sockets one client of strategy `s` may hold at once: 1 for a WebSocket, 2 for polling (a GET for
/// the long poll and a POST beside it), 3 for a strategy with polling and a WebSocket open together
/// (an upgrade's probe, a race).
std::uint64_t sockets_per_client(transport::strategy s) noexcept;

/// The descriptors the busiest process of one run of `c` needs: each client's sockets (by the case's
/// mix), twice over when a fault proxy or a balancer holds both ends of every connection, plus the margin.
std::uint64_t descriptors_needed(case_spec const& c);

/// The soft limit could not be raised far enough; what() names the number needed and `ulimit -n`.
struct fd_limit_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The soft RLIMIT_NOFILE before and after raise_fd_limit().
struct fd_limit_change {
  std::uint64_t before = 0;
  std::uint64_t after = 0;
};

/**
 * Raise this process's soft RLIMIT_NOFILE to at least `needed` (never lower it), within the hard limit.
 * `what` names who needs them in the error ("case soak: 10000 clients").
 * @throws fd_limit_error when the hard limit is below `needed` or setrlimit fails.
 */
fd_limit_change raise_fd_limit(std::uint64_t needed, std::string const& what);

}  // namespace fallbench::bench
