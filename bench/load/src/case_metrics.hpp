#pragma once
/// What the simulated clients of one case measure, per strategy and per fault window: filled by the
/// workers (sim_clients.hpp), merged by the driver, written by the result writer (result_writer.hpp)
/// and judged by the validity rules (validity.hpp). Internal to bench/load.

#include "fallbench/metrics/histogram.hpp"
#include "fallbench/transport/client.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace fallbench::bench {

/// One slot per strategy, indexed by its enum value.
inline constexpr std::size_t strategy_count = std::size(transport::all_strategies);

/// The failed operations the driver itself detects. A session that ends in error is counted apart
/// (error_counts::session_ended), by the transport's name for it: that name carries the server's
/// own words (an HTTP status and reason, a refused namespace's message), so its kinds are not a
/// closed set.
enum class client_error_kind : std::uint8_t {
  send_not_connected,  ///< A chat was due while the client was not connected or not yet in its room.
  send_not_in_room,    ///< Trace mode: the same, for a chat due into a room of the trace.
  untagged_delivery,   ///< A delivery event without the harness's tags.
};
inline constexpr std::size_t client_error_kind_count =
    static_cast<std::size_t>(client_error_kind::untagged_delivery) + 1;

/// The name a user reads for `kind`: the key of the result's `errors` object.
std::string_view error_name(client_error_kind kind) noexcept;

/// One strategy's failed operations: fixed counters for the kinds the driver detects, so counting one
/// on a chat's path allocates nothing.
struct error_counts {
  std::array<std::uint64_t, client_error_kind_count> by_kind{};
  /// Sessions ended by an error, by the transport's name for it (client::last_error_name). A session
  /// ends rarely, off the per-chat path, so a map here costs nothing that matters.
  std::map<std::string, std::uint64_t> session_ended;

  void count(client_error_kind kind) noexcept { ++by_kind[static_cast<std::size_t>(kind)]; }
  void merge(error_counts const& o);
  /// Every count over zero by its name, in name order: the result's `errors` object.
  std::map<std::string, std::uint64_t> by_name() const;
};

/// What one strategy's clients measured on one worker.
struct strategy_metrics {
  metrics::histogram fanout_corrected;    ///< intended send -> arrival at each receiver
  metrics::histogram fanout_uncorrected;  ///< actual send -> arrival
  metrics::histogram ack;                 ///< intended send -> ack at the sender
  metrics::histogram own_copy;            ///< intended send -> the sender's own copy of its chat
  metrics::histogram ttfm;                ///< connect start -> first chat delivered
  metrics::histogram handshake;           ///< connect start -> Engine.IO open packet
  metrics::histogram connected;           ///< connect start -> namespace connected
  metrics::histogram upgrade;             ///< connect start -> upgraded
  metrics::histogram fallback;            ///< connect start -> fell back
  metrics::histogram recovery;            ///< session lost -> namespace connected again (reconnect)
  std::uint64_t clients = 0;
  std::uint64_t clients_connected = 0;  ///< distinct clients that connected at least once
  std::uint64_t reconnections = 0;      ///< connects after a client's first
  std::uint64_t sessions_recovered = 0;      ///< reconnections that recovered their session (recovery on)
  std::uint64_t sessions_not_recovered = 0;  ///< reconnections that got a fresh session although recovery was on
  std::uint64_t chats_sent = 0;
  std::uint64_t chats_measured = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t deliveries_measured = 0;
  std::uint64_t acks_ok = 0;
  std::uint64_t acks_rejected = 0;
  std::uint64_t acks_failed = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t upgrades_failed = 0;
  std::uint64_t fallbacks = 0;
  std::uint64_t joins_sent = 0;
  std::uint64_t joins_confirmed = 0;
  transport::wire_counters wire;
  error_counts errors;

  void merge(strategy_metrics const& o);
};

/// What one strategy's clients did in one fault window (events tagged by when they happened; chats
/// by their intended send time). Counts and latencies of the measure phase only.
struct window_metrics {
  std::uint64_t chats_due = 0;
  std::uint64_t chats_sent = 0;
  std::uint64_t sends_skipped = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t disconnects = 0;
  metrics::histogram fanout_corrected;
  metrics::histogram recovery;  ///< by when the session was lost

  void merge(window_metrics const& o);
};

}  // namespace fallbench::bench
