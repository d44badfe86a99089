#include "fallbench/metrics/delivery_ledger.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace fallbench::metrics {
namespace {

constexpr std::int64_t not_sent = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t open_end = std::numeric_limits<std::int64_t>::max();
/// A pair's bitmap spans at most 2^27 seqs (16 MiB), and a seq more than that away from the run of
/// those received is refused: only a corrupt seq gets there, and it must not allocate nor push later
/// genuine seqs out of the bitmap's reach.
constexpr std::size_t max_bitmap_words = std::size_t{1} << 21;
constexpr std::uint32_t max_distance = std::uint32_t{1} << 27;
/// Seqs are sent in order; a send this far past the last one is refused rather than allocated for.
constexpr std::size_t max_send_gap = std::size_t{1} << 20;

constexpr std::uint64_t key_of(std::uint32_t high, std::uint32_t low) noexcept {
  return (std::uint64_t{high} << 32) | low;
}

enum class insert_result : std::uint8_t { inserted, duplicate, too_far };

/// The seqs one receiver got from one stream: a run [run_lo, run_hi) received contiguously, and a
/// bitmap (from base_, a multiple of 64) of those outside the run. Bits join the run as gaps fill.
class seq_set {
 public:
  bool empty() const noexcept { return run_lo_ == run_hi_; }

  std::uint64_t size() const noexcept { return std::uint64_t{run_hi_ - run_lo_} + bit_count_; }

  bool contains(std::uint32_t s) const noexcept { return (s >= run_lo_ && s < run_hi_) || test(s); }

  /// Precondition: s <= max_seq.
  insert_result insert(std::uint32_t s) {
    if (empty()) {
      run_lo_ = s;
      run_hi_ = s + 1;
      return insert_result::inserted;
    }
    if (s >= run_lo_ && s < run_hi_) return insert_result::duplicate;
    if (s == run_hi_) {
      ++run_hi_;
      while (bit_count_ > 0 && test(run_hi_)) {
        clear(run_hi_);
        ++run_hi_;
      }
      return insert_result::inserted;
    }
    if (s + 1 == run_lo_) {
      --run_lo_;
      while (bit_count_ > 0 && run_lo_ > 0 && test(run_lo_ - 1)) {
        clear(run_lo_ - 1);
        --run_lo_;
      }
      return insert_result::inserted;
    }
    if ((s > run_hi_ && s - run_hi_ > max_distance) || (s < run_lo_ && run_lo_ - s > max_distance)) {
      return insert_result::too_far;
    }
    return set(s);
  }

  template <class F>
  void for_each(F&& f) const {
    for (std::uint32_t s = run_lo_; s < run_hi_; ++s) f(s);
    for (std::size_t w = 0; w < words_.size(); ++w) {
      for (std::uint64_t bits = words_[w]; bits != 0; bits &= bits - 1) {
        f(static_cast<std::uint32_t>(base_ + w * 64 + static_cast<std::size_t>(std::countr_zero(bits))));
      }
    }
  }

  std::size_t heap_bytes() const noexcept { return words_.capacity() * sizeof(std::uint64_t); }

 private:
  bool test(std::uint32_t s) const noexcept {
    if (bit_count_ == 0 || s < base_) return false;
    std::size_t const w = (s - base_) / 64;
    return w < words_.size() && ((words_[w] >> ((s - base_) % 64)) & 1U) != 0;
  }

  void clear(std::uint32_t s) noexcept {
    words_[(s - base_) / 64] &= ~(std::uint64_t{1} << ((s - base_) % 64));
    --bit_count_;
  }

  insert_result set(std::uint32_t s) {
    std::uint32_t const aligned = s & ~std::uint32_t{63};
    if (bit_count_ == 0) {
      base_ = aligned;  // nothing outside the run: start the bitmap afresh, keeping its capacity
      words_.assign(1, 0);
    } else if (s < base_) {
      std::size_t const extra = (base_ - aligned) / 64;
      if (words_.size() + extra > max_bitmap_words) return insert_result::too_far;
      words_.insert(words_.begin(), extra, 0);
      base_ = aligned;
    } else {
      std::size_t const needed = (s - base_) / 64 + 1;
      if (needed > max_bitmap_words) return insert_result::too_far;
      if (needed > words_.size()) words_.resize(needed, 0);
    }
    std::uint64_t& word = words_[(s - base_) / 64];
    std::uint64_t const mask = std::uint64_t{1} << ((s - base_) % 64);
    if ((word & mask) != 0) return insert_result::duplicate;
    word |= mask;
    ++bit_count_;
    return insert_result::inserted;
  }

  std::uint32_t run_lo_ = 0;
  std::uint32_t run_hi_ = 0;
  std::uint32_t base_ = 0;
  std::uint32_t bit_count_ = 0;
  std::vector<std::uint64_t> words_;
};

/// What one receiver got from one stream.
struct pair_state {
  seq_set seen;
  std::uint32_t max_seen = 0;
  std::uint32_t duplicated = 0;
  std::uint32_t reordered = 0;
  std::int64_t last_ns = std::numeric_limits<std::int64_t>::min();
  /// The seqs of the first max_kept_anomalies duplicate and late receptions (for the split by window).
  std::vector<std::uint32_t> duplicate_seqs;
  std::vector<std::uint32_t> reordered_seqs;
};

void keep(std::vector<std::uint32_t>& seqs, std::uint32_t seq) {
  if (seqs.size() < max_kept_anomalies) seqs.push_back(seq);
}

struct membership_event {
  receiver_id receiver;
  room_id room;
  std::int64_t t_ns;
  enum class kind : std::uint8_t { join, leave, lost, recovered } what;
};

/// A membership window (start, end), both excluded; end is open_end while still a member.
struct window {
  std::int64_t start;
  std::int64_t end;
};

bool inside(std::int64_t t, std::vector<window> const& windows, std::int64_t grace_ns) {
  // The last window starting before t; windows are disjoint and sorted.
  auto it = std::lower_bound(windows.begin(), windows.end(), t,
                             [](window const& w, std::int64_t v) { return w.start < v; });
  if (it == windows.begin()) return false;
  --it;
  if (it->end == open_end) return true;
  return t < it->end && it->end - t > grace_ns;
}

std::uint32_t saturating_add(std::uint32_t a, std::uint32_t b) noexcept {
  return b > std::numeric_limits<std::uint32_t>::max() - a ? std::numeric_limits<std::uint32_t>::max() : a + b;
}

}  // namespace

nlohmann::json counts_json(delivery_counts const& c) {
  return {{"expected", c.expected},     {"delivered", c.delivered}, {"lost", c.lost},
          {"duplicated", c.duplicated}, {"reordered", c.reordered}, {"unexpected", c.unexpected},
          {"missed_disconnected", c.missed_disconnected}};
}

// ---- delivery_log ----------------------------------------------------------------------------------

/// What the log knows of one (receiver, stream) pair; found once per pair by a receiver that keeps it.
struct delivery_log::pair : pair_state {};

struct delivery_log::state {
  std::vector<std::vector<std::int64_t>> sends;  ///< [stream][seq]: intended send time, or not_sent.
  std::vector<membership_event> memberships;
  std::unordered_map<std::uint64_t, pair> pairs;  ///< By key_of(receiver, stream); nodes never move.
  std::uint64_t receptions = 0;
  std::uint64_t rejected = 0;
};

delivery_log::delivery_log() : state_(std::make_unique<state>()) {}
delivery_log::~delivery_log() = default;
delivery_log::delivery_log(delivery_log&&) noexcept = default;
delivery_log& delivery_log::operator=(delivery_log&&) noexcept = default;

void delivery_log::sent(stream_id stream, std::uint64_t seq, std::int64_t intended_ns) {
  if (stream >= max_streams || seq > max_seq) {
    ++state_->rejected;
    return;
  }
  auto& sends = state_->sends;
  if (stream >= sends.size()) sends.resize(std::size_t{stream} + 1);
  auto& times = sends[stream];
  if (seq >= times.size()) {
    if (seq >= times.size() + max_send_gap) {
      ++state_->rejected;
      return;
    }
    times.resize(static_cast<std::size_t>(seq) + 1, not_sent);
  }
  auto& t = times[static_cast<std::size_t>(seq)];
  if (t != not_sent) {
    ++state_->rejected;
    return;
  }
  t = intended_ns;
}

void delivery_log::joined(receiver_id receiver, room_id room, std::int64_t acked_ns) {
  state_->memberships.push_back({receiver, room, acked_ns, membership_event::kind::join});
}

void delivery_log::left(receiver_id receiver, room_id room, std::int64_t leave_sent_ns) {
  state_->memberships.push_back({receiver, room, leave_sent_ns, membership_event::kind::leave});
}

void delivery_log::disconnected(receiver_id receiver, room_id room, std::int64_t at_ns) {
  state_->memberships.push_back({receiver, room, at_ns, membership_event::kind::lost});
}

void delivery_log::recovered(receiver_id receiver, room_id room, std::int64_t at_ns) {
  state_->memberships.push_back({receiver, room, at_ns, membership_event::kind::recovered});
}

delivery_log::pair* delivery_log::pair_of(receiver_id receiver, stream_id stream) {
  if (stream >= max_streams) return nullptr;
  return &state_->pairs[key_of(receiver, stream)];
}

void delivery_log::received(receiver_id receiver, stream_id stream, std::uint64_t seq, std::int64_t at_ns) {
  received(pair_of(receiver, stream), seq, at_ns);
}

void delivery_log::received(pair* of, std::uint64_t seq, std::int64_t at_ns) {
  if (!of || seq > max_seq) {
    ++state_->rejected;
    return;
  }
  auto const s = static_cast<std::uint32_t>(seq);
  pair_state& p = *of;
  bool const first = p.seen.empty();
  switch (p.seen.insert(s)) {
    case insert_result::too_far: ++state_->rejected; return;
    case insert_result::duplicate:
      p.duplicated = saturating_add(p.duplicated, 1);
      keep(p.duplicate_seqs, s);
      break;
    case insert_result::inserted:
      if (first || s > p.max_seen) {
        p.max_seen = s;
      } else {
        p.reordered = saturating_add(p.reordered, 1);
        keep(p.reordered_seqs, s);
      }
      break;
  }
  ++state_->receptions;
  p.last_ns = std::max(p.last_ns, at_ns);
}

std::uint64_t delivery_log::receptions() const noexcept { return state_->receptions; }

std::uint64_t delivery_log::rejected() const noexcept { return state_->rejected; }

std::size_t delivery_log::memory_bytes() const noexcept {
  auto const& st = *state_;
  std::size_t bytes = sizeof(state) + st.sends.capacity() * sizeof(std::vector<std::int64_t>) +
                      st.memberships.capacity() * sizeof(membership_event);
  for (auto const& times : st.sends) bytes += times.capacity() * sizeof(std::int64_t);
  // A node holds the next pointer and the value; the bucket array one pointer per bucket.
  bytes += st.pairs.bucket_count() * sizeof(void*) +
           st.pairs.size() * (sizeof(void*) + sizeof(std::pair<std::uint64_t const, pair>));
  for (auto const& [key, p] : st.pairs) bytes += p.seen.heap_bytes();
  return bytes;
}

// ---- results ---------------------------------------------------------------------------------------

delivery_counts& delivery_counts::operator+=(delivery_counts const& o) noexcept {
  expected += o.expected;
  delivered += o.delivered;
  lost += o.lost;
  duplicated += o.duplicated;
  reordered += o.reordered;
  unexpected += o.unexpected;
  missed_disconnected += o.missed_disconnected;
  replayed += o.replayed;
  return *this;
}

nlohmann::json delivery_report::to_json() const {
  auto list = nlohmann::json::array();
  for (auto const& r : receivers) {
    auto entry = counts_json(r.counts);
    entry["receiver"] = r.receiver;
    list.push_back(std::move(entry));
  }
  nlohmann::json out = {{"total", counts_json(total)},
                        {"receivers", std::move(list)},
                        {"rejected", rejected},
                        {"membership_anomalies", membership_anomalies}};
  if (!by_window.empty()) {
    auto windows = nlohmann::json::array();
    for (auto const& c : by_window) windows.push_back(counts_json(c));
    out["by_window"] = std::move(windows);
  }
  return out;
}

std::string_view to_string(grade g) noexcept {
  switch (g) {
    case grade::pass: return "pass";
    case grade::degraded: return "degraded";
    case grade::fail: return "fail";
  }
  return "unknown";
}

grade verdict::overall() const noexcept { return std::max({loss, duplication, reordering}); }

nlohmann::json verdict::to_json() const {
  return {{"loss", to_string(loss)},
          {"duplication", to_string(duplication)},
          {"reordering", to_string(reordering)},
          {"overall", to_string(overall())}};
}

verdict judge(delivery_counts const& counts, verdict_thresholds const& thresholds) {
  auto grade_of = [&](std::uint64_t n, grade_threshold const& t) {
    if (n == 0) return grade::pass;
    double const rate = counts.expected == 0 ? std::numeric_limits<double>::infinity()
                                             : static_cast<double>(n) / static_cast<double>(counts.expected);
    if (rate > t.fail_above) return grade::fail;
    if (rate > t.degraded_above) return grade::degraded;
    return grade::pass;
  };
  return {grade_of(counts.lost, thresholds.loss), grade_of(counts.duplicated, thresholds.duplication),
          grade_of(counts.reordered, thresholds.reordering)};
}

// ---- delivery_ledger -------------------------------------------------------------------------------

struct delivery_ledger::state {
  mutable std::mutex mutex;  ///< Guards streams and stream_index only.
  std::vector<std::pair<sender_id, room_id>> streams;
  std::unordered_map<std::uint64_t, stream_id> stream_index;  ///< By key_of(sender, room).
  delivery_log::state merged;
};

delivery_ledger::delivery_ledger() : state_(std::make_unique<state>()) {}
delivery_ledger::~delivery_ledger() = default;
delivery_ledger::delivery_ledger(delivery_ledger&&) noexcept = default;
delivery_ledger& delivery_ledger::operator=(delivery_ledger&&) noexcept = default;

stream_id delivery_ledger::register_stream(sender_id sender, room_id room) {
  std::lock_guard lock(state_->mutex);
  auto const [it, fresh] = state_->stream_index.try_emplace(key_of(sender, room), 0);
  if (!fresh) return it->second;
  if (state_->streams.size() >= max_streams) {
    state_->stream_index.erase(it);
    throw std::length_error("delivery_ledger: more than max_streams streams");
  }
  it->second = static_cast<stream_id>(state_->streams.size());
  state_->streams.emplace_back(sender, room);
  return it->second;
}

std::optional<stream_id> delivery_ledger::find_stream(sender_id sender, room_id room) const {
  std::lock_guard lock(state_->mutex);
  auto const it = state_->stream_index.find(key_of(sender, room));
  if (it == state_->stream_index.end()) return std::nullopt;
  return it->second;
}

std::size_t delivery_ledger::stream_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->streams.size();
}

void delivery_ledger::add(delivery_log&& log) {
  auto& into = state_->merged;
  auto& from = *log.state_;

  if (into.sends.size() < from.sends.size()) into.sends.resize(from.sends.size());
  for (std::size_t s = 0; s < from.sends.size(); ++s) {
    auto& mine = into.sends[s];
    auto& theirs = from.sends[s];
    if (mine.empty()) {
      mine = std::move(theirs);
      continue;
    }
    if (mine.size() < theirs.size()) mine.resize(theirs.size(), not_sent);
    for (std::size_t seq = 0; seq < theirs.size(); ++seq) {
      if (theirs[seq] == not_sent) continue;
      if (mine[seq] != not_sent) {
        ++into.rejected;  // the same chat sent from two logs
      } else {
        mine[seq] = theirs[seq];
      }
    }
  }

  into.memberships.insert(into.memberships.end(), from.memberships.begin(), from.memberships.end());

  for (auto& [key, theirs] : from.pairs) {
    auto const [it, fresh] = into.pairs.try_emplace(key);
    pair_state& mine = it->second;
    if (fresh) {
      mine = std::move(theirs);
      continue;
    }
    theirs.seen.for_each([&](std::uint32_t s) {
      switch (mine.seen.insert(s)) {
        case insert_result::inserted: break;
        case insert_result::duplicate:
          mine.duplicated = saturating_add(mine.duplicated, 1);
          keep(mine.duplicate_seqs, s);
          break;
        case insert_result::too_far: ++into.rejected; break;
      }
    });
    mine.duplicated = saturating_add(mine.duplicated, theirs.duplicated);
    mine.reordered = saturating_add(mine.reordered, theirs.reordered);
    for (auto const seq : theirs.duplicate_seqs) keep(mine.duplicate_seqs, seq);
    for (auto const seq : theirs.reordered_seqs) keep(mine.reordered_seqs, seq);
    mine.max_seen = std::max(mine.max_seen, theirs.max_seen);
    mine.last_ns = std::max(mine.last_ns, theirs.last_ns);
  }

  into.receptions += from.receptions;
  into.rejected += from.rejected;
  log.state_ = std::make_unique<delivery_log::state>();
}

delivery_report delivery_ledger::reconcile(reconcile_options const& options) const {
  auto const& m = state_->merged;
  std::vector<std::pair<sender_id, room_id>> streams;
  {
    std::lock_guard lock(state_->mutex);
    streams = state_->streams;
  }
  delivery_report report;
  report.rejected = m.rejected;

  struct receiver_acc {
    delivery_counts counts;
    std::uint64_t distinct = 0;
    std::int64_t last_ns = std::numeric_limits<std::int64_t>::min();
  };
  std::unordered_map<receiver_id, receiver_acc> receivers;

  // Membership windows per (receiver, room), from the events in time order. A join while already a
  // member (a reconnected client joining again) keeps the window open: chats missed meanwhile are lost.
  auto events = m.memberships;
  std::stable_sort(events.begin(), events.end(), [](membership_event const& a, membership_event const& b) {
    return std::tie(a.room, a.receiver, a.t_ns) < std::tie(b.room, b.receiver, b.t_ns);
  });
  struct member {
    receiver_id receiver;
    std::vector<window> windows;
    std::vector<window> away;  ///< From a lost session to the next join: chats then are missed.
    std::vector<window> replay;  ///< From a lost session to its recovery: chats then were replayed.
  };
  std::unordered_map<room_id, std::vector<member>> rooms;
  for (std::size_t i = 0; i < events.size();) {
    auto const room = events[i].room;
    auto const receiver = events[i].receiver;
    receivers.try_emplace(receiver);
    member mb{receiver, {}, {}, {}};
    bool open = false;
    for (; i < events.size() && events[i].room == room && events[i].receiver == receiver; ++i) {
      auto const& e = events[i];
      if (e.what == membership_event::kind::recovered) {
        // Only right after a lost session: the window it closed opens again, as if never closed.
        if (open || mb.away.empty() || mb.away.back().end != open_end) {
          ++report.membership_anomalies;
          continue;
        }
        mb.replay.push_back({mb.away.back().start, e.t_ns});
        mb.away.pop_back();
        mb.windows.back().end = open_end;
        open = true;
      } else if (e.what == membership_event::kind::join) {
        if (!mb.away.empty() && mb.away.back().end == open_end) mb.away.back().end = e.t_ns;
        if (!open) mb.windows.push_back({e.t_ns, open_end});
        open = true;
      } else if (open) {
        mb.windows.back().end = e.t_ns;
        open = false;
        if (e.what == membership_event::kind::lost) mb.away.push_back({e.t_ns, open_end});
      } else {
        ++report.membership_anomalies;
      }
    }
    if (!mb.windows.empty()) rooms[room].push_back(std::move(mb));
  }

  // The split by send time: window k holds the times from windows_from[k] to the next start.
  std::vector<std::int64_t> window_starts;
  for (auto const t : options.windows_from) window_starts.push_back(to_ns(t));
  report.by_window.resize(window_starts.size());
  delivery_counts ignored;
  auto const in_window = [&](std::int64_t t) -> delivery_counts& {
    if (window_starts.empty()) return ignored;
    auto const k = std::upper_bound(window_starts.begin(), window_starts.end(), t) - window_starts.begin();
    return report.by_window[static_cast<std::size_t>(std::max<std::ptrdiff_t>(k - 1, 0))];
  };

  // Expected chats: every send into a room inside one of a member's windows; missed ones: every send
  // while the member was away after a lost session.
  auto const grace_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options.leave_grace).count();
  for (std::size_t s = 0; s < std::min(streams.size(), m.sends.size()); ++s) {
    auto const room_it = rooms.find(streams[s].second);
    if (room_it == rooms.end()) continue;
    auto const& times = m.sends[s];
    for (member const& mb : room_it->second) {
      auto const pair_it = m.pairs.find(key_of(mb.receiver, static_cast<std::uint32_t>(s)));
      seq_set const* seen = pair_it == m.pairs.end() ? nullptr : &pair_it->second.seen;
      delivery_counts& c = receivers[mb.receiver].counts;
      for (std::size_t seq = 0; seq < times.size(); ++seq) {
        auto const t = times[seq];
        if (t == not_sent) continue;
        if (!inside(t, mb.windows, grace_ns)) {
          if (!mb.away.empty() && inside(t, mb.away, 0)) {
            ++c.missed_disconnected;
            ++in_window(t).missed_disconnected;
          }
          continue;
        }
        auto& w = in_window(t);
        ++c.expected;
        ++w.expected;
        if (seen && seen->contains(static_cast<std::uint32_t>(seq))) {
          ++c.delivered;
          ++w.delivered;
          if (!mb.replay.empty() && inside(t, mb.replay, 0)) {
            ++c.replayed;
            ++w.replayed;
          }
        } else {
          ++c.lost;
          ++w.lost;
        }
      }
    }
  }

  // Duplicates and late receptions by the send time of the chat they carried; what a pair did not
  // keep falls in the last window, so each window's sum still equals the total.
  if (!window_starts.empty()) {
    for (auto const& [key, p] : m.pairs) {
      auto const stream = static_cast<std::size_t>(key & 0xFFFF'FFFFULL);
      auto const time_of = [&](std::uint32_t seq) {
        return stream < m.sends.size() && seq < m.sends[stream].size() && m.sends[stream][seq] != not_sent
                   ? m.sends[stream][seq]
                   : std::numeric_limits<std::int64_t>::max();
      };
      for (auto const seq : p.duplicate_seqs) ++in_window(time_of(seq)).duplicated;
      for (auto const seq : p.reordered_seqs) ++in_window(time_of(seq)).reordered;
      report.by_window.back().duplicated += p.duplicated - p.duplicate_seqs.size();
      report.by_window.back().reordered += p.reordered - p.reordered_seqs.size();
    }
  }

  // What each receiver got: distinct chats, extra copies, late ones.
  for (auto const& [key, p] : m.pairs) {
    auto& acc = receivers[static_cast<receiver_id>(key >> 32)];
    acc.distinct += p.seen.size();
    acc.counts.duplicated += p.duplicated;
    acc.counts.reordered += p.reordered;
    acc.last_ns = std::max(acc.last_ns, p.last_ns);
  }

  report.receivers.reserve(receivers.size());
  for (auto& [id, acc] : receivers) {
    acc.counts.unexpected = acc.distinct - acc.counts.delivered;
    report.total += acc.counts;
    receiver_delivery r{id, acc.counts, {}};
    if (acc.last_ns != std::numeric_limits<std::int64_t>::min()) r.last_received = from_ns(acc.last_ns);
    report.receivers.push_back(r);
  }
  std::sort(report.receivers.begin(), report.receivers.end(),
            [](receiver_delivery const& a, receiver_delivery const& b) { return a.receiver < b.receiver; });
  return report;
}

}  // namespace fallbench::metrics
