#include "case_metrics.hpp"

namespace fallbench::bench {

std::string_view error_name(client_error_kind kind) noexcept {
  // These names are the keys of the result's `errors` (docs/soak.md quotes one): renaming one changes
  // what readers of older results look for.
  switch (kind) {
    case client_error_kind::send_not_connected: return "send skipped: not connected";
    case client_error_kind::send_not_in_room: return "send skipped: not in the room";
    case client_error_kind::untagged_delivery: return "chat without harness fields";
  }
  return "unknown error";
}

void error_counts::merge(error_counts const& o) {
  for (std::size_t i = 0; i < client_error_kind_count; ++i) by_kind[i] += o.by_kind[i];
  for (auto const& [name, n] : o.session_ended) session_ended[name] += n;
}

std::map<std::string, std::uint64_t> error_counts::by_name() const {
  auto out = session_ended;
  for (std::size_t i = 0; i < client_error_kind_count; ++i)
    if (by_kind[i] > 0) out[std::string(error_name(static_cast<client_error_kind>(i)))] += by_kind[i];
  return out;
}

void strategy_metrics::merge(strategy_metrics const& o) {
  fanout_corrected.merge(o.fanout_corrected);
  fanout_uncorrected.merge(o.fanout_uncorrected);
  ack.merge(o.ack);
  own_copy.merge(o.own_copy);
  ttfm.merge(o.ttfm);
  handshake.merge(o.handshake);
  connected.merge(o.connected);
  upgrade.merge(o.upgrade);
  fallback.merge(o.fallback);
  recovery.merge(o.recovery);
  clients += o.clients;
  clients_connected += o.clients_connected;
  reconnections += o.reconnections;
  sessions_recovered += o.sessions_recovered;
  sessions_not_recovered += o.sessions_not_recovered;
  chats_sent += o.chats_sent;
  chats_measured += o.chats_measured;
  deliveries += o.deliveries;
  deliveries_measured += o.deliveries_measured;
  acks_ok += o.acks_ok;
  acks_rejected += o.acks_rejected;
  acks_failed += o.acks_failed;
  disconnects += o.disconnects;
  upgrades_failed += o.upgrades_failed;
  fallbacks += o.fallbacks;
  joins_sent += o.joins_sent;
  joins_confirmed += o.joins_confirmed;
  wire += o.wire;
  errors.merge(o.errors);
}

void window_metrics::merge(window_metrics const& o) {
  chats_due += o.chats_due;
  chats_sent += o.chats_sent;
  sends_skipped += o.sends_skipped;
  deliveries += o.deliveries;
  disconnects += o.disconnects;
  fanout_corrected.merge(o.fanout_corrected);
  recovery.merge(o.recovery);
}

}  // namespace fallbench::bench
