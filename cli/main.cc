// The `spacebyte` program: one binary, one subcommand per job. Every flag of
// every subcommand is declared here and nowhere else; the libraries take
// plain option structs.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "c10/util/Exception.h"
#include "checkpoint/convert.h"
#include "checkpoint/model_checkpoint.h"
#include "cli/bench.h"
#include "cli/flag_set.h"
#include "cli/model_info.h"
#include "cli/report.h"
#include "cli/sample.h"
#include "data/inspect.h"
#include "data/prep.h"
#include "kernels/cpu_threads.h"
#include "parallel/collective_watch.h"
#include "parallel/mpi_collectives.h"
#include "parallel/mpi_env.h"
#include "parallel/world_group.h"
#include "torch/version.h"
#include "train/config_file.h"
#include "train/evaluator.h"
#include "train/patch_stats.h"
#include "train/run_spec.h"
#include "train/stop_signals.h"
#include "train/train.h"
#include "train/training_session.h"

namespace spacebyte::trainer {
namespace {

// Parses flags; returns -1 to continue, else the exit code to return.
int ParseOrExit(FlagSet& flags, int argc, char** argv) {
  if (absl::Status s = flags.Parse(argc, argv, 2); !s.ok()) {
    std::cerr << "spacebyte: " << s.message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Usage();
    return 0;
  }
  return -1;
}

// A user error is one line on stderr and a non-zero exit, never a backtrace.
int Finish(const absl::Status& status) {
  if (status.ok()) return 0;
  std::cerr << "spacebyte: " << status.message() << "\n";
  return 1;
}

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
  bool several_ranks = false;  // runs as one job under mpirun
};

// Started by mpirun with more than one rank? Every rank of a one-process
// subcommand would do the whole job, printing it N times or racing on its
// output directory. Rank 0 says so; the others exit 1 quietly.
int RefuseSeveralRanks(const std::string& what) {
  for (const auto& [size_var, rank_var] : {std::pair{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"},
                                           std::pair{"PMI_SIZE", "PMI_RANK"}}) {
    const char* size = std::getenv(size_var);
    if (size == nullptr || std::atoi(size) <= 1) continue;
    const char* rank = std::getenv(rank_var);
    if (rank != nullptr && std::atoi(rank) != 0) return 1;
    return Finish(absl::InvalidArgumentError(absl::StrCat(
        what, " runs as one process; start it without mpirun (", size_var, "=", size, ")")));
  }
  return -1;
}

int RunVersion(int argc, char** argv) {
  FlagSet flags("version", "Prints the program and LibTorch versions.");
  if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
  std::cout << "spacebyte 0.1.0 (LibTorch " << TORCH_VERSION << ")\n";
  return 0;
}

int RunInfo(int argc, char** argv) {
  std::string config;
  std::vector<std::string> sets;
  FlagSet flags("info", "Parameter counts and FLOPs per byte of a run config's model.");
  flags.String("config", &config, "run config (protobuf text)");
  flags.Strings("set", &sets, "override a config field: path=value");
  flags.Require("config");
  if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
  absl::StatusOr<proto::RunConfig> run = LoadRunConfig(config, sets);
  if (!run.ok()) return Finish(run.status());
  absl::StatusOr<ModelSpec> spec = ResolveModelConfig(run->model());
  if (!spec.ok()) return Finish(spec.status());
  std::cout << DescribeModel(*MakeModel(*spec));
  return 0;
}

// Runs `job` inside MPI (alone, or as one rank of an mpirun job). An agreed
// error (parallel::Agree: the same on every rank) is printed once, by rank
// 0; any other error by the rank that has it.
template <typename Job>
int RunUnderMpi(int* argc, char*** argv, Job job) {
  absl::StatusOr<parallel::MpiEnv> env = parallel::MpiEnv::Init(argc, argv);
  if (!env.ok()) return Finish(env.status());
  // The documented default, until a run config says otherwise.
  parallel::SetCollectiveTimeout(ParallelSpec().collective_timeout_s);
  absl::Status status;
  // An exception is this rank's alone (a failed tensor check, out of
  // memory): end the whole job with its message rather than leave the other
  // ranks waiting in a collective or print a backtrace.
  try {
    status = job(*env);
  } catch (const c10::Error& e) {
    parallel::AbortAll(absl::InternalError(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    parallel::AbortAll(absl::InternalError(e.what()));
  }
  const bool quiet = env->world_rank() != 0 && parallel::IsAgreed(status);
  return quiet ? (status.ok() ? 0 : 1) : Finish(status);
}

// A checkpoint's model on the compute device (ComputeDevice's rule).
absl::StatusOr<LoadedModel> LoadModelOn(const std::string& checkpoint, bool cuda,
                                        int local_rank) {
  absl::StatusOr<torch::Device> device = ComputeDevice(cuda, local_rank);
  if (!device.ok()) return device.status();
  absl::StatusOr<LoadedModel> loaded = LoadModelCheckpoint(checkpoint);
  if (loaded.ok()) loaded->model->to(*device);
  return loaded;
}

int RunEval(int argc, char** argv) {
  std::string checkpoint, bytes, data, split = "test";
  int64_t max_windows = 0, batch_size = 8;
  FlagSet flags("eval",
                "Scores a checkpoint: loss, bits-per-byte, ignored fraction, as one JSON line.\n"
                "  spacebyte eval --checkpoint DIR --bytes FILE\n"
                "  spacebyte eval --checkpoint DIR --data DATASET --split test   (mpirun ok)");
  flags.String("checkpoint", &checkpoint, "run directory (its latest) or step directory");
  flags.String("bytes", &bytes, "raw byte file: consecutive full windows, each after BOS");
  flags.String("data", &data, "dataset directory made by `spacebyte prep`");
  flags.String("split", &split, "with --data: train | validation | test");
  flags.Int("max_windows", &max_windows,
            "at most this many windows (with --data: per language); 0 = all");
  flags.Int("batch_size", &batch_size, "windows per forward pass");
  std::string device = "cpu", precision;
  flags.String("device", &device, "cpu | cuda (under mpirun: local rank's device)");
  flags.String("precision", &precision,
               "bf16 (autocast, as training runs) | fp32; bf16 on cuda, fp32 on cpu");
  flags.Require("checkpoint");
  if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
  if (bytes.empty() == data.empty()) {
    return Finish(absl::InvalidArgumentError("give exactly one of --bytes and --data"));
  }
  if (device != "cpu" && device != "cuda") {
    return Finish(absl::InvalidArgumentError("--device must be cpu or cuda"));
  }
  const absl::StatusOr<bool> bf16 =
      ResolveBf16(precision, device == "cuda", "--precision", "--device cuda");
  if (!bf16.ok()) return Finish(bf16.status());
  if (max_windows < 0 || batch_size < 1) {
    return Finish(absl::InvalidArgumentError(absl::StrCat(
        "--max_windows must be 0 (all) or more and --batch_size at least 1; got ", max_windows,
        " and ", batch_size)));
  }
  if (!bytes.empty()) {
    if (int code = RefuseSeveralRanks("eval --bytes"); code >= 0) return code;
    absl::StatusOr<LoadedModel> loaded = LoadModelOn(checkpoint, device == "cuda", 0);
    if (!loaded.ok()) return Finish(loaded.status());
    absl::StatusOr<EvalResult> result =
        EvaluateBytesFile(*loaded->model, bytes, max_windows, batch_size, *bf16);
    if (!result.ok()) return Finish(result.status());
    std::cout << ToJson(*result).dump() << "\n";
    return 0;
  }
  return RunUnderMpi(&argc, &argv, [&](const parallel::MpiEnv& env) -> absl::Status {
    // Each step agreed before the next collective: one rank's unreadable
    // checkpoint or shard would otherwise leave the others waiting.
    const parallel::WorldGroup ranks;
    absl::StatusOr<LoadedModel> loaded = LoadModelOn(checkpoint, device == "cuda", env.local_rank());
    if (absl::Status st = ranks.Agree(loaded.status()); !st.ok()) return st;
    absl::StatusOr<std::unique_ptr<parallel::Collectives>> world =
        MakeCollectives(MPI_COMM_WORLD, loaded->model->parameters().front().device());
    if (absl::Status st = ranks.Agree(world.status()); !st.ok()) return st;
    absl::StatusOr<std::unique_ptr<Evaluator>> evaluator =
        Evaluator::Open(data, split, loaded->model->spec(), max_windows);
    if (absl::Status st = ranks.Agree(evaluator.status()); !st.ok()) return st;
    if (absl::Status st = ranks.Agree(
            (*evaluator)->windows() > 0
                ? absl::OkStatus()
                : absl::NotFoundError(absl::StrCat(data, " has no ", split, " data")));
        !st.ok()) {
      return st;
    }
    const EvalResult result =
        (*evaluator)->Evaluate(*loaded->model, loaded->step, **world, batch_size, *bf16);
    if (env.world_rank() == 0) std::cout << ToJson(result).dump() << std::endl;
    return absl::OkStatus();
  });
}

int RunConvert(int argc, char** argv) {
  std::string from_reference, out, checkpoint, to_reference;
  FlagSet flags("convert",
                "Converts checkpoints between the PyTorch reference (ckpt.pt) and ours.\n"
                "  spacebyte convert --from_reference ckpt.pt --out DIR\n"
                "  spacebyte convert --checkpoint DIR --to_reference ckpt.pt");
  flags.String("from_reference", &from_reference, "reference ckpt.pt to read");
  flags.String("out", &out, "run directory to write our checkpoint into");
  flags.String("checkpoint", &checkpoint, "our checkpoint (run or step directory) to read");
  flags.String("to_reference", &to_reference, "reference ckpt.pt to write");
  if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
  if (!from_reference.empty() && !out.empty() && checkpoint.empty() && to_reference.empty()) {
    return Finish(ConvertFromReference(from_reference, out));
  }
  if (!checkpoint.empty() && !to_reference.empty() && from_reference.empty() && out.empty()) {
    return Finish(ConvertToReference(checkpoint, to_reference));
  }
  return Finish(absl::InvalidArgumentError(
      "give either --from_reference and --out, or --checkpoint and --to_reference"));
}

int RunPrep(int argc, char** argv) {
  data::PrepOptions o;
  FlagSet flags("prep",
                "Turns text files or JSON Lines into a sharded dataset directory; gzip, zstd\n"
                "and xz inputs are decompressed (recognised by content). It is\n"
                "written into OUT.staging, synced and swapped in whole: killed at any moment,\n"
                "OUT holds the previous dataset or the new one.");
  flags.Strings("input", &o.inputs,
                "PATH[=LANG]: a file or directory (a path that exists as written is a PATH)");
  flags.String("out", &o.out,
               "dataset directory to write: new, empty, or an earlier dataset to replace");
  flags.String("format", &o.format, "text | jsonl (JSON Lines with a `text` field)");
  flags.String("separator", &o.separator, "text documents: file | blank | percent | line");
  flags.String("language_from", &o.language_from, "regex on the path; group 1 is the language");
  flags.String("text_field", &o.text_field, "JSON Lines: the field holding each document's text");
  flags.String("language_field", &o.language_field,
               "JSON Lines: the field naming a line's language (\"\" for none)");
  flags.Bool("allow_binary", &o.allow_binary,
             "keep inputs that are mostly not UTF-8 text instead of refusing them");
  flags.Int("shard_bytes", &o.shard_bytes, "target shard size in bytes");
  flags.Int("threads", &o.threads, "files read at once (each streamed: memory does not grow with file size)");
  flags.Double("validation_fraction", &o.validation_fraction, "share of documents for validation");
  flags.Double("test_fraction", &o.test_fraction, "share of documents for test");
  int64_t split_seed = 0;
  flags.Int("split_seed", &split_seed, "seed of the document-hash split");
  flags.Require("input");
  flags.Require("out");
  if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
  o.split_seed = static_cast<uint64_t>(split_seed);
  return Finish(data::RunPrep(o, std::cout, std::cerr));
}

int RunDataPatches(int argc, char** argv) {
  std::string data, split = "train", method;
  ModelSpec rule;  // T, TG and the multilingual settings, at their defaults
  FlagSet flags("data patches",
                "How a patch rule cuts each language of a split, with no model: bytes per\n"
                "patch, patches per T-byte window (mean, 99th percentile) and the share of\n"
                "targets past the global context that training would ignore.");
  flags.String("data", &data, "dataset directory made by `spacebyte prep`");
  flags.String("split", &split, "train | validation | test");
  flags.String("patch_method", &method, "utf8 | periodic | multilingual");
  flags.Int("context", &rule.context_size, "T, bytes per window");
  flags.Int("global_context", &rule.global_context_size,
            "TG, patches the global blocks see per window");
  flags.Int("dense_patch_bytes", &rule.dense_patch_bytes,
            "multilingual: bytes per patch in scripts written without spaces");
  flags.Int("word_patch_bytes", &rule.word_patch_bytes,
            "multilingual: longest patch inside a word of a script with spaces; 0 = no cap");
  flags.Bool("fill_global_context", &rule.fill_global_context,
             "multilingual: cut words while a window holds fewer than its even share of TG");
  for (const char* name : {"data", "patch_method", "context", "global_context"}) {
    flags.Require(name);
  }
  if (int code = ParseOrExit(flags, argc - 1, argv + 1); code >= 0) return code;
  absl::StatusOr<ModelSpec> spec = ResolvePatchRule(method, rule);
  if (!spec.ok()) return Finish(spec.status());
  return Finish(WritePatchReport(data, split, *spec, std::cout));
}

// `spacebyte data inspect|patches ...`: argv[2] is the verb.
int RunData(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[2], "patches") == 0) return RunDataPatches(argc, argv);
  if (argc < 3 || std::strcmp(argv[2], "inspect") != 0) {
    // `data --help` asks for this, so it goes to stdout with exit 0.
    const bool help = argc >= 3 && (!std::strcmp(argv[2], "--help") || !std::strcmp(argv[2], "-h"));
    (help ? std::cout : std::cerr)
        << "usage: spacebyte data inspect --data DIR --context T --batch B "
           "--dp_size N --dp_rank R --steps K [--seed S] [--split train]\n"
           "       spacebyte data patches --data DIR --patch_method M --context T "
           "--global_context TG [--split train] [--dense_patch_bytes N] [--word_patch_bytes N]\n"
           "       [--fill_global_context]\n"
           "(spacebyte data inspect --help, spacebyte data patches --help)\n";
    return help ? 0 : 2;
  }
  data::InspectOptions o;
  FlagSet flags("data inspect", "Prints `step position_in_global_batch hash` per sample of one rank.");
  flags.String("data", &o.data_dir, "dataset directory made by `spacebyte prep`");
  flags.String("split", &o.split, "train | validation | test");
  flags.Int("context", &o.context, "T, bytes per sample");
  flags.Int("batch", &o.batch, "global batch B in samples");
  flags.Int("dp_size", &o.dp_size, "data-parallel ranks");
  flags.Int("dp_rank", &o.dp_rank, "this rank");
  flags.Int("steps", &o.steps, "global batches to print");
  int64_t seed = 0;
  flags.Int("seed", &seed, "data seed");
  flags.Bool("skip_corrupt", &o.skip_corrupt, "skip and count corrupt records");
  for (const char* name : {"data", "context", "batch", "steps"}) flags.Require(name);
  if (int code = ParseOrExit(flags, argc - 1, argv + 1); code >= 0) return code;
  o.seed = static_cast<uint64_t>(seed);
  return Finish(data::RunInspect(o, std::cout));
}

int RunSample(int argc, char** argv) {
  std::string checkpoint, prompt;
  SampleOptions o;
  int64_t seed = 0;
  bool echo = false;
  FlagSet flags("sample",
                "Streams text the model generates after BOS + PROMPT to stdout; a summary\n"
                "line (why it stopped, bytes/s) goes to stderr.");
  flags.String("checkpoint", &checkpoint, "run directory (its latest) or step directory");
  flags.String("prompt", &prompt, "text the generation continues");
  flags.Int("max_bytes", &o.max_bytes, "generate at most this many bytes");
  flags.Double("temperature", &o.temperature, "softmax temperature; 0 = greedy");
  flags.Int("top_k", &o.top_k, "draw from the K most likely bytes only (0 = all)");
  flags.Int("seed", &seed, "seed of the draws: same seed, same text");
  flags.Bool("echo", &echo, "print the prompt before the generated text");
  flags.Bool("recompute", &o.recompute,
             "rerun the whole sequence per byte instead of using the cache (slow; for checks)");
  std::string device = "cpu";
  flags.String("device", &device, "cpu | cuda");
  flags.Require("checkpoint");
  if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
  if (device != "cpu" && device != "cuda") {
    return Finish(absl::InvalidArgumentError("--device must be cpu or cuda"));
  }
  o.seed = static_cast<uint64_t>(seed);
  absl::StatusOr<LoadedModel> loaded = LoadModelOn(checkpoint, device == "cuda", 0);
  if (!loaded.ok()) return Finish(loaded.status());
  loaded->model->eval();
  if (echo) std::cout << prompt << std::flush;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<SampleResult> result =
      Sampler(*loaded->model, o).Generate(prompt, [](char c) { std::cout.put(c).flush(); });
  if (!result.ok()) return Finish(result.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "\n[" << result->text.size() << " bytes, " << StopReasonName(result->stop)
            << ", " << (seconds > 0 ? (prompt.size() + 1 + result->text.size()) / seconds : 0)
            << " bytes/s including the prompt]\n";
  return 0;
}

int RunReport(int argc, char** argv) {
  FlagSet flags("report",
                "spacebyte report RUN_DIR: writes RUN_DIR/report.html, a self-contained page\n"
                "of plots from RUN_DIR/metrics.jsonl.");
  if (argc < 3 || argv[2][0] == '-') {
    if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
    std::cerr << "usage: spacebyte report RUN_DIR\n";
    return 2;
  }
  if (int code = ParseOrExit(flags, argc - 1, argv + 1); code >= 0) return code;
  absl::StatusOr<std::string> path = WriteRunReport(argv[2]);
  if (!path.ok()) return Finish(path.status());
  std::cout << "wrote " << *path << "\n";
  return 0;
}

int RunTrain(int argc, char** argv) {
  TrainOptions o;
  FlagSet flags("train",
                "Trains a model, alone or under mpirun (dp = world size / parallel.tp).\n"
                "Resumes from RUN_DIR's newest complete checkpoint when there is one.\n"
                "SIGTERM, SIGINT or SIGUSR1 stops it at the next step with a checkpoint,\n"
                "exit code 75; a second such signal ends it at once.");
  flags.String("config", &o.config, "run config (protobuf text)");
  flags.Strings("set", &o.overrides, "override a config field: path=value");
  flags.String("run_dir", &o.run_dir, "run directory [runs/<config name>]");
  flags.Bool("resume", &o.resume, "fail unless a checkpoint can be resumed");
  flags.Require("config");
  if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
  bool preempted = false;
  const int code = RunUnderMpi(
      &argc, &argv, [&](const parallel::MpiEnv& env) { return Train(o, env, &preempted); });
  return code == 0 && preempted ? kExitPreempted : code;
}

int RunBench(int argc, char** argv) {
  BenchOptions o;
  FlagSet flags("bench",
                "Trains --steps steps on synthetic bytes after a warm-up and prints one JSON\n"
                "line: bytes_per_s, step_s, model_flops_per_byte, achieved_gflops,\n"
                "matmul_peak_gflops, mfu, cpu_s_per_step, mfu_cpu, peak_rss_mb,\n"
                "peak_rss_mb_per_rank, optimizer_state_mb_per_rank; with dp > 1\n"
                "also grad_allreduce_s and grad_allreduce_share (a blocking all-reduce of\n"
                "the whole gradient).");
  flags.String("config", &o.config, "run config (protobuf text)");
  flags.Strings("set", &o.overrides, "override a config field: path=value");
  flags.Int("steps", &o.steps, "measured steps");
  flags.Int("warmup", &o.warmup, "unmeasured steps first");
  flags.Bool("profile", &o.profile, "print time per phase of a step (rank 0) to stderr");
  flags.String("trace", &o.trace_dir,
               "profile one more step: DIR/rankN_trace.json (Chrome trace) and the\n"
               "largest operators, GPU kernels on CUDA, to stderr (rank 0)");
  flags.Bool("eval", &o.eval,
             "also time --steps evaluation forward passes of a micro-batch, fp32 and bf16");
  flags.Require("config");
  if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
  if (o.steps < 1 || o.warmup < 0) {
    return Finish(absl::InvalidArgumentError(absl::StrCat(
        "--steps must be at least 1 and --warmup at least 0; got ", o.steps, " and ", o.warmup)));
  }
  return RunUnderMpi(&argc, &argv, [&](const parallel::MpiEnv& env) {
    absl::StatusOr<std::string> json = Bench(o, env);
    if (json.ok() && env.world_rank() == 0) std::cout << *json << std::endl;
    return json.status();
  });
}

const Subcommand kSubcommands[] = {
    {"train", "train a model (alone or under mpirun)", RunTrain, true},
    {"bench", "measure training throughput and MFU", RunBench, true},
    {"info", "parameter counts and FLOPs per byte of a config", RunInfo},
    {"eval", "score a checkpoint on a byte file or a corpus split", RunEval, true},
    {"sample", "stream text generated from a checkpoint", RunSample},
    {"report", "write RUN_DIR/report.html from the run's metrics", RunReport},
    {"convert", "convert checkpoints to and from the PyTorch reference", RunConvert},
    {"version", "print versions", RunVersion},
    {"prep", "prepare a corpus directory", RunPrep},
    {"data", "inspect the loader (data inspect) or patch rules (data patches)", RunData},
};

void PrintUsage() {
  std::cout << "usage: spacebyte SUBCOMMAND [flags]   (spacebyte SUBCOMMAND --help)\n\n"
               "SpaceByte byte-level language models: prepare corpora, train,\n"
               "evaluate, sample, convert checkpoints.\n\nsubcommands:\n";
  for (const Subcommand& s : kSubcommands) {
    std::printf("  %-10s %s\n", s.name, s.summary);
  }
}

}  // namespace
}  // namespace spacebyte::trainer

int main(int argc, char** argv) {
  using spacebyte::trainer::kSubcommands;
  // Stop signals wait through start-up (both loads of the libraries around
  // the re-exec) until train has its handlers; any other subcommand gets
  // the default action, as before.
  spacebyte::trainer::HoldStopSignals();
  spacebyte::trainer::ReexecWithPassiveWaiting(argv);
  if (argc >= 2 && !std::strcmp(argv[1], "train")) spacebyte::trainer::CatchStopSignals();
  spacebyte::trainer::ReleaseStopSignals();
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    spacebyte::trainer::PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& sub : kSubcommands) {
    if (std::strcmp(argv[1], sub.name) != 0) continue;
    // The one place an exception outside RunUnderMpi (sample, eval --bytes,
    // convert: a failed tensor check, out of memory) becomes one line and
    // exit 1, never an abort with a backtrace.
    if (!sub.several_ranks) {
      if (int code = spacebyte::trainer::RefuseSeveralRanks(sub.name); code >= 0) return code;
    }
    try {
      return sub.run(argc, argv);
    } catch (const c10::Error& e) {
      return spacebyte::trainer::Finish(absl::InternalError(e.what_without_backtrace()));
    } catch (const std::exception& e) {
      return spacebyte::trainer::Finish(absl::InternalError(e.what()));
    }
  }
  std::cerr << "spacebyte: unknown subcommand '" << argv[1] << "' (see spacebyte --help)\n";
  return 2;
}
