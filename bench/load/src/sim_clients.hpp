#pragma once
/// The simulated clients of one case: each client's state (sim_client) and the worker threads that run
/// them (worker), one io_context each. A worker owns its clients and its recorders; the driver
/// merges the recorders once every worker has finished. Internal to bench/load.

#include "case_metrics.hpp"
#include "schedule.hpp"

#include "fallbench/bench/driver.hpp"
#include "fallbench/bench/scenario.hpp"
#include "fallbench/chatproto/chat.hpp"
#include "fallbench/chatproto/mapping.hpp"
#include "fallbench/metrics/clock.hpp"
#include "fallbench/metrics/delivery_ledger.hpp"
#include "fallbench/metrics/histogram.hpp"
#include "fallbench/metrics/interval_series.hpp"
#include "fallbench/transport/client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fallbench::bench {

class worker;

/// A client's options for a case's target and a strategy: where to connect, the target's settings
/// (namespace, headers, TLS trust), and the case's connect, WebSocket and race timers.
transport::client_options client_options_for(endpoint const& at, case_spec const& c, transport::strategy strat);

/// One simulated chat user: a client, its room, its send schedule.
struct sim_client {
  worker* owner = nullptr;  ///< the worker running it (lets a callback capture only the client)
  std::uint32_t id = 0;
  transport::strategy strat = transport::strategy::upgrade;
  std::uint32_t room = 0;
  std::shared_ptr<transport::client> client;
  std::unique_ptr<boost::asio::steady_timer> send_timer;
  std::unique_ptr<boost::asio::steady_timer> churn_timer;
  metrics::time_point connect_started;  ///< the client's first connect: time to first message counts from it
  metrics::time_point session_started;  ///< this session's connect (a reconnection's own start)
  metrics::time_point next_send;
  /// Its send schedule: chats are due at send_origin + k periods, from the first of them after its
  /// join. The origin is its connect instant plus a phase drawn from the seed when the client is added
  /// (in id order), so a seed gives every run the same schedule, whenever joins happen to complete.
  metrics::time_point send_origin;
  /// Per room this client sent into: its ledger stream (sender, room) and the next seq on it.
  std::unordered_map<std::uint32_t, std::pair<metrics::stream_id, std::uint64_t>> streams;
  /// Per stream received: when its previous chat arrived (for the uncorrected latency), and its record
  /// in the worker's delivery log (found once, so a delivery costs one lookup here and none there).
  struct stream_seen {
    std::int64_t stream = 0;
    metrics::time_point last_arrival;
    metrics::delivery_log::pair* logged = nullptr;
  };
  /// Sorted by stream: a binary search over one contiguous block (a room's senders), where a hash
  /// map's node chase was the largest cost of a delivery in the generator's profile.
  std::vector<stream_seen> received;
  stream_seen& seen(std::int64_t stream) {
    auto it = std::lower_bound(received.begin(), received.end(), stream,
                               [](stream_seen const& s, std::int64_t v) { return s.stream < v; });
    if (it == received.end() || it->stream != stream) it = received.insert(it, stream_seen{stream, {}, nullptr});
    return *it;
  }
  std::optional<metrics::time_point> lost_at;  ///< when the connected session was lost, until connected again
  /// With recovery on: the rooms the client was in when its session was lost, until it is back. A
  /// recovered session is still in them (docs/recovery.md); a fresh one joins again.
  std::vector<std::uint32_t> away_rooms;
  /// Trace mode: this client's events (indices into case_spec::trace), the next one, its rooms.
  std::vector<std::size_t> trace_events;
  std::size_t trace_next = 0;
  std::set<std::uint32_t> trace_rooms;
  /// Joins sent and not yet confirmed (by ack, echo or settle time, as the event mapping says).
  struct pending_join {
    std::uint32_t room = 0;
    std::uint64_t id = 0;
    std::function<void()> then;
  };
  std::vector<pending_join> pending_joins;
  bool joined = false;
  bool ever_connected = false;
  bool first_chat_seen = false;
  bool recorded_transitions = false;
};


/// One generator thread and the clients it runs. The coordinator adds clients, starts it, reads its
/// progress while it runs and its recorders once finish() has returned.
class worker {
 public:
  worker(scenario const& s, case_spec const& c, endpoint const& at, schedule const& sched, std::uint32_t rooms,
         std::uint64_t seed, metrics::delivery_ledger& streams);

  /// A client that connects at `connect_at` (trace mode: that acts on `trace_events`, indices into
  /// case_spec::trace). Before start() only.
  void add_client(std::uint32_t id, transport::strategy strat, std::uint32_t room, metrics::time_point connect_at,
                  std::vector<std::size_t> trace_events);
  /// Run the clients on the worker's own thread.
  void start();
  /// Stop sending, leave, close; then stop the loop. Called from the coordinator.
  void finish();
  /// Counts so far for the progress line; safe to call from the coordinator while the worker runs.
  progress snapshot() const;

  std::array<strategy_metrics, strategy_count>& by_strategy() { return by_strategy_; }
  metrics::interval_series& series() { return series_; }
  metrics::histogram& send_lag() { return send_lag_; }
  metrics::delivery_log& ledger() { return ledger_; }
  std::uint64_t late_sends() const { return late_sends_; }
  /// When the first join went out, and into which room (to say what an invalid run waited for).
  std::optional<std::pair<metrics::time_point, std::uint32_t>> first_join() const { return first_join_; }
  std::vector<nlohmann::json>& timelines() { return timelines_; }
  /// Each client's strategy slot, by client id (the ledger's receiver id).
  void strategies_of(std::map<std::uint64_t, std::size_t>& out) const {
    for (auto const& sc : clients_) out[sc->id] = static_cast<std::size_t>(sc->strat);
  }
  std::vector<std::array<window_metrics, strategy_count>>& windows() { return windows_; }

 private:
  strategy_metrics& m(sim_client const& sc) { return by_strategy_[static_cast<std::size_t>(sc.strat)]; }
  bool recovery_on() const { return c_.recovery_window.count() > 0; }
  /// A failed operation the driver detects (the result's `errors`; the progress line's count). A
  /// typed counter: a skipped send or an untagged delivery on the chat path allocates nothing.
  void count_error(sim_client const& sc, client_error_kind kind) {
    m(sc).errors.count(kind);
    errors_.fetch_add(1, std::memory_order_relaxed);
  }
  /// A session ended by an error, counted by the transport's name for it (error_counts::session_ended).
  void count_session_error(sim_client const& sc, std::string const& name) {
    ++m(sc).errors.session_ended[name];
    errors_.fetch_add(1, std::memory_order_relaxed);
  }
  /// sc's strategy in the fault window holding `t`; null without fault windows.
  window_metrics* wm(sim_client const& sc, metrics::time_point t) {
    if (windows_.empty()) return nullptr;
    return &windows_[sched_.window_of(t)][static_cast<std::size_t>(sc.strat)];
  }

  std::string leave_args(sim_client const& sc, std::uint32_t room) const;
  void emit_leave(sim_client& sc, std::uint32_t room);
  /// The harness's names on the wire: room `r<N>`, client `c<id>`.
  static std::string room_name(std::uint32_t room) { return "r" + std::to_string(room); }
  static std::string client_name(std::uint64_t id) { return "c" + std::to_string(id); }

  void schedule_connect(sim_client& sc);
  void connect(sim_client& sc);
  void on_transition(sim_client& sc, transport::transition const& t);
  void on_connected(sim_client& sc);
  void arm_trace(sim_client& sc);
  /// Join `room`; `then` runs once the join is confirmed as the event mapping says (an ack, the
  /// room's echo of it, or a settle time), when the ledger starts expecting the room's chats here.
  void join(sim_client& sc, std::uint32_t room, std::function<void()> then);
  void confirm_join(sim_client& sc, std::uint64_t id);
  void start_sending(sim_client& sc);
  double period_ns() const;
  void arm_send(sim_client& sc);
  /// Send one chat into `room`, due at `intended`; `fixed_bytes` 0 draws the size from the case.
  void send_chat(sim_client& sc, std::uint32_t room, metrics::time_point intended, std::uint32_t fixed_bytes);
  void on_event(sim_client& sc, std::string_view event, std::string_view args);
  void arm_churn(sim_client& sc);
  void churn(sim_client& sc);
  void collect_wire(sim_client& sc);

  scenario const& s_;
  case_spec const& c_;
  endpoint const at_;
  chatproto::event_mapping const& events_ = at_.events;
  std::uint64_t join_ids_ = 0;
  std::optional<std::pair<metrics::time_point, std::uint32_t>> first_join_;
  schedule const& sched_;
  std::uint32_t const rooms_;
  std::mt19937_64 rng_;
  metrics::delivery_ledger& streams_;  ///< shared: stream registration only (thread-safe)
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer stop_timer_{ioc_};
  std::thread thread_;
  std::vector<std::unique_ptr<sim_client>> clients_;
  std::string filler_;
  std::string chat_buffer_;  ///< send_chat's encoding, reused (a chat allocates nothing once it has grown)
  chatproto::decoder chat_decoder_;  ///< Reads the chats this worker's clients receive (its buffers reused).
  std::array<strategy_metrics, strategy_count> by_strategy_;
  metrics::interval_series series_;
  metrics::histogram send_lag_;
  metrics::delivery_log ledger_;
  std::uint64_t late_sends_ = 0;
  std::array<int, strategy_count> timelines_per_strategy_{};
  std::vector<nlohmann::json> timelines_;
  std::vector<std::array<window_metrics, strategy_count>> windows_;  ///< [fault window][strategy]
  std::atomic<std::uint64_t> connected_{0}, sent_{0}, delivered_{0}, errors_{0};
};

/// Which room each client joins: uniform, or Zipf-weighted (room k has weight 1/k^s).
std::vector<std::uint32_t> assign_rooms(case_spec const& c, std::mt19937_64& rng);

/// Which strategy each client uses: the mix's weights, rounded so the counts add up exactly.
std::vector<transport::strategy> assign_strategies(case_spec const& c);

}  // namespace fallbench::bench
