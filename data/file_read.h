#ifndef SPACEBYTE_DATA_FILE_READ_H_
#define SPACEBYTE_DATA_FILE_READ_H_

#include <string>

#include "absl/status/statusor.h"

namespace spacebyte::data {

// The whole of the regular file at `path`. A directory, a pipe or a device
// where a file belongs is an error naming the path (reading one would throw,
// block or never end), as is a missing file (NotFound) or a failed read.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace spacebyte::data

#endif  // SPACEBYTE_DATA_FILE_READ_H_
