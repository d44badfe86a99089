#pragma once
/// The delivery ledger (docs/design.md section 6): checks every receiver's deliveries for loss,
/// duplication and reordering against what it should have received while it was a member of a room.
///
/// A chat is identified by (stream, seq): a stream is one (sender, room) pair, registered once with
/// delivery_ledger::register_stream; seqs run 0, 1, 2, ... per stream in send order. Each worker
/// thread logs what its own clients do into its own delivery_log (sends, joins, leaves, receptions);
/// after the workers joined, the logs are added to the ledger and reconcile() classifies everything.
///
/// Definitions (per receiver, and summed):
/// - expected: chats sent (intended send time) into a room strictly inside one of the receiver's
///   membership windows (join acked, leave sent): after the join ack and before the leave was sent.
///   Both ends are excluded, so a chat sent at the very instant of a join ack is never counted lost.
/// - delivered: expected chats received at least once. lost: expected chats never received.
/// - duplicated: extra copies, over all receptions (a chat received three times counts 2).
/// - reordered: receptions with a lower seq than an earlier reception from the same stream by the same
///   receiver, duplicates excluded (a late chat counts once, not every chat it overtook).
/// - unexpected: distinct chats received but not expected, e.g. sent just before the join was acked
///   (the server may have processed the join first). Reported apart; not an error.
/// - missed_disconnected: chats sent into a room while the receiver's session was lost, until it
///   joined again; not expected. A recovered session (delivery_log::recovered) never left: the time
///   away is part of its membership, and what of it arrived is counted as replayed too.
///
/// Cost. delivery_log::received is O(1) amortized: one hash lookup per reception and a run extension
/// or a bit. Per (receiver, stream) pair the log keeps a run [lo, hi) of seqs received contiguously
/// (no memory per seq while chats arrive in order) plus, from the first gap or out-of-order arrival
/// on, a bitmap of 1 bit per seq up to the highest seen: about 100 bytes per pair (hash node
/// included) plus at most 1 bit per seq. Sends cost 8 bytes each, memberships 24 bytes per event.
/// reconcile() is O(E log W + P): E (receiver, send) pairs of rooms the receiver was ever in, W the
/// receiver's windows in that room, P the pairs received.

#include "fallbench/metrics/clock.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace fallbench::metrics {

using receiver_id = std::uint32_t;
using sender_id = std::uint32_t;
using room_id = std::uint32_t;
using stream_id = std::uint32_t;

/// The largest seq a log accepts; larger ones are counted in rejected(). 4e9 chats per stream is far
/// beyond any run, and the bound keeps a corrupt seq from allocating gigabytes.
inline constexpr std::uint64_t max_seq = 0xFFFF'FFFEULL;
/// Stream ids at or above this are rejected, for the same reason (streams come from register_stream,
/// which numbers them from 0).
inline constexpr stream_id max_streams = 1U << 24;

/// One worker's record of what its clients did. Not thread-safe: one per worker, never shared.
class delivery_log {
 public:
  delivery_log();
  ~delivery_log();
  delivery_log(delivery_log&&) noexcept;
  delivery_log& operator=(delivery_log&&) noexcept;

  /// `stream`'s chat `seq` was due at `intended` (its intended send time, not the actual one).
  void sent(stream_id stream, std::uint64_t seq, time_point intended) { sent(stream, seq, to_ns(intended)); }
  void sent(stream_id stream, std::uint64_t seq, std::int64_t intended_ns);

  /// `receiver`'s join of `room` was acknowledged (the server's `join` echo reached it) at `acked`.
  void joined(receiver_id receiver, room_id room, time_point acked) { joined(receiver, room, to_ns(acked)); }
  void joined(receiver_id receiver, room_id room, std::int64_t acked_ns);

  /// `receiver` sent its `leave` of `room` at `leave_sent`.
  void left(receiver_id receiver, room_id room, time_point leave_sent) { left(receiver, room, to_ns(leave_sent)); }
  void left(receiver_id receiver, room_id room, std::int64_t leave_sent_ns);

  /// `receiver`'s session ended at `at` without a leave (a lost connection): it is out of `room` until
  /// it joins again, and chats sent into the room meanwhile count as missed_disconnected, not lost.
  void disconnected(receiver_id receiver, room_id room, time_point at) { disconnected(receiver, room, to_ns(at)); }
  void disconnected(receiver_id receiver, room_id room, std::int64_t at_ns);

  /// `receiver`'s session, lost at its last disconnected() from `room`, was recovered at `at`
  /// (connection state recovery, docs/recovery.md): the server kept it in the room and replays what
  /// was sent meanwhile, so its membership never ended. Chats sent while it was away are expected
  /// after all (delivered when replayed, lost when not), and those delivered count as replayed.
  void recovered(receiver_id receiver, room_id room, time_point at) { recovered(receiver, room, to_ns(at)); }
  void recovered(receiver_id receiver, room_id room, std::int64_t at_ns);

  /// `receiver` got chat (`stream`, `seq`) at `at`. O(1) amortized.
  void received(receiver_id receiver, stream_id stream, std::uint64_t seq, time_point at) {
    received(receiver, stream, seq, to_ns(at));
  }
  void received(receiver_id receiver, stream_id stream, std::uint64_t seq, std::int64_t at_ns);

  /// One (receiver, stream) pair's record. A receiver that keeps it per stream (pair_of once, then
  /// received(pair, ...)) logs each reception without the log's lookup, the hot part of received() at
  /// hundreds of thousands of deliveries a second. Valid as long as the log, moves included.
  struct pair;
  /// The record of (`receiver`, `stream`), made if new; null for a stream id at or over max_streams
  /// (a reception logged against null is rejected).
  pair* pair_of(receiver_id receiver, stream_id stream);
  void received(pair* of, std::uint64_t seq, time_point at) { received(of, seq, to_ns(at)); }
  void received(pair* of, std::uint64_t seq, std::int64_t at_ns);

  /// Receptions logged (duplicates included, rejected ones not).
  std::uint64_t receptions() const noexcept;
  /// Calls refused: a seq over max_seq, a stream id over max_streams, a seq sent twice.
  std::uint64_t rejected() const noexcept;
  /// Approximate bytes held (containers' capacity and hash nodes; not the allocator's overhead).
  std::size_t memory_bytes() const noexcept;

 private:
  friend class delivery_ledger;
  struct state;
  std::unique_ptr<state> state_;
};

/// The counts of one receiver, or of all.
struct delivery_counts {
  std::uint64_t expected = 0;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t unexpected = 0;
  /// Chats sent into a room while the receiver was out of it because its session was lost (between
  /// disconnected() and its next join): not expected, so neither delivered nor lost, but missed by
  /// the user. The cost of a lost connection that loss alone does not show.
  std::uint64_t missed_disconnected = 0;
  /// Of delivered: chats sent (intended) while the receiver was away between a lost session and its
  /// recovery (delivery_log::recovered), which reached it: what the recovery's replay brought back.
  /// Not in counts_json (the harness reports it with the recoveries, by_strategy.*.state_recovery).
  std::uint64_t replayed = 0;

  delivery_counts& operator+=(delivery_counts const& o) noexcept;
  friend bool operator==(delivery_counts const&, delivery_counts const&) = default;
};

/** {"expected", "delivered", "lost", "duplicated", "reordered", "unexpected", "missed_disconnected"}. */
nlohmann::json counts_json(delivery_counts const& c);

struct receiver_delivery {
  receiver_id receiver = 0;
  delivery_counts counts;
  /// The last reception's time (the clock's epoch when nothing was received): shows how long after
  /// the measured phase deliveries kept arriving.
  time_point last_received{};
};

/// What reconcile() found.
struct delivery_report {
  delivery_counts total;
  /// Every receiver that joined a room or received a chat, by increasing id.
  std::vector<receiver_delivery> receivers;
  /// Log calls refused (see delivery_log::rejected), summed over the logs.
  std::uint64_t rejected = 0;
  /// A leave without a join, or a second join without a leave between; each is ignored.
  std::uint64_t membership_anomalies = 0;
  /// With reconcile_options::windows_from: the counts of the chats whose intended send time lies in
  /// each window (window k from windows_from[k] to the next; times before the first go to the first).
  /// expected, delivered, lost and missed_disconnected are exact; duplicated and reordered are split
  /// from up to max_kept_anomalies receptions per (receiver, stream) pair, the rest fall in the last
  /// window; unexpected is not split (0).
  std::vector<delivery_counts> by_window;

  /** {"total": {expected, delivered, lost, duplicated, reordered, unexpected, missed_disconnected}, "receivers":
   *  [{"receiver", ...counts}], "rejected", "membership_anomalies"}. */
  nlohmann::json to_json() const;
};

/// How reconcile() draws membership windows.
struct reconcile_options {
  /// Chats sent less than this before a leave are not expected. A chat sent just before its receiver's
  /// leave can reach the server after the leave on another connection (and a lagging generator sends
  /// it later than intended), so under churn a zero grace counts such races as losses. 0 follows the
  /// definition above exactly.
  std::chrono::nanoseconds leave_grace{0};
  /// Split the counts by send time (delivery_report::by_window): each window's start on the clock,
  /// increasing. Empty: no split.
  std::vector<time_point> windows_from{};
};

/// Duplicate and late receptions remembered per (receiver, stream) pair for the split by window; a
/// pair with more still counts them all in its totals.
inline constexpr std::size_t max_kept_anomalies = 256;

/// pass / degraded / fail, worst last.
enum class grade : std::uint8_t { pass, degraded, fail };

std::string_view to_string(grade g) noexcept;

/// A check's bounds on a rate (count / expected): above fail_above it fails, else above
/// degraded_above it is degraded, else it passes. A count over zero expected is an infinite rate.
struct grade_threshold {
  double degraded_above = 0.0;
  double fail_above = 0.0;
};

/// The bounds of each check. Socket.IO must never duplicate or reorder, so any is a failure by default;
/// loss is what faults are expected to cause, so it degrades at once and fails above 1 %.
struct verdict_thresholds {
  grade_threshold loss{0.0, 0.01};
  grade_threshold duplication{0.0, 0.0};
  grade_threshold reordering{0.0, 0.0};
};

struct verdict {
  grade loss = grade::pass;
  grade duplication = grade::pass;
  grade reordering = grade::pass;

  /** The worst of the three. */
  grade overall() const noexcept;
  /** {"loss": "pass", "duplication": ..., "reordering": ..., "overall": ...}. */
  nlohmann::json to_json() const;
};

/** Grade `counts` (usually delivery_report::total) against `thresholds`. */
verdict judge(delivery_counts const& counts, verdict_thresholds const& thresholds = {});

/// The streams of a run and the logs of its workers.
class delivery_ledger {
 public:
  delivery_ledger();
  ~delivery_ledger();
  delivery_ledger(delivery_ledger&&) noexcept;
  delivery_ledger& operator=(delivery_ledger&&) noexcept;

  /**
   * The stream of `sender`'s chats into `room`, numbered from 0 in registration order; the same id
   * again for a pair already registered. Thread-safe (a mutex: not for the per-chat path).
   * @throws std::length_error past max_streams streams.
   */
  stream_id register_stream(sender_id sender, room_id room);

  /** The stream of (`sender`, `room`), if registered. Thread-safe. */
  std::optional<stream_id> find_stream(sender_id sender, room_id room) const;

  /** Streams registered. Thread-safe. */
  std::size_t stream_count() const;

  /**
   * Merge a worker's log into the ledger (after the worker stopped writing to it). A receiver may
   * appear in several logs: its receptions are united, and copies across logs count as duplicates
   * (their order across logs is unknown, so reordering is only seen within a log).
   * Not thread-safe against reconcile() or another add().
   */
  void add(delivery_log&& log);

  /** Classify everything added so far. */
  delivery_report reconcile(reconcile_options const& options = {}) const;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace fallbench::metrics
