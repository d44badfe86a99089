// fallbench::metrics::delivery_ledger (bench/metrics/src/delivery_ledger.cpp): injected losses,
// duplicates, reorders and deliveries outside membership are each caught and told apart; logs of
// several workers merge; leave/rejoin windows; corrupt input is refused; a large volume stays small.

#include "fallbench/metrics/delivery_ledger.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

namespace fallbench::metrics {

// GoogleTest prints failing counts with this (found by argument-dependent lookup).
void PrintTo(delivery_counts const& c, std::ostream* os) {
  *os << "{expected " << c.expected << ", delivered " << c.delivered << ", lost " << c.lost << ", duplicated "
      << c.duplicated << ", reordered " << c.reordered << ", unexpected " << c.unexpected << ", missed_disconnected "
      << c.missed_disconnected << ", replayed " << c.replayed << "}";
}

namespace {

using namespace std::chrono_literals;

/// Times in these tests: milliseconds from an arbitrary origin, as nanoseconds.
constexpr std::int64_t ms(std::int64_t v) { return v * 1'000'000; }

constexpr room_id room = 7;
constexpr sender_id sender = 100;

receiver_delivery const& of(delivery_report const& r, receiver_id id) {
  for (auto const& d : r.receivers) {
    if (d.receiver == id) return d;
  }
  static receiver_delivery const none{};
  ADD_FAILURE() << "receiver " << id << " not in the report";
  return none;
}

/// One sender's chats seq 0..n-1 into `room`, sent at 100 ms + 10 ms * seq.
void send_chats(delivery_log& log, stream_id s, std::uint64_t n) {
  for (std::uint64_t seq = 0; seq < n; ++seq) log.sent(s, seq, ms(100 + 10 * static_cast<std::int64_t>(seq)));
}

void receive(delivery_log& log, receiver_id r, stream_id s, std::initializer_list<std::uint64_t> seqs) {
  std::int64_t t = ms(1000);
  for (auto seq : seqs) log.received(r, s, seq, t++);
}

TEST(DeliveryLedgerTest, CleanRunDeliversEverythingExpected) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(50));
  log.joined(2, room, ms(60));
  send_chats(log, s, 10);
  receive(log, 1, s, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  receive(log, 2, s, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(report.total, (delivery_counts{20, 20, 0, 0, 0, 0}));
  ASSERT_EQ(report.receivers.size(), 2U);
  EXPECT_EQ(report.receivers[0].receiver, 1U);
  EXPECT_EQ(report.receivers[0].counts, (delivery_counts{10, 10, 0, 0, 0, 0}));
  EXPECT_EQ(report.receivers[1].last_received, from_ns(ms(1000) + 9));
  EXPECT_EQ(judge(report.total).overall(), grade::pass);
}

TEST(DeliveryLedgerTest, CatchesAnInjectedLoss) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(50));
  log.joined(2, room, ms(50));
  send_chats(log, s, 10);
  receive(log, 1, s, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  receive(log, 2, s, {0, 1, 2, 3, 4, 6, 7, 8, 9});  // 5 lost
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(report.total, (delivery_counts{20, 19, 1, 0, 0, 0}));
  EXPECT_EQ(of(report, 2).counts.lost, 1U);
  EXPECT_EQ(of(report, 1).counts.lost, 0U);
  auto const v = judge(report.total);
  EXPECT_EQ(v.loss, grade::fail);  // 5 % is over the default 1 %
  EXPECT_EQ(v.duplication, grade::pass);
  EXPECT_EQ(v.reordering, grade::pass);
}

TEST(DeliveryLedgerTest, CatchesAnInjectedDuplicate) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(50));
  send_chats(log, s, 5);
  receive(log, 1, s, {0, 1, 2, 3, 3, 3, 4});
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(report.total, (delivery_counts{5, 5, 0, 2, 0, 0}));
  EXPECT_EQ(judge(report.total).duplication, grade::fail);
}

TEST(DeliveryLedgerTest, CatchesAnInjectedReorder) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(50));
  log.joined(2, room, ms(50));
  log.joined(3, room, ms(50));
  send_chats(log, s, 6);
  receive(log, 1, s, {0, 1, 3, 2, 4, 5});  // 2 overtaken by 3
  receive(log, 2, s, {0, 5, 1, 2, 3, 4});  // 5 early: 1..4 each arrive below it
  receive(log, 3, s, {0, 2, 1, 1, 3, 4, 5});  // a reordered chat's copy is a duplicate, not a reorder
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(of(report, 1).counts, (delivery_counts{6, 6, 0, 0, 1, 0}));
  EXPECT_EQ(of(report, 2).counts, (delivery_counts{6, 6, 0, 0, 4, 0}));
  EXPECT_EQ(of(report, 3).counts, (delivery_counts{6, 6, 0, 1, 1, 0}));
  EXPECT_EQ(judge(report.total).reordering, grade::fail);
}

// The generator keeps each (receiver, stream) pair's record and logs through it: the same counts as
// by ids, the record outlives moving the log, and a stream id no registry gives has no record.
TEST(DeliveryLedgerTest, ReceptionsThroughAKeptPairCountAsThroughIds) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(50));
  log.joined(2, room, ms(50));
  send_chats(log, s, 6);
  auto* const kept = log.pair_of(1, s);
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(log.pair_of(1, s), kept);
  std::int64_t t = ms(1000);
  for (std::uint64_t seq : {0U, 1U, 3U, 2U, 2U}) log.received(kept, seq, t++);
  delivery_log moved = std::move(log);
  moved.received(kept, 5, t++);  // 4 lost
  receive(moved, 2, s, {0, 1, 3, 2, 2, 5});
  EXPECT_EQ(moved.pair_of(1, max_streams), nullptr);
  moved.received(nullptr, 0, t++);
  EXPECT_EQ(moved.rejected(), 1U);
  ledger.add(std::move(moved));
  auto const report = ledger.reconcile();
  EXPECT_EQ(of(report, 1).counts, (delivery_counts{6, 5, 1, 1, 1, 0}));
  EXPECT_EQ(of(report, 1).counts, of(report, 2).counts);
}

TEST(DeliveryLedgerTest, DeliveryOutsideMembershipIsUnexpectedNotAnError) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  send_chats(log, s, 10);      // at 100, 110, ..., 190 ms
  log.joined(1, room, ms(140));  // the chat sent at 140 ms exactly is not expected either
  receive(log, 1, s, {3, 4, 5, 6, 7, 8, 9});
  log.received(2, s, 0, ms(300));  // never joined at all
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(of(report, 1).counts, (delivery_counts{5, 5, 0, 0, 0, 2}));
  EXPECT_EQ(of(report, 2).counts, (delivery_counts{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(judge(report.total).overall(), grade::pass);
}

TEST(DeliveryLedgerTest, LeaveAndRejoinMakeSeparateWindows) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  send_chats(log, s, 20);  // 100 .. 290 ms
  log.joined(1, room, ms(105));
  log.left(1, room, ms(135));  // window (105, 135): seqs 1, 2, 3
  log.joined(1, room, ms(205));
  log.left(1, room, ms(235));  // window (205, 235): seqs 11, 12, 13
  receive(log, 1, s, {1, 2, 3, 4, 11, 13});  // 4 came after the leave; 12 lost
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(of(report, 1).counts, (delivery_counts{6, 5, 1, 0, 0, 1}));
  EXPECT_EQ(report.membership_anomalies, 0U);
}

TEST(DeliveryLedgerTest, LeaveGraceExcludesChatsSentJustBeforeTheLeave) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  send_chats(log, s, 10);  // 100 .. 190 ms
  log.joined(1, room, ms(0));
  log.left(1, room, ms(185));  // 180 ms went out 5 ms before the leave and never arrived
  receive(log, 1, s, {0, 1, 2, 3, 4, 5, 6, 7});
  ledger.add(std::move(log));
  EXPECT_EQ(ledger.reconcile().total, (delivery_counts{9, 8, 1, 0, 0, 0}));
  EXPECT_EQ(ledger.reconcile({.leave_grace = 10ms}).total, (delivery_counts{8, 8, 0, 0, 0, 0}));
}

TEST(DeliveryLedgerTest, AJoinWhileMemberKeepsTheWindowAndALeaveWithoutJoinIsAnAnomaly) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  send_chats(log, s, 10);  // 100 .. 190 ms
  log.joined(1, room, ms(50));
  log.joined(1, room, ms(150));  // a reconnected client joining again: chats in between still count
  log.left(2, room, ms(120));
  receive(log, 1, s, {0, 1, 2, 6, 7, 8, 9});  // 3, 4, 5 missed while it was reconnecting
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(of(report, 1).counts, (delivery_counts{10, 7, 3, 0, 0, 0}));
  EXPECT_EQ(report.membership_anomalies, 1U);
}

TEST(DeliveryLedgerTest, MergesTheLogsOfSeveralWorkers) {
  delivery_ledger ledger;
  stream_id const a = ledger.register_stream(1, room);
  stream_id const b = ledger.register_stream(2, room);
  stream_id const other = ledger.register_stream(1, room + 1);
  EXPECT_EQ(ledger.register_stream(2, room), b);  // registering again gives the same stream
  EXPECT_EQ(ledger.find_stream(1, room + 1), other);
  EXPECT_EQ(ledger.find_stream(3, room), std::nullopt);
  EXPECT_EQ(ledger.stream_count(), 3U);

  delivery_log senders;  // worker 0: the two senders
  send_chats(senders, a, 4);
  send_chats(senders, b, 4);
  send_chats(senders, other, 4);
  delivery_log first;  // worker 1: receiver 10
  first.joined(10, room, ms(0));
  receive(first, 10, a, {0, 1, 2, 3});
  receive(first, 10, b, {0, 1, 3});
  delivery_log second;  // worker 2: receiver 20, in both rooms
  second.joined(20, room, ms(0));
  second.joined(20, room + 1, ms(0));
  receive(second, 20, a, {0, 1, 2, 3});
  receive(second, 20, b, {0, 1, 2, 3});
  receive(second, 20, other, {0, 1, 2, 3});
  ledger.add(std::move(senders));
  ledger.add(std::move(first));
  ledger.add(std::move(second));

  auto const report = ledger.reconcile();
  EXPECT_EQ(of(report, 10).counts, (delivery_counts{8, 7, 1, 0, 0, 0}));
  EXPECT_EQ(of(report, 20).counts, (delivery_counts{12, 12, 0, 0, 0, 0}));
  EXPECT_EQ(report.total, (delivery_counts{20, 19, 1, 0, 0, 0}));
}

TEST(DeliveryLedgerTest, OneReceiverInTwoLogsIsUnitedAndCopiesAcrossThemAreDuplicates) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log first;
  first.joined(1, room, ms(0));
  send_chats(first, s, 200);
  receive(first, 1, s, {0, 1, 2, 3, 150});
  delivery_log second;
  for (std::uint64_t seq = 3; seq < 200; ++seq) second.received(1, s, seq, ms(2000));  // 3 and 150 again
  ledger.add(std::move(first));
  ledger.add(std::move(second));
  auto const report = ledger.reconcile();
  EXPECT_EQ(report.total, (delivery_counts{200, 200, 0, 2, 0, 0}));
}

TEST(DeliveryLedgerTest, RefusesCorruptInputWithoutAllocatingForIt) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(0));
  send_chats(log, s, 3);
  log.sent(s, 1, ms(500));                  // the same chat twice
  log.sent(s, 1'000'000'000, ms(500));      // far past the last seq sent
  log.sent(max_streams, 0, ms(500));        // a stream id no registry gives
  log.received(1, s, max_seq + 1, ms(600));  // over max_seq
  log.received(1, max_streams, 0, ms(600));
  log.received(1, s, 0, ms(600));
  log.received(1, s, 3'000'000'000, ms(600));  // 3e9 seqs away from the run: the bitmap would be 375 MB
  EXPECT_EQ(log.rejected(), 6U);
  EXPECT_EQ(log.receptions(), 1U);
  EXPECT_LT(log.memory_bytes(), 4096U);
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(report.rejected, 6U);
  EXPECT_EQ(report.total, (delivery_counts{3, 1, 2, 0, 0, 0}));
}

TEST(DeliveryLedgerTest, AMillionReceptionsStayUnderAByteEach) {
  // 20 rooms of 50 members, 2 senders per room, 500 chats each: 10^6 receptions over two workers.
  constexpr room_id rooms = 20;
  constexpr receiver_id members = 50;
  constexpr std::uint64_t chats = 500;
  delivery_ledger ledger;
  std::vector<delivery_log> workers(2);
  std::uint64_t receptions = 0;
  for (room_id r = 0; r < rooms; ++r) {
    for (sender_id snd = 0; snd < 2; ++snd) {
      stream_id const s = ledger.register_stream(1000 + 2 * r + snd, r);
      send_chats(workers[0], s, chats);
      for (receiver_id m = 0; m < members; ++m) {
        receiver_id const id = r * members + m;
        delivery_log& log = workers[id % 2];
        if (snd == 0) log.joined(id, r, ms(1));
        for (std::uint64_t seq = 0; seq < chats; ++seq) {
          // Injected: receiver 7 loses 7 chats of stream 0; receiver 8 gets 3 copies; 9 sees a swap.
          if (id == 7 && s == 0 && seq % 50 == 1 && seq < 350) continue;
          std::uint64_t const got = id == 9 && s == 0 && (seq == 100 || seq == 101) ? 201 - seq : seq;
          log.received(id, s, got, ms(2000));
          ++receptions;
          if (id == 8 && s == 1 && seq < 3) {
            log.received(id, s, got, ms(2000));
            ++receptions;
          }
        }
      }
    }
  }
  std::size_t const memory = workers[0].memory_bytes() + workers[1].memory_bytes();
  EXPECT_EQ(workers[0].receptions() + workers[1].receptions(), receptions);
  EXPECT_LT(memory, receptions) << memory << " bytes for " << receptions << " receptions";
  for (auto& w : workers) ledger.add(std::move(w));
  auto const report = ledger.reconcile();
  std::uint64_t const expected = std::uint64_t{rooms} * 2 * members * chats;
  EXPECT_EQ(expected, 1'000'000U);
  EXPECT_EQ(report.total, (delivery_counts{expected, expected - 7, 7, 3, 1, 0}));
  EXPECT_EQ(of(report, 7).counts.lost, 7U);
  EXPECT_EQ(of(report, 8).counts.duplicated, 3U);
  EXPECT_EQ(of(report, 9).counts.reordered, 1U);
  EXPECT_EQ(report.receivers.size(), std::size_t{rooms} * members);
}

TEST(DeliveryLedgerTest, VerdictGradesRatesAgainstThresholds) {
  delivery_counts c{1000, 995, 5, 0, 0, 0};
  EXPECT_EQ(judge(c).loss, grade::degraded);  // 0.5 %: over 0, under 1 %
  EXPECT_EQ(judge(c, {.loss = {0.01, 0.05}}).loss, grade::pass);
  EXPECT_EQ(judge(c, {.loss = {0.0, 0.001}}).loss, grade::fail);
  c.duplicated = 1;
  auto const v = judge(c);
  EXPECT_EQ(v.duplication, grade::fail);
  EXPECT_EQ(v.overall(), grade::fail);
  EXPECT_EQ(v.to_json(),
            (nlohmann::json{{"loss", "degraded"}, {"duplication", "fail"}, {"reordering", "pass"}, {"overall", "fail"}}));
  // Anything over zero expected is an infinite rate.
  EXPECT_EQ(judge({0, 0, 0, 0, 1, 0}, {.reordering = {1e9, 1e12}}).reordering, grade::fail);
  EXPECT_EQ(judge({}).overall(), grade::pass);
}

TEST(DeliveryLedgerTest, ReportJsonCarriesTotalsAndReceivers) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(3, room, ms(0));
  send_chats(log, s, 2);
  receive(log, 3, s, {1});
  ledger.add(std::move(log));
  auto const j = ledger.reconcile().to_json();
  EXPECT_EQ(j.at("total"), (nlohmann::json{{"expected", 2}, {"delivered", 1}, {"lost", 1}, {"duplicated", 0},
                                           {"reordered", 0}, {"unexpected", 0}, {"missed_disconnected", 0}}));
  EXPECT_FALSE(j.contains("by_window")) << "no split asked for";
  ASSERT_EQ(j.at("receivers").size(), 1U);
  EXPECT_EQ(j.at("receivers")[0].at("receiver"), 3);
  EXPECT_EQ(j.at("receivers")[0].at("lost"), 1);
  EXPECT_EQ(j.at("rejected"), 0);
  EXPECT_EQ(j.at("membership_anomalies"), 0);
}

TEST(DeliveryLedgerTest, ChatsWhileDisconnectedAreMissedNotLost) {
  // Receiver 1 loses its session at 135 ms and joins again at 165 ms: chats 4 and 5 (140, 150 ms) and
  // 6 (160 ms) went to the room while it was away. Receiver 2 leaves on purpose at 135 ms and never
  // comes back: what it does not get after its leave is neither lost nor missed.
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(50));
  log.joined(2, room, ms(50));
  send_chats(log, s, 10);
  log.disconnected(1, room, ms(135));
  log.joined(1, room, ms(165));
  log.left(2, room, ms(135));
  receive(log, 1, s, {0, 1, 2, 3, 7, 8, 9});
  receive(log, 2, s, {0, 1, 2, 3});
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(of(report, 1).counts, (delivery_counts{7, 7, 0, 0, 0, 0, 3}));
  EXPECT_EQ(of(report, 2).counts, (delivery_counts{4, 4, 0, 0, 0, 0, 0}));
  EXPECT_EQ(report.total.missed_disconnected, 3U);
  EXPECT_EQ(report.membership_anomalies, 0U);
  EXPECT_EQ(judge(report.total).overall(), grade::pass) << "missed is not lost";
}

TEST(DeliveryLedgerTest, ARecoveredSessionExpectsWhatWasSentWhileAwayAndCountsItReplayed) {
  // Three receivers lose their sessions at 135 ms and come back at 165 ms. Receiver 1 is recovered
  // and gets the replay of chats 4, 5, 6 (140-160 ms): nothing missed, three replayed. Receiver 2 is
  // recovered too but the replay lacks chat 5: lost, not missed. Receiver 3 gets a fresh session and
  // joins again: 4, 5, 6 missed, as without recovery.
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  for (receiver_id r : {1U, 2U, 3U}) {
    log.joined(r, room, ms(50));
    log.disconnected(r, room, ms(135));
  }
  send_chats(log, s, 10);
  log.recovered(1, room, ms(165));
  log.recovered(2, room, ms(165));
  log.joined(3, room, ms(165));
  receive(log, 1, s, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  receive(log, 2, s, {0, 1, 2, 3, 4, 6, 7, 8, 9});
  receive(log, 3, s, {0, 1, 2, 3, 7, 8, 9});
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(of(report, 1).counts, (delivery_counts{10, 10, 0, 0, 0, 0, 0, 3}));
  EXPECT_EQ(of(report, 2).counts, (delivery_counts{10, 9, 1, 0, 0, 0, 0, 2}));
  EXPECT_EQ(of(report, 3).counts, (delivery_counts{7, 7, 0, 0, 0, 0, 3, 0}));
  EXPECT_EQ(report.total.replayed, 5U);
  EXPECT_EQ(report.membership_anomalies, 0U);
}

TEST(DeliveryLedgerTest, ARecoveryWithoutALostSessionIsAnAnomaly) {
  // A recovery only continues a membership its lost session ended: one after a leave (or of a room
  // never joined) changes nothing and is counted as an anomaly.
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(50));
  log.left(1, room, ms(135));
  log.recovered(1, room, ms(165));
  log.recovered(2, room, ms(165));
  send_chats(log, s, 10);
  receive(log, 1, s, {0, 1, 2, 3});
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(of(report, 1).counts, (delivery_counts{4, 4, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(report.membership_anomalies, 2U);
}

TEST(DeliveryLedgerTest, ADisconnectedReceiverThatNeverReturnsMissesTheRest) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(50));
  send_chats(log, s, 10);
  log.disconnected(1, room, ms(155));  // chats 6..9 (160..190 ms) missed
  receive(log, 1, s, {0, 1, 2, 3, 4, 5});
  ledger.add(std::move(log));
  EXPECT_EQ(ledger.reconcile().total, (delivery_counts{6, 6, 0, 0, 0, 0, 4}));
}

TEST(DeliveryLedgerTest, SplitsCountsByTheWindowOfTheSendTime) {
  // Windows from 0, 130 and 170 ms: chats 0-2 (100-120 ms), 3-6 (130-160 ms), 7-9 (170-190 ms).
  // Chat 4 lost; chat 5 received twice; chat 8 received before 7 (late); receiver 2 disconnected
  // from 175 ms to the end, so chats 8 and 9 are missed in the last window.
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  log.joined(1, room, ms(50));
  log.joined(2, room, ms(50));
  send_chats(log, s, 10);
  log.disconnected(2, room, ms(175));
  receive(log, 1, s, {0, 1, 2, 3, 5, 5, 6, 8, 7, 9});
  receive(log, 2, s, {0, 1, 2, 3, 4, 5, 6, 7});
  ledger.add(std::move(log));
  reconcile_options options;
  options.windows_from = {from_ns(0), from_ns(ms(130)), from_ns(ms(170))};
  auto const report = ledger.reconcile(options);
  ASSERT_EQ(report.by_window.size(), 3U);
  EXPECT_EQ(report.by_window[0], (delivery_counts{6, 6, 0, 0, 0, 0, 0}));
  EXPECT_EQ(report.by_window[1], (delivery_counts{8, 7, 1, 1, 0, 0, 0}));
  EXPECT_EQ(report.by_window[2], (delivery_counts{4, 4, 0, 0, 1, 0, 2}));
  delivery_counts sum;
  for (auto const& w : report.by_window) sum += w;
  sum.unexpected = report.total.unexpected;  // not split
  EXPECT_EQ(sum, report.total) << "the windows add up to the whole run";
  auto const j = report.to_json();
  ASSERT_TRUE(j.contains("by_window"));
  EXPECT_EQ(j.at("by_window")[1].at("lost"), 1);
}

TEST(DeliveryLedgerTest, ADisconnectWithoutAJoinIsAnAnomaly) {
  delivery_ledger ledger;
  stream_id const s = ledger.register_stream(sender, room);
  delivery_log log;
  send_chats(log, s, 2);
  log.disconnected(1, room, ms(105));
  ledger.add(std::move(log));
  auto const report = ledger.reconcile();
  EXPECT_EQ(report.membership_anomalies, 1U);
  EXPECT_EQ(report.total.missed_disconnected, 0U);
}

}  // namespace
}  // namespace fallbench::metrics
