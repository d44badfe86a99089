#include "fallbench/bench/driver.hpp"

// The driver coordinates one case; each role has its own file: the simulated clients (sim_clients),
// the case's phases (schedule), what they measure (case_metrics), the result writer (result_writer)
// and the validity rules (validity).
#include "case_metrics.hpp"
#include "primer.hpp"
#include "result_writer.hpp"
#include "schedule.hpp"
#include "sim_clients.hpp"
#include "validity.hpp"

#include "fallbench/metrics/clock.hpp"
#include "fallbench/metrics/delivery_ledger.hpp"
#include "fallbench/metrics/process_usage.hpp"
#include "fallbench/metrics/rss_series.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fallbench::bench {

using json = nlohmann::json;
using metrics::clock;

json run_case(scenario const& s, case_spec const& c, endpoint const& at, server_process server,
              std::function<void(progress const&)> const& on_progress, run_options const& options) {
  std::mt19937_64 rng(s.seed ^ std::hash<std::string>{}(c.name));
  auto const rooms = assign_rooms(c, rng);
  auto strategies = assign_strategies(c);
  std::shuffle(strategies.begin(), strategies.end(), rng);

  // The primer comes before the schedule is set (it takes its own time) and only where its sessions
  // reach the server unhindered and the baseline is the server's own: not through a fault proxy.
  std::size_t primed_sessions = 0;
  if (c.timing.prime && server.pid != 0 && !options.start && c.fault.empty() && c.fault_schedule.empty())
    primed_sessions = prime_server(at, c, strategies, std::chrono::seconds{5});

  schedule const sched =
      make_schedule(c.timing, options.start.value_or(clock::now() + std::chrono::milliseconds{50}), options.fault_windows);

  metrics::delivery_ledger ledger;
  std::vector<std::unique_ptr<worker>> workers;
  for (int w = 0; w < s.generator.threads; ++w)
    workers.push_back(
        std::make_unique<worker>(s, c, at, sched, static_cast<std::uint32_t>(c.rooms.count), rng(), ledger));
  std::vector<std::vector<std::size_t>> trace_of(static_cast<std::size_t>(c.clients));
  for (std::size_t k = 0; k < c.trace.size(); ++k) trace_of[c.trace[k].client].push_back(k);
  for (std::size_t i = 0; i < static_cast<std::size_t>(c.clients); ++i)
    workers[i % workers.size()]->add_client(static_cast<std::uint32_t>(i), strategies[i], rooms[i],
                                            connect_time(sched, c.timing, i, c.clients), std::move(trace_of[i]));

  case_measurements m(sched);
  auto& cost = m.cost;
  cost.server_measured = server.pid != 0;
  cost.primed_sessions = primed_sessions;
  auto const sample_server = [&] {
    return server.pid ? metrics::sample_process(server.pid).value_or(metrics::process_usage{}) : metrics::process_usage{};
  };
  cost.self_before = metrics::sample_self();
  cost.server_baseline = sample_server();
  for (auto& w : workers) w->start();

  // The coordinator sleeps until each phase boundary, reporting progress and sampling CPU and RSS on the way.
  auto report = [&](char const* phase) {
    if (!on_progress) return;
    progress p;
    p.phase = phase;
    p.elapsed_s = std::chrono::duration<double>(clock::now() - sched.t0).count();
    p.total_s = std::chrono::duration<double>(sched.drain_end - sched.t0).count();
    for (auto& w : workers) {
      auto const q = w->snapshot();
      p.connected += q.connected;
      p.chats_sent += q.chats_sent;
      p.deliveries += q.deliveries;
      p.errors += q.errors;
    }
    on_progress(p);
  };
  // The server's resident set, once a second from the run's start to the end of the drain: whether it
  // stays flat after the ramp is the soak's question (docs/soak.md).
  auto next_tick = sched.t0;
  auto sleep_until = [&](clock::time_point until, char const* phase) {
    while (clock::now() < until) {
      std::this_thread::sleep_until(std::min(until, next_tick));
      if (clock::now() >= next_tick) {
        if (server.pid)
          if (auto const u = metrics::sample_process(server.pid)) m.server_rss.add(sched.seconds(u->at), u->rss_bytes / 1024);
        // A late wake-up skips the seconds it missed rather than sampling them all at once.
        while (next_tick <= clock::now()) next_tick += std::chrono::seconds{1};
      }
      report(phase);
    }
  };
  sleep_until(sched.traffic_start, "connect");
  sleep_until(sched.measure_start, "warm-up");
  cost.self_at_measure = metrics::sample_self();
  cost.server_at_measure = sample_server();
  sleep_until(sched.measure_end, "measure");
  cost.self_at_end = metrics::sample_self();
  cost.server_at_end = sample_server();
  sleep_until(sched.drain_end, "drain");
  for (auto& w : workers) w->finish();

  // Merge the workers' recorders.
  std::optional<std::pair<clock::time_point, std::uint32_t>> first_join;
  std::map<std::uint64_t, std::size_t> strategy_of;  // client id -> strategy slot
  for (auto& w : workers) {
    for (std::size_t k = 0; k < m.windows.size(); ++k)
      for (std::size_t i = 0; i < strategy_count; ++i) m.windows[k][i].merge(w->windows()[k][i]);
    for (std::size_t i = 0; i < strategy_count; ++i) m.by_strategy[i].merge(w->by_strategy()[i]);
    m.series.merge(w->series());
    m.send_lag.merge(w->send_lag());
    ledger.add(std::move(w->ledger()));
    m.late_sends += w->late_sends();
    if (auto const fj = w->first_join(); fj && (!first_join || fj->first < first_join->first)) first_join = fj;
    for (auto& t : w->timelines()) m.timelines.push_back(std::move(t));
    w->strategies_of(strategy_of);
  }
  // A chat sent just before a receiver's leave may reach the server after it (another connection,
  // a late send): the generator's lag bound is the grace within which it is not expected.
  metrics::reconcile_options reconcile;
  reconcile.leave_grace = s.generator.max_lag;
  reconcile.windows_from = sched.window_starts;
  m.delivery = ledger.reconcile(reconcile);
  // The ledger's counts per strategy of the receiver: in a case mixing strategies, which of them lost.
  for (auto const& r : m.delivery.receivers)
    if (auto const it = strategy_of.find(r.receiver); it != strategy_of.end()) m.delivery_by_strategy[it->second] += r.counts;
  for (auto const& sm : m.by_strategy) m.total.merge(sm);

  validity_inputs v;
  v.send_lag_p99_us = m.send_lag.value_at_percentile(99.0);
  v.max_lag = s.generator.max_lag;
  v.generator_utilisation = generator_utilisation(m.cost, s.generator, c.timing);
  v.max_cpu_utilisation = s.generator.max_cpu_utilisation;
  v.fault_injected = !c.fault.empty() || !c.fault_schedule.empty();
  v.error_budget = s.generator.error_budget;
  v.clients = m.total.clients;
  v.clients_connected = m.total.clients_connected;
  v.chats_sent = m.total.chats_sent;
  v.acks_failed = m.total.acks_failed;
  v.acks_rejected = m.total.acks_rejected;
  v.errors = m.total.errors.by_name();
  v.joins_sent = m.total.joins_sent;
  v.joins_confirmed = m.total.joins_confirmed;
  v.first_join = first_join;
  v.measure_end = sched.measure_end;
  v.deliveries_measured = m.total.deliveries_measured;
  v.rate_per_client_hz = c.rate_per_client_hz;
  v.events = at.events;
  return write_run(s, c, sched, options.fault_windows, m, judge_validity(v));
}

}  // namespace fallbench::bench
