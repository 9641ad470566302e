#include "cli/report.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
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

std::string check_chart_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create '" + dir + "': " + ec.message();
  if (access(dir.c_str(), W_OK | X_OK) != 0) return "cannot write in '" + dir + "'";
  return {};
}

bool write_bench_charts(const std::string& dir, const std::vector<NamedChart>& charts) {
  for (const NamedChart& c : charts) {
    Result<std::vector<std::string>> files = write_chart(c.chart, dir + "/" + c.name);
    if (!files.ok()) {
      std::fprintf(stderr, "modelpool bench: %s\n", files.status().to_string().c_str());
      return false;
    }
    for (const std::string& f : *files) std::printf("chart written to %s\n", f.c_str());
  }
  return true;
}

Status write_json_file(const std::string& path, const boost::json::value& doc) {
  std::ofstream out(path, std::ios::trunc);
  out << boost::json::serialize(doc) << "\n";
  out.close();
  if (!out) return internal_error("cannot write '" + path + "'");
  return {};
}

ProgressDisplay::ProgressDisplay(std::string label)
    : label_(std::move(label)), tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressDisplay::update(double fraction) {
  const int percent = std::clamp(static_cast<int>(fraction * 100.0), 0, 100);
  if (tty_) {
    if (percent == shown_) return;
    const std::string bar(static_cast<std::size_t>(percent / 4), '#');
    std::fprintf(stderr, "\r%s [%-25s] %3d%%", label_.c_str(), bar.c_str(), percent);
  } else {
    if (percent / 10 == shown_ / 10) return;
    std::fprintf(stderr, "%s %d%%\n", label_.c_str(), percent / 10 * 10);
  }
  std::fflush(stderr);
  shown_ = percent;
}

void ProgressDisplay::finish() {
  if (tty_ && shown_ >= 0) std::fputc('\n', stderr);
}

}  // namespace modelpool::cli
