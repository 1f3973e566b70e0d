#ifndef SPACEBYTE_CLI_FLAG_SET_H_
#define SPACEBYTE_CLI_FLAG_SET_H_

// A small per-subcommand flag parser: `--name=value`, `--name value`, bare
// `--bool_flag`, repeatable string flags, and `--help`. Each subcommand
// declares its flags in main.cc, bound to fields of a plain options struct.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace spacebyte::trainer {

class FlagSet {
 public:
  FlagSet(std::string command, std::string summary);

  void String(const std::string& name, std::string* out, const std::string& help);
  void Strings(const std::string& name, std::vector<std::string>* out,
               const std::string& help);  // repeatable
  void Int(const std::string& name, int64_t* out, const std::string& help);
  void Double(const std::string& name, double* out, const std::string& help);
  void Bool(const std::string& name, bool* out, const std::string& help);
  // Names flags that must be given.
  void Require(const std::string& name);

  // Parses argv[first..argc). Returns false with `help_requested()` set when
  // --help was seen (the caller prints Usage and exits 0).
  absl::Status Parse(int argc, char** argv, int first);
  bool help_requested() const { return help_requested_; }
  std::string Usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    bool required = false;
    bool seen = false;
    std::function<absl::Status(const std::string&)> set;
  };
  Flag* Find(const std::string& name);
  void Add(Flag flag);

  std::string command_;
  std::string summary_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

}  // namespace spacebyte::trainer

#endif  // SPACEBYTE_CLI_FLAG_SET_H_
