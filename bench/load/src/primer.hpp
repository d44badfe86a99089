#pragma once
/// The primer: throwaway sessions run against a freshly started server before its baseline sample.
/// Internal to bench/load.

#include "fallbench/bench/driver.hpp"
#include "fallbench/bench/scenario.hpp"
#include "fallbench/transport/client.hpp"

#include <chrono>
#include <cstddef>
#include <vector>

namespace fallbench::bench {

/// One session per strategy in `strategies` (duplicates once), one after another: connect, join a
/// room of its own, leave it, close. Each is bounded by `bound`; a session that fails or overruns is
/// abandoned (the run that follows will meet whatever stopped it). @return the sessions that connected.
std::size_t prime_server(endpoint const& at, case_spec const& c, std::vector<transport::strategy> strategies,
                         std::chrono::milliseconds bound);

}  // namespace fallbench::bench
