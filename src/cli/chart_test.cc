#include "cli/chart.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace modelpool::cli {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool gnuplot_has_pngcairo() {
  const int rc = std::system("gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo");
  return rc == 0;
}

class ChartTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("chart_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string stem(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

Chart awkward_chart() {
  Chart chart;
  chart.title = "it's \"memory\" & time_s @ 50% \\ {x}^2";
  chart.x_label = "makespan_s (s)";
  chart.y_label = "PSS @ peak & more";
  ChartSeries measured;
  measured.title = "measured_shared 'weights'";
  measured.x = {1.0, 0.5, 0.25, std::numeric_limits<double>::quiet_NaN()};
  measured.y = {300, 320, 360, 400};
  measured.labels = {"pool 1", "pool_2", "pool 'four'", "skipped"};
  ChartSeries theory;
  theory.title = "theory: ram = pool x model";
  theory.x = {1.0, 0.5, 0.25};
  theory.y = {272, 288, std::numeric_limits<double>::infinity()};
  theory.style = ChartSeries::Style::kPoints;
  theory.dashed = true;
  chart.series = {measured, theory};
  return chart;
}

TEST_F(ChartTest, RendersAwkwardTextAsSvgAndPng) {
  auto files = write_chart(awkward_chart(), stem("awkward"));
  ASSERT_TRUE(files.ok()) << files.status().to_string();
  ASSERT_FALSE(files->empty());
  EXPECT_EQ((*files)[0], stem("awkward") + ".svg");

  const std::string svg = read_file(stem("awkward") + ".svg");
  ASSERT_FALSE(svg.empty());
  EXPECT_TRUE(svg.rfind("<?xml", 0) == 0 || svg.rfind("<svg", 0) == 0) << svg.substr(0, 80);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  // Text arrives literally (XML-escaped), not read as enhanced-text markup.
  EXPECT_NE(svg.find("measured_shared 'weights'"), std::string::npos);
  EXPECT_NE(svg.find("theory: ram = pool x model"), std::string::npos);
  EXPECT_NE(svg.find("time_s @ 50%"), std::string::npos);
  EXPECT_NE(svg.find("&amp;"), std::string::npos);
  EXPECT_NE(svg.find("pool 'four'"), std::string::npos);
  EXPECT_EQ(svg.find("skipped"), std::string::npos) << "a NaN point's label was drawn";

  if (gnuplot_has_pngcairo()) {
    ASSERT_EQ(files->size(), 2u);
    EXPECT_EQ((*files)[1], stem("awkward") + ".png");
    const std::string png = read_file((*files)[1]);
    ASSERT_GE(png.size(), 8u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  }
}

TEST_F(ChartTest, LogAxesSkipNonPositivePoints) {
  Chart chart;
  chart.title = "log";
  chart.log_x = chart.log_y = true;
  ChartSeries s;
  s.title = "tokens";
  s.x = {0, 1, 10, 100};
  s.y = {5, 10, 100, -1};
  chart.series = {s};
  const std::string script = chart_script(chart, stem("log"));
  EXPECT_EQ(script.find("\n0 5\n"), std::string::npos);
  EXPECT_EQ(script.find("\n100 -1\n"), std::string::npos);
  EXPECT_NE(script.find("\n10 100\n"), std::string::npos);
  // A log axis is kept to the points (not whole decades) and marked at 1-2-5.
  EXPECT_NE(script.find("set xtics (1, 2, 5, 10)\nset logscale y"), std::string::npos) << script;
  auto files = write_chart(chart, stem("log"));
  ASSERT_TRUE(files.ok()) << files.status().to_string();
}

TEST_F(ChartTest, MismatchedLengthsAreAnError) {
  Chart chart;
  chart.title = "broken";
  ChartSeries s;
  s.title = "short y";
  s.x = {1, 2, 3};
  s.y = {1, 2};
  chart.series = {s};
  auto files = write_chart(chart, stem("broken"));
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(files.status().message().find("short y"), std::string::npos);
  EXPECT_FALSE(fs::exists(stem("broken") + ".svg"));

  s.y = {1, 2, 3};
  s.labels = {"only one"};
  chart.series = {s};
  files = write_chart(chart, stem("broken"));
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ChartTest, NothingToDrawIsAnError) {
  Chart chart;
  chart.title = "empty";
  ChartSeries s;
  s.title = "all NaN";
  s.x = {std::nan("")};
  s.y = {1};
  chart.series = {s};
  auto files = write_chart(chart, stem("empty"));
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ChartTest, MissingGnuplotSaysWhatToInstall) {
  const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", dir_.c_str(), 1);  // an empty directory: no gnuplot on PATH
  auto files = write_chart(awkward_chart(), stem("nognuplot"));
  setenv("PATH", saved.c_str(), 1);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kNotFound);
  EXPECT_NE(files.status().message().find("gnuplot-nox"), std::string::npos);
}

TEST_F(ChartTest, GnuplotFailureCarriesItsMessage) {
  Chart chart = awkward_chart();
  // The directory does not exist: gnuplot cannot open its output.
  auto files = write_chart(chart, stem("no/such/dir/chart"));
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kInternal);
  EXPECT_NE(files.status().message().find("gnuplot"), std::string::npos);
  EXPECT_NE(files.status().message().find("cannot open"), std::string::npos)
      << files.status().message();
}

}  // namespace
}  // namespace modelpool::cli
