// `mpirun … spacebyte train`: tensor and data parallelism reproduce the
// single-process loss curve of the same global batch; bad world sizes and a
// rank that fails mid-run end the whole job with one clear message, never a
// hang (every mpirun here runs under `timeout`).

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "train_program.h"

namespace spacebyte::trainer {
namespace {

// mpirun under a timeout, before its program (or programs, with " : ").
std::string MpirunPrefix() {
  return "timeout -k 5 120 " + std::string(SPACEBYTE_MPIEXEC) +
         " --allow-run-as-root --oversubscribe ";
}

std::string Mpirun(int np) { return MpirunPrefix() + "-np " + std::to_string(np); }

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

// ZeRO-1 (parallel.shard_optimizer) follows the all-reduce run of the same
// layout over 20 steps: losses and gradient norms within 1e-5. Dp2 also
// accumulates two micro-batches per rank; Dp2Tp2 shards tp shards over dp.
struct ShardedLayout {
  const char* name;
  int np, tp, micro_batch;
};

void PrintTo(const ShardedLayout& l, std::ostream* os) { *os << l.name; }

class ShardedOptimizerTest : public TrainMpiProgramTest,
                             public ::testing::WithParamInterface<ShardedLayout> {};

TEST_P(ShardedOptimizerTest, FollowsTheAllReduceRun) {
  const ShardedLayout& l = GetParam();
  const std::vector<std::string> sets = {
      "train.steps=20", "parallel.tp=" + std::to_string(l.tp),
      "train.micro_batch_size=" + std::to_string(l.micro_batch)};
  const CommandResult plain = Train(config_, dir_ + "/plain", sets, Mpirun(l.np));
  ASSERT_EQ(plain.status, 0) << plain.output;
  std::vector<std::string> sharded_sets = sets;
  sharded_sets.push_back("parallel.shard_optimizer=true");
  const CommandResult sharded = Train(config_, dir_ + "/sharded", sharded_sets, Mpirun(l.np));
  ASSERT_EQ(sharded.status, 0) << sharded.output;
  ExpectSameCurve(dir_ + "/plain", dir_ + "/sharded", 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Train, ShardedOptimizerTest,
                         ::testing::Values(ShardedLayout{"Dp2", 2, 1, 1},
                                           ShardedLayout{"Dp4", 4, 1, 1},
                                           ShardedLayout{"Dp2Tp2", 4, 2, 2}),
                         [](const ::testing::TestParamInfo<ShardedLayout>& info) {
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

// A rank frozen mid-run (SIGSTOP at its checkpoint save of step 4, as a hung
// node or file system leaves it) never reaches the commit's collective, and
// nothing tells MPI: without a limit rank 0 waits there for good. With
// parallel.collective_timeout_s = 8 (room for a loaded machine's delays in
// the run's other waits), rank 0 ends the job seconds later, naming the
// collective, and step 2's checkpoint stays the latest.
TEST_F(TrainMpiProgramTest, FrozenRankEndsTheJobAfterTheCollectiveTimeout) {
  const std::string run = dir_ + "/run";
  const CommandResult r =
      Train(config_, run, {"checkpoint.interval=2", "parallel.collective_timeout_s=8"},
            "SPACEBYTE_TEST_KILL_AT=files:4:1:stop " + Mpirun(2));
  EXPECT_NE(r.status, 124) << "mpirun timed out (the frozen rank hung the job)\n" << r.output;
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_EQ(Count(r.output, "rank 0: waited more than 8 s in an all-reduce of the world group "
                            "(committing a checkpoint: each rank's file written, then rank 0 "
                            "checks and prunes) for the other ranks "
                            "(parallel.collective_timeout_s)"),
            1u)
      << r.output;
  std::ifstream latest(run + "/checkpoints/latest");
  std::string name;
  latest >> name;
  EXPECT_EQ(name, "step_00000002");
}

// The whole job stopped (SIGSTOP: SLURM suspending it, gang scheduling) for
// longer than the limit is not a stuck rank. Rank 1 stops itself at its save
// of step 2 (the test hook), so rank 0 is surely waiting in the commit's
// all-reduce; a second later rank 0 is stopped too, both for 11 s against a
// 5 s limit, then both go on and the run ends, exit 0. Counted in wall time,
// rank 0's wait would have ended the job on its first tick after the resume.
TEST_F(TrainMpiProgramTest, SuspendedJobIsNotTakenForAStuckRank) {
  const std::string run = dir_ + "/run";
  // The pid of rank R: OMPI_COMM_WORLD_RANK=R in its environment and the run
  // directory among its arguments.
  const auto rank_pid = [&](int r) {
    return "$(for f in $(grep -lzx OMPI_COMM_WORLD_RANK=" + std::to_string(r) +
           " /proc/[0-9]*/environ 2>/dev/null); do d=${f%/environ}; grep -qzxF '" + run +
           "' $d/cmdline 2>/dev/null && echo ${d#/proc/}; done)";
  };
  const CommandResult r = RunCommand(
      "SPACEBYTE_TEST_KILL_AT=files:2:1:stop " + Mpirun(2) + " " + SPACEBYTE_BIN +
      " train --config " + config_ + " --run_dir " + run +
      " --set checkpoint.interval=2 --set parallel.collective_timeout_s=5 > " + run +
      ".out 2>&1 & pid=$!; i=0; r1=; "
      "while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null && "
      "! { [ -n \"$r1\" ] && grep -q '^[0-9]* ([^)]*) T' /proc/$r1/stat 2>/dev/null; }; "
      "do i=$((i+1)); sleep 0.05; r1=" + rank_pid(1) + "; done; r0=" + rank_pid(0) +
      "; if [ -n \"$r0\" ] && grep -q '^[0-9]* ([^)]*) T' /proc/$r1/stat 2>/dev/null && "
      "sleep 1 && kill -STOP $r0; then "
      "sleep 11; kill -CONT $r0 $r1; else echo could not stop the ranks; kill $pid; fi; "
      "wait $pid; code=$?; cat " + run + ".out; exit $code");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Count(r.output, "waited more than"), 0u) << r.output;
  EXPECT_EQ(Count(r.output, "could not stop"), 0u) << r.output;
  const std::vector<TrainMetrics> lines = TrainingLines(run);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().step, 6);
}

// A validation shard that fails its checksum on rank 1 only (as a
// node-local copy can): rank 0 was already waiting in the evaluation's
// all-reduce while rank 1 went to agree on its error, and both hung. The
// open is agreed first; the error is printed once, by rank 0, naming rank 1.
TEST_F(TrainMpiProgramTest, ShardFailingOnOneRankDuringEvaluationEndsTheJob) {
  const std::string good = dir_ + "/data", bad = dir_ + "/data_bad";
  std::filesystem::copy(good, bad, std::filesystem::copy_options::recursive);
  std::string shard;
  for (const auto& entry : std::filesystem::directory_iterator(bad)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("validation-", 0) == 0 && entry.path().extension() == ".tfrecord") {
      shard = entry.path().string();
    }
  }
  ASSERT_FALSE(shard.empty());
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    f.put('\x5a');
  }
  const auto rank = [&](const std::string& data, const std::string& command) {
    return "-np 1 " + std::string(SPACEBYTE_BIN) + " " + command + " --set data.path=" + data;
  };
  const std::string train = "train --config " + config_ + " --run_dir " + dir_ + "/run";
  const CommandResult r = RunCommand(MpirunPrefix() + rank(good, train) + " : " + rank(bad, train));
  EXPECT_NE(r.status, 124) << "mpirun timed out (a rank hung)\n" << r.output;
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_EQ(Count(r.output, "spacebyte: rank 1: " + shard), 1u) << r.output;
  EXPECT_EQ(Count(r.output, "spacebyte:"), 1u) << r.output;

  // `spacebyte eval --data` under mpirun, the same way.
  ASSERT_EQ(Train(config_, dir_ + "/trained", {}).status, 0);
  const auto eval = [&](const std::string& data) {
    return "-np 1 " + std::string(SPACEBYTE_BIN) + " eval --checkpoint " + dir_ +
           "/trained --split validation --data " + data;
  };
  const CommandResult e = RunCommand(MpirunPrefix() + eval(good) + " : " + eval(bad));
  EXPECT_NE(e.status, 124) << "mpirun timed out (a rank hung)\n" << e.output;
  EXPECT_NE(e.status, 0) << e.output;
  EXPECT_EQ(Count(e.output, "spacebyte: rank 1: " + shard), 1u) << e.output;
}

}  // namespace
}  // namespace spacebyte::trainer
