#ifndef SPACEBYTE_CLI_MODEL_INFO_H_
#define SPACEBYTE_CLI_MODEL_INFO_H_

#include <string>

#include "model/byte_lm.h"

namespace spacebyte::trainer {

struct ParameterCounts {
  int64_t global = 0;  // width-D parts: global blocks and their positions
  int64_t local = 0;   // everything that runs per byte
  int64_t total() const { return global + local; }
};

// For the Transformer baseline every block is full width, so all of it
// counts as global.
ParameterCounts CountParameters(ByteLm& model);

// A few readable lines: shape, parameter counts, FLOPs per byte.
std::string DescribeModel(ByteLm& model);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CLI_MODEL_INFO_H_
