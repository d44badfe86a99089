#include "result_writer.hpp"

#include "fallbench/transport/client.hpp"

#include <algorithm>
#include <string>

namespace fallbench::bench {

using json = nlohmann::json;
using transport::all_strategies;

namespace {

/// CPU seconds a process spent between two samples.
double cpu_s(metrics::process_usage const& a, metrics::process_usage const& b) { return metrics::to_seconds(b.cpu() - a.cpu()); }

}  // namespace

double generator_cpu_s(cost_samples const& cost) { return cpu_s(cost.self_at_measure, cost.self_at_end); }

double generator_utilisation(cost_samples const& cost, generator_spec const& g, phases const& timing) {
  double const measure_s = std::chrono::duration<double>(timing.measure).count();
  // Pinned to fewer CPUs than it has threads, the generator is saturated once those CPUs are busy.
  int const lanes = g.cpus.empty() ? g.threads : std::min(g.threads, static_cast<int>(g.cpus.size()));
  return generator_cpu_s(cost) / (measure_s * lanes);
}

json histogram_json(metrics::histogram const& h) {
  json j = h.summary_json();
  j["spectrum"] = h.spectrum_json();
  j["hdr"] = h.to_json();
  return j;
}

json fault_windows_json(std::vector<fault_window> const& plan, std::vector<std::array<window_metrics, strategy_count>> const& windows,
                        metrics::delivery_report const& delivery, schedule const& sched) {
  json out = json::array();
  for (std::size_t k = 0; k < windows.size(); ++k) {
    auto const from = sched.window_starts[k];
    auto const to = k + 1 < windows.size() ? sched.window_starts[k + 1] : metrics::time_point::max();
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

json write_run(scenario const& s, case_spec const& c, schedule const& sched, std::vector<fault_window> const& plan,
               case_measurements const& m, validity const& verdict) {
  double const measure_s = std::chrono::duration<double>(c.timing.measure).count();

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
                    {{"connect_ramp", std::chrono::duration<double>(c.timing.connect_ramp).count()},
                     {"warmup", std::chrono::duration<double>(c.timing.warmup).count()},
                     {"measure", measure_s},
                     {"drain", std::chrono::duration<double>(c.timing.drain).count()}}}};
  run["counts"] = {{"clients", m.total.clients},
                   {"clients_connected", m.total.clients_connected},
                   {"chats_sent", m.total.chats_sent},
                   {"chats_measured", m.total.chats_measured},
                   {"deliveries", m.total.deliveries},
                   {"deliveries_measured", m.total.deliveries_measured},
                   {"acks_ok", m.total.acks_ok},
                   {"acks_rejected", m.total.acks_rejected},
                   {"acks_failed", m.total.acks_failed},
                   {"disconnects", m.total.disconnects},
                   {"joins_sent", m.total.joins_sent},
                   {"joins_confirmed", m.total.joins_confirmed}};
  run["throughput"] = {{"deliveries_per_s", static_cast<double>(m.total.deliveries_measured) / measure_s},
                       {"chats_per_s", static_cast<double>(m.total.chats_measured) / measure_s}};
  run["latency"] = {{"fanout_corrected", histogram_json(m.total.fanout_corrected)},
                    {"fanout_uncorrected", histogram_json(m.total.fanout_uncorrected)},
                    {"ack", histogram_json(m.total.ack)},
                    {"own_copy", histogram_json(m.total.own_copy)}};
  json strategies_json = json::object();
  for (std::size_t i = 0; i < strategy_count; ++i) {
    auto const& sm = m.by_strategy[i];
    if (sm.clients == 0) continue;
    auto const per_delivery = [&](std::uint64_t v) {
      return sm.deliveries > 0 ? static_cast<double>(v) / static_cast<double>(sm.deliveries) : 0.0;
    };
    strategies_json[std::string(transport::to_string(all_strategies[i]))] = {
        {"clients", sm.clients},
        {"clients_connected", sm.clients_connected},
        {"reconnections", sm.reconnections},
        {"deliveries", sm.deliveries},
        {"latency", {{"fanout_corrected", histogram_json(sm.fanout_corrected)},
                     {"fanout_uncorrected", histogram_json(sm.fanout_uncorrected)},
                     {"ack", histogram_json(sm.ack)},
                     {"own_copy", histogram_json(sm.own_copy)}}},
        {"ttfm", histogram_json(sm.ttfm)},
        {"handshake", histogram_json(sm.handshake)},
        {"connected", histogram_json(sm.connected)},
        {"upgrade", histogram_json(sm.upgrade)},
        {"fallback", histogram_json(sm.fallback)},
        {"recovery", histogram_json(sm.recovery)},
        {"upgrades_failed", sm.upgrades_failed},
        {"fallbacks", sm.fallbacks},
        {"wire",
         {{"bytes_sent", sm.wire.bytes_sent},
          {"bytes_received", sm.wire.bytes_received},
          {"http_requests", sm.wire.http_requests},
          {"ws_frames_sent", sm.wire.ws_frames_sent},
          {"ws_frames_received", sm.wire.ws_frames_received},
          {"tcp_connections", sm.wire.tcp_connections},
          {"tls_handshakes", sm.wire.tls_handshakes},
          {"tls_resumed", sm.wire.tls_resumed},
          {"bytes_per_delivery", per_delivery(sm.wire.bytes_sent + sm.wire.bytes_received)},
          {"requests_per_delivery", per_delivery(sm.wire.http_requests)}}},
        {"errors", sm.errors.by_name()},
        {"delivery", metrics::counts_json(m.delivery_by_strategy[i])}};
    if (c.recovery_window.count() > 0)
      strategies_json[std::string(transport::to_string(all_strategies[i]))]["state_recovery"] = {
          {"recovered", sm.sessions_recovered},
          {"not_recovered", sm.sessions_not_recovered},
          {"replayed", m.delivery_by_strategy[i].replayed}};
  }
  run["by_strategy"] = strategies_json;
  run["timeseries"] = m.series.to_json();
  if (!m.windows.empty()) run["fault_windows"] = fault_windows_json(plan, m.windows, m.delivery, sched);
  json delivery_json = m.delivery.to_json();
  delivery_json.erase("by_window");  // in fault_windows
  std::size_t receivers_with_loss = 0;
  for (auto const& r : m.delivery.receivers) receivers_with_loss += r.counts.lost > 0 ? 1 : 0;
  delivery_json.erase("receivers");  // per-receiver detail stays out of the document: it grows with clients
  delivery_json["receivers"] = m.delivery.receivers.size();
  delivery_json["receivers_with_loss"] = receivers_with_loss;
  delivery_json["verdict"] = metrics::judge(m.delivery.total).to_json();
  run["delivery"] = delivery_json;
  run["timelines"] = m.timelines;

  // Cost: CPU over the measure phase, peak RSS over the run.
  auto const& cs = m.cost;
  double const gen_cpu = generator_cpu_s(cs);
  double const gen_util = generator_utilisation(cs, s.generator, c.timing);
  json cost;
  auto const per_client = [&](std::int64_t grown) {
    return m.total.clients_connected > 0 ? static_cast<double>(grown) / static_cast<double>(m.total.clients_connected) : 0.0;
  };
  cost["generator"] = {{"cpu_s", gen_cpu},
                       {"utilisation_per_thread", gen_util},
                       {"peak_rss_bytes", cs.self_at_end.peak_rss_bytes},
                       {"rss_per_client_bytes", per_client(cs.self_at_measure.rss_bytes - cs.self_before.rss_bytes)},
                       {"anon_rss_per_client_bytes", per_client(cs.self_at_measure.anon_rss_bytes - cs.self_before.anon_rss_bytes)}};
  if (cs.server_measured) {
    double const server_cpu = cpu_s(cs.server_at_measure, cs.server_at_end);
    cost["server"] = {{"cpu_s", server_cpu},
                      {"peak_rss_bytes", cs.server_at_end.peak_rss_bytes},
                      {"rss_bytes", cs.server_at_measure.rss_bytes},
                      {"rss_per_client_bytes", per_client(cs.server_at_measure.rss_bytes - cs.server_baseline.rss_bytes)},
                      // Without the file pages (code paged in as it first runs), which are not per session.
                      {"anon_rss_per_client_bytes", per_client(cs.server_at_measure.anon_rss_bytes - cs.server_baseline.anon_rss_bytes)},
                      {"primed_sessions", cs.primed_sessions},
                      {"deliveries_per_cpu_s", server_cpu > 0 ? static_cast<double>(m.total.deliveries_measured) / server_cpu : 0.0}};
  }
  run["cost"] = cost;
  if (cs.server_measured)
    run["rss"] = m.server_rss.to_json(1.0, sched.seconds(sched.measure_start), sched.seconds(sched.measure_end));


  run["generator"] = {{"send_lag", histogram_json(m.send_lag)},
                      {"late_sends", m.late_sends},
                      {"max_lag_ms", s.generator.max_lag.count()},
                      {"fell_behind", verdict.fell_behind},
                      {"saturated", verdict.saturated}};
  run["valid"] = verdict.valid();
  run["invalid_reasons"] = verdict.reasons;
  return run;
}

}  // namespace fallbench::bench
