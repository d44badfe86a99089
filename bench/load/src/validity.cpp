#include "validity.hpp"

#include <algorithm>
#include <tuple>

namespace fallbench::bench {

validity judge_validity(validity_inputs const& in) {
  validity v;
  // A run whose generator fell behind or saturated, or which failed too often, is not a result.
  v.fell_behind = in.send_lag_p99_us > metrics::to_us(in.max_lag);
  v.saturated = in.generator_utilisation > in.max_cpu_utilisation;
  if (v.fell_behind)
    v.reasons.push_back("generator fell behind: p99 send lag " + std::to_string(in.send_lag_p99_us / 1000) + " ms > " +
                        std::to_string(in.max_lag.count()) + " ms");
  if (v.saturated)
    v.reasons.push_back("generator saturated: " + std::to_string(static_cast<int>(in.generator_utilisation * 100)) +
                        "% CPU per thread");
  // Under an injected fault, failures are the measurement, not a broken run: only the generator's
  // own health decides validity then.
  bool const faulty = in.fault_injected;
  auto const failures = (in.clients - in.clients_connected) + in.acks_failed + in.acks_rejected;
  auto const operations = in.clients + in.chats_sent;
  if (!faulty && operations > 0 && static_cast<double>(failures) / static_cast<double>(operations) > in.error_budget) {
    // Which failures: a client still connecting when the run ended has no error of its own to name.
    std::string parts;
    auto const part = [&](std::uint64_t n, char const* one, char const* many) {
      if (n == 0) return;
      parts += (parts.empty() ? "" : ", ") + std::to_string(n) + " " + (n == 1 ? one : many);
    };
    part(in.clients - in.clients_connected, "client never connected", "clients never connected");
    part(in.acks_failed, "ack failed", "acks failed");
    part(in.acks_rejected, "ack rejected", "acks rejected");
    v.reasons.push_back("over the error budget: " + std::to_string(failures) + " failed of " +
                        std::to_string(operations) + " (" + parts + ")");
  }
  // A run that measured nothing says what it waited for (docs/targets.md), so a server speaking
  // another dialect is told apart from a broken one.
  auto const& ev = in.events;
  auto const seconds_since = [&](metrics::time_point from) {
    return std::to_string(
        std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(in.measure_end - from).count()));
  };
  if (!faulty && in.clients > 0 && in.clients_connected == 0) {
    // The most frequent error names the cause; on a tie, the first by name.
    std::string top;
    std::uint64_t most = 0;
    for (auto const& [name, n] : in.errors)
      if (n > most) std::tie(top, most) = std::tie(name, n);
    v.reasons.push_back("no client connected" + (top.empty() ? std::string{} : " (" + top + ")"));
  } else if (!faulty && in.joins_sent > 0 && in.joins_confirmed == 0 && in.first_join) {
    v.reasons.push_back("no join confirmed (waited " + seconds_since(in.first_join->first) + " s for " +
                        ev.confirm_text() + " of room r" + std::to_string(in.first_join->second) + ")");
  } else if (!faulty && in.deliveries_measured == 0 && in.rate_per_client_hz > 0) {
    std::string why = "no delivery was measured";
    if (!ev.is_default())
      why += " (waited for '" + ev.delivery_event + "' events carrying the harness's tag " +
             (ev.tag == chatproto::tag_place::text ? "as a fb1: prefix of their text" : "as fields k, q, t, a") + ")";
    v.reasons.push_back(why);
  }
  return v;
}

}  // namespace fallbench::bench
