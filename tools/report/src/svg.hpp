#pragma once
/// The report's charts: inline SVG drawn from plain numbers (no JSON here), so each chart is a pure
/// function of its data. Every string is escaped on the way in; every data mark carries
/// class="mark" (the browser test counts them) and a <title> tooltip, which works with scripts off.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fallbench::report::svg {

/// Escapes text for HTML and XML content and attribute values (& < > " ').
std::string escape(std::string_view s);

/// About three significant digits, without exponents for the values results hold ("0.628", "14.2", "1250").
std::string number(double v);

/// What every chart carries besides its data: a title (also the SVG's accessible name), what was
/// measured, and where (machine, commit): printed under the plot, so a screenshot of one chart keeps it.
struct frame {
  std::string title;
  std::string measured;    ///< one line: what the marks are
  std::string provenance;  ///< one line: scenario, machine, commit
};

/// A line of (x, y) points.
struct line_series {
  std::string name;
  std::string color;
  bool dashed = false;
  std::vector<std::pair<double, double>> points;
  /// Drawn thin and translucent behind the others, and left out of the legend (one entry says what the
  /// faint lines are): the other runs of a repeated measurement behind its median run.
  bool faint = false;
};

/// Latency by percentile, wrk2-style: x is the percentile on a log scale of 1 / (1 - p) (0 %, 90 %,
/// 99 %, 99.9 %, ...), y the latency in ms. `max_nines` is the last tick's number of nines; a 100 %
/// point is drawn there. Dashed series are listed in the legend once as "dashed"; faint ones once as
/// `faint_meaning`.
std::string spectrum_chart(frame const& f, std::vector<line_series> const& series, int max_nines,
                           std::string_view solid_meaning, std::string_view dashed_meaning,
                           std::string_view faint_meaning = {});

/// A span of a time axis to shade behind the data (e.g. a fault window); bands of one name share a
/// legend entry.
struct band {
  double from = 0, to = 0;  ///< on the chart's time axis; clipped to it
  std::string name;         ///< legend entry
  std::string color;
  std::string detail;       ///< tooltip
};

/// Two panels over one time axis (seconds): `upper` (e.g. deliveries/s) and `lower` (e.g. p99 ms),
/// with `bands` shaded across both.
std::string two_panel_chart(frame const& f, std::string_view x_label, std::string_view upper_label,
                            std::vector<line_series> const& upper, std::string_view lower_label,
                            std::vector<line_series> const& lower, std::vector<band> const& bands = {});

/// One row per item: a whisker from min to max, a box from p50 to p90, a dot at p50, and extra
/// markers (e.g. handshake, upgrade) on a log axis of ms.
struct range_row {
  std::string name;
  std::string color;
  double min = 0, p50 = 0, p90 = 0, max = 0;
  std::size_t count = 0;  ///< 0: no data (drawn as "no data")
  struct marker {
    std::string name;  ///< e.g. "handshake p50"
    double value = 0;
    int shape = 0;  ///< 0 diamond, 1 triangle, 2 cross
  };
  std::vector<marker> markers;
  /// Other runs of the same item (a repeated measurement), drawn faint behind the row's own.
  struct faint_range {
    std::string name;  ///< e.g. the run's file, for the tooltip
    double min = 0, p50 = 0, p90 = 0, max = 0;
  };
  std::vector<faint_range> faint = {};
};
/// `faint_meaning`: the legend entry of the faint ranges, when a row has any.
std::string range_chart(frame const& f, std::string_view x_label, std::vector<range_row> const& rows,
                        std::string_view faint_meaning = {});

/// Horizontal bars: one row per item, one panel per measure (e.g. bytes and requests per delivery).
struct bar_row {
  std::string name;
  std::string color;
  std::vector<double> values;  ///< one per panel
};
std::string bar_panels_chart(frame const& f, std::vector<std::string> const& panel_labels, std::vector<bar_row> const& rows);

/// A grid of verdicts (Autobahn's case grid): rows by columns, each cell pass / degraded / fail / n/a.
struct grid_cell {
  int grade = -1;            ///< 0 pass, 1 degraded, 2 fail, -1 not applicable
  std::string text;          ///< short, shown in the cell
  std::string detail;        ///< tooltip
};
std::string grid_chart(frame const& f, std::vector<std::string> const& columns, std::vector<std::string> const& row_names,
                       std::vector<std::vector<grid_cell>> const& cells);

/// Numbers per time window (e.g. the windows a fault schedule cuts a run into), drawn as a table: one
/// column per window in time order, headed by its span and shaded when `shaded` (a fault window,
/// legend `shade_name`); one block of rows per item (e.g. a strategy), one row per measure. A cell's
/// grade tints it when degraded (amber) or failed (red); pass and -1 stay plain, so the eye goes to
/// trouble.
struct window_column {
  std::string name;     ///< e.g. "3-5 s"
  std::string sub;      ///< e.g. the profile applied in it
  bool shaded = false;  ///< a fault window
  std::string detail;   ///< tooltip
};
struct window_block {
  std::string name;  ///< e.g. the strategy
  std::string color;
  std::vector<std::string> measures;          ///< row names
  std::vector<std::vector<grid_cell>> cells;  ///< [measure][column]
};
std::string window_chart(frame const& f, std::vector<window_column> const& columns,
                         std::vector<window_block> const& blocks, std::string_view shade_name);

/// Session timelines: one row per session, its events as marks on an axis of ms since it started
/// connecting (log(1 + t / 0.1 ms), so a 1 ms upgrade and a 5 s fallback both show).
struct timeline_event {
  std::string name;
  std::string detail;
  double t_ms = 0;  ///< since the session's first event
  double at_ms = 0; ///< since the run started (tooltip)
};
struct timeline_row {
  std::string name;
  std::string color;
  std::vector<timeline_event> events;
};
std::string timeline_chart(frame const& f, std::vector<timeline_row> const& rows);

/// Ratios candidate / reference on a log2 axis centred on 1: one group per case, one bar per measure.
struct ratio_group {
  std::string name;
  std::vector<std::pair<std::string, double>> ratios;
};
std::string ratio_chart(frame const& f, std::vector<ratio_group> const& groups);

/// Capacity ladders: p99 (ms, log) against the offered rate (log), one series per target and case,
/// with the stop bound as a horizontal line.
std::string ladder_chart(frame const& f, std::vector<line_series> const& series, double bound_ms);

/// The shade of fault windows, wherever they are drawn (drawn translucent).
inline constexpr char const* fault_shade = "#D55E00";

/// The colour of a strategy (Okabe-Ito, colour-blind safe), or of the i-th series otherwise.
std::string strategy_color(std::string_view strategy);
std::string palette(std::size_t i);

}  // namespace fallbench::report::svg
