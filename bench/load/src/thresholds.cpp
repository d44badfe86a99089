#include "fallbench/bench/thresholds.hpp"

#include "fallbench/results/json_path.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace fallbench::bench {

using json = nlohmann::json;

namespace {

/// Where a metric is read, as dotted paths (fallbench/results/json_path.hpp). `run_path` is inside
/// `runs[i]`, `strategy_path` inside `runs[i].by_strategy.S`; an empty path: not measured at that level. `per_session`: without a
/// strategy the threshold holds for every strategy (there is no whole-run figure).
struct metric_source {
  std::string_view name;
  std::string_view meaning;
  std::string run_path;
  std::string strategy_path;
  double scale = 1;          ///< Applied to the value read (µs to ms: 0.001).
  std::string_view count;    ///< A histogram's sample count beside the value: 0 samples is "not measured".
  bool per_session = false;
  bool per_measure_second = false;  ///< The value is a count over the measure phase, shown per second.
};

std::vector<metric_source> const& sources() {
  using p = std::string;
  static std::vector<metric_source> const all = [] {
    std::vector<metric_source> v;
    for (auto const& [name, field] : {std::pair<std::string_view, std::string_view>{"p50_ms", "p50_us"},
                                      {"p90_ms", "p90_us"}, {"p99_ms", "p99_us"}, {"p999_ms", "p99_9_us"},
                                      {"max_ms", "max_us"}}) {
      std::string const at = "latency.fanout_corrected." + std::string(field);
      v.push_back({name, "fan-out latency from the intended send time (coordinated omission corrected), ms", p(at),
                   p(at), 0.001, "latency.fanout_corrected.count"});
    }
    v.push_back({"ack_p50_ms", "chat acknowledgement round trip p50, ms", p("latency.ack.p50_us"),
                 p("latency.ack.p50_us"), 0.001, "latency.ack.count"});
    v.push_back({"ack_p99_ms", "chat acknowledgement round trip p99, ms", p("latency.ack.p99_us"),
                 p("latency.ack.p99_us"), 0.001, "latency.ack.count"});
    v.push_back({"ttfm_p50_ms", "time to first message p50 (connect to first delivery), ms", {}, p("ttfm.p50_us"),
                 0.001, "ttfm.count", true});
    v.push_back({"ttfm_p99_ms", "time to first message p99, ms", {}, p("ttfm.p99_us"), 0.001, "ttfm.count", true});
    v.push_back({"connect_p50_ms", "connect (namespace joined) p50, ms", {}, p("connected.p50_us"), 0.001,
                 "connected.count", true});
    v.push_back({"connect_p99_ms", "connect p99, ms", {}, p("connected.p99_us"), 0.001, "connected.count", true});
    v.push_back({"connected_share", "share of the clients that connected, 0 to 1", {}, {}, 1, "", true});
    v.push_back({"errors", "failed operations (connects, sends, acks) of the run", {}, {}, 1, "", false});
    v.push_back({"fallbacks", "clients that fell back to polling", {}, p("fallbacks"), 1, "", true});
    v.push_back({"deliveries_per_s", "deliveries measured per second of the measure phase",
                 p("throughput.deliveries_per_s"), p("latency.fanout_corrected.count"), 1, "", false, true});
    v.push_back({"lost", "chats a member should have received and did not (the ledger)", p("delivery.total.lost"), {}, 1, ""});
    v.push_back({"duplicated", "chats delivered more than once (the ledger)", p("delivery.total.duplicated"), {}, 1, ""});
    v.push_back({"reordered", "chats delivered out of their stream's order (the ledger)", p("delivery.total.reordered"), {}, 1, ""});
    // The server's memory over the measure phase (runs[].rss.summary, docs/soak.md): not measured for a
    // server that is not our child (a URL, a cluster), so such a threshold is not met.
    v.push_back({"server_rss_slope_kb_per_min", "least-squares slope of the server's RSS over the measure phase, kB/min",
                 p("rss.summary.slope_kb_per_min"), {}, 1, ""});
    v.push_back({"server_rss_growth", "the server's RSS at the end of the measure phase over its start",
                 p("rss.summary.growth"), {}, 1, ""});
    return v;
  }();
  return all;
}

metric_source const* find_source(std::string_view name) {
  for (auto const& s : sources())
    if (s.name == name) return &s;
  return nullptr;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string_view to_string(threshold::relation r) {
  switch (r) {
    case threshold::relation::lt: return "<";
    case threshold::relation::le: return "<=";
    case threshold::relation::gt: return ">";
    case threshold::relation::ge: return ">=";
    case threshold::relation::eq: return "==";
    case threshold::relation::ne: return "!=";
  }
  return "?";
}

bool holds(threshold::relation r, double observed, double limit) {
  switch (r) {
    case threshold::relation::lt: return observed < limit;
    case threshold::relation::le: return observed <= limit;
    case threshold::relation::gt: return observed > limit;
    case threshold::relation::ge: return observed >= limit;
    case threshold::relation::eq: return observed == limit;
    case threshold::relation::ne: return observed != limit;
  }
  return false;
}

std::string format(double v) {
  std::ostringstream out;
  out << std::fixed;
  out.precision(std::abs(v - std::round(v)) < 1e-9 ? 0 : std::abs(v) < 10 ? 3 : 1);
  out << v;
  return out.str();
}

std::uint64_t error_count(json const& errors) {
  std::uint64_t total = 0;
  if (errors.is_object())
    for (auto const& [k, v] : errors.items())
      if (v.is_number_unsigned()) total += v.get<std::uint64_t>();
  return total;
}

/// The value of `m` in `scope` (a run or one strategy of it); nullopt with `why` when not measured.
std::optional<double> observe(metric_source const& m, json const& run, json const* strategy, std::string& why) {
  if (m.name == "connected_share") {
    json const& s = strategy ? *strategy : run["counts"];
    double const clients = s.value("clients", 0.0);
    if (clients <= 0) {
      why = "not measured (no client)";
      return std::nullopt;
    }
    return s.value("clients_connected", 0.0) / clients;
  }
  if (m.name == "errors") {
    if (strategy) return static_cast<double>(strategy->contains("errors") ? error_count((*strategy)["errors"]) : 0);
    std::uint64_t total = 0;
    if (run.contains("by_strategy"))
      for (auto const& [name, s] : run["by_strategy"].items())
        if (s.contains("errors")) total += error_count(s["errors"]);
    return static_cast<double>(total);
  }
  json const& where = strategy ? *strategy : run;
  auto const& path = strategy ? m.strategy_path : m.run_path;
  if (path.empty()) {
    why = "not measured per strategy (a whole-run figure)";
    return std::nullopt;
  }
  if (!m.count.empty() && results::number_at(where, m.count, std::nan("")) <= 0) {
    why = "not measured (no samples)";
    return std::nullopt;
  }
  auto const read = results::number_at(where, path);
  if (!read) {
    why = "not measured";
    return std::nullopt;
  }
  double v = *read;
  if (strategy && m.per_measure_second) {
    double const measure_s = results::number_at(run, "config.phases_s.measure", 0);
    if (!(measure_s > 0)) {
      why = "not measured (no measure phase)";
      return std::nullopt;
    }
    v /= measure_s;
  }
  return v * m.scale;
}

}  // namespace

std::vector<std::pair<std::string_view, std::string_view>> const& threshold_metrics() {
  static std::vector<std::pair<std::string_view, std::string_view>> const all = [] {
    std::vector<std::pair<std::string_view, std::string_view>> v;
    for (auto const& s : sources()) v.emplace_back(s.name, s.meaning);
    return v;
  }();
  return all;
}

threshold parse_threshold(std::string_view text) {
  threshold t;
  std::string_view rest = trim(text);
  if (auto const colon = rest.find(':'); colon != std::string_view::npos) {
    auto const name = trim(rest.substr(0, colon));
    t.strategy = transport::parse_strategy(name);
    if (!t.strategy) throw std::invalid_argument("'" + std::string(name) + "' is not a strategy");
    rest = trim(rest.substr(colon + 1));
  }
  auto const op_at = rest.find_first_of("<>=!");
  if (op_at == std::string_view::npos)
    throw std::invalid_argument("expected METRIC OP NUMBER (OP: < <= > >= == !=), e.g. 'p99_ms < 50'");
  t.metric = std::string(trim(rest.substr(0, op_at)));
  auto op_end = op_at + 1;
  if (op_end < rest.size() && rest[op_end] == '=') ++op_end;
  auto const op = rest.substr(op_at, op_end - op_at);
  if (op == "<") t.rel = threshold::relation::lt;
  else if (op == "<=") t.rel = threshold::relation::le;
  else if (op == ">") t.rel = threshold::relation::gt;
  else if (op == ">=") t.rel = threshold::relation::ge;
  else if (op == "==") t.rel = threshold::relation::eq;
  else if (op == "!=") t.rel = threshold::relation::ne;
  else throw std::invalid_argument("'" + std::string(op) + "' is not a comparison (< <= > >= == !=)");
  auto const* m = find_source(t.metric);
  if (!m) {
    std::string known;
    for (auto const& s : sources()) known += (known.empty() ? "" : ", ") + std::string(s.name);
    throw std::invalid_argument("unknown metric '" + t.metric + "' (known: " + known + ")");
  }
  if (t.strategy && m->strategy_path.empty() && m->name != "connected_share" && m->name != "errors")
    throw std::invalid_argument(t.metric + " is a whole-run figure: it takes no strategy");
  auto const number = trim(rest.substr(op_end));
  auto const [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), t.limit);
  if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size() || !std::isfinite(t.limit))
    throw std::invalid_argument("expected a number after '" + std::string(op) + "', got '" + std::string(number) + "'");
  t.text = (t.strategy ? std::string(transport::to_string(*t.strategy)) + ": " : std::string{}) + t.metric + " " +
           std::string(to_string(t.rel)) + " " + std::string(number);
  return t;
}

std::vector<threshold_outcome> evaluate(std::vector<threshold> const& limits, json const& run) {
  std::vector<threshold_outcome> out;
  auto const by_strategy = run.value("by_strategy", json::object());
  for (auto const& t : limits) {
    auto const& m = *find_source(t.metric);
    auto check = [&](std::string scope, json const* strategy) {
      threshold_outcome o;
      o.text = t.text;
      o.scope = std::move(scope);
      o.observed = observe(m, run, strategy, o.why);
      o.ok = o.observed && holds(t.rel, *o.observed, t.limit);
      if (o.observed && !o.ok) o.why = "observed " + format(*o.observed);
      out.push_back(std::move(o));
    };
    if (t.strategy) {
      auto const name = std::string(transport::to_string(*t.strategy));
      if (by_strategy.contains(name)) {
        check(name, &by_strategy[name]);
      } else {
        threshold_outcome o{t.text, name, std::nullopt, false, "not measured (no " + name + " client in this run)"};
        out.push_back(std::move(o));
      }
    } else if (m.per_session) {
      for (auto const& [name, s] : by_strategy.items()) check(name, &s);
      if (by_strategy.empty()) out.push_back({t.text, "run", std::nullopt, false, "not measured (no client)"});
    } else {
      check("run", nullptr);
    }
  }
  return out;
}

json to_json(std::vector<threshold_outcome> const& outcomes) {
  json a = json::array();
  for (auto const& o : outcomes) {
    json j = {{"threshold", o.text}, {"scope", o.scope}, {"ok", o.ok}};
    j["observed"] = o.observed ? json(*o.observed) : json(nullptr);
    if (!o.ok) j["why"] = o.why;
    a.push_back(std::move(j));
  }
  return a;
}

}  // namespace fallbench::bench
