#ifndef SPACEBYTE_TESTS_TRAINER_RUN_COMMAND_H_
#define SPACEBYTE_TESTS_TRAINER_RUN_COMMAND_H_

// Running the real `spacebyte` program (or any shell command) from a test.

#include <string>

namespace spacebyte::trainer {

struct CommandResult {
  int status = -1;     // exit status; -1 when killed by a signal
  std::string output;  // stdout, and stderr too when asked for
};

// Runs `command` through the shell and collects its output.
CommandResult RunCommand(const std::string& command, bool with_stderr = true);

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_TESTS_TRAINER_RUN_COMMAND_H_
