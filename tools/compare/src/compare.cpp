#include "fallbench/compare/compare.hpp"

#include "fallbench/compare/stats.hpp"
#include "fallbench/results/json_path.hpp"
#include "fallbench/results/pipeline.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace fallbench::compare {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// The result schema this compare reads (reports/schema/result.schema.json).
constexpr int supported_schema_version = 1;

// ---- reading documents without trusting them --------------------------------------------------------

// Values are read with the project's one reader of result documents (fallbench/results/json_path.hpp).
using results::find_at;
using results::number_at;
using results::string_at;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Debug builds and sanitizer builds (a custom `Sanitize`/`ASan` build type, or a name saying so) time
/// something else than the code as shipped (docs/conventions.md section 6).
bool unfit_build_type(std::string const& build_type) {
  auto const t = lower(build_type);
  return t == "debug" || t.find("san") != std::string::npos || t.empty();
}

std::string run_key(json const& run) {
  return string_at(run, "target", "?") + "/" + string_at(run, "case", "?");
}

int grade(std::string const& g) {
  if (g == "pass") return 0;
  if (g == "degraded") return 1;
  return 2;  // fail, or anything unknown
}

// ---- metrics of one document --------------------------------------------------------------------------

struct metric_spec {
  std::string label, unit;
  metric_kind kind;
  bool higher_is_better;
  /// A ladder step's or capacity's metric: a ladder stops where p99 passes its bound, so a step may be
  /// reached on one side only. Any other metric absent from one side is a broken result, not a pass.
  bool may_be_absent = false;
};

/// The metrics of one document, in a stable order.
struct extracted {
  std::vector<std::pair<std::string, metric_spec>> specs;
  std::map<std::string, double> values;
  void add(std::string id, metric_spec spec, double value) {
    if (values.emplace(id, value).second) specs.emplace_back(std::move(id), std::move(spec));
  }
};

extracted metrics_of(json const& doc) {
  extracted out;
  json const* runs = find_at(doc, "runs");
  if (!runs || !runs->is_array()) return out;
  for (auto const& run : *runs) {
    auto const key = run_key(run);
    bool const ladder_step = run.contains("ladder");
    auto const timing = [&](std::string label, std::string unit, bool higher = false) {
      return metric_spec{std::move(label), std::move(unit), metric_kind::timing, higher, ladder_step};
    };
    auto const deterministic = [&](std::string label, std::string unit) {
      return metric_spec{std::move(label), std::move(unit), metric_kind::deterministic, false, ladder_step};
    };
    auto const correctness = [&](std::string label, std::string unit) {
      return metric_spec{std::move(label), std::move(unit), metric_kind::correctness, false, ladder_step};
    };
    // A latency from a histogram, in ms; only when the histogram counted something.
    auto const latency = [&](std::string const& id, json const& h, char const* field, std::string label) {
      auto const count = number_at(h, "count");
      auto const v = number_at(h, field);
      if (count && *count > 0 && v) out.add(id, timing(std::move(label), "ms"), *v / 1000.0);
    };
    if (auto const* l = find_at(run, "latency"); l && l->is_object()) {
      if (auto const* h = find_at(*l, "fanout_corrected")) {
        latency(key + "/fanout_p50_ms", *h, "p50_us", "fan-out p50 (corrected)");
        latency(key + "/fanout_p99_ms", *h, "p99_us", "fan-out p99 (corrected)");
      }
      if (auto const* h = find_at(*l, "ack")) latency(key + "/ack_p99_ms", *h, "p99_us", "ack p99");
    }
    if (auto v = number_at(run, "throughput.deliveries_per_s"))
      out.add(key + "/deliveries_per_s", timing("deliveries per second", "/s", true), *v);
    if (auto v = string_at(run, "delivery.verdict.overall"))
      out.add(key + "/delivery_verdict", correctness("delivery verdict (loss, duplication, reordering)", "verdict"),
              grade(*v));
    for (char const* what : {"lost", "duplicated", "reordered"})
      if (auto v = number_at(run, std::string("delivery.total.") + what))
        out.add(key + "/" + what, correctness(std::string("deliveries ") + what, ""), *v);

    json const* strategies = find_at(run, "by_strategy");
    if (!strategies || !strategies->is_object()) continue;
    // With one strategy its latencies are the run's: listed once, at the run.
    bool const several = strategies->size() > 1;
    for (auto const& [name, st] : strategies->items()) {
      auto const sk = key + "/" + name;
      if (several) {
        if (auto const* h = find_at(st, "latency.fanout_corrected")) {
          latency(sk + "/fanout_p50_ms", *h, "p50_us", "fan-out p50 (corrected)");
          latency(sk + "/fanout_p99_ms", *h, "p99_us", "fan-out p99 (corrected)");
        }
        if (auto const* h = find_at(st, "latency.ack")) latency(sk + "/ack_p99_ms", *h, "p99_us", "ack p99");
      }
      if (auto const* h = find_at(st, "ttfm")) latency(sk + "/ttfm_p50_ms", *h, "p50_us", "time to first message p50");
      if (auto v = number_at(st, "wire.bytes_per_delivery"))
        out.add(sk + "/bytes_per_delivery", deterministic("wire bytes per delivery", "B"), *v);
      if (auto v = number_at(st, "wire.requests_per_delivery"))
        out.add(sk + "/requests_per_delivery", deterministic("HTTP requests per delivery", "req"), *v);
      if (auto const* errors = find_at(st, "errors"); errors && errors->is_object()) {
        double sum = 0;
        for (auto const& [kind, n] : errors->items())
          if (n.is_number()) sum += n.get<double>();
        out.add(sk + "/errors", correctness("errors (connect, handshake, read, write, timeout, ...)", ""), sum);
      }
    }
  }
  if (auto const* capacity = find_at(doc, "capacity"); capacity && capacity->is_array()) {
    for (auto const& c : *capacity) {
      auto const* rate = find_at(c, "max_rate_per_client_hz");
      double const v = rate && rate->is_number() ? rate->get<double>() : 0.0;
      out.add("capacity/" + string_at(c, "target", "?") + "/" + string_at(c, "case", "?"),
              metric_spec{"capacity: highest rate within the p99 bound", "Hz", metric_kind::timing, true, true}, v);
    }
  }
  return out;
}

// ---- judging --------------------------------------------------------------------------------------------

double relative_change(double base, double cand) {
  if (base == cand) return 0;
  if (base == 0) return std::numeric_limits<double>::infinity();
  return cand / base - 1.0;
}

double min_effect_for(std::string const& id, options const& opts) {
  double bound = opts.min_effect;
  for (auto const& o : opts.min_effect_overrides)
    if (glob_match(o.pattern, id)) bound = o.min_effect;
  return bound;
}

/// Wire cost that is not exact: how far a same-build run strays from another, measured (README, "Metric
/// classes"). The rest of the deterministic metrics are exact up to `--tolerance` beyond the baseline's
/// range (a few bytes of timestamp digits: over ten runs websocket and fallback bytes spanned 0.2-0.3 %,
/// polling's 0.5 % and its requests 0.8 %, within the range of ten baseline runs).
struct noise_bound {
  std::string_view pattern;
  double tolerance;
};
constexpr noise_bound bounded_noise[] = {
    // The upgrade lands at another point of each run, so the polling requests before it vary: ten
    // same-build smoke runs spanned 0.093-0.107 requests per delivery (13 % of the median), bytes 1.2 %.
    {"*/upgrade/requests_per_delivery", 0.25},
    {"*/upgrade/bytes_per_delivery", 0.03},
};

double tolerance_for(std::string const& id, options const& opts) {
  double t = opts.deterministic_tolerance;
  for (auto const& n : bounded_noise)
    if (glob_match(n.pattern, id)) t = std::max(t, n.tolerance);
  return t;
}

void judge(metric_row& row, options const& opts) {
  auto const& b = row.baseline;
  auto const& c = row.candidate;
  switch (row.kind) {
    case metric_kind::timing: {
      row.baseline_value = median(b);
      row.candidate_value = median(c);
      row.change = relative_change(row.baseline_value, row.candidate_value);
      row.min_effect = min_effect_for(row.id, opts);
      row.p_raw = mann_whitney_u(b, c).p_value;
      row.p_value = row.p_raw;
      // The verdict waits for every metric's p-value: see judge_timing().
      row.judged = smallest_p_value(b.size(), c.size()) > opts.alpha ? verdict::too_few_runs : verdict::same;
      return;
    }
    case metric_kind::deterministic: {
      row.baseline_value = median(b);
      row.candidate_value = median(c);
      row.change = relative_change(row.baseline_value, row.candidate_value);
      row.min_effect = tolerance_for(row.id, opts);
      double const lo = *std::min_element(b.begin(), b.end()) * (1.0 - row.min_effect);
      double const hi = *std::max_element(b.begin(), b.end()) * (1.0 + row.min_effect);
      // Lower is better for every deterministic metric (bytes, requests).
      if (row.candidate_value > hi)
        row.judged = verdict::regression;
      else if (row.candidate_value < lo)
        row.judged = verdict::improvement;
      else
        row.judged = verdict::same;
      return;
    }
    case metric_kind::correctness: {
      row.baseline_value = *std::max_element(b.begin(), b.end());
      row.candidate_value = *std::max_element(c.begin(), c.end());
      row.change = relative_change(row.baseline_value, row.candidate_value);
      if (row.candidate_value > row.baseline_value)
        row.judged = verdict::regression;
      else if (row.candidate_value < row.baseline_value)
        row.judged = verdict::improvement;
      else
        row.judged = verdict::same;
      return;
    }
  }
}

/// The timing verdicts, once every p-value is known: Holm's step-down adjustment over the metrics that
/// can reach alpha (p_(i) * (m - i), made monotone), then significance and the minimum effect.
void judge_timing(std::vector<metric_row*> const& timing, options const& opts) {
  std::vector<metric_row*> tested;
  for (auto* r : timing)
    if (r->judged != verdict::too_few_runs) tested.push_back(r);
  if (opts.multiple == correction::holm) {
    std::stable_sort(tested.begin(), tested.end(), [](metric_row const* x, metric_row const* y) { return *x->p_raw < *y->p_raw; });
    double running = 0;
    auto const m = static_cast<double>(tested.size());
    for (std::size_t i = 0; i < tested.size(); ++i) {
      running = std::max(running, std::min(1.0, (m - static_cast<double>(i)) * *tested[i]->p_raw));
      tested[i]->p_value = running;
    }
  }
  for (auto* r : tested) {
    double const worse = r->higher_is_better ? -r->change : r->change;
    if (*r->p_value >= opts.alpha)
      r->judged = verdict::same;
    else if (worse > r->min_effect)
      r->judged = verdict::regression;
    else if (-worse > r->min_effect)
      r->judged = verdict::improvement;
    else
      r->judged = verdict::within_bound;
  }
}

// ---- metadata ------------------------------------------------------------------------------------------

struct side_file {
  result_file const* file;
  char const* side;
};

/// Checks one document's own metadata; appends problems. Returns false when it cannot be compared at all.
bool check_document(result_file const& f, std::vector<std::string>& problems) {
  auto const& d = f.doc;
  bool ok = true;
  auto const need = [&](std::string_view field, bool present) {
    if (!present) {
      problems.push_back(f.path + ": missing or malformed " + std::string(field));
      ok = false;
    }
  };
  if (!d.is_object()) {
    problems.push_back(f.path + ": not a result document (not a JSON object)");
    return false;
  }
  auto const schema = number_at(d, "schema_version");
  need("schema_version", schema.has_value());
  if (schema && *schema != supported_schema_version) {
    problems.push_back(f.path + ": schema_version " + find_at(d, "schema_version")->dump() + ", this compare reads " +
                       std::to_string(supported_schema_version));
    ok = false;
  }
  need("scenario.hash_fnv1a64", string_at(d, "scenario.hash_fnv1a64").has_value());
  need("generator.build_type", string_at(d, "generator.build_type").has_value());
  need("machine.cpu_model", string_at(d, "machine.cpu_model").has_value());
  need("machine.cores", number_at(d, "machine.cores").has_value());
  auto const* runs = find_at(d, "runs");
  need("runs", runs && runs->is_array());
  if (auto bt = string_at(d, "generator.build_type"); bt && unfit_build_type(*bt)) {
    problems.push_back(f.path + ": build type '" + *bt +
                       "': timings of Debug and sanitizer builds are not comparable (build with the ci or bench preset)");
    ok = false;
  }
  return ok;
}

/// Fields that must be equal across every document, with what they mean.
struct must_match {
  char const* path;
  char const* what;
};
constexpr must_match matched_fields[] = {
    {"schema_version", "schema version"},
    {"scenario.hash_fnv1a64", "scenario (hash of its canonical JSON)"},
    {"generator.build_type", "build type"},
    {"machine.cpu_model", "CPU model"},
    {"machine.cores", "core count"},
    {"fault_profile", "fault profile"},
};

std::string shown(json const* v) {
  if (!v) return "(absent)";
  return v->is_string() ? v->get<std::string>() : v->dump();
}

void check_metadata(std::vector<side_file> const& files, outcome& out) {
  bool ok = true;
  for (auto const& f : files) ok = check_document(*f.file, out.problems) && ok;
  if (!ok) {
    out.code = status::incomparable;
    return;
  }
  auto const& first = files.front();
  for (auto const& field : matched_fields) {
    json const* reference = find_at(first.file->doc, field.path);
    for (auto const& f : files) {
      json const* v = find_at(f.file->doc, field.path);
      if ((v == nullptr) != (reference == nullptr) || (v && *v != *reference)) {
        out.problems.push_back(std::string(field.what) + " differs: " + shown(reference) + " in " + first.side + " " +
                               first.file->path + ", " + shown(v) + " in " + f.side + " " + f.file->path);
        out.code = status::incomparable;
        break;  // one message per field
      }
    }
  }
  // The same runs, configured the same way: an overridden measure phase (`fallbench run --measure`) or a
  // --case/--target selection leaves the scenario hash alone but changes what was measured.
  std::map<std::string, std::pair<json, std::string>> configs;  // run key -> (config, first file)
  std::set<std::string> plain_runs;  // non-ladder runs of the first file: every file must have them
  for (auto const& run : *find_at(first.file->doc, "runs"))
    if (!run.contains("ladder")) plain_runs.insert(run_key(run));
  for (auto const& f : files) {
    std::set<std::string> seen;
    for (auto const& run : *find_at(f.file->doc, "runs")) {
      auto const key = run_key(run);
      seen.insert(key);
      json const config = run.contains("config") && run["config"].is_object() ? run["config"] : json::object();
      auto [it, inserted] = configs.emplace(key, std::make_pair(config, f.file->path));
      if (inserted) continue;
      // Fields both have must agree; a field only one has is a harness that learned something new
      // (with its default), which is worth a note, not a refusal.
      for (auto const& [field, value] : config.items()) {
        auto const other = it->second.first.find(field);
        if (other == it->second.first.end()) {
          out.notes.push_back("run " + key + ": config." + field + " is in " + f.file->path + " but not in " +
                              it->second.second);
        } else if (*other != value) {
          out.problems.push_back("run " + key + " was configured differently: config." + field + " is " +
                                 other->dump() + " in " + it->second.second + ", " + value.dump() + " in " +
                                 f.file->path);
          out.code = status::incomparable;
        }
      }
    }
    for (auto const& key : plain_runs)
      if (!seen.contains(key)) {
        out.problems.push_back(f.file->path + " has no run " + key + " (" + first.file->path + " has)");
        out.code = status::incomparable;
      }
  }
  // Worth knowing, not disqualifying; each once.
  std::set<std::string> seen_notes;
  std::erase_if(out.notes, [&](std::string const& n) { return !seen_notes.insert(n).second; });
  for (char const* field : {"generator.compiler", "machine.kernel"}) {
    std::set<std::string> values;
    for (auto const& f : files) values.insert(shown(find_at(f.file->doc, field)));
    if (values.size() > 1) {
      std::string list;
      for (auto const& v : values) list += (list.empty() ? "" : ", ") + v;
      out.notes.push_back(std::string(field) + " differs between results: " + list);
    }
  }
}

/// Runs that do not count as measurements: not valid, or whose ledger failed.
void check_validity(std::vector<side_file> const& files, outcome& out) {
  for (auto const& f : files) {
    for (auto const& run : *find_at(f.file->doc, "runs")) {
      auto const key = run_key(run);
      auto const* valid = find_at(run, "valid");
      if (!valid || !valid->is_boolean() || !valid->get<bool>()) {
        std::string reasons;
        if (auto const* r = find_at(run, "invalid_reasons"); r && r->is_array())
          for (auto const& why : *r) reasons += (reasons.empty() ? "" : "; ") + shown(&why);
        out.problems.push_back(std::string(f.side) + " " + f.file->path + ": run " + key + " is not valid" +
                               (reasons.empty() ? "" : " (" + reasons + ")"));
        if (out.code == status::pass) out.code = status::invalid;
      }
      if (auto v = string_at(run, "delivery.verdict.overall"); v && *v == "fail") {
        out.problems.push_back(std::string(f.side) + " " + f.file->path + ": run " + key +
                               " failed its delivery checks (" + find_at(run, "delivery.total")->dump() + ")");
        if (out.code == status::pass) out.code = status::invalid;
      }
    }
  }
}

// ---- formatting ------------------------------------------------------------------------------------------

std::string format(double v, char const* spec) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

/// About three significant digits, without exponents for the values results hold.
std::string number_text(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  double const a = std::abs(v);
  if (a == 0) return "0";
  if (a >= 100) return format(v, "%.0f");
  if (a >= 10) return format(v, "%.1f");
  if (a >= 1) return format(v, "%.2f");
  if (a >= 0.001) return format(v, "%.3f");
  return format(v, "%.3g");
}

std::string value_text(metric_row const& r, double v) {
  if (r.unit == "verdict") return v <= 0 ? "pass" : v <= 1 ? "degraded" : "fail";
  // Deterministic metrics are judged to 0.5 %: show them finer than that.
  auto s = r.kind == metric_kind::deterministic ? format(v, "%.5g") : number_text(v);
  if (!r.unit.empty()) s += " " + r.unit;
  return s;
}

std::string change_text(double change) {
  if (std::isinf(change)) return "new";
  if (std::abs(change) < 0.0005) return "0%";
  return (change > 0 ? "+" : "") + format(change * 100.0, "%.1f") + "%";
}

/// Escapes text for a Markdown table cell: no pipe, no HTML, no line break survives.
std::string md_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '|': out += "\\|"; break;
      case '\\': out += "\\\\"; break;
      case '`': out += "'"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '*': case '_': case '[': case ']':
        out += '\\';
        out += c;
        break;
      case '\n': case '\r': out += ' '; break;
      default: out += c;
    }
  }
  return out;
}

/// An identifier in a code span, where Markdown shows HTML as text: only backticks and pipes need care.
std::string md_code(std::string_view s) {
  std::string out = "`";
  for (char c : s) {
    if (c == '|')
      out += "\\|";  // GitHub tables split cells on a pipe even inside a code span
    else
      out += (c == '`' || c == '\n' || c == '\r') ? '\'' : c;
  }
  return out + "`";
}


}  // namespace

// ---- public -----------------------------------------------------------------------------------------------

std::string_view to_string(status s) {
  switch (s) {
    case status::pass: return "pass";
    case status::regression: return "regression";
    case status::usage: return "usage error";
    case status::invalid: return "invalid run";
    case status::incomparable: return "incomparable";
    case status::inconclusive: return "inconclusive";
  }
  return "unknown";
}

std::string_view to_string(verdict v) {
  switch (v) {
    case verdict::same: return "same";
    case verdict::within_bound: return "within bound";
    case verdict::improvement: return "improvement";
    case verdict::regression: return "REGRESSION";
    case verdict::too_few_runs: return "too few runs";
  }
  return "unknown";
}

bool glob_match(std::string_view pattern, std::string_view s) {
  // Iterative matching with backtracking to the last star.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < s.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == s[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string machine_class(json const& doc) {
  auto const cores = number_at(doc, "machine.cores");
  std::string model = string_at(doc, "machine.cpu_model", "unknown-cpu");
  // "Intel(R) Xeon(R) CPU @ 2.20GHz" -> "intel-xeon-cpu-2-20ghz": trademark marks carry no information.
  for (std::string const mark : {"(R)", "(r)", "(TM)", "(tm)"})
    for (auto at = model.find(mark); at != std::string::npos; at = model.find(mark)) model.erase(at, mark.size());
  std::string slug;
  for (char c : model) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      slug += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!slug.empty() && slug.back() != '-')
      slug += '-';
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  if (slug.empty()) slug = "unknown-cpu";
  return (cores ? std::to_string(static_cast<long long>(*cores)) : std::string("unknown")) + "core-" + slug;
}

std::vector<result_file> load_results(std::string const& operand) { return results::read_result_files(operand); }

outcome compare(std::vector<result_file> const& baseline, std::vector<result_file> const& candidate,
                options const& opts) {
  outcome out;
  out.baseline_runs = baseline.size();
  out.candidate_runs = candidate.size();
  if (baseline.empty() || candidate.empty()) {
    out.problems.push_back(baseline.empty() ? "no baseline results" : "no candidate results");
    out.code = status::incomparable;
    return out;
  }
  std::vector<side_file> files;
  for (auto const& f : baseline) files.push_back({&f, "baseline"});
  for (auto const& f : candidate) files.push_back({&f, "candidate"});
  check_metadata(files, out);
  if (out.code == status::incomparable) return out;
  check_validity(files, out);

  // Per metric id, the per-run values of each side, in the order the metrics first appear.
  std::vector<metric_row> rows;
  std::vector<bool> may_be_absent;  // per row
  std::map<std::string, std::size_t> index;
  auto const collect = [&](std::vector<result_file> const& side, bool is_baseline) {
    for (auto const& f : side) {
      auto const m = metrics_of(f.doc);
      for (auto const& [id, spec] : m.specs) {
        if (!opts.metric_filters.empty() &&
            std::none_of(opts.metric_filters.begin(), opts.metric_filters.end(),
                         [&](std::string const& g) { return glob_match(g, id); }))
          continue;
        auto [it, inserted] = index.emplace(id, rows.size());
        if (inserted) {
          metric_row row;
          row.id = id;
          row.label = spec.label;
          row.unit = spec.unit;
          row.kind = spec.kind;
          row.higher_is_better = spec.higher_is_better;
          rows.push_back(std::move(row));
          may_be_absent.push_back(spec.may_be_absent);
        }
        (is_baseline ? rows[it->second].baseline : rows[it->second].candidate).push_back(m.values.at(id));
      }
    }
  };
  collect(baseline, true);
  collect(candidate, false);
  if (rows.empty() && !opts.metric_filters.empty()) out.notes.push_back("no metric matches the --metric filter");

  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto& row = rows[i];
    if (row.baseline.empty() || row.candidate.empty()) {
      if (may_be_absent[i]) {
        out.notes.push_back(row.id + ": only in the " + (row.baseline.empty() ? "candidate" : "baseline") +
                            " (a ladder step reached on one side only)");
      } else if (row.candidate.empty()) {
        // What the candidate did not measure cannot pass (a histogram that counted nothing, a strategy
        // whose clients never connected).
        out.problems.push_back(row.id + ": measured in the baseline, absent from every candidate run");
        if (out.code == status::pass || out.code == status::regression) out.code = status::invalid;
      } else {
        out.notes.push_back(row.id + ": measured in the candidate only (new in the candidate; nothing to compare)");
      }
      continue;
    }
    judge(row, opts);
    out.rows.push_back(std::move(row));
  }
  std::vector<metric_row*> timing;
  for (auto& row : out.rows)
    if (row.kind == metric_kind::timing) timing.push_back(&row);
  judge_timing(timing, opts);

  bool few_runs_noted = false;
  for (auto const& row : out.rows) {
    if (row.judged == verdict::too_few_runs && !few_runs_noted) {
      few_runs_noted = true;
      out.notes.push_back("too few runs for timing metrics: with " + std::to_string(row.baseline.size()) + " and " +
                          std::to_string(row.candidate.size()) +
                          " runs no U test reaches alpha (the smallest p-value is " +
                          number_text(smallest_p_value(row.baseline.size(), row.candidate.size())) +
                          "); repeat each side at least 4 times, better 10");
    }
    if (row.judged == verdict::regression && out.code == status::pass) out.code = status::regression;
  }
  if (few_runs_noted && out.code == status::pass) out.code = status::inconclusive;
  return out;
}

std::string to_markdown(outcome const& o, options const& opts) {
  std::ostringstream md;
  std::size_t regressions = 0, improvements = 0;
  for (auto const& r : o.rows) {
    regressions += r.judged == verdict::regression;
    improvements += r.judged == verdict::improvement;
  }
  md << "### fallbench compare: " << (o.code == status::pass ? "pass" : std::string(to_string(o.code)))
     << " (exit " << static_cast<int>(o.code) << ")\n\n";
  md << "Baseline: " << o.baseline_runs << " result(s), candidate: " << o.candidate_runs << " result(s). ";
  if (o.code == status::incomparable) {
    md << "Not compared:\n\n";
    for (auto const& p : o.problems) md << "- " << md_escape(p) << "\n";
    return md.str();
  }
  md << o.rows.size() << " metrics: " << regressions << " regression(s), " << improvements << " improvement(s).\n\n";
  std::size_t const tested = static_cast<std::size_t>(std::count_if(o.rows.begin(), o.rows.end(), [](metric_row const& r) {
    return r.kind == metric_kind::timing && r.judged != verdict::too_few_runs;
  }));
  md << "Timing metrics (median of the runs): "
     << (tested == 0 ? std::string("none could be tested (too few runs); were they, ") : std::string())
     << "two-sided Mann-Whitney U test at alpha " << number_text(opts.alpha)
     << (opts.multiple == correction::holm
             ? (tested == 0 ? std::string(" for all of them together (Holm-adjusted p-values)")
                            : " for the " + std::to_string(tested) + " of them together (Holm-adjusted p-values)")
             : std::string(" per metric"))
     << " and a change of the medians beyond " << format(opts.min_effect * 100.0, "%g") << "% in the worse direction";
  for (std::size_t i = 0; i < opts.min_effect_overrides.size(); ++i) {
    auto const& ov = opts.min_effect_overrides[i];
    md << (i == 0 ? " (" : ", ") << format(ov.min_effect * 100.0, "%g") << "% for " << md_code(ov.pattern);
  }
  if (!opts.min_effect_overrides.empty()) md << ")";
  md << ". Deterministic metrics (median): outside the baseline runs' range widened by "
     << format(opts.deterministic_tolerance * 100.0, "%.1f")
     << "% (bounded-noise wire metrics by their measured spread: upgrade requests 25 %, upgrade bytes 3 %). "
        "Correctness (worst run): any change for the worse.\n\n";
  if (!o.problems.empty()) {
    md << "**Not valid as measurements:**\n\n";
    for (auto const& p : o.problems) md << "- " << md_escape(p) << "\n";
    md << "\n";
  }
  for (auto const& n : o.notes) md << "> " << md_escape(n) << "\n>\n";
  if (!o.notes.empty()) md << "\n";
  if (o.rows.empty()) return md.str();
  md << "| metric | baseline | candidate | change | p-value | verdict |\n|---|---:|---:|---:|---:|---|\n";
  for (auto const& r : o.rows) {
    auto const v = to_string(r.judged);
    bool const flagged = r.judged == verdict::regression || r.judged == verdict::improvement;
    md << "| " << md_code(r.id) << " " << md_escape(r.label) << " | " << value_text(r, r.baseline_value) << " | "
       << value_text(r, r.candidate_value) << " | " << change_text(r.change) << " | ";
    if (r.p_value)
      md << (*r.p_value < 0.0001 ? std::string("<0.0001") : format(*r.p_value, "%.4f"));
    else
      md << "-";
    md << " | " << (flagged ? "**" + std::string(v) + "**" : std::string(v)) << " |\n";
  }
  return md.str();
}

std::string to_junit(outcome const& o) {
  std::vector<results::junit_case> cases;
  // What stopped the comparison (incomparable or invalid sides) is a failing case of its own, so a
  // CI page never shows all green for a gate that could not run.
  for (auto const& p : o.problems) cases.push_back({"compare", "comparable and valid", p, std::nullopt, {}});
  for (auto const& r : o.rows) {
    results::junit_case c{"compare." + r.id.substr(0, r.id.rfind('/')), r.id.substr(r.id.rfind('/') + 1),
                          std::nullopt, std::nullopt, {}};
    std::ostringstream figures;
    figures << r.label << ": baseline " << results::csv_number(r.baseline_value) << " " << r.unit << ", candidate "
            << results::csv_number(r.candidate_value) << " " << r.unit << ", change " << results::csv_number(r.change * 100)
            << " %";
    if (r.p_value) figures << ", p " << results::csv_number(*r.p_value);
    c.output = figures.str();
    if (r.judged == verdict::regression) c.failure = "regression: " + c.output;
    if (r.judged == verdict::too_few_runs) c.skipped = "too few runs for the U test";
    cases.push_back(std::move(c));
  }
  return results::junit_xml("fallbench compare (" + std::string(to_string(o.code)) + ")", cases);
}

std::string to_csv(outcome const& o) {
  std::string out = results::csv_line({"metric", "label", "unit", "class", "baseline", "candidate", "change", "p_value",
                                       "bound", "verdict"});
  for (auto const& r : o.rows)
    out += results::csv_line({r.id, r.label, r.unit,
                              r.kind == metric_kind::timing ? "timing" : r.kind == metric_kind::deterministic ? "bounded" : "correctness",
                              results::csv_number(r.baseline_value), results::csv_number(r.candidate_value),
                              results::csv_number(r.change), r.p_value ? results::csv_number(*r.p_value) : std::string{},
                              results::csv_number(r.min_effect), std::string(to_string(r.judged))});
  return out;
}

nlohmann::json to_summary_json(outcome const& o) {
  nlohmann::json metrics = nlohmann::json::array();
  std::size_t regressions = 0;
  for (auto const& r : o.rows) {
    regressions += r.judged == verdict::regression;
    metrics.push_back({{"metric", r.id},
                       {"baseline", r.baseline_value},
                       {"candidate", r.candidate_value},
                       {"change", r.change},
                       {"p_value", r.p_value ? nlohmann::json(*r.p_value) : nlohmann::json(nullptr)},
                       {"verdict", std::string(to_string(r.judged))}});
  }
  return {{"tool", "fallbench compare"},
          {"status", std::string(to_string(o.code))},
          {"exit_status", static_cast<int>(o.code)},
          {"baseline_runs", o.baseline_runs},
          {"candidate_runs", o.candidate_runs},
          {"regressions", regressions},
          {"problems", o.problems},
          {"notes", o.notes},
          {"metrics", std::move(metrics)}};
}

}  // namespace fallbench::compare
