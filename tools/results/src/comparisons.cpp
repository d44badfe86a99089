#include "fallbench/results/comparisons.hpp"

namespace fallbench::results {

using json = nlohmann::json;

json target_comparisons(json const& runs) {
  // Each later target against the first, case by case (e.g. socketio-node / fallbench).
  json out = json::array();
  for (auto const& ref : runs) {
    for (auto const& cand : runs) {
      if (&ref == &cand || ref["case"] != cand["case"] || ref["target"] == cand["target"]) continue;
      if (ref["target_index"].get<int>() != 0) continue;
      auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
      auto const& rl = ref["latency"]["fanout_corrected"];
      auto const& cl = cand["latency"]["fanout_corrected"];
      json c = {{"case", ref["case"]},
                {"reference", ref["target"]},
                {"candidate", cand["target"]},
                {"p50_ratio", ratio(cl.value("p50_us", 0.0), rl.value("p50_us", 0.0))},
                {"p99_ratio", ratio(cl.value("p99_us", 0.0), rl.value("p99_us", 0.0))},
                {"throughput_ratio", ratio(cand["throughput"]["deliveries_per_s"].get<double>(),
                                           ref["throughput"]["deliveries_per_s"].get<double>())}};
      // A cluster has no one server process to measure: its cost ratios are left out, not zero.
      if (ref["cost"].contains("server") && cand["cost"].contains("server")) {
        auto cpd = [](json const& r) {
          auto const d = r["counts"]["deliveries_measured"].get<double>();
          return d > 0 ? r["cost"]["server"]["cpu_s"].get<double>() / d : 0.0;
        };
        c["cpu_per_delivery_ratio"] = ratio(cpd(cand), cpd(ref));
        c["peak_rss_ratio"] = ratio(cand["cost"]["server"]["peak_rss_bytes"].get<double>(),
                                    ref["cost"]["server"]["peak_rss_bytes"].get<double>());
      }
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace fallbench::results
