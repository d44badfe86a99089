// The recorder's hot paths (bench/metrics): a histogram record, a percentile query over a full
// histogram, and the delivery ledger's per-reception call.

#include "fallbench/metrics/delivery_ledger.hpp"
#include "fallbench/metrics/histogram.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

namespace fallbench::micro {
namespace {

/// Latencies in microseconds, exponential around 1 ms with a fixed seed.
std::vector<std::int64_t> latencies(std::size_t n) {
  std::mt19937_64 rng(12345);
  std::exponential_distribution<double> dist(1.0 / 1000.0);
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = static_cast<std::int64_t>(dist(rng));
  return values;
}

void histogram_record(benchmark::State& state) {
  auto const values = latencies(4096);  // a power of two: the index wraps with a mask
  metrics::histogram h;
  std::size_t i = 0;
  for (auto _ : state) {
    h.record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(h.count());
  if (h.count() != static_cast<std::int64_t>(state.iterations())) state.SkipWithError("lost a record");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(histogram_record);

void histogram_value_at_percentile(benchmark::State& state) {
  metrics::histogram h;
  for (auto v : latencies(1'000'000)) h.record(v);
  double const p = static_cast<double>(state.range(0)) / 1000.0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.value_at_percentile(p));
  }
  state.SetItemsProcessed(state.iterations());
}
// Arguments in thousandths of a percent: p50, p99, p99.99.
BENCHMARK(histogram_value_at_percentile)->Arg(50'000)->Arg(99'000)->Arg(99'990)->ArgName("p_milli");

/// In-order receptions round-robin over 100 receivers x 10 streams (1000 pairs), the common case.
void ledger_received(benchmark::State& state) {
  constexpr std::uint32_t receivers = 100;
  constexpr std::uint32_t streams = 10;
  metrics::delivery_log log;
  std::uint64_t n = 0;
  for (auto _ : state) {
    auto const pair = static_cast<std::uint32_t>(n % (receivers * streams));
    log.received(pair / streams, pair % streams, n / (receivers * streams), static_cast<std::int64_t>(n));
    ++n;
  }
  if (log.receptions() != n || log.rejected() != 0) state.SkipWithError("the log refused receptions");
  state.counters["bytes_per_reception"] =
      static_cast<double>(log.memory_bytes()) / static_cast<double>(n == 0 ? 1 : n);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ledger_received);

}  // namespace
}  // namespace fallbench::micro
