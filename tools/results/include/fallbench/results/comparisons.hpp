#pragma once
/// Cross-run figures of one result document: each target's runs against the first target's, case by
/// case. They are computed from the runs' sections alone, as the report and compare tools read them,
/// so the harness that wrote the runs does not compute figures across them.

#include <nlohmann/json.hpp>

namespace fallbench::results {

/**
 * The result document's `comparisons` (reports/schema/result.schema.json): for every run of the first
 * target (`target_index` 0) and every run of another target in the same case, the candidate's figures
 * over the reference's: `p50_ratio`, `p99_ratio` (fan-out latency, corrected), `throughput_ratio`
 * (deliveries per second) and, when both runs measured one server process (`cost.server`),
 * `cpu_per_delivery_ratio` and `peak_rss_ratio`. A ratio over a zero reference is 0.
 * @param runs the document's `runs` array
 */
nlohmann::json target_comparisons(nlohmann::json const& runs);

}  // namespace fallbench::results
