// The metrics.jsonl schema: what the writer's ToJson puts in a line, the
// one reader gives back, and a broken line is named by file and line.

#include "train/metrics.h"
#include "train/metrics_writer.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace spacebyte::trainer {
namespace {

std::string WriteLog(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/metrics_test_" + name + ".jsonl";
  std::ofstream(path) << text;
  return path;
}

TEST(MetricsTest, EveryFieldRoundTripsThroughALine) {
  TrainMetrics t;
  t.step = 40;
  t.steps = 60;
  t.loss = 1.5;
  t.lr = 2e-3;
  t.grad_norm = 0.75;
  t.bytes_per_s = 12345;
  t.flops_per_s = 6.5e9;
  t.mfu = 0.42;
  t.ignored_fraction = 0.125;
  t.bytes_seen = 81920;
  t.elapsed_s = 3.25;
  EvalResult e;
  e.step = 40;
  e.split = "validation";
  e.loss = 1.25;
  e.coverage = 0.5;
  e.ignored_fraction = 0.0625;
  e.windows = 17;
  e.precision = "bf16";
  e.bits_per_byte_by_language = {{"eng", 1.5}, {"rus", 2.5}};
  e.ignored_fraction_by_language = {{"eng", 0.0}, {"rus", 0.25}};
  e.bytes_per_patch_by_language = {{"eng", 6.0}, {"rus", 2.5}};
  e.refused_fraction_by_language = {{"eng", 0.0}, {"rus", 0.375}};
  const std::string path =
      WriteLog("round_trip", ToJson(t).dump() + "\n\n" + ToJson(e).dump() + "\n");

  absl::StatusOr<MetricsLog> log = ReadMetricsLog(path);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->train.size(), 1u);
  ASSERT_EQ(log->eval.size(), 1u);
  const TrainMetrics& rt = log->train[0];
  EXPECT_EQ(rt.step, t.step);
  EXPECT_EQ(rt.steps, t.steps);
  EXPECT_EQ(rt.loss, t.loss);
  EXPECT_EQ(rt.lr, t.lr);
  EXPECT_EQ(rt.grad_norm, t.grad_norm);
  EXPECT_EQ(rt.bytes_per_s, t.bytes_per_s);
  EXPECT_EQ(rt.flops_per_s, t.flops_per_s);
  EXPECT_EQ(rt.mfu, t.mfu);
  EXPECT_EQ(rt.ignored_fraction, t.ignored_fraction);
  EXPECT_EQ(rt.bytes_seen, t.bytes_seen);
  EXPECT_EQ(rt.elapsed_s, t.elapsed_s);
  const EvalResult& re = log->eval[0];
  EXPECT_EQ(re.step, e.step);
  EXPECT_EQ(re.split, e.split);
  EXPECT_EQ(re.loss, e.loss);
  EXPECT_EQ(re.coverage, e.coverage);
  EXPECT_EQ(re.ignored_fraction, e.ignored_fraction);
  EXPECT_EQ(re.windows, e.windows);
  EXPECT_EQ(re.precision, e.precision);
  EXPECT_EQ(re.bits_per_byte_by_language, e.bits_per_byte_by_language);
  EXPECT_EQ(re.ignored_fraction_by_language, e.ignored_fraction_by_language);
  EXPECT_EQ(re.bytes_per_patch_by_language, e.bytes_per_patch_by_language);
  EXPECT_EQ(re.refused_fraction_by_language, e.refused_fraction_by_language);
  EXPECT_DOUBLE_EQ(re.bits_per_byte(), 1.25 / std::log(2.0));
}

TEST(MetricsTest, ByteFileResultIsTheDocumentedEvalLine) {
  EvalResult r;
  r.loss = 2.0;
  r.windows = 3;
  r.precision = "fp32";
  nlohmann::json j = ToJson(r);
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"bits_per_byte", "ignored_fraction", "loss",
                                            "precision", "windows"}));
  EXPECT_DOUBLE_EQ(j["bits_per_byte"].get<double>(), 2.0 / std::log(2.0));
}

TEST(MetricsTest, MissingFiguresReadAsNaNAndNullMfuAsNone) {
  const std::string path = WriteLog("missing", R"({"step": 3, "loss": 1.0, "mfu": null})");
  absl::StatusOr<MetricsLog> log = ReadMetricsLog(path);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->train.size(), 1u);
  EXPECT_EQ(log->train[0].step, 3);
  EXPECT_TRUE(std::isnan(log->train[0].lr));
  EXPECT_FALSE(log->train[0].mfu.has_value());
  EXPECT_EQ(log->train[0].bytes_seen, 0);
}

TEST(MetricsTest, BrokenLinesAreNamedByFileAndLine) {
  const struct {
    const char* text;
    const char* why;
  } kCases[] = {
      {"{\"step\": 1}\n{\"step\": ", ":2: not valid JSON"},
      {"[1, 2]", ":1: not a JSON object"},
      {"{\"loss\": 1.0}", ":1: no integer `step`"},
      {"{\"step\": 1.5}", ":1: no integer `step`"},
      {"{\"step\": 1, \"split\": 7}", ":1: `split` is not a non-empty string"},
      {"{\"step\": 1, \"split\": \"test\", \"bits_per_byte_by_language\": 3}",
       ":1: `bits_per_byte_by_language` is not an object"},
  };
  int n = 0;
  for (const auto& c : kCases) {
    const std::string path = WriteLog("broken" + std::to_string(n++), c.text);
    absl::StatusOr<MetricsLog> log = ReadMetricsLog(path);
    ASSERT_FALSE(log.ok()) << c.text;
    EXPECT_EQ(log.status().message(), path + c.why) << c.text;
  }
  EXPECT_EQ(ReadMetricsLog(::testing::TempDir() + "/no_such.jsonl").status().code(),
            absl::StatusCode::kNotFound);
}

// The ETA comes from this process's pace. Resumed at step 5000 of 10000,
// 100 steps in 60 s leave 4900 steps: 2940 s, not the 58 s that counting
// the resumed steps as done in 60 s would give.
TEST(MetricsWriterTest, EtaAfterAResumeCountsOnlyThisProcessSteps) {
  EXPECT_DOUBLE_EQ(EtaSeconds(60, 5000, 5100, 10000), 2940);
  EXPECT_DOUBLE_EQ(EtaSeconds(60, 0, 100, 200), 60);
  EXPECT_DOUBLE_EQ(EtaSeconds(0, 5000, 5000, 10000), 0);  // nothing run yet
}

}  // namespace
}  // namespace spacebyte::trainer
