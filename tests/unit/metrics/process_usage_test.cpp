// fallbench::metrics process sampling (bench/metrics/src/process_usage.cpp), against the test process
// itself: CPU times only grow, burning CPU shows up, touched memory shows up in the peak RSS. No timing
// thresholds: the machine is shared.

#include "fallbench/metrics/process_usage.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <memory>

namespace fallbench::metrics {
namespace {

/// Spin until the process's CPU time passes `start` by at least one unit of the sampler (a clock tick
/// for /proc). Bounded, so a broken sampler fails the test rather than hanging it.
template <class Sample>
bool burn_until_cpu_grows(Sample sample) {
  auto const before = sample().cpu();
  volatile std::uint64_t sink = 0;
  for (int round = 0; round < 100'000; ++round) {
    for (std::uint64_t i = 0; i < 100'000; ++i) sink = sink + i * i;
    if (sample().cpu() > before) return true;
  }
  return false;
}

TEST(ProcessUsageTest, SelfSampleGrowsWithBurnedCpu) {
  auto const first = sample_self();
  EXPECT_GT(first.peak_rss_bytes, 0);
  EXPECT_GT(first.rss_bytes, 0);
  ASSERT_TRUE(burn_until_cpu_grows([] { return sample_self(); }));
  auto const second = sample_self();
  EXPECT_GT(second.cpu(), first.cpu());
  EXPECT_GE(second.user_cpu, first.user_cpu);
  EXPECT_GE(second.system_cpu, first.system_cpu);
  EXPECT_GT(second.at, first.at);
  // The kernel splits CPU time between user and system by sampling: right after start-up all of it
  // may still be counted as system time, so only the sum is sure to be positive.
  EXPECT_GT(second.user_cpu_s() + second.system_cpu_s(), 0.0);
}

TEST(ProcessUsageTest, ProcSampleOfThisPidAgreesWithSelf) {
  ASSERT_TRUE(burn_until_cpu_grows([] { return *sample_process(getpid()); }));
  auto const by_pid = sample_process(getpid());
  ASSERT_TRUE(by_pid.has_value());
  auto const self = sample_self();
  EXPECT_GT(by_pid->cpu().count(), 0);
  EXPECT_GT(by_pid->peak_rss_bytes, 0);
  EXPECT_GE(by_pid->peak_rss_bytes, by_pid->rss_bytes);
  // /proc counts whole clock ticks: it can only lag getrusage, never lead it.
  EXPECT_LE(by_pid->cpu(), self.cpu() + std::chrono::milliseconds(20));
}

TEST(ProcessUsageTest, PeakRssCoversTouchedMemory) {
  constexpr std::size_t size = 64 << 20;
  auto block = std::make_unique<char[]>(size);
  for (std::size_t i = 0; i < size; i += 4096) block[i] = static_cast<char>(i);
  auto const after = sample_self();
  EXPECT_GE(after.peak_rss_bytes, static_cast<std::int64_t>(size));
  EXPECT_GE(after.rss_bytes, static_cast<std::int64_t>(size));
  // Heap pages are anonymous: all of the block is in RssAnon, which is part of the resident set.
  EXPECT_GE(after.anon_rss_bytes, static_cast<std::int64_t>(size));
  EXPECT_LE(after.anon_rss_bytes, after.rss_bytes);
  auto const by_pid = sample_process(getpid());
  ASSERT_TRUE(by_pid.has_value());
  EXPECT_GE(by_pid->peak_rss_bytes, static_cast<std::int64_t>(size));
  EXPECT_GE(by_pid->anon_rss_bytes, static_cast<std::int64_t>(size));
  EXPECT_EQ(block[4096], static_cast<char>(4096));
}

TEST(ProcessUsageTest, MissingProcessGivesNothing) {
  EXPECT_FALSE(sample_process(-1).has_value());
  cpu_meter meter(-1);
  EXPECT_FALSE(meter.next().has_value());
}

TEST(ProcessUsageTest, CpuMeterSeesABusyProcess) {
  cpu_meter meter;
  ASSERT_TRUE(burn_until_cpu_grows([] { return sample_self(); }));
  auto const used = meter.next();
  ASSERT_TRUE(used.has_value());
  EXPECT_GT(*used, 0.0);
  auto const again = meter.next();
  ASSERT_TRUE(again.has_value());
  EXPECT_GE(*again, 0.0);
  EXPECT_GT(meter.last().cpu().count(), 0);
}

TEST(ProcessUsageTest, ThreadCpuTimeGrows) {
  auto const before = thread_cpu_time();
  EXPECT_TRUE(burn_until_cpu_grows([] {
    process_usage u;
    u.user_cpu = thread_cpu_time();
    return u;
  }));
  EXPECT_GT(thread_cpu_time(), before);
}

TEST(ProcessUsageTest, UtilisationIsCpuOverWallTime) {
  process_usage a;
  process_usage b;
  a.at = from_ns(0);
  b.at = from_ns(2'000'000'000);
  a.user_cpu = std::chrono::seconds(1);
  b.user_cpu = std::chrono::seconds(3);
  b.system_cpu = std::chrono::seconds(1);
  EXPECT_DOUBLE_EQ(cpu_utilisation(a, b), 1.5);
  EXPECT_EQ(cpu_utilisation(b, a), 0.0);
}

}  // namespace
}  // namespace fallbench::metrics
