#ifndef SPACEBYTE_DATA_FILE_READ_H_
#define SPACEBYTE_DATA_FILE_READ_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace spacebyte::data {

// The whole of the regular file at `path`. A directory, a pipe or a device
// where a file belongs is an error naming the path (reading one would throw,
// block or never end), as is a missing file (NotFound) or a failed read.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// The bytes [offset, offset + max_bytes) of the same kind of file: fewer at
// its end, none past it. For files read a piece at a time, whatever their
// size.
absl::StatusOr<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                          uint64_t max_bytes);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_FILE_READ_H_
