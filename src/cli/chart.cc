#include "cli/chart.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

extern char** environ;

namespace modelpool::cli {
namespace {

// A gnuplot single-quoted string: nothing is special inside one but the
// quote itself, written twice. Control characters would end the command.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "''";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

bool drawable(const Chart& chart, double x, double y) {
  return std::isfinite(x) && std::isfinite(y) && (!chart.log_x || x > 0) && (!chart.log_y || y > 0);
}

std::size_t drawable_points(const Chart& chart, const ChartSeries& s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.x.size(); ++i) n += drawable(chart, s.x[i], s.y[i]) ? 1 : 0;
  return n;
}

Status validate(const Chart& chart) {
  std::size_t points = 0;
  for (const ChartSeries& s : chart.series) {
    if (s.x.size() != s.y.size()) {
      return invalid_argument_error("chart '" + chart.title + "': series '" + s.title + "' has " +
                                    std::to_string(s.x.size()) + " x values but " +
                                    std::to_string(s.y.size()) + " y values");
    }
    if (!s.labels.empty() && s.labels.size() != s.x.size()) {
      return invalid_argument_error("chart '" + chart.title + "': series '" + s.title + "' has " +
                                    std::to_string(s.x.size()) + " points but " +
                                    std::to_string(s.labels.size()) + " labels");
    }
    points += drawable_points(chart, s);
  }
  if (points == 0) {
    return invalid_argument_error("chart '" + chart.title + "' has no point to draw");
  }
  return {};
}

struct ChildResult {
  int exit_code = 0;
  std::string error_output;
};

// Runs `argv` (found on PATH) with stdin and stdout on /dev/null, collecting
// its stderr. kNotFound when the program is not installed.
Result<ChildResult> run_child(const std::vector<std::string>& argv) {
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    return internal_error(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(err_pipe[1]);
  if (spawned != 0) {
    close(err_pipe[0]);
    if (spawned == ENOENT) return not_found_error(argv[0] + " is not installed");
    return internal_error("cannot start " + argv[0] + ": " + std::strerror(spawned));
  }
  ChildResult result;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(err_pipe[0], buf, sizeof buf);
    if (n > 0) {
      result.error_output.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(err_pipe[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return result;
}

bool non_empty_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

const char* style_name(ChartSeries::Style style) {
  switch (style) {
    case ChartSeries::Style::kPoints: return "points";
    case ChartSeries::Style::kLines: return "lines";
    case ChartSeries::Style::kLinesPoints: break;
  }
  return "linespoints";
}

// "set xrange [a:b]" around the drawable points, with room for a label at
// either end, and tics at 1, 2 and 5 times the powers of ten between: a log
// axis left to itself stretches to whole decades and marks only those.
std::string log_range(const Chart& chart, char axis) {
  double lo = 0, hi = 0;
  bool any = false;
  for (const ChartSeries& s : chart.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!drawable(chart, s.x[i], s.y[i])) continue;
      const double v = axis == 'x' ? s.x[i] : s.y[i];
      lo = any ? std::min(lo, v) : v;
      hi = any ? std::max(hi, v) : v;
      any = true;
    }
  }
  if (!any) return "";
  lo /= 1.3;
  hi *= 1.3;
  std::string tics;
  for (double decade = std::pow(10.0, std::floor(std::log10(lo))); decade <= hi; decade *= 10) {
    for (double step : {1.0, 2.0, 5.0}) {
      const double tic = decade * step;
      if (tic >= lo && tic <= hi) tics += (tics.empty() ? "" : ", ") + number(tic);
    }
  }
  std::string out = std::string("set ") + axis + "range [" + number(lo) + ":" + number(hi) + "]\n";
  if (!tics.empty()) out += std::string("set ") + axis + "tics (" + tics + ")\n";
  return out;
}

bool all_non_negative(const Chart& chart, char axis) {
  for (const ChartSeries& s : chart.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (drawable(chart, s.x[i], s.y[i]) && (axis == 'x' ? s.x[i] : s.y[i]) < 0) return false;
    }
  }
  return true;
}

std::string tics_at_points(const Chart& chart) {
  std::set<double> xs;
  for (const ChartSeries& s : chart.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (drawable(chart, s.x[i], s.y[i])) xs.insert(s.x[i]);
    }
  }
  std::string tics = "set xtics (";
  for (double x : xs) tics += (tics.back() == '(' ? "" : ", ") + number(x);
  return tics + ")\n";
}

}  // namespace

std::string chart_script(const Chart& chart, const std::string& path_stem) {
  std::string s;
  s += "set encoding utf8\n";
  s += "set terminal svg size 800,500 dynamic noenhanced font 'sans,12' background rgb 'white'\n";
  s += "set output " + quoted(path_stem + ".svg") + "\n";
  s += "set title " + quoted(chart.title) + "\n";
  s += "set xlabel " + quoted(chart.x_label) + "\n";
  s += "set ylabel " + quoted(chart.y_label) + "\n";
  s += "set grid\n";
  s += "set key below\n";
  if (chart.log_x) s += "set logscale x\n" + log_range(chart, 'x');
  if (chart.log_y) s += "set logscale y\n" + log_range(chart, 'y');
  if (chart.x_tics_at_points) s += tics_at_points(chart);
  // A linear axis of quantities (seconds, megabytes) starts at zero, so a
  // chart does not magnify small differences; the other sides leave room for
  // the labels of the outermost points (graph offsets misbehave on log axes,
  // which log_range pads).
  const bool x_from_zero = !chart.log_x && all_non_negative(chart, 'x');
  const bool y_from_zero = !chart.log_y && all_non_negative(chart, 'y');
  if (!chart.log_x && !chart.log_y) {
    s += std::string("set offsets graph ") + (x_from_zero ? "0" : "0.05") +
         ", graph 0.12, graph 0.1, graph " + (y_from_zero ? "0" : "0.05") + "\n";
  }
  if (x_from_zero) s += "set xrange [0:*]\n";
  if (y_from_zero) s += "set yrange [0:*]\n";

  std::string labels, plot;
  int label_id = 0;
  for (std::size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& series = chart.series[i];
    if (drawable_points(chart, series) == 0) continue;
    const std::string block = "$d" + std::to_string(i);
    const std::string linetype = std::to_string(i + 1);
    s += block + " << EOD\n";
    for (std::size_t k = 0; k < series.x.size(); ++k) {
      if (!drawable(chart, series.x[k], series.y[k])) continue;
      s += number(series.x[k]) + " " + number(series.y[k]) + "\n";
      if (!series.labels.empty() && !series.labels[k].empty()) {
        // Labels are `set label`s rather than a `with labels` column: a data
        // file's string quoting cannot hold every character a title may.
        labels += "set label " + std::to_string(++label_id) + " " + quoted(series.labels[k]) +
                  " at " + number(series.x[k]) + "," + number(series.y[k]) +
                  (series.dashed ? " offset char 0.8,char -0.7" : " offset char 0.8,char 0.6") +
                  " textcolor lt " + linetype + " font ',9'\n";
      }
    }
    s += "EOD\n";
    plot += plot.empty() ? "plot " : ", \\\n     ";
    plot += block + " using 1:2 with " + style_name(series.style) + " lt " + linetype +
            " lw 2 pt 7 ps 0.8 dt " + (series.dashed ? "2" : "1") + " title " +
            quoted(series.title);
  }
  s += labels + plot + "\n";
  s += "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n";
  s += "  set terminal pngcairo size 800,500 noenhanced font 'sans,10' background rgb 'white'\n";
  s += "  set output " + quoted(path_stem + ".png") + "\n";
  s += "  replot\n";
  s += "}\n";
  s += "set output\n";
  return s;
}

Result<std::vector<std::string>> write_chart(const Chart& chart, const std::string& path_stem) {
  if (Status s = validate(chart); !s.ok()) return s;
  const std::string svg = path_stem + ".svg", png = path_stem + ".png";
  std::remove(svg.c_str());
  std::remove(png.c_str());

  const char* tmpdir = std::getenv("TMPDIR");
  std::string script_path =
      std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/modelpool-chart-XXXXXX";
  const int fd = mkstemp(script_path.data());
  if (fd < 0)
    return internal_error("cannot create a gnuplot script: " + std::string(std::strerror(errno)));
  close(fd);
  struct ScriptFile {
    std::string path;
    ~ScriptFile() { std::remove(path.c_str()); }
  } script_file{script_path};
  {
    std::ofstream out(script_path, std::ios::trunc);
    out << chart_script(chart, path_stem);
    if (!out) return internal_error("cannot write the gnuplot script '" + script_path + "'");
  }

  auto gnuplot = run_child({"gnuplot", script_path});
  if (!gnuplot.ok()) {
    if (gnuplot.status().code() == StatusCode::kNotFound) {
      return not_found_error("charts need gnuplot: install gnuplot-nox");
    }
    return gnuplot.status();
  }
  if (gnuplot->exit_code != 0 || !non_empty_file(svg)) {
    return internal_error("gnuplot failed on chart '" + chart.title + "' (" + svg + ", exit " +
                          std::to_string(gnuplot->exit_code) + "): " + gnuplot->error_output);
  }
  std::vector<std::string> written{svg};
  if (!non_empty_file(png)) {
    // gnuplot without cairo: rsvg-convert, when installed, makes the PNG.
    auto converted = run_child({"rsvg-convert", "--background-color=white", "-o", png, svg});
    if (!converted.ok() || converted->exit_code != 0) std::remove(png.c_str());
  }
  if (non_empty_file(png)) written.push_back(png);
  return written;
}

}  // namespace modelpool::cli
