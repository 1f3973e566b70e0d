#ifndef SPACEBYTE_TESTS_FUZZ_FUZZ_INPUT_H_
#define SPACEBYTE_TESTS_FUZZ_FUZZ_INPUT_H_

// Readers that take a path get each fuzz input as a file in a directory of
// this process's own, rewritten for every input.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"

namespace spacebyte::fuzz {

inline const std::string& FuzzDir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string d = std::string(tmp ? tmp : "/tmp") + "/spacebyte_fuzz_" + std::to_string(getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes the input to FuzzDir()/name and returns the path.
inline std::string WriteInput(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = FuzzDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// A reader may refuse its input only with a message; an empty one means an
// error path that forgot to say what went wrong.
inline void RequireMessage(const absl::Status& s) {
  if (!s.ok() && s.message().empty()) std::abort();
}

}  // namespace spacebyte::fuzz

#endif  // SPACEBYTE_TESTS_FUZZ_FUZZ_INPUT_H_
