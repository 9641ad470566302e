// What the commands share: percentiles, the machine's description and JSON
// result files (bench, loadgen), progress on stderr (mkmodel, serve).
#pragma once

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "cli/chart.h"
#include "modelpool/status.h"

namespace modelpool::cli {

// The q-quantile of `values` by nearest rank (0 when empty).
double percentile(std::vector<double> values, double q);

// {"nproc": N, "cpu": "<model name from /proc/cpuinfo>"}.
boost::json::object machine_json();

// A CLI11 validator: "" when `path` can be written, else a message naming it,
// so a long run does not end in a lost result.
std::string check_writable(const std::string& path);

// A CLI11 validator for --charts DIR: creates DIR (and its parents) and
// answers "" when a file can be written in it, else a message naming it.
std::string check_chart_dir(const std::string& dir);

// A chart and its file name without extension ("latency").
struct NamedChart {
  std::string name;
  Chart chart;
};

// Writes each chart to DIR/NAME.svg (and .png, see write_chart) and prints
// the files written, one line each. On failure prints the error on stderr
// and returns false; the charts after it are not written.
bool write_bench_charts(const std::string& dir, const std::vector<NamedChart>& charts);

// Writes `doc` to `path` (one line of JSON). kInternal naming the path.
Status write_json_file(const std::string& path, const boost::json::value& doc);

// Progress on stderr: "LABEL [#####    ]  42%" rewritten in place on a
// terminal, "LABEL 40%" a line per 10% otherwise (logs stay short).
class ProgressDisplay {
 public:
  explicit ProgressDisplay(std::string label);
  void update(double fraction);
  // Ends the in-place line.
  void finish();

 private:
  std::string label_;
  bool tty_;
  int shown_ = -1;
};

}  // namespace modelpool::cli
