#include "fallbench/bench/ladder.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <utility>

namespace fallbench::bench {

using json = nlohmann::json;

namespace {

/// A rate as people write it: 3 significant digits, no trailing zeros (0.01, 90.5, 1024).
std::string rate_text(double hz) {
  std::ostringstream o;
  o << std::setprecision(hz >= 1000 ? 6 : 3) << hz;
  return o.str();
}

std::string whole(double v) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(0) << v;
  return o.str();
}

std::string ms_text(double ms) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(ms < 10 ? 2 : ms < 100 ? 1 : 0) << ms;
  return o.str();
}

/// Bisection points are rounded to 3 significant digits: step names stay readable ("room-10@90.5Hz").
double round_rate(double hz) {
  if (hz <= 0) return hz;
  double const scale = std::pow(10.0, 2 - std::floor(std::log10(hz)));
  return std::round(hz * scale) / scale;
}

/// What the stopping step showed, for the summary.
std::string detail_of(step_facts const& f, step_outcome o, double bound_ms) {
  switch (o) {
    case step_outcome::within: return {};
    case step_outcome::over_bound: return "p99 " + ms_text(f.p99_ms) + " ms > " + ms_text(bound_ms) + " ms";
    case step_outcome::generator_saturated:
      return std::to_string(static_cast<int>(std::lround(f.generator_utilisation * 100))) + "% CPU per generator thread";
    case step_outcome::generator_behind:
    case step_outcome::server_failed: break;
  }
  std::string out;
  if (f.server_exit_status != 0) out = "server exited with status " + std::to_string(f.server_exit_status);
  if (f.lost > 0) out += (out.empty() ? "" : "; ") + std::to_string(f.lost) + " deliveries lost";
  for (auto const& why : f.invalid_reasons)
    if (o == step_outcome::server_failed || why.starts_with("generator fell behind")) out += (out.empty() ? "" : "; ") + why;
  return out;
}

json facts_json(std::optional<step_facts> const& f) {
  if (!f) return nullptr;
  return {{"rate_per_client_hz", f->rate_per_client_hz},
          {"offered_deliveries_per_s", f->offered_deliveries_per_s},
          {"deliveries_per_s", f->deliveries_per_s},
          {"p99_ms", f->p99_ms}};
}

}  // namespace

std::string_view to_string(step_outcome o) noexcept {
  switch (o) {
    case step_outcome::within: return "within";
    case step_outcome::generator_saturated: return "generator_saturated";
    case step_outcome::generator_behind: return "generator_behind";
    case step_outcome::server_failed: return "server_failed";
    case step_outcome::over_bound: return "over_bound";
  }
  return "?";
}

std::string_view to_string(stop_reason r) noexcept {
  switch (r) {
    case stop_reason::over_bound: return "over_bound";
    case stop_reason::server_failed: return "server_failed";
    case stop_reason::generator_saturated: return "generator_saturated";
    case stop_reason::generator_behind: return "generator_behind";
    case stop_reason::max_steps: return "max_steps";
  }
  return "?";
}

step_outcome judge_step(step_facts const& f, double stop_p99_ms) {
  if (f.generator_saturated) return step_outcome::generator_saturated;
  if (f.generator_behind) return step_outcome::generator_behind;
  // Any other reason a run is invalid (error budget, nothing delivered) is the server's doing: the
  // generator's own limits were checked above.
  if (f.server_exit_status != 0 || f.lost > 0 || !f.valid) return step_outcome::server_failed;
  if (f.p99_ms > stop_p99_ms) return step_outcome::over_bound;
  return step_outcome::within;
}

ladder_walk::ladder_walk(ladder_spec spec) : spec_(std::move(spec)) { report_.stop_p99_ms = spec_.stop_p99_ms; }

std::optional<double> ladder_walk::next_rate() const {
  if (done_) return std::nullopt;
  if (refining_) {
    // Geometric midpoint: ladders rise by a factor, so the knee is as likely in either half of the ratio.
    return round_rate(std::sqrt(report_.best->rate_per_client_hz * report_.stopper->rate_per_client_hz));
  }
  if (!spec_.rates_per_client_hz.empty()) return spec_.rates_per_client_hz[static_cast<std::size_t>(rises_)];
  return spec_.start_rate_per_client_hz * std::pow(spec_.factor, rises_);
}

step_outcome ladder_walk::record(step_facts const& f) {
  auto const outcome = judge_step(f, spec_.stop_p99_ms);
  ++report_.steps;
  if (refining_) {
    ++report_.refinements;
    if (outcome == step_outcome::within) {
      report_.best = f;
    } else if (outcome == step_outcome::over_bound || outcome == step_outcome::server_failed) {
      report_.stopper = f;
      report_.stop_detail = detail_of(f, outcome, spec_.stop_p99_ms);
    } else {
      done_ = true;  // the generator gave out below the first bad rate: nothing more to learn here
    }
  } else {
    ++rises_;
    if (outcome == step_outcome::within) {
      report_.best = f;
      int const limit = spec_.rates_per_client_hz.empty() ? spec_.max_steps : static_cast<int>(spec_.rates_per_client_hz.size());
      if (rises_ >= limit) {
        report_.why = stop_reason::max_steps;
        report_.found = false;
        done_ = true;
      }
    } else {
      report_.stopper = f;
      report_.stop_detail = detail_of(f, outcome, spec_.stop_p99_ms);
      switch (outcome) {
        case step_outcome::over_bound: report_.why = stop_reason::over_bound; break;
        case step_outcome::server_failed: report_.why = stop_reason::server_failed; break;
        case step_outcome::generator_saturated: report_.why = stop_reason::generator_saturated; break;
        case step_outcome::generator_behind: report_.why = stop_reason::generator_behind; break;
        case step_outcome::within: break;
      }
      report_.found = report_.why == stop_reason::over_bound || report_.why == stop_reason::server_failed;
      refining_ = report_.found && report_.best && spec_.refine_steps > 0;
      done_ = !refining_;
    }
  }
  if (refining_ && !done_) {
    auto const mid = next_rate();
    bool const distinct = mid && *mid > report_.best->rate_per_client_hz && *mid < report_.stopper->rate_per_client_hz;
    if (report_.refinements >= spec_.refine_steps || !distinct) done_ = true;
  }
  return outcome;
}

knee_report ladder_walk::result() const { return report_; }

std::string knee_report::summary() const {
  std::ostringstream o;
  auto const load = [&](step_facts const& f) {
    return whole(f.offered_deliveries_per_s) + " deliveries/s offered (" + rate_text(f.rate_per_client_hz) +
           " chats/s per client, p99 " + ms_text(f.p99_ms) + " ms)";
  };
  if (found) {
    if (best)
      o << "knee at " << load(*best);
    else
      o << "knee below the first step: no step stayed within p99 " << ms_text(stop_p99_ms) << " ms";
  } else if (best) {
    o << "knee not found, capacity \u2265 " << load(*best);
  } else {
    o << "knee not found: no step measured the server";
  }
  o << "; stopped: ";
  auto const at = [&] { return stopper ? " at " + rate_text(stopper->rate_per_client_hz) + " chats/s per client" : std::string(); };
  switch (why) {
    case stop_reason::over_bound: o << "over the p99 bound" << at() << " (" << stop_detail << ")"; break;
    case stop_reason::server_failed: o << "server failed" << at() << " (" << stop_detail << ")"; break;
    case stop_reason::generator_saturated:
      o << "generator saturated" << at() << " (" << stop_detail << "): the generator's limit, not the server's";
      break;
    case stop_reason::generator_behind:
      o << "generator fell behind" << at() << " (" << stop_detail << "): the generator's limit, not the server's";
      break;
    case stop_reason::max_steps: o << "max steps reached (" << steps << ") without a knee"; break;
  }
  if (refinements > 0) o << "; " << refinements << " refinement step" << (refinements > 1 ? "s" : "");
  return o.str();
}

json knee_report::to_json() const {
  json j = {{"stop_p99_ms", stop_p99_ms},
            {"knee_found", found},
            {"stop_reason", std::string(to_string(why))},
            {"stop_detail", stop_detail},
            {"steps", steps},
            {"refinement_steps", refinements},
            {"knee", found ? facts_json(best) : json(nullptr)},
            {"capacity_at_least", found ? json(nullptr) : facts_json(best)},
            {"stopped_at", facts_json(stopper)},
            {"summary", summary()},
            // The fields before knees were reported, kept for older readers (tools/compare reads them).
            {"max_rate_per_client_hz", best ? json(best->rate_per_client_hz) : json(nullptr)},
            {"deliveries_per_s", best ? json(best->deliveries_per_s) : json(nullptr)},
            {"offered_deliveries_per_s", best ? json(best->offered_deliveries_per_s) : json(nullptr)},
            {"p99_ms", best ? json(best->p99_ms) : json(nullptr)}};
  return j;
}

std::optional<double> receivers_per_chat(case_spec const& c) {
  if (c.rooms.zipf_exponent > 0 || c.clients <= 0 || c.rooms.count <= 0) return std::nullopt;
  // Uniform: client i is in room i mod n, so rooms hold floor(clients/n) or one more; a chat reaches
  // every member of its room, its sender included.
  auto const n = static_cast<std::int64_t>(c.rooms.count);
  auto const clients = static_cast<std::int64_t>(c.clients);
  auto const small = clients / n, big_rooms = clients % n;
  double const squares = static_cast<double>(big_rooms * (small + 1) * (small + 1) + (n - big_rooms) * small * small);
  return squares / static_cast<double>(clients);
}

}  // namespace fallbench::bench
