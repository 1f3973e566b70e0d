// The `spacebyte` program: one binary, one subcommand per job. Every flag of
// every subcommand is declared here and nowhere else; the libraries take
// plain option structs.

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "absl/status/status.h"
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

const Subcommand kSubcommands[] = {
    {"version", "print versions", RunVersion},
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
