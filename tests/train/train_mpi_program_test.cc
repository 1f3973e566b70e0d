// `mpirun … spacebyte train`: tensor and data parallelism reproduce the
// single-process loss curve of the same global batch; bad world sizes and a
// rank that fails mid-run end the whole job with one clear message, never a
// hang (every mpirun here runs under `timeout`).

#include <filesystem>

#include <gtest/gtest.h>

#include "train_program.h"

namespace spacebyte::trainer {
namespace {

std::string Mpirun(int np) {
  return "timeout -k 5 120 " + std::string(SPACEBYTE_MPIEXEC) +
         " --allow-run-as-root --oversubscribe -np " + std::to_string(np);
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class TrainMpiProgramTest : public ProgramTest {
 protected:
  void SetUp() override {
    ProgramTest::SetUp();
    config_ = WriteTinyConfig(dir_, PrepCorpus(dir_), 6);
  }

  // Runs the config on `np` ranks with `sets`; expects the job to fail with
  // `error` printed exactly once.
  void ExpectJobFails(int np, const std::vector<std::string>& sets, const std::string& error,
                      const std::string& run = "") {
    const CommandResult r = Train(config_, run.empty() ? dir_ + "/run" : run, sets, Mpirun(np));
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_NE(r.status, 124) << "mpirun timed out (a rank hung)\n" << r.output;
    EXPECT_EQ(Count(r.output, error), 1u) << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  }

  std::string config_;
};

struct Layout {
  const char* name;
  int np, tp;
};

void PrintTo(const Layout& l, std::ostream* os) { *os << l.name; }

class LayoutTest : public TrainMpiProgramTest, public ::testing::WithParamInterface<Layout> {};

TEST_P(LayoutTest, ReproducesTheSingleProcessCurve) {
  const CommandResult one = Train(config_, dir_ + "/one", {});
  ASSERT_EQ(one.status, 0) << one.output;
  const CommandResult many =
      Train(config_, dir_ + "/many", {"parallel.tp=" + std::to_string(GetParam().tp)},
            Mpirun(GetParam().np));
  ASSERT_EQ(many.status, 0) << many.output;
  ExpectSameCurve(dir_ + "/one", dir_ + "/many", 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Train, LayoutTest,
                         ::testing::Values(Layout{"Tp2", 2, 2}, Layout{"Dp2", 2, 1},
                                           Layout{"Dp2Tp2", 4, 2}),
                         [](const ::testing::TestParamInfo<Layout>& info) {
                           return info.param.name;
                         });

TEST_F(TrainMpiProgramTest, WorldSizeNotDivisibleByTp) {
  ExpectJobFails(3, {"parallel.tp=2"}, "world size 3 is not divisible by parallel.tp = 2");
}

TEST_F(TrainMpiProgramTest, HeadsNotDivisibleByTp) {
  // D 96 / d_key 32 = 3 heads in the global blocks.
  ExpectJobFails(2, {"parallel.tp=2", "model.d_model=96", "model.d_key=32"},
                 "have 3 heads (width 96 / d_key 32), not divisible by parallel.tp = 2");
}

TEST_F(TrainMpiProgramTest, BatchNotDivisibleByDp) {
  ExpectJobFails(2, {"train.batch_size=3"},
                 "train.batch_size = 3 is not divisible by the data-parallel size 2");
}

TEST_F(TrainMpiProgramTest, RankThatCannotWriteMetricsMidRunEndsTheJob) {
  // Only rank 0 writes metrics; /dev/full accepts the open and fails the
  // first write, as a full disk would.
  const std::string run = dir_ + "/run";
  std::filesystem::create_directories(run);
  std::filesystem::create_symlink("/dev/full", run + "/metrics.jsonl");
  ExpectJobFails(2, {}, "cannot write " + run + "/metrics.jsonl", run);
}

}  // namespace
}  // namespace spacebyte::trainer
