#include "fallbench/bench/driver.hpp"

#include "case_metrics.hpp"
#include "schedule.hpp"
#include "sim_clients.hpp"

#include "fallbench/chatproto/chat.hpp"
#include "fallbench/chatproto/mapping.hpp"

#include "fallbench/metrics/clock.hpp"
#include "fallbench/metrics/delivery_ledger.hpp"
#include "fallbench/metrics/histogram.hpp"
#include "fallbench/metrics/interval_series.hpp"
#include "fallbench/metrics/process_usage.hpp"
#include "fallbench/metrics/rss_series.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

namespace fallbench::bench {

using json = nlohmann::json;
using metrics::clock;
using metrics::to_us;

namespace {

using transport::all_strategies;

json histogram_json(metrics::histogram const& h) {
  json j = h.summary_json();
  j["spectrum"] = h.spectrum_json();
  j["hdr"] = h.to_json();
  return j;
}

/// The run's figures per fault window (result document: runs[].fault_windows).
json fault_windows_json(std::vector<fault_window> const& plan, std::vector<std::array<window_metrics, strategy_count>> const& windows,
                        metrics::delivery_report const& delivery, schedule const& sched) {
  json out = json::array();
  for (std::size_t k = 0; k < windows.size(); ++k) {
    auto const from = sched.window_starts[k];
    auto const to = k + 1 < windows.size() ? sched.window_starts[k + 1] : clock::time_point::max();
    auto const overlap = std::min(to, sched.measure_end) - std::max(from, sched.measure_start);
    double const measured_s = overlap.count() > 0 ? metrics::to_seconds(overlap) : 0.0;
    json by_strategy = json::object();
    for (std::size_t i = 0; i < strategy_count; ++i) {
      auto const& w = windows[k][i];
      if (w.chats_due == 0 && w.deliveries == 0 && w.disconnects == 0 && w.recovery.count() == 0) continue;
      by_strategy[std::string(transport::to_string(all_strategies[i]))] = {
          {"chats_due", w.chats_due},
          {"chats_sent", w.chats_sent},
          {"sends_skipped", w.sends_skipped},
          {"deliveries", w.deliveries},
          {"deliveries_per_s", measured_s > 0 ? static_cast<double>(w.deliveries) / measured_s : 0.0},
          {"fanout_corrected", w.fanout_corrected.summary_json()},
          {"disconnects", w.disconnects},
          {"recovery", w.recovery.summary_json()}};
    }
    auto const& counts = k < delivery.by_window.size() ? delivery.by_window[k] : metrics::delivery_counts{};
    json window = {{"from_s", metrics::to_seconds(from - sched.t0)},
                   {"to_s", k + 1 < windows.size() ? json(metrics::to_seconds(to - sched.t0)) : json(nullptr)},
                   {"profile", plan[k].profile},
                   {"role", plan[k].role},
                   {"measured_s", measured_s},
                   {"delivery", metrics::counts_json(counts)},
                   {"verdict", metrics::judge(counts).to_json()},
                   {"by_strategy", by_strategy}};
    window["delivery"].erase("unexpected");  // not split by window (delivery_report::by_window)
    out.push_back(std::move(window));
  }
  return out;
}

}  // namespace

json run_case(scenario const& s, case_spec const& c, endpoint const& at, server_process server,
              std::function<void(progress const&)> const& on_progress, run_options const& options) {
  std::mt19937_64 rng(s.seed ^ std::hash<std::string>{}(c.name));
  auto const rooms = assign_rooms(c, rng);
  auto strategies = assign_strategies(c);
  std::shuffle(strategies.begin(), strategies.end(), rng);

  schedule const sched =
      make_schedule(s.timing, options.start.value_or(clock::now() + std::chrono::milliseconds{50}), options.fault_windows);

  metrics::delivery_ledger ledger;
  std::vector<std::unique_ptr<worker>> workers;
  for (int w = 0; w < s.generator.threads; ++w)
    workers.push_back(
        std::make_unique<worker>(s, c, at, sched, static_cast<std::uint32_t>(c.rooms.count), rng(), ledger));
  std::vector<std::vector<std::size_t>> trace_of(static_cast<std::size_t>(c.clients));
  for (std::size_t k = 0; k < c.trace.size(); ++k) trace_of[c.trace[k].client].push_back(k);
  for (std::size_t i = 0; i < static_cast<std::size_t>(c.clients); ++i)
    workers[i % workers.size()]->add_client(static_cast<std::uint32_t>(i), strategies[i], rooms[i],
                                            connect_time(sched, s.timing, i, c.clients), std::move(trace_of[i]));

  auto const sample_server = [&] {
    return server.pid ? metrics::sample_process(server.pid).value_or(metrics::process_usage{}) : metrics::process_usage{};
  };
  metrics::process_usage const self_before = metrics::sample_self();
  metrics::process_usage const server_baseline = sample_server();
  for (auto& w : workers) w->start();

  // The coordinator sleeps until each phase boundary, reporting progress and sampling CPU and RSS on the way.
  metrics::process_usage self_at_measure, server_at_measure, self_at_end, server_at_end;
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
  metrics::rss_series server_rss;
  auto next_tick = sched.t0;
  auto const seconds_since_t0 = [&](clock::time_point t) { return std::chrono::duration<double>(t - sched.t0).count(); };
  auto sleep_until = [&](clock::time_point until, char const* phase) {
    while (clock::now() < until) {
      std::this_thread::sleep_until(std::min(until, next_tick));
      if (clock::now() >= next_tick) {
        if (server.pid)
          if (auto const u = metrics::sample_process(server.pid)) server_rss.add(seconds_since_t0(u->at), u->rss_bytes / 1024);
        // A late wake-up skips the seconds it missed rather than sampling them all at once.
        while (next_tick <= clock::now()) next_tick += std::chrono::seconds{1};
      }
      report(phase);
    }
  };
  sleep_until(sched.traffic_start, "connect");
  sleep_until(sched.measure_start, "warm-up");
  self_at_measure = metrics::sample_self();
  server_at_measure = sample_server();
  sleep_until(sched.measure_end, "measure");
  self_at_end = metrics::sample_self();
  server_at_end = sample_server();
  sleep_until(sched.drain_end, "drain");
  for (auto& w : workers) w->finish();

  // Merge the workers' recorders.
  std::array<strategy_metrics, strategy_count> by_strategy;
  metrics::interval_series series(sched.measure_start, std::chrono::seconds{1});
  metrics::histogram send_lag;
  std::uint64_t late = 0;
  std::optional<std::pair<clock::time_point, std::uint32_t>> first_join;
  json timelines = json::array();
  std::map<std::uint64_t, std::size_t> strategy_of;  // client id -> strategy slot
  std::vector<std::array<window_metrics, strategy_count>> windows(sched.window_starts.size());
  for (auto& w : workers) {
    for (std::size_t k = 0; k < windows.size(); ++k)
      for (std::size_t i = 0; i < strategy_count; ++i) windows[k][i].merge(w->windows()[k][i]);
    for (std::size_t i = 0; i < strategy_count; ++i) by_strategy[i].merge(w->by_strategy()[i]);
    series.merge(w->series());
    send_lag.merge(w->send_lag());
    ledger.add(std::move(w->ledger()));
    late += w->late_sends();
    if (auto const fj = w->first_join(); fj && (!first_join || fj->first < first_join->first)) first_join = fj;
    for (auto& t : w->timelines()) timelines.push_back(std::move(t));
    w->strategies_of(strategy_of);
  }
  // A chat sent just before a receiver's leave may reach the server after it (another connection,
  // a late send): the generator's lag bound is the grace within which it is not expected.
  metrics::reconcile_options reconcile;
  reconcile.leave_grace = s.generator.max_lag;
  reconcile.windows_from = sched.window_starts;
  auto const delivery = ledger.reconcile(reconcile);
  // The ledger's counts per strategy of the receiver: in a case mixing strategies, which of them lost.
  std::array<metrics::delivery_counts, strategy_count> delivery_by_strategy{};
  for (auto const& r : delivery.receivers)
    if (auto const it = strategy_of.find(r.receiver); it != strategy_of.end()) delivery_by_strategy[it->second] += r.counts;

  strategy_metrics total;
  for (auto const& m : by_strategy) total.merge(m);
  double const measure_s = std::chrono::duration<double>(s.timing.measure).count();

  json run;
  run["case"] = c.name;
  json mix = json::object();
  for (auto const& [st, w] : c.mix) mix[std::string(transport::to_string(st))] = w;
  run["config"] = {{"clients", c.clients},
                   {"strategies", mix},
                   {"rooms", c.rooms.count},
                   {"room_distribution", c.rooms.zipf_exponent > 0 ? "zipf" : "uniform"},
                   {"zipf_exponent", c.rooms.zipf_exponent},
                   {"rate_per_client_hz", c.rate_per_client_hz},
                   {"message_bytes", {c.message_bytes_min, c.message_bytes_max}},
                   {"churn_per_client_per_min", c.churn_per_client_per_min},
                   {"reconnect", c.reconnect},
                   {"recovery_window_ms", c.recovery_window.count()},
                   {"connect_timeout_ms", c.connect_timeout.count()},
                   {"websocket_timeout_ms", c.websocket_timeout.count()},
                   {"race_stagger_ms", c.race_stagger.count()},
                   {"trace", c.trace_file},
                   {"trace_events", c.trace.size()},
                   {"fault", c.fault},
                   {"fault_schedule", c.fault_schedule},
                   {"generator_threads", s.generator.threads},
                   {"phases_s",
                    {{"connect_ramp", std::chrono::duration<double>(s.timing.connect_ramp).count()},
                     {"warmup", std::chrono::duration<double>(s.timing.warmup).count()},
                     {"measure", measure_s},
                     {"drain", std::chrono::duration<double>(s.timing.drain).count()}}}};
  run["counts"] = {{"clients", total.clients},
                   {"clients_connected", total.clients_connected},
                   {"chats_sent", total.chats_sent},
                   {"chats_measured", total.chats_measured},
                   {"deliveries", total.deliveries},
                   {"deliveries_measured", total.deliveries_measured},
                   {"acks_ok", total.acks_ok},
                   {"acks_rejected", total.acks_rejected},
                   {"acks_failed", total.acks_failed},
                   {"disconnects", total.disconnects},
                   {"joins_sent", total.joins_sent},
                   {"joins_confirmed", total.joins_confirmed}};
  run["throughput"] = {{"deliveries_per_s", static_cast<double>(total.deliveries_measured) / measure_s},
                       {"chats_per_s", static_cast<double>(total.chats_measured) / measure_s}};
  run["latency"] = {{"fanout_corrected", histogram_json(total.fanout_corrected)},
                    {"fanout_uncorrected", histogram_json(total.fanout_uncorrected)},
                    {"ack", histogram_json(total.ack)},
                    {"own_copy", histogram_json(total.own_copy)}};
  json strategies_json = json::object();
  for (std::size_t i = 0; i < strategy_count; ++i) {
    auto const& m = by_strategy[i];
    if (m.clients == 0) continue;
    auto const per_delivery = [&](std::uint64_t v) {
      return m.deliveries > 0 ? static_cast<double>(v) / static_cast<double>(m.deliveries) : 0.0;
    };
    strategies_json[std::string(transport::to_string(all_strategies[i]))] = {
        {"clients", m.clients},
        {"clients_connected", m.clients_connected},
        {"reconnections", m.reconnections},
        {"deliveries", m.deliveries},
        {"latency", {{"fanout_corrected", histogram_json(m.fanout_corrected)},
                     {"fanout_uncorrected", histogram_json(m.fanout_uncorrected)},
                     {"ack", histogram_json(m.ack)},
                     {"own_copy", histogram_json(m.own_copy)}}},
        {"ttfm", histogram_json(m.ttfm)},
        {"handshake", histogram_json(m.handshake)},
        {"connected", histogram_json(m.connected)},
        {"upgrade", histogram_json(m.upgrade)},
        {"fallback", histogram_json(m.fallback)},
        {"recovery", histogram_json(m.recovery)},
        {"upgrades_failed", m.upgrades_failed},
        {"fallbacks", m.fallbacks},
        {"wire",
         {{"bytes_sent", m.wire.bytes_sent},
          {"bytes_received", m.wire.bytes_received},
          {"http_requests", m.wire.http_requests},
          {"ws_frames_sent", m.wire.ws_frames_sent},
          {"ws_frames_received", m.wire.ws_frames_received},
          {"tcp_connections", m.wire.tcp_connections},
          {"tls_handshakes", m.wire.tls_handshakes},
          {"tls_resumed", m.wire.tls_resumed},
          {"bytes_per_delivery", per_delivery(m.wire.bytes_sent + m.wire.bytes_received)},
          {"requests_per_delivery", per_delivery(m.wire.http_requests)}}},
        {"errors", m.errors.by_name()},
        {"delivery", metrics::counts_json(delivery_by_strategy[i])}};
    if (c.recovery_window.count() > 0)
      strategies_json[std::string(transport::to_string(all_strategies[i]))]["state_recovery"] = {
          {"recovered", m.sessions_recovered},
          {"not_recovered", m.sessions_not_recovered},
          {"replayed", delivery_by_strategy[i].replayed}};
  }
  run["by_strategy"] = strategies_json;
  run["timeseries"] = series.to_json();
  if (!windows.empty()) run["fault_windows"] = fault_windows_json(options.fault_windows, windows, delivery, sched);
  json delivery_json = delivery.to_json();
  delivery_json.erase("by_window");  // in fault_windows
  std::size_t receivers_with_loss = 0;
  for (auto const& r : delivery.receivers) receivers_with_loss += r.counts.lost > 0 ? 1 : 0;
  delivery_json.erase("receivers");  // per-receiver detail stays out of the document: it grows with clients
  delivery_json["receivers"] = delivery.receivers.size();
  delivery_json["receivers_with_loss"] = receivers_with_loss;
  delivery_json["verdict"] = metrics::judge(delivery.total).to_json();
  run["delivery"] = delivery_json;
  run["timelines"] = timelines;

  // Cost: CPU over the measure phase, peak RSS over the run.
  auto const cpu = [](metrics::process_usage const& a, metrics::process_usage const& b) {
    return metrics::to_seconds(b.cpu() - a.cpu());
  };
  double const gen_cpu = cpu(self_at_measure, self_at_end);
  // Pinned to fewer CPUs than it has threads, the generator is saturated once those CPUs are busy.
  int const lanes = s.generator.cpus.empty() ? s.generator.threads
                                             : std::min(s.generator.threads, static_cast<int>(s.generator.cpus.size()));
  double const gen_util = gen_cpu / (measure_s * lanes);
  json cost;
  auto const per_client = [&](std::int64_t grown) {
    return total.clients_connected > 0 ? static_cast<double>(grown) / static_cast<double>(total.clients_connected) : 0.0;
  };
  cost["generator"] = {{"cpu_s", gen_cpu},
                       {"utilisation_per_thread", gen_util},
                       {"peak_rss_bytes", self_at_end.peak_rss_bytes},
                       {"rss_per_client_bytes", per_client(self_at_measure.rss_bytes - self_before.rss_bytes)}};
  if (server.pid) {
    double const server_cpu = cpu(server_at_measure, server_at_end);
    cost["server"] = {{"cpu_s", server_cpu},
                      {"peak_rss_bytes", server_at_end.peak_rss_bytes},
                      {"rss_bytes", server_at_measure.rss_bytes},
                      {"rss_per_client_bytes", per_client(server_at_measure.rss_bytes - server_baseline.rss_bytes)},
                      {"deliveries_per_cpu_s", server_cpu > 0 ? static_cast<double>(total.deliveries_measured) / server_cpu : 0.0}};
  }
  run["cost"] = cost;
  if (server.pid)
    run["rss"] = server_rss.to_json(1.0, seconds_since_t0(sched.measure_start), seconds_since_t0(sched.measure_end));

  // Validity: a run whose generator fell behind or saturated, or which failed too often, is not a result.
  json reasons = json::array();
  auto const lag_p99 = send_lag.value_at_percentile(99.0);
  bool const behind = lag_p99 > to_us(s.generator.max_lag);
  bool const saturated = gen_util > s.generator.max_cpu_utilisation;
  run["generator"] = {{"send_lag", histogram_json(send_lag)}, {"late_sends", late}, {"max_lag_ms", s.generator.max_lag.count()},
                      {"fell_behind", behind}, {"saturated", saturated}};
  if (behind)
    reasons.push_back("generator fell behind: p99 send lag " + std::to_string(lag_p99 / 1000) + " ms > " +
                      std::to_string(s.generator.max_lag.count()) + " ms");
  if (saturated)
    reasons.push_back("generator saturated: " + std::to_string(static_cast<int>(gen_util * 100)) + "% CPU per thread");
  // Under an injected fault, failures are the measurement, not a broken run: only the generator's
  // own health decides validity then.
  bool const faulty = !c.fault.empty() || !c.fault_schedule.empty();
  auto const failures = (total.clients - total.clients_connected) + total.acks_failed + total.acks_rejected;
  auto const operations = total.clients + total.chats_sent;
  if (!faulty && operations > 0 &&
      static_cast<double>(failures) / static_cast<double>(operations) > s.generator.error_budget)
    reasons.push_back("over the error budget: " + std::to_string(failures) + " failed of " + std::to_string(operations));
  // A run that measured nothing says what it waited for (docs/targets.md), so a server speaking
  // another dialect is told apart from a broken one.
  auto const& ev = at.events;
  auto const seconds_since = [&](clock::time_point from) {
    return std::to_string(std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(sched.measure_end - from).count()));
  };
  if (!faulty && total.clients > 0 && total.clients_connected == 0) {
    std::string top;
    std::uint64_t most = 0;
    for (auto const& [name, n] : total.errors.by_name())
      if (n > most) std::tie(top, most) = std::tie(name, n);
    reasons.push_back("no client connected" + (top.empty() ? std::string{} : " (" + top + ")"));
  } else if (!faulty && total.joins_sent > 0 && total.joins_confirmed == 0 && first_join) {
    reasons.push_back("no join confirmed (waited " + seconds_since(first_join->first) + " s for " + ev.confirm_text() +
                      " of room r" + std::to_string(first_join->second) + ")");
  } else if (!faulty && total.deliveries_measured == 0 && c.rate_per_client_hz > 0) {
    std::string why = "no delivery was measured";
    if (!ev.is_default())
      why += " (waited for '" + ev.delivery_event + "' events carrying the harness's tag " +
             (ev.tag == chatproto::tag_place::text ? "as a fb1: prefix of their text" : "as fields k, q, t, a") + ")";
    reasons.push_back(why);
  }
  run["valid"] = reasons.empty();
  run["invalid_reasons"] = reasons;
  return run;
}

}  // namespace fallbench::bench
