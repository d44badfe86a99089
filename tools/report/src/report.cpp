#include "fallbench/report/report.hpp"

#include "fallbench/compare/stats.hpp"
#include "fallbench/results/json_path.hpp"
#include "svg.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

namespace fallbench::report {

using json = nlohmann::json;
namespace fs = std::filesystem;
using svg::escape;
using svg::number;

namespace {

// ---- reading documents without trusting them --------------------------------------------------------

// The project's one reader of result values (fallbench/results/json_path.hpp), under the short names
// this file uses everywhere.

/// The value at a dotted path, or a null json when any step is missing.
json const& at(json const& j, std::string_view dotted) { return results::value_at(j, dotted); }

double num(json const& j, std::string_view dotted, double fallback = 0) { return results::number_at(j, dotted, fallback); }

/// A string, or a number written as JSON writes it (a seed, a core count), else `fallback`.
std::string str(json const& j, std::string_view dotted, std::string fallback = {}) {
  auto const& v = at(j, dotted);
  if (v.is_number()) return v.dump();
  return results::string_at(j, dotted, std::move(fallback));
}

/// The elements of an array (none when it is not one).
std::vector<json const*> items(json const& j, std::string_view dotted) {
  std::vector<json const*> out;
  auto const& v = at(j, dotted);
  if (v.is_array())
    for (auto const& e : v) out.push_back(&e);
  return out;
}

double ms(json const& histogram, char const* key) { return num(histogram, key) / 1000.0; }

/// A count: no decimals.
/// Strategies that start on (or race) WebSocket and may end on polling: their fallbacks are counted.
bool falls_back(std::string_view strategy) {
  return strategy == "fallback" || strategy == "race" || strategy == "tryall" || strategy == "remember";
}

std::string whole(double v) { return std::isfinite(v) ? std::to_string(static_cast<long long>(std::llround(v))) : "-"; }

std::string short_commit(std::string const& commit) {
  if (commit.size() <= 12) return commit;
  bool const dirty = commit.ends_with("-dirty");
  return commit.substr(0, 12) + (dirty ? "-dirty" : "");
}

// ---- what a document holds, arranged for charts -----------------------------------------------------------

/// One line of provenance for every chart of a document: scenario, machine, commit, and when (by
/// default the document's start).
std::string provenance(json const& doc, std::string const& when = {}) {
  auto const hash = str(doc, "scenario.hash_fnv1a64");
  return "scenario " + str(doc, "scenario.name", "?") + " (" + hash.substr(0, 8) + ", seed " +
         str(doc, "scenario.seed", "?") + ", faults " + str(doc, "fault_profile", "none") + ") \u00B7 " +
         str(doc, "machine.cpu_model", "?") + ", " + str(doc, "machine.cores", "?") + " cores, " +
         str(doc, "machine.kernel", "?") + " \u00B7 commit " + short_commit(str(doc, "generator.git_commit", "?")) +
         " (" + str(doc, "generator.build_type", "?") + ", " + str(doc, "generator.compiler", "?") + ") \u00B7 " +
         (when.empty() ? str(doc, "started_at") : when);
}

/// The fault a run ran under (runs[].fault): its schedule, or its profile; empty without a proxy.
std::string fault_of(json const& run) {
  auto const& f = at(run, "fault");
  if (!f.is_object()) return {};
  if (auto schedule = str(f, "schedule"); !schedule.empty()) return "schedule " + schedule;
  return str(f, "profile", "pass");
}

/// Where a run's server was, when it was not one process: " \u00B7 2 nodes, sticky cookie".
std::string topology_of(json const& run) {
  auto const& t = at(run, "topology");
  if (!t.is_object() || str(t, "kind", "single") != "cluster") return {};
  return " \u00B7 " + std::to_string(static_cast<long long>(num(t, "nodes"))) + " nodes, sticky " + str(t, "sticky", "?");
}

/// " \u00B7 recovery on" when a run's case had connection state recovery on (config.recovery_window_ms).
std::string recovery_of(json const& run) {
  return num(run, "config.recovery_window_ms") > 0 ? " \u00B7 recovery on" : "";
}

/// Runs drawn together: one target's plain cases under one fault, or one target's steps of one ladder.
struct group {
  std::string target;
  std::string fault;        ///< empty without a fault proxy
  std::string ladder_case;  ///< empty for plain cases
  std::vector<json const*> runs;
  std::string fault_label;  ///< the fault's short name (fault.label), when the result has one
  /// Which runs of a repeated measurement the charts draw ("10 runs", "median run by p99: run-05.json");
  /// empty for a single result.
  std::string run_note = {};
  /// The fault as people read it: its label, else its spec.
  std::string fault_name() const { return fault_label.empty() ? fault : fault_label; }
  std::string title() const {
    return target + (fault.empty() ? "" : " \u00B7 fault " + fault_name()) +
           (ladder_case.empty() ? "" : " \u00B7 ladder " + ladder_case) + (run_note.empty() ? "" : " \u00B7 " + run_note);
  }
};

std::vector<group> groups_of(json const& doc) {
  std::vector<group> out;
  for (auto const* run : items(doc, "runs")) {
    auto const target = str(*run, "target", "?");
    auto const fault = fault_of(*run);
    auto const ladder = str(*run, "ladder_case");
    auto it = std::find_if(out.begin(), out.end(), [&](group const& g) {
      return g.target == target && g.fault == fault && g.ladder_case == ladder;
    });
    if (it == out.end()) {
      out.push_back({target, fault, ladder, {}, fault.empty() ? "" : str(*run, "fault.label")});
      it = std::prev(out.end());
    }
    it->runs.push_back(run);
  }
  return out;
}

/// One strategy of one run: the unit of most charts.
struct strand {
  json const* run;
  std::string strategy;
  json const* data;  ///< by_strategy[strategy]
  std::string label;
  std::string color;
};

std::string run_label(json const& run) {
  if (at(run, "ladder").is_object()) return number(num(run, "ladder.rate_per_client_hz")) + " Hz";
  return str(run, "case", "?");
}

std::vector<strand> strands_of(group const& g) {
  std::vector<strand> out;
  std::set<std::string> strategies;
  bool single = true;  // every run has one strategy
  for (auto const* run : g.runs) {
    auto const& bs = at(*run, "by_strategy");
    if (!bs.is_object()) continue;
    single = single && bs.size() == 1;
    for (auto const& [name, st] : bs.items()) {
      strategies.insert(name);
      out.push_back({run, name, &st, {}, {}});
    }
  }
  bool const by_strategy = g.ladder_case.empty() && (g.runs.size() == 1 || (single && strategies.size() == out.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto& s = out[i];
    if (by_strategy) {
      s.label = s.strategy;
      s.color = svg::strategy_color(s.strategy);
    } else {
      s.label = run_label(*s.run) + (single && !g.ladder_case.empty() ? "" : " \u00B7 " + s.strategy);
      s.color = svg::palette(i);
    }
  }
  return out;
}

int grade_of(std::string const& g) {
  if (g == "pass") return 0;
  if (g == "degraded") return 1;
  if (g == "fail") return 2;
  return -1;
}

// ---- fault windows (runs[].fault_windows): a run cut where the proxy changed its profile --------------------

/// Seconds, as short as they go: "3", "2.5", "0.05".
std::string seconds(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

/// Text cut to about `chars` characters (UTF-8 aware), with an ellipsis; tooltips keep the whole.
std::string clip(std::string const& s, std::size_t chars) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // inside a UTF-8 sequence
    if (++n > chars) return s.substr(0, i) + "\u2026";
  }
  return s;
}

/// When the measure phase starts, in seconds since the run's start (the time base of fault windows;
/// the time series starts there).
double measure_start_s(json const& run) {
  return num(run, "config.phases_s.connect_ramp") + num(run, "config.phases_s.warmup");
}

/// A window's span since the run's start: "3-5 s", or "5 s-end" for the last.
std::string span_of(json const& window) {
  auto const from = seconds(num(window, "from_s"));
  return at(window, "to_s").is_number() ? from + "\u2013" + seconds(num(window, "to_s")) + " s" : from + " s\u2013end";
}

/// Whether a group's runs were cut into windows: a schedule changed the profile at least once.
bool has_windows(group const& g) {
  return std::any_of(g.runs.begin(), g.runs.end(), [](json const* r) { return items(*r, "fault_windows").size() > 1; });
}

/// A strategy's figures in one window (by_strategy[strategy]), or a null json.
json const& window_strategy(json const& window, std::string const& strategy) {
  // Strategy names hold no dot (transport::to_string), so the name is one step of the path.
  return at(window, "by_strategy." + strategy);
}

/// A run's windows of one role ("before", "fault", "after") added up: the run's ledger counts and one
/// strategy's figures.
struct window_sum {
  std::size_t windows = 0;
  double measured_s = 0;
  double expected = 0, lost = 0, duplicated = 0, reordered = 0, missed = 0;  ///< the run's ledger, every phase
  double due = 0, skipped = 0, deliveries = 0;                                ///< the strategy's, measure phase
  /// Deliveries per second of the window(s), NaN when none overlaps the measure phase.
  double rate() const { return measured_s > 0 ? deliveries / measured_s : std::nan(""); }
  /// "lost 3, missed 12, skipped 4" (missed: sent while the receiver was disconnected; skipped: due
  /// while the sender was), or "all delivered", or "nothing due".
  std::string trouble() const {
    std::string out;
    for (auto const& [n, what] : std::vector<std::pair<double, char const*>>{{lost, "lost"},
                                                                           {duplicated, "duplicated"},
                                                                           {reordered, "reordered"},
                                                                           {missed, "missed"},
                                                                           {skipped, "skipped"}})
      if (n > 0) out += (out.empty() ? "" : ", ") + std::string(what) + " " + whole(n);
    if (!out.empty()) return out;
    return expected > 0 || due > 0 ? "all delivered" : "nothing due";
  }
};

window_sum sum_windows(json const& run, std::string const& strategy, std::string_view role) {
  window_sum s;
  for (auto const* w : items(run, "fault_windows")) {
    if (str(*w, "role") != role) continue;
    ++s.windows;
    s.measured_s += num(*w, "measured_s");
    s.expected += num(*w, "delivery.expected");
    s.lost += num(*w, "delivery.lost");
    s.duplicated += num(*w, "delivery.duplicated");
    s.reordered += num(*w, "delivery.reordered");
    s.missed += num(*w, "delivery.missed_disconnected");
    auto const& st = window_strategy(*w, strategy);
    s.due += num(st, "chats_due");
    s.skipped += num(st, "sends_skipped");
    s.deliveries += num(st, "deliveries");
  }
  return s;
}

/// The grade of a window's ledger counts: duplicates and reordering fail anywhere, loss fails outside a
/// fault window (nothing excuses it there) and degrades inside one, missed chats degrade. -1: clean.
int window_delivery_grade(json const& window) {
  if (num(window, "delivery.duplicated") > 0 || num(window, "delivery.reordered") > 0) return 2;
  if (num(window, "delivery.lost") > 0) return str(window, "role") == "fault" ? 1 : 2;
  if (num(window, "delivery.missed_disconnected") > 0) return 1;
  return -1;
}

// ---- charts ------------------------------------------------------------------------------------------------

std::string figure(std::string const& title, std::string const& explanation, std::string const& chart) {
  return "<figure><figcaption><strong>" + escape(title) + "</strong> " + escape(explanation) + "</figcaption>" + chart +
         "</figure>\n";
}

std::string spectrum_figure(group const& g, std::vector<strand> const& strands, std::string const& prov) {
  std::vector<svg::line_series> series;
  double most = 0;
  for (auto const& s : strands) {
    for (bool corrected : {true, false}) {
      svg::line_series ls{s.label, s.color, !corrected, {}};
      auto const& h = at(*s.data, corrected ? "latency.fanout_corrected" : "latency.fanout_uncorrected");
      for (auto const* p : items(h, "spectrum"))
        if (p->is_array() && p->size() >= 2 && (*p)[0].is_number() && (*p)[1].is_number())
          ls.points.emplace_back((*p)[0].get<double>(), (*p)[1].get<double>() / 1000.0);
      most = std::max(most, num(h, "count"));
      series.push_back(std::move(ls));
    }
  }
  int const nines = most > 1 ? static_cast<int>(std::ceil(std::log10(most))) : 2;
  svg::frame const f{"Fan-out latency by percentile: " + g.title(),
                     "Measured: to each chat's arrival at each receiver, from its intended send time (corrected, solid) "
                     "or as a closed-loop generator would (uncorrected, dashed); measure phase only.",
                     prov};
  return figure("Latency by percentile, " + g.title() + ".",
                "wrk2-style percentile spectrum of fan-out latency per strategy. Solid: corrected for coordinated "
                "omission (from the intended send time); dashed: what a closed-loop generator would report (from the "
                "later of the actual send and the previous chat's arrival). Where they part, stalls hid in the "
                "dashed line.",
                svg::spectrum_chart(f, series, nines, "corrected (from intended send)", "uncorrected (closed-loop view)"));
}

std::string ttfm_figure(group const& g, std::vector<strand> const& strands, std::string const& prov) {
  std::vector<svg::range_row> rows;
  for (auto const& s : strands) {
    auto const& h = at(*s.data, "ttfm");
    svg::range_row r{s.label, s.color, ms(h, "min_us"), ms(h, "p50_us"), ms(h, "p90_us"), ms(h, "max_us"),
                     static_cast<std::size_t>(num(h, "count")), {}};
    if (num(*s.data, "handshake.count") > 0) r.markers.push_back({"handshake p50", ms(at(*s.data, "handshake"), "p50_us"), 0});
    if (num(*s.data, "upgrade.count") > 0) r.markers.push_back({"upgraded p50", ms(at(*s.data, "upgrade"), "p50_us"), 1});
    if (num(*s.data, "fallback.count") > 0) r.markers.push_back({"fell back p50", ms(at(*s.data, "fallback"), "p50_us"), 2});
    rows.push_back(std::move(r));
  }
  svg::frame const f{"Time to first message: " + g.title(),
                     "Measured: per session, from the start of connecting to the first chat delivered to it; markers: "
                     "handshake done, upgraded, fell back (p50).",
                     prov};
  return figure("Time to first message, " + g.title() + ".",
                "Per strategy: the whisker spans min to max, the box p50 to p90, the dot is the median. It includes "
                "waiting for the first chat in the room, so compare strategies, not absolute values.",
                svg::range_chart(f, "ms (log scale)", rows));
}

std::string timeseries_figure(group const& g, std::string const& prov) {
  std::vector<svg::line_series> upper, lower;
  for (std::size_t i = 0; i < g.runs.size(); ++i) {
    auto const& run = *g.runs[i];
    std::string const label = g.runs.size() == 1 ? "" : run_label(run);
    // A run of one strategy (a case per strategy, as the fallback study's "kill-ws/polling") gets that
    // strategy's colour, as in every other chart.
    std::string sole_strategy;
    if (auto const& bs = at(run, "by_strategy"); bs.is_object() && bs.size() == 1) sole_strategy = bs.begin().key();
    std::string const color = g.runs.size() == 1      ? svg::palette(0)
                              : !sole_strategy.empty() ? svg::strategy_color(sole_strategy)
                                                       : svg::palette(i);
    double const measure_s = num(run, "config.phases_s.measure", 1e300);
    svg::line_series rate{label.empty() ? "deliveries/s" : label, color, false, {}};
    svg::line_series p99{label.empty() ? "p99" : label, color, false, {}};
    svg::line_series p50{label.empty() ? "p50" : label + " p50", g.runs.size() == 1 ? svg::palette(1) : color, true, {}};
    auto const points = items(run, "timeseries");
    for (std::size_t k = 0; k < points.size(); ++k) {
      double const t = num(*points[k], "t_start_s");
      if (t >= measure_s) break;  // a sliver after the measure phase: not a second of traffic
      double const next = k + 1 < points.size() ? num(*points[k + 1], "t_start_s") : t + 1.0;
      double const width = next > t ? next - t : 1.0;
      rate.points.emplace_back(t, num(*points[k], "count") / width);
      p99.points.emplace_back(t, num(*points[k], "p99_us") / 1000.0);
      p50.points.emplace_back(t, num(*points[k], "p50_us") / 1000.0);
    }
    upper.push_back(std::move(rate));
    lower.push_back(std::move(p99));
    if (g.runs.size() == 1) lower.push_back(std::move(p50));
  }
  // The fault windows of a schedule, moved from the run's clock to the measure phase's (the runs of a
  // group share a schedule, so equal spans are drawn once).
  std::vector<svg::band> bands;
  for (auto const* run : g.runs) {
    auto const windows = items(*run, "fault_windows");
    if (windows.size() <= 1) continue;
    double const origin = measure_start_s(*run);
    for (auto const* w : windows) {
      if (str(*w, "role") != "fault") continue;
      svg::band b{num(*w, "from_s") - origin, at(*w, "to_s").is_number() ? num(*w, "to_s") - origin : 1e300,
                  "fault: " + str(*w, "profile", "?"), svg::fault_shade,
                  span_of(*w) + " after the run's start; the measure phase starts at " + seconds(origin) + " s"};
      if (std::none_of(bands.begin(), bands.end(), [&](svg::band const& o) {
            return o.from == b.from && o.to == b.to && o.name == b.name;
          }))
        bands.push_back(std::move(b));
    }
  }
  std::string const shaded = bands.empty() ? "" : " Shaded: the fault windows, while the proxy applied a fault.";
  svg::frame const f{"Throughput and p99 over time: " + g.title(),
                     "Measured: per second of the measure phase, deliveries to receivers (top) and the corrected "
                     "fan-out latency of the chats delivered in it (bottom)." + shaded,
                     prov};
  return figure("Throughput and latency over time, " + g.title() + ".",
                "Deliveries per second (top) and fan-out p99 per second (bottom; p50 dashed when one run). A steady "
                "rate with a rising p99 means queues are building." +
                    (bands.empty() ? std::string() : " Shaded: when the fault was on; watch the rate fall and recover."),
                svg::two_panel_chart(f, "seconds into the measure phase", "deliveries/s", upper, "latency (ms)", lower,
                                     bands));
}

/// Per window of a fault schedule (before the fault, during it, after it), per strategy: what each did.
std::string windows_figure(group const& g, std::vector<strand> const& strands, std::string const& prov) {
  // Columns: the windows of the run with the most (the runs of a group share a schedule).
  std::vector<json const*> spans;
  json const* origin_run = nullptr;
  for (auto const* run : g.runs)
    if (auto w = items(*run, "fault_windows"); w.size() > spans.size()) {
      spans = std::move(w);
      origin_run = run;
    }
  double const origin = origin_run ? measure_start_s(*origin_run) : 0;
  std::vector<svg::window_column> columns;
  for (auto const* w : spans) {
    auto const role = str(*w, "role", "?");
    double const measured = num(*w, "measured_s");
    columns.push_back({span_of(*w), str(*w, "profile", "?") + " (" + (role == "after" ? "recovery" : role) + ")",
                       role == "fault",
                       measured > 0 ? seconds(measured) + " s of it in the measure phase"
                                    : "outside the measure phase: no latency or throughput figures"});
  }
  std::vector<std::string> const measures{"fan-out p50 / p99 ms", "deliveries/s",   "sends skipped / due",
                                          "sessions lost",        "recovery p50 ms", "lost/dup/reord/missed"};
  std::vector<svg::window_block> blocks;
  for (auto const& s : strands) {
    svg::window_block b{s.label, s.color, measures, std::vector<std::vector<svg::grid_cell>>(measures.size())};
    bool const shared = at(*s.run, "by_strategy").size() > 1;
    for (auto const* w : items(*s.run, "fault_windows")) {
      auto const& st = window_strategy(*w, s.strategy);
      bool const measured = num(*w, "measured_s") > 0;
      svg::grid_cell const outside{-1, "-", "outside the measure phase"};
      auto const& lat = at(st, "fanout_corrected");
      if (!measured)
        b.cells[0].push_back(outside);
      else if (num(lat, "count") <= 0)
        b.cells[0].push_back({-1, "none", "no delivery measured of the chats intended in this window"});
      else
        b.cells[0].push_back({-1, number(ms(lat, "p50_us")) + " / " + number(ms(lat, "p99_us")),
                              whole(num(lat, "count")) + " deliveries; p50 " + number(ms(lat, "p50_us")) + ", p90 " +
                                  number(ms(lat, "p90_us")) + ", p99 " + number(ms(lat, "p99_us")) + ", max " +
                                  number(ms(lat, "max_us")) + " ms (corrected, from the intended send time)"});
      double const rate = at(st, "deliveries_per_s").is_number() ? num(st, "deliveries_per_s")
                                                                 : num(st, "deliveries") / num(*w, "measured_s", 1);
      b.cells[1].push_back(measured ? svg::grid_cell{-1, number(rate),
                                                     whole(num(st, "deliveries")) + " deliveries in " +
                                                         seconds(num(*w, "measured_s")) + " s"}
                                    : outside);
      double const due = num(st, "chats_due"), skipped = num(st, "sends_skipped");
      b.cells[2].push_back(measured ? svg::grid_cell{skipped > 0 ? 1 : -1, whole(skipped) + " / " + whole(due),
                                                     "sent " + whole(num(st, "chats_sent")) + " of " + whole(due) +
                                                         " due; skipped: due while the sender was disconnected "
                                                         "(open loop: not sent later)"}
                                    : outside);
      double const lost_sessions = num(st, "disconnects");
      b.cells[3].push_back({lost_sessions > 0 ? 1 : -1, whole(lost_sessions), "sessions lost in the window"});
      auto const& rec = at(st, "recovery");
      b.cells[4].push_back(num(rec, "count") > 0
                               ? svg::grid_cell{-1, number(ms(rec, "p50_us")) + " (" + whole(num(rec, "count")) + ")",
                                                "from a session lost in the window to its namespace connected again: "
                                                "p50 " + number(ms(rec, "p50_us")) + ", p90 " +
                                                    number(ms(rec, "p90_us")) + ", max " + number(ms(rec, "max_us")) +
                                                    " ms (count in brackets)"}
                               : svg::grid_cell{-1, "-", "no session lost in the window recovered"});
      auto const& d = at(*w, "delivery");
      b.cells[5].push_back({window_delivery_grade(*w),
                            whole(num(d, "lost")) + "/" + whole(num(d, "duplicated")) + "/" + whole(num(d, "reordered")) +
                                "/" + whole(num(d, "missed_disconnected")),
                            "chats intended in the window (every phase): expected " + whole(num(d, "expected")) +
                                ", delivered " + whole(num(d, "delivered")) + ", lost " + whole(num(d, "lost")) +
                                ", duplicated " + whole(num(d, "duplicated")) + ", reordered " +
                                whole(num(d, "reordered")) +
                                (at(d, "unexpected").is_number() ? ", unexpected " + whole(num(d, "unexpected")) : "") +
                                ", missed while the receiver was disconnected " + whole(num(d, "missed_disconnected")) +
                                (shared ? " (the run's ledger, shared by its strategies)" : "")});
    }
    blocks.push_back(std::move(b));
  }
  svg::frame const f{"Fault windows: " + g.title(),
                     "Measured: per window between the proxy's profile changes (seconds since the run's start; the "
                     "measure phase from " + seconds(origin) + " s) and per strategy, the chats intended in it: "
                     "fan-out latency and deliveries (measure phase), sends skipped while disconnected, sessions lost "
                     "and their time to recover, and the delivery ledger's lost, duplicated, reordered and missed "
                     "counts (every phase).",
                     prov};
  return figure("Fault windows, " + g.title() + ".",
                "The run cut where the fault proxy changed profile: before the fault, during it (shaded, as on the "
                "time series) and after it (recovery). Amber: degraded (chats lost or missed during the fault, sends "
                "skipped, sessions lost); red: failed (chats lost outside the fault, duplicated or reordered). "
                "Hover a cell for its counts.",
                svg::window_chart(f, columns, blocks, "fault window"));
}

/// A strategy's TLS handshakes and how many of them resumed a session (wire.tls_handshakes, wire.tls_resumed).
struct tls_count {
  std::string label;
  double handshakes, resumed;
};

/// The wire chart's line on TLS (docs/tls.md, "Session resumption"): per strategy, its clients' TLS
/// handshakes and how many resumed, since a full handshake is most of what TLS costs a connection.
/// Empty when no strategy spoke TLS (or the result predates the counts).
std::string tls_note(std::vector<tls_count> const& counts) {
  std::string note;
  for (auto const& c : counts) {
    if (!(c.handshakes > 0)) continue;
    note += (note.empty() ? " TLS handshakes (resumed): " : ", ") + c.label + " " + whole(c.handshakes) + " (" +
            whole(c.resumed) + ")";
  }
  return note.empty() ? note : note + ".";
}

std::string wire_chart(group const& g, std::vector<svg::bar_row> const& rows, std::string const& prov,
                       std::string const& tls) {
  svg::frame const f{"Wire cost per delivered message: " + g.title(),
                     "Measured: at the client sockets, TCP payload bytes both ways and HTTP requests, divided by the "
                     "chats delivered to that strategy's clients.",
                     prov};
  return figure("Wire cost, " + g.title() + ".",
                "Bytes and HTTP requests per delivered message. Polling pays HTTP headers and a request per batch; "
                "WebSocket pays a frame header." + tls,
                svg::bar_panels_chart(f, {"bytes per delivery", "HTTP requests per delivery"}, rows));
}

std::string wire_figure(group const& g, std::vector<strand> const& strands, std::string const& prov) {
  std::vector<svg::bar_row> rows;
  std::vector<tls_count> tls;
  for (auto const& s : strands) {
    rows.push_back({s.label, s.color, {num(*s.data, "wire.bytes_per_delivery"), num(*s.data, "wire.requests_per_delivery")}});
    tls.push_back({s.label, num(*s.data, "wire.tls_handshakes"), num(*s.data, "wire.tls_resumed")});
  }
  return wire_chart(g, rows, prov, tls_note(tls));
}

std::vector<std::string> const verdict_columns{"run valid", "connected", "errors", "transport", "loss", "duplication",
                                               "reordering"};

/// A strand's row of the delivery verdict grid, one cell per verdict_columns.
std::vector<svg::grid_cell> verdict_row(strand const& s) {
  auto const& run = *s.run;
  auto const& st = *s.data;
  std::vector<svg::grid_cell> row;
  // Run validity: the generator kept its schedule, stayed under its CPU bound and error budget.
  bool const valid = at(run, "valid").is_boolean() && at(run, "valid").get<bool>();
  std::string reasons;
  for (auto const* r : items(run, "invalid_reasons")) reasons += (reasons.empty() ? "" : "; ") + str(*r, "");
  row.push_back({valid ? 0 : 2, valid ? "valid" : "invalid", reasons});
  double const clients = num(st, "clients"), connected = num(st, "clients_connected", clients);
  row.push_back({connected >= clients ? 0 : connected > 0 ? 1 : 2, whole(connected) + "/" + whole(clients), {}});
  double errors = 0;
  std::string error_detail;
  if (auto const& e = at(st, "errors"); e.is_object())
    for (auto const& [kind, n] : e.items())
      if (n.is_number() && n.get<double>() > 0) {
        errors += n.get<double>();
        error_detail += kind + ": " + n.dump() + " ";
      }
  row.push_back({errors > 0 ? 1 : 0, errors > 0 ? whole(errors) : "none", error_detail});
  if (s.strategy == "upgrade") {
    double const failed = num(st, "upgrades_failed");
    row.push_back({failed > 0 ? 1 : 0, failed > 0 ? whole(failed) + " failed" : "upgraded", "upgrades that failed"});
  } else if (falls_back(s.strategy)) {
    double const fell = num(st, "fallbacks");
    row.push_back({fell > 0 ? 1 : 0, fell > 0 ? "fell back " + whole(fell) : "websocket",
                   s.strategy == "race" ? "races that polling won" : "sessions that fell back to polling"});
  } else {
    row.push_back({-1, "n/a", "polling and websocket never change transport"});
  }
  for (char const* check : {"loss", "duplication", "reordering"}) {
    auto const gv = str(run, std::string("delivery.verdict.") + check, "n/a");
    char const* counter = check == std::string_view("loss") ? "lost"
                          : check == std::string_view("duplication") ? "duplicated"
                                                                     : "reordered";
    double const n = num(run, std::string("delivery.total.") + counter);
    row.push_back({grade_of(gv), gv == "pass" ? "pass" : gv + " (" + whole(n) + ")",
                   std::string(counter) + ": " + whole(n) + " of " + whole(num(run, "delivery.total.expected")) +
                       " expected (ledger verdict of the whole run)"});
  }
  return row;
}

std::string verdict_chart(group const& g, std::vector<std::string> const& names,
                          std::vector<std::vector<svg::grid_cell>> const& cells, std::string const& prov,
                          std::string const& how = {}) {
  auto const& columns = verdict_columns;
  svg::frame const f{"Delivery verdicts: " + g.title(),
                     "Measured: run validity, sessions connected and typed errors per strategy; loss, duplication and "
                     "reordering from the delivery ledger, per run (a run's strategies share them).",
                     prov};
  return figure("Delivery verdicts, " + g.title() + ".",
                "One row per strategy of each run, one column per check, as Autobahn's case grid: green pass, amber "
                "degraded (it worked, but not fully or not as preferred), red fail." + how,
                svg::grid_chart(f, columns, names, cells));
}

std::string verdict_figure(group const& g, std::vector<strand> const& strands, std::string const& prov) {
  std::vector<std::string> names;
  std::vector<std::vector<svg::grid_cell>> cells;
  for (auto const& s : strands) {
    names.push_back(s.label);  // unique within the group (strands_of)
    cells.push_back(verdict_row(s));
  }
  return verdict_chart(g, names, cells, prov);
}

std::string timeline_figure(group const& g, std::size_t limit, std::string const& prov) {
  // Take the runs' samples in turn, so each run shows.
  std::vector<std::vector<json const*>> per_run;
  for (auto const* run : g.runs) per_run.push_back(items(*run, "timelines"));
  std::vector<svg::timeline_row> rows;
  for (std::size_t k = 0; rows.size() < limit; ++k) {
    bool any = false;
    for (std::size_t r = 0; r < per_run.size() && rows.size() < limit; ++r) {
      if (k >= per_run[r].size()) continue;
      any = true;
      auto const& tl = *per_run[r][k];
      auto const strategy = str(tl, "strategy", "?");
      svg::timeline_row row{(g.runs.size() > 1 && !g.ladder_case.empty() ? run_label(*g.runs[r]) + " \u00B7 " : "") +
                                strategy + " #" + str(tl, "client", "?"),
                            svg::strategy_color(strategy),
                            {}};
      auto const events = items(tl, "events");
      double const t0 = events.empty() ? 0 : num(*events.front(), "t_ms");
      for (auto const* e : events)
        row.events.push_back({str(*e, "event", "?"), str(*e, "detail"), num(*e, "t_ms") - t0, num(*e, "t_ms")});
      rows.push_back(std::move(row));
    }
    if (!any) break;
  }
  svg::frame const f{"Session timelines: " + g.title(),
                     "Measured: the transitions each client recorded (connecting, handshake, namespace, probe, "
                     "upgraded, fell back, ...), from its first event; a sample of the first sessions of each strategy.",
                     prov};
  return figure("Session timelines, " + g.title() + ".",
                "One row per sampled session; each dot is a transition (hover for its time). Upgrade sessions show "
                "the probe and the switch to WebSocket; fallback sessions show the failed WebSocket and the fallback.",
                svg::timeline_chart(f, rows));
}

/// Time to first message of every strategy under every fault, one chart per target: how much each
/// fault delays the first message, strategy by strategy.
std::string ttfm_by_fault_figures(json const& doc, std::string const& prov, std::string const& note = {}) {
  std::vector<std::string> targets;
  for (auto const& g : groups_of(doc))
    if (std::find(targets.begin(), targets.end(), g.target) == targets.end()) targets.push_back(g.target);
  std::string out;
  for (auto const& target : targets) {
    std::vector<svg::range_row> rows;
    for (auto const& g : groups_of(doc)) {
      if (g.target != target || !g.ladder_case.empty()) continue;
      for (auto const& s : strands_of(g)) {
        auto const& h = at(*s.data, "ttfm");
        svg::range_row r{(g.fault.empty() ? "no proxy" : g.fault_name()) + " \u00B7 " + s.strategy, svg::strategy_color(s.strategy),
                         ms(h, "min_us"), ms(h, "p50_us"), ms(h, "p90_us"), ms(h, "max_us"),
                         static_cast<std::size_t>(num(h, "count")), {}};
        if (num(*s.data, "fallback.count") > 0)
          r.markers.push_back({"fell back p50", ms(at(*s.data, "fallback"), "p50_us"), 2});
        if (num(*s.data, "recovery.count") > 0)
          r.markers.push_back({"reconnected p50 (after a lost session)", ms(at(*s.data, "recovery"), "p50_us"), 1});
        rows.push_back(std::move(r));
      }
    }
    auto const title = target + (note.empty() ? "" : " \u00B7 " + note);
    svg::frame const f{"Time to first message by fault: " + title,
                       "Measured: per session, from the start of connecting to the first chat delivered to it, through "
                       "the fault proxy of each run; markers: fell back, reconnected (p50).",
                       prov};
    out += figure("Time to first message by fault, " + title + ".",
                  "Every strategy under every fault of the study. \"no data\": no session of that strategy ever "
                  "received a message under that fault.",
                  svg::range_chart(f, "ms (log scale)", rows));
  }
  return out;
}

/// The side-by-side ratios of one document, or of repeats of one (each ratio the median over the
/// runs that have it).
std::string ratio_figure(std::vector<json const*> const& docs, std::string const& prov) {
  std::vector<svg::ratio_group> groups;
  std::vector<std::map<std::string, std::vector<double>>> values;  // per group: ratio name -> per run
  for (auto const* doc : docs)
    for (auto const* c : items(*doc, "comparisons")) {
      auto const name = str(*c, "case", "?") + ": " + str(*c, "candidate", "?") + " / " + str(*c, "reference", "?");
      auto it = std::find_if(groups.begin(), groups.end(), [&](svg::ratio_group const& g) { return g.name == name; });
      if (it == groups.end()) {
        groups.push_back({name, {}});
        values.emplace_back();
        it = std::prev(groups.end());
      }
      auto& g = *it;
      auto& v = values[static_cast<std::size_t>(it - groups.begin())];
      for (auto const& [key, ratio] : std::vector<std::pair<char const*, char const*>>{{"p50_ratio", "p50"},
                                                                                       {"p99_ratio", "p99"},
                                                                                       {"throughput_ratio", "deliveries/s"},
                                                                                       {"cpu_per_delivery_ratio", "CPU/delivery"},
                                                                                       {"peak_rss_ratio", "peak RSS"}})
        if (at(*c, key).is_number()) {
          if (std::none_of(g.ratios.begin(), g.ratios.end(), [&](auto const& r) { return r.first == ratio; }))
            g.ratios.emplace_back(ratio, 0);
          v[ratio].push_back(num(*c, key));
        }
    }
  for (std::size_t i = 0; i < groups.size(); ++i)
    for (auto& [ratio, value] : groups[i].ratios) value = compare::median(values[i][ratio]);
  svg::frame const f{"Side by side: each target against the reference",
                     "Measured: per case, the later target's fan-out p50 and p99 (corrected), deliveries/s, server CPU "
                     "per delivery and peak RSS, divided by the first target's.",
                     prov};
  return figure(docs.size() > 1 ? "Side-by-side ratios, median of " + std::to_string(docs.size()) + " runs." : "Side-by-side ratios.",
                "Candidate / reference per case on a log scale: left of 1\u00D7 the candidate has less of it (lower "
                "latency, less CPU or memory; but also fewer deliveries/s).",
                svg::ratio_chart(f, groups));
}

std::string ladder_figure(json const& doc, std::string const& prov) {
  std::vector<svg::line_series> series;
  double bound = 0;
  for (auto const& g : groups_of(doc)) {
    if (g.ladder_case.empty()) continue;
    svg::line_series s{g.target + " \u00B7 " + g.ladder_case, svg::palette(series.size()), false, {}};
    for (auto const* run : g.runs) {
      s.points.emplace_back(num(*run, "ladder.rate_per_client_hz"), ms(at(*run, "latency.fanout_corrected"), "p99_us"));
      bound = std::max(bound, num(*run, "ladder.stop_p99_ms"));
    }
    std::sort(s.points.begin(), s.points.end());  // refinement steps run after the rise, between its rates
    series.push_back(std::move(s));
  }
  svg::frame const f{"Capacity ladders",
                     "Measured: fan-out p99 (corrected) at each offered rate per client; a ladder rises until a step is "
                     "over the bound or not valid (then may bisect once or twice below it), or until its last step.",
                     prov};
  return figure("Capacity.",
                "Fan-out p99 against the offered rate, per target and case. The knee is the highest valid step under "
                "the dashed bound (table above, with why each ladder stopped).",
                svg::ladder_chart(f, series, bound > 0 ? bound : 250));
}

// ---- tables ------------------------------------------------------------------------------------------------

/// A strategy's grade (0 pass, 1 degraded, 2 fail) in a run, and "pass" or "degraded: WHY" / "fail: WHY",
/// as the strategy-by-fault grid grades it (defined with the grid, below).
std::pair<int, std::string> strategy_verdict(json const& run, std::string const& strategy, json const& st);

struct summary_row {
  std::string target, run_case, strategy;
  double clients, connected, deliveries_per_s, p50, p99, p999, p99_uncorrected, ack_p99, ttfm_p50, bytes, requests;
  double lost, duplicated;  ///< the run's delivery ledger (shared by its strategies)
  /// The strategy's verdict, graded as the strategy-by-fault grid grades it (one rule, so the table and
  /// the grid never disagree): "pass", or "degraded: ..." / "fail: ..." with the worst reason.
  std::string verdict;
  int grade;
  bool valid;
};

std::vector<summary_row> summary_rows(json const& doc) {
  std::vector<summary_row> out;
  for (auto const* run : items(doc, "runs")) {
    double const measure_s = num(*run, "config.phases_s.measure", 1);
    auto const& bs = at(*run, "by_strategy");
    if (!bs.is_object()) continue;
    for (auto const& [name, st] : bs.items()) {
      auto const& lat = at(st, "latency.fanout_corrected");
      auto const [grade, verdict] = strategy_verdict(*run, name, st);
      out.push_back({str(*run, "target", "?"), str(*run, "case", "?"), name, num(st, "clients"),
                     num(st, "clients_connected", num(st, "clients")), num(lat, "count") / (measure_s > 0 ? measure_s : 1),
                     ms(lat, "p50_us"), ms(lat, "p99_us"), ms(lat, "p99_9_us"),
                     ms(at(st, "latency.fanout_uncorrected"), "p99_us"), ms(at(st, "latency.ack"), "p99_us"),
                     ms(at(st, "ttfm"), "p50_us"), num(st, "wire.bytes_per_delivery"),
                     num(st, "wire.requests_per_delivery"), num(*run, "delivery.total.lost"),
                     num(*run, "delivery.total.duplicated"), verdict, grade,
                     at(*run, "valid").is_boolean() && at(*run, "valid").get<bool>()});
    }
  }
  return out;
}

std::string html_summary_table(json const& doc) {
  std::ostringstream h;
  h << "<table class=\"summary\"><thead><tr><th>target</th><th>case</th><th>strategy</th><th>clients</th>"
       "<th>deliveries/s</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>p99 uncorr. ms</th><th>ack p99 ms</th>"
       "<th>TTFM p50 ms</th><th>B/delivery</th><th>req/delivery</th><th>verdict</th><th>valid</th></tr></thead><tbody>";
  for (auto const& r : summary_rows(doc)) {
    h << "<tr><td>" << escape(r.target) << "</td><td>" << escape(r.run_case) << "</td><td>" << escape(r.strategy)
      << "</td><td>" << whole(r.connected) << "/" << whole(r.clients) << "</td><td>" << number(r.deliveries_per_s)
      << "</td><td>" << number(r.p50) << "</td><td>" << number(r.p99) << "</td><td>" << number(r.p999) << "</td><td>"
      << number(r.p99_uncorrected) << "</td><td>" << number(r.ack_p99) << "</td><td>" << number(r.ttfm_p50)
      << "</td><td>" << number(r.bytes) << "</td><td>" << number(r.requests) << "</td><td class=\"g"
      << r.grade + 1 << "\">" << escape(r.verdict) << "</td><td class=\"g" << (r.valid ? 1 : 3) << "\">"
      << (r.valid ? "yes" : "NO") << "</td></tr>";
  }
  h << "</tbody></table>\n";
  return h.str();
}

/// A capacity[] entry as the tables show it. Documents before knees were reported have no
/// knee_found or stop_reason: their knee and stop cells stay "-".
struct capacity_row {
  std::string target, ladder_case;
  bool none;         ///< no step stayed within the bound
  double rate, deliveries, p99, bound;
  std::string knee;  ///< "16000 deliveries/s offered", "knee not found, capacity \u2265 4000 deliveries/s offered", or "-"
  std::string stop;  ///< "over the p99 bound (p99 812 ms > 250 ms)", ...
};

std::string stop_text(std::string_view reason) {
  if (reason == "over_bound") return "over the p99 bound";
  if (reason == "server_failed") return "server failed";
  if (reason == "generator_saturated") return "generator saturated (its limit, not the server's)";
  if (reason == "generator_behind") return "generator fell behind (its limit, not the server's)";
  if (reason == "max_steps") return "max steps reached without a knee";
  return std::string(reason);
}

capacity_row capacity_row_of(json const& c) {
  capacity_row r{str(c, "target"), str(c, "case"), !at(c, "max_rate_per_client_hz").is_number(),
                 num(c, "max_rate_per_client_hz"), num(c, "deliveries_per_s"), num(c, "p99_ms"), num(c, "stop_p99_ms"), "-", "-"};
  auto const& found = at(c, "knee_found");
  if (found.is_boolean()) {
    auto const offered = number(num(c, "offered_deliveries_per_s", r.deliveries)) + " deliveries/s offered";
    if (r.none)
      r.knee = found.get<bool>() ? "below the first step" : "knee not found: no step measured the server";
    else
      r.knee = found.get<bool>() ? offered : "knee not found, capacity \u2265 " + offered;
  }
  if (auto const reason = str(c, "stop_reason"); !reason.empty()) {
    r.stop = stop_text(reason);
    if (auto const rate = at(c, "stopped_at.rate_per_client_hz"); rate.is_number())
      r.stop += " at " + number(rate.get<double>()) + " chats/s per client";
    if (auto const detail = str(c, "stop_detail"); !detail.empty()) r.stop += " (" + detail + ")";
  }
  return r;
}

std::string html_capacity_table(json const& doc) {
  auto const entries = items(doc, "capacity");
  if (entries.empty()) return {};
  std::ostringstream h;
  h << "<table class=\"summary\"><thead><tr><th>target</th><th>ladder case</th><th>capacity: chats/s per client</th>"
       "<th>deliveries/s</th><th>p99 ms</th><th>bound ms</th><th>knee</th><th>stopped</th></tr></thead><tbody>";
  for (auto const* c : entries) {
    auto const r = capacity_row_of(*c);
    bool const not_found = at(*c, "knee_found").is_boolean() && !at(*c, "knee_found").get<bool>();
    h << "<tr><td>" << escape(r.target) << "</td><td>" << escape(r.ladder_case) << "</td><td>"
      << (r.none ? std::string("none within the bound") : number(r.rate)) << "</td><td>"
      << (r.none ? "-" : number(r.deliveries)) << "</td><td>" << (r.none ? "-" : number(r.p99)) << "</td><td>"
      << number(r.bound) << "</td><td class=\"g" << (not_found ? 2 : 1) << "\">" << escape(r.knee) << "</td><td>"
      << escape(r.stop) << "</td></tr>";
  }
  h << "</tbody></table>\n";
  return h.str();
}

/// Markdown table cell text as a code span (`p99_ms < 50`): inside one, markup, entities and backslash
/// escapes are shown as written, so only the pipe (which would end the cell, GFM) and line breaks are
/// replaced; a backtick in the text takes a longer fence.
std::string md_code(std::string_view s) {
  std::string body;
  for (char c : s) {
    if (c == '|') body += "\\|";
    else if (c == '\n' || c == '\r') body += ' ';
    else body += c;
  }
  std::string const fence = body.find('`') == std::string::npos ? "`" : "`` ";
  std::string const close = fence == "`" ? "`" : " ``";
  return fence + body + close;
}

/// Markdown table cell text: no pipe, no markup, no HTML, no line break.
std::string md(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '|': out += "\\|"; break;
      case '\\': out += "\\\\"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '`': case '*': case '_': case '[': case ']': case '#':
        out += '\\';
        out += c;
        break;
      case '\n': case '\r': out += ' '; break;
      default: out += c;
    }
  }
  return out;
}

// ---- the fallback study: every strategy under every fault, per target ---------------------------------------

/// The strategies in the order the study compares them: fixed transports first, then the ones that switch.
constexpr std::array<std::string_view, 7> strategy_order{"polling", "websocket", "upgrade", "fallback",
                                                         "race",    "tryall",    "remember"};

/// Sorts strategy names into strategy_order, others after them in their order.
void sort_strategies(std::vector<std::string>& strategies) {
  auto const rank = [](std::string const& s) {
    return static_cast<std::size_t>(std::find(strategy_order.begin(), strategy_order.end(), s) - strategy_order.begin());
  };
  std::stable_sort(strategies.begin(), strategies.end(),
                   [&](std::string const& a, std::string const& b) { return rank(a) < rank(b); });
}

/// One strategy of one run under a fault, summarised and graded.
struct fault_cell {
  int grade = 0;                                ///< 0 pass, 1 degraded, 2 fail
  std::vector<std::pair<int, std::string>> why;  ///< what made it degraded (1) or failed (2), worst first
  std::vector<std::string> lines;               ///< the figures, one short line each
};

fault_cell fault_cell_of(json const& run, std::string const& strategy, json const& st) {
  fault_cell c;
  auto const flag = [&](int grade, std::string why) { c.why.emplace_back(grade, std::move(why)); };
  auto& lines = c.lines;

  double const clients = num(st, "clients"), connected = num(st, "clients_connected", clients);
  double const reconnections = num(st, "reconnections");
  lines.push_back("connected " + whole(connected) + "/" + whole(clients) +
                  (reconnections > 0 ? " \u00B7 " + whole(reconnections) + " reconnections" : ""));
  if (clients > 0 && connected <= 0)
    flag(2, "no session connected");
  else if (connected < clients)
    flag(1, whole(clients - connected) + " never connected");
  if (reconnections > 0) flag(1, "reconnected " + whole(reconnections) + "\u00D7");

  auto const& ttfm = at(st, "ttfm");
  lines.push_back(num(ttfm, "count") > 0 ? "TTFM p50 " + number(ms(ttfm, "p50_us")) + " ms" : "no first message");

  if (strategy == "upgrade") {
    double const failed = num(st, "upgrades_failed");
    if (num(st, "upgrade.count") > 0) {
      lines.push_back("upgraded p50 " + number(ms(at(st, "upgrade"), "p50_us")) + " ms");
    } else {
      lines.push_back(connected > 0 ? "stayed on polling" : "no upgrade");
      if (connected > 0) flag(1, "never upgraded");
    }
    if (failed > 0) {
      lines.back() += " \u00B7 " + whole(failed) + " upgrades failed";
      if (num(st, "upgrade.count") > 0) flag(1, whole(failed) + " upgrades failed");
    }
  } else if (falls_back(strategy)) {
    double const fell = std::max(num(st, "fallbacks"), num(st, "fallback.count"));
    if (fell > 0) {
      lines.push_back("fell back: " + whole(fell) +
                      (num(st, "fallback.count") > 0 ? " \u00B7 p50 " + number(ms(at(st, "fallback"), "p50_us")) + " ms"
                                                     : ""));
      flag(1, "fell back to polling");
    } else {
      lines.push_back("no fallback");
    }
  }

  auto const& lat = at(st, "latency.fanout_corrected");
  double const measured = at(lat, "count").is_number() ? num(lat, "count") : num(st, "deliveries");
  if (measured > 0) {
    lines.push_back("fan-out p50/p99 " + number(ms(lat, "p50_us")) + "/" + number(ms(lat, "p99_us")) + " ms");
    lines.push_back(number(num(st, "wire.bytes_per_delivery")) + " B/delivery");
  } else {
    lines.push_back("no delivery measured");
  }

  auto const windows = items(run, "fault_windows");
  double due = 0;
  for (auto const* w : windows) due += num(window_strategy(*w, strategy), "chats_due");
  if (windows.empty()) due = num(run, "delivery.total.expected");
  if (measured <= 0 && due > 0) flag(2, "nothing delivered while chats were due");

  // A case mixing strategies has the ledger's counts per strategy: a cell shows its own receivers'
  // (the fault windows' counts are the whole run's, so they would blame every strategy for one's loss).
  auto const& own = at(st, "delivery");
  bool const mixed = at(run, "by_strategy").size() > 1 && own.is_object();
  auto const& counts = mixed ? own : at(run, "delivery.total");
  double duplicated = num(counts, "duplicated"), reordered = num(counts, "reordered");
  if (!windows.empty() && !mixed) {
    auto const before = sum_windows(run, strategy, "before"), fault = sum_windows(run, strategy, "fault"),
               after = sum_windows(run, strategy, "after");
    duplicated = std::max(duplicated, before.duplicated + fault.duplicated + after.duplicated);
    reordered = std::max(reordered, before.reordered + fault.reordered + after.reordered);
    if (before.windows > 0 && before.lost > 0) flag(2, "lost " + whole(before.lost) + " before the fault");
    if (before.windows > 0 && before.missed + before.skipped > 0) flag(1, "missed or skipped before the fault");
    if (fault.windows > 0) {
      lines.push_back("fault window: " + fault.trouble());
      if (fault.lost + fault.missed + fault.skipped > 0) flag(1, "lost, missed or skipped during the fault");
    }
    if (after.windows > 0) {
      lines.push_back("after recovery: " + after.trouble());
      if (after.lost > 0) flag(2, "lost " + whole(after.lost) + " after recovery");
      if (after.missed + after.skipped > 0) flag(1, "missed or skipped after recovery");
    }
    std::string rates;
    for (auto const* sum : {&before, &fault, &after})
      if (std::isfinite(sum->rate()))
        rates += std::string(rates.empty() ? "" : " \u00B7 ") +
                 (sum == &before ? "before " : sum == &fault ? "fault " : "after ") + number(sum->rate());
    if (!rates.empty()) lines.push_back("deliveries/s " + rates);
  } else {
    // No windows (an older result), or a mixed case: the whole run counts, under the fault when there was one.
    double const lost = num(counts, "lost"), missed = num(counts, "missed_disconnected");
    bool const faulty = at(run, "fault").is_object() && fault_of(run) != "pass";
    if (lost + missed + duplicated + reordered > 0)
      lines.push_back("whole run: lost " + whole(lost) + " \u00B7 dup " + whole(duplicated) + " \u00B7 reord " +
                      whole(reordered) + " \u00B7 missed " + whole(missed));
    if (lost > 0) flag(faulty ? 1 : 2, "lost " + whole(lost) + (faulty ? " under the fault" : " without a fault"));
    if (missed > 0) flag(1, "missed " + whole(missed) + " while disconnected");
  }
  if (duplicated > 0) flag(2, whole(duplicated) + " duplicated");
  if (reordered > 0) flag(2, whole(reordered) + " reordered");

  if (auto const& rec = at(st, "recovery"); num(rec, "count") > 0)
    lines.push_back("recovery p50 " + number(ms(rec, "p50_us")) + " ms (" + whole(num(rec, "count")) + ")");
  // Connection state recovery: sessions given back against fresh ones, and what that saved: chats
  // replayed, beside those still missed (this strategy's receivers').
  if (auto const& sr = at(st, "state_recovery"); sr.is_object())
    lines.push_back("state recovery: recovered " + whole(num(sr, "recovered")) + " \u00B7 fresh " +
                    whole(num(sr, "not_recovered")) + " \u00B7 replayed " + whole(num(sr, "replayed")) + " \u00B7 missed " +
                    whole(num(st, "delivery.missed_disconnected")));

  std::string top_error;
  double top = 0, errors = 0;
  if (auto const& e = at(st, "errors"); e.is_object())
    for (auto const& [message, n] : e.items())
      if (n.is_number() && n.get<double>() > 0) {
        errors += n.get<double>();
        if (n.get<double>() > top) {
          top = n.get<double>();
          top_error = message;
        }
      }
  if (errors > 0) {
    lines.push_back("error \u00D7" + whole(top) + ": " + clip(top_error, 40) +
                    (errors > top ? " (+" + whole(errors - top) + " more)" : ""));
    flag(1, whole(errors) + " errors");
  }
  if (at(run, "valid").is_boolean() && !at(run, "valid").get<bool>()) {
    lines.push_back("run not valid (see above)");
    flag(1, "not a valid measurement");
  }

  std::stable_sort(c.why.begin(), c.why.end(), [](auto const& a, auto const& b) { return a.first > b.first; });
  for (auto const& reason : c.why) c.grade = std::max(c.grade, reason.first);
  return c;
}

std::pair<int, std::string> strategy_verdict(json const& run, std::string const& strategy, json const& st) {
  auto const c = fault_cell_of(run, strategy, st);
  if (c.grade == 0 || c.why.empty()) return {0, "pass"};
  return {c.grade, std::string(c.grade == 2 ? "fail: " : "degraded: ") + c.why.front().second};
}

/// One fault's row of a target's grid.
struct fault_row {
  std::string key;    ///< fault_of(run): what tells faults apart
  std::string label;  ///< fault.label, else the key
  std::string spec;   ///< the profile and schedule in full (a tooltip)
  std::string place;  ///< topology_of(run): empty on one server
  std::map<std::string, std::vector<std::pair<json const*, fault_cell>>> cells;  ///< by strategy: run, summary
};

/// A target's strategy-by-fault grid: rows in order of first appearance, columns the strategies present.
struct fault_grid {
  std::string target;
  std::vector<std::string> strategies;
  std::vector<fault_row> rows;
};

/// The grids of a document whose runs went through the fault proxy (none otherwise). Ladder steps are
/// left out (capacity, not faults); runs without the proxy make a "no proxy" row.
std::vector<fault_grid> fault_grids(json const& doc) {
  auto const runs = items(doc, "runs");
  if (std::none_of(runs.begin(), runs.end(), [](json const* r) { return at(*r, "fault").is_object(); })) return {};
  std::vector<fault_grid> out;
  for (auto const* run : runs) {
    auto const& bs = at(*run, "by_strategy");
    if (!str(*run, "ladder_case").empty() || at(*run, "ladder").is_object() || !bs.is_object()) continue;
    auto const target = str(*run, "target", "?");
    auto grid = std::find_if(out.begin(), out.end(), [&](fault_grid const& g) { return g.target == target; });
    if (grid == out.end()) grid = out.insert(out.end(), fault_grid{target, {}, {}});
    // A cluster's runs are their own rows: the same fault behind a sticky and a round-robin balancer
    // are different networks.
    // So are runs with connection state recovery on: beside the same fault without it, the row shows
    // what recovery changed.
    auto const place = topology_of(*run);
    auto const key = fault_of(*run) + place + recovery_of(*run);
    auto row = std::find_if(grid->rows.begin(), grid->rows.end(), [&](fault_row const& r) { return r.key == key; });
    if (row == grid->rows.end()) {
      std::string spec = "no fault proxy";
      if (at(*run, "fault").is_object()) {
        spec = "profile " + str(*run, "fault.profile", "pass");
        if (auto const schedule = str(*run, "fault.schedule"); !schedule.empty()) spec += "; schedule " + schedule;
      }
      auto const fault = fault_of(*run);
      row = grid->rows.insert(grid->rows.end(),
                              fault_row{key, str(*run, "fault.label", fault.empty() ? "no proxy" : fault) + place + recovery_of(*run),
                                        spec, place, {}});
    }
    for (auto const& [strategy, st] : bs.items()) {
      if (std::find(grid->strategies.begin(), grid->strategies.end(), strategy) == grid->strategies.end())
        grid->strategies.push_back(strategy);
      row->cells[strategy].emplace_back(run, fault_cell_of(*run, strategy, st));
    }
  }
  // Slower, not broken: a cell whose fan-out p99 is over 10x (and 10 ms above) its strategy's in the
  // target's pass row is degraded - the grid grades latency as well as delivery.
  auto const p99_of = [](json const& run, std::string const& strategy) {
    return ms(at(at(run, "by_strategy")[strategy], "latency.fanout_corrected"), "p99_us");
  };
  for (auto& g : out) {
    for (auto& row : g.rows) {
      // Compared with the pass row of the same topology.
      auto const pass = std::find_if(g.rows.begin(), g.rows.end(), [&](fault_row const& r) { return r.key == "pass" + row.place; });
      if (pass == g.rows.end() || &row == &*pass) continue;
      for (auto& [strategy, cell_runs] : row.cells) {
        auto const base_it = pass->cells.find(strategy);
        if (base_it == pass->cells.end() || base_it->second.empty()) continue;
        double const base = p99_of(*base_it->second.front().first, strategy);
        for (auto& [run, cell] : cell_runs) {
          double const p99 = p99_of(*run, strategy);
          if (base <= 0 || p99 <= 10 * base || p99 - base <= 10) continue;
          cell.why.emplace_back(1, "fan-out p99 " + number(p99 / base) + "\u00D7 the pass row's");
          std::stable_sort(cell.why.begin(), cell.why.end(), [](auto const& a, auto const& b) { return a.first > b.first; });
          cell.grade = std::max(cell.grade, 1);
        }
      }
    }
  }
  for (auto& g : out) sort_strategies(g.strategies);
  return out;
}

/// A cell's runs: the worst grade, and per run its lines (headed by the case when there are several).
struct cell_text {
  int grade = 0;
  std::string grade_line;  ///< "pass", "degraded: ...", "fail: ..." (without the grade word's emphasis)
  std::vector<std::string> lines;
  std::string tooltip;
};

cell_text cell_text_of(std::vector<std::pair<json const*, fault_cell>> const& runs) {
  cell_text t;
  for (auto const& [run, cell] : runs) t.grade = std::max(t.grade, cell.grade);
  std::vector<std::string> deciding;  // the first reasons of the worst grade, for the first line
  for (auto const& [run, cell] : runs) {
    if (runs.size() > 1) t.lines.push_back("case " + str(*run, "case", "?") + ":");
    t.lines.insert(t.lines.end(), cell.lines.begin(), cell.lines.end());
    t.tooltip += (t.tooltip.empty() ? "" : "\n") + str(*run, "case", "?") + ": " +
                 (cell.why.empty() ? std::string("pass") : "");
    for (std::size_t i = 0; i < cell.why.size(); ++i) t.tooltip += (i ? "; " : "") + cell.why[i].second;
    for (auto const& [grade, why] : cell.why)
      if (grade == t.grade && deciding.size() < 2 && std::find(deciding.begin(), deciding.end(), why) == deciding.end())
        deciding.push_back(why);
  }
  static constexpr char const* names[] = {"pass", "degraded", "fail"};
  t.grade_line = names[std::clamp(t.grade, 0, 2)];
  if (t.grade > 0 && !deciding.empty()) {
    t.grade_line += ": ";
    for (std::size_t i = 0; i < deciding.size(); ++i) t.grade_line += (i ? "; " : "") + deciding[i];
  }
  return t;
}

/// The grid's caption: what a cell holds (one run, or every repeat of it), then what its lines and
/// colours mean.
constexpr char const* fault_grid_caption_head =
    "One table per target: a row per fault (hover its name for the full profile or schedule), a column per "
    "strategy; each cell is one run of that strategy through that fault, so its figures come from one run each "
    "(not a spread over repeats).";
constexpr char const* fault_grid_caption =
    " Lines: the grade and why; sessions connected (distinct clients) of those "
    "started, and reconnections; time to first message p50; the switch: time to upgrade p50 or \u201Cstayed on "
    "polling\u201D (upgrade), how many fell back and time to fall back p50 (fallback); fan-out latency p50/p99 "
    "(corrected); bytes per delivery; the chats intended during the fault window and after it (recovery): lost, "
    "duplicated, reordered, missed (sent while the receiver was disconnected), skipped (due while the sender was "
    "disconnected); deliveries/s before, during and after the fault; time to recover a lost session p50; with "
    "connection state recovery on (rows marked \u201Crecovery on\u201D), the sessions recovered and those that got a fresh "
    "one, the chats replayed to recovered sessions and those still missed; the most frequent error. Green: it worked. Amber (degraded): it worked, but lost, missed or skipped chats during the "
    "fault, fell back, never upgraded, reconnected, had errors, had a fan-out p99 over 10\u00D7 (and 10 ms above) its "
    "strategy's in the pass row, or the run was not a valid measurement. Red (fail): "
    "no session connected, nothing delivered while chats were due, anything duplicated or reordered, or chats lost "
    "outside the fault (before it or after recovery). -: no run.";

/// How a cell's runs become its text: one run each (cell_text_of), or repeats (repeated_cell_text).
using cell_text_fn = std::function<cell_text(std::string const& strategy,
                                             std::vector<std::pair<json const*, fault_cell>> const& runs)>;

std::string html_fault_grids(std::vector<fault_grid> const& grids, std::string const& caption_head,
                             cell_text_fn const& text_of) {
  if (grids.empty()) return {};
  std::ostringstream h;
  h << "<h3>Strategy by fault</h3>\n<p class=\"note\">" << escape(caption_head + fault_grid_caption) << "</p>\n";
  for (auto const& g : grids) {
    h << "<table class=\"faults\"><caption>" << escape(g.target) << "</caption><thead><tr><th>fault</th>";
    for (auto const& s : g.strategies) h << "<th>" << escape(s) << "</th>";
    h << "</tr></thead><tbody>";
    for (auto const& row : g.rows) {
      h << "<tr><th scope=\"row\" title=\"" << escape(row.spec) << "\">" << escape(row.label) << "</th>";
      for (auto const& s : g.strategies) {
        auto const it = row.cells.find(s);
        if (it == row.cells.end()) {
          h << "<td class=\"g0\">-</td>";
          continue;
        }
        auto const t = text_of(s, it->second);
        auto const colon = t.grade_line.find(':');
        auto const tooltip = g.target + " \u00B7 " + row.label + " \u00B7 " + s + "\n" + t.tooltip;
        h << "<td class=\"g" << t.grade + 1 << "\" title=\"" << escape(tooltip) << "\"><strong>" << escape(t.grade_line.substr(0, colon)) << "</strong>"
          << (colon == std::string::npos ? "" : escape(t.grade_line.substr(colon)));
        for (auto const& line : t.lines) h << "<br>" << escape(line);
        h << "</td>";
      }
      h << "</tr>";
    }
    h << "</tbody></table>\n";
  }
  return h.str();
}

std::string html_fault_grids(json const& doc) {
  return html_fault_grids(fault_grids(doc), fault_grid_caption_head,
                          [](std::string const&, auto const& runs) { return cell_text_of(runs); });
}

std::string markdown_fault_grids(std::vector<fault_grid> const& grids, std::string const& per_cell,
                                 cell_text_fn const& text_of) {
  if (grids.empty()) return {};
  static constexpr char const* marks[] = {"\u2705", "\u26A0\uFE0F", "\u274C"};
  std::ostringstream m;
  m << "\n#### Strategy by fault\n\n"
    << "Per target, a row per fault and a column per strategy; " << per_cell << " \u2705 pass \u00B7 \u26A0\uFE0F "
       "degraded (it worked, but with loss, missed or skipped chats during the fault, a fallback, no upgrade, "
       "reconnections, errors, a fan-out p99 over 10\u00D7 the pass row's or a run not valid) \u00B7 \u274C fail (nothing connected or delivered, duplicates, "
       "reordering, or loss outside the fault).\n";
  for (auto const& g : grids) {
    m << "\n**" << md(g.target) << "**\n\n| fault |";
    for (auto const& s : g.strategies) m << " " << md(s) << " |";
    m << "\n|---|";
    for (std::size_t i = 0; i < g.strategies.size(); ++i) m << "---|";
    m << "\n";
    for (auto const& row : g.rows) {
      m << "| " << md(row.label) << " |";
      for (auto const& s : g.strategies) {
        auto const it = row.cells.find(s);
        if (it == row.cells.end()) {
          m << " - |";
          continue;
        }
        auto const t = text_of(s, it->second);
        m << " " << marks[std::clamp(t.grade, 0, 2)] << " " << md(t.grade_line);
        for (auto const& line : t.lines) m << "<br>" << md(line);
        m << " |";
      }
      m << "\n";
    }
  }
  return m.str();
}

std::string markdown_fault_grids(json const& doc) {
  return markdown_fault_grids(fault_grids(doc), "one run per cell.",
                              [](std::string const&, auto const& runs) { return cell_text_of(runs); });
}

constexpr char const* css = R"(
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0; background: #f6f6f4; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 40px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 28px 0 6px; border-bottom: 2px solid #ccc; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
p.lead, dl.meta { color: #444; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; margin: 6px 0 12px; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
table.summary { border-collapse: collapse; font-size: 12.5px; background: #fff; margin: 8px 0 12px; }
table.summary th, table.summary td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
table.summary th { background: #eee; }
table.summary td:nth-child(-n+3) { text-align: left; }
table.faults { border-collapse: collapse; font-size: 12px; background: #fff; margin: 8px 0 14px; }
table.faults caption { text-align: left; font-weight: 600; padding: 2px 0 4px; }
table.faults th, table.faults td { border: 1px solid #ddd; padding: 4px 7px; text-align: left; vertical-align: top; }
table.faults thead th { background: #eee; }
table.faults tbody th { background: #f4f4f4; max-width: 200px; overflow-wrap: anywhere; }
p.note { font-size: 12.5px; color: #444; max-width: 1130px; }
td.g1 { background: #dcefdc; } td.g2 { background: #fff1c2; } td.g3 { background: #f8d0d0; } td.g0 { background: #eee; }
.charts { display: flex; flex-wrap: wrap; gap: 14px; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 8px; width: 760px; max-width: 100%; }
figcaption { font-size: 12.5px; color: #444; margin-bottom: 6px; }
svg.chart { display: block; max-width: 100%; height: auto; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
ul.problems li { color: #a00; }
nav ul { margin: 4px 0; padding-left: 20px; }
footer { color: #555; font-size: 12.5px; margin-top: 28px; }
)";

std::string title_of(std::vector<result> const& results, options const& opts) {
  if (!opts.title.empty()) return opts.title;
  std::vector<std::string> names;
  for (auto const& r : results) {
    auto const name = str(r.doc, "scenario.name", "?");
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  std::string t = "fallbench report: ";
  for (std::size_t i = 0; i < names.size(); ++i) t += (i ? ", " : "") + names[i];
  return t;
}

/// The section of one result, as it always was.
/// The thresholds of every run that has them: target/case, threshold, scope, observed, met.
struct threshold_row {
  std::string run;
  std::string threshold;
  std::string scope;
  std::string observed;          ///< The value as printed, or why it was not measured.
  std::optional<double> value;  ///< The value observed, when measured.
  bool ok = false;
};

std::vector<threshold_row> threshold_rows(json const& doc) {
  std::vector<threshold_row> rows;
  for (auto const* run : items(doc, "runs"))
    for (auto const* t : items(*run, "thresholds")) {
      threshold_row r;
      r.run = str(*run, "target") + "/" + str(*run, "case");
      r.threshold = str(*t, "threshold");
      r.scope = str(*t, "scope");
      r.ok = at(*t, "ok").is_boolean() && at(*t, "ok").get<bool>();
      r.value = results::number_at(*t, "observed");
      r.observed = r.value ? number(*r.value) : str(*t, "why", "not measured");
      rows.push_back(std::move(r));
    }
  return rows;
}

/// The server's memory over each run's measure phase (runs[].rss.summary, docs/soak.md): whether it
/// stayed flat once the clients were connected.
struct memory_row {
  std::string run;
  double start_mb, end_mb, peak_mb, slope_kb_per_min, growth, samples;
};

std::vector<memory_row> memory_rows(json const& doc) {
  std::vector<memory_row> rows;
  for (auto const* run : items(doc, "runs")) {
    auto const& sum = at(*run, "rss.summary");
    if (!sum.is_object()) continue;
    rows.push_back({str(*run, "target") + "/" + str(*run, "case"), num(sum, "start_kb") / 1024, num(sum, "end_kb") / 1024,
                    num(sum, "peak_kb") / 1024, num(sum, "slope_kb_per_min"), num(sum, "growth"), num(sum, "samples")});
  }
  return rows;
}

constexpr char const* memory_caption =
    "Server RSS over the measure phase, sampled once a second: first, last and largest sample, the "
    "least-squares slope and last / first.";

std::string single_section_html(result const& r, std::size_t id, options const& opts) {
  std::ostringstream h;
  auto const& doc = r.doc;
  auto const prov = provenance(doc);
  h << "<section id=\"result-" << id << "\">\n<h2>" << escape(str(doc, "scenario.name", "?")) << " \u2014 "
    << escape(r.path) << "</h2>\n";
  if (auto d = str(doc, "scenario.description"); !d.empty()) h << "<p>" << escape(d) << "</p>\n";
  h << "<dl class=\"meta\">";
  for (auto const& [label, value] : std::vector<std::pair<std::string, std::string>>{
           {"scenario", str(doc, "scenario.name") + " (hash " + str(doc, "scenario.hash_fnv1a64") + ", seed " +
                            str(doc, "scenario.seed") + ", " + str(doc, "scenario.file") + ")"},
           {"faults", str(doc, "fault_profile", "none")},
           {"machine", str(doc, "machine.cpu_model") + ", " + str(doc, "machine.cores") + " cores, " +
                           str(doc, "machine.kernel") + " " + str(doc, "machine.arch")},
           {"build", "fallbench " + str(doc, "generator.version") + ", commit " + str(doc, "generator.git_commit") +
                         ", " + str(doc, "generator.build_type") + ", " + str(doc, "generator.compiler")},
           {"when", str(doc, "started_at") + " to " + str(doc, "finished_at")}})
    h << "<dt>" << escape(label) << "</dt><dd>" << escape(value) << "</dd>";
  h << "</dl>\n" << html_summary_table(doc);
  std::vector<std::string> problems;
  for (auto const* run : items(doc, "runs"))
    for (auto const* why : items(*run, "invalid_reasons"))
      problems.push_back(str(*run, "target") + "/" + str(*run, "case") + " not valid: " + str(*why, ""));
  if (!problems.empty()) {
    h << "<ul class=\"problems\">";
    for (auto const& p : problems) h << "<li>" << escape(p) << "</li>";
    h << "</ul>\n";
  }
  if (auto const rows = threshold_rows(doc); !rows.empty()) {
    auto const met = std::count_if(rows.begin(), rows.end(), [](auto const& t) { return t.ok; });
    h << "<h3>Thresholds: " << met << " of " << rows.size() << " met</h3>\n<table class=\"summary\"><thead><tr>"
      << "<th>run</th><th>threshold</th><th>on</th><th>observed</th><th>met</th></tr></thead><tbody>";
    for (auto const& t : rows)
      h << "<tr><td>" << escape(t.run) << "</td><td><code>" << escape(t.threshold) << "</code></td><td>"
        << escape(t.scope) << "</td><td>" << escape(t.observed) << "</td><td class=\"g" << (t.ok ? 1 : 3) << "\">"
        << (t.ok ? "yes" : "NO") << "</td></tr>";
    h << "</tbody></table>\n";
  }
  if (auto const rows = memory_rows(doc); !rows.empty()) {
    h << "<h3>Server memory</h3>\n<p>" << escape(memory_caption) << "</p>\n<table class=\"summary\"><thead><tr>"
      << "<th>run</th><th>RSS start MB</th><th>end MB</th><th>peak MB</th><th>slope kB/min</th><th>end / start</th>"
      << "<th>samples</th></tr></thead><tbody>";
    for (auto const& m : rows)
      h << "<tr><td>" << escape(m.run) << "</td><td>" << number(m.start_mb) << "</td><td>" << number(m.end_mb)
        << "</td><td>" << number(m.peak_mb) << "</td><td>" << number(m.slope_kb_per_min) << "</td><td>"
        << number(m.growth) << "</td><td>" << whole(m.samples) << "</td></tr>";
    h << "</tbody></table>\n";
  }
  h << html_fault_grids(doc);
  std::set<std::string> faults;
  for (auto const& g : groups_of(doc)) faults.insert(g.fault);
  if (faults.size() > 1)
    h << "<h3>By fault</h3>\n<div class=\"charts\">" << ttfm_by_fault_figures(doc, prov) << "</div>\n";
  if (!items(doc, "comparisons").empty()) h << "<h3>Side by side</h3>\n<div class=\"charts\">" << ratio_figure({&doc}, prov) << "</div>\n";
  auto const runs = items(doc, "runs");
  if (!items(doc, "capacity").empty() ||
      std::any_of(runs.begin(), runs.end(), [](json const* run) { return at(*run, "ladder").is_object(); })) {
    h << "<h3>Capacity</h3>\n" << html_capacity_table(doc) << "<div class=\"charts\">" << ladder_figure(doc, prov)
      << "</div>\n";
  }
  for (auto const& g : groups_of(doc)) {
    auto const strands = strands_of(g);
    h << "<h3>" << escape(g.title()) << "</h3>\n<div class=\"charts\">\n"
      << spectrum_figure(g, strands, prov) << ttfm_figure(g, strands, prov) << timeseries_figure(g, prov)
      << (has_windows(g) ? windows_figure(g, strands, prov) : std::string()) << wire_figure(g, strands, prov)
      << verdict_figure(g, strands, prov) << timeline_figure(g, opts.timelines, prov) << "</div>\n";
  }
  h << "</section>\n";
  return h.str();
}

/// The Markdown of one result, as it always was.
std::string single_section_markdown(result const& r) {
  std::ostringstream m;
  auto const& doc = r.doc;
  std::size_t runs = 0, invalid = 0;
  double lost = 0, duplicated = 0, reordered = 0;
  for (auto const* run : items(doc, "runs")) {
    ++runs;
    invalid += !(at(*run, "valid").is_boolean() && at(*run, "valid").get<bool>());
    lost += num(*run, "delivery.total.lost");
    duplicated += num(*run, "delivery.total.duplicated");
    reordered += num(*run, "delivery.total.reordered");
  }
  bool const clean = invalid == 0 && lost == 0 && duplicated == 0 && reordered == 0;
  m << "### " << (clean ? "\u2705 " : "\u274C ") << md(str(doc, "scenario.name", "?")) << " \u2014 " << md(r.path)
    << "\n\n"
    << (clean ? "All " + std::to_string(runs) + " run(s) valid; nothing lost, duplicated or reordered."
              : std::to_string(invalid) + " of " + std::to_string(runs) + " run(s) not valid; lost " + whole(lost) +
                    ", duplicated " + whole(duplicated) + ", reordered " + whole(reordered) + ".")
    << "\n\n"
    << md(provenance(doc)) << "\n\n";
  m << "| target | case | strategy | clients | deliveries/s | p50 ms | p99 ms | p99.9 ms | ack p99 ms | TTFM p50 ms | "
       "B/delivery | req/delivery | verdict | valid |\n"
       "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
  for (auto const& s : summary_rows(doc))
    m << "| " << md(s.target) << " | " << md(s.run_case) << " | " << md(s.strategy) << " | " << whole(s.connected)
      << "/" << whole(s.clients) << " | " << number(s.deliveries_per_s) << " | " << number(s.p50) << " | "
      << number(s.p99) << " | " << number(s.p999) << " | " << number(s.ack_p99) << " | " << number(s.ttfm_p50)
      << " | " << number(s.bytes) << " | " << number(s.requests) << " | " << md(s.verdict) << " | "
      << (s.valid ? "yes" : "**NO**") << " |\n";
  for (auto const* run : items(doc, "runs"))
    for (auto const* why : items(*run, "invalid_reasons"))
      m << "\n- " << md(str(*run, "target") + "/" + str(*run, "case")) << " not valid: " << md(str(*why, ""));
  if (auto const rows = threshold_rows(doc); !rows.empty()) {
    auto const met = std::count_if(rows.begin(), rows.end(), [](auto const& t) { return t.ok; });
    m << "\n\n**Thresholds: " << met << " of " << rows.size() << " met**\n\n"
      << "| run | threshold | on | observed | met |\n|---|---|---|---:|---|\n";
    for (auto const& t : rows)
      m << "| " << md(t.run) << " | " << md_code(t.threshold) << " | " << md(t.scope) << " | " << md(t.observed) << " | "
        << (t.ok ? "yes" : "**NO**") << " |\n";
  }
  if (auto const rows = memory_rows(doc); !rows.empty()) {
    m << "\n\n**Server memory.** " << md(memory_caption) << "\n\n"
      << "| run | RSS start MB | end MB | peak MB | slope kB/min | end / start | samples |\n"
         "|---|---:|---:|---:|---:|---:|---:|\n";
    for (auto const& row : rows)
      m << "| " << md(row.run) << " | " << number(row.start_mb) << " | " << number(row.end_mb) << " | "
        << number(row.peak_mb) << " | " << number(row.slope_kb_per_min) << " | " << number(row.growth) << " | "
        << whole(row.samples) << " |\n";
  }
  m << "\n" << markdown_fault_grids(doc);
  if (auto const comparisons = items(doc, "comparisons"); !comparisons.empty()) {
    m << "\n| case | candidate / reference | p50 | p99 | deliveries/s | CPU/delivery | peak RSS |\n"
         "|---|---|---:|---:|---:|---:|---:|\n";
    for (auto const* c : comparisons)
      m << "| " << md(str(*c, "case")) << " | " << md(str(*c, "candidate") + " / " + str(*c, "reference")) << " | "
        << number(num(*c, "p50_ratio")) << "\u00D7 | " << number(num(*c, "p99_ratio")) << "\u00D7 | "
        << number(num(*c, "throughput_ratio")) << "\u00D7 | " << number(num(*c, "cpu_per_delivery_ratio"))
        << "\u00D7 | " << number(num(*c, "peak_rss_ratio")) << "\u00D7 |\n";
  }
  if (auto const capacity = items(doc, "capacity"); !capacity.empty()) {
    m << "\n| target | ladder case | capacity (chats/s per client) | deliveries/s | p99 ms | knee | stopped |\n"
         "|---|---|---:|---:|---:|---|---|\n";
    for (auto const* c : capacity) {
      auto const row = capacity_row_of(*c);
      m << "| " << md(row.target) << " | " << md(row.ladder_case) << " | "
        << (row.none ? "none within " + number(row.bound) + " ms" : number(row.rate)) << " | "
        << (row.none ? "-" : number(row.deliveries)) << " | " << (row.none ? "-" : number(row.p99)) << " | "
        << md(row.knee) << " | " << md(row.stop) << " |\n";
    }
  }
  m << "\n";
  return m.str();
}

// ---- repeated runs: the results of one scenario, build and machine as one section ----------------------------

/// What makes results repeats of one measurement: the scenario (its hash), the fault profile, the build
/// (generator: version, commit, build type, compiler), the machine, and the same runs configured the same
/// way (a --case selection or a --measure override keeps the scenario's hash but measures something
/// else). Empty: never grouped - no scenario hash, or a capacity ladder, whose steps, knee and stop
/// differ from run to run and have no median to draw.
std::string repeat_key(json const& doc) {
  auto const hash = str(doc, "scenario.hash_fnv1a64");
  auto const runs = items(doc, "runs");
  if (hash.empty() || runs.empty() || !items(doc, "capacity").empty()) return {};
  json key = json::array({hash, at(doc, "fault_profile"), at(doc, "generator"), at(doc, "machine")});
  for (auto const* run : runs) {
    if (at(*run, "ladder").is_object() || !str(*run, "ladder_case").empty()) return {};
    key.push_back(json::array({str(*run, "target"), str(*run, "case"), fault_of(*run), at(*run, "config")}));
  }
  return key.dump();
}

/// The results in sets of repeats (repeat_key), in order of first appearance; a result alone is a set of one.
std::vector<std::vector<result const*>> result_sets(std::vector<result> const& results) {
  std::vector<std::vector<result const*>> sets;
  std::vector<std::string> keys;
  for (auto const& r : results) {
    auto const key = repeat_key(r.doc);
    auto const it = key.empty() ? keys.end() : std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) {
      keys.push_back(key);
      sets.push_back({&r});
    } else {
      sets[static_cast<std::size_t>(it - keys.begin())].push_back(&r);
    }
  }
  return sets;
}

std::string file_name(std::string const& path) { return fs::path(path).filename().string(); }

/// The position of the median of `values` (non-finite values count as the largest): the lower middle
/// one for an even count, so it is a run that exists and can be drawn.
std::size_t median_index(std::vector<double> const& values) {
  if (values.empty()) return 0;
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  auto const key = [&](std::size_t i) { return std::isfinite(values[i]) ? values[i] : 1e300; };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  return order[(order.size() - 1) / 2];
}

/// A measure over repeated runs: the median (compare's: the mean of the middle two for an even count,
/// so the report and the regression gate agree) and the range.
struct spread {
  std::size_t n = 0;
  double median = 0, min = 0, max = 0;
};

spread spread_of(std::vector<double> values) {
  std::erase_if(values, [](double v) { return !std::isfinite(v); });
  spread s;
  s.n = values.size();
  if (s.n == 0) return s;
  s.median = compare::median(values);
  auto const [lo, hi] = std::minmax_element(values.begin(), values.end());
  s.min = *lo;
  s.max = *hi;
  return s;
}

/// The median as the tables print it, and the range "401–470" (empty when every run printed alike).
std::pair<std::string, std::string> spread_texts(spread const& s, bool count) {
  auto const f = [&](double v) { return count && v == std::floor(v) ? whole(v) : number(v); };
  if (s.n == 0) return {"-", ""};
  if (f(s.min) == f(s.max)) return {f(s.median), ""};
  return {f(s.median), f(s.min) + "\u2013" + f(s.max)};
}

/// When a set ran: the earliest start and the latest finish (ISO 8601 UTC, so text order is time order).
std::pair<std::string, std::string> span_of_set(std::vector<result const*> const& set) {
  std::string first = str(set.front()->doc, "started_at"), last = str(set.front()->doc, "finished_at");
  for (auto const* r : set) {
    if (auto const s = str(r->doc, "started_at"); !s.empty() && (first.empty() || s < first)) first = s;
    if (auto const f = str(r->doc, "finished_at", str(r->doc, "started_at")); f > last) last = f;
  }
  return {first, last};
}

/// The files of a set: "DIR: run-01.json, run-02.json" when they share a folder, else their paths.
std::string files_of_set(std::vector<result const*> const& set) {
  auto const dir = fs::path(set.front()->path).parent_path();
  bool const shared = std::all_of(set.begin(), set.end(), [&](result const* r) { return fs::path(r->path).parent_path() == dir; });
  std::string out;
  for (auto const* r : set) out += (out.empty() ? "" : ", ") + (shared ? file_name(r->path) : r->path);
  return shared && !dir.empty() ? dir.string() + ": " + out : out;
}

/// The provenance of a set: the first run's, with the span of the runs for its date.
std::string set_provenance(std::vector<result const*> const& set) {
  auto const [first, last] = span_of_set(set);
  return std::to_string(set.size()) + " runs, " + first + " to " + last;
}

/// One summary row (target, case, strategy) over the runs that have it.
struct repeated_row {
  std::string target, run_case, strategy;
  std::vector<summary_row> runs;
};

std::vector<repeated_row> repeated_rows(std::vector<result const*> const& set) {
  std::vector<repeated_row> out;
  for (auto const* r : set)
    for (auto& row : summary_rows(r->doc)) {
      auto it = std::find_if(out.begin(), out.end(), [&](repeated_row const& o) {
        return o.target == row.target && o.run_case == row.run_case && o.strategy == row.strategy;
      });
      if (it == out.end()) it = out.insert(out.end(), repeated_row{row.target, row.run_case, row.strategy, {}});
      it->runs.push_back(std::move(row));
    }
  return out;
}

/// The columns of the repeated summary: header, field, whether it is a count.
struct repeated_measure {
  char const* header;
  double summary_row::*field;
  bool count;
};
constexpr repeated_measure repeated_measures[] = {
    {"deliveries/s", &summary_row::deliveries_per_s, false}, {"p50 ms", &summary_row::p50, false},
    {"p99 ms", &summary_row::p99, false},                    {"p99.9 ms", &summary_row::p999, false},
    {"p99 uncorr. ms", &summary_row::p99_uncorrected, false}, {"ack p99 ms", &summary_row::ack_p99, false},
    {"TTFM p50 ms", &summary_row::ttfm_p50, false},          {"B/delivery", &summary_row::bytes, false},
    {"req/delivery", &summary_row::requests, false},         {"lost", &summary_row::lost, true},
    {"duplicated", &summary_row::duplicated, true}};

spread spread_of(repeated_row const& row, double summary_row::*field) {
  std::vector<double> v;
  for (auto const& r : row.runs) v.push_back(r.*field);
  return spread_of(std::move(v));
}

/// A row's verdict over its runs, graded by the worst run (one run that lost or duplicated chats is a
/// finding however well the others went): the verdict when every run had it, else each verdict with how
/// many runs had it, the most frequent first ("9/10 pass; 1/10 fail: lost 3 without a fault").
std::pair<int, std::string> repeated_verdict(std::vector<summary_row> const& runs) {
  std::vector<std::pair<std::string, std::size_t>> tally;
  int grade = 0;
  for (auto const& r : runs) {
    grade = std::max(grade, r.grade);
    auto it = std::find_if(tally.begin(), tally.end(), [&](auto const& t) { return t.first == r.verdict; });
    if (it == tally.end())
      tally.emplace_back(r.verdict, 1);
    else
      ++it->second;
  }
  if (tally.size() <= 1) return {grade, tally.empty() ? "-" : tally.front().first};
  std::stable_sort(tally.begin(), tally.end(), [](auto const& a, auto const& b) { return a.second > b.second; });
  std::string text;
  for (auto const& [verdict, n] : tally)
    text += (text.empty() ? "" : "; ") + std::to_string(n) + "/" + std::to_string(runs.size()) + " " + verdict;
  return {grade, text};
}

std::size_t valid_count(repeated_row const& row) {
  return static_cast<std::size_t>(std::count_if(row.runs.begin(), row.runs.end(), [](summary_row const& r) { return r.valid; }));
}

constexpr char const* repeated_table_note =
    "Each figure is the median over the runs (for an even count the mean of the middle two, as fallbench "
    "compare takes it) and, under it, the range from the smallest to the largest when the runs differ. Lost "
    "and duplicated come from each run's delivery ledger (shared by the strategies of a run). The verdict is "
    "graded by the worst run, with how many runs had each verdict when they differ; valid: how many runs "
    "were valid measurements.";

std::string html_repeated_table(std::vector<result const*> const& set) {
  std::ostringstream h;
  h << "<p class=\"note\">" << escape(repeated_table_note) << "</p>\n"
    << "<table class=\"summary\"><thead><tr><th>target</th><th>case</th><th>strategy</th><th>clients</th>";
  for (auto const& m : repeated_measures) h << "<th>" << escape(m.header) << "</th>";
  h << "<th>verdict</th><th>valid</th></tr></thead><tbody>";
  auto const cell = [&](spread const& s, bool count) {
    auto const [median, range] = spread_texts(s, count);
    h << "<td>" << escape(median);
    if (!range.empty()) h << "<br><small>" << escape(range) << "</small>";
    h << "</td>";
  };
  for (auto const& row : repeated_rows(set)) {
    h << "<tr><td>" << escape(row.target) << "</td><td>" << escape(row.run_case) << "</td><td>" << escape(row.strategy)
      << "</td>";
    auto const connected = spread_texts(spread_of(row, &summary_row::connected), true);
    h << "<td>" << connected.first << "/" << whole(row.runs.front().clients);
    if (!connected.second.empty()) h << "<br><small>" << escape(connected.second) << "</small>";
    h << "</td>";
    for (auto const& m : repeated_measures) cell(spread_of(row, m.field), m.count);
    auto const [grade, verdict] = repeated_verdict(row.runs);
    auto const valid = valid_count(row);
    h << "<td class=\"g" << grade + 1 << "\">" << escape(verdict) << "</td><td class=\"g"
      << (valid == set.size() ? 1 : 3) << "\">" << valid << "/" << set.size() << "</td></tr>";
  }
  h << "</tbody></table>\n";
  return h.str();
}

/// One threshold (run, threshold, scope) over repeated runs: in how many runs it held, and what the runs
/// observed. Graded like the grid, by the worst run: crossed once is crossed.
struct repeated_threshold_row {
  std::string run, threshold, scope;
  std::size_t runs = 0, met = 0;
  std::vector<double> observed;        ///< The runs that measured it.
  std::vector<std::string> not_measured;  ///< Why, for each run that did not.
};

std::vector<repeated_threshold_row> repeated_threshold_rows(std::vector<result const*> const& set) {
  std::vector<repeated_threshold_row> out;
  for (auto const* r : set)
    for (auto& t : threshold_rows(r->doc)) {
      auto it = std::find_if(out.begin(), out.end(), [&](repeated_threshold_row const& o) {
        return o.run == t.run && o.threshold == t.threshold && o.scope == t.scope;
      });
      if (it == out.end()) it = out.insert(out.end(), repeated_threshold_row{t.run, t.threshold, t.scope, 0, 0, {}, {}});
      ++it->runs;
      it->met += t.ok;
      if (t.value)
        it->observed.push_back(*t.value);
      else
        it->not_measured.push_back(t.observed);
    }
  return out;
}

/// The observed column of a repeated threshold: the median over the runs that measured it, its range
/// when they differ, and how many did not; when none did, the most frequent reason.
struct repeated_observed {
  std::string median, range, missing;
};
repeated_observed observed_texts(repeated_threshold_row const& row) {
  if (row.observed.empty()) {
    std::map<std::string, std::size_t> why;
    for (auto const& w : row.not_measured) ++why[w];
    auto const most = std::max_element(why.begin(), why.end(), [](auto const& a, auto const& b) { return a.second < b.second; });
    return {most == why.end() ? "-" : most->first, "", ""};
  }
  auto const [median, range] = spread_texts(spread_of(row.observed), false);
  return {median, range,
          row.not_measured.empty() ? "" : "not measured in " + std::to_string(row.not_measured.size())};
}

constexpr char const* repeated_thresholds_note =
    "Per threshold, in how many runs it was met, and the value observed: the median over the runs that measured "
    "it (the mean of the middle two for an even count, as fallbench compare takes it) with, under it, the range "
    "when the runs differ. A threshold crossed in any run is not met: like the grid, graded by the worst run.";

std::string thresholds_heading(std::vector<repeated_threshold_row> const& rows, std::size_t runs) {
  auto const met = std::count_if(rows.begin(), rows.end(), [](auto const& t) { return t.met == t.runs; });
  return "Thresholds: " + std::to_string(met) + " of " + std::to_string(rows.size()) + " met in every one of the " +
         std::to_string(runs) + " runs";
}

std::string html_repeated_thresholds(std::vector<result const*> const& set) {
  auto const rows = repeated_threshold_rows(set);
  if (rows.empty()) return {};
  std::ostringstream h;
  h << "<h3>" << escape(thresholds_heading(rows, set.size())) << "</h3>\n<p class=\"note\">"
    << escape(repeated_thresholds_note) << "</p>\n<table class=\"summary\"><thead><tr>"
    << "<th>run</th><th>threshold</th><th>on</th><th>observed (median)</th><th>met</th></tr></thead><tbody>";
  for (auto const& t : rows) {
    auto const o = observed_texts(t);
    h << "<tr><td>" << escape(t.run) << "</td><td><code>" << escape(t.threshold) << "</code></td><td>" << escape(t.scope)
      << "</td><td>" << escape(o.median);
    if (!o.range.empty()) h << "<br><small>" << escape(o.range) << "</small>";
    if (!o.missing.empty()) h << "<br><small>" << escape(o.missing) << "</small>";
    h << "</td><td class=\"g" << (t.met == t.runs ? 1 : 3) << "\">" << t.met << " of " << t.runs << "</td></tr>";
  }
  h << "</tbody></table>\n";
  return h.str();
}

std::string markdown_repeated_thresholds(std::vector<result const*> const& set) {
  auto const rows = repeated_threshold_rows(set);
  if (rows.empty()) return {};
  std::ostringstream m;
  m << "\n\n**" << md(thresholds_heading(rows, set.size())) << "**\n\n" << md(repeated_thresholds_note) << "\n\n"
    << "| run | threshold | on | observed (median) | met |\n|---|---|---|---:|---|\n";
  for (auto const& t : rows) {
    auto const o = observed_texts(t);
    std::string observed = o.median;
    if (!o.range.empty()) observed += " (" + o.range + ")";
    if (!o.missing.empty()) observed += "; " + o.missing;
    bool const all = t.met == t.runs;
    m << "| " << md(t.run) << " | " << md_code(t.threshold) << " | " << md(t.scope) << " | " << md(observed) << " | "
      << (all ? "" : "**") << t.met << " of " << t.runs << (all ? "" : "**") << " |\n";
  }
  return m.str();
}

/// The strategy-by-fault grids of every run of a set, merged: a cell holds the runs of all repeats.
std::vector<fault_grid> repeated_fault_grids(std::vector<result const*> const& set) {
  std::vector<fault_grid> out;
  for (auto const* r : set)
    for (auto& g : fault_grids(r->doc)) {
      auto grid = std::find_if(out.begin(), out.end(), [&](fault_grid const& o) { return o.target == g.target; });
      if (grid == out.end()) {
        out.push_back(std::move(g));
        continue;
      }
      for (auto const& s : g.strategies)
        if (std::find(grid->strategies.begin(), grid->strategies.end(), s) == grid->strategies.end())
          grid->strategies.push_back(s);
      for (auto& row : g.rows) {
        auto it = std::find_if(grid->rows.begin(), grid->rows.end(), [&](fault_row const& o) { return o.key == row.key; });
        if (it == grid->rows.end()) {
          grid->rows.push_back(std::move(row));
          continue;
        }
        for (auto& [strategy, runs] : row.cells) {
          auto& into = it->cells[strategy];
          into.insert(into.end(), runs.begin(), runs.end());
        }
      }
    }
  for (auto& g : out) sort_strategies(g.strategies);
  return out;
}

/// Where each run of a set comes from: the file name of its document.
std::map<json const*, std::string> run_files(std::vector<result const*> const& set) {
  std::map<json const*, std::string> out;
  for (auto const* r : set)
    for (auto const* run : items(r->doc, "runs")) out[run] = file_name(r->path);
  return out;
}

/// A grid cell over repeats: graded by the worst run; per case how many runs had each grade ("9/10 pass
/// · 1 fail"), and the figures of the median run by the strategy's fan-out p99, named.
cell_text repeated_cell_text(std::string const& strategy, std::vector<std::pair<json const*, fault_cell>> const& runs,
                             std::map<json const*, std::string> const& files) {
  static constexpr char const* names[] = {"pass", "degraded", "fail"};
  auto const file = [&](json const* run) {
    auto const it = files.find(run);
    return it == files.end() ? std::string("?") : it->second;
  };
  cell_text t;
  for (auto const& [run, cell] : runs) t.grade = std::max(t.grade, cell.grade);
  std::vector<std::string> cases;
  for (auto const& [run, cell] : runs)
    if (auto const c = str(*run, "case", "?"); std::find(cases.begin(), cases.end(), c) == cases.end()) cases.push_back(c);
  std::vector<std::string> deciding;
  for (auto const& c : cases) {
    std::vector<std::pair<json const*, fault_cell> const*> of_case;
    for (auto const& entry : runs)
      if (str(*entry.first, "case", "?") == c) of_case.push_back(&entry);
    if (cases.size() > 1) t.lines.push_back("case " + c + ":");
    std::array<std::size_t, 3> by_grade{};
    for (auto const* e : of_case) ++by_grade[static_cast<std::size_t>(std::clamp(e->second.grade, 0, 2))];
    std::string tally;
    for (std::size_t g = 0; g < 3; ++g) {
      if (by_grade[g] == 0) continue;
      tally += tally.empty() ? std::to_string(by_grade[g]) + "/" + std::to_string(of_case.size()) + " " + names[g]
                             : " \u00B7 " + std::to_string(by_grade[g]) + " " + names[g];
    }
    t.lines.push_back(tally);
    std::vector<double> p99;
    for (auto const* e : of_case)
      p99.push_back(ms(at(at(*e->first, "by_strategy")[strategy], "latency.fanout_corrected"), "p99_us"));
    auto const* median = of_case[median_index(p99)];
    t.lines.push_back("median run by p99: " + file(median->first));
    t.lines.insert(t.lines.end(), median->second.lines.begin(), median->second.lines.end());
    for (auto const* e : of_case) {
      t.tooltip += (t.tooltip.empty() ? "" : "\n") + file(e->first) + " (" + c + "): " +
                   (e->second.why.empty() ? std::string("pass") : "");
      for (std::size_t i = 0; i < e->second.why.size(); ++i) t.tooltip += (i ? "; " : "") + e->second.why[i].second;
      for (auto const& [grade, why] : e->second.why)
        if (grade == t.grade && deciding.size() < 2 && std::find(deciding.begin(), deciding.end(), why) == deciding.end())
          deciding.push_back(why);
    }
  }
  t.grade_line = names[std::clamp(t.grade, 0, 2)];
  if (t.grade > 0 && !deciding.empty()) {
    t.grade_line += ": ";
    for (std::size_t i = 0; i < deciding.size(); ++i) t.grade_line += (i ? "; " : "") + deciding[i];
  }
  return t;
}

std::string repeated_grid_caption_head(std::size_t n) {
  return "One table per target: a row per fault (hover its name for the full profile or schedule), a column per "
         "strategy; each cell holds every run of that strategy through that fault, " + std::to_string(n) +
         " repeats: graded by the worst run, with how many runs had each grade (\u201C9/10 pass \u00B7 1 fail\u201D) "
         "and the figures of the median run by fan-out p99 (named; hover the cell for every run's grade).";
}

/// Strands of one group across the runs of a set, matched by case and strategy.
struct strand_set {
  std::string label, color, strategy;
  std::vector<strand> runs;
  std::vector<std::string> files;
};

std::vector<strand_set> strand_sets(std::vector<group> const& per_run, std::vector<std::string> const& files) {
  std::vector<strand_set> out;
  std::vector<std::string> keys;
  for (std::size_t d = 0; d < per_run.size(); ++d)
    for (auto const& s : strands_of(per_run[d])) {
      auto const key = str(*s.run, "case") + '\n' + s.strategy;
      auto it = std::find(keys.begin(), keys.end(), key);
      if (it == keys.end()) {
        keys.push_back(key);
        out.push_back({s.label, s.color, s.strategy, {}, {}});
        it = std::prev(keys.end());
      }
      auto& set = out[static_cast<std::size_t>(it - keys.begin())];
      set.runs.push_back(s);
      set.files.push_back(files[d]);
    }
  return out;
}

svg::line_series spectrum_series(strand const& s, std::string name, std::string color, bool corrected, double& most) {
  svg::line_series ls{std::move(name), std::move(color), !corrected, {}};
  auto const& h = at(*s.data, corrected ? "latency.fanout_corrected" : "latency.fanout_uncorrected");
  for (auto const* p : items(h, "spectrum"))
    if (p->is_array() && p->size() >= 2 && (*p)[0].is_number() && (*p)[1].is_number())
      ls.points.emplace_back((*p)[0].get<double>(), (*p)[1].get<double>() / 1000.0);
  most = std::max(most, num(h, "count"));
  return ls;
}

double p99_ms(strand const& s) { return ms(at(*s.data, "latency.fanout_corrected"), "p99_us"); }

std::string repeated_spectrum_figure(group const& g, std::vector<strand_set> const& sets, std::string const& prov) {
  std::vector<svg::line_series> faint, median;
  double most = 0;
  for (auto const& set : sets) {
    std::vector<double> p99;
    for (auto const& s : set.runs) p99.push_back(p99_ms(s));
    auto const m = median_index(p99);
    for (std::size_t i = 0; i < set.runs.size(); ++i) {
      if (i == m) continue;
      faint.push_back(spectrum_series(set.runs[i], set.label + " \u00B7 " + set.files[i], set.color, true, most));
      faint.back().faint = true;
    }
    auto const name = set.label + " (median run by p99: " + set.files[m] + ")";
    median.push_back(spectrum_series(set.runs[m], name, set.color, true, most));
    median.push_back(spectrum_series(set.runs[m], name, set.color, false, most));
  }
  faint.insert(faint.end(), median.begin(), median.end());
  int const nines = most > 1 ? static_cast<int>(std::ceil(std::log10(most))) : 2;
  svg::frame const f{"Fan-out latency by percentile: " + g.title(),
                     "Measured: to each chat's arrival at each receiver, from its intended send time (corrected, solid) "
                     "or as a closed-loop generator would (uncorrected, dashed); measure phase only. Per strategy the "
                     "median run by fan-out p99; faint: every other run, corrected.",
                     prov};
  return figure("Latency by percentile, " + g.title() + ".",
                "wrk2-style percentile spectrum of fan-out latency per strategy: bold, the median run by corrected "
                "p99 (named in the legend), solid corrected for coordinated omission and dashed uncorrected; faint "
                "behind it, every other run's corrected spectrum, so the spread between runs shows at each "
                "percentile.",
                svg::spectrum_chart(f, faint, nines, "corrected (from intended send)", "uncorrected (closed-loop view)",
                                    "each other run (corrected)"));
}

std::string repeated_ttfm_figure(group const& g, std::vector<strand_set> const& sets, std::string const& prov) {
  std::vector<svg::range_row> rows;
  for (auto const& set : sets) {
    std::vector<double> p50;
    for (auto const& s : set.runs) p50.push_back(num(at(*s.data, "ttfm"), "count") > 0 ? ms(at(*s.data, "ttfm"), "p50_us") : std::nan(""));
    auto const m = median_index(p50);
    auto const& st = *set.runs[m].data;
    auto const& h = at(st, "ttfm");
    svg::range_row r{set.label + " \u00B7 " + set.files[m], set.color, ms(h, "min_us"), ms(h, "p50_us"), ms(h, "p90_us"),
                     ms(h, "max_us"), static_cast<std::size_t>(num(h, "count")), {}, {}};
    if (num(st, "handshake.count") > 0) r.markers.push_back({"handshake p50", ms(at(st, "handshake"), "p50_us"), 0});
    if (num(st, "upgrade.count") > 0) r.markers.push_back({"upgraded p50", ms(at(st, "upgrade"), "p50_us"), 1});
    if (num(st, "fallback.count") > 0) r.markers.push_back({"fell back p50", ms(at(st, "fallback"), "p50_us"), 2});
    for (std::size_t i = 0; i < set.runs.size(); ++i) {
      auto const& o = at(*set.runs[i].data, "ttfm");
      if (i == m || num(o, "count") <= 0) continue;
      r.faint.push_back({set.label + " \u00B7 " + set.files[i], ms(o, "min_us"), ms(o, "p50_us"), ms(o, "p90_us"), ms(o, "max_us")});
    }
    rows.push_back(std::move(r));
  }
  svg::frame const f{"Time to first message: " + g.title(),
                     "Measured: per session, from the start of connecting to the first chat delivered to it; markers: "
                     "handshake done, upgraded, fell back (p50). Per strategy the median run by TTFM p50; faint: every "
                     "other run.",
                     prov};
  return figure("Time to first message, " + g.title() + ".",
                "Per strategy, the median run by TTFM p50 (named): the whisker spans min to max, the box p50 to p90, "
                "the dot is the median; faint and thin around it, the same of every other run. It includes waiting "
                "for the first chat in the room, so compare strategies, not absolute values.",
                svg::range_chart(f, "ms (log scale)", rows, "each other run (min to max, p50 to p90)"));
}

std::string repeated_wire_figure(group const& g, std::vector<strand_set> const& sets, std::string const& prov) {
  std::vector<svg::bar_row> rows;
  std::vector<tls_count> tls;
  for (auto const& set : sets) {
    std::vector<double> bytes, requests, handshakes, resumed;
    for (auto const& s : set.runs) {
      bytes.push_back(num(*s.data, "wire.bytes_per_delivery"));
      requests.push_back(num(*s.data, "wire.requests_per_delivery"));
      handshakes.push_back(num(*s.data, "wire.tls_handshakes"));
      resumed.push_back(num(*s.data, "wire.tls_resumed"));
    }
    rows.push_back({set.label, set.color, {compare::median(bytes), compare::median(requests)}});
    tls.push_back({set.label, compare::median(handshakes), compare::median(resumed)});
  }
  group titled = g;
  titled.run_note = "median of " + std::to_string(sets.empty() ? 0 : sets.front().runs.size()) + " runs";
  return wire_chart(titled, rows, prov, tls_note(tls));
}

/// The verdict grid over repeats: a cell is the same in every run, or graded by the worst run and
/// headed by how many runs had the most frequent text ("9/10 pass"); its tooltip lists every run.
std::string repeated_verdict_figure(group const& g, std::vector<strand_set> const& sets, std::string const& prov) {
  std::vector<std::string> names;
  std::vector<std::vector<svg::grid_cell>> cells;
  for (auto const& set : sets) {
    names.push_back(set.label);
    std::vector<std::vector<svg::grid_cell>> per_run;
    for (auto const& s : set.runs) per_run.push_back(verdict_row(s));
    std::vector<svg::grid_cell> row;
    for (std::size_t c = 0; c < verdict_columns.size(); ++c) {
      std::vector<std::pair<std::string, std::size_t>> tally;
      int grade = -1;
      std::string detail;
      for (std::size_t i = 0; i < per_run.size(); ++i) {
        auto const& cell = per_run[i][c];
        grade = std::max(grade, cell.grade);
        auto it = std::find_if(tally.begin(), tally.end(), [&](auto const& t) { return t.first == cell.text; });
        if (it == tally.end())
          tally.emplace_back(cell.text, 1);
        else
          ++it->second;
        detail += (detail.empty() ? "" : "\n") + set.files[i] + ": " + cell.text + (cell.detail.empty() ? "" : " (" + cell.detail + ")");
      }
      std::stable_sort(tally.begin(), tally.end(), [](auto const& a, auto const& b) { return a.second > b.second; });
      std::string const text = tally.size() == 1 ? tally.front().first
                                                 : std::to_string(tally.front().second) + "/" +
                                                       std::to_string(per_run.size()) + " " + tally.front().first;
      row.push_back({grade, text, detail});
    }
    cells.push_back(std::move(row));
  }
  group titled = g;
  titled.run_note = std::to_string(sets.empty() ? 0 : sets.front().runs.size()) + " runs";
  return verdict_chart(titled, names, cells, prov,
                       " Over the runs: a cell is the same in every run, or graded by the worst run and headed by how "
                       "many runs had its most frequent value (\u201C9/10 pass\u201D); hover it for each run's.");
}

/// The fan-out p99 of a group's runs in one document (the largest when it has several): what picks the
/// median run of a group.
double group_p99(group const& g) {
  double worst = std::nan("");
  for (auto const* run : g.runs) {
    double const v = ms(at(*run, "latency.fanout_corrected"), "p99_us");
    if (std::isfinite(v)) worst = std::isfinite(worst) ? std::max(worst, v) : v;
  }
  return worst;
}

std::string repeated_section_html(std::vector<result const*> const& set, std::size_t id, options const& opts) {
  std::ostringstream h;
  auto const& doc = set.front()->doc;
  auto const prov = provenance(doc, set_provenance(set));
  std::vector<std::string> files;
  for (auto const* r : set) files.push_back(file_name(r->path));
  h << "<section id=\"result-" << id << "\">\n<h2>" << set.size() << " runs of " << escape(str(doc, "scenario.name", "?"))
    << "</h2>\n";
  if (auto d = str(doc, "scenario.description"); !d.empty()) h << "<p>" << escape(d) << "</p>\n";
  auto const paths = files_of_set(set);
  auto const [first, last] = span_of_set(set);
  h << "<dl class=\"meta\">";
  for (auto const& [label, value] : std::vector<std::pair<std::string, std::string>>{
           {"scenario", str(doc, "scenario.name") + " (hash " + str(doc, "scenario.hash_fnv1a64") + ", seed " +
                            str(doc, "scenario.seed") + ", " + str(doc, "scenario.file") + ")"},
           {"faults", str(doc, "fault_profile", "none")},
           {"machine", str(doc, "machine.cpu_model") + ", " + str(doc, "machine.cores") + " cores, " +
                           str(doc, "machine.kernel") + " " + str(doc, "machine.arch")},
           {"build", "fallbench " + str(doc, "generator.version") + ", commit " + str(doc, "generator.git_commit") +
                         ", " + str(doc, "generator.build_type") + ", " + str(doc, "generator.compiler")},
           {"when", std::to_string(set.size()) + " runs from " + first + " to " + last},
           {"runs", paths}})
    h << "<dt>" << escape(label) << "</dt><dd>" << escape(value) << "</dd>";
  h << "</dl>\n" << html_repeated_table(set);
  std::vector<std::string> problems;
  for (std::size_t d = 0; d < set.size(); ++d)
    for (auto const* run : items(set[d]->doc, "runs"))
      for (auto const* why : items(*run, "invalid_reasons"))
        problems.push_back(files[d] + ": " + str(*run, "target") + "/" + str(*run, "case") + " not valid: " + str(*why, ""));
  if (!problems.empty()) {
    h << "<ul class=\"problems\">";
    for (auto const& p : problems) h << "<li>" << escape(p) << "</li>";
    h << "</ul>\n";
  }
  h << html_repeated_thresholds(set);
  auto const where = run_files(set);
  h << html_fault_grids(repeated_fault_grids(set), repeated_grid_caption_head(set.size()),
                        [&](std::string const& strategy, auto const& runs) { return repeated_cell_text(strategy, runs, where); });
  // Per group of runs (target, fault): the group as each document has it.
  auto const first_groups = groups_of(doc);
  std::vector<double> section_p99;
  for (auto const* r : set) {
    double worst = std::nan("");
    for (auto const& g : groups_of(r->doc))
      if (double const v = group_p99(g); std::isfinite(v)) worst = std::isfinite(worst) ? std::max(worst, v) : v;
    section_p99.push_back(worst);
  }
  auto const section_median = median_index(section_p99);
  std::set<std::string> faults;
  for (auto const& g : first_groups) faults.insert(g.fault);
  if (faults.size() > 1)
    h << "<h3>By fault</h3>\n<div class=\"charts\">"
      << ttfm_by_fault_figures(set[section_median]->doc, prov, "median run by p99: " + files[section_median])
      << "</div>\n";
  if (!items(doc, "comparisons").empty()) {
    std::vector<json const*> docs;
    for (auto const* r : set) docs.push_back(&r->doc);
    h << "<h3>Side by side</h3>\n<div class=\"charts\">" << ratio_figure(docs, prov) << "</div>\n";
  }
  for (auto const& g0 : first_groups) {
    std::vector<group> per_run;
    std::vector<std::string> group_files;
    for (std::size_t d = 0; d < set.size(); ++d)
      for (auto& g : groups_of(set[d]->doc))
        if (g.target == g0.target && g.fault == g0.fault && g.ladder_case == g0.ladder_case) {
          per_run.push_back(std::move(g));
          group_files.push_back(files[d]);
        }
    std::vector<double> p99;
    for (auto const& g : per_run) p99.push_back(group_p99(g));
    auto const m = median_index(p99);
    group all = g0;
    all.run_note = std::to_string(per_run.size()) + " runs";
    group median = per_run[m];
    median.run_note = "median run by p99: " + group_files[m];
    auto const sets = strand_sets(per_run, group_files);
    auto const median_strands = strands_of(median);
    h << "<h3>" << escape(all.title()) << "</h3>\n<div class=\"charts\">\n"
      << repeated_spectrum_figure(all, sets, prov) << repeated_ttfm_figure(all, sets, prov)
      << timeseries_figure(median, prov) << (has_windows(median) ? windows_figure(median, median_strands, prov) : std::string())
      << repeated_wire_figure(g0, sets, prov) << repeated_verdict_figure(g0, sets, prov)
      << timeline_figure(median, opts.timelines, prov) << "</div>\n";
  }
  h << "</section>\n";
  return h.str();
}

std::string repeated_section_markdown(std::vector<result const*> const& set) {
  std::ostringstream m;
  auto const& doc = set.front()->doc;
  std::size_t runs = 0, invalid = 0;
  double lost = 0, duplicated = 0, reordered = 0;
  for (auto const* r : set)
    for (auto const* run : items(r->doc, "runs")) {
      ++runs;
      invalid += !(at(*run, "valid").is_boolean() && at(*run, "valid").get<bool>());
      lost += num(*run, "delivery.total.lost");
      duplicated += num(*run, "delivery.total.duplicated");
      reordered += num(*run, "delivery.total.reordered");
    }
  bool const clean = invalid == 0 && lost == 0 && duplicated == 0 && reordered == 0;
  auto const paths = files_of_set(set);
  m << "### " << (clean ? "\u2705 " : "\u274C ") << set.size() << " runs of " << md(str(doc, "scenario.name", "?"))
    << "\n\n"
    << (clean ? "All " + std::to_string(runs) + " run(s) of the " + std::to_string(set.size()) +
                    " results valid; nothing lost, duplicated or reordered."
              : std::to_string(invalid) + " of " + std::to_string(runs) + " run(s) of the " +
                    std::to_string(set.size()) + " results not valid; lost " + whole(lost) + ", duplicated " +
                    whole(duplicated) + ", reordered " + whole(reordered) + " in all.")
    << "\n\n"
    << md(provenance(doc, set_provenance(set))) << "\n\nResults: " << md(paths) << "\n\n"
    << md(repeated_table_note) << "\n\n";
  m << "| target | case | strategy | clients |";
  for (auto const& x : repeated_measures) m << " " << x.header << " |";
  m << " verdict | valid |\n|---|---|---|---:|";
  for (std::size_t i = 0; i < std::size(repeated_measures); ++i) m << "---:|";
  m << "---|---|\n";
  for (auto const& row : repeated_rows(set)) {
    auto const text = [](std::pair<std::string, std::string> const& t) {
      return t.second.empty() ? t.first : t.first + " (" + t.second + ")";
    };
    auto const connected = spread_texts(spread_of(row, &summary_row::connected), true);
    m << "| " << md(row.target) << " | " << md(row.run_case) << " | " << md(row.strategy) << " | " << connected.first
      << "/" << whole(row.runs.front().clients) << (connected.second.empty() ? "" : " (" + connected.second + ")") << " |";
    for (auto const& x : repeated_measures) m << " " << text(spread_texts(spread_of(row, x.field), x.count)) << " |";
    auto const valid = valid_count(row);
    m << " " << md(repeated_verdict(row.runs).second) << " | " << (valid == set.size() ? "" : "**") << valid << "/"
      << set.size() << (valid == set.size() ? "" : "**") << " |\n";
  }
  for (auto const* r : set)
    for (auto const* run : items(r->doc, "runs"))
      for (auto const* why : items(*run, "invalid_reasons"))
        m << "\n- " << md(file_name(r->path) + ": " + str(*run, "target") + "/" + str(*run, "case")) << " not valid: "
          << md(str(*why, ""));
  m << markdown_repeated_thresholds(set);
  auto const where = run_files(set);
  m << "\n"
    << markdown_fault_grids(repeated_fault_grids(set),
                            "every run of the " + std::to_string(set.size()) +
                                " repeats per cell, graded by the worst, with how many runs had each grade and the "
                                "median run's figures (by fan-out p99).",
                            [&](std::string const& strategy, auto const& cell_runs) {
                              return repeated_cell_text(strategy, cell_runs, where);
                            });
  if (!items(doc, "comparisons").empty()) {
    m << "\n| case | candidate / reference (median of " << set.size()
      << " runs) | p50 | p99 | deliveries/s | CPU/delivery | peak RSS |\n|---|---|---:|---:|---:|---:|---:|\n";
    std::vector<std::string> keys;
    std::map<std::string, std::map<std::string, std::vector<double>>> values;
    for (auto const* r : set)
      for (auto const* c : items(r->doc, "comparisons")) {
        auto const key = str(*c, "case") + " | " + str(*c, "candidate") + " / " + str(*c, "reference");
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
        for (char const* field : {"p50_ratio", "p99_ratio", "throughput_ratio", "cpu_per_delivery_ratio", "peak_rss_ratio"})
          if (at(*c, field).is_number()) values[key][field].push_back(num(*c, field));
      }
    for (auto const& key : keys) {
      auto const bar = key.find(" | ");
      m << "| " << md(key.substr(0, bar)) << " | " << md(key.substr(bar + 3)) << " |";
      for (char const* field : {"p50_ratio", "p99_ratio", "throughput_ratio", "cpu_per_delivery_ratio", "peak_rss_ratio"}) {
        auto const t = spread_texts(spread_of(values[key][field]), false);
        m << " " << t.first << "\u00D7" << (t.second.empty() ? "" : " (" + t.second + ")") << " |";
      }
      m << "\n";
    }
  }
  m << "\n";
  return m.str();
}

}  // namespace

std::string render_html(std::vector<result> const& results, options const& opts) {
  std::ostringstream h;
  auto const title = title_of(results, opts);
  h << "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       // Nothing may load or run: the page is data, whatever a result holds.
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
       "img-src data:\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
    << escape(title) << "</title>\n<style>" << css << "</style>\n</head>\n<body>\n<main>\n<h1>" << escape(title)
    << "</h1>\n<p class=\"lead\">" << results.size()
    << " result document(s) from <code>fallbench run</code>. Every chart names what it measured and, under it, the "
       "scenario, machine and commit. Hover a mark for its values.</p>\n";
  auto const sets = result_sets(results);
  if (sets.size() > 1) {
    h << "<nav><ul>";
    for (std::size_t i = 0; i < sets.size(); ++i) {
      auto const& first = *sets[i].front();
      h << "<li><a href=\"#result-" << i + 1 << "\">";
      if (sets[i].size() == 1)
        h << escape(str(first.doc, "scenario.name", "?")) << " \u2014 " << escape(fs::path(first.path).filename().string());
      else
        h << sets[i].size() << " runs of " << escape(str(first.doc, "scenario.name", "?")) << " \u2014 "
          << escape(file_name(first.path)) << " \u2026 " << escape(file_name(sets[i].back()->path));
      h << " (" << escape(str(first.doc, "fault_profile", "none")) << ", "
        << escape(short_commit(str(first.doc, "generator.git_commit"))) << ")</a></li>";
    }
    h << "</ul></nav>\n";
  }
  for (std::size_t i = 0; i < sets.size(); ++i)
    h << (sets[i].size() == 1 ? single_section_html(*sets[i].front(), i + 1, opts) : repeated_section_html(sets[i], i + 1, opts));
  h << "<footer>Generated by <code>fallbench report</code> from the result JSON only "
       "(reports/schema/result.schema.json). How to read each chart: README.md, section \u201cReports\u201d.</footer>\n"
       "</main>\n</body>\n</html>\n";
  return h.str();
}


std::string render_markdown(std::vector<result> const& results, options const& opts) {
  std::ostringstream m;
  m << "## " << md(title_of(results, opts)) << "\n\n";
  for (auto const& set : result_sets(results)) m << (set.size() == 1 ? single_section_markdown(*set.front()) : repeated_section_markdown(set));
  return m.str();
}

std::vector<result> load_results(std::string const& operand) { return results::read_result_files(operand); }

std::vector<fs::path> write_report(std::vector<result> const& results, options const& opts, fs::path const& dir) {
  fs::create_directories(dir);
  auto const write = [](fs::path const& path, std::string const& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path.string());
  };
  write(dir / "report.html", render_html(results, opts));
  write(dir / "summary.md", render_markdown(results, opts));
  return {dir / "report.html", dir / "summary.md"};
}

}  // namespace fallbench::report
