// `spacebyte report`: the page draws every figure of metrics.jsonl as inline
// SVG, and a malformed line is reported with its file and line number.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "cli/report.h"
#include "cli/svg_plot.h"

namespace spacebyte::trainer {
namespace {

std::string MakeRunDir(const std::string& name, const std::string& metrics) {
  const std::string dir = ::testing::TempDir() + "/report_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/metrics.jsonl") << metrics;
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

constexpr char kMetrics[] =
    R"({"step":10,"loss":4.0,"bits_per_byte":5.771,"lr":0.01,"grad_norm":2.5,"bytes_per_s":12000,"flops_per_s":1e9,"mfu":null,"ignored_fraction":0.01,"bytes_seen":40960,"elapsed_s":3.4}
{"step":20,"loss":3.0,"bits_per_byte":4.328,"lr":0.02,"grad_norm":1.5,"bytes_per_s":13000,"flops_per_s":1e9,"mfu":null,"ignored_fraction":0.01,"bytes_seen":81920,"elapsed_s":6.4}
{"step":20,"split":"validation","loss":3.2,"bits_per_byte":4.617,"bits_per_byte_by_language":{"eng":4.1,"deu":4.4,"<x>":6.2},"windows":16}

{"step":30,"loss":2.5,"bits_per_byte":3.607,"lr":0.015,"grad_norm":1.0,"bytes_per_s":12500,"flops_per_s":1e9,"mfu":null,"ignored_fraction":0.01,"bytes_seen":122880,"elapsed_s":9.6}
{"step":30,"split":"validation","loss":2.9,"bits_per_byte":4.184,"bits_per_byte_by_language":{"eng":3.7,"deu":3.95,"<x>":5.9},"ignored_fraction_by_language":{"deu":0.125},"refused_fraction_by_language":{"deu":0.25},"bytes_per_patch_by_language":{"deu":5.5},"windows":16}
{"step":30,"split":"test","loss":2.95,"bits_per_byte":4.256,"bits_per_byte_by_language":{"eng":3.75,"deu":4.0},"windows":16}
)";

TEST(ReportTest, PageDrawsEveryFigureOfTheLog) {
  const std::string dir = MakeRunDir("full", kMetrics);
  std::ofstream(dir + "/config.textproto") << "model { d_model: 128 }\n";
  absl::StatusOr<std::string> path = WriteRunReport(dir);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, dir + "/report.html");
  const std::string html = ReadFile(*path);
  // Self-contained: no scripts, no links to anything outside the page.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  // Bits/byte (training, validation, test), loss, throughput, languages, and
  // bits/byte against bytes per patch.
  EXPECT_EQ(Count(html, "<svg"), 5);
  EXPECT_EQ(Count(html, "data-name='training'"), 3);
  EXPECT_EQ(Count(html, "data-name='validation'"), 1);
  EXPECT_EQ(Count(html, "data-name='test'"), 1);
  EXPECT_EQ(Count(html, "data-name='eng'"), 1);
  EXPECT_EQ(Count(html, "data-name='&lt;x&gt;'"), 1);  // escaped, not markup
  EXPECT_NE(html.find(">Throughput<"), std::string::npos);
  // The training path has one vertex per logged step: M, then two L.
  const size_t training = html.find("data-name='training' d='M");
  ASSERT_NE(training, std::string::npos);
  const std::string d = html.substr(training, html.find("'", training + 24) - training);
  EXPECT_EQ(Count(d, " L"), 2) << d;
  // The latest per-language values, validation and test columns.
  EXPECT_NE(html.find("<td>eng</td><td>3.7</td><td>3.75</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>&lt;x&gt;</td><td>5.9</td><td>–</td>"), std::string::npos);
  // How the patch rule cuts a language: ignored, refused, bytes per patch.
  EXPECT_NE(html.find("<td>deu</td><td>3.95</td><td>4</td><td>0.125</td><td>0.25</td><td>5.5</td>"),
            std::string::npos);
  EXPECT_NE(html.find("validation bits/byte (best)</td><td>4.184"), std::string::npos);
  EXPECT_NE(html.find("test bits/byte (last)</td><td>4.256"), std::string::npos);
  EXPECT_NE(html.find("<pre>model { d_model: 128 }"), std::string::npos);
}

TEST(ReportTest, MalformedLineNamesFileAndLine) {
  const std::string dir = MakeRunDir(
      "malformed", std::string(R"({"step":1,"loss":2})") + "\n" + R"({"step":2,"loss":)" + "\n");
  const absl::Status status = WriteRunReport(dir).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(dir + "/metrics.jsonl:2: not valid JSON"), std::string::npos)
      << status;
  const std::string no_step = MakeRunDir("no_step", R"({"loss":2})");
  EXPECT_NE(WriteRunReport(no_step).status().message().find("metrics.jsonl:1: no integer `step`"),
            std::string::npos);
}

TEST(ReportTest, MissingLogIsNamed) {
  const std::string dir = ::testing::TempDir() + "/report_missing";
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir + "/metrics.jsonl");
  const absl::Status status = WriteRunReport(dir).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find(dir + "/metrics.jsonl"), std::string::npos) << status;
}

// A directory where the log or the config belongs is named, not read as
// an empty file into an empty report.
TEST(ReportTest, DirectoryInPlaceOfAFileIsNamed) {
  for (const char* name : {"metrics.jsonl", "config.textproto"}) {
    const std::string dir = MakeRunDir(std::string("dir_") + name, R"({"step":1,"loss":2})");
    std::filesystem::remove(dir + "/" + name);
    std::filesystem::create_directories(dir + "/" + name);
    const absl::Status status = WriteRunReport(dir).status();
    EXPECT_NE(status.message().find(dir + "/" + name + " is a directory, not a file"),
              std::string::npos)
        << status;
    EXPECT_FALSE(std::filesystem::exists(dir + "/report.html"));
  }
}

TEST(SvgPlotTest, PointsLandInsideTheFrameAndTicksAreRound) {
  const std::string svg = LinePlotSvg({{"a", {{0, 1.0}, {100, 3.0}}}}, {"t", "step", "y"});
  // x from 0 to 100 spans the frame's 64..490; y 1..3 spans 256..30.
  EXPECT_NE(svg.find("d='M64.0 256.0 L490.0 30.0'"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">2.5</text>"), std::string::npos) << svg;
  EXPECT_EQ(LinePlotSvg({{"empty", {{1, NAN}}}}, {"t", "x", "y"}), "");
}

TEST(SvgPlotTest, NumbersAreShort) {
  EXPECT_EQ(FormatNumber(43000), "43000");
  EXPECT_EQ(FormatNumber(4.17734), "4.177");
  EXPECT_EQ(FormatNumber(2.5e9), "2.5e+09");
  EXPECT_EQ(FormatNumber(NAN), "–");
}

}  // namespace
}  // namespace spacebyte::trainer
