#include "tests/cli/run_command.h"

#include <sys/wait.h>

#include <cstdio>

namespace spacebyte::trainer {

CommandResult RunCommand(const std::string& command, bool with_stderr) {
  CommandResult r;
  FILE* pipe = popen((with_stderr ? command + " 2>&1" : command).c_str(), "r");
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace spacebyte::trainer
