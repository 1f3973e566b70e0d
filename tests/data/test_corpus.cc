#include "tests/data/test_corpus.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "data/hash64.h"
#include "data/prep.h"

namespace spacebyte::data::testing {

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  // ctest runs each test case in its own process, in parallel: the pid keeps
  // their directories apart.
  std::string dir = std::string(tmp ? tmp : "/tmp") + "/spacebyte_data_" + name + "_" +
                    std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string MakeDataset(const std::string& dir, const std::map<std::string, int64_t>& bytes_per_language,
                        int64_t shard_bytes) {
  PrepOptions options;
  uint64_t counter = 0;
  for (const auto& [language, bytes] : bytes_per_language) {
    const std::string path = dir + "/" + language + ".txt";
    std::ofstream out(path);
    int64_t written = 0;
    while (written < bytes) {
      // Paragraphs of 20..400 bytes of language-tagged words.
      const int64_t length = 20 + static_cast<int64_t>(UniformAt(1, 2, counter++) * 380);
      std::string paragraph;
      while (static_cast<int64_t>(paragraph.size()) < length) {
        paragraph += language + std::to_string(counter++ % 997) + " ";
      }
      out << paragraph << "\n\n";
      written += paragraph.size() + 2;
    }
    options.inputs.push_back(path + "=" + language);
  }
  options.out = dir + "/dataset";
  options.separator = "blank";
  options.shard_bytes = shard_bytes;
  options.validation_fraction = 0.05;
  options.test_fraction = 0.05;
  std::ostringstream sink;
  if (!RunPrep(options, sink, sink).ok()) std::abort();
  return options.out;
}

}  // namespace spacebyte::data::testing
