#include "fallbench/bench/run_command.hpp"

#include "build_info.hpp"
#include "fallbench/bench/child_process.hpp"
#include "fallbench/bench/cluster.hpp"
#include "fallbench/bench/cpu_pin.hpp"
#include "fallbench/bench/driver.hpp"
#include "fallbench/bench/fd_limit.hpp"
#include "fallbench/bench/ladder.hpp"
#include "fallbench/bench/scenario.hpp"
#include "fallbench/bench/thresholds.hpp"
#include "fallbench/results/comparisons.hpp"
#include "fallbench/results/pipeline.hpp"
#include "fallbench/transport/tls.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

namespace fallbench::bench {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// The version of the result document; bump it (and the schema, and the compare fixtures) on any change
/// that breaks a reader. Optional fields added keep it (reports/schema/result.schema.json says which).
constexpr int schema_version = 1;

/// A name made safe for a file name: case names may hold '/' ("refuse-upgrade/polling").
std::string file_safe(std::string name) {
  for (auto& ch : name)
    if (ch == '/' || ch == ' ' || ch == '?' || ch == '&') ch = '_';
  return name;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string utc_now(char const* format) {
  std::time_t const t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

json metadata(scenario const& s, std::string const& scenario_path) {
  utsname u{};
  uname(&u);
  std::ostringstream hash;
  hash << std::hex << std::setw(16) << std::setfill('0') << s.hash;
  return {{"generator",
           {{"name", "fallbench"},
            {"version", build_info::version},
            {"git_commit", build_info::git_commit},
            {"build_type", build_info::build_type},
            {"compiler", build_info::compiler}}},
          {"machine",
           {{"cpu_model", cpu_model()},
            {"cores", std::thread::hardware_concurrency()},
            {"kernel", std::string(u.sysname) + " " + u.release},
            {"arch", u.machine}}},
          {"scenario",
           {{"name", s.name},
            {"description", s.description},
            {"file", scenario_path},
            {"hash_fnv1a64", hash.str()},
            {"seed", s.seed},
            {"definition", json::parse(s.canonical_json)}}},
          {"fault_profile", "pass"}};
}

/// A case's fault as the proxy will apply it: its timeline (checked by `fallbench proxy --check`, so
/// the proxy's own parser decides) and a short name for reports.
struct fault_plan {
  std::vector<fault_window> windows;
  std::string label;
};

std::string profile_name(std::string const& spec) { return spec.substr(0, spec.find('?')); }

std::string seconds_text(std::chrono::milliseconds ms) {
  std::ostringstream o;
  o << static_cast<double>(ms.count()) / 1000.0;
  return o.str();
}

/// Ask the proxy what `c`'s fault means. @throws run_setup_error with the proxy's own complaint.
fault_plan plan_fault(case_spec const& c) {
  std::vector<std::string> argv = {self_executable(), "proxy", "--check"};
  if (!c.fault.empty()) argv.insert(argv.end(), {"--profile", c.fault});
  if (!c.fault_schedule.empty()) argv.insert(argv.end(), {"--schedule", c.fault_schedule});
  auto const errors = fs::temp_directory_path() / ("fallbench-fault-check-" + std::to_string(::getpid()) + ".log");
  std::pair<int, std::string> result;
  {
    child_process check(argv, errors.string());
    result = check.output(std::chrono::seconds{10});
  }
  std::string complaint;
  {
    std::ifstream in(errors);
    std::getline(in, complaint);
  }
  std::error_code ignored;
  fs::remove(errors, ignored);
  if (result.first != 0) {
    auto const colon = complaint.find(": ");  // "fallbench proxy: --schedule: ..." -> "--schedule: ..."
    throw run_setup_error("case " + c.name + ": bad fault: " +
                          (colon == std::string::npos ? complaint : complaint.substr(colon + 2)));
  }
  fault_plan plan;
  bool faulted = false;
  std::istringstream lines(result.second);
  for (std::string line; std::getline(lines, line);) {
    auto const tab = line.find('\t');
    if (tab == std::string::npos) continue;
    fault_window w;
    w.from = std::chrono::milliseconds{std::stoll(line.substr(0, tab))};
    w.profile = line.substr(tab + 1);
    bool const pass = profile_name(w.profile) == "pass";
    w.role = pass ? (faulted ? "after" : "before") : "fault";
    faulted = faulted || !pass;
    plan.windows.push_back(std::move(w));
  }
  if (plan.windows.empty()) throw std::runtime_error("case " + c.name + ": `fallbench proxy --check` printed no timeline");
  if (c.fault_schedule.empty()) {
    // "latency?up-ms=50&down-ms=50" reads as "latency (up-ms=50, down-ms=50)".
    auto const q = c.fault.find('?');
    plan.label = c.fault.substr(0, q);
    if (q != std::string::npos) {
      std::string params = c.fault.substr(q + 1);
      for (std::size_t at = params.find('&'); at != std::string::npos; at = params.find('&', at + 2)) params.replace(at, 1, ", ");
      plan.label += " (" + params + ")";
    }
  } else {
    for (std::size_t k = 0; k < plan.windows.size(); ++k) {
      auto const& w = plan.windows[k];
      if (w.role != "fault") continue;
      plan.label += (plan.label.empty() ? "" : ", ") + profile_name(w.profile) + " " + seconds_text(w.from) +
                    (k + 1 < plan.windows.size() ? "-" + seconds_text(plan.windows[k + 1].from) + " s" : " s on");
    }
    if (plan.label.empty()) plan.label = "pass";
  }
  return plan;
}

/// The throwaway PKI of a run's TLS targets (docs/tls.md, "TLS in a study"): made once per
/// `fallbench run` in a private temporary directory, removed when the run ends. Clients trust its CA.
class run_pki {
 public:
  run_pki() {
    std::string pattern = (fs::temp_directory_path() / "fallbench-run-pki-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("TLS targets: cannot make a temporary directory for their certificates (" + pattern +
                               "): " + std::strerror(errno));
    dir_ = pattern;
    files_ = transport::make_throwaway_pki(dir_.string());
    // haproxy reads the chain and the key from one file.
    bundle_ = (dir_ / "server-bundle.pem").string();
    std::ofstream out(bundle_, std::ios::binary);
    out << std::ifstream(files_.cert_chain_file, std::ios::binary).rdbuf() << std::ifstream(files_.key_file, std::ios::binary).rdbuf();
    if (!out) throw std::runtime_error("TLS targets: cannot write " + bundle_);
  }
  ~run_pki() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  run_pki(run_pki const&) = delete;
  run_pki& operator=(run_pki const&) = delete;

  transport::throwaway_pki const& files() const { return files_; }
  std::string const& bundle() const { return bundle_; }

 private:
  fs::path dir_;
  transport::throwaway_pki files_;
  std::string bundle_;
};

/// A started target: where it listens and, when we started it, its process.
struct running_target {
  endpoint at;
  std::unique_ptr<child_process> process;
  std::string description;
  json cpus;  ///< {requested, applied}: what the scenario asked and the mask the process got
};

/// Where a URL points, by the one URL parser (url.hpp). @throws std::runtime_error for a bad one
/// (a URL a target printed; the scenario's and --url were checked at load time).
endpoint parse_url(std::string const& url) {
  transport::server_url u;
  try {
    u = transport::parse_server_url(url);
  } catch (transport::url_error const& e) {
    throw std::runtime_error(e.what());
  }
  endpoint e;
  e.host = u.host;
  e.port = u.port;
  e.path = u.path;
  e.query = u.query;
  e.tls = u.tls;
  return e;
}

/// tools/peers/socketio-node/server.js, found above the executable or the working directory.
std::string find_peer_script(target const& t) {
  auto const exe_dir = fs::path(self_executable()).parent_path().string();
  std::string const peer = "tools/peers/socketio-node/server.js";
  auto root = find_upwards(exe_dir, peer);
  if (root.empty()) root = find_upwards(fs::current_path().string(), peer);
  if (root.empty()) throw std::runtime_error("target " + t.name + ": " + peer + " not found above " + exe_dir);
  return (fs::path(root) / peer).string();
}

/// `t` as started for a run of `c`: with the case's connection state recovery window, when it has one,
/// given to the server (`fallbench serve` and the Node peer take the same flag). A url target is not
/// ours to configure: only its clients ask for recovery (bench/README.md).
target as_started_for(target const& t, case_spec const& c) {
  target out = t;
  if (c.recovery_window.count() > 0 && t.type != target::kind::url)
    out.extra_args.insert(out.extra_args.begin(), {"--recovery-window", std::to_string(c.recovery_window.count())});
  return out;
}

/// A cluster of `t`'s servers for one run of `c` (cluster.hpp), reached through its balancer.
/// `tls_bundle`: the balancer terminates TLS with this chain and key (empty: plain).
std::unique_ptr<cluster_target> start_cluster(target const& t, case_spec const& c, fs::path const& log_dir,
                                              running_target& r, std::string const& tls_bundle) {
  auto const kind = t.type == target::kind::embedded ? cluster_target::node_kind::fallbench
                                                     : cluster_target::node_kind::socketio_node;
  auto cluster = std::make_unique<cluster_target>(kind, c.topology, t.server_threads, t.extra_args,
                                                  kind == cluster_target::node_kind::socketio_node ? find_peer_script(t) : "",
                                                  log_dir, t.name + "-" + c.name, tls_bundle);
  r.at = cluster->entry();
  r.at.distinct_sources = true;
  r.description = cluster->description();
  r.cpus = {{"requested", json::array()}, {"applied", nullptr}};
  return cluster;
}

/// `tls`: the target serves https/wss with these files (null: plain).
running_target start_target(target const& t, fs::path const& log_dir, transport::throwaway_pki const* tls) {
  running_target r;
  if (t.type == target::kind::url) {
    r.at = parse_url(t.url);
    r.description = "external server at " + t.url;
    r.cpus = {{"requested", json::array()}, {"applied", nullptr}};
    return r;
  }
  std::vector<std::string> argv;
  if (t.type == target::kind::embedded) {
    argv = {self_executable(), "serve", "--host", "127.0.0.1", "--port", "0", "--threads", std::to_string(t.server_threads)};
    r.description = "fallbench serve, " + std::to_string(t.server_threads) + " thread(s)";
  } else {
    argv = {"node", find_peer_script(t), "--host", "127.0.0.1", "--port", "0"};
    r.description = "socket.io 4.8 on Node.js (tools/peers/socketio-node)";
  }
  if (tls) argv.insert(argv.end(), {"--tls-cert", tls->cert_chain_file, "--tls-key", tls->key_file});
  for (auto const& a : t.extra_args) argv.push_back(a);
  {
    // Pinned at the fork: the child inherits the mask before it starts a thread (Node starts several
    // before its first line of JavaScript), so no thread of it runs elsewhere even briefly.
    scoped_cpu_pin const pin(t.cpus);
    r.process = std::make_unique<child_process>(argv, (log_dir / file_safe(t.name + ".log")).string());
  }
  r.cpus = {{"requested", t.cpus}, {"applied", cpus_of(r.process->pid())}};
  auto const url = r.process->first_line(std::chrono::seconds{15});
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    throw std::runtime_error("target " + t.name + " printed '" + url + "', not a URL");
  r.at = parse_url(url);
  return r;
}

std::string fmt(double v, int precision = 1) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(precision) << v;
  return o.str();
}

double ms(json const& h, char const* key) { return h.value(key, 0.0) / 1000.0; }

void print_summary(json const& doc, std::ostream& out) {
  // Columns as wide as the longest target and case name, so long names do not run into the next column.
  int target_w = 14, case_w = 18;
  for (auto const& run : doc["runs"]) {
    target_w = std::max(target_w, static_cast<int>(run["target"].get_ref<std::string const&>().size()) + 1);
    case_w = std::max(case_w, static_cast<int>(run["case"].get_ref<std::string const&>().size()) + 1);
  }
  out << "\n" << std::left << std::setw(target_w) << "target" << std::setw(case_w) << "case" << std::setw(10) << "strategy"
      << std::right << std::setw(9) << "clients" << std::setw(11) << "deliv/s" << std::setw(9) << "p50 ms"
      << std::setw(9) << "p99 ms" << std::setw(10) << "p99.9 ms" << std::setw(9) << "TTFM p50" << std::setw(10)
      << "B/deliv" << std::setw(8) << "lost" << std::setw(7) << "dup" << "  valid\n";
  for (auto const& run : doc["runs"]) {
    double const measure_s = run["config"]["phases_s"]["measure"].get<double>();
    for (auto const& [name, st] : run["by_strategy"].items()) {
      auto const& lat = st["latency"]["fanout_corrected"];
      out << std::left << std::setw(target_w) << run["target"].get<std::string>() << std::setw(case_w)
          << run["case"].get<std::string>() << " " << std::setw(9) << name << std::right << std::setw(9)
          << st["clients"].get<std::uint64_t>() << std::setw(11)
          << fmt(static_cast<double>(lat.value("count", 0)) / measure_s, 0) << std::setw(9) << fmt(ms(lat, "p50_us"), 2)
          << std::setw(9) << fmt(ms(lat, "p99_us"), 2) << std::setw(10) << fmt(ms(lat, "p99_9_us"), 2) << std::setw(9)
          << fmt(ms(st["ttfm"], "p50_us"), 1) << std::setw(10) << fmt(st["wire"]["bytes_per_delivery"].get<double>(), 0)
          << std::setw(8) << run["delivery"]["total"].value("lost", 0) << std::setw(7)
          << run["delivery"]["total"].value("duplicated", 0) << "  " << (run["valid"].get<bool>() ? "yes" : "NO") << "\n";
    }
    // Connection state recovery (docs/recovery.md): sessions given back, fresh ones, and the chats
    // replayed beside those missed while disconnected, per strategy.
    for (auto const& [name, st] : run["by_strategy"].items()) {
      if (!st.contains("state_recovery")) continue;
      auto const& sr = st["state_recovery"];
      out << "  state recovery " << name << ": recovered " << sr.value("recovered", 0) << ", fresh "
          << sr.value("not_recovered", 0) << ", replayed " << sr.value("replayed", 0) << ", missed "
          << st["delivery"].value("missed_disconnected", 0) << ", lost " << st["delivery"].value("lost", 0) << "\n";
    }
    for (auto const& why : run["invalid_reasons"]) out << "  invalid: " << why.get<std::string>() << "\n";
    if (run.contains("rss") && run["rss"].contains("summary")) {
      auto const& r = run["rss"]["summary"];
      auto const mb = [&](char const* key) { return fmt(r[key].get<double>() / 1024.0); };
      out << "  server RSS over the measure phase: " << mb("start_kb") << " MB to " << mb("end_kb") << " MB (peak "
          << mb("peak_kb") << " MB, x" << fmt(r["growth"].get<double>(), 3) << "), slope "
          << fmt(r["slope_kb_per_min"].get<double>()) << " kB/min over " << r["samples"].get<std::uint64_t>() << " samples\n";
    }
    if (!run["valid"].get<bool>()) {
      // The causes, which the latency columns of an invalid run cannot show: its most frequent errors.
      std::map<std::string, std::uint64_t> errors;
      for (auto const& [name, st] : run["by_strategy"].items()) {
        if (!st.contains("errors")) continue;
        for (auto const& [what, n] : st["errors"].items()) errors[what] += n.get<std::uint64_t>();
      }
      std::vector<std::pair<std::uint64_t, std::string>> top;
      for (auto const& [what, n] : errors) top.emplace_back(n, what);
      std::sort(top.begin(), top.end(), [](auto const& x, auto const& y) { return x.first > y.first; });
      if (top.size() > 3) top.resize(3);
      for (auto const& [n, what] : top) out << "  cause: " << what << " (" << n << ")\n";
    }
    if (run.contains("thresholds")) {
      auto const& th = run["thresholds"];
      auto const met = std::count_if(th.begin(), th.end(), [](json const& o) { return o["ok"].get<bool>(); });
      out << "  thresholds: " << met << " of " << th.size() << " met\n";
      for (auto const& o : th)
        if (!o["ok"].get<bool>())
          out << "  crossed: " << o["threshold"].get<std::string>() << " [" << o["scope"].get<std::string>()
              << "]: " << o["why"].get<std::string>() << "\n";
    }
  }
  for (auto const& c : doc["capacity"])
    out << "knee " << c["target"].get<std::string>() << "/" << c["case"].get<std::string>() << ": "
        << c["summary"].get<std::string>() << "\n";
  for (auto const& c : doc["comparisons"]) {
    out << "ratio " << c["case"].get<std::string>() << ": " << c["candidate"].get<std::string>() << " / "
        << c["reference"].get<std::string>() << ": p99 " << fmt(c["p99_ratio"].get<double>(), 2) << "x, deliveries/s "
        << fmt(c["throughput_ratio"].get<double>(), 2) << "x";
    // A cluster has no one server process to measure: its cost ratios are absent, not zero.
    if (c.contains("cpu_per_delivery_ratio"))
      out << ", server CPU/delivery " << fmt(c["cpu_per_delivery_ratio"].get<double>(), 2) << "x, peak RSS "
          << fmt(c["peak_rss_ratio"].get<double>(), 2) << "x";
    out << "\n";
  }
}

/// What a ladder needs of a finished run (ladder.hpp), read back from its result section.
step_facts facts_of(json const& run, case_spec const& step) {
  step_facts f;
  f.rate_per_client_hz = step.rate_per_client_hz;
  f.deliveries_per_s = run["throughput"]["deliveries_per_s"].get<double>();
  f.p99_ms = run["latency"]["fanout_corrected"].value("p99_us", 0.0) / 1000.0;
  f.valid = run["valid"].get<bool>();
  f.generator_saturated = run["generator"].value("saturated", false);
  f.generator_behind = run["generator"].value("fell_behind", false);
  f.generator_utilisation = run["cost"]["generator"].value("utilisation_per_thread", 0.0);
  f.lost = run["delivery"]["total"].value("lost", std::uint64_t{0});
  // Ended by our own SIGTERM (or SIGKILL after its grace) is how a server's run ends; a crash (another
  // signal) or an error exit is the server failing.
  int const status = run.value("server_exit_status", 0);
  f.server_exit_status = status == -SIGTERM || status == -SIGKILL ? 0 : status;
  for (auto const& why : run["invalid_reasons"]) f.invalid_reasons.push_back(why.get<std::string>());
  // Offered: the schedule's chats times the receivers of each (from the layout; for Zipf rooms, as
  // measured, which equals it when nothing is lost).
  double const chats_per_s = step.rate_per_client_hz * step.clients;
  auto const receivers = receivers_per_chat(step);
  auto const chats = run["counts"]["chats_measured"].get<double>();
  f.offered_deliveries_per_s =
      chats_per_s * receivers.value_or(chats > 0 ? run["counts"]["deliveries_measured"].get<double>() / chats : 0.0);
  return f;
}

}  // namespace

fs::path default_result_path(scenario const& s) {
  return fs::path("reports/results") / (s.name + "-" + utc_now("%Y%m%dT%H%M%SZ") + ".json");
}

void check_scenario_run(scenario const& s, scenario_run_options const& options) {
  if (options.report_dir && !options.render) throw run_setup_error("--report: no report renderer in this build");
  // A CA file that cannot be read or parsed is a usage error now, not a failed handshake per client later.
  for (auto const& t : s.targets) {
    if (t.type != target::kind::url) continue;
    auto const u = transport::parse_server_url(t.url);
    if (!u.tls) continue;
    transport::client_options o;
    transport::apply_target(u, t.settings, o);
    try {
      transport::client_tls_context(o);
    } catch (transport::tls_config_error const& e) {
      throw run_setup_error("target " + t.name + ": " + e.what());
    }
  }
  try {
    check_cpus(s, cpus_of(0));
  } catch (scenario_error const& e) {
    throw run_setup_error(options.scenario_path + ": " + e.what());
  }
  for (auto const& name : options.only_cases)
    if (std::none_of(s.cases.begin(), s.cases.end(), [&](auto const& c) { return c.name == name; }))
      throw run_setup_error("--case " + name + ": no such case in " + options.scenario_path);
  for (auto const& name : options.only_targets)
    if (std::none_of(s.targets.begin(), s.targets.end(), [&](auto const& t) { return t.name == name; }))
      throw run_setup_error("--target " + name + ": no such target in " + options.scenario_path);

  // A cluster is started by the harness: of our server or the Node peer, never of a URL, and unpinned.
  for (auto const& c : s.cases) {
    if (c.topology.type != topology_spec::kind::cluster) continue;
    for (auto const& t : s.targets) {
      if (t.type == target::kind::url)
        throw run_setup_error("case " + c.name + ": a cluster topology needs embedded or node-peer targets; target " +
                              t.name + " is a URL");
      if (!t.cpus.empty())
        throw run_setup_error("case " + c.name + ": a cluster's nodes are not pinned; target " + t.name + " has cpus");
    }
  }
}

int run_scenario(scenario const& s, scenario_run_options const& options) {
  auto const& only_cases = options.only_cases;
  auto const& only_targets = options.only_targets;
  auto const& output = options.output;
  stop_children_on_signal();

  // One throwaway PKI for every TLS target of this run.
  std::unique_ptr<run_pki> pki;
  for (auto const& t : s.targets) {
    if (!t.tls) continue;
    if (!only_targets.empty() && std::find(only_targets.begin(), only_targets.end(), t.name) == only_targets.end()) continue;
    try {
      if (!pki) pki = std::make_unique<run_pki>();
    } catch (transport::tls_config_error const& e) {
      throw std::runtime_error(std::string("TLS targets: ") + e.what());
    }
  }

  // Every fault is checked before the first run: a typo must not surface an hour into a study.
  std::map<std::string, fault_plan> faults;
  for (auto const& c : s.cases) {
    if (!only_cases.empty() && std::find(only_cases.begin(), only_cases.end(), c.name) == only_cases.end()) continue;
    if (!c.fault.empty() || !c.fault_schedule.empty()) faults[c.name] = plan_fault(c);
  }

  // Descriptors for the largest case, before any target starts: every process of a run (the servers,
  // the fault proxy) inherits the raised limit at its fork (docs/soak.md, "Descriptors").
  {
    case_spec const* largest = nullptr;
    for (auto const& c : s.cases) {
      if (!only_cases.empty() && std::find(only_cases.begin(), only_cases.end(), c.name) == only_cases.end()) continue;
      if (!largest || descriptors_needed(c) > descriptors_needed(*largest)) largest = &c;
    }
    if (largest) {
      try {
        auto const change = raise_fd_limit(descriptors_needed(*largest),
                                           "case " + largest->name + ": " + std::to_string(largest->clients) + " clients");
        if (change.after != change.before && !options.quiet)
          std::cerr << "fallbench run: file descriptor limit raised from " << change.before << " to " << change.after
                    << " (case " << largest->name << ")\n";
      } catch (fd_limit_error const& e) {
        throw run_setup_error(e.what());
      }
    }
  }
  fs::path const log_dir = output.parent_path().empty() ? fs::path(".") : output.parent_path();

  json doc = {{"schema_version", schema_version}, {"started_at", utc_now("%Y-%m-%dT%H:%M:%SZ")}};
  doc.update(metadata(s, options.scenario_path));
  doc["runs"] = json::array();
  doc["capacity"] = json::array();
  // Progress: a line rewritten in place on a terminal; piped, a full line every few seconds and at each
  // phase, so a long study is not silent in CI. --quiet silences both.
  bool const quiet = options.quiet;
  bool const on_terminal = ::isatty(STDERR_FILENO) != 0;
  auto const progress_every = std::chrono::seconds{5};
  auto last_line = metrics::now();
  std::string last_phase;
  bool thresholds_met = true;
  bool all_valid = true;
  int target_index = 0;
  for (auto const& t : s.targets) {
    if (!only_targets.empty() && std::find(only_targets.begin(), only_targets.end(), t.name) == only_targets.end()) continue;
    std::cerr << "fallbench run: target " << t.name << "\n";
    for (auto const& c : s.cases) {
      if (!only_cases.empty() && std::find(only_cases.begin(), only_cases.end(), c.name) == only_cases.end()) continue;
      // A ladder runs the case once per step, rising until the knee (ladder.hpp); a plain case once.
      std::optional<ladder_walk> walk;
      if (c.ladder) walk.emplace(*c.ladder);
      for (bool first = true;; first = false) {
        std::optional<double> next;
        if (walk)
          next = walk->next_rate();
        else if (first)
          next = c.rate_per_client_hz;
        if (!next) break;
        double const rate = *next;
        bool const refinement = walk && walk->refining();
        case_spec step = c;
        step.rate_per_client_hz = rate;
        // A fresh server for every run: one run's leftovers (sessions, memory) do not weigh on the next.
        // A cluster (redis-server, the nodes, haproxy) is as fresh: started for this run, stopped after it.
        std::unique_ptr<cluster_target> cluster;
        running_target running;
        auto const fault = faults.find(c.name);
        bool const clustered = c.topology.type == topology_spec::kind::cluster;
        // A TLS target's TLS ends at whatever the clients reach first, as in a deployment where a
        // load balancer or a proxy terminates it: the fault proxy, else the balancer, else the server.
        std::string const tls_end = !t.tls                ? ""
                                    : fault != faults.end() ? "fault proxy"
                                    : clustered             ? "balancer"
                                                            : "server";
        auto const started = as_started_for(t, c);
        if (clustered)
          cluster = start_cluster(started, c, log_dir, running, tls_end == "balancer" ? pki->bundle() : "");
        else
          running = start_target(started, log_dir, tls_end == "server" ? &pki->files() : nullptr);
        server_process proc;
        if (running.process) proc.pid = running.process->pid();
        // A faulty network: a `fallbench proxy` between the clients and the server, for this run only.
        std::unique_ptr<child_process> proxy;
        endpoint at = running.at;
        if (t.settings.path) at.path = *t.settings.path;
        at.settings = t.settings;
        // Our own certificate authority is trusted unless the scenario says otherwise.
        if (t.tls && at.settings.ca_file.empty() && !at.settings.insecure) at.settings.ca_file = pki->files().ca_file;
        at.events = t.events.value_or(s.events);
        run_options timing;
        if (fault != faults.end()) {
          if (running.at.tls)
            throw run_setup_error("case " + c.name + ": the fault proxy relays plain HTTP only, and target " + t.name +
                                  " is https");
          // The run starts a little ahead, so the proxy is up by then; its schedule counts from the
          // same instant (the monotonic clock is the same in both processes).
          timing.start = metrics::now() + std::chrono::milliseconds{500};
          timing.fault_windows = fault->second.windows;
          std::vector<std::string> proxy_argv = {self_executable(), "proxy", "--listen", "127.0.0.1:0", "--upstream",
                                                 "http://" + running.at.host + ":" + std::to_string(running.at.port)};
          if (!c.fault.empty()) proxy_argv.insert(proxy_argv.end(), {"--profile", c.fault});
          if (!c.fault_schedule.empty())
            proxy_argv.insert(proxy_argv.end(), {"--schedule", c.fault_schedule, "--schedule-origin",
                                                 std::to_string(metrics::to_ns(*timing.start))});
          if (tls_end == "fault proxy")
            proxy_argv.insert(proxy_argv.end(),
                              {"--tls-cert", pki->files().cert_chain_file, "--tls-key", pki->files().key_file});
          auto const log = log_dir / file_safe(t.name + "-" + c.name + "-proxy.log");
          proxy = std::make_unique<child_process>(proxy_argv, log.string());
          std::string url;
          try {
            url = proxy->first_line(std::chrono::seconds{10});
          } catch (std::exception const& e) {
            throw std::runtime_error("case " + c.name + ": the fault proxy did not start (" + e.what() + "; see " +
                                     log.string() + ")");
          }
          auto const proxied = parse_url(url);
          at.host = proxied.host;
          at.port = proxied.port;
          at.tls = proxied.tls;
        }
        json run;
        json generator_cpus;
        {
          // The generator's worker threads start inside run_case and inherit this thread's mask.
          scoped_cpu_pin const pin(s.generator.cpus);
          generator_cpus = {{"requested", s.generator.cpus}, {"applied", cpus_of(0)}};
          run = run_case(s, step, at, proc, [&](progress const& p) {
            if (quiet) return;
            std::ostringstream line;
            line << t.name << "/" << c.name << " @" << fmt(rate, 2) << " Hz " << std::setw(8) << p.phase << " "
                 << fmt(p.elapsed_s) << "/" << fmt(p.total_s) << " s  connected " << p.connected << "  sent "
                 << p.chats_sent << "  delivered " << p.deliveries << "  errors " << p.errors;
            if (on_terminal) {
              std::cerr << "\r  " << line.str() << "   " << std::flush;
            } else if (p.phase != last_phase || metrics::now() - last_line >= progress_every) {
              // Piped (CI): a whole line every few seconds and at each phase, never a carriage return.
              std::cerr << "fallbench run: " << line.str() << "\n" << std::flush;
              last_line = metrics::now();
              last_phase = p.phase;
            }
          }, timing);
        }
        if (on_terminal && !quiet) std::cerr << "\n";
        if (proxy) {
          proxy->stop();
          run["fault"] = {{"profile", c.fault.empty() ? "pass" : c.fault},
                          {"schedule", c.fault_schedule},
                          {"label", fault->second.label},
                          {"schedule_origin", "the run's start (t = 0 of fault_windows and of the connect ramp)"},
                          {"log", (log_dir / file_safe(t.name + "-" + c.name + "-proxy.log")).string()}};
        }
        // Every thread the target started by now, not only its first: what the pinning really gave.
        if (running.process) running.cpus["applied"] = cpus_of_threads(running.process->pid());
        if (running.process) run["server_exit_status"] = running.process->stop();
        run["topology"] = cluster ? cluster->topology_json() : json{{"kind", "single"}};
        if (cluster) cluster->stop();
        run["target"] = t.name;
        run["target_index"] = target_index;
        run["target_description"] = running.description;
        run["target_settings"] = redacted_settings(t, at.events);
        if (t.type == target::kind::url) {
          // The query may hold a token: recorded as present, not as written.
          auto const u = transport::parse_server_url(t.url);
          run["target_settings"]["url"] = u.scheme + "://" + u.authority() + u.path + (u.query.empty() ? "" : "?(redacted)");
        }
        run["cpus"] = {{"target", running.cpus}, {"generator", generator_cpus}};
        if (at.tls)
          run["tls"] = {{"terminated_by", t.tls ? tls_end : "target"},
                        {"certificate", t.tls ? "a throwaway CA and certificate made for this run" : "the target's own"}};
        if (walk) {
          auto const facts = facts_of(run, step);
          auto const outcome = walk->record(facts);
          run["ladder"] = {{"rate_per_client_hz", rate},
                           {"stop_p99_ms", c.ladder->stop_p99_ms},
                           {"over_bound", facts.p99_ms > c.ladder->stop_p99_ms},
                           {"step", walk->result().steps},
                           {"refinement", refinement},
                           {"offered_deliveries_per_s", facts.offered_deliveries_per_s},
                           {"outcome", std::string(to_string(outcome))}};
          run["case"] = c.name + "@" + fmt(rate, 2) + "Hz";
          run["ladder_case"] = c.name;
        }
        if (!c.thresholds.empty()) {
          auto const outcomes = evaluate(c.thresholds, run);
          run["thresholds"] = to_json(outcomes);
          thresholds_met = thresholds_met && std::all_of(outcomes.begin(), outcomes.end(), [](auto const& o) { return o.ok; });
        }
        all_valid = all_valid && run["valid"].get<bool>();
        doc["runs"].push_back(std::move(run));
      }
      if (walk) {
        json knee = walk->result().to_json();
        knee["target"] = t.name;
        knee["case"] = c.name;
        doc["capacity"].push_back(std::move(knee));
      }
    }
    ++target_index;
  }
  // Figures across runs are the results library's, computed from the runs' sections as any reader of
  // the document would (docs/design.md section 2).
  doc["comparisons"] = results::target_comparisons(doc["runs"]);
  doc["fault_profile"] = std::any_of(s.cases.begin(), s.cases.end(),
                                     [](auto const& c) { return !c.fault.empty() || !c.fault_schedule.empty(); })
                             ? "per run (runs[].fault)"
                             : "pass";
  doc["finished_at"] = utc_now("%Y-%m-%dT%H:%M:%SZ");
  {
    std::ofstream out(output);
    out << doc.dump(1) << "\n";
    if (!out) throw std::runtime_error("cannot write " + output.string());
  }
  print_summary(doc, std::cout);
  std::cout << "result: " << output.string() << std::endl;
  if (options.report_dir) {
    options.render(output.string(), options.report_dir->string());
    std::cout << "report: " << (*options.report_dir / "report.html").string() << std::endl;
  }
  // An invalid run measured nothing trustworthy, so it outranks a threshold it may have crossed.
  int const status = !all_valid ? 3 : thresholds_met ? 0 : exit_threshold_crossed;
  auto write = [](fs::path const& p, std::string const& text) {
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + p.string());
  };
  if (options.junit) write(*options.junit, results::run_junit(doc));
  if (options.csv) write(*options.csv, results::run_csv(doc));
  if (options.summary_json) write(*options.summary_json, results::run_summary(doc, output.string(), status).dump(1) + "\n");
  return status;
}

}  // namespace fallbench::bench
