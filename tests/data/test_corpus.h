#ifndef SPACEBYTE_TESTS_DATA_TEST_CORPUS_H_
#define SPACEBYTE_TESTS_DATA_TEST_CORPUS_H_

// Builds small multilingual datasets with `RunPrep` for tests and the
// benchmark: documents of varied length, seeded so they are reproducible.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace spacebyte::data::testing {

// A fresh empty directory under the test temp dir.
std::string FreshDir(const std::string& name);

// Writes one text file per language (`docs` documents separated by blank
// lines, roughly `bytes_per_language` in all) and preps them into
// <dir>/dataset with small shards. Returns the dataset path.
std::string MakeDataset(const std::string& dir, const std::map<std::string, int64_t>& bytes_per_language,
                        int64_t shard_bytes = 4096);

// Compressed as the common tools write them. Gzip: one member per piece,
// so several pieces make a concatenated file. Zstd: with a content
// checksum, as the zstd tool writes by default. `level` as the tools' -N.
std::string Gzip(const std::vector<std::string>& pieces, int level = 6);
std::string Zstd(const std::string& text, int level = 3);
std::string Xz(const std::string& text, int level = 6);

}  // namespace spacebyte::data::testing

#endif  // SPACEBYTE_TESTS_DATA_TEST_CORPUS_H_
