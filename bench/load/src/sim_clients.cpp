#include "sim_clients.hpp"

#include "fallbench/metrics/clock.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cmath>
#include <future>

namespace fallbench::bench {

namespace net = boost::asio;
using json = nlohmann::json;
using metrics::clock;
using metrics::to_us;
using transport::strategy;

worker::worker(scenario const& s, case_spec const& c, endpoint const& at, schedule const& sched, std::uint32_t rooms,
       std::uint64_t seed, metrics::delivery_ledger& streams)
    : s_(s), c_(c), at_(at), sched_(sched), rooms_(rooms), rng_(seed), streams_(streams),
      work_(net::make_work_guard(ioc_)), series_(sched.measure_start, std::chrono::seconds{1}),
      windows_(sched.window_starts.size()) {
  std::uint32_t longest = c_.message_bytes_max;
  for (auto const& e : c_.trace) longest = std::max(longest, e.bytes);
  filler_.assign(longest, 'x');
  chat_buffer_.reserve(longest + 512);  // the longest chat and its tags: send_chat never grows it
}

void worker::add_client(std::uint32_t id, strategy strat, std::uint32_t room, clock::time_point connect_at,
                std::vector<std::size_t> trace_events) {
  auto& sc = clients_.emplace_back(std::make_unique<sim_client>());
  sc->trace_events = std::move(trace_events);
  sc->owner = this;
  sc->id = id;
  sc->strat = strat;
  sc->room = room;
  sc->next_send = connect_at;  // reused as the connect instant until traffic starts
  auto const phase = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  if (c_.rate_per_client_hz > 0)
    sc->send_origin = connect_at + std::chrono::nanoseconds{static_cast<std::int64_t>(phase * period_ns())};
}

void worker::start() {
  thread_ = std::thread([this] {
    for (auto& sc : clients_) schedule_connect(*sc);
    ioc_.run();
  });
}

void worker::finish() {
  std::promise<void> closed;
  net::post(ioc_, [&] {
    for (auto& sc : clients_) {
      if (sc->send_timer) sc->send_timer->cancel();
      if (sc->churn_timer) sc->churn_timer->cancel();
      if (sc->client) {
        if (sc->joined) {
          ledger_.left(sc->id, sc->room, clock::now());
          emit_leave(*sc, sc->room);
          // The leave ended the membership: the close below is no lost session.
          sc->joined = false;
        }
        for (auto const room : sc->trace_rooms) {
          ledger_.left(sc->id, room, clock::now());
          emit_leave(*sc, room);
        }
        sc->trace_rooms.clear();
        collect_wire(*sc);
        sc->client->close();
      }
    }
    // Let the close packets go out, then stop whatever is left (reconnect timers, lingering reads).
    // The timer is armed before the work guard goes, so the loop cannot run dry and return first.
    stop_timer_.expires_after(std::chrono::milliseconds{200});
    stop_timer_.async_wait([this](boost::system::error_code) { ioc_.stop(); });
    closed.set_value();
  });
  closed.get_future().wait();
  work_.reset();
  thread_.join();
}

progress worker::snapshot() const {
  progress p;
  p.connected = connected_.load(std::memory_order_relaxed);
  p.chats_sent = sent_.load(std::memory_order_relaxed);
  p.deliveries = delivered_.load(std::memory_order_relaxed);
  p.errors = errors_.load(std::memory_order_relaxed);
  return p;
}

std::string worker::leave_args(sim_client const& sc, std::uint32_t room) const {
  std::string text;
  chatproto::append_leave(events_, room_name(room), client_name(sc.id), text);
  return text;
}
void worker::emit_leave(sim_client& sc, std::uint32_t room) { sc.client->emit(events_.leave_event, leave_args(sc, room)); }

void worker::schedule_connect(sim_client& sc) {
  sc.send_timer = std::make_unique<net::steady_timer>(ioc_);
  sc.send_timer->expires_at(sc.next_send);
  sc.send_timer->async_wait([this, &sc](boost::system::error_code ec) {
    if (!ec) connect(sc);
  });
}

transport::client_options client_options_for(endpoint const& at, case_spec const& c, strategy strat) {
  transport::client_options o;
  transport::server_url where;
  where.host = at.host;
  where.port = at.port;
  where.path = at.path;
  where.query = at.query;
  where.tls = at.tls;
  transport::apply_target(where, at.settings, o);
  o.path = at.path;
  o.strat = strat;
  o.connect_timeout = c.connect_timeout;
  o.websocket_timeout = c.websocket_timeout;
  o.race_stagger = c.race_stagger;
  return o;
}

void worker::connect(sim_client& sc) {
  auto o = client_options_for(at_, c_, sc.strat);
  o.seed = rng_();
  if (at_.distinct_sources)
    o.local_address = "127.1." + std::to_string(sc.id / 250) + "." + std::to_string(sc.id % 250 + 1);
  o.recovery = recovery_on();
  if (c_.reconnect) {
    o.reconnect = true;
    o.reconnect_delay = std::chrono::milliseconds{200};
    o.reconnect_delay_max = std::chrono::milliseconds{2000};
  }
  sc.client = transport::client::create(ioc_.get_executor(), o);
  ++m(sc).clients;
  sc.connect_started = sc.session_started = clock::now();
  sc.client->on_transition([this, &sc](transport::transition const& t) { on_transition(sc, t); });
  sc.client->on_connect([this, &sc] { on_connected(sc); });
  sc.client->on_disconnect([this, &sc](error_code ec) {
    auto const now = clock::now();
    ++m(sc).disconnects;
    if (auto* w = wm(sc, now); w && sched_.measured(now)) ++w->disconnects;
    if (ec != transport::client_error::client_close) count_session_error(sc, sc.client->last_error_name());
    sc.pending_joins.clear();
    // A lost session ends the membership: what is sent to the room meanwhile is not expected
    // here, but missed (the ledger counts it apart) until the client is back and joins again.
    // With recovery on the ledger learns at the reconnection whether the membership went on after all.
    if (sc.joined) ledger_.disconnected(sc.id, sc.room, now);
    for (auto const room : sc.trace_rooms) ledger_.disconnected(sc.id, room, now);
    if (recovery_on()) {
      if (sc.joined) sc.away_rooms.push_back(sc.room);
      sc.away_rooms.insert(sc.away_rooms.end(), sc.trace_rooms.begin(), sc.trace_rooms.end());
    }
    sc.trace_rooms.clear();
    sc.joined = false;
    // Recovery counts from the session's loss: a failed reconnection attempt ends here too and must
    // not move that instant; a client that never connected has no session to recover.
    if (sc.ever_connected && !sc.lost_at) sc.lost_at = now;
  });
  sc.client->on_event([this, &sc](std::string_view event, std::string_view args) { on_event(sc, event, args); });
  sc.client->connect();
}

void worker::on_transition(sim_client& sc, transport::transition const& t) {
  // Handshake, upgrade and fall-back times count from the start of their own session, so a
  // reconnection's upgrade is not measured from the client's first connect.
  if (t.event == transport::client_event::connecting) sc.session_started = t.at;
  auto const since = to_us(t.at - sc.session_started);
  auto& sm = m(sc);
  switch (t.event) {
    case transport::client_event::handshake_done: sm.handshake.record(since); break;
    case transport::client_event::upgraded: sm.upgrade.record(since); break;
    case transport::client_event::upgrade_failed: ++sm.upgrades_failed; break;
    case transport::client_event::race_won:
      // A race that polling won is the race's fallback; one that WebSocket won is not.
      if (t.detail != "polling") break;
      [[fallthrough]];
    case transport::client_event::fell_back:
      ++sm.fallbacks;
      sm.fallback.record(since);
      break;
    case transport::client_event::namespace_connected:
      if (sc.lost_at) {
        sm.recovery.record(to_us(t.at - *sc.lost_at));
        if (auto* w = wm(sc, *sc.lost_at)) w->recovery.record(to_us(t.at - *sc.lost_at));
      }
      sc.lost_at.reset();
      break;
    default: break;
  }
}

void worker::on_connected(sim_client& sc) {
  auto& sm = m(sc);
  if (sc.ever_connected) {
    ++sm.reconnections;
    if (recovery_on()) ++(sc.client->recovered() ? sm.sessions_recovered : sm.sessions_not_recovered);
  } else {
    sc.ever_connected = true;
    ++sm.clients_connected;
    connected_.fetch_add(1, std::memory_order_relaxed);
    sm.connected.record(to_us(clock::now() - sc.connect_started));
  }
  auto const away = std::exchange(sc.away_rooms, {});
  if (sc.client->recovered() && !away.empty()) {
    // Recovered: still in its rooms, so it does not join again (as docs/recovery.md tells an app),
    // and the chats sent into them meanwhile are replayed: the ledger expects them after all. The
    // send schedule kept running while it was away (its sends skipped), and resumes now.
    auto const now = clock::now();
    for (auto const room : away) {
      ledger_.recovered(sc.id, room, now);
      if (c_.trace.empty())
        sc.joined = true;
      else
        sc.trace_rooms.insert(room);
    }
    return;
  }
  if (!c_.trace.empty()) {
    // Trace mode: the client does what its lines say, when they say (from the connect ramp's end).
    if (sc.trace_next == 0) arm_trace(sc);
    return;
  }
  join(sc, sc.room, [this, &sc] {
    sc.joined = true;
    start_sending(sc);
  });
}

void worker::arm_trace(sim_client& sc) {
  if (sc.trace_next >= sc.trace_events.size()) return;
  auto const& e = c_.trace[sc.trace_events[sc.trace_next]];
  auto const intended = sched_.traffic_start + e.at;
  sc.send_timer->expires_at(intended);
  sc.send_timer->async_wait([this, &sc, intended](boost::system::error_code ec) {
    if (ec) return;
    auto const& ev = c_.trace[sc.trace_events[sc.trace_next++]];
    switch (ev.what) {
      case trace_event::kind::join:
        if (sc.client->connected() && !sc.trace_rooms.contains(ev.room)) {
          auto const room = ev.room;
          join(sc, room, [&sc, room] { sc.trace_rooms.insert(room); });
        }
        break;
      case trace_event::kind::leave:
        if (sc.trace_rooms.erase(ev.room) > 0) {
          ledger_.left(sc.id, ev.room, clock::now());
          emit_leave(sc, ev.room);
        }
        break;
      case trace_event::kind::chat: send_chat(sc, ev.room, intended, ev.bytes); break;
    }
    arm_trace(sc);
  });
}

void worker::join(sim_client& sc, std::uint32_t room, std::function<void()> then) {
  auto const id = ++join_ids_;
  sc.pending_joins.push_back({room, id, std::move(then)});
  ++m(sc).joins_sent;
  if (!first_join_) first_join_ = std::make_pair(clock::now(), room);
  std::string args;
  chatproto::append_join(events_, room_name(room), client_name(sc.id), args);
  using chatproto::join_confirm;
  if (events_.confirm == join_confirm::ack || events_.confirm == join_confirm::ack_or_echo) {
    sc.client->emit(events_.join_event, args, [this, &sc, id](error_code ec, std::string_view) {
      if (!ec) confirm_join(sc, id);
    });
  } else {
    sc.client->emit(events_.join_event, args);
  }
  if (events_.confirm == join_confirm::settle) {
    auto timer = std::make_shared<net::steady_timer>(ioc_, events_.settle);
    timer->async_wait([this, &sc, id, timer](boost::system::error_code ec) {
      if (!ec) confirm_join(sc, id);
    });
  }
}

void worker::confirm_join(sim_client& sc, std::uint64_t id) {
  auto const it = std::find_if(sc.pending_joins.begin(), sc.pending_joins.end(), [&](auto const& p) { return p.id == id; });
  if (it == sc.pending_joins.end()) return;  // confirmed already (ack and echo), or the session ended
  auto const pending = std::move(*it);
  sc.pending_joins.erase(it);
  ++m(sc).joins_confirmed;
  ledger_.joined(sc.id, pending.room, clock::now());
  pending.then();
}

void worker::start_sending(sim_client& sc) {
  if (c_.rate_per_client_hz <= 0 || !sc.send_timer) return;
  // A client chats from its join on (so a late joiner's time to first message is real), on its own
  // grid: its phase keeps clients from beating in step, and a grid fixed before the run keeps one
  // client's slow join from moving when the others in its room first hear from it.
  auto const period = std::chrono::nanoseconds{static_cast<std::int64_t>(period_ns())};
  auto const now = clock::now();
  sc.next_send = sc.send_origin;
  if (sc.next_send < now && period.count() > 0) sc.next_send += ((now - sc.next_send) / period + 1) * period;
  arm_send(sc);
  if (c_.churn_per_client_per_min > 0 && !sc.churn_timer) {
    sc.churn_timer = std::make_unique<net::steady_timer>(ioc_);
    arm_churn(sc);
  }
}

double worker::period_ns() const { return 1e9 / c_.rate_per_client_hz; }

void worker::arm_send(sim_client& sc) {
  if (sc.next_send >= sched_.measure_end) return;
  sc.send_timer->expires_at(sc.next_send);
  sc.send_timer->async_wait([this, &sc](boost::system::error_code ec) {
    if (ec) return;
    send_chat(sc, sc.room, sc.next_send, 0);
    // Open loop: the next send is due one period after the last intended one, however late this
    // one went out; a late generator catches up instead of stretching the schedule (wrk2).
    sc.next_send += std::chrono::nanoseconds{static_cast<std::int64_t>(period_ns())};
    arm_send(sc);
  });
}

void worker::send_chat(sim_client& sc, std::uint32_t room, clock::time_point intended, std::uint32_t fixed_bytes) {
  auto const now = clock::now();
  auto const lag = now - intended;
  send_lag_.record(to_us(lag));
  if (lag > s_.generator.max_lag) ++late_sends_;
  bool const measured = sched_.measured(intended);
  auto* w = measured ? wm(sc, intended) : nullptr;
  if (w) ++w->chats_due;
  bool const member = c_.trace.empty() ? sc.joined : sc.trace_rooms.contains(room);
  if (!member || !sc.client->connected()) {
    count_error(sc, c_.trace.empty() ? client_error_kind::send_not_connected : client_error_kind::send_not_in_room);
    if (w) ++w->sends_skipped;
    return;
  }
  if (w) ++w->chats_sent;
  auto stream_it = sc.streams.find(room);
  if (stream_it == sc.streams.end())
    stream_it = sc.streams.emplace(room, std::make_pair(streams_.register_stream(sc.id, room), std::uint64_t{0})).first;
  auto const stream = stream_it->second.first;
  auto const seq = stream_it->second.second++;
  std::uint32_t bytes = fixed_bytes > 0 ? fixed_bytes : c_.message_bytes_min;
  if (fixed_bytes == 0 && c_.message_bytes_max > c_.message_bytes_min) {
    std::uniform_int_distribution<std::uint32_t> size(c_.message_bytes_min, c_.message_bytes_max);
    bytes = size(rng_);
  }
  // The worker's buffer keeps its capacity, and the client copies the text into its write: a chat
  // allocates nothing once the buffers have grown (relay_benchmarks' generator_send counts it).
  auto& text = chat_buffer_;
  text.clear();
  chatproto::append_tagged_chat(events_, room_name(room), client_name(sc.id), std::string_view(filler_).substr(0, bytes),
                                chatproto::harness_tags{static_cast<std::int64_t>(stream), static_cast<std::int64_t>(seq),
                                                        sched_.ns(intended), sched_.ns(now)},
                                text);
  auto& sm = m(sc);
  ++sm.chats_sent;
  if (measured) ++sm.chats_measured;
  sent_.fetch_add(1, std::memory_order_relaxed);
  ledger_.sent(stream, seq, intended);
  if (!events_.chat_acked) {
    sc.client->emit(events_.chat_event, text);
    return;
  }
  // Two words of capture (the client and the intended time) fit in std::function's own storage.
  sc.client->emit(events_.chat_event, text, [&sc, intended](error_code ec, std::string_view args) {
    auto& self = *sc.owner;
    auto& am = self.m(sc);
    if (ec) {
      ++am.acks_failed;
      return;
    }
    // Our protocol's ack says {ok}; another dialect's ack has its own shape: its arrival is the answer.
    chatproto::ack answer;
    if (!self.events_.chat_args &&
        (chatproto::decode_ack(args, answer) != chatproto::decode_error::none || !answer.ok)) {
      ++am.acks_rejected;
      return;
    }
    ++am.acks_ok;
    if (self.sched_.measured(intended)) am.ack.record(to_us(clock::now() - intended));
  });
}

void worker::on_event(sim_client& sc, std::string_view event, std::string_view args) {
  if (!sc.pending_joins.empty() && event == events_.echo_event &&
      (events_.confirm == chatproto::join_confirm::echo || events_.confirm == chatproto::join_confirm::ack_or_echo)) {
    for (auto const& p : sc.pending_joins) {
      if (chatproto::is_join_echo(events_, chat_decoder_, args, room_name(p.room), client_name(sc.id))) {
        confirm_join(sc, p.id);
        return;
      }
    }
  }
  if (event != events_.delivery_event) return;
  auto const now = clock::now();
  chatproto::harness_tags tags;
  if (!chatproto::read_delivery_tags(events_, chat_decoder_, args, tags)) {
    count_error(sc, client_error_kind::untagged_delivery);
    return;
  }
  auto const [stream, seq, intended, actual] = tags;
  auto& sm = m(sc);
  ++sm.deliveries;
  delivered_.fetch_add(1, std::memory_order_relaxed);
  auto& seen = sc.seen(stream);
  if (!seen.logged) seen.logged = ledger_.pair_of(sc.id, static_cast<metrics::stream_id>(stream));
  ledger_.received(seen.logged, static_cast<std::uint64_t>(seq), now);
  if (!sc.first_chat_seen) {
    sc.first_chat_seen = true;
    sm.ttfm.record(to_us(now - sc.connect_started));
  }
  // Uncorrected latency is what a closed-loop generator would report: it would have sent this chat
  // only once the previous one of its stream had arrived, so it measures from the later of the
  // actual send and that arrival, and a stall shows in one sample per stream instead of in every
  // chat intended during it (coordinated omission). Corrected latency measures from the intended time.
  auto const uncorrected_from = std::max(sched_.at(actual), seen.last_arrival);
  seen.last_arrival = now;
  auto const intended_at = sched_.at(intended);
  if (!sched_.measured(intended_at)) return;
  ++sm.deliveries_measured;
  sm.fanout_corrected.record(to_us(now - intended_at));
  // The sender's own copy: over polling it comes in the same response as the ack (the server corks
  // them), so the two should take the same time.
  for (auto const& [room, own] : sc.streams)
    if (own.first == static_cast<metrics::stream_id>(stream)) sm.own_copy.record(to_us(now - intended_at));
  if (auto* w = wm(sc, intended_at)) {
    ++w->deliveries;
    w->fanout_corrected.record(to_us(now - intended_at));
  }
  sm.fanout_uncorrected.record(to_us(now - uncorrected_from));
  series_.record(now, to_us(now - intended_at));
}

void worker::arm_churn(sim_client& sc) {
  std::exponential_distribution<double> gap(c_.churn_per_client_per_min / 60.0);
  sc.churn_timer->expires_after(std::chrono::milliseconds{static_cast<std::int64_t>(gap(rng_) * 1000.0)});
  sc.churn_timer->async_wait([this, &sc](boost::system::error_code ec) {
    if (ec || clock::now() >= sched_.measure_end) return;
    if (sc.joined && sc.client->connected()) churn(sc);
    arm_churn(sc);
  });
}

void worker::churn(sim_client& sc) {
  // Join the new room first and switch sends there once the join is acked, then leave the old one:
  // the client is never out of a room, so every send has a room it belongs to.
  std::uniform_int_distribution<std::uint32_t> pick(0, rooms_ - 2);
  auto next = pick(rng_);
  if (next >= sc.room) ++next;
  auto const old_room = sc.room;
  join(sc, next, [this, &sc, next, old_room] {
    if (sc.room != old_room) return;
    sc.room = next;
    ledger_.left(sc.id, old_room, clock::now());
    emit_leave(sc, old_room);
  });
}

void worker::collect_wire(sim_client& sc) {
  m(sc).wire += sc.client->counters();
  // A sample of session timelines for the report: the first clients of each strategy.
  if (timelines_per_strategy_[static_cast<std::size_t>(sc.strat)]++ >= 3) return;
  json events = json::array();
  for (auto const& t : sc.client->transitions())
    events.push_back({{"event", transport::to_string(t.event)}, {"t_ms", static_cast<double>(to_us(t.at - sched_.t0)) / 1000.0}, {"detail", t.detail}});
  timelines_.push_back({{"client", sc.id}, {"strategy", transport::to_string(sc.strat)}, {"events", events}});
}

std::vector<std::uint32_t> assign_rooms(case_spec const& c, std::mt19937_64& rng) {
  std::vector<std::uint32_t> rooms(static_cast<std::size_t>(c.clients));
  auto const n = static_cast<std::uint32_t>(c.rooms.count);
  if (c.rooms.zipf_exponent <= 0) {
    for (std::size_t i = 0; i < rooms.size(); ++i) rooms[i] = static_cast<std::uint32_t>(i % n);
    return rooms;
  }
  std::vector<double> weights(n);
  for (std::uint32_t k = 0; k < n; ++k) weights[k] = 1.0 / std::pow(static_cast<double>(k + 1), c.rooms.zipf_exponent);
  std::discrete_distribution<std::uint32_t> pick(weights.begin(), weights.end());
  // Every room gets at least one member; the rest follow the weights.
  for (std::size_t i = 0; i < rooms.size(); ++i) rooms[i] = i < n ? static_cast<std::uint32_t>(i) : pick(rng);
  return rooms;
}

std::vector<strategy> assign_strategies(case_spec const& c) {
  double total = 0;
  for (auto const& [s, w] : c.mix) total += w;
  std::vector<strategy> out;
  double acc = 0;
  for (auto const& [s, w] : c.mix) {
    acc += w;
    auto const until = static_cast<std::size_t>(std::llround(acc / total * c.clients));
    while (out.size() < until) out.push_back(s);
  }
  while (out.size() < static_cast<std::size_t>(c.clients)) out.push_back(c.mix.rbegin()->first);
  return out;
}

}  // namespace fallbench::bench
