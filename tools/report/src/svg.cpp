#include "svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace fallbench::report::svg {

namespace {

constexpr double chart_width = 760;
constexpr double footer_height = 36;  ///< two lines: what was measured, and where
constexpr char const* grid_color = "#e3e3e3";
constexpr char const* axis_color = "#888";
constexpr char const* ink = "#222";
constexpr char const* muted = "#666";
constexpr double shade_opacity = 0.3;  ///< shaded spans (fault windows) and their legend swatch
constexpr double faint_opacity = 0.3;  ///< the other runs of a repeated measurement, behind its median run

std::string fmt(double v, char const* spec) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

/// A coordinate: one decimal is finer than a pixel.
std::string c(double v) { return fmt(std::isfinite(v) ? v : 0.0, "%.1f"); }

/// The plotting rectangle, in pixels (y grows downwards).
struct area {
  double x0, y0, x1, y1;
  double width() const { return x1 - x0; }
  double height() const { return y1 - y0; }
};

/// Maps data to pixels through a transform: linear, log10, "nines" (-log10(1 - p/100)) or log1p
/// (log10(1 + v / 0.1)).
struct scale {
  enum class kind { linear, log10, nines, log1p } k = kind::linear;
  double d0 = 0, d1 = 1;  ///< data range
  double r0 = 0, r1 = 1;  ///< pixel range

  double transform(double v) const {
    switch (k) {
      case kind::linear: return v;
      case kind::log10: return std::log10(std::max(v, 1e-9));
      case kind::nines: return -std::log10(std::max(1.0 - v / 100.0, 1e-12));
      case kind::log1p: return std::log10(1.0 + std::max(v, 0.0) / 0.1);
    }
    return v;
  }
  double operator()(double v) const {
    double const t0 = transform(d0), t1 = transform(d1);
    if (t1 == t0) return (r0 + r1) / 2;
    double const t = std::clamp((transform(v) - t0) / (t1 - t0), -0.02, 1.02);
    return r0 + t * (r1 - r0);
  }
};

using ticks = std::vector<std::pair<double, std::string>>;

/// A "nice" step (1, 2 or 5 times a power of ten) giving about `target` intervals over [0, hi].
double nice_step(double span, int target) {
  if (span <= 0) return 1;
  double const raw = span / target;
  double const mag = std::pow(10.0, std::floor(std::log10(raw)));
  double const r = raw / mag;
  return mag * (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10);
}

/// The upper end of a linear axis from 0: a multiple of the nice step at or above hi.
double nice_top(double hi) {
  if (hi <= 0) return 1;
  double const step = nice_step(hi, 5);
  return std::ceil(hi / step - 1e-9) * step;
}

ticks linear_ticks(double lo, double hi) {
  ticks out;
  double const step = nice_step(hi - lo, 5);
  // As many decimals as the step needs, the same on every tick: 0, 0.2, 0.4 ... 1.0.
  int const decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-6; v += step) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::abs(v) < step * 1e-6 ? 0.0 : v);
    out.emplace_back(v, buf);
  }
  return out;
}

ticks log_ticks(double lo, double hi) {
  ticks out;
  int const first = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  int const last = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  bool const dense = last - first <= 2;
  for (int e = first; e <= last; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1.0 && !dense) continue;
      double const v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.emplace_back(v, fmt(v, "%g"));
    }
  return out;
}

/// A log axis range covering [lo, hi] out to whole decades (or 1-2-5 steps when narrow).
std::pair<double, double> log_range(double lo, double hi) {
  lo = std::max(lo, 1e-6);
  hi = std::max(hi, lo * 1.0001);
  double a = std::pow(10.0, std::floor(std::log10(lo)));
  double b = std::pow(10.0, std::ceil(std::log10(hi)));
  for (double m : {5.0, 2.0})
    if (a * m <= lo) {
      a *= m;
      break;
    }
  for (double m : {0.2, 0.5})
    if (b * m >= hi) {
      b *= m;
      break;
    }
  return {a, b};
}

/// Builds one <svg>: title and description for assistive technology, then marks, then the footer.
class canvas {
 public:
  /// `height` includes `footer_height` for the footer's two lines; longer footers add to it.
  canvas(double height, frame const& f) {
    auto const measured = wrap(f.measured, 128);
    auto const where = wrap(f.provenance, 138);
    double const line_h = 13;
    double const footer = line_h * static_cast<double>(measured.size() + where.size()) + 10;
    double const total = height - footer_height + footer;
    out_ << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << c(chart_width) << " "
         << c(total) << "\" width=\"" << c(chart_width) << "\" height=\"" << c(total) << "\" role=\"img\">"
         << "<title>" << escape(f.title) << "</title><desc>" << escape(f.measured) << " " << escape(f.provenance)
         << "</desc>";
    out_ << "<rect x=\"0\" y=\"0\" width=\"" << c(chart_width) << "\" height=\"" << c(total)
         << "\" fill=\"#fff\"/>";
    double y = height - footer_height + 15;
    for (auto const& line : measured) {
      text(8, y, line, "start", 10.5, ink);
      y += line_h;
    }
    for (auto const& line : where) {
      text(8, y, line, "start", 10, muted);
      y += line_h;
    }
  }

  /// Splits text at spaces into lines of at most about `width` characters (UTF-8 bytes counted as
  /// characters only when they start one).
  static std::vector<std::string> wrap(std::string const& s, std::size_t width) {
    std::vector<std::string> lines;
    std::string line, word;
    auto const length = [](std::string const& t) {
      std::size_t n = 0;
      for (char ch : t) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80 ? 1 : 0;
      return n;
    };
    auto const flush_word = [&] {
      if (word.empty()) return;
      if (!line.empty() && length(line) + 1 + length(word) > width) {
        lines.push_back(line);
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
      word.clear();
    };
    for (char ch : s) {
      if (ch == ' ')
        flush_word();
      else
        word += ch;
    }
    flush_word();
    if (!line.empty() || lines.empty()) lines.push_back(line);
    return lines;
  }

  void raw(std::string_view s) { out_ << s; }

  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double width = 1,
            std::string_view dash = {}, double opacity = 1) {
    out_ << "<line x1=\"" << c(x1) << "\" y1=\"" << c(y1) << "\" x2=\"" << c(x2) << "\" y2=\"" << c(y2)
         << "\" stroke=\"" << stroke << "\" stroke-width=\"" << c(width) << "\"";
    if (opacity < 1) out_ << " stroke-opacity=\"" << c(opacity) << "\"";
    if (!dash.empty()) out_ << " stroke-dasharray=\"" << dash << "\"";
    out_ << "/>";
  }

  void rect(double x, double y, double w, double h, std::string_view fill, std::string_view tooltip = {},
            bool mark = true, double opacity = 1) {
    out_ << "<rect" << (mark ? " class=\"mark\"" : "") << " x=\"" << c(x) << "\" y=\"" << c(y) << "\" width=\""
         << c(std::max(w, 0.0)) << "\" height=\"" << c(std::max(h, 0.0)) << "\" fill=\"" << fill << "\"";
    if (opacity < 1) out_ << " fill-opacity=\"" << c(opacity) << "\"";
    close(tooltip, "rect");
  }

  void circle(double x, double y, double r, std::string_view fill, std::string_view tooltip,
              std::string_view stroke = "#fff") {
    out_ << "<circle class=\"mark\" cx=\"" << c(x) << "\" cy=\"" << c(y) << "\" r=\"" << c(r) << "\" fill=\"" << fill
         << "\" stroke=\"" << stroke << "\" stroke-width=\"1\"";
    close(tooltip, "circle");
  }

  void polygon(std::vector<std::pair<double, double>> const& pts, std::string_view fill, std::string_view tooltip,
               std::string_view stroke = "none") {
    out_ << "<polygon class=\"mark\" points=\"" << points(pts) << "\" fill=\"" << fill << "\" stroke=\"" << stroke
         << "\"";
    close(tooltip, "polygon");
  }

  void polyline(std::vector<std::pair<double, double>> const& pts, std::string_view stroke, double width,
                std::string_view dash, std::string_view tooltip, double opacity = 1) {
    out_ << "<polyline class=\"mark\" points=\"" << points(pts) << "\" fill=\"none\" stroke=\"" << stroke
         << "\" stroke-width=\"" << c(width) << "\" stroke-linejoin=\"round\"";
    if (opacity < 1) out_ << " stroke-opacity=\"" << c(opacity) << "\"";
    if (!dash.empty()) out_ << " stroke-dasharray=\"" << dash << "\"";
    close(tooltip, "polyline");
  }

  void text(double x, double y, std::string_view s, std::string_view anchor = "start", double size = 11,
            std::string_view fill = ink, std::string_view extra = {}) {
    out_ << "<text x=\"" << c(x) << "\" y=\"" << c(y) << "\" font-size=\"" << c(size) << "\" fill=\"" << fill << "\"";
    if (anchor != "start") out_ << " text-anchor=\"" << anchor << "\"";
    if (!extra.empty()) out_ << " " << extra;
    out_ << ">" << escape(s) << "</text>";
  }

  /// A legend entry: a swatch (line, dashed line or box) and its name; returns the x after it.
  double legend_item(double x, double y, std::string_view name, std::string_view color, std::string_view style) {
    if (style == "box" || style == "shade") {
      out_ << "<rect x=\"" << c(x) << "\" y=\"" << c(y - 8) << "\" width=\"14\" height=\"9\" fill=\"" << color << "\"";
      if (style == "shade") out_ << " fill-opacity=\"" << c(shade_opacity) << "\"";
      out_ << "/>";
    } else if (style == "none") {
      x -= 20;
    } else if (style == "faint") {
      line(x, y - 4, x + 16, y - 4, color, 1.2, "", faint_opacity);
    } else if (style == "dot") {
      out_ << "<circle cx=\"" << c(x + 7) << "\" cy=\"" << c(y - 4) << "\" r=\"4\" fill=\"" << color << "\"/>";
    } else {
      line(x, y - 4, x + 16, y - 4, color, 2, style == "dashed" ? "5 3" : "");
    }
    text(x + 20, y, name, "start", 11, ink);
    return x + 20 + 6.3 * static_cast<double>(name.size()) + 14;
  }

  std::string finish() {
    out_ << "</svg>";
    return out_.str();
  }

 private:
  static std::string points(std::vector<std::pair<double, double>> const& pts) {
    std::string s;
    for (auto const& [x, y] : pts) s += c(x) + "," + c(y) + " ";
    if (!s.empty()) s.pop_back();
    return s;
  }
  /// Ends the open element `name`, with its tooltip as a <title> child when there is one.
  void close(std::string_view tooltip, std::string_view name) {
    if (tooltip.empty())
      out_ << "/>";
    else
      out_ << "><title>" << escape(tooltip) << "</title></" << name << ">";
  }

  std::ostringstream out_;
};

void x_axis(canvas& cv, area const& a, scale const& s, ticks const& t, std::string_view label) {
  for (auto const& [v, name] : t) {
    double const x = s(v);
    cv.line(x, a.y0, x, a.y1, grid_color);
    cv.text(x, a.y1 + 14, name, "middle", 10.5, muted);
  }
  cv.line(a.x0, a.y1, a.x1, a.y1, axis_color);
  cv.text((a.x0 + a.x1) / 2, a.y1 + 29, label, "middle", 11, ink);
}

void y_axis(canvas& cv, area const& a, scale const& s, ticks const& t, std::string_view label) {
  for (auto const& [v, name] : t) {
    double const y = s(v);
    cv.line(a.x0, y, a.x1, y, grid_color);
    cv.text(a.x0 - 6, y + 3.5, name, "end", 10.5, muted);
  }
  cv.line(a.x0, a.y0, a.x0, a.y1, axis_color);
  double const ym = (a.y0 + a.y1) / 2;
  cv.text(14, ym, label, "middle", 11, ink, "transform=\"rotate(-90 14 " + c(ym) + ")\"");
}

/// A label cut to about `chars` characters (with an ellipsis), so it stays inside its column; the
/// mark's tooltip keeps the whole name.
std::string fit(std::string const& s, std::size_t chars) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // inside a UTF-8 sequence
    if (++count > chars) return s.substr(0, i) + "\u2026";
  }
  return s;
}

/// Legend entries from left to right from (x, y), wrapping at the chart's right edge; returns the y
/// of the last line.
struct legend_entry {
  std::string name, color, style;
};
double legend(canvas& cv, double x, double y, std::vector<legend_entry> const& entries) {
  double const start = x;
  for (auto const& e : entries) {
    double const w = 20 + 6.3 * static_cast<double>(std::min<std::size_t>(e.name.size(), 49)) + 14;
    if (x + w > chart_width - 8 && x > start) {
      x = start;
      y += 16;
    }
    x = cv.legend_item(x, y, fit(e.name, 48), e.color, e.style);
  }
  return y;
}

std::string no_data(frame const& f, std::string_view why) {
  canvas cv(80 + footer_height, f);
  cv.text(chart_width / 2, 50, why, "middle", 12, muted);
  return cv.finish();
}

double max_y(std::vector<line_series> const& series) {
  double m = 0;
  for (auto const& s : series)
    for (auto const& p : s.points) m = std::max(m, p.second);
  return m;
}

std::string ms_text(double v) { return number(v) + " ms"; }


}  // namespace

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters other than tab and newline are not allowed in XML.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n')
          out += ' ';
        else
          out += ch;
    }
  }
  return out;
}

std::string number(double v) {
  if (!std::isfinite(v)) return "-";
  double const a = std::abs(v);
  if (a == 0) return "0";
  if (a >= 100) return fmt(v, "%.0f");
  if (a >= 10) return fmt(v, "%.1f");
  if (a >= 1) return fmt(v, "%.2f");
  if (a >= 0.001) return fmt(v, "%.3f");
  return fmt(v, "%.2g");
}

std::string strategy_color(std::string_view strategy) {
  if (strategy == "polling") return "#0072B2";
  if (strategy == "websocket") return "#009E73";
  if (strategy == "upgrade") return "#E69F00";
  if (strategy == "fallback") return "#CC79A7";
  if (strategy == "race") return "#D55E00";
  if (strategy == "tryall") return "#56B4E9";
  if (strategy == "remember") return "#999933";
  return "#555555";
}

std::string palette(std::size_t i) {
  static constexpr char const* colors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                           "#E69F00", "#56B4E9", "#000000", "#999933"};
  return colors[i % std::size(colors)];
}

std::string spectrum_chart(frame const& f, std::vector<line_series> const& series, int max_nines,
                           std::string_view solid_meaning, std::string_view dashed_meaning,
                           std::string_view faint_meaning) {
  if (max_y(series) <= 0) return no_data(f, "no latencies recorded");
  max_nines = std::clamp(max_nines, 2, 6);
  double const height = 330;
  area const a{62, 44, chart_width - 36, height - footer_height - 44};
  double const top_percentile = 100.0 - 100.0 * std::pow(10.0, -max_nines);
  scale const xs{scale::kind::nines, 0, top_percentile, a.x0, a.x1};
  // Series orders of magnitude apart (a ladder's steps) get a log axis, or the lower ones flatten to 0.
  double lowest_median = 1e300;
  for (auto const& s : series)
    for (auto const& [p, v] : s.points)
      if (p >= 50 && v > 0) {
        lowest_median = std::min(lowest_median, v);
        break;
      }
  bool const log_y = max_y(series) > 30 * lowest_median;
  double lowest = 1e300;
  for (auto const& s : series)
    for (auto const& pt : s.points)
      if (pt.second > 0) lowest = std::min(lowest, pt.second);
  auto const [ly0, ly1] = log_range(lowest, max_y(series));
  scale const ys = log_y ? scale{scale::kind::log10, ly0, ly1, a.y1, a.y0}
                         : scale{scale::kind::linear, 0, nice_top(max_y(series) * 1.05), a.y1, a.y0};
  canvas cv(height, f);
  ticks xt{{0, "0%"}, {50, "50%"}, {90, "90%"}, {99, "99%"}};
  for (int n = 3; n <= max_nines; ++n)
    xt.emplace_back(100.0 - 100.0 * std::pow(10.0, -n), "99." + std::string(static_cast<std::size_t>(n - 2), '9') + "%");
  x_axis(cv, a, xs, xt, "percentile (log scale of 1 / (1 - p): each step one more nine)");
  y_axis(cv, a, ys, log_y ? log_ticks(ly0, ly1) : linear_ticks(0, ys.d1), log_y ? "latency (ms, log scale)" : "latency (ms)");
  std::vector<legend_entry> entries;
  bool any_faint = false;
  // Faint series first, so the ones they stand behind are drawn over them.
  for (bool const faint_pass : {true, false})
    for (auto const& s : series) {
      if (s.faint != faint_pass) continue;
      std::vector<std::pair<double, double>> pts;
      for (auto const& [p, v] : s.points)
        if (!log_y || v > 0) pts.emplace_back(xs(std::min(p, top_percentile)), ys(v));
      if (pts.empty()) continue;
      std::string tip = s.name + (s.dashed ? " (" + std::string(dashed_meaning) + ")" : "");
      for (auto const& [p, v] : s.points)
        if (p == 50 || p == 90 || p == 99 || p == 99.9 || p == 100) tip += "\np" + number(p) + ": " + ms_text(v);
      if (s.faint) {
        any_faint = true;
        cv.polyline(pts, s.color, 1.2, s.dashed ? "5 3" : "", tip, faint_opacity);
        continue;
      }
      cv.polyline(pts, s.color, s.dashed ? 1.4 : 2, s.dashed ? "5 3" : "", tip);
      if (!s.dashed) entries.push_back({s.name, s.color, "line"});
    }
  entries.push_back({std::string(solid_meaning), muted, "line"});
  entries.push_back({std::string(dashed_meaning), muted, "dashed"});
  if (any_faint && !faint_meaning.empty()) entries.push_back({std::string(faint_meaning), muted, "faint"});
  legend(cv, a.x0, 18, entries);
  return cv.finish();
}

std::string two_panel_chart(frame const& f, std::string_view x_label, std::string_view upper_label,
                            std::vector<line_series> const& upper, std::string_view lower_label,
                            std::vector<line_series> const& lower, std::vector<band> const& bands) {
  double t_max = 0;
  for (auto const* group : {&upper, &lower})
    for (auto const& s : *group)
      for (auto const& p : s.points) t_max = std::max(t_max, p.first);
  if (max_y(upper) <= 0 && max_y(lower) <= 0) return no_data(f, "no per-second series recorded");
  double const height = 380;
  area const top{62, 44, chart_width - 20, 150};
  area const bottom{62, 178, chart_width - 20, height - footer_height - 44};
  scale const xs_top{scale::kind::linear, 0, std::max(t_max, 1.0), top.x0, top.x1};
  scale const ys_top{scale::kind::linear, 0, nice_top(max_y(upper) * 1.05), top.y1, top.y0};
  scale const ys_bottom{scale::kind::linear, 0, nice_top(max_y(lower) * 1.05), bottom.y1, bottom.y0};
  canvas cv(height, f);
  // The upper panel shares the x grid but prints no tick labels: the lower one does.
  for (auto const& [v, name] : linear_ticks(0, xs_top.d1)) cv.line(xs_top(v), top.y0, xs_top(v), top.y1, grid_color);
  cv.line(top.x0, top.y1, top.x1, top.y1, axis_color);
  y_axis(cv, top, ys_top, linear_ticks(0, ys_top.d1), upper_label);
  x_axis(cv, bottom, xs_top, linear_ticks(0, xs_top.d1), x_label);
  y_axis(cv, bottom, ys_bottom, linear_ticks(0, ys_bottom.d1), lower_label);
  std::vector<legend_entry> entries, shades;
  // Shaded spans go behind the series, across both panels, clipped to the axis.
  for (auto const& b : bands) {
    double const from = std::clamp(b.from, 0.0, xs_top.d1), to = std::clamp(b.to, 0.0, xs_top.d1);
    if (!(to > from)) continue;
    for (auto const* panel : {&top, &bottom})
      cv.rect(xs_top(from), panel->y0, xs_top(to) - xs_top(from), panel->height(), b.color, b.name + "\n" + b.detail,
              true, shade_opacity);
    if (std::none_of(shades.begin(), shades.end(), [&](legend_entry const& e) { return e.name == b.name; }))
      shades.push_back({b.name, b.color, "shade"});
  }
  auto const draw = [&](std::vector<line_series> const& group, scale const& ys, std::string_view unit) {
    for (auto const& s : group) {
      std::vector<std::pair<double, double>> pts;
      std::string tip = s.name;
      for (auto const& [t, v] : s.points) {
        pts.emplace_back(xs_top(t), ys(v));
        tip += "\n" + number(t) + " s: " + number(v) + " " + std::string(unit);
      }
      if (pts.empty()) continue;
      if (pts.size() == 1) pts.emplace_back(pts.front().first + 3, pts.front().second);
      cv.polyline(pts, s.color, s.dashed ? 1.4 : 2, s.dashed ? "5 3" : "", tip);
      for (auto const& pt : pts) cv.circle(pt.first, pt.second, 2.2, s.color, {}, s.color);
    }
  };
  draw(upper, ys_top, "/s");
  draw(lower, ys_bottom, "ms");
  for (auto const& s : upper) entries.push_back({s.name, s.color, "line"});
  for (auto const& s : lower)
    if (std::none_of(entries.begin(), entries.end(), [&](legend_entry const& e) { return e.name == s.name; }))
      entries.push_back({s.name, s.color, s.dashed ? "dashed" : "line"});
  entries.insert(entries.end(), shades.begin(), shades.end());
  legend(cv, top.x0, 18, entries);
  return cv.finish();
}

std::string range_chart(frame const& f, std::string_view x_label, std::vector<range_row> const& rows,
                        std::string_view faint_meaning) {
  double lo = 1e300, hi = 0;
  for (auto const& r : rows) {
    for (auto const& g : r.faint)
      if (g.max > 0) {
        lo = std::min(lo, g.min);
        hi = std::max(hi, g.max);
      }
    if (r.count == 0) continue;
    lo = std::min(lo, r.min);
    hi = std::max(hi, r.max);
    for (auto const& m : r.markers) {
      lo = std::min(lo, m.value);
      hi = std::max(hi, m.value);
    }
  }
  if (hi <= 0) return no_data(f, "no sessions delivered a message");
  auto const [d0, d1] = log_range(std::max(lo, 0.01), hi);
  double const row_h = 24;
  double const height = 44 + row_h * static_cast<double>(rows.size()) + 36 + footer_height + 6;
  area const a{210, 44, chart_width - 20, 44 + row_h * static_cast<double>(rows.size())};
  scale const xs{scale::kind::log10, d0, d1, a.x0, a.x1};
  canvas cv(height, f);
  x_axis(cv, a, xs, log_ticks(d0, d1), x_label);
  std::vector<legend_entry> entries{{"min to max", muted, "line"}, {"p50 to p90", muted, "box"}, {"p50", muted, "dot"}};
  std::map<int, std::string> marker_names;
  bool any_faint = false;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto const& r = rows[i];
    double const y = a.y0 + row_h * (static_cast<double>(i) + 0.5);
    cv.text(a.x0 - 8, y + 4, fit(r.name, 31), "end", 11, ink);
    // The other runs, faint and thin behind the row's own, a little above and below its line.
    for (std::size_t k = 0; k < r.faint.size(); ++k) {
      auto const& g = r.faint[k];
      if (!(g.max > 0)) continue;
      double const dy = (k % 2 == 0 ? -1.0 : 1.0) * (2.0 + 1.5 * static_cast<double>(k / 2 % 3));
      std::string const tip = g.name + "\nmin " + ms_text(g.min) + ", p50 " + ms_text(g.p50) + ", p90 " +
                              ms_text(g.p90) + ", max " + ms_text(g.max);
      cv.line(xs(g.min), y + dy, xs(g.max), y + dy, r.color, 1, "", faint_opacity);
      cv.rect(xs(g.p50), y + dy - 1.5, std::max(xs(g.p90) - xs(g.p50), 1.5), 3, r.color, tip, true, faint_opacity);
      any_faint = true;
    }
    if (r.count == 0) {
      cv.text(a.x0 + 6, y + 4, "no data", "start", 10.5, muted);
      continue;
    }
    std::string const tip = r.name + " (" + std::to_string(r.count) + " sessions)\nmin " + ms_text(r.min) + ", p50 " +
                            ms_text(r.p50) + ", p90 " + ms_text(r.p90) + ", max " + ms_text(r.max);
    cv.line(xs(r.min), y, xs(r.max), y, r.color, 1.5);
    cv.rect(xs(r.p50), y - 6, std::max(xs(r.p90) - xs(r.p50), 1.5), 12, r.color, tip, true, 0.45);
    cv.circle(xs(r.p50), y, 4, r.color, tip);
    for (auto const& m : r.markers) {
      double const x = xs(m.value);
      std::string const mt = r.name + ": " + m.name + " " + ms_text(m.value);
      marker_names[m.shape] = m.name;
      if (m.shape == 0)
        cv.polygon({{x, y - 6}, {x + 5, y}, {x, y + 6}, {x - 5, y}}, "#fff", mt, ink);
      else if (m.shape == 1)
        cv.polygon({{x, y - 6}, {x + 5, y + 5}, {x - 5, y + 5}}, "#fff", mt, ink);
      else
        cv.polygon({{x - 5, y - 5}, {x + 5, y + 5}, {x, y}, {x + 5, y - 5}, {x - 5, y + 5}, {x, y}}, "none", mt, ink);
    }
  }
  for (auto const& [shape, name] : marker_names)
    entries.push_back({(shape == 0 ? "\u25C7 " : shape == 1 ? "\u25B3 " : "\u2715 ") + name, "", "none"});
  if (any_faint && !faint_meaning.empty()) entries.push_back({std::string(faint_meaning), muted, "faint"});
  legend(cv, a.x0, 18, entries);
  return cv.finish();
}

std::string bar_panels_chart(frame const& f, std::vector<std::string> const& panel_labels, std::vector<bar_row> const& rows) {
  if (rows.empty()) return no_data(f, "no strategies in this run");
  double const row_h = 24;
  double const label_w = 170;
  double const height = 44 + row_h * static_cast<double>(rows.size()) + 36 + footer_height + 6;
  std::size_t const panels = panel_labels.size();
  double const panel_w = (chart_width - label_w - 20) / static_cast<double>(panels);
  canvas cv(height, f);
  double const y0 = 44;
  double const y1 = y0 + row_h * static_cast<double>(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    cv.text(label_w - 8, y0 + row_h * (static_cast<double>(i) + 0.5) + 4, fit(rows[i].name, 24), "end", 11, ink);
  for (std::size_t p = 0; p < panels; ++p) {
    double hi = 0;
    for (auto const& r : rows) hi = std::max(hi, p < r.values.size() ? r.values[p] : 0.0);
    area const a{label_w + panel_w * static_cast<double>(p) + (p ? 16 : 0), y0,
                 label_w + panel_w * static_cast<double>(p + 1) - 16, y1};
    scale const xs{scale::kind::linear, 0, nice_top(hi * 1.25), a.x0, a.x1};
    ticks t = linear_ticks(0, xs.d1);
    if (t.size() > 4) t = {t.front(), t[t.size() / 2], t.back()};
    x_axis(cv, a, xs, t, panel_labels[p]);
    cv.line(a.x0, a.y0, a.x0, a.y1, axis_color);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      double const v = p < rows[i].values.size() ? rows[i].values[p] : 0.0;
      double const y = y0 + row_h * static_cast<double>(i);
      cv.rect(a.x0, y + 5, std::max(xs(v) - a.x0, 1.0), row_h - 10, rows[i].color,
              rows[i].name + ": " + number(v) + " " + panel_labels[p]);
      cv.text(std::max(xs(v), a.x0 + 1) + 4, y + row_h / 2 + 4, number(v), "start", 10.5, ink);
    }
  }
  return cv.finish();
}

std::string grid_chart(frame const& f, std::vector<std::string> const& columns, std::vector<std::string> const& row_names,
                       std::vector<std::vector<grid_cell>> const& cells) {
  if (row_names.empty()) return no_data(f, "no runs");
  double const label_w = 200;
  double const col_w = std::min(96.0, (chart_width - label_w - 12) / static_cast<double>(std::max<std::size_t>(columns.size(), 1)));
  double const row_h = 24;
  double const top = 58;
  double const height = top + row_h * static_cast<double>(row_names.size()) + 14 + footer_height;
  canvas cv(height, f);
  for (std::size_t j = 0; j < columns.size(); ++j)
    cv.text(label_w + col_w * (static_cast<double>(j) + 0.5), top - 8, columns[j], "middle", 11, ink);
  static constexpr char const* fills[] = {"#2e7d32", "#f9a825", "#c62828"};
  static constexpr char const* inks[] = {"#fff", "#222", "#fff"};
  for (std::size_t i = 0; i < row_names.size(); ++i) {
    double const y = top + row_h * static_cast<double>(i);
    cv.text(label_w - 8, y + row_h / 2 + 4, fit(row_names[i], 28), "end", 11, ink);
    for (std::size_t j = 0; j < columns.size() && i < cells.size() && j < cells[i].size(); ++j) {
      auto const& cell = cells[i][j];
      double const x = label_w + col_w * static_cast<double>(j);
      bool const applies = cell.grade >= 0 && cell.grade <= 2;
      auto const g = static_cast<std::size_t>(applies ? cell.grade : 0);
      cv.rect(x + 1, y + 1, col_w - 2, row_h - 2, applies ? fills[g] : "#ececec",
              row_names[i] + " / " + columns[j] + ": " + cell.text + (cell.detail.empty() ? "" : "\n" + cell.detail));
      cv.text(x + col_w / 2, y + row_h / 2 + 4, cell.text, "middle", 10.5, applies ? inks[g] : muted);
    }
  }
  legend(cv, label_w, 18,
         {{"pass", fills[0], "box"}, {"degraded", fills[1], "box"}, {"fail", fills[2], "box"}, {"not applicable", "#ececec", "box"}});
  return cv.finish();
}

std::string window_chart(frame const& f, std::vector<window_column> const& columns,
                         std::vector<window_block> const& blocks, std::string_view shade_name) {
  if (columns.empty() || blocks.empty()) return no_data(f, "no fault windows");
  constexpr char const* tints[] = {"#ffe08a", "#f4a6a6"};  // degraded, fail
  double const block_w = 92;                                // the item's name
  double const label_w = 250;                               // the item's name and the measure's
  double const col_w = std::min(150.0, (chart_width - label_w - 12) / static_cast<double>(columns.size()));
  double const row_h = 19, gap = 7;
  double const head = 64;  // legend, then the columns' span and profile
  double rows = 0;
  for (auto const& b : blocks) rows += static_cast<double>(b.measures.size());
  double const body = row_h * rows + gap * static_cast<double>(blocks.size() - 1);
  double const height = head + body + 14 + footer_height;
  canvas cv(height, f);
  // The fault windows' columns, shaded top to bottom, as their spans are on the time series.
  for (std::size_t j = 0; j < columns.size(); ++j) {
    auto const& col = columns[j];
    double const x = label_w + col_w * static_cast<double>(j);
    if (col.shaded)
      cv.rect(x, head - 34, col_w, body + 34, fault_shade, col.name + " " + col.sub + "\n" + col.detail, true,
              shade_opacity);
    cv.text(x + col_w / 2, head - 20, fit(col.name, static_cast<std::size_t>(col_w / 6.3)), "middle", 11, ink,
            "font-weight=\"600\"");
    cv.text(x + col_w / 2, head - 7, fit(col.sub, static_cast<std::size_t>(col_w / 5.8)), "middle", 10, muted);
  }
  double y = head;
  for (auto const& b : blocks) {
    cv.text(8, y + row_h / 2 + 4, fit(b.name, 13), "start", 11, b.color, "font-weight=\"600\"");
    for (std::size_t i = 0; i < b.measures.size(); ++i) {
      cv.line(block_w, y, label_w + col_w * static_cast<double>(columns.size()), y, grid_color);
      cv.text(block_w, y + row_h / 2 + 4, fit(b.measures[i], 25), "start", 10.5, ink);
      for (std::size_t j = 0; j < columns.size(); ++j) {
        grid_cell const none{-1, "-", {}};
        auto const& cell = i < b.cells.size() && j < b.cells[i].size() ? b.cells[i][j] : none;
        double const x = label_w + col_w * static_cast<double>(j);
        bool const tinted = cell.grade == 1 || cell.grade == 2;
        // Plain cells are see-through (the shade shows) but still carry the tooltip.
        cv.rect(x + 1, y + 1, col_w - 2, row_h - 2, tinted ? tints[cell.grade - 1] : "#fff",
                b.name + ", " + b.measures[i] + ", " + columns[j].name + ": " + cell.text +
                    (cell.detail.empty() ? "" : "\n" + cell.detail),
                true, tinted ? 1.0 : 0.0);
        cv.text(x + col_w / 2, y + row_h / 2 + 4, fit(cell.text, static_cast<std::size_t>(col_w / 6.3)), "middle", 10.5,
                ink);
      }
      y += row_h;
    }
    y += gap;
  }
  legend(cv, block_w, 18,
         {{std::string(shade_name), fault_shade, "shade"}, {"degraded", tints[0], "box"}, {"fail", tints[1], "box"}});
  return cv.finish();
}

std::string timeline_chart(frame const& f, std::vector<timeline_row> const& rows) {
  double hi = 0;
  for (auto const& r : rows)
    for (auto const& e : r.events) hi = std::max(hi, e.t_ms);
  if (rows.empty()) return no_data(f, "no session timelines in the result");
  static std::map<std::string, std::string, std::less<>> const event_colors = {
      {"connecting", "#999999"},    {"handshake_done", "#0072B2"}, {"namespace_connected", "#009E73"},
      {"probe_sent", "#E69F00"},    {"upgraded", "#D55E00"},       {"upgrade_failed", "#C62828"},
      {"websocket_failed", "#C62828"}, {"fell_back", "#CC79A7"},   {"disconnected", "#000000"},
      {"reconnecting", "#56B4E9"}};
  auto const color_of = [&](std::string const& name) {
    auto it = event_colors.find(name);
    return it == event_colors.end() ? std::string("#777777") : it->second;
  };
  double const row_h = 22;
  double const height = 44 + row_h * static_cast<double>(rows.size()) + 36 + footer_height + 22;
  area const a{170, 60, chart_width - 20, 60 + row_h * static_cast<double>(rows.size())};
  double const top_ms = std::max(1.0, hi) ;
  double const d1 = std::pow(10.0, std::ceil(std::log10(top_ms)));
  scale const xs{scale::kind::log1p, 0, d1, a.x0, a.x1};
  ticks t{{0, "0"}};
  for (double v = 0.1; v <= d1 * 1.0001; v *= 10) t.emplace_back(v, fmt(v, "%g"));
  canvas cv(height, f);
  x_axis(cv, a, xs, t, "ms since the session started connecting (log scale of 1 + t / 0.1 ms)");
  std::vector<std::string> seen;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto const& r = rows[i];
    double const y = a.y0 + row_h * (static_cast<double>(i) + 0.5);
    cv.text(a.x0 - 8, y + 4, fit(r.name, 24), "end", 11, r.color);
    if (r.events.empty()) continue;
    double const x_first = xs(r.events.front().t_ms), x_last = xs(r.events.back().t_ms);
    cv.line(x_first, y, std::max(x_last, x_first + 1), y, r.color, 2);
    for (auto const& e : r.events) {
      std::string tip = r.name + ": " + e.name + (e.detail.empty() ? "" : " (" + e.detail + ")") + " at +" +
                        number(e.t_ms) + " ms (" + number(e.at_ms) + " ms into the run)";
      cv.circle(xs(e.t_ms), y, 5, color_of(e.name), tip);
      if (std::find(seen.begin(), seen.end(), e.name) == seen.end()) seen.push_back(e.name);
    }
  }
  std::vector<legend_entry> entries;
  for (auto const& name : seen) entries.push_back({name, color_of(name), "dot"});
  legend(cv, a.x0, 18, entries);
  return cv.finish();
}

std::string ratio_chart(frame const& f, std::vector<ratio_group> const& groups) {
  std::size_t bars = 0;
  double span = 1;  // log2 of the largest ratio or its inverse
  for (auto const& g : groups)
    for (auto const& [name, r] : g.ratios) {
      ++bars;
      if (r > 0) span = std::max(span, std::abs(std::log2(r)));
    }
  if (bars == 0) return no_data(f, "no side-by-side ratios");
  span = std::ceil(span);
  double const row_h = 20;
  double const group_h = 20;  // the group's name, above its bars
  double const height = 44 + row_h * static_cast<double>(bars) + group_h * static_cast<double>(groups.size()) + 36 +
                        footer_height + 6;
  area const a{130, 44, chart_width - 20, height - footer_height - 42};
  scale const xs{scale::kind::log10, std::pow(2.0, -span), std::pow(2.0, span), a.x0, a.x1};
  ticks t;
  for (double e = -span; e <= span; ++e) {
    double const v = std::pow(2.0, e);
    t.emplace_back(v, (e < 0 ? "1/" + fmt(1.0 / v, "%g") : fmt(v, "%g")) + "\u00D7");
  }
  canvas cv(height, f);
  x_axis(cv, a, xs, t, "candidate / reference (log scale; 1\u00D7 = equal)");
  cv.line(xs(1), a.y0, xs(1), a.y1, ink, 1.5);
  double y = a.y0;
  std::size_t gi = 0;
  for (auto const& g : groups) {
    cv.text(8, y + group_h - 6, fit(g.name, 120), "start", 11, ink, "font-weight=\"600\"");
    y += group_h;
    for (auto const& [name, r] : g.ratios) {
      double const x = r > 0 ? xs(r) : xs(1);
      std::string const tip = g.name + " " + name + ": " + number(r) + "\u00D7";
      cv.text(a.x0 - 8, y + row_h / 2 + 4, fit(name, 18), "end", 10.5, ink);
      cv.rect(std::min(x, xs(1)), y + 4, std::max(std::abs(x - xs(1)), 1.5), row_h - 8, palette(gi), tip);
      cv.text(std::max(x, xs(1)) + 4, y + row_h / 2 + 4, number(r) + "\u00D7", "start", 10.5, ink);
      y += row_h;
    }
    ++gi;
  }
  legend(cv, a.x0, 18, {{"below 1\u00D7: the candidate has less of it (faster, for latency)", muted, "box"}});
  return cv.finish();
}

std::string ladder_chart(frame const& f, std::vector<line_series> const& series, double bound_ms) {
  double xlo = 1e300, xhi = 0, ylo = 1e300, yhi = bound_ms;
  for (auto const& s : series)
    for (auto const& [x, y] : s.points) {
      if (x <= 0 || y <= 0) continue;
      xlo = std::min(xlo, x);
      xhi = std::max(xhi, x);
      ylo = std::min(ylo, y);
      yhi = std::max(yhi, y);
    }
  if (xhi <= 0) return no_data(f, "no ladder steps");
  auto const [x0, x1] = log_range(xlo, xhi);
  auto const [y0, y1] = log_range(std::min(ylo, bound_ms), yhi);
  double const height = 340;
  area const a{62, 44, chart_width - 20, height - footer_height - 44};
  scale const xs{scale::kind::log10, x0, x1, a.x0, a.x1};
  scale const ys{scale::kind::log10, y0, y1, a.y1, a.y0};
  canvas cv(height, f);
  x_axis(cv, a, xs, log_ticks(x0, x1), "offered rate per client (chats/s, log scale)");
  y_axis(cv, a, ys, log_ticks(y0, y1), "fan-out p99 (ms, log scale)");
  cv.line(a.x0, ys(bound_ms), a.x1, ys(bound_ms), "#C62828", 1.5, "6 4");
  cv.text(a.x1 - 4, ys(bound_ms) - 5, "stop bound " + number(bound_ms) + " ms", "end", 10.5, "#C62828");
  std::vector<legend_entry> entries;
  for (auto const& s : series) {
    std::vector<std::pair<double, double>> pts, data;
    for (auto const& [x, y] : s.points)
      if (x > 0 && y > 0) {
        pts.emplace_back(xs(x), ys(y));
        data.emplace_back(x, y);
      }
    if (pts.empty()) continue;
    cv.polyline(pts, s.color, 2, "", s.name);
    for (std::size_t i = 0; i < pts.size(); ++i)
      cv.circle(pts[i].first, pts[i].second, 3.5, s.color,
                s.name + ": " + number(data[i].first) + " chats/s per client, p99 " + ms_text(data[i].second));
    entries.push_back({s.name, s.color, "line"});
  }
  legend(cv, a.x0, 18, entries);
  return cv.finish();
}

}  // namespace fallbench::report::svg
