#include "fallbench/results/pipeline.hpp"
#include "fallbench/results/json_path.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>

namespace fallbench::results {

using json = nlohmann::json;

namespace {

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char const ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters even escaped: a stray one becomes a space.
        out += (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t' && ch != '\r') ? ' ' : ch;
    }
  }
  return out;
}

/// An absent figure: NaN, which CSV leaves empty and JSON writes as null.
constexpr double absent = std::numeric_limits<double>::quiet_NaN();

std::string run_name(json const& run) { return string_at(run, "target", {}) + "/" + string_at(run, "case", {}); }

/// The headline figures of one strategy of a run (milliseconds, per second), as the console table has them.
json strategy_figures(json const& run, json const& st) {
  double const measure_s = number_at(run, "config.phases_s.measure", absent);
  double const measured = number_at(st, "latency.fanout_corrected.count", absent);
  auto ms = [&](char const* path) {
    double const v = number_at(st, path, absent);
    return std::isnan(v) ? json(nullptr) : json(v / 1000.0);
  };
  return {{"clients", number_at(st, "clients", absent)},
          {"clients_connected", number_at(st, "clients_connected", absent)},
          {"deliveries_per_s", measure_s > 0 && !std::isnan(measured) ? json(measured / measure_s) : json(nullptr)},
          {"p50_ms", ms("latency.fanout_corrected.p50_us")},
          {"p99_ms", ms("latency.fanout_corrected.p99_us")},
          {"p999_ms", ms("latency.fanout_corrected.p99_9_us")},
          {"ack_p99_ms", ms("latency.ack.p99_us")},
          {"ttfm_p50_ms", ms("ttfm.p50_us")},
          {"bytes_per_delivery", number_at(st, "wire.bytes_per_delivery", absent)},
          {"errors", st.contains("errors") ? st["errors"] : json::object()}};
}

}  // namespace

std::string junit_xml(std::string const& suite, std::vector<junit_case> const& cases) {
  std::size_t failures = 0, skipped = 0;
  for (auto const& c : cases) {
    failures += c.failure.has_value();
    skipped += c.skipped.has_value() && !c.failure;
  }
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<testsuites name=\"fallbench\" tests=\"" << cases.size() << "\" failures=\"" << failures << "\" skipped=\""
    << skipped << "\">\n"
    << "  <testsuite name=\"" << xml_escape(suite) << "\" tests=\"" << cases.size() << "\" failures=\"" << failures
    << "\" errors=\"0\" skipped=\"" << skipped << "\">\n";
  for (auto const& c : cases) {
    x << "    <testcase classname=\"" << xml_escape(c.classname) << "\" name=\"" << xml_escape(c.name) << "\"";
    if (!c.failure && !c.skipped && c.output.empty()) {
      x << "/>\n";
      continue;
    }
    x << ">\n";
    if (c.failure) {
      x << "      <failure message=\"" << xml_escape(*c.failure) << "\"/>\n";
    } else if (c.skipped) {
      x << "      <skipped message=\"" << xml_escape(*c.skipped) << "\"/>\n";
    }
    if (!c.output.empty()) x << "      <system-out>" << xml_escape(c.output) << "</system-out>\n";
    x << "    </testcase>\n";
  }
  x << "  </testsuite>\n</testsuites>\n";
  return x.str();
}

std::string csv_line(std::vector<std::string> const& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    auto const& f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      out += f;
      continue;
    }
    out += '"';
    for (char const ch : f) {
      if (ch == '"') out += '"';
      out += ch;
    }
    out += '"';
  }
  return out + "\r\n";
}

std::string csv_number(double v) {
  if (std::isnan(v)) return {};
  char buffer[32];
  auto const [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return ec == std::errc{} ? std::string(buffer, end) : std::string{};
}

std::string run_junit(json const& doc) {
  std::vector<junit_case> cases;
  std::string const suite = "fallbench run " + string_at(doc, "scenario.name", {});
  for (auto const& run : doc.value("runs", json::array())) {
    std::string const name = run_name(run);
    junit_case valid{"run." + name, "valid", std::nullopt, std::nullopt, {}};
    if (!run.value("valid", false)) {
      std::string why;
      for (auto const& r : run.value("invalid_reasons", json::array()))
        why += (why.empty() ? "" : "; ") + r.get<std::string>();
      valid.failure = why.empty() ? "not valid" : why;
    }
    std::ostringstream out;
    out << "deliveries/s " << csv_number(number_at(run, "throughput.deliveries_per_s", absent)) << ", p99 ms "
        << csv_number(number_at(run, "latency.fanout_corrected.p99_us", absent) / 1000.0) << ", lost "
        << csv_number(number_at(run, "delivery.total.lost", absent));
    valid.output = out.str();
    cases.push_back(std::move(valid));
    for (auto const& t : run.value("thresholds", json::array())) {
      junit_case c{"run." + name, string_at(t, "threshold", {}) + " [" + string_at(t, "scope", {}) + "]", std::nullopt, std::nullopt, {}};
      if (!t.value("ok", false)) c.failure = string_at(t, "why", {});
      if (t["observed"].is_number()) c.output = "observed " + csv_number(t["observed"].get<double>());
      cases.push_back(std::move(c));
    }
  }
  return junit_xml(suite, cases);
}

std::string run_csv(json const& doc) {
  std::string out = csv_line({"target", "case", "strategy", "clients", "clients_connected", "deliveries_per_s", "p50_ms",
                              "p99_ms", "p999_ms", "ack_p99_ms", "ttfm_p50_ms", "bytes_per_delivery", "lost",
                              "duplicated", "valid"});
  for (auto const& run : doc.value("runs", json::array())) {
    json const by_strategy = run.value("by_strategy", json::object());
    for (auto const& [strategy, st] : by_strategy.items()) {
      auto const f = strategy_figures(run, st);
      auto num = [&](char const* key) { return f[key].is_number() ? csv_number(f[key].get<double>()) : std::string{}; };
      out += csv_line({string_at(run, "target", {}), string_at(run, "case", {}), strategy, num("clients"), num("clients_connected"),
                       num("deliveries_per_s"), num("p50_ms"), num("p99_ms"), num("p999_ms"), num("ack_p99_ms"),
                       num("ttfm_p50_ms"), num("bytes_per_delivery"), csv_number(number_at(run, "delivery.total.lost", absent)),
                       csv_number(number_at(run, "delivery.total.duplicated", absent)),
                       run.value("valid", false) ? "true" : "false"});
    }
  }
  return out;
}

json run_summary(json const& doc, std::string const& result_path, int exit_status) {
  json runs = json::array();
  for (auto const& run : doc.value("runs", json::array())) {
    json strategies = json::object();
    json const by_strategy = run.value("by_strategy", json::object());
    for (auto const& [strategy, st] : by_strategy.items()) strategies[strategy] = strategy_figures(run, st);
    json r = {{"target", string_at(run, "target", {})},
              {"case", string_at(run, "case", {})},
              {"valid", run.value("valid", false)},
              {"invalid_reasons", run.value("invalid_reasons", json::array())},
              {"deliveries_per_s", number_at(run, "throughput.deliveries_per_s", absent)},
              {"lost", number_at(run, "delivery.total.lost", absent)},
              {"duplicated", number_at(run, "delivery.total.duplicated", absent)},
              {"strategies", std::move(strategies)}};
    if (run.contains("thresholds")) r["thresholds"] = run["thresholds"];
    runs.push_back(std::move(r));
  }
  return {{"tool", "fallbench run"},
          {"scenario", string_at(doc, "scenario.name", {})},
          {"result", result_path},
          {"exit_status", exit_status},
          {"runs", std::move(runs)}};
}

}  // namespace fallbench::results
