#include "fallbench/bench/driver.hpp"

#include "fallbench/chatproto/chat.hpp"
#include "fallbench/chatproto/mapping.hpp"

#include "fallbench/metrics/clock.hpp"
#include "fallbench/metrics/delivery_ledger.hpp"
#include "fallbench/metrics/histogram.hpp"
#include "fallbench/metrics/interval_series.hpp"
#include "fallbench/metrics/process_usage.hpp"
#include "fallbench/metrics/rss_series.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

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

namespace net = boost::asio;
using json = nlohmann::json;
using metrics::clock;
using metrics::to_us;
using transport::strategy;

namespace {

using transport::all_strategies;
/// One slot per strategy, indexed by its enum value.
constexpr std::size_t strategy_count = std::size(all_strategies);

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
  std::map<std::string, std::uint64_t> errors;

  void merge(strategy_metrics const& o) {
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
    for (auto const& [k, v] : o.errors) errors[k] += v;
  }
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

  void merge(window_metrics const& o) {
    chats_due += o.chats_due;
    chats_sent += o.chats_sent;
    sends_skipped += o.sends_skipped;
    deliveries += o.deliveries;
    disconnects += o.disconnects;
    fanout_corrected.merge(o.fanout_corrected);
    recovery.merge(o.recovery);
  }
};

/// The run's fixed instants, shared read-only by every worker.
struct schedule {
  clock::time_point t0;             ///< run start: the epoch of every timestamp in messages
  clock::time_point traffic_start;  ///< end of the connect ramp
  clock::time_point measure_start;  ///< end of warm-up
  clock::time_point measure_end;    ///< sends stop
  clock::time_point drain_end;      ///< clients leave and close
  std::vector<clock::time_point> window_starts;  ///< fault windows, increasing; empty without faults
  /// The fault window holding `t` (times before the first belong to it).
  std::size_t window_of(clock::time_point t) const {
    auto const k = std::upper_bound(window_starts.begin(), window_starts.end(), t) - window_starts.begin();
    return static_cast<std::size_t>(std::max<std::ptrdiff_t>(k - 1, 0));
  }
  std::int64_t ns(clock::time_point t) const { return std::chrono::duration_cast<std::chrono::nanoseconds>(t - t0).count(); }
  clock::time_point at(std::int64_t ns_since_t0) const { return t0 + std::chrono::nanoseconds{ns_since_t0}; }
  bool measured(clock::time_point intended) const { return intended >= measure_start && intended < measure_end; }
};

class worker;

/// One simulated chat user: a client, its room, its send schedule.
struct sim_client {
  worker* owner = nullptr;  ///< the worker running it (lets a callback capture only the client)
  std::uint32_t id = 0;
  strategy strat = strategy::upgrade;
  std::uint32_t room = 0;
  std::shared_ptr<transport::client> client;
  std::unique_ptr<net::steady_timer> send_timer;
  std::unique_ptr<net::steady_timer> churn_timer;
  clock::time_point connect_started;  ///< the client's first connect: time to first message counts from it
  clock::time_point session_started;  ///< this session's connect (a reconnection's own start)
  clock::time_point next_send;
  /// Its send schedule: chats are due at send_origin + k periods, from the first of them after its
  /// join. The origin is its connect instant plus a phase drawn from the seed when the client is added
  /// (in id order), so a seed gives every run the same schedule, whenever joins happen to complete.
  clock::time_point send_origin;
  /// Per room this client sent into: its ledger stream (sender, room) and the next seq on it.
  std::unordered_map<std::uint32_t, std::pair<metrics::stream_id, std::uint64_t>> streams;
  /// Per stream received: when its previous chat arrived (for the uncorrected latency), and its record
  /// in the worker's delivery log (found once, so a delivery costs one lookup here and none there).
  struct stream_seen {
    std::int64_t stream = 0;
    clock::time_point last_arrival;
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
  std::optional<clock::time_point> lost_at;  ///< when the connected session was lost, until connected again
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

class worker {
 public:
  worker(scenario const& s, case_spec const& c, endpoint const& at, schedule const& sched, std::uint32_t rooms,
         std::uint64_t seed, metrics::delivery_ledger& streams)
      : s_(s), c_(c), at_(at), sched_(sched), rooms_(rooms), rng_(seed), streams_(streams),
        work_(net::make_work_guard(ioc_)), series_(sched.measure_start, std::chrono::seconds{1}),
        windows_(sched.window_starts.size()) {
    std::uint32_t longest = c_.message_bytes_max;
    for (auto const& e : c_.trace) longest = std::max(longest, e.bytes);
    filler_.assign(longest, 'x');
    chat_buffer_.reserve(longest + 512);  // the longest chat and its tags: send_chat never grows it
  }

  void add_client(std::uint32_t id, strategy strat, std::uint32_t room, clock::time_point connect_at,
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

  void start() {
    thread_ = std::thread([this] {
      for (auto& sc : clients_) schedule_connect(*sc);
      ioc_.run();
    });
  }

  /// Stop sending, leave, close; then stop the loop. Called from the coordinator.
  void finish() {
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

  progress snapshot() const {
    progress p;
    p.connected = connected_.load(std::memory_order_relaxed);
    p.chats_sent = sent_.load(std::memory_order_relaxed);
    p.deliveries = delivered_.load(std::memory_order_relaxed);
    p.errors = errors_.load(std::memory_order_relaxed);
    return p;
  }

  std::array<strategy_metrics, strategy_count>& by_strategy() { return by_strategy_; }
  metrics::interval_series& series() { return series_; }
  metrics::histogram& send_lag() { return send_lag_; }
  metrics::delivery_log& ledger() { return ledger_; }
  std::uint64_t late_sends() const { return late_sends_; }
  /// When the first join went out, and into which room (to say what an invalid run waited for).
  std::optional<std::pair<clock::time_point, std::uint32_t>> first_join() const { return first_join_; }
  std::vector<json>& timelines() { return timelines_; }
  /// Each client's strategy slot, by client id (the ledger's receiver id).
  void strategies_of(std::map<std::uint64_t, std::size_t>& out) const {
    for (auto const& sc : clients_) out[sc->id] = static_cast<std::size_t>(sc->strat);
  }
  std::vector<std::array<window_metrics, strategy_count>>& windows() { return windows_; }

 private:
  strategy_metrics& m(sim_client const& sc) { return by_strategy_[static_cast<std::size_t>(sc.strat)]; }
  bool recovery_on() const { return c_.recovery_window.count() > 0; }
  /// A failed operation, by the name a user reads (the result's `errors`; the progress line's count).
  void count_error(sim_client const& sc, std::string const& what) {
    ++m(sc).errors[what];
    errors_.fetch_add(1, std::memory_order_relaxed);
  }
  /// sc's strategy in the fault window holding `t`; null without fault windows.
  window_metrics* wm(sim_client const& sc, clock::time_point t) {
    if (windows_.empty()) return nullptr;
    return &windows_[sched_.window_of(t)][static_cast<std::size_t>(sc.strat)];
  }

  std::string leave_args(sim_client const& sc, std::uint32_t room) const {
    std::string text;
    chatproto::append_leave(events_, room_name(room), client_name(sc.id), text);
    return text;
  }
  void emit_leave(sim_client& sc, std::uint32_t room) { sc.client->emit(events_.leave_event, leave_args(sc, room)); }
  /// The harness's names on the wire: room `r<N>`, client `c<id>`.
  static std::string room_name(std::uint32_t room) { return "r" + std::to_string(room); }
  static std::string client_name(std::uint64_t id) { return "c" + std::to_string(id); }

  void schedule_connect(sim_client& sc) {
    sc.send_timer = std::make_unique<net::steady_timer>(ioc_);
    sc.send_timer->expires_at(sc.next_send);
    sc.send_timer->async_wait([this, &sc](boost::system::error_code ec) {
      if (!ec) connect(sc);
    });
  }

  void connect(sim_client& sc) {
    transport::client_options o;
    transport::server_url where;
    where.host = at_.host;
    where.port = at_.port;
    where.path = at_.path;
    where.query = at_.query;
    where.tls = at_.tls;
    transport::apply_target(where, at_.settings, o);
    o.path = at_.path;
    o.strat = sc.strat;
    o.seed = rng_();
    o.connect_timeout = c_.connect_timeout;
    o.websocket_timeout = c_.websocket_timeout;
    if (at_.distinct_sources)
      o.local_address = "127.1." + std::to_string(sc.id / 250) + "." + std::to_string(sc.id % 250 + 1);
    o.race_stagger = c_.race_stagger;
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
      if (ec != transport::client_error::client_close) count_error(sc, sc.client->last_error_name());
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

  void on_transition(sim_client& sc, transport::transition const& t) {
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

  void on_connected(sim_client& sc) {
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

  void arm_trace(sim_client& sc) {
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

  /// Join `room`; `then` runs once the join is confirmed as the event mapping says (an ack, the
  /// room's echo of it, or a settle time), when the ledger starts expecting the room's chats here.
  void join(sim_client& sc, std::uint32_t room, std::function<void()> then) {
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

  void confirm_join(sim_client& sc, std::uint64_t id) {
    auto const it = std::find_if(sc.pending_joins.begin(), sc.pending_joins.end(), [&](auto const& p) { return p.id == id; });
    if (it == sc.pending_joins.end()) return;  // confirmed already (ack and echo), or the session ended
    auto const pending = std::move(*it);
    sc.pending_joins.erase(it);
    ++m(sc).joins_confirmed;
    ledger_.joined(sc.id, pending.room, clock::now());
    pending.then();
  }

  void start_sending(sim_client& sc) {
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

  double period_ns() const { return 1e9 / c_.rate_per_client_hz; }

  void arm_send(sim_client& sc) {
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

  /// Send one chat into `room`, due at `intended`; `fixed_bytes` 0 draws the size from the case.
  void send_chat(sim_client& sc, std::uint32_t room, clock::time_point intended, std::uint32_t fixed_bytes) {
    auto const now = clock::now();
    auto const lag = now - intended;
    send_lag_.record(to_us(lag));
    if (lag > s_.generator.max_lag) ++late_sends_;
    bool const measured = sched_.measured(intended);
    auto* w = measured ? wm(sc, intended) : nullptr;
    if (w) ++w->chats_due;
    bool const member = c_.trace.empty() ? sc.joined : sc.trace_rooms.contains(room);
    if (!member || !sc.client->connected()) {
      count_error(sc, c_.trace.empty() ? "send skipped: not connected" : "send skipped: not in the room");
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

  void on_event(sim_client& sc, std::string_view event, std::string_view args) {
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
      count_error(sc, "chat without harness fields");
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

  void arm_churn(sim_client& sc) {
    std::exponential_distribution<double> gap(c_.churn_per_client_per_min / 60.0);
    sc.churn_timer->expires_after(std::chrono::milliseconds{static_cast<std::int64_t>(gap(rng_) * 1000.0)});
    sc.churn_timer->async_wait([this, &sc](boost::system::error_code ec) {
      if (ec || clock::now() >= sched_.measure_end) return;
      if (sc.joined && sc.client->connected()) churn(sc);
      arm_churn(sc);
    });
  }

  void churn(sim_client& sc) {
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

  void collect_wire(sim_client& sc) {
    m(sc).wire += sc.client->counters();
    // A sample of session timelines for the report: the first clients of each strategy.
    if (timelines_per_strategy_[static_cast<std::size_t>(sc.strat)]++ >= 3) return;
    json events = json::array();
    for (auto const& t : sc.client->transitions())
      events.push_back({{"event", transport::to_string(t.event)}, {"t_ms", static_cast<double>(to_us(t.at - sched_.t0)) / 1000.0}, {"detail", t.detail}});
    timelines_.push_back({{"client", sc.id}, {"strategy", transport::to_string(sc.strat)}, {"events", events}});
  }

  scenario const& s_;
  case_spec const& c_;
  endpoint const at_;
  chatproto::event_mapping const& events_ = at_.events;
  std::uint64_t join_ids_ = 0;
  std::optional<std::pair<clock::time_point, std::uint32_t>> first_join_;
  schedule const& sched_;
  std::uint32_t const rooms_;
  std::mt19937_64 rng_;
  metrics::delivery_ledger& streams_;  ///< shared: stream registration only (thread-safe)
  net::io_context ioc_{1};
  net::executor_work_guard<net::io_context::executor_type> work_;
  net::steady_timer stop_timer_{ioc_};
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
  std::vector<json> timelines_;
  std::vector<std::array<window_metrics, strategy_count>> windows_;  ///< [fault window][strategy]
  std::atomic<std::uint64_t> connected_{0}, sent_{0}, delivered_{0}, errors_{0};
};

/// Which room each client joins: uniform, or Zipf-weighted (room k has weight 1/k^s).
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

/// Which strategy each client uses: the mix's weights, rounded so the counts add up exactly.
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

  schedule sched;
  sched.t0 = options.start.value_or(clock::now() + std::chrono::milliseconds{50});
  sched.traffic_start = sched.t0 + s.timing.connect_ramp;
  sched.measure_start = sched.traffic_start + s.timing.warmup;
  sched.measure_end = sched.measure_start + s.timing.measure;
  sched.drain_end = sched.measure_end + s.timing.drain;
  for (auto const& w : options.fault_windows) sched.window_starts.push_back(sched.t0 + w.from);

  metrics::delivery_ledger ledger;
  std::vector<std::unique_ptr<worker>> workers;
  for (int w = 0; w < s.generator.threads; ++w)
    workers.push_back(
        std::make_unique<worker>(s, c, at, sched, static_cast<std::uint32_t>(c.rooms.count), rng(), ledger));
  std::vector<std::vector<std::size_t>> trace_of(static_cast<std::size_t>(c.clients));
  for (std::size_t k = 0; k < c.trace.size(); ++k) trace_of[c.trace[k].client].push_back(k);
  for (std::size_t i = 0; i < static_cast<std::size_t>(c.clients); ++i) {
    auto const connect_at = sched.t0 + s.timing.connect_ramp * static_cast<std::int64_t>(i) / c.clients;
    workers[i % workers.size()]->add_client(static_cast<std::uint32_t>(i), strategies[i], rooms[i], connect_at,
                                            std::move(trace_of[i]));
  }

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
        {"errors", m.errors},
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
                       {"rss_per_client_bytes", per_client(self_at_measure.rss_bytes - self_before.rss_bytes)},
                       {"anon_rss_per_client_bytes", per_client(self_at_measure.anon_rss_bytes - self_before.anon_rss_bytes)}};
  if (server.pid) {
    double const server_cpu = cpu(server_at_measure, server_at_end);
    cost["server"] = {{"cpu_s", server_cpu},
                      {"peak_rss_bytes", server_at_end.peak_rss_bytes},
                      {"rss_bytes", server_at_measure.rss_bytes},
                      {"rss_per_client_bytes", per_client(server_at_measure.rss_bytes - server_baseline.rss_bytes)},
                      // Without the file pages (code paged in as it first runs), which are not per session.
                      {"anon_rss_per_client_bytes", per_client(server_at_measure.anon_rss_bytes - server_baseline.anon_rss_bytes)},
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
    for (auto const& [name, n] : total.errors)
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
