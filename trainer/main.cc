// The `spacebyte` program: one binary, one subcommand per job. Every flag of
// every subcommand is declared here and nowhere else; the libraries take
// plain option structs.

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "data/inspect.h"
#include "data/prep.h"
#include "torch/version.h"
#include "trainer/flag_set.h"

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
};

int RunVersion(int argc, char** argv) {
  FlagSet flags("version", "Prints the program and LibTorch versions.");
  if (int code = ParseOrExit(flags, argc, argv); code >= 0) return code;
  std::cout << "spacebyte 0.1.0 (LibTorch " << TORCH_VERSION << ")\n";
  return 0;
}

int RunPrep(int argc, char** argv) {
  data::PrepOptions o;
  FlagSet flags("prep", "Turns text files or JSON Lines into a sharded dataset directory.");
  flags.Strings("input", &o.inputs, "PATH[=LANG]: a file or directory (repeatable)");
  flags.String("out", &o.out, "dataset directory to write");
  flags.String("format", &o.format, "text | jsonl (JSON Lines with a `text` field)");
  flags.String("separator", &o.separator, "text documents: file | blank | percent | line");
  flags.String("language_from", &o.language_from, "regex on the path; group 1 is the language");
  flags.Int("shard_bytes", &o.shard_bytes, "target shard size in bytes");
  flags.Int("threads", &o.threads, "reader threads");
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

// `spacebyte data inspect ...`: argv[2] is the verb.
int RunData(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[2], "inspect") != 0) {
    std::cerr << "usage: spacebyte data inspect --data DIR --context T --batch B "
                 "--dp_size N --dp_rank R --steps K [--seed S] [--split train]\n";
    return 2;
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

const Subcommand kSubcommands[] = {
    {"version", "print versions", RunVersion},
    {"prep", "prepare a corpus directory", RunPrep},
    {"data", "inspect the loader (data inspect)", RunData},
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
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    spacebyte::trainer::PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& sub : kSubcommands) {
    if (!std::strcmp(argv[1], sub.name)) return sub.run(argc, argv);
  }
  std::cerr << "spacebyte: unknown subcommand '" << argv[1] << "' (see spacebyte --help)\n";
  return 2;
}
