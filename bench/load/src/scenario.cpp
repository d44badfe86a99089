#include "fallbench/bench/scenario.hpp"

#include "fallbench/bench/thresholds.hpp"

#include <nlohmann/json.hpp>

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace fallbench::bench {

using json = nlohmann::json;

namespace {

/// The highest rate per client a case may ask for: 10 kHz is far past any single client's need and
/// keeps a typo (a rate per room or per second of the whole case) from starting a run.
constexpr double max_rate_hz = 10'000;

std::string show(json const& v) {
  auto s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

[[noreturn]] void fail(std::string const& where, std::string const& why) { throw scenario_error(where + ": " + why); }

/// Levenshtein distance, for naming the field a typo meant.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t const above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// The candidate closest to `name`, if it is close enough to be a typo of it.
std::optional<std::string> nearest(std::string_view name, std::set<std::string> const& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = SIZE_MAX;
  for (auto const& c : candidates) {
    // A typo changes about a third of a word at most ("strategy" for "strategies": 3 of 10).
    std::size_t const limit = std::max<std::size_t>(2, std::max(name.size(), c.size()) / 3);
    if (auto const d = edit_distance(name, c); d <= limit && d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

/// Parses JSON text, or fails naming the line and column of the first error.
json parse_json(std::string_view text, std::string const& where) {
  try {
    return json::parse(text);
  } catch (json::parse_error const& e) {
    std::size_t const at = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    std::size_t line = 1;
    std::size_t column = 1;
    for (std::size_t i = 0; i < at; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at line 3, column 7: syntax
    // error while parsing object - unexpected ..."; keep only what follows the position.
    std::string why = e.what();
    if (auto const colon = why.find(": "); colon != std::string::npos) why = why.substr(colon + 2);
    throw scenario_error((where.empty() ? "" : where + ": ") + "not valid JSON at line " + std::to_string(line) +
                         ", column " + std::to_string(column) + " (" + why + ")");
  } catch (json::out_of_range const& e) {
    // A number beyond a double's range (406, "number overflow parsing '1e999'"): JSON by RFC 8259's
    // grammar, but no setting can hold it. The number may be thousands of digits: show its start.
    std::string why = e.what();
    if (auto const bracket = why.find("] "); bracket != std::string::npos) why = why.substr(bracket + 2);
    if (why.size() > 80) why = why.substr(0, 80) + "...";
    throw scenario_error((where.empty() ? "" : where + ": ") + "a number out of range (" + why + ")");
  }
}

/// Reads an object's fields, refusing unknown ones.
class reader {
 public:
  reader(json const& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail(where_, "must be an object, got " + show(j_));
  }
  /// Refuse the fields nobody asked for: a typo must not silently become a default.
  void done() const {
    for (auto const& [key, value] : j_.items()) {
      if (seen_.contains(key)) continue;
      auto const guess = nearest(key, seen_);
      fail(path(key), guess ? "unknown field (did you mean '" + *guess + "'?)" : "unknown field");
    }
  }
  reader(reader const&) = delete;
  reader& operator=(reader const&) = delete;

  std::string path(std::string const& key) const { return where_.empty() ? key : where_ + "." + key; }
  json const* find(std::string const& key) {
    seen_.insert(key);
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  json const& need(std::string const& key) {
    auto const* v = find(key);
    if (!v) {
      // A misspelt field reads better as what it is than as the field it failed to be.
      for (auto const& [other, value] : j_.items())
        if (!seen_.contains(other) && nearest(other, {key}))
          fail(path(other), "unknown field (did you mean '" + key + "'?)");
      fail(path(key), "required");
    }
    return *v;
  }

  std::string str(std::string const& key, std::optional<std::string> fallback = std::nullopt) {
    auto const* v = fallback ? find(key) : &need(key);
    if (!v) return *fallback;
    if (!v->is_string() || v->get_ref<std::string const&>().empty()) fail(path(key), "must be a non-empty string, got " + show(*v));
    return v->get<std::string>();
  }
  double number(std::string const& key, double lo, double hi, std::optional<double> fallback = std::nullopt) {
    auto const* v = fallback ? find(key) : &need(key);
    if (!v) return *fallback;
    if (!v->is_number() || v->get<double>() < lo || v->get<double>() > hi) {
      std::ostringstream why;
      why << "must be a number from " << lo << " to " << hi << ", got " << show(*v);
      fail(path(key), why.str());
    }
    return v->get<double>();
  }
  std::int64_t integer(std::string const& key, std::int64_t lo, std::int64_t hi, std::optional<std::int64_t> fallback = std::nullopt) {
    auto const* v = fallback ? find(key) : &need(key);
    if (!v) return *fallback;
    if (!v->is_number_integer() || v->get<std::int64_t>() < lo || v->get<std::int64_t>() > hi)
      fail(path(key), "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + show(*v));
    return v->get<std::int64_t>();
  }
  /// A true/false field; nullopt when absent.
  std::optional<bool> boolean(std::string const& key) {
    auto const* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) fail(path(key), "must be true or false, got " + show(*v));
    return v->get<bool>();
  }
  std::chrono::milliseconds seconds(std::string const& key, double hi, double fallback) {
    return std::chrono::milliseconds{static_cast<std::int64_t>(number(key, 0, hi, fallback) * 1000.0)};
  }

 private:
  json const& j_;
  std::string where_;
  std::set<std::string> seen_;
};

/// A CPU list: distinct ids, as sched_setaffinity takes them (whether this machine has them is
/// check_cpus's question, at run time).
std::vector<int> parse_cpus(json const& j, std::string const& where) {
  if (!j.is_array() || j.empty()) fail(where, "must be a non-empty array of CPU ids, e.g. [0], got " + show(j));
  std::vector<int> cpus;
  for (auto const& id : j) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() >= CPU_SETSIZE)
      fail(where, "CPU ids are integers from 0 to " + std::to_string(CPU_SETSIZE - 1) + ", got " + show(id));
    auto const cpu = id.get<int>();
    if (std::find(cpus.begin(), cpus.end(), cpu) != cpus.end()) fail(where, "CPU " + std::to_string(cpu) + " listed twice");
    cpus.push_back(cpu);
  }
  return cpus;
}

std::string cpu_ranges(std::vector<int> const& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t k = i;
    while (k + 1 < cpus.size() && cpus[k + 1] == cpus[k] + 1) ++k;
    out += (out.empty() ? "" : ",") + std::to_string(cpus[i]) + (k > i ? "-" + std::to_string(cpus[k]) : "");
    i = k + 1;
  }
  return out;
}

/// A rising ladder: {start_rate_per_client_hz, factor, max_steps, refine_steps}.
ladder_spec parse_ladder(json const& j, std::string const& where) {
  reader r(j, where);
  ladder_spec l;
  auto const& start = r.need("start_rate_per_client_hz");
  if (!start.is_number() || start.get<double>() <= 0 || start.get<double>() > max_rate_hz)
    fail(r.path("start_rate_per_client_hz"), "must be a rate above 0 and up to 10000, got " + show(start));
  l.start_rate_per_client_hz = start.get<double>();
  if (auto const* f = r.find("factor"); f && (!f->is_number() || f->get<double>() <= 1 || f->get<double>() > 100))
    fail(r.path("factor"), "must be a number above 1 (each step's rate over the previous one's) and up to 100, got " + show(*f));
  l.factor = r.number("factor", 1, 100, 2);
  l.max_steps = static_cast<int>(r.integer("max_steps", 1, 100, 10));
  l.refine_steps = static_cast<int>(r.integer("refine_steps", 0, 4, 0));
  double const top = l.start_rate_per_client_hz * std::pow(l.factor, l.max_steps - 1);
  if (top > max_rate_hz * (1 + 1e-9)) {
    std::ostringstream why;
    why << "step " << l.max_steps << " would offer " << top << " chats/s per client, over 10000: fewer steps or a lower start";
    fail(r.path("max_steps"), why.str());
  }
  r.done();
  return l;
}

/// A target's settings (docs/targets.md): each checked by the one checker of target.hpp.
void parse_settings(reader& r, transport::target_settings& t) {
  std::string key = "path";
  try {
    if (auto const* p = r.find("path")) {
      if (!p->is_string()) fail(r.path("path"), "must be a string such as \"/socket.io/\"");
      t.path = transport::check_path(p->get<std::string>());
    }
    key = "namespace";
    if (auto const* n = r.find("namespace")) {
      if (!n->is_string()) fail(r.path("namespace"), "must be a string such as \"/chat\"");
      t.nsp = transport::check_namespace(n->get<std::string>());
    }
    key = "headers";
    if (auto const* h = r.find("headers")) {
      if (!h->is_object()) fail(r.path("headers"), "must be an object of header names and string values");
      for (auto const& [name, value] : h->items()) {
        if (!value.is_string()) fail(r.path("headers") + "." + name, "must be a string");
        t.headers.push_back(transport::parse_header(name + ": " + value.get<std::string>()));
      }
    }
    key = "cookies";
    if (auto const* c = r.find("cookies")) {
      if (!c->is_object()) fail(r.path("cookies"), "must be an object of cookie names and string values");
      for (auto const& [name, value] : c->items()) {
        if (!value.is_string()) fail(r.path("cookies") + "." + name, "must be a string");
        t.cookies.push_back(transport::parse_cookie(name + "=" + value.get<std::string>()));
      }
    }
    if (auto const* a = r.find("auth")) {
      if (!a->is_object()) fail(r.path("auth"), "must be a JSON object (sent with CONNECT), got " + show(*a));
      t.auth_json = a->dump();
    }
    if (auto const insecure = r.boolean("insecure")) t.insecure = *insecure;
    if (auto const* f = r.find("ca_file")) {
      if (!f->is_string() || f->get_ref<std::string const&>().empty()) fail(r.path("ca_file"), "must be a file name");
      t.ca_file = f->get<std::string>();
    }
    if (auto const jar = r.boolean("cookie_jar")) t.cookie_jar = *jar;
    if (auto const resume = r.boolean("tls_resume")) t.tls_resume = *resume;
  } catch (transport::target_error const& e) {
    fail(r.path(key), e.what());
  }
}

/// One of join/chat/leave in an event mapping: {"event": NAME, "args": [VALUES]}.
std::optional<chatproto::payload_template> parse_template(reader& r, std::string& event) {
  if (auto const* e = r.find("event")) {
    if (!e->is_string() || e->get_ref<std::string const&>().empty()) fail(r.path("event"), "must be an event name");
    event = e->get<std::string>();
  }
  auto const* args = r.find("args");
  if (!args) return std::nullopt;
  if (!args->is_array() || args->empty())
    fail(r.path("args"), "must be a non-empty array of the event's arguments, e.g. [{\"room\": \"{room}\"}]");
  std::string text;
  for (auto const& a : *args) text += (text.empty() ? "" : ",") + a.dump();
  std::string why;
  auto t = chatproto::payload_template::compile(text, why);
  if (!t) fail(r.path("args"), why);
  return t;
}

chatproto::event_mapping parse_events_json(json const& j, std::string const& where) {
  reader r(j, where);
  chatproto::event_mapping m;
  bool echo_given = false;
  if (auto const* join = r.find("join")) {
    reader jr(*join, r.path("join"));
    m.join_args = parse_template(jr, m.join_event);
    if (auto const* c = jr.find("confirm")) {
      auto const v = c->is_string() ? c->get<std::string>() : std::string{};
      if (v == "ack") m.confirm = chatproto::join_confirm::ack;
      else if (v == "echo") m.confirm = chatproto::join_confirm::echo;
      else if (v == "ack_or_echo") m.confirm = chatproto::join_confirm::ack_or_echo;
      else if (v == "settle") m.confirm = chatproto::join_confirm::settle;
      else fail(jr.path("confirm"), "must be ack, echo, ack_or_echo or settle, got " + show(*c));
    }
    if (auto const* e = jr.find("echo_event")) {
      if (!e->is_string() || e->get_ref<std::string const&>().empty()) fail(jr.path("echo_event"), "must be an event name");
      m.echo_event = e->get<std::string>();
      echo_given = true;
    }
    m.settle = std::chrono::milliseconds{jr.integer("settle_ms", 0, 60'000, 1000)};
    jr.done();
  }
  if (!echo_given) m.echo_event = m.join_event;
  if (auto const* chat = r.find("chat")) {
    reader cr(*chat, r.path("chat"));
    m.chat_args = parse_template(cr, m.chat_event);
    if (auto const* a = cr.find("ack")) {
      if (!a->is_boolean()) fail(cr.path("ack"), "must be true or false (whether the server acknowledges a chat)");
      m.chat_acked = a->get<bool>();
    }
    if (m.chat_args && !m.chat_args->uses_msg()) fail(cr.path("args"), "must carry the message: put {msg} in a string");
    cr.done();
  }
  m.delivery_event = m.chat_event;
  if (auto const* leave = r.find("leave")) {
    reader lr(*leave, r.path("leave"));
    m.leave_args = parse_template(lr, m.leave_event);
    lr.done();
  }
  if (auto const* d = r.find("delivery")) {
    reader dr(*d, r.path("delivery"));
    if (auto const* e = dr.find("event")) {
      if (!e->is_string() || e->get_ref<std::string const&>().empty()) fail(dr.path("event"), "must be an event name");
      m.delivery_event = e->get<std::string>();
    }
    auto const tag = dr.str("tag", std::string("fields"));
    if (tag == "fields") m.tag = chatproto::tag_place::fields;
    else if (tag == "text") m.tag = chatproto::tag_place::text;
    else fail(dr.path("tag"), "must be fields (k, q, t, a in the chat's object) or text (a fb1:... prefix in its message), got " + show(tag));
    dr.done();
  }
  if (m.tag == chatproto::tag_place::fields && m.chat_args && !m.chat_args->first_is_object())
    fail(r.path("chat.args"), "with delivery.tag \"fields\" the chat's first argument must be an object (or use \"text\")");
  r.done();
  return m;
}

/// {"kind": "single"} or {"kind": "cluster", "nodes": N, "balancer": "haproxy", "sticky": ...}.
topology_spec parse_topology(json const& j, std::string const& where) {
  reader r(j, where);
  topology_spec t;
  auto const kind = r.str("kind");
  if (kind == "single") {
    r.done();
    return t;
  }
  if (kind != "cluster") fail(r.path("kind"), "must be single or cluster, got " + show(kind));
  t.type = topology_spec::kind::cluster;
  t.nodes = static_cast<int>(r.integer("nodes", 2, 16));
  t.balancer = r.str("balancer", std::string("haproxy"));
  if (t.balancer != "haproxy") fail(r.path("balancer"), "must be haproxy (the only balancer the harness runs), got " + show(t.balancer));
  auto const sticky = r.str("sticky");
  if (sticky == "cookie") {
    t.sticky = topology_spec::sticky_kind::cookie;
  } else if (sticky == "source") {
    t.sticky = topology_spec::sticky_kind::source;
  } else if (sticky == "none") {
    t.sticky = topology_spec::sticky_kind::none;
  } else {
    fail(r.path("sticky"), "must be cookie, source or none, got " + show(sticky));
  }
  r.done();
  return t;
}

target parse_target(json const& j, std::string const& where) {
  reader r(j, where);
  target t;
  t.name = r.str("name");
  auto const kind = r.str("kind");
  if (kind == "embedded") {
    t.type = target::kind::embedded;
  } else if (kind == "node-peer") {
    t.type = target::kind::node_peer;
  } else if (kind == "url") {
    t.type = target::kind::url;
    t.url = r.str("url");
    try {
      (void)transport::parse_server_url(t.url);
    } catch (transport::url_error const& e) {
      fail(r.path("url"), e.what());
    }
  } else {
    fail(r.path("kind"), "must be embedded, node-peer or url, got " + show(kind));
  }
  t.server_threads = static_cast<int>(r.integer("threads", 1, 256, 2));
  if (auto const* extra = r.find("args")) {
    if (!extra->is_array()) fail(r.path("args"), "must be an array of strings");
    for (auto const& a : *extra) {
      if (!a.is_string()) fail(r.path("args"), "must be an array of strings, got " + show(a));
      t.extra_args.push_back(a.get<std::string>());
    }
  }
  if (auto const* cpus = r.find("cpus")) {
    if (t.type == target::kind::url) fail(r.path("cpus"), "a url target runs outside the harness: it cannot be pinned here");
    t.cpus = parse_cpus(*cpus, r.path("cpus"));
  }
  if (auto const tls = r.boolean("tls")) {
    if (t.type == target::kind::url) fail(r.path("tls"), "a url target is https when its url says https://");
    t.tls = *tls;
  }
  parse_settings(r, t.settings);
  if (auto const* ev = r.find("events")) t.events = parse_events_json(*ev, r.path("events"));
  r.done();
  return t;
}

/// The strategies a scenario may name, for its error messages.
std::string strategy_names() {
  std::string names;
  for (auto const s : transport::all_strategies) names += (names.empty() ? "" : ", ") + std::string(transport::to_string(s));
  return names;
}

/// A list of thresholds ("p99_ms < 50", "websocket: ttfm_p50_ms < 100").
std::vector<threshold> parse_thresholds(json const& j, std::string const& where) {
  if (!j.is_array()) fail(where, "must be an array of strings such as \"p99_ms < 50\", got " + show(j));
  std::vector<threshold> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    std::string const at = where + "[" + std::to_string(i) + "]";
    if (!j[i].is_string()) fail(at, "must be a string such as \"p99_ms < 50\", got " + show(j[i]));
    try {
      out.push_back(parse_threshold(j[i].get<std::string>()));
    } catch (std::invalid_argument const& e) {
      fail(at, e.what());
    }
  }
  return out;
}

/// A "phases" object at `where`: the phases it sets, the others as in `p`.
phases parse_phases(json const& j, std::string const& where, phases p) {
  reader ph(j, where);
  auto const take = [&ph](char const* key, double hi, std::chrono::milliseconds& into) {
    if (ph.find(key)) into = ph.seconds(key, hi, 0);
  };
  take("connect_ramp_s", 600, p.connect_ramp);
  take("warmup_s", 3600, p.warmup);
  take("measure_s", 24 * 3600, p.measure);
  take("drain_s", 600, p.drain);
  if (auto const prime = ph.boolean("prime")) p.prime = *prime;
  if (p.measure.count() == 0) fail(ph.path("measure_s"), "must be more than 0");
  ph.done();
  return p;
}

case_spec parse_case(json const& j, std::string const& where, json const& defaults, std::string const& base_dir,
                     phases const& timing) {
  // A case inherits every field it does not set from the scenario's "defaults".
  json merged = defaults.is_object() ? defaults : json::object();
  if (!j.is_object()) fail(where, "must be an object, got " + show(j));
  for (auto const& [k, v] : j.items()) merged[k] = v;
  reader r(merged, where);
  case_spec c;
  c.name = r.str("name");
  c.timing = timing;
  if (auto const* p = r.find("phases")) c.timing = parse_phases(*p, r.path("phases"), timing);
  if (auto const* trace = r.find("trace")) {
    if (!trace->is_string() || trace->get_ref<std::string const&>().empty())
      fail(r.path("trace"), "must be the path of a JSON-lines file");
    c.trace_file = trace->get<std::string>();
    auto const path = c.trace_file.starts_with("/") ? c.trace_file : base_dir + "/" + c.trace_file;
    load_trace(path, c);
  }
  std::uint32_t trace_clients = 0;
  for (auto const& e : c.trace) trace_clients = std::max(trace_clients, e.client + 1);
  std::optional<std::int64_t> clients_default;
  if (!c.trace.empty()) clients_default = trace_clients;
  c.clients = static_cast<int>(r.integer("clients", 1, 100'000, clients_default));
  if (static_cast<std::uint32_t>(c.clients) < trace_clients)
    fail(r.path("clients"), "the trace has clients up to " + std::to_string(trace_clients - 1) + ": needs at least " +
                                std::to_string(trace_clients));
  auto const& mix = r.need("strategies");
  if (mix.is_string()) {
    auto s = transport::parse_strategy(mix.get<std::string>());
    if (!s) fail(r.path("strategies"), "unknown strategy " + show(mix) + " (" + strategy_names() + ")");
    c.mix[*s] = 1;
  } else if (mix.is_object() && !mix.empty()) {
    for (auto const& [name, weight] : mix.items()) {
      auto s = transport::parse_strategy(name);
      if (!s) fail(r.path("strategies") + "." + name, "unknown strategy (" + strategy_names() + ")");
      if (!weight.is_number() || weight.get<double>() <= 0) fail(r.path("strategies") + "." + name, "weight must be a positive number");
      c.mix[*s] = weight.get<double>();
    }
  } else {
    fail(r.path("strategies"), "must be a strategy name or an object of weights, got " + show(mix));
  }
  c.rooms.count = static_cast<int>(r.integer("rooms", 1, 100'000, 1));
  if (!c.trace.empty()) c.rooms.count = static_cast<int>(std::max<std::size_t>(c.trace_rooms.size(), 1));
  if (c.rooms.count > c.clients) fail(r.path("rooms"), "more rooms than clients");
  auto const spread = r.str("room_distribution", std::string("uniform"));
  if (spread == "uniform") {
    c.rooms.zipf_exponent = 0;
  } else if (spread == "zipf") {
    c.rooms.zipf_exponent = r.number("zipf_exponent", 0.01, 10, 1.0);
  } else {
    fail(r.path("room_distribution"), "must be uniform or zipf, got " + show(spread));
  }
  bool const has_ladder = merged.contains("ladder_rates_per_client_hz") || merged.contains("ladder");
  c.rate_per_client_hz = r.number("rate_per_client_hz", 0, max_rate_hz, has_ladder || !c.trace.empty() ? 0.0 : -1.0);
  if (!c.trace.empty() && c.rate_per_client_hz > 0) fail(r.path("rate_per_client_hz"), "a trace case sends what its trace says");
  if (c.rate_per_client_hz < 0) fail(r.path("rate_per_client_hz"), "required (or a ladder)");
  auto const bytes = r.find("message_bytes");
  if (!bytes) {
    c.message_bytes_min = c.message_bytes_max = 16;
  } else if (bytes->is_number_integer()) {
    c.message_bytes_min = c.message_bytes_max = static_cast<std::uint32_t>(r.integer("message_bytes", 1, 900'000));
  } else if (bytes->is_array() && bytes->size() == 2 && (*bytes)[0].is_number_integer() && (*bytes)[1].is_number_integer() &&
             (*bytes)[0].get<std::int64_t>() >= 1 && (*bytes)[0] <= (*bytes)[1] && (*bytes)[1].get<std::int64_t>() <= 900'000) {
    c.message_bytes_min = (*bytes)[0].get<std::uint32_t>();
    c.message_bytes_max = (*bytes)[1].get<std::uint32_t>();
  } else {
    fail(r.path("message_bytes"), "must be an integer or [min, max] from 1 to 900000, got " + show(*bytes));
  }
  c.churn_per_client_per_min = r.number("churn_per_client_per_min", 0, 600, 0);
  auto const* listed = r.find("ladder_rates_per_client_hz");
  auto const* rising = r.find("ladder");
  if (listed && rising) fail(r.path("ladder"), "give either ladder (rising) or ladder_rates_per_client_hz (listed), not both");
  if (has_ladder && !c.trace.empty()) fail(r.path(listed ? "ladder_rates_per_client_hz" : "ladder"), "a trace case sends what its trace says");
  if (listed) {
    if (!listed->is_array() || listed->empty()) fail(r.path("ladder_rates_per_client_hz"), "must be a non-empty array of rates");
    ladder_spec l;
    double previous = 0;
    for (auto const& rate : *listed) {
      if (!rate.is_number() || rate.get<double>() <= previous || rate.get<double>() > max_rate_hz)
        fail(r.path("ladder_rates_per_client_hz"), "must be rising positive rates up to 10000, got " + show(rate));
      previous = rate.get<double>();
      l.rates_per_client_hz.push_back(previous);
    }
    c.ladder = l;
  } else if (rising) {
    c.ladder = parse_ladder(*rising, r.path("ladder"));
  }
  if (c.ladder) c.ladder->stop_p99_ms = r.number("stop_p99_ms", 1, 60'000, 250);
  if (auto const* t = r.find("thresholds")) {
    c.thresholds = parse_thresholds(*t, r.path("thresholds"));
    for (std::size_t i = 0; i < c.thresholds.size(); ++i)
      if (auto const s = c.thresholds[i].strategy; s && !c.mix.contains(*s))
        fail(r.path("thresholds") + "[" + std::to_string(i) + "]",
             "no " + std::string(transport::to_string(*s)) + " client in this case");
  }
  if (auto const reconnect = r.boolean("reconnect")) c.reconnect = *reconnect;
  // The servers' own bound (`fallbench serve`, the Node peer): a day.
  c.recovery_window = std::chrono::milliseconds{r.integer("recovery_window_ms", 0, 86'400'000, 0)};
  if (c.recovery_window.count() > 0) {
    // Recovery happens on a reconnection: without one there is nothing to recover.
    if (merged.contains("reconnect") && !c.reconnect)
      fail(r.path("reconnect"), "must be true with recovery_window_ms (a session is recovered when its client reconnects)");
    c.reconnect = true;
  }
  c.connect_timeout = std::chrono::milliseconds{r.integer("connect_timeout_ms", 100, 600'000, 20'000)};
  c.websocket_timeout = std::chrono::milliseconds{r.integer("websocket_timeout_ms", 100, 600'000, 10'000)};
  if (c.websocket_timeout > c.connect_timeout)
    fail(r.path("websocket_timeout_ms"), "must not exceed connect_timeout_ms (" + std::to_string(c.connect_timeout.count()) +
                                             "): a fallback needs time left to connect over polling");
  c.race_stagger = std::chrono::milliseconds{r.integer("race_stagger_ms", 0, 600'000, 250)};
  c.fault = r.str("fault", std::string("-"));
  if (c.fault == "-") c.fault.clear();
  c.fault_schedule = r.str("fault_schedule", std::string("-"));
  if (c.fault_schedule == "-") c.fault_schedule.clear();
  if (c.churn_per_client_per_min > 0 && c.rooms.count < 2) fail(r.path("churn_per_client_per_min"), "churn needs at least 2 rooms");
  if (auto const* t = r.find("topology")) c.topology = parse_topology(*t, r.path("topology"));
  r.done();
  return c;
}

std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull;
  for (char const c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string_view to_string(topology_spec::sticky_kind s) noexcept {
  switch (s) {
    case topology_spec::sticky_kind::cookie: return "cookie";
    case topology_spec::sticky_kind::source: return "source";
    case topology_spec::sticky_kind::none: return "none";
  }
  return "none";
}

void load_trace(std::string const& path, case_spec& c) {
  std::ifstream in(path);
  if (!in) throw scenario_error(path + ": cannot read the trace");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw scenario_error(path + ": cannot read the trace");
  parse_trace(std::move(text).str(), path, c);
}

void parse_trace(std::string_view text, std::string const& name, case_spec& c) {
  std::map<std::string, std::uint32_t> rooms;
  c.trace.clear();
  c.trace_rooms.clear();
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto const first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    std::string const where = name + ":" + std::to_string(number);
    auto const j = parse_json(line, where);
    reader r(j, where);
    trace_event e;
    e.at = std::chrono::microseconds{static_cast<std::int64_t>(r.number("t_ms", 0, 86'400'000.0) * 1000.0)};
    e.client = static_cast<std::uint32_t>(r.integer("client", 0, 99'999));
    auto const what = r.str("event");
    if (what == "join") {
      e.what = trace_event::kind::join;
    } else if (what == "chat") {
      e.what = trace_event::kind::chat;
    } else if (what == "leave") {
      e.what = trace_event::kind::leave;
    } else {
      fail(r.path("event"), "must be join, chat or leave, got " + show(what));
    }
    auto const room = r.str("room");
    auto const [it, added] = rooms.emplace(room, static_cast<std::uint32_t>(rooms.size()));
    if (added) c.trace_rooms.push_back(room);
    e.room = it->second;
    e.bytes = static_cast<std::uint32_t>(r.integer("bytes", 1, 900'000, 16));
    if (e.what != trace_event::kind::chat && j.contains("bytes")) fail(r.path("bytes"), "only chats have a size");
    r.done();
    c.trace.push_back(e);
  }
  if (c.trace.empty()) throw scenario_error(name + ": the trace has no event");
  std::stable_sort(c.trace.begin(), c.trace.end(), [](auto const& a, auto const& b) { return a.at < b.at; });
}

scenario parse_scenario(std::string_view json_text, std::string const& base_dir) {
  auto const j = parse_json(json_text, "");
  scenario s;
  {
    reader r(j, "");
    s.name = r.str("name");
    s.description = r.str("description", std::string("-"));
    s.seed = static_cast<std::uint64_t>(r.integer("seed", 0, INT64_MAX, 1));
    if (auto const* targets = r.find("targets")) {
      if (!targets->is_array() || targets->empty()) fail("targets", "must be a non-empty array");
      std::set<std::string> names;
      for (std::size_t i = 0; i < targets->size(); ++i) {
        s.targets.push_back(parse_target((*targets)[i], "targets[" + std::to_string(i) + "]"));
        if (!names.insert(s.targets.back().name).second) fail("targets[" + std::to_string(i) + "].name", "duplicate name");
      }
    } else {
      s.targets.push_back({"fallbench", target::kind::embedded, {}, 2, {}, {}, {}, {}});
    }
    if (auto const* ev = r.find("events")) s.events = parse_events_json(*ev, "events");
    json defaults = r.find("defaults") ? r.need("defaults") : json::object();
    if (!defaults.is_object()) fail("defaults", "must be an object");
    // A scenario-wide topology is every case's default (a case, or "defaults", may set its own).
    if (auto const* t = r.find("topology"); t && !defaults.contains("topology")) defaults["topology"] = *t;
    if (auto const* p = r.find("phases")) s.timing = parse_phases(*p, "phases", {});
    auto const& cases = r.need("cases");
    if (!cases.is_array() || cases.empty()) fail("cases", "must be a non-empty array");
    std::set<std::string> names;
    for (std::size_t i = 0; i < cases.size(); ++i) {
      s.cases.push_back(parse_case(cases[i], "cases[" + std::to_string(i) + "]", defaults, base_dir, s.timing));
      if (!names.insert(s.cases.back().name).second) fail("cases[" + std::to_string(i) + "].name", "duplicate name");
    }
    // Thresholds for every case come first, then the case's own.
    if (auto const* t = r.find("thresholds")) {
      auto const all = parse_thresholds(*t, "thresholds");
      for (auto& c : s.cases) {
        for (std::size_t i = 0; i < all.size(); ++i)
          if (auto const st = all[i].strategy; st && !c.mix.contains(*st))
            fail("thresholds[" + std::to_string(i) + "]", "no " + std::string(transport::to_string(*st)) +
                                                             " client in case " + c.name);
        c.thresholds.insert(c.thresholds.begin(), all.begin(), all.end());
      }
    }
    if (auto const* g = r.find("generator")) {
      reader gr(*g, "generator");
      s.generator.threads = static_cast<int>(gr.integer("threads", 1, 64, 1));
      s.generator.max_lag = std::chrono::milliseconds{gr.integer("max_lag_ms", 1, 60'000, 100)};
      s.generator.max_cpu_utilisation = gr.number("max_cpu_utilisation", 0.1, 1.0, 0.9);
      s.generator.error_budget = gr.number("error_budget", 0, 1, 0.01);
      if (auto const* cpus = gr.find("cpus")) s.generator.cpus = parse_cpus(*cpus, gr.path("cpus"));
      gr.done();
    }
    r.done();
  }
  s.canonical_json = j.dump();
  // The hash says whether two results measured the same thing: thresholds only judge a result, so
  // they are left out (tightening one keeps the baseline comparable). It covers the traces: the same
  // scenario file over another trace is another scenario.
  json measured = j;
  measured.erase("thresholds");
  if (measured.contains("defaults") && measured["defaults"].is_object()) measured["defaults"].erase("thresholds");
  for (auto& c : measured["cases"])
    if (c.is_object()) c.erase("thresholds");
  std::string hashed = measured.dump();
  for (auto const& c : s.cases)
    for (auto const& e : c.trace)
      hashed += "\n" + std::to_string(e.at.count()) + " " + std::to_string(e.client) + " " +
                std::to_string(static_cast<int>(e.what)) + " " + c.trace_rooms[e.room] + " " + std::to_string(e.bytes);
  s.hash = fnv1a64(hashed);
  return s;
}

void check_cpus(scenario const& s, std::vector<int> const& available) {
  auto check = [&](std::vector<int> const& cpus, std::string const& where) {
    for (int const cpu : cpus)
      if (std::find(available.begin(), available.end(), cpu) == available.end())
        fail(where, "CPU " + std::to_string(cpu) + " is not available on this machine (CPUs " +
                        (available.empty() ? std::string("unknown") : cpu_ranges(available)) + ")");
  };
  for (std::size_t i = 0; i < s.targets.size(); ++i) check(s.targets[i].cpus, "targets[" + std::to_string(i) + "].cpus");
  check(s.generator.cpus, "generator.cpus");
}

chatproto::event_mapping parse_events(std::string_view json_text, std::string const& where) {
  std::string text(json_text);
  auto const first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw scenario_error(where + ": empty");
  if (text[first] != '{') {
    // A file name.
    std::ifstream in(text, std::ios::binary);
    if (!in) throw scenario_error(where + ": neither a JSON object nor a readable file: '" + text + "'");
    std::ostringstream content;
    content << in.rdbuf();
    text = content.str();
  }
  auto const j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw scenario_error(where + ": not valid JSON");
  return parse_events_json(j, where);
}

json redacted_settings(target const& t, chatproto::event_mapping const& events) {
  auto const& st = t.settings;
  json headers = json::object(), cookies = json::object();
  for (auto const& [name, value] : st.headers) headers[name] = "(redacted)";
  for (auto const& [name, value] : st.cookies) cookies[name] = "(redacted)";
  json auth = nullptr;
  if (!st.auth_json.empty()) {
    auth = json::object();
    json const given = json::parse(st.auth_json, nullptr, false);
    if (given.is_object())
      for (auto it = given.begin(); it != given.end(); ++it) auth[it.key()] = "(redacted)";
  }
  json mapping = {{"default", events.is_default()},
                  {"join", {{"event", events.join_event}, {"args", events.join_args ? events.join_args->source() : "{room, name}"},
                            {"confirm", std::string(chatproto::to_string(events.confirm))}, {"echo_event", events.echo_event}}},
                  {"chat", {{"event", events.chat_event}, {"args", events.chat_args ? events.chat_args->source() : "{room, name, msg}"},
                            {"ack", events.chat_acked}}},
                  {"leave", {{"event", events.leave_event}, {"args", events.leave_args ? events.leave_args->source() : "{room, name}"}}},
                  {"delivery", {{"event", events.delivery_event}, {"tag", std::string(chatproto::to_string(events.tag))}}}};
  if (events.confirm == chatproto::join_confirm::settle) mapping["join"]["settle_ms"] = events.settle.count();
  return {{"path", st.path ? json(*st.path) : json(nullptr)},
          {"namespace", st.nsp},
          {"headers", headers},
          {"cookies", cookies},
          {"cookie_jar", st.cookie_jar},
          {"auth", auth},
          {"insecure", st.insecure},
          {"ca_file", st.ca_file},
          {"tls_resume", st.tls_resume},
          {"events", mapping}};
}

scenario load_scenario(std::string const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw scenario_error(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    auto const dir = std::filesystem::path(path).parent_path().string();
    return parse_scenario(text.str(), dir.empty() ? "." : dir);
  } catch (scenario_error const& e) {
    throw scenario_error(path + ": " + e.what());
  }
}

}  // namespace fallbench::bench
