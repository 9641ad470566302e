// Charts of benchmark results, rendered by gnuplot.
//
// A `Chart` is data: a title, axis labels and series of (x, y) points. The
// benches fill one and call `write_chart`, which writes a gnuplot script
// with the points as inline data blocks, runs gnuplot as a child process
// and returns the files it wrote. Nothing here draws: gnuplot (Debian's
// gnuplot-nox) does the layout, axes, legend and both image formats.
//
// Text is taken literally: titles, labels and legend entries may hold
// quotes, backslashes, `_`, `@`, `&`, `^` or `{}` (gnuplot's enhanced-text
// markup is off). Points whose x or y is not finite, or not positive on a
// log axis, are left out rather than failing the chart.
#pragma once

#include <string>
#include <vector>

#include "modelpool/status.h"

namespace modelpool::cli {

// One curve of a chart.
struct ChartSeries {
  std::string title;                // legend entry
  std::vector<double> x, y;         // REQUIRES: same length
  std::vector<std::string> labels;  // optional: one label per point, drawn beside it;
                                    // REQUIRES: empty or the same length as x
  enum class Style { kLinesPoints, kPoints, kLines } style = Style::kLinesPoints;
  bool dashed = false;  // e.g. a theory or prediction curve; its labels go below its
                        // points, so they stay apart from a solid curve's above
};

struct Chart {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  // Tics on x at the points' x values (pool sizes, concurrency levels)
  // rather than at round numbers.
  bool x_tics_at_points = false;
  std::vector<ChartSeries> series;
};

// Renders `chart` with gnuplot into PATH_STEM.svg, and PATH_STEM.png when
// gnuplot has the pngcairo terminal (else through rsvg-convert when that is
// installed). Returns the files written, the SVG first. Existing files of
// those names are replaced. REQUIRES: PATH_STEM's directory exists.
//
// Errors: kInvalidArgument for a series whose lengths differ (named by its
// title) or a chart without a single drawable point; kNotFound when gnuplot
// is not on PATH ("install gnuplot-nox"); kInternal with gnuplot's own
// stderr when it fails or writes no SVG.
Result<std::vector<std::string>> write_chart(const Chart& chart, const std::string& path_stem);

// The gnuplot script `write_chart` runs for `chart` (exposed for tests and
// for a person who wants to restyle a chart by hand). REQUIRES: every series
// valid, as `write_chart` checks.
std::string chart_script(const Chart& chart, const std::string& path_stem);

}  // namespace modelpool::cli
