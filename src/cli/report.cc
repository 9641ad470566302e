#include "cli/report.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace modelpool::cli {

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

boost::json::object machine_json() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, cpu = "unknown";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  return {{"nproc", sysconf(_SC_NPROCESSORS_ONLN)}, {"cpu", cpu}};
}

std::string check_writable(const std::string& path) {
  std::ofstream probe(path, std::ios::app);
  return probe ? std::string() : "cannot write '" + path + "'";
}

Status write_json_file(const std::string& path, const boost::json::value& doc) {
  std::ofstream out(path, std::ios::trunc);
  out << boost::json::serialize(doc) << "\n";
  out.close();
  if (!out) return internal_error("cannot write '" + path + "'");
  return {};
}

}  // namespace modelpool::cli
