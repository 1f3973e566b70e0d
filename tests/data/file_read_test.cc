#include "data/file_read.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <tuple>

#include <gtest/gtest.h>

namespace spacebyte::data {
namespace {

namespace fs = std::filesystem;

// Where a file belongs, a directory, a pipe or a device gets an error naming
// the path, never an exception, a block or an endless read.
TEST(ReadWholeFileTest, OnlyRegularFilesAreRead) {
  const fs::path dir = fs::path(::testing::TempDir()) / "read_whole_file";
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "bytes", std::ios::binary) << std::string("a\0b", 3);
  absl::StatusOr<std::string> bytes = ReadWholeFile((dir / "bytes").string());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, std::string("a\0b", 3));

  EXPECT_TRUE(absl::IsNotFound(ReadWholeFile((dir / "missing").string()).status()));
  const absl::Status directory = ReadWholeFile((dir / "sub").string()).status();
  EXPECT_NE(directory.message().find("sub is a directory"), std::string::npos) << directory;
  ASSERT_EQ(mkfifo((dir / "pipe").c_str(), 0600), 0);
  const absl::Status pipe = ReadWholeFile((dir / "pipe").string()).status();
  EXPECT_NE(pipe.message().find("pipe is not a regular file"), std::string::npos) << pipe;
  const absl::Status device = ReadWholeFile("/dev/zero").status();
  EXPECT_NE(device.message().find("/dev/zero is not a regular file"), std::string::npos) << device;
}

// A range is read as far as the file goes: short at its end, empty past it.
TEST(ReadFileRangeTest, RangesStopAtTheEnd) {
  const fs::path dir = fs::path(::testing::TempDir()) / "read_file_range";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "bytes").string();
  std::ofstream(path, std::ios::binary) << "0123456789";
  for (const auto& [offset, length, want] :
       {std::tuple<uint64_t, uint64_t, std::string>{0, 4, "0123"}, {4, 4, "4567"},
        {8, 4, "89"}, {10, 4, ""}, {1u << 30, 4, ""}, {3, UINT64_MAX, "3456789"}}) {
    absl::StatusOr<std::string> got = ReadFileRange(path, offset, length);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, want) << offset << "+" << length;
  }
  EXPECT_TRUE(absl::IsNotFound(ReadFileRange((dir / "missing").string(), 0, 1).status()));
}

}  // namespace
}  // namespace spacebyte::data
