#include "cli/flag_set.h"

#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace spacebyte::trainer {

FlagSet::FlagSet(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

void FlagSet::String(const std::string& name, std::string* out,
                     const std::string& help) {
  Add({name, help, out->empty() ? "" : "\"" + *out + "\"", false, false, false,
       [out](const std::string& v) {
         *out = v;
         return absl::OkStatus();
       }});
}

void FlagSet::Strings(const std::string& name, std::vector<std::string>* out,
                      const std::string& help) {
  Add({name, help + " (repeatable)", "", false, false, false,
       [out](const std::string& v) {
         out->push_back(v);
         return absl::OkStatus();
       }});
}

void FlagSet::Int(const std::string& name, int64_t* out, const std::string& help) {
  Add({name, help, absl::StrCat(*out), false, false, false,
       [out, name](const std::string& v) {
         if (!absl::SimpleAtoi(v, out)) {
           return absl::InvalidArgumentError(
               absl::StrCat("--", name, " wants an integer, got '", v, "'"));
         }
         return absl::OkStatus();
       }});
}

void FlagSet::Double(const std::string& name, double* out, const std::string& help) {
  Add({name, help, absl::StrCat(*out), false, false, false,
       [out, name](const std::string& v) {
         if (!absl::SimpleAtod(v, out)) {
           return absl::InvalidArgumentError(
               absl::StrCat("--", name, " wants a number, got '", v, "'"));
         }
         return absl::OkStatus();
       }});
}

void FlagSet::Bool(const std::string& name, bool* out, const std::string& help) {
  Add({name, help, *out ? "true" : "false", true, false, false,
       [out, name](const std::string& v) {
         if (!absl::SimpleAtob(v, out)) {
           return absl::InvalidArgumentError(
               absl::StrCat("--", name, " wants true or false, got '", v, "'"));
         }
         return absl::OkStatus();
       }});
}

void FlagSet::Require(const std::string& name) {
  if (Flag* f = Find(name)) f->required = true;
}

absl::Status FlagSet::Parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected argument '", arg, "' (see spacebyte ", command_, " --help)"));
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    Flag* flag = Find(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown flag --", name, " (see spacebyte ", command_, " --help)"));
    }
    if (!inline_value) {
      if (flag->is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
    }
    if (absl::Status s = flag->set(value); !s.ok()) return s;
    flag->seen = true;
  }
  for (const Flag& f : flags_) {
    if (f.required && !f.seen) {
      return absl::InvalidArgumentError(absl::StrCat(
          "missing --", f.name, " (see spacebyte ", command_, " --help)"));
    }
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::ostringstream out;
  out << "usage: spacebyte " << command_ << " [flags]\n\n" << summary_ << "\n\nflags:\n";
  for (const Flag& f : flags_) {
    out << absl::StrFormat("  --%-22s %s", f.name, f.help);
    if (f.required) {
      out << " [required]";
    } else if (!f.default_text.empty()) {
      out << " [default " << f.default_text << "]";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace spacebyte::trainer
