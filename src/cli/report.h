// What the commands share: percentiles, the machine's description and JSON
// result files (bench, loadgen), progress on stderr (mkmodel, serve).
#pragma once

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "modelpool/status.h"

namespace modelpool::cli {

// The q-quantile of `values` by nearest rank (0 when empty).
double percentile(std::vector<double> values, double q);

// {"nproc": N, "cpu": "<model name from /proc/cpuinfo>"}.
boost::json::object machine_json();

// A CLI11 validator: "" when `path` can be written, else a message naming it,
// so a long run does not end in a lost result.
std::string check_writable(const std::string& path);

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
