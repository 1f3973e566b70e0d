// The checkpoint guarantees, end to end on the real `spacebyte` program (under
// mpirun for two ranks): exact stop/resume, by step, by time limit and by a
// stop signal (preemption); resuming on another layout, a rank killed
// mid-save, damaged or mismatched checkpoints named, conversion to the
// reference layout, and asynchronous saves writing the same bytes.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "tests/cli/run_command.h"
#include "checkpoint/checkpoint_io.h"
#include "checkpoint/model_checkpoint.h"
#include "checkpoint/reference_checkpoint.h"
#include "train/run_dir_lock.h"

namespace spacebyte::trainer {
namespace fs = std::filesystem;
namespace {

constexpr int kSteps = 8;  // a whole run; stopped runs stop at kSteps / 2

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Root() { return ::testing::TempDir() + "/checkpoint_resume"; }
std::string Step(const std::string& run, int64_t step) {
  return run + "/checkpoints/" + StepDirName(step);
}

// A tiny corpus (three UDHR languages) and a tiny model config, shared by
// the test processes ctest runs side by side: each writes its own copy and
// renames it into place, so none reads a half-written one.
void PrepareCorpusAndConfig() {
  const std::string mine = Root() + "/." + std::to_string(getpid());
  fs::create_directories(mine);
  if (!fs::exists(Root() + "/data")) {
    const std::string udhr = std::string(SPACEBYTE_SOURCE_DIR) + "/data/corpus/udhr/";
    const CommandResult prep = RunCommand(std::string(SPACEBYTE_BIN) + " prep --input " + udhr +
                               "eng.txt=eng --input " + udhr + "fra.txt=fra --input " + udhr +
                               "deu.txt=deu --separator blank --validation_fraction 0.1 "
                               "--test_fraction 0.1 --out " + mine + "/data");
    ASSERT_EQ(prep.status, 0) << prep.output;
    std::error_code already_there;
    fs::rename(mine + "/data", Root() + "/data", already_there);
  }
  std::ofstream(mine + "/config.textproto")
      << "model { kind: \"spacebyte\" d_model: 64 d_local: 32 context_size: 64\n"
         "        global_context_size: 16 n_layers: 2 n_local_layers: 2 d_key: 32 }\n"
         "train { steps: " << kSteps << " batch_size: 4 log_interval: 1 seed: 1\n"
         "        eval_windows: 1 threads: 1 }\n"
         "data { path: \"" << Root() << "/data\" }\n"
         "checkpoint { interval: " << kSteps / 2 << " keep: 3 }\n";
  fs::rename(mine + "/config.textproto", Root() + "/config.textproto");
  fs::remove_all(mine);
}

// Runs `spacebyte train` on `ranks` processes with extra `--set` overrides.
CommandResult Train(const std::string& run, int ranks, const std::string& sets,
              const std::string& env = "") {
  std::string launcher;
  if (ranks > 1) {
    launcher = std::string(SPACEBYTE_MPIEXEC) + " --allow-run-as-root --oversubscribe -np " +
               std::to_string(ranks) + " ";
  }
  return RunCommand(env + " " + launcher + SPACEBYTE_BIN + " train --config " + Root() +
               "/config.textproto --run_dir " + run + " " + sets);
}

// Starts `spacebyte train` in the background and sends `signal` to the
// launcher (mpirun, which forwards SIGUSR1 to the ranks; or the program
// itself on one rank) once metrics.jsonl shows step 5.
CommandResult TrainAndSignal(const std::string& run, int ranks, const std::string& sets,
                             const std::string& signal) {
  std::string launcher;
  if (ranks > 1) {
    launcher = std::string(SPACEBYTE_MPIEXEC) + " --allow-run-as-root --oversubscribe -np " +
               std::to_string(ranks) + " ";
  }
  return RunCommand(
      launcher + SPACEBYTE_BIN + " train --config " + Root() + "/config.textproto --run_dir " +
      run + " " + sets + " > " + run + ".out 2>&1 & pid=$!; i=0; "
      "while [ $i -lt 1200 ] && ! grep -q '\"step\":5[,}]' " + run + "/metrics.jsonl 2>/dev/null; "
      "do i=$((i+1)); sleep 0.05; done; kill -" + signal + " $pid; wait $pid; code=$?; cat " +
      run + ".out; exit $code");
}

// One field of every training line of metrics.jsonl, as written, by step.
std::map<int, std::string> Field(const std::string& run, const std::string& name) {
  std::map<int, std::string> values;
  std::ifstream in(run + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (Contains(line, "\"split\"")) continue;
    const size_t step = line.find("\"step\":") + 7;
    const size_t value = line.find("\"" + name + "\":") + name.size() + 3;
    values[std::stoi(line.substr(step))] =
        line.substr(value, line.find_first_of(",}", value) - value);
  }
  return values;
}
std::map<int, std::string> Losses(const std::string& run) { return Field(run, "loss"); }

// Every model and optimizer tensor of two checkpoints is bitwise equal, or
// with `tolerance`, equal to within that fraction of the tensor's largest
// magnitude (runs on different layouts add in different orders), except at
// isolated values: one in a thousand may stray up to ten times as far,
// because AdamW turns a last-bit difference in a gradient entry near zero
// into a step of up to the learning rate (seen: 3 of 4,096 values of a
// weight at 1.8e-4 of its scale, the mean difference 4e-7). A resume that
// lost or misplaced state moves most values. AdamW's moments ("optim/...")
// are held to `moment_tolerance` instead.
void ExpectSameState(const std::string& a, const std::string& b, double tolerance = 0,
                     double moment_tolerance = 0) {
  absl::StatusOr<CheckpointReader> ra = CheckpointReader::Open(a);
  absl::StatusOr<CheckpointReader> rb = CheckpointReader::Open(b);
  ASSERT_TRUE(ra.ok() && rb.ok()) << ra.status() << rb.status();
  std::set<std::string> names;
  for (const auto& t : ra->manifest().tensors()) names.insert(t.name());
  ASSERT_GT(names.size(), 10u);
  for (const std::string& name : names) {
    absl::StatusOr<torch::Tensor> ta = ra->Read(name), tb = rb->Read(name);
    ASSERT_TRUE(ta.ok() && tb.ok()) << name;
    ASSERT_TRUE(ta->sizes() == tb->sizes() && ta->dtype() == tb->dtype()) << name;
    const double within = name.rfind("optim/", 0) == 0 ? moment_tolerance : tolerance;
    if (within == 0) {
      EXPECT_EQ(std::memcmp(ta->data_ptr(), tb->data_ptr(), ta->nbytes()), 0)
          << name << " differs between " << a << " and " << b;
    } else {
      const double scale = ta->abs().max().item<double>();
      const torch::Tensor diff = (*ta - *tb).abs();
      const int64_t strays = diff.gt(within * scale).sum().item<int64_t>();
      EXPECT_LE(strays, std::max<int64_t>(1, diff.numel() / 1000))
          << name << " differs between " << a << " and " << b;
      EXPECT_LE(diff.max().item<double>(), 10 * within * scale)
          << name << " differs between " << a << " and " << b;
    }
  }
}

class CheckpointResumeTest : public ::testing::Test {
 protected:
  void SetUp() override { PrepareCorpusAndConfig(); }
  std::string Fresh(const std::string& name) {
    const std::string run = Root() + "/" + name;
    fs::remove_all(run);
    return run;
  }
};

// Straight (asynchronous saves) vs stopped at kSteps/2 and run again with the
// same command (synchronous saves): the same loss string at every step, the
// same final weights and AdamW state, and the same rank files at both saves.
void ExpectExactResume(const std::string& straight, const std::string& split, int ranks,
                       const std::string& layout) {
  const CommandResult a = Train(straight, ranks, layout + " --set checkpoint.async=true");
  ASSERT_EQ(a.status, 0) << a.output;
  const CommandResult first = Train(split, ranks, layout + " --set train.stop_at_step=4");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_TRUE(Contains(first.output, "stopped at step 4")) << first.output;
  const CommandResult second = Train(split, ranks, layout);
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_TRUE(Contains(second.output, "resumed from " + Step(split, 4) + " at step 4"))
      << second.output;

  ASSERT_EQ(Losses(straight).size(), static_cast<size_t>(kSteps));
  for (const char* field : {"loss", "grad_norm", "lr", "bytes_seen"}) {
    EXPECT_EQ(Field(split, field), Field(straight, field)) << field;
  }
  ExpectSameState(Step(straight, kSteps), Step(split, kSteps));
  for (int step : {4, kSteps}) {
    EXPECT_EQ(ReadAll(Step(straight, step) + "/rank_00000.bin"),
              ReadAll(Step(split, step) + "/rank_00000.bin"))
        << "an asynchronous save wrote other bytes than a synchronous one at step " << step;
  }
}

TEST_F(CheckpointResumeTest, StopAndResumeIsExactOnOneRank) {
  ExpectExactResume(Fresh("straight1"), Fresh("split1"), 1, "");
}

TEST_F(CheckpointResumeTest, StopAndResumeIsExactOnTwoDataParallelRanks) {
  ExpectExactResume(Fresh("straight2"), Fresh("split2"), 2, "");
}

// Preempted: the signal stops every rank at the next step with a checkpoint
// and exit code 75; the same command again continues to the same losses.
void ExpectSignalStopsAndResumesExactly(const std::string& straight, const std::string& run,
                                        int ranks, const std::string& signal,
                                        const std::string& number) {
  const std::string sets = " --set train.steps=300 --set checkpoint.interval=0";
  const CommandResult a = Train(straight, ranks, sets);
  ASSERT_EQ(a.status, 0) << a.output;
  const CommandResult stopped = TrainAndSignal(run, ranks, sets, signal);
  ASSERT_EQ(stopped.status, 75) << stopped.output;
  EXPECT_TRUE(Contains(stopped.output, "by signal " + number)) << stopped.output;
  const std::map<int, std::string> before = Losses(run);
  ASSERT_FALSE(before.empty());
  const int at = before.rbegin()->first;
  EXPECT_GE(at, 5);
  EXPECT_LT(at, 300);
  EXPECT_TRUE(OpenStepDir(Step(run, at)).ok()) << "no checkpoint at the stop, step " << at;
  const CommandResult again = Train(run, ranks, sets);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_TRUE(Contains(again.output, "resumed from " + Step(run, at))) << again.output;
  for (const char* field : {"loss", "grad_norm", "lr", "bytes_seen"}) {
    EXPECT_EQ(Field(run, field), Field(straight, field)) << field;
  }
}

TEST_F(CheckpointResumeTest, SigusrToMpirunCheckpointsAndResumesExactly) {
  ExpectSignalStopsAndResumesExactly(Fresh("signal_straight2"), Fresh("usr1"), 2, "USR1", "10");
}

TEST_F(CheckpointResumeTest, SigtermCheckpointsAndResumesExactly) {
  ExpectSignalStopsAndResumesExactly(Fresh("signal_straight1"), Fresh("term"), 1, "TERM", "15");
}

// A SIGTERM sent while the program starts (loading its libraries, before
// main, and again after it re-executes itself) waits for the handlers: the
// run stops at step 0 with a checkpoint and exit code 75. It used to kill
// the process, and SLURM requeues only on 75. Here the signal is pending
// and blocked from the program's first instruction, as start-up holds it.
TEST_F(CheckpointResumeTest, SignalDuringStartUpStopsWithACheckpoint) {
  const std::string run = Fresh("startup_signal");
  const std::string config = Root() + "/config.textproto", out = run + ".out";
  const pid_t pid = fork();
  if (pid == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    raise(SIGTERM);
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(SPACEBYTE_BIN, SPACEBYTE_BIN, "train", "--config", config.c_str(), "--run_dir",
          run.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 75) << ReadAll(out);
  EXPECT_TRUE(Contains(ReadAll(out), "by signal 15")) << ReadAll(out);
  EXPECT_TRUE(OpenStepDir(Step(run, 0)).ok()) << ReadAll(out);
}

// train.max_time: every rank stops at the same step once the time is up,
// with a checkpoint there, exit code 0; the same command continues.
TEST_F(CheckpointResumeTest, MaxTimeStopsWithACheckpoint) {
  const std::string run = Fresh("max_time");
  const std::string sets = " --set train.steps=100000 --set checkpoint.interval=0";
  const CommandResult first = Train(run, 2, sets + " --set train.max_time=2");
  ASSERT_EQ(first.status, 0) << first.output;
  const int at = Losses(run).rbegin()->first;
  EXPECT_GT(at, 0);
  EXPECT_LT(at, 100000);
  EXPECT_TRUE(Contains(first.output, "stopped at step " + std::to_string(at) + " of 100000"))
      << first.output;
  EXPECT_TRUE(OpenStepDir(Step(run, at)).ok());
  const CommandResult again = Train(run, 2, sets + " --set train.max_time=1");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_TRUE(Contains(again.output, "resumed from " + Step(run, at))) << again.output;
  EXPECT_GT(Losses(run).rbegin()->first, at);
}

// Saved at dp x tp = 2 x 1 and 1 x 2, resumed on one rank: the losses follow
// the one-rank run, and the loader position saved is the one-rank run's.
TEST_F(CheckpointResumeTest, ResumesOnOneRankFromTwoRankLayouts) {
  const std::string straight = Fresh("layout_straight");
  const CommandResult a = Train(straight, 1, "");
  ASSERT_EQ(a.status, 0) << a.output;
  const std::map<int, std::string> want = Losses(straight);
  const std::string want_loader =
      CheckpointReader::Open(Step(straight, 4))->manifest().loader_state();
  for (const std::string layout : {"", "--set parallel.tp=2"}) {
    SCOPED_TRACE(layout.empty() ? "dp=2" : "tp=2");
    const std::string run = Fresh(layout.empty() ? "from_dp2" : "from_tp2");
    const CommandResult first = Train(run, 2, layout + " --set train.stop_at_step=4");
    ASSERT_EQ(first.status, 0) << first.output;
    EXPECT_EQ(CheckpointReader::Open(Step(run, 4))->manifest().loader_state(), want_loader);
    const CommandResult second = Train(run, 1, "");
    ASSERT_EQ(second.status, 0) << second.output;
    EXPECT_TRUE(Contains(second.output, "at step 4")) << second.output;
    const std::map<int, std::string> got = Losses(run);
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [step, loss] : want) {
      EXPECT_NEAR(std::stod(got.at(step)), std::stod(loss), 1e-4) << "step " << step;
    }
  }
}

// Resharding in every direction: one run passed through a chain of layouts
// (ranks, tp), each stage resuming from the last one's checkpoint, follows
// the one-rank run: losses within 1e-4, the final weights within 1e-4 of
// their scale and the AdamW moments within 1e-2 (moments lost or misplaced
// at any resume would leave them apart by their whole size). The moments
// get more room because AdamW amplifies rounding: where a gradient entry
// sits near zero, a last-bit difference between layouts changes its step by
// up to the learning rate. LibTorch 2.11's AVX-512 kernels leave moments
// 1e-3 of their scale apart after 8 steps with the same losses to 1e-7.
struct Stage {
  int ranks, tp, until;
  bool shard_optimizer = false;
};

// A sharded save is spread over every rank: each rank's file holds
// optimizer slices.
void ExpectEveryRankWroteOptimizerState(const std::string& step_dir, int ranks) {
  absl::StatusOr<CheckpointReader> r = CheckpointReader::Open(step_dir);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->manifest().files_size(), ranks) << step_dir;
  std::set<int> files;
  for (const auto& t : r->manifest().tensors()) {
    if (t.name().rfind("optim/", 0) == 0 && !Contains(t.name(), "/step")) files.insert(t.file());
  }
  EXPECT_EQ(static_cast<int>(files.size()), ranks) << step_dir;
}

void ExpectChainFollowsOneRank(const std::string& straight, const std::string& run,
                               const std::vector<Stage>& chain, const std::string& common = "") {
  for (const Stage& s : chain) {
    SCOPED_TRACE(absl::StrCat("ranks ", s.ranks, " tp ", s.tp, " until ", s.until,
                              s.shard_optimizer ? " sharded" : ""));
    const CommandResult r = Train(
        run, s.ranks,
        absl::StrCat(common, " --set parallel.tp=", s.tp, " --set train.stop_at_step=", s.until,
                     " --set parallel.shard_optimizer=", s.shard_optimizer ? "true" : "false"));
    ASSERT_EQ(r.status, 0) << r.output;
    if (s.shard_optimizer) ExpectEveryRankWroteOptimizerState(Step(run, s.until), s.ranks);
  }
  const std::map<int, std::string> want = Losses(straight), got = Losses(run);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [step, loss] : want) {
    EXPECT_NEAR(std::stod(got.at(step)), std::stod(loss), 1e-4) << "step " << step;
  }
  ExpectSameState(Step(straight, kSteps), Step(run, kSteps), 1e-4, 1e-2);
}

TEST_F(CheckpointResumeTest, ReshardsDataParallelOneTwoFourAndBackToOne) {
  const std::string straight = Fresh("reshard_straight_dp");
  ASSERT_EQ(Train(straight, 1, "").status, 0);
  ExpectChainFollowsOneRank(straight, Fresh("reshard_dp"),
                            {{1, 1, 2}, {2, 1, 4}, {4, 1, 6}, {1, 1, kSteps}});
}

TEST_F(CheckpointResumeTest, ReshardsTensorParallelBothWaysAndAcrossDataParallel) {
  const std::string straight = Fresh("reshard_straight_tp");
  ASSERT_EQ(Train(straight, 1, "").status, 0);
  // tp 1 -> 2, dp1 x tp2 -> dp2 x tp1, dp2 x tp1 -> dp1 x tp2, tp 2 -> 1.
  ExpectChainFollowsOneRank(straight, Fresh("reshard_tp"),
                            {{1, 1, 2}, {2, 2, 4}, {2, 1, 6}, {2, 2, 7}, {1, 1, kSteps}});
}

// ZeRO-1 checkpoints reshard freely: unsharded -> sharded over dp 4 -> 2 ->
// 3 -> dp2 x tp2 -> unsharded on one rank (batch 12, so that dp 3 divides it).
TEST_F(CheckpointResumeTest, ReshardsShardedOptimizerStateAcrossDataParallelSizes) {
  const std::string batch = "--set train.batch_size=12";
  const std::string straight = Fresh("reshard_straight_zero");
  ASSERT_EQ(Train(straight, 1, batch).status, 0);
  ExpectChainFollowsOneRank(straight, Fresh("reshard_zero"),
                            {{1, 1, 2},
                             {4, 1, 4, true},
                             {2, 1, 5, true},
                             {3, 1, 6, true},
                             {4, 2, 7, true},
                             {1, 1, kSteps}},
                            batch);
}

// The last rank dies by SIGKILL after writing its file for step 6 and before
// the commit: step 4 stays complete, step_6.tmp is reported and skipped, and
// the same command again reproduces the uninterrupted losses exactly.
void ExpectKillMidSaveRecovers(const std::string& straight, const std::string& run, int ranks) {
  const std::string every_2 = " --set checkpoint.interval=2";
  const CommandResult a = Train(straight, ranks, every_2);
  ASSERT_EQ(a.status, 0) << a.output;
  const CommandResult killed = Train(run, ranks, every_2, "SPACEBYTE_TEST_KILL_AT=files:6");
  ASSERT_NE(killed.status, 0) << killed.output;
  EXPECT_TRUE(fs::exists(Step(run, 6) + ".tmp"));
  EXPECT_FALSE(fs::exists(Step(run, 6)));
  EXPECT_TRUE(OpenStepDir(Step(run, 4)).ok());

  const CommandResult again = Train(run, ranks, every_2);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_TRUE(Contains(again.output, "skipping " + Step(run, 6) + ".tmp: unfinished save"))
      << again.output;
  EXPECT_TRUE(Contains(again.output, "resumed from " + Step(run, 4) + " at step 4"))
      << again.output;
  EXPECT_FALSE(fs::exists(Step(run, 6) + ".tmp")) << "the save of step 6 replaces it";
  EXPECT_EQ(Losses(run), Losses(straight));
  ExpectSameState(Step(straight, kSteps), Step(run, kSteps));
}

TEST_F(CheckpointResumeTest, RankKilledMidSaveResumesFromThePreviousCheckpoint) {
  ExpectKillMidSaveRecovers(Fresh("kill_straight"), Fresh("killed"), 2);
}

// Killed at each point of the commit of step 6 (checkpoint/save_fault.h), on
// rank 0 or the other rank: the same command resumes from the newest
// complete checkpoint (step 4 until the rename, step 6 from then on) and
// ends exactly as the uninterrupted run.
TEST_F(CheckpointResumeTest, KilledAtEachPointOfTheCommitResumesFromTheNewestComplete) {
  const std::string every_2 = " --set checkpoint.interval=2";
  const std::string straight = Fresh("commit_straight");
  ASSERT_EQ(Train(straight, 2, every_2).status, 0);
  const struct {
    const char* kill_at;
    int resumes_at;
  } kPoints[] = {{"files:6:0", 4}, {"files:6:last", 4}, {"manifest:6", 4},
                 {"rename:6", 6},  {"latest:6", 6}};
  for (const auto& p : kPoints) {
    SCOPED_TRACE(p.kill_at);
    const std::string run = Fresh("commit_killed");
    const CommandResult killed =
        Train(run, 2, every_2, std::string("SPACEBYTE_TEST_KILL_AT=") + p.kill_at);
    ASSERT_NE(killed.status, 0) << killed.output;
    const CommandResult again = Train(run, 2, every_2);
    ASSERT_EQ(again.status, 0) << again.output;
    EXPECT_TRUE(Contains(again.output, "resumed from " + Step(run, p.resumes_at) + " at step " +
                                           std::to_string(p.resumes_at)))
        << again.output;
    EXPECT_EQ(Losses(run), Losses(straight));
    ExpectSameState(Step(straight, kSteps), Step(run, kSteps));
  }
}

// Damage and mismatches are errors that name the file or the fields.
TEST_F(CheckpointResumeTest, DamagedOrMismatchedCheckpointsAreNamed) {
  const std::string run = Fresh("damaged");
  const CommandResult a = Train(run, 1, "--set train.steps=2 --set checkpoint.interval=1");
  ASSERT_EQ(a.status, 0) << a.output;

  const CommandResult other = Train(run, 1, "--set train.steps=2 --set model.d_model=96");
  EXPECT_NE(other.status, 0);
  EXPECT_TRUE(Contains(other.output, Step(run, 2) + " was saved with a different config: "
                                     "model.d_model (checkpoint 64, config 96)"))
      << other.output;

  const std::string flipped = Step(run, 2) + "/rank_00000.bin";
  {
    std::fstream f(flipped, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    const char c = static_cast<char>(f.get() ^ 0x01);
    f.seekp(100);
    f.put(c);
  }
  const std::string truncated = Step(run, 1) + "/rank_00000.bin";
  fs::resize_file(truncated, fs::file_size(truncated) - 1);
  const std::string eval = std::string(SPACEBYTE_BIN) + " eval --bytes " +
                           SPACEBYTE_SOURCE_DIR + "/data/corpus/udhr/eng.txt --checkpoint ";
  const CommandResult bad_crc = RunCommand(eval + Step(run, 2));
  EXPECT_NE(bad_crc.status, 0);
  EXPECT_TRUE(Contains(bad_crc.output, flipped + ": CRC32C mismatch")) << bad_crc.output;
  const CommandResult short_file = RunCommand(eval + Step(run, 1));
  EXPECT_NE(short_file.status, 0);
  EXPECT_TRUE(Contains(short_file.output, truncated + ": size")) << short_file.output;

  const CommandResult resume = Train(run, 1, "--set train.steps=2 --resume");
  EXPECT_NE(resume.status, 0);
  EXPECT_TRUE(Contains(resume.output, "skipping " + flipped + ": CRC32C mismatch"))
      << resume.output;
  EXPECT_TRUE(Contains(resume.output, "skipping " + truncated + ": size")) << resume.output;
  EXPECT_TRUE(Contains(resume.output, "--resume: no complete checkpoint")) << resume.output;
}

// Resume is exact or refused: a changed config (beyond the fields that may
// change), another dataset, a tensor of another shape, or a second job in
// the same run directory each stop the run with one line.
TEST_F(CheckpointResumeTest, ResumeRefusesAnotherConfigDatasetShapeOrASecondJob) {
  const std::string run = Fresh("refused");
  ASSERT_EQ(Train(run, 1, "--set train.steps=2 --set checkpoint.interval=1").status, 0);

  const CommandResult lr = Train(run, 1, "--set train.steps=3 --set train.lr=0.5");
  EXPECT_EQ(lr.status, 1);
  EXPECT_TRUE(Contains(lr.output, Step(run, 2) + " was saved with a different config: "
                                  "train.lr (checkpoint 0.01, config 0.5)"))
      << lr.output;

  const std::string other = Root() + "/refused_data";
  fs::remove_all(other);
  const CommandResult prep = RunCommand(std::string(SPACEBYTE_BIN) + " prep --input " +
                                        SPACEBYTE_SOURCE_DIR + "/data/corpus/udhr/eng.txt=eng "
                                        "--separator blank --validation_fraction 0.1 "
                                        "--test_fraction 0.1 --out " + other);
  ASSERT_EQ(prep.status, 0) << prep.output;
  const CommandResult data = Train(run, 1, "--set train.steps=3 --set data.path=" + other);
  EXPECT_EQ(data.status, 1);
  EXPECT_TRUE(Contains(data.output, Step(run, 2) + " was saved while training on another "
                                    "dataset"))
      << data.output;

  {
    absl::StatusOr<RunDirLock> held = RunDirLock::Acquire(run);
    ASSERT_TRUE(held.ok()) << held.status();
    const CommandResult second = Train(run, 1, "--set train.steps=3");
    EXPECT_EQ(second.status, 1);
    EXPECT_TRUE(Contains(second.output, run + " is in use by another training job (pid " +
                                            std::to_string(getpid())))
        << second.output;
  }

  // A tensor recorded transposed ([a, b] as [b, a], the same bytes): the
  // manifest is consistent (and signed), only the model can tell.
  absl::StatusOr<CheckpointReader> saved = OpenStepDir(Step(run, 2));
  ASSERT_TRUE(saved.ok()) << saved.status();
  proto::CheckpointManifest edited = saved->manifest();
  std::string transposed;
  for (proto::TensorSlice& t : *edited.mutable_tensors()) {
    if (t.name().rfind("model/", 0) == 0 && t.global_shape_size() == 2 &&
        t.global_shape(0) != t.global_shape(1) && transposed.empty()) {
      transposed = t.name();
      t.mutable_global_shape()->SwapElements(0, 1);
      t.mutable_slice_extent()->SwapElements(0, 1);
    }
  }
  ASSERT_FALSE(transposed.empty());
  fs::copy(Step(run, 2), Step(run, 3) + ".tmp");
  ASSERT_TRUE(CommitCheckpoint(Step(run, 3) + ".tmp", Step(run, 3), edited).ok());
  const CommandResult shape = Train(run, 1, "--set train.steps=4");
  EXPECT_EQ(shape.status, 1);
  EXPECT_TRUE(Contains(shape.output, Step(run, 3) + ": " + transposed + " is Float[")) << shape.output;
  EXPECT_TRUE(Contains(shape.output, "the model needs Float[")) << shape.output;
  fs::remove_all(Step(run, 3));

  // What may change does: the schedule's length, logging, retention.
  const CommandResult longer =
      Train(run, 1, "--set train.steps=3 --set train.log_interval=2 --set checkpoint.keep=2");
  EXPECT_EQ(longer.status, 0) << longer.output;
  EXPECT_TRUE(Contains(longer.output, "resumed from " + Step(run, 2))) << longer.output;
}

// A tp=2 checkpoint written out in the reference layout holds the merged
// weights, and converting it back evaluates to the same loss.
TEST_F(CheckpointResumeTest, ConvertsATensorParallelCheckpointToTheReferenceAndBack) {
  const std::string run = Fresh("tp2");
  const CommandResult a = Train(run, 2, "--set train.steps=2 --set parallel.tp=2");
  ASSERT_EQ(a.status, 0) << a.output;
  const std::string bin = SPACEBYTE_BIN;
  const std::string pt = Root() + "/tp2.pt";
  const CommandResult to = RunCommand(bin + " convert --checkpoint " + run + " --to_reference " + pt);
  ASSERT_EQ(to.status, 0) << to.output;

  absl::StatusOr<ReferenceCheckpoint> reference = ReadReferenceCheckpoint(pt);
  ASSERT_TRUE(reference.ok()) << reference.status();
  absl::StatusOr<CheckpointReader> ours = CheckpointReader::Open(run);
  ASSERT_TRUE(ours.ok()) << ours.status();
  ASSERT_EQ(ours->manifest().tp(), 2);
  int sharded = 0;
  for (const auto& [name, tensor] : reference->state_dict) {
    absl::StatusOr<torch::Tensor> merged = ours->Read(kModelPrefix + name);
    ASSERT_TRUE(merged.ok()) << merged.status();
    EXPECT_TRUE(torch::equal(tensor, *merged)) << name;
  }
  for (const auto& t : ours->manifest().tensors()) {
    for (int d = 0; d < t.slice_extent_size(); ++d) sharded += t.slice_extent(d) != t.global_shape(d);
  }
  EXPECT_GT(sharded, 0) << "the tp=2 checkpoint holds no slices";

  const std::string back = Fresh("from_reference");
  const CommandResult from = RunCommand(bin + " convert --from_reference " + pt + " --out " + back);
  ASSERT_EQ(from.status, 0) << from.output;
  const std::string eval =
      bin + " eval --bytes " + SPACEBYTE_SOURCE_DIR + "/data/corpus/udhr/eng.txt --checkpoint ";
  const CommandResult original = RunCommand(eval + run), converted = RunCommand(eval + back);
  ASSERT_EQ(original.status, 0) << original.output;
  const size_t json = original.output.find("{\"");
  ASSERT_NE(json, std::string::npos) << original.output;
  const std::string result =
      original.output.substr(json, original.output.find('\n', json) - json);
  EXPECT_TRUE(Contains(result, "\"loss\"")) << result;
  EXPECT_TRUE(Contains(converted.output, result)) << converted.output << "\nvs\n" << result;
}

}  // namespace
}  // namespace spacebyte::trainer
